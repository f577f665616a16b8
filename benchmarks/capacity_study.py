"""Capacity study for the #4 quality bars: does a wider promptir-tiny close the retained-task gap?

Trains the original (all five tasks) and the retrained (without haze) model with the bundled recipe
(`forgetting.train.RELEASE_RECIPE`, same seed and step budget) at a wider embedding `--dim`, the two
runs in parallel with one thread each, then checks both pairs (the bundled dim-12 one and the wider
one) against the quality bars (`forgetting.train.release_bars`). Writes into `--out`:

- `promptir-tiny-dimD-{original,retrained-nohaze}.json` (cards) and `-curve.png` (training curves);
  the weights (`.pt`) beside them are not committed;
- `capacity_study.json`: parameters, wall time and the bar rows of each pair;
- `retained_gap.png`: retrained - original PSNR per retained task for each width (0.5 dB bar drawn).

    python benchmarks/capacity_study.py --dim 24 --out figures/capacity

A rerun resumes interrupted training runs and reuses finished cards.
"""
import argparse, os, subprocess, sys
from pathlib import Path

import torch
from forgetting.data import forget_retain
from forgetting.train import RELEASE_RECIPE

torch.set_num_threads(1)  # two training runs share a 2-core machine: one thread each is fastest

ROOT = Path(__file__).resolve().parents[1]
RUNS = {'original': None, 'retrained-nohaze': forget_retain('haze')[1]}  # name -> training tasks (None = all)


def stem(dim:int, name:str) -> str: return f'promptir-tiny-dim{dim}-{name}'


def train_one(args):
    "One release run of the wider preset (the child process of `main`)."
    from forgetting.model import get_model  # a benchmark may build models; the library's train module never does
    from forgetting.train import train_release
    out = Path(args.out) / f'{stem(args.dim, args.one)}.pt'
    card = train_release(lambda: get_model('promptir-tiny', dim=args.dim), out, tasks=RUNS[args.one], steps=args.steps,
                         figure=out.with_name(out.stem + '-curve.png'), progress=False, save_every=200)
    print(f"{out}: {card['seconds']:.0f} s")


def train_missing(args):
    "Train the runs whose card is missing, in parallel processes."
    missing = [n for n in RUNS if not (Path(args.out) / f'{stem(args.dim, n)}.json').exists()]
    jobs = [subprocess.Popen([sys.executable, __file__, '--one', n, '--dim', str(args.dim), '--steps', str(args.steps), '--out', args.out],
                             env={**os.environ, 'OMP_NUM_THREADS': '1'}) for n in missing]
    failed = [n for n, j in zip(missing, jobs) if j.wait() != 0]
    if failed: sys.exit(f"training failed for {failed}")


def plot_gaps(pairs:dict, path:Path):
    "Grouped bars: retrained - original PSNR per retained task, one group per task, one bar per width."
    import matplotlib.pyplot as plt, numpy as np
    tasks = [r['task'] for r in next(iter(pairs.values()))['bars'] if r['bar'] == 'retrained - original']
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(pairs)
    for i, (label, pair) in enumerate(pairs.items()):
        gaps = [r['value'] for r in pair['bars'] if r['bar'] == 'retrained - original']
        ax.bar(np.arange(len(tasks)) + i * width, gaps, width, label=f"{label} ({pair['parameters'] / 1e6:.1f}M params)")
    ax.axhline(0.5, color='k', ls='--', lw=1, label='bar: within 0.5 dB')
    ax.set_xticks(np.arange(len(tasks)) + width * (len(pairs) - 1) / 2, tasks)
    cfg = next(iter(pairs.values()))['config']
    ax.set_ylabel('retrained - original PSNR (dB)'); ax.set_title(f"Retained-task gap at {cfg['steps']} steps x {cfg['batch_size']} patches")
    ax.legend(fontsize=8); fig.tight_layout()
    from forgetting.evaluate import atomic_write
    atomic_write(path, lambda p: fig.savefig(p, format='png', dpi=120), overwrite=True)
    plt.close(fig)


def summarise(args):
    from forgetting.evaluate import load_json, save_json
    from forgetting.train import release_bars, bars_markdown
    cards = {'dim 12 (bundled)': [ROOT / f'data/checkpoints/promptir-tiny-{n}.json' for n in RUNS],
             f'dim {args.dim}': [Path(args.out) / f'{stem(args.dim, n)}.json' for n in RUNS]}
    pairs = {}
    for label, paths in cards.items():
        o, r = (load_json(p, 'card') for p in paths)
        pairs[label] = dict(cards=[str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in paths], parameters=o['parameters'], config=o['config'],
                            seconds=[o['seconds'], r['seconds']], bars=release_bars(o, r))
        print(f"## {label}: {o['parameters']:,} parameters\n\n{bars_markdown(pairs[label]['bars'])}\n")
    save_json(pairs, Path(args.out) / 'capacity_study.json', overwrite=True)
    plot_gaps(pairs, Path(args.out) / 'retained_gap.png')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dim', type=int, default=24, help='embedding width of the wider preset (promptir-tiny has 12)')
    p.add_argument('--steps', type=int, default=RELEASE_RECIPE['steps'], help='optimiser steps (the bundled budget)')
    p.add_argument('--out', default=str(ROOT / 'figures/capacity'), help='output folder')
    p.add_argument('--one', choices=list(RUNS), help=argparse.SUPPRESS)
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.one: return train_one(args)
    train_missing(args)
    summarise(args)


if __name__ == '__main__':
    main()
