"""Peak memory and seconds per step of the default unlearning recipe on the full-size architectures, on this CPU.

    python benchmarks/fullsize_unlearn.py [--models promptir adair] [--patches 64 96 128] [--batches 8 4] [--steps 3]
                                          [--threads 1] [--out figures/fullsize_unlearn]

Every configuration (model, patch side P, batch B) runs in a fresh process (so its peak RSS is its own): the model is
built with seed 0 (untrained: the cost does not depend on the weights), the forget set is 2B haze patches of the
bundled training photos, and `forgetting.unlearn.forget` runs `DEFAULT_METHOD` ('pass-through-distill') for --steps
optimiser steps with the stop rule off, batch_forget = batch_distill = B. Recorded per configuration: peak RSS
(ru_maxrss), the RSS after building the model and the data (baseline), the median seconds per optimiser step (from
the history's step times, the first step left out as warm-up), image passes (forward + backward) per step and
seconds per image pass. A child whose RSS passes --max-rss-gib is stopped, and the larger configurations of that
model are skipped. The growth per doubling of the patch side and of the batch is fitted (log-log least squares)
from the measurements. Writes fullsize_unlearn.{json,png,md} into --out, the JSON after every configuration.
"""
import argparse, json, math, os, platform, resource, statistics, subprocess, sys, threading, time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 ** 2
METRICS = {'peak_rss_mib': 'peak RSS', 'peak_above_baseline_mib': 'peak RSS above the baseline', 'seconds_per_step': 'seconds per step'}


# ---------------------------------------------------------------- the child: one configuration

def rss_mib() -> float:
    "This process's current resident set size (MiB), from /proc (Linux)."
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024
    return float('nan')


def peak_rss_mib() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # kB on Linux


def image_passes_per_step(hist:dict) -> int:
    "Images through forward + backward per optimiser step, as the loop counted them (the first step's `passes`)."
    return hist['steps'][0]['passes'] if hist['steps'] else None


def step_seconds(hist:dict) -> list:
    "Seconds of every optimiser step after the first (differences of the history's cumulative step times)."
    t = [s['seconds'] for s in hist['steps']]
    return [b - a for a, b in zip(t, t[1:])]


def one(model_name:str, patch:int, batch:int, steps:int, threads:int) -> dict:
    "Build the model and forget set, run the default recipe for `steps` steps; the measurements."
    import torch
    torch.set_num_threads(threads)
    from forgetting.data import TASKS, PatchDataset, bundled_split
    from forgetting.model import get_model
    from forgetting.unlearn import DEFAULT_METHOD, forget
    torch.manual_seed(0)
    model = get_model(model_name)
    data = PatchDataset(bundled_split()[0], ['haze'], patch_size=patch, length=2 * batch, seed=1)
    data[0]                                                      # the photos decoded and a patch degraded before the baseline
    baseline = rss_mib()
    t0 = time.perf_counter()
    _, hist = forget(model, data, method=DEFAULT_METHOD, trained_tasks=list(TASKS), steps=steps, stop_gain=None,
                     eval_every=steps, eval_size=batch, batch_forget=batch, batch_distill=batch, patch_size=patch, progress=False)
    total, peak = time.perf_counter() - t0, peak_rss_mib()
    diffs, passes = step_seconds(hist), image_passes_per_step(hist)
    per_step = statistics.median(diffs) if diffs else None
    return dict(model=model_name, patch=patch, batch=batch, steps=steps, method=DEFAULT_METHOD,
                parameters=sum(p.numel() for p in model.parameters()), torch_threads=torch.get_num_threads(),
                baseline_rss_mib=baseline, peak_rss_mib=peak, peak_above_baseline_mib=peak - baseline,
                seconds_per_step=per_step, step_seconds=diffs, first_step_seconds=hist['steps'][0]['seconds'] if hist['steps'] else None,
                image_passes_per_step=passes, seconds_per_image_pass=per_step / passes if per_step and passes else None,
                total_seconds=total, forget_seconds=hist['seconds'], steps_done=len(hist['steps']), stop_reason=hist['stop_reason'],
                **{k: hist[k] for k in hist if k.startswith('n_')}, config=hist['config'])


# ---------------------------------------------------------------- the parent: one child per configuration

def watch_rss(proc:subprocess.Popen, limit_mib:float, hit:dict, every:float=0.2):
    "Stop `proc` (our own child) once its RSS passes `limit_mib`; `hit['rss_mib']` records the RSS it was stopped at."
    status = Path(f'/proc/{proc.pid}/status')
    while proc.poll() is None:
        try: rss = next(int(l.split()[1]) / 1024 for l in status.read_text().splitlines() if l.startswith('VmRSS:'))
        except (OSError, StopIteration): rss = 0.0
        if rss > limit_mib: hit['rss_mib'] = rss; proc.kill(); return
        time.sleep(every)


def run_child(model:str, patch:int, batch:int, args) -> dict:
    "Run `one` in a fresh process of this script; its result row, or a row with the error."
    cmd = [sys.executable, __file__, '--one', model, str(patch), str(batch), '--steps', str(args.steps), '--threads', str(args.threads)]
    env = {**os.environ, 'OMP_NUM_THREADS': str(args.threads), 'MKL_NUM_THREADS': str(args.threads)}
    t0, hit = time.perf_counter(), {}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    if args.max_rss_gib: threading.Thread(target=watch_rss, args=(proc, args.max_rss_gib * 1024, hit), daemon=True).start()
    try: out, err = proc.communicate(timeout=args.timeout or None)
    except subprocess.TimeoutExpired: proc.kill(); out, err = proc.communicate(); hit['timeout'] = True
    row = dict(model=model, patch=patch, batch=batch, returncode=proc.returncode, wall_seconds=time.perf_counter() - t0)
    results = [l[len('RESULT '):] for l in out.splitlines() if l.startswith('RESULT ')]
    if results and proc.returncode == 0: return {**json.loads(results[-1]), **row}
    if 'rss_mib' in hit: why = f"stopped: RSS {hit['rss_mib'] / 1024:.1f} GiB passed --max-rss-gib {args.max_rss_gib:g}"
    elif hit.get('timeout'): why = f'stopped: over --timeout {args.timeout} s'
    else: why = (err.strip().splitlines() or [f'exit status {proc.returncode}'])[-1]
    return {**row, 'error': why, 'over_memory': 'rss_mib' in hit or proc.returncode == -9, 'stderr_tail': err[-2000:]}


def dominated(model:str, patch:int, batch:int, rows:list) -> bool:
    "A smaller-or-equal configuration of this model already ran out of memory."
    return any(r.get('over_memory') and r['model'] == model and r['patch'] <= patch and r['batch'] <= batch for r in rows)


# ---------------------------------------------------------------- growth fits

def doubling_ratio(xs:list, ys:list) -> float|None:
    "2**slope of the least-squares line through (log2 x, log2 y): the factor y grows by per doubling of x (None: under 2 distinct x)."
    pts = [(math.log2(x), math.log2(y)) for x, y in zip(xs, ys) if y is not None and y > 0]
    if len({p[0] for p in pts}) < 2: return None
    mx, my = statistics.fmean(p[0] for p in pts), statistics.fmean(p[1] for p in pts)
    slope = sum((a - mx) * (b - my) for a, b in pts) / sum((a - mx) ** 2 for a, _ in pts)
    return 2 ** slope


def growth(rows:list, metric:str, vary:str) -> list:
    "Per group of finished rows that differ only in `vary` ('patch' or 'batch'): the ratio of `metric` per doubling of it."
    fixed, groups = 'batch' if vary == 'patch' else 'patch', {}
    for r in rows:
        if r.get(metric) is not None: groups.setdefault((r['model'], r[fixed]), []).append(r)
    fits = [dict(model=m, **{fixed: v}, ratio=doubling_ratio([r[vary] for r in rs], [r[metric] for r in rs])) for (m, v), rs in groups.items()]
    return [f for f in fits if f['ratio'] is not None]


def growth_table(rows:list) -> dict:
    "Every metric's growth per doubling of the patch side and of the batch: per group, and each model's geometric mean over its groups."
    def summary(fits):
        by_model = {}
        for f in fits: by_model.setdefault(f['model'], []).append(f['ratio'])
        return {'per_group': fits, 'per_model': {m: math.prod(v) ** (1 / len(v)) for m, v in by_model.items()}}
    return {metric: {f'per_{vary}_doubling': summary(growth(rows, metric, vary)) for vary in ('patch', 'batch')} for metric in METRICS}


# ---------------------------------------------------------------- outputs

def machine() -> dict:
    "What the timings depend on: CPU, memory, torch and the load."
    import torch
    cpu = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name')), platform.processor())
    return {'cpu': cpu, 'cpu_count': os.cpu_count(), 'memory_gib': os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024 ** 3,
            'platform': platform.platform(), 'python': platform.python_version(), 'torch': torch.__version__,
            'load_average': os.getloadavg()}


def markdown(rows:list, growths:dict) -> str:
    "The results table and the growth per doubling."
    f = lambda v, fmt: '—' if v is None else format(v, fmt)
    lines = ['| model | batch | patch | parameters | baseline GiB | peak GiB | s / step | image passes / step | s / image pass | note |',
             '|---|--:|--:|--:|--:|--:|--:|--:|--:|---|']
    for r in rows:
        gib = lambda k: f(r[k] / 1024 if r.get(k) is not None else None, '.2f')
        lines.append(f"| {r['model']} | {r['batch']} | {r['patch']} | {f(r.get('parameters'), ',')} | {gib('baseline_rss_mib')} | {gib('peak_rss_mib')} | "
                     f"{f(r.get('seconds_per_step'), '.2f')} | {f(r.get('image_passes_per_step'), 'd')} | {f(r.get('seconds_per_image_pass'), '.3f')} | {r.get('error', '')} |")
    lines += ['', 'Growth per doubling (log-log least squares over the measurements; geometric mean over the groups):', '']
    for metric, name in METRICS.items():
        for vary, g in growths[metric].items():
            per = ', '.join(f'{m} x{v:.2f}' for m, v in g['per_model'].items()) or 'not enough points'
            lines.append(f"- {name}, {vary.replace('_', ' ')}: {per}")
    return '\n'.join(lines) + '\n'


def plot(rows:list, path:Path):
    "Peak memory (GiB) and seconds per step against the patch side, one line per (model, batch)."
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    from forgetting.evaluate import atomic_write
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    lines = sorted({(r['model'], r['batch']) for r in rows if r.get('peak_rss_mib') is not None})
    for ax, key, scale, label in ((axes[0], 'peak_rss_mib', 1 / 1024, 'peak RSS (GiB)'), (axes[1], 'seconds_per_step', 1, 'seconds per step')):
        for m, b in lines:
            pts = sorted((r['patch'], r[key] * scale) for r in rows if (r['model'], r['batch']) == (m, b) and r.get(key) is not None)
            if pts: ax.plot(*zip(*pts), marker='o', label=f'{m}, batch {b}')
        patches = sorted({r['patch'] for r in rows})
        ax.set_xscale('log', base=2); ax.set_xticks(patches, [str(p) for p in patches]); ax.minorticks_off()
        ax.set_xlabel('patch side (px)'); ax.set_ylabel(label); ax.grid(alpha=0.3)
    if lines: axes[0].legend(fontsize=8)
    fig.suptitle('pass-through-distill on the CPU: peak memory and step time', fontsize=10); fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format='png'), True); plt.close(fig)


def write_outputs(rows:list, args, started:str, info:dict):
    "fullsize_unlearn.{json,md,png} in --out, each written atomically."
    from forgetting.evaluate import atomic_write, save_json
    out, growths = Path(args.out), growth_table(rows)
    done = [r for r in rows if 'error' not in r]
    save_json({'created': started, 'updated': datetime.now(timezone.utc).isoformat(timespec='seconds'),
               'command': ' '.join(['python', 'benchmarks/fullsize_unlearn.py', *sys.argv[1:]]),
               'settings': {k: getattr(args, k) for k in ('models', 'patches', 'batches', 'steps', 'threads', 'max_rss_gib', 'timeout')},
               'recipe': {'method': done[0]['method'], 'config': done[0]['config']} if done else None,
               'machine': {**info, 'load_average_now': os.getloadavg()},
               'note': 'CPU shared with other processes: timings are noisy. Peak RSS includes the interpreter and torch (see baseline_rss_mib).',
               'rows': [{k: v for k, v in r.items() if k != 'config'} for r in rows], 'growth': growths},
              out / 'fullsize_unlearn.json', True, default=str)
    atomic_write(out / 'fullsize_unlearn.md', lambda p: p.write_text(markdown(rows, growths)), True)
    plot(rows, out / 'fullsize_unlearn.png')


def summary_line(r:dict) -> str:
    head = f"{r['model']:9s} batch {r['batch']:2d} patch {r['patch']:4d}: "
    if 'error' in r: return head + r['error']
    return head + (f"peak {r['peak_rss_mib'] / 1024:.2f} GiB (baseline {r['baseline_rss_mib'] / 1024:.2f}), "
                   f"{r['seconds_per_step']:.2f} s/step, {r['seconds_per_image_pass']:.3f} s/image pass ({r['image_passes_per_step']} per step)")


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--models', nargs='+', default=['promptir', 'adair'])
    p.add_argument('--patches', nargs='+', type=int, default=[64, 96, 128])
    p.add_argument('--batches', nargs='+', type=int, default=[8, 4], help='batch_forget = batch_distill')
    p.add_argument('--steps', type=int, default=3, help='optimiser steps per configuration (the first is left out of the timing)')
    p.add_argument('--threads', type=int, default=1, help='torch threads in each child')
    p.add_argument('--max-rss-gib', type=float, default=None, help='stop a child above this RSS (0: never; default: available memory - 2 GiB)')
    p.add_argument('--timeout', type=float, default=0, help='seconds per configuration (0: none)')
    p.add_argument('--out', default=str(ROOT / 'figures' / 'fullsize_unlearn'))
    p.add_argument('--one', nargs=3, metavar=('MODEL', 'PATCH', 'BATCH'), default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps < 2: p.error('--steps must be at least 2 (the first step is left out of the timing)')
    return args


def available_gib() -> float:
    "MemAvailable now (GiB), from /proc/meminfo."
    return next(int(l.split()[1]) for l in Path('/proc/meminfo').read_text().splitlines() if l.startswith('MemAvailable:')) / 1024 ** 2


def main(argv=None):
    args = parse(argv)
    if args.one:
        m, p, b = args.one
        print('RESULT ' + json.dumps(one(m, int(p), int(b), args.steps, args.threads)), flush=True); return
    if args.max_rss_gib is None: args.max_rss_gib = round(max(available_gib() - 2, 1), 1)
    started, info, rows = datetime.now(timezone.utc).isoformat(timespec='seconds'), machine(), []
    for model in args.models:
        for batch in args.batches:
            for patch in sorted(args.patches):
                if dominated(model, patch, batch, rows):
                    rows.append(dict(model=model, patch=patch, batch=batch, error='skipped: a smaller configuration ran out of memory', over_memory=True))
                else: rows.append(run_child(model, patch, batch, args))
                print(summary_line(rows[-1]), flush=True)
                write_outputs(rows, args, started, info)
    print(markdown(rows, growth_table(rows)), f"wrote {args.out}/fullsize_unlearn.{{json,md,png}}", sep='')


if __name__ == '__main__':
    main()
