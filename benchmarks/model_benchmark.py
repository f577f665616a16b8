"""Benchmark forgetting.model presets on this machine's CPU; writes figures/model_benchmark.json atomically.

For each preset: parameters, forward FLOPs per 64x64 patch (torch.utils.flop_counter), and the median
wall time of a forward pass (no grad) and of a training step (forward + L1 backward + AdamW) on a batch
of 16x3x64x64. The published configurations are timed on a smaller batch (they are ~30M parameters)
and the batch is recorded.

    python benchmarks/model_benchmark.py [--repeats 5] [--out figures/model_benchmark.json]
"""
import argparse, json, os, platform, statistics, time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from forgetting.model import get_model

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {'promptir-tiny': 16, 'adair-tiny': 16, 'promptir': 2, 'adair': 2}  # name -> batch size timed


def forward_flops(model, size=64):
    "Forward FLOPs of one 3 x size x size patch."
    with torch.no_grad(), FlopCounterMode(display=False) as counter: model(torch.rand(1, 3, size, size))
    return counter.get_total_flops()


def median_time(fn, repeats):
    "Median wall time of `fn()` over `repeats` runs after one warm-up run."
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def bench(name, batch, repeats, size=64):
    torch.manual_seed(0)
    model = get_model(name)
    x, y = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4)

    def forward():
        with torch.no_grad(): model.eval()(x)

    def train_step():
        model.train()
        loss = (model(x) - y).abs().mean()
        opt.zero_grad(); loss.backward(); opt.step()

    fwd, fwd_all = median_time(forward, repeats)
    step, step_all = median_time(train_step, repeats)
    return {'parameters': sum(p.numel() for p in model.parameters()), 'batch': batch, 'patch': size,
            'forward_flops_per_patch': forward_flops(model, size),
            'forward_s_per_batch': fwd, 'train_step_s_per_batch': step,
            'forward_s_all': fwd_all, 'train_step_s_all': step_all}


def write_json_atomic(obj, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--out', type=Path, default=ROOT / 'figures' / 'model_benchmark.json')
    args = p.parse_args()
    results = {}
    for name, batch in PRESETS.items():
        results[name] = bench(name, batch, args.repeats)
        r = results[name]
        print(f"{name:14s} {r['parameters']:>11,} params  {r['forward_flops_per_patch'] / 1e9:6.2f} GFLOP/patch  "
              f"batch {batch}: forward {r['forward_s_per_batch']:.3f}s  train step {r['train_step_s_per_batch']:.3f}s", flush=True)
    load = os.getloadavg() if hasattr(os, 'getloadavg') else None
    write_json_atomic({'created': datetime.now(timezone.utc).isoformat(timespec='seconds'),
                       'machine': {'cpu_count': os.cpu_count(), 'torch_threads': torch.get_num_threads(),
                                   'platform': platform.platform(), 'torch': torch.__version__, 'load_average_after': load},
                       'note': 'CPU shared with other processes: timings are noisy (medians of a few runs).',
                       'models': results}, args.out)
    print('wrote', args.out)


if __name__ == '__main__':
    main()
