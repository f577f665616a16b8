"""Option search for the default recipe, on a validation suite: never on the test photos.

    python benchmarks/option_search.py --out figures/option_search --jobs 2

Each candidate is a list of `forgetting unlearn` options, run by the command's own code on the study pair (seed 0 unless
its options say otherwise). It is scored on the validation suite: the 12 *training* photos of the bundled split, centre
crops of 128 px, degraded with seed 1 (other noise, rain and haze draws than training used); the forget gap is
|unlearned - retrained| on haze and the retain change is unlearned - original on the retained tasks, both paired
per image (`forgetting.report.report_row`). The study (`benchmarks/forgetting_study.py`) then reports the chosen
recipe on the test photos. Finished candidates are cached in --cache; writes `option_search.{json,md}` into --out.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL, RETRAINED = 'data/checkpoints/promptir-tiny-original.pt', 'data/checkpoints/promptir-tiny-retrained-nohaze.pt'
PT = ['--method', 'relabel', '--set', 'saliency=0']        # pass-through forget term, Adam, no mask
S25 = ['--set', 'stop_gain=0.25', '--set', 'eval_every=5']
S0 = ['--set', 'stop_gain=0.0', '--set', 'eval_every=5']

def _d(w): return ['--set', f'distill={w}']
def _stop(g): return ['--set', f'stop_gain={g}', '--set', 'eval_every=5']

CANDIDATES = {   # name -> `forgetting unlearn` options, in the order they were tried
    'accurate-fast': ['--method', 'accurate-fast'],
    'relabel (no retain data)': ['--method', 'relabel'],
    'pass-through + distill 1': PT + _d(1),
    'relabel + distill 1': ['--method', 'relabel'] + _d(1),
    'accurate-fast + distill 1': ['--method', 'accurate-fast'] + _d(1),
    'accurate-fast + distill 3': ['--method', 'accurate-fast'] + _d(3),
    'pass-through + distill 3': PT + _d(3),
    'bounded ascent + distill 1': ['--method', 'neggrad', '--set', 'forget_loss=bounded'] + _d(1),
    'ascent + distill 1': ['--method', 'neggrad'] + _d(1),
    'pass-through + distill 1, stop 0.25': PT + _d(1) + S25,
    'pass-through + distill 2, stop 0.25': PT + _d(2) + S25,
    'pass-through + distill 3, stop 0.25': PT + _d(3) + S25,
    'pass-through + distill 5, stop 0.25': PT + _d(5) + S25,
    'pass-through + distill 3, stop 0.25, lr 2e-4': PT + _d(3) + S25 + ['--lr', '2e-4'],
    'pass-through + distill 3, stop 0.25, 16 proxy': PT + _d(3) + S25 + ['--set', 'batch_distill=16'],
    'pass-through + distill 3, stop 0.25, seed 1': PT + _d(3) + S25 + ['--seed', '1'],
    'pass-through + distill 3, stop 0.25, seed 2': PT + _d(3) + S25 + ['--seed', '2'],
    'pass-through + distill 3, stop 0': PT + _d(3) + S0,
    'pass-through + distill 3, stop 0, seed 1': PT + _d(3) + S0 + ['--seed', '1'],
    'pass-through + distill 3, stop 0, seed 2': PT + _d(3) + S0 + ['--seed', '2'],
    **{f'pass-through + distill 3, stop {g}' + (f', seed {s}' if s else ''): PT + _d(3) + _stop(g) + (['--seed', str(s)] if s else [])
       for g in (-0.5, -1.0) for s in (0, 1, 2)},
    **{f'pass-through + distill 3, {n} steps' + (f', seed {s}' if s else ''): PT + _d(3) + ['--steps', str(n), '--set', 'stop_gain=null']
       + (['--seed', str(s)] if s else []) for n in (100, 60) for s in (0, 1, 2)},
    **{'pass-through-distill (the default)' + (f', seed {s}' if s else ''): ['--method', 'pass-through-distill'] + (['--seed', str(s)] if s else [])
       for s in (0, 1, 2)},
}


def slug(name:str) -> str: return ''.join(c if c.isalnum() else '_' for c in name)


def validation_suite():
    from forgetting.data import bundled_suite
    return bundled_suite('train', seed=1, grid=1)


def run_one(name:str, options:list, cache:Path):
    "One candidate, scored on the validation suite; cached as JSON."
    from forgetting.job import parse_job, run_job
    from forgetting.model import load_model
    from forgetting.evaluate import evaluate, save_json
    from forgetting.report import report_row, image_passes, retrain_cost
    original, retrained = load_model(ROOT / ORIGINAL, None, 'cpu'), load_model(ROOT / RETRAINED, None, 'cpu')
    suite = validation_suite()
    ro, rr = evaluate(original.model, suite, progress=False), evaluate(retrained.model, suite, progress=False)
    t0 = time.time(); new, hist, ft, rt = run_job(original, parse_job(options), progress=False)
    res = evaluate(new, suite, progress=False)
    row = report_row(res, ro, rr, ft, rt)
    cost = image_passes(hist) / retrain_cost(retrained.card)['passes']
    out = dict(name=name, options=options, forget_gap=row['forget_gap'], forget_diff=row['forget']['mean'], retain=row['retain_change'],
               retain_ci=[row['retain']['low'], row['retain']['high']], per_task={t: res[t]['psnr'] - ro[t]['psnr'] for t in rt},
               compute=cost, seconds=time.time() - t0, stop=hist['stop_reason'], steps=len(hist['steps']), forgot=hist.get('forgot'))
    save_json(out, cache / f'{slug(name)}.json', True)


def markdown(rows:list) -> str:
    lines = ['| candidate | forget gap | retain change [95%] | rain | noise15 | compute % | steps | stop |', '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['name']} | {r['forget_gap']:.2f} | {r['retain']:+.2f} [{r['retain_ci'][0]:+.2f}, {r['retain_ci'][1]:+.2f}] | "
                     f"{r['per_task']['rain']:+.2f} | {r['per_task']['noise15']:+.2f} | {100 * r['compute']:.1f} | {r['steps']} | {r['stop']} |")
    return ('# Option search on the validation suite\n\nTraining photos of the bundled split, centre crops of 128 px, degradation seed 1; '
            'seed 0 unless the name says otherwise. Never the test photos.\n\n' + '\n'.join(lines) + '\n')


def candidate_args(description:str, out:str, cache:str, argv=None):
    "The command line of a candidate search: --out, --cache, --jobs (and the hidden --one of a worker)."
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=out)
    p.add_argument('--cache', default=cache)
    p.add_argument('--jobs', type=int, default=2)
    p.add_argument('--one', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    return args


def run_candidates(names:list, script:str, args) -> list:
    "Run the candidates not in the cache, `args.jobs` worker processes of `script --one NAME` at a time (one thread each); their rows."
    cache = Path(args.cache)
    todo, jobs, env = [n for n in names if not (cache / f'{slug(n)}.json').exists()], [], {**os.environ, 'OMP_NUM_THREADS': '1'}
    while todo or jobs:
        while todo and len(jobs) < args.jobs: n = todo.pop(0); jobs.append(subprocess.Popen([sys.executable, script, '--cache', args.cache, '--one', n], env=env))
        time.sleep(2); jobs = [j for j in jobs if j.poll() is None]
    return [json.loads((cache / f'{slug(n)}.json').read_text()) for n in names]


def main(argv=None):
    args = candidate_args(__doc__, 'figures/option_search', '/tmp/forgetting_option_cache', argv)
    if args.one: torch.set_num_threads(1); return run_one(args.one, CANDIDATES[args.one], Path(args.cache))
    rows = run_candidates(list(CANDIDATES), __file__, args)
    from forgetting.evaluate import save_json
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    save_json(dict(suite="forgetting.data.bundled_suite('train', seed=1, grid=1)", rows=rows), out / 'option_search.json', True)
    (out / 'option_search.md').write_text(markdown(rows)); print(markdown(rows))


if __name__ == '__main__': main()
