"Two gloo processes under torchrun: same weights as one process with the same global batch; only rank 0 writes."
import json, sys
from pathlib import Path
import pytest, torch
from torch import nn
from forgetting.data import bundled_split
from forgetting.train import TrainConfig, train, load_checkpoint
from forgetting.distributed import launch, shard_config

CFG = dict(steps=4, batch_size=4, patch_size=16, tasks=['noise50', 'rain', 'haze'], device='cpu', lr=1e-3, balance=False)

# The worker every rank runs: a tiny conv net, the same seed on each rank, `train_ddp` with a shared checkpoint path
# and a per-rank path (only rank 0 may create either), and a per-rank JSON of what it returned (written by every rank
# on purpose, to a path the test reads).
WORKER = '''
import json, os, sys, torch
from torch import nn
from forgetting.data import bundled_split
from forgetting.train import TrainConfig
from forgetting.distributed import train_ddp, process_group, is_main_process
class TinyNet(nn.Module):
    def __init__(self):
        super().__init__(); self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 3, 3, padding=1)
    def forward(self, x): return x + self.b(torch.relu(self.a(x)))
out, report = sys.argv[1], sys.argv[2]
cfg = TrainConfig(**json.loads(sys.argv[3]))
with process_group('cpu') as info:
    torch.manual_seed(0); m = TinyNet()
    h = train_ddp(m, bundled_split()[0][:3], cfg, checkpoint=os.path.join(out, 'run.pt'), progress=False)
    torch.manual_seed(0); m2 = TinyNet()
    train_ddp(m2, bundled_split()[0][:3], cfg, checkpoint=os.path.join(out, f'rank{info.rank}.pt'), progress=False)
    with open(os.path.join(report, f'rank{info.rank}.json'), 'w') as f:
        json.dump(dict(rank=info.rank, world=info.world_size, main=is_main_process(), loss=h['loss'],
                       weights={k: v.tolist() for k, v in m.state_dict().items()}), f)
'''


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__(); self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 3, 3, padding=1)
    def forward(self, x): return x + self.b(torch.relu(self.a(x)))


@pytest.fixture(scope='module')
def two_process_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('ddp')
    out, report = root / 'out', root / 'report'
    out.mkdir(); report.mkdir()
    (root / 'worker.py').write_text(WORKER)
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
