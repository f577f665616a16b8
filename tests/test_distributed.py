"Two gloo processes under torchrun: same weights as one process with the same global batch; only rank 0 writes."
import json, sys
from pathlib import Path
import pytest, torch
from torch import nn
from forgetting.data import bundled_split
from forgetting.train import TrainConfig, train, load_checkpoint
from forgetting.distributed import launch, shard_config

CFG = dict(steps=4, batch_size=4, patch_size=16, tasks=['noise50', 'rain', 'haze'], device='cpu', lr=1e-3, balance=False)

# The worker every rank runs: the tiny conv net of `TINYNET`, the same seed on each rank, `train(..., ranks=info.ranks)` with a shared checkpoint path
# and a per-rank path (only rank 0 may create either), and a per-rank JSON of what it returned (written by every rank
# on purpose, to a path the test reads).
WORKER = '''
import json, os, sys, torch
from torch import nn
from forgetting.data import bundled_split
from forgetting.train import TrainConfig, train
from forgetting.distributed import process_group, is_main_process
from tinynet import TinyNet   # written beside this script
out, report = sys.argv[1], sys.argv[2]
cfg = TrainConfig(**json.loads(sys.argv[3]))
with process_group('cpu') as info:
    torch.manual_seed(0); m = TinyNet()
    h = train(m, bundled_split()[0][:3], cfg, checkpoint=os.path.join(out, 'run.pt'), progress=False, ranks=info.ranks)
    torch.manual_seed(0); m2 = TinyNet()
    train(m2, bundled_split()[0][:3], cfg, checkpoint=os.path.join(out, f'rank{info.rank}.pt'), progress=False, ranks=info.ranks)
    with open(os.path.join(report, f'rank{info.rank}.json'), 'w') as f:
        json.dump(dict(rank=info.rank, world=info.world_size, main=is_main_process(), loss=h['loss'],
                       weights={k: v.tolist() for k, v in m.state_dict().items()}), f)
'''



def TinyNet():
    "The workers' tiny conv net (`TINYNET`), built in this process."
    ns = {}; exec(TINYNET, ns); return ns['TinyNet']()


@pytest.fixture(scope='module')
def two_process_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('ddp')
    out, report = root / 'out', root / 'report'
    out.mkdir(); report.mkdir()
    (root / 'worker.py').write_text(WORKER); (root / 'tinynet.py').write_text(TINYNET)
    r = launch(2, [str(root / 'worker.py'), str(out), str(report), json.dumps(CFG)], timeout=300, capture=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, report


def test_two_processes_match_one(two_process_run):
    out, report = two_process_run
    torch.manual_seed(0); ref = TinyNet()
    h = train(ref, bundled_split()[0][:3], TrainConfig(**CFG), progress=False)
    ranks = [json.loads((report / f'rank{r}.json').read_text()) for r in (0, 1)]
    assert [(x['rank'], x['world'], x['main']) for x in ranks] == [(0, 2, True), (1, 2, False)]
    saved = load_checkpoint(out / 'run.pt')['state_dict']
    for k, v in ref.state_dict().items():
        for x in ranks: torch.testing.assert_close(torch.tensor(x['weights'][k]), v, atol=1e-5, rtol=0)
        torch.testing.assert_close(saved[k], v, atol=1e-5, rtol=0)
    for x in ranks: assert x['loss'] == pytest.approx(h['loss'], abs=1e-6)   # logged loss = the global batch's
    assert not torch.equal(saved['a.weight'], TinyNet().a.weight)             # training moved the weights


def test_only_rank0_writes(two_process_run):
    out, _ = two_process_run
    assert sorted(p.name for p in out.iterdir()) == ['rank0.pt', 'run.pt']   # no rank1.pt, no stray temp files
    state = load_checkpoint(out / 'run.pt')
    assert state['step'] == CFG['steps'] and state['config']['batch_size'] == CFG['batch_size']   # global config


def test_batch_must_split_evenly():
    with pytest.raises(ValueError, match='not divisible by 3'): shard_config(TrainConfig(**CFG), 3)


# Unlearning: every rank runs `forget(..., distributed=True)` on the same data; rank 0 and rank 1 report their weights
# and loss logs. Three methods cover every kind of term: adversarial examples + MAS (accurate), retain batches
# (neggrad+), a saliency mask with Adam (relabel), the simulated relearning step (its direction is the global batch's),
# a module restriction with gradient projection (each rank takes some of the basis's per-sample gradients).
# Rank 1 is handed a different model, and must still agree.
UNLEARN_WORKER = '''
import json, os, sys, torch
from forgetting.unlearn import forget
import forgetting.variants   # relabel, the relearning step, projection and update_only
from forgetting.distributed import process_group
sys.path.insert(0, os.path.dirname(__file__))
from tinynet import TinyNet, unlearn_job
report = sys.argv[1]
with process_group('cpu') as info:
    out = {}
    for method, (net, fs, rs, kw) in unlearn_job().items():
        if info.rank == 1:                          # a different model on rank 1: forget starts every rank from rank 0's
            with torch.no_grad(): net.b.weight.add_(1.0)
        new, h = forget(net, fs, retain_set=rs, distributed=True, **kw)
        out[method] = dict(loss=[s['loss'] for s in h['steps']], stop=h['stop_step'], weights={k: v.tolist() for k, v in new.state_dict().items()})
    with open(os.path.join(report, f'rank{info.rank}.json'), 'w') as f: json.dump(out, f)
'''

TINYNET = '''
import torch
from torch import nn
class TinyNet(nn.Module):
    def __init__(self):
        super().__init__(); self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 3, 3, padding=1)
        self.unused = nn.Conv2d(3, 3, 1)   # gets no gradient, like AdaIR's rate_conv: DDP must allow that
    def forward(self, x): return x + self.b(torch.relu(self.a(x)))
def unlearn_job():
    "The same nets and data on every call: {method: (model, forget set, retain set, forget kwargs)}."
    torch.manual_seed(0); net = TinyNet()
    clean = torch.rand(16, 3, 16, 16); noisy = (clean + 0.2 * torch.randn_like(clean)).clamp(0, 1)
    fs, rs = (noisy[:8], clean[:8]), (noisy[8:], clean[8:])
    common = dict(steps=6, eval_every=3, stop_gain=None, lr=1e-2, batch_forget=4, progress=False)
    return {'accurate': (net, fs, None, dict(method='accurate', n_adv=2, adv_steps=2, batch_adv=4, **common)),
            'neggrad+': (net, fs, rs, dict(method='neggrad+', batch_retain=4, **common)),
            'relabel': (net, fs, None, dict(method='relabel', **common)),
            'neggrad + relearn step': (net, fs, None, dict(method='neggrad', relearn_step=1e-3, **common)),
            'pass-through + midpoint': (net, fs, None, dict(method='neggrad', forget_loss='pass-through', midpoint=1.0, **common)),
            'neggrad + projection, only b': (net, fs, None, dict(method='neggrad', retain_directions=4, update_only=['b'], retain_tasks=['noise15'], **common))}
'''


@pytest.fixture(scope='module')
def two_process_unlearning(tmp_path_factory):
    root = tmp_path_factory.mktemp('ddp_unlearn')
    (root / 'worker.py').write_text(UNLEARN_WORKER); (root / 'tinynet.py').write_text(TINYNET)
    r = launch(2, [str(root / 'worker.py'), str(root)], timeout=300, capture=True)
    assert r.returncode == 0, r.stderr[-3000:]
    sys.path.insert(0, str(root))
    try: from tinynet import unlearn_job
    finally: sys.path.remove(str(root))
    return [json.loads((root / f'rank{r}.json').read_text()) for r in (0, 1)], unlearn_job


def test_unlearning_with_two_processes_matches_one(two_process_unlearning):
    ranks, unlearn_job = two_process_unlearning
    from forgetting.unlearn import forget
    import forgetting.variants  # noqa: F401  (relabel and the variants' fields)
    for method, (net, fs, rs, kw) in unlearn_job().items():
        ref, h = forget(net, fs, retain_set=rs, **kw)
        assert h['stop_step'] == 6 and not torch.equal(ref.b.weight, net.b.weight), method   # it did unlearn
        for x in ranks:
            got = x[method]
            assert got['stop'] == h['stop_step'] and got['loss'] == pytest.approx([s['loss'] for s in h['steps']], abs=1e-6), method
            for k, v in ref.state_dict().items(): torch.testing.assert_close(torch.tensor(got['weights'][k]), v, atol=1e-6, rtol=0)


def test_unlearning_batches_must_split_evenly():
    from forgetting.distributed import rank_share
    with pytest.raises(ValueError, match='forget batch of 3 does not split evenly over 2 processes'): rank_share(torch.arange(3), (0, 2), 'forget')


def test_launch_timeout_kills_every_worker(tmp_path):
    "A job that outlives its timeout is stopped with all its worker processes (none keeps a GPU)."
    import subprocess, time, uuid
    mark = uuid.uuid4().hex
    (tmp_path / 'hang.py').write_text(f"import time  # {mark}\ntime.sleep(600)\n")
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match='did not finish within 5 s'): launch(2, [str(tmp_path / 'hang.py')], timeout=5, capture=True)
    assert time.perf_counter() - t0 < 60
    time.sleep(1)
    left = subprocess.run(['pgrep', '-f', str(tmp_path / 'hang.py')], capture_output=True, text=True).stdout.split()
    assert left == [], left
