"Running the `forgetting` console script from the tests: the command, tiny settings and the checks of its outcome."
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = ROOT / '.venv' / 'bin' / 'forgetting'
CMD = [str(EXE)] if EXE.exists() else [sys.executable, '-m', 'forgetting.cli']
TINY_TRAIN = ['--steps', '2', '--batch-size', '2', '--patch-size', '16', '--suite-size', '32', '--val-every', '0', '--quiet', '--device', 'cpu']
SMALL = ['--size', '32', '--tasks', 'noise50', 'haze', '--quiet', '--device', 'cpu']
FAST_UNLEARN = ['--steps', '2', '--forget-size', '4', '--patch-size', '16', '--set', 'eval_every=1', '--set', 'stop_gain=null',
                '--quiet', '--device', 'cpu']   # 2 steps: the step limit is the stop rule


def forgetting(*args, cwd=None, timeout=300):
    "Run the console script; return the CompletedProcess (text)."
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def ok(r):
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Traceback' not in r.stderr
    return r.stdout


def user_error(r, *words, status=1):
    "A user mistake: status, exactly one stderr line naming the problem, no traceback."
    assert r.returncode == status, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert 'Traceback' not in r.stderr
    lines = r.stderr.strip().splitlines()
    if status == 1: assert len(lines) == 1 and lines[0].startswith('forgetting '), r.stderr
    for w in words: assert w in r.stderr, (w, r.stderr)
