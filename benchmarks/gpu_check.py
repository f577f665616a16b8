"""Check `forgetting train` and `forgetting unlearn` on a CUDA machine: exit status, wall seconds, peak GPU memory, the cards.

    bash benchmarks/gpu_check.sh           # on the GPU machine, from the repository root (OUT=figures/gpu_check by default)
    python benchmarks/gpu_check.py --out figures/gpu_check
    python benchmarks/gpu_check.py --device cpu --models promptir-tiny --steps 2 --unlearn-steps 2 --out /tmp/gpu_check_smoke

For each process count (1, and 2 when `nvidia-smi -L` lists two GPUs or more), model (promptir, adair) and precision
(fp32: --no-amp; bf16: --amp): `forgetting train` for --steps steps (batch 8, 64 px patches, evaluated once at the end on
the 64 px bundled test suite), then `forgetting unlearn` of that checkpoint (the default recipe, 16 forget patches of
64 px, --unlearn-steps steps, the stop rule off). Training's --amp is bf16 autocast on compute capability 8+ (fp16
below); unlearning's precision flags are passed only where this version's `forgetting unlearn --help` lists them.

Every run, of one process or several (--nproc N: torchrun), is a child process of the console command
(`forgetting ...` beside this Python, its output passed through); nothing here imports the command line. Its peak GPU memory is
measured from outside: a background thread samples `nvidia-smi --query-gpu=index,memory.used` every 0.5 s while the
run goes on, and each GPU's peak minus its value sampled just before the run started is recorded in MiB. That is device
memory used as nvidia-smi reports it: it includes the CUDA context of every process of the run and the caching
allocator's reserve (not only live tensors), and a peak shorter than 0.5 s can be missed. Without nvidia-smi it is null.

A failing run is recorded with its error and the rest go on; runs that would start after --budget seconds are skipped,
and a run still going 2 minutes past that deadline (3 minutes after its start at the least) is stopped. The checkpoints
and their cards are deleted once read (--keep-checkpoints keeps them). Writes gpu_check.json into --out (default $OUT,
else figures/gpu_check) after every run.
"""
import argparse, json, os, platform, shutil, signal, subprocess, sys, threading, time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = ('fp32', 'bf16')
CLI = [str(Path(sys.executable).with_name('forgetting'))]   # the console command, installed beside this Python; run in a child process
SAMPLE_EVERY = 0.5                                      # seconds between nvidia-smi samples
GPU_MEMORY_NOTE = ('gpu_memory_used_mib: for each GPU index, the peak of `nvidia-smi --query-gpu=index,memory.used '
                   f'--format=csv,noheader,nounits` sampled every {SAMPLE_EVERY:g} s while the run went on, minus the value '
                   'sampled just before it started (gpu_memory_baseline_mib), in MiB. Device memory used as nvidia-smi '
                   'reports it: it includes the CUDA context of each process of the run and the caching allocator\'s '
                   f'reserve, not only live tensors, and a peak shorter than {SAMPLE_EVERY:g} s can be missed. '
                   'null where nvidia-smi is missing or could not be read.')


def gpu_count() -> int:
    "GPUs that `nvidia-smi -L` lists (torch's count where nvidia-smi is missing)."
    if shutil.which('nvidia-smi'):
        r = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True)
        if r.returncode == 0: return sum(1 for l in r.stdout.splitlines() if l.strip())
    return torch.cuda.device_count()


def gpu_memory_used() -> dict|None:
    "{GPU index: MiB used} as nvidia-smi reports it now (None: no nvidia-smi, or it failed)."
    if not shutil.which('nvidia-smi'): return None
    try: r = subprocess.run(['nvidia-smi', '--query-gpu=index,memory.used', '--format=csv,noheader,nounits'],
                            capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired): return None
    if r.returncode != 0: return None
    used = {}
    for line in r.stdout.splitlines():
        try: i, mib = (s.strip() for s in line.split(','))
        except ValueError: continue
        try: used[i] = float(mib)
        except ValueError: continue                 # '[N/A]' and the like
    return used or None


class GpuMemorySampler:
    "Sample nvidia-smi in a background thread from `start()` to `stop()`: the per-GPU peak over the baseline taken at start."
    def __init__(self, every:float=SAMPLE_EVERY): self.every, self.baseline, self.peak, self.samples = every, None, None, 0
    def start(self):
        self.baseline = gpu_memory_used()
        if self.baseline is None: return self
        self.peak, self._stop = dict(self.baseline), threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True); self._thread.start()
        return self
    def _sample(self):
        used = gpu_memory_used()
        if used is None: return
        self.samples += 1
        for i, mib in used.items(): self.peak[i] = max(self.peak.get(i, mib), mib)
    def _loop(self):
        while True:
            self._sample()
            if self._stop.wait(self.every): break
    def stop(self) -> dict:
        "The record: gpu_memory_used_mib ({index: peak - baseline}), the baseline and the number of samples (None where unread)."
        if self.baseline is None: return dict(gpu_memory_used_mib=None, gpu_memory_baseline_mib=None, gpu_memory_samples=0)
        self._stop.set(); self._thread.join()
        return dict(gpu_memory_used_mib={i: max(p - self.baseline.get(i, 0.0), 0.0) for i, p in self.peak.items()} if self.samples else None,
                    gpu_memory_baseline_mib=self.baseline, gpu_memory_samples=self.samples)


def environment(device:str) -> dict:
    "The machine, the GPU(s) and the versions the numbers belong to."
    env = {'python': platform.python_version(), 'platform': platform.platform(), 'torch': torch.__version__,
           'torch_cuda': torch.version.cuda, 'cuda_available': torch.cuda.is_available(), 'gpus_listed': gpu_count(),
           'cpu_count': os.cpu_count(), 'device': device}
    if torch.cuda.is_available():
        env['gpus'] = [dict(name=torch.cuda.get_device_name(i), capability=list(torch.cuda.get_device_capability(i)),
                            memory_gib=torch.cuda.get_device_properties(i).total_memory / 1024 ** 3) for i in range(torch.cuda.device_count())]
        env['bf16_supported'] = torch.cuda.is_bf16_supported()
    try:                                # the autocast dtype `forgetting train --amp` picks on this device
        from forgetting.train import TrainConfig, _amp_dtype
        env['train_amp_dtype'] = str(_amp_dtype(TrainConfig(amp=True), torch.device(device)))
    except Exception as e: env['train_amp_dtype'] = f'unknown ({type(e).__name__}: {e})'
    if shutil.which('nvidia-smi'):
        r = subprocess.run(['nvidia-smi', '--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], capture_output=True, text=True)
        env['nvidia_smi'] = r.stdout.strip().splitlines()
    try: env['git_commit'] = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError): env['git_commit'] = None
    return env


def unlearn_precision_flags() -> dict:
    "{'bf16': [...], 'fp32': [...]}: the flags `forgetting unlearn` takes for each precision in this version (None: not offered)."
    r = subprocess.run([*CLI, 'unlearn', '--help'], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if r.returncode != 0: raise RuntimeError(f"`forgetting unlearn --help` exited with {r.returncode}:\n{r.stderr[-3000:]}")
    text = r.stdout
    has = lambda flag: f'{flag} ' in text or f'{flag},' in text or f'{flag}]' in text or f'{flag}\n' in text
    return {'bf16': ['--amp'] if has('--amp') else None, 'fp32': ['--no-amp'] if has('--no-amp') else []}


def release_files(pt:Path) -> list:
    "What a run writes beside its release: the card, the training run checkpoint, the unlearning state file."
    return [pt, pt.with_suffix('.json'), pt.with_suffix('.run.pt'), pt.with_suffix('.state.pt')]


def card_summary(pt:Path, kind:str) -> dict|None:
    "What the card beside `pt` says: train: seconds, metrics (and steps, device, nproc); unlearn: the unlearning entry."
    path = pt.with_suffix('.json')
    if not path.is_file(): return None
    card = json.loads(path.read_text())
    keys = ('seconds', 'metrics', 'steps', 'device', 'nproc', 'parameters') if kind == 'train' else ('unlearning', 'status', 'forgotten')
    return {k: card.get(k) for k in keys}


def _pass_through(pipe, stream, tail:list, keep:int=4000):
    "Copy a child's pipe to `stream` line by line, keeping its last `keep` characters in tail[0]."
    for line in iter(pipe.readline, ''):
        stream.write(line); stream.flush(); tail[0] = (tail[0] + line)[-keep:]
    pipe.close()


def _stop_group(proc:subprocess.Popen, grace:float=15):
    "End the child's process group (torchrun and its workers): SIGTERM, then SIGKILL after `grace` seconds."
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try: os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError): return
        try: proc.wait(grace); return
        except subprocess.TimeoutExpired: continue


def run_cli(argv:list, timeout:float) -> dict:
    "Run `forgetting ARGV` (with --nproc N > 1: torchrun) as a child process, sampling GPU memory: exit status, error, memory."
    sampler = GpuMemorySampler().start()
    out, tails = dict(returncode=None, error=None), ([''], [''])
    try:
        proc = subprocess.Popen([*CLI, *argv], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                                start_new_session=True)          # its own process group, so that a stop reaches torchrun's workers
        readers = [threading.Thread(target=_pass_through, args=(p, s, t), daemon=True)
                   for p, s, t in ((proc.stdout, sys.stdout, tails[0]), (proc.stderr, sys.stderr, tails[1]))]
        for t in readers: t.start()
        try: out['returncode'] = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop_group(proc); out['error'] = f'stopped: over the {timeout:.0f} s allowed'
        except BaseException:                                    # Ctrl-C: do not leave the run behind
            _stop_group(proc); raise
        for t in readers: t.join(30)
    except OSError as e: out['error'] = f'{type(e).__name__}: {e}'
    finally: out.update(sampler.stop())
    rc, stderr = out['returncode'], tails[1][0]
    if rc not in (0, None) and out['error'] is None:
        out['error'] = (stderr.strip().splitlines() or [f'exit status {rc}'])[-1]
    if out['error']: out['stderr_tail'] = stderr[-3000:]
    return out


def train_argv(model:str, precision:str, nproc:int, pt:Path, args) -> list:
    return ['train', '--model', model, '--steps', str(args.steps), '--batch-size', '8', '--patch-size', '64', '--val-every', '0',
            '--save-every', '0', '--suite-size', '64', '--quiet', '--device', args.device, '--out', str(pt),
            '--amp' if precision == 'bf16' else '--no-amp'] + (['--nproc', str(nproc)] if nproc > 1 else [])


def unlearn_argv(src:Path, pt:Path, flags:list, nproc:int, args) -> list:
    return ['unlearn', '--checkpoint', str(src), '--out', str(pt), '--steps', str(args.unlearn_steps), '--forget-size', '16',
            '--patch-size', '64', '--set', 'stop_gain=null', '--quiet', '--device', args.device, *flags] + (['--nproc', str(nproc)] if nproc > 1 else [])


def run_one(kind:str, argv:list, pt:Path, nproc:int, args, deadline:float) -> dict:
    "One command, from a clean slate (stale outputs removed): its record."
    for f in release_files(pt): f.unlink(missing_ok=True)
    print(f"\n=== forgetting {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    out = run_cli(argv, max(deadline - time.monotonic(), 60) + 120)
    out['wall_seconds'] = time.perf_counter() - t0
    out['ok'] = out['returncode'] == 0 and not out['error']
    try: out['card'] = card_summary(pt, kind)
    except (OSError, ValueError) as e: out['card'], out['card_error'] = None, str(e)
    return out


def check_pair(model:str, precision:str, nproc:int, flags:dict, args, deadline:float) -> list:
    "Train, then unlearn that checkpoint: their records."
    out, tag = Path(args.out), f"{model}-{precision}" + (f'-nproc{nproc}' if nproc > 1 else '')
    pt, unlearned = out / f'{tag}.pt', out / f'{tag}-unlearned.pt'
    base = dict(model=model, precision=precision, nproc=nproc)
    rows = [dict(base, kind='train', argv=train_argv(model, precision, nproc, pt, args))]
    if time.monotonic() > deadline: rows[0].update(ok=False, error=f'skipped: over --budget {args.budget:g} s')
    else: rows[0].update(run_one('train', rows[0]['argv'], pt, nproc, args, deadline))
    row = dict(base, kind='unlearn', argv=unlearn_argv(pt, unlearned, flags[precision] or [], nproc, args))
    if flags[precision] is None: row.update(ok=False, error=f'skipped: this version of `forgetting unlearn` has no flag for {precision}')
    elif not rows[0].get('ok'): row.update(ok=False, error='skipped: training failed')
    elif time.monotonic() > deadline: row.update(ok=False, error=f'skipped: over --budget {args.budget:g} s')
    else: row.update(run_one('unlearn', row['argv'], unlearned, nproc, args, deadline))
    if not args.keep_checkpoints:                # gpu_check.json holds what the cards say
        for f in release_files(pt) + release_files(unlearned): f.unlink(missing_ok=True)
    return rows + [row]


def summary(rows:list) -> str:
    "One line per run (memory: the largest per-GPU rise that nvidia-smi showed)."
    def line(r):
        used = r.get('gpu_memory_used_mib')
        mem = f"{max(used.values()) / 1024:6.2f} GiB" if used else '    —    '
        what = 'ok' if r.get('ok') else r['error'] if str(r.get('error')).startswith('skipped') else f"FAILED: {r.get('error')}"
        return f"{r['kind']:8s} {r['model']:14s} {r['precision']:5s} nproc {r['nproc']}  {r.get('wall_seconds', 0):7.1f} s  {mem}  {what}"
    return '\n'.join(map(line, rows))


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default=os.environ.get('OUT', str(ROOT / 'figures' / 'gpu_check')))
    p.add_argument('--device', default='cuda')
    p.add_argument('--models', nargs='+', default=['promptir', 'adair'])
    p.add_argument('--precisions', nargs='+', choices=PRECISIONS, default=list(PRECISIONS))
    p.add_argument('--nprocs', nargs='+', type=int, default=None, help='process counts (default: 1, and 2 when two GPUs are listed)')
    p.add_argument('--steps', type=int, default=20, help='training steps')
    p.add_argument('--unlearn-steps', type=int, default=10)
    p.add_argument('--budget', type=float, default=330, help='seconds; runs that would start later are skipped')
    p.add_argument('--keep-checkpoints', action='store_true')
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    args.out = str(Path(args.out).resolve())
    os.chdir(ROOT)                     # the CLI's bundled paths and git are relative to the repository root
    from forgetting.evaluate import save_json
    started, t0 = datetime.now(timezone.utc).isoformat(timespec='seconds'), time.monotonic()
    deadline, env, flags = t0 + args.budget, environment(args.device), unlearn_precision_flags()
    nprocs = args.nprocs or ([1, 2] if env['gpus_listed'] >= 2 else [1])
    Path(args.out).mkdir(parents=True, exist_ok=True)
    rows = []
    for nproc in nprocs:
        for model in args.models:
            for precision in args.precisions:
                rows += check_pair(model, precision, nproc, flags, args, deadline)
                save_json({'created': started, 'command': ' '.join(['python', 'benchmarks/gpu_check.py', *sys.argv[1:]]),
                           'settings': {**vars(args), 'nprocs': nprocs}, 'environment': env, 'unlearn_precision_flags': flags,
                           'runs_as': ' '.join(CLI[1:]) + ' ARGV, one child process per run', 'gpu_memory': GPU_MEMORY_NOTE,
                           'total_seconds': time.monotonic() - t0, 'runs': rows}, Path(args.out) / 'gpu_check.json', True, default=str)
    print('\n' + summary(rows), f"\n{sum(r.get('ok', False) for r in rows)}/{len(rows)} runs ok in {time.monotonic() - t0:.0f} s; wrote {args.out}/gpu_check.json", flush=True)
    return 0 if all(r.get('ok') for r in rows if not str(r.get('error', '')).startswith('skipped')) else 1


if __name__ == '__main__':
    sys.exit(main())
