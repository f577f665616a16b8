"Training: exact resume, checkpoint guards and content, the schedule, batches, bad configs, release files, CLI."
import json, subprocess, sys
import numpy as np, pytest, torch
from torch import nn
from forgetting.data import bundled_split
from forgetting.train import (TrainConfig, train, lr_factor, load_checkpoint, batch_for_step, tasks_for_step,
                              patch_datasets, step_loader, save_release, make_optimizer)

PHOTOS = bundled_split()[0][:3]


class Net(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3, 3, padding=1))
    def forward(self, x): return x + self.body(x)


def fresh(seed=0, **kw):
    torch.manual_seed(seed)
    return Net(**kw)


def small(**kw):
    return TrainConfig(**{**dict(steps=6, batch_size=3, patch_size=16, warmup=2, lr=1e-3, tasks=['haze', 'noise15']), **kw})


@pytest.mark.parametrize('balance', [True, False])
def test_resume_equals_uninterrupted(tmp_path, balance):
    cfg = small(balance=balance)
    straight = fresh(); h1 = train(straight, PHOTOS, cfg, progress=False)
    ck = tmp_path / 'run.pt'
    train(fresh(), PHOTOS, cfg, checkpoint=ck, stop_at=2, progress=False)
    torch.manual_seed(99); np.random.seed(3)
    resumed = fresh(seed=5)
    h2 = train(resumed, PHOTOS, resume=ck, checkpoint=ck, progress=False)
    for k, v in straight.state_dict().items():
        assert torch.allclose(resumed.state_dict()[k], v, atol=1e-6), k
    assert np.allclose(h1['loss'], h2['loss'], atol=1e-6) and h2['step'] == list(range(1, 7))
    assert h1['lr'] == h2['lr']


def test_resume_of_finished_run_does_nothing(tmp_path):
    ck = tmp_path / 'run.pt'
    m = fresh(); train(m, PHOTOS, small(), checkpoint=ck, progress=False)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    h = train(m, PHOTOS, resume=ck, checkpoint=ck, progress=False)
    assert len(h['loss']) == 6 and all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_never_overwrites_without_permission(tmp_path):
    ck = tmp_path / 'run.pt'
    ck.write_bytes(b'precious')
    with pytest.raises(FileExistsError, match=f'checkpoint {ck} already exists'):
        train(fresh(), PHOTOS, small(), checkpoint=ck, progress=False)
    assert ck.read_bytes() == b'precious'
    train(fresh(), PHOTOS, small(steps=1), checkpoint=ck, overwrite=True, progress=False)
    assert load_checkpoint(ck)['step'] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ['run.pt']


def test_checkpoint_content(tmp_path):
    ck = tmp_path / 'run.pt'
    m = fresh(); m.config = {'name': 'net', 'overrides': {'width': 8}}
    cfg = small(save_every=2)
    train(m, PHOTOS, cfg, checkpoint=ck, progress=False)
    state = torch.load(ck, weights_only=True)
    assert {'state_dict', 'optimizer', 'scheduler', 'scaler', 'step', 'rng', 'config', 'history', 'model_spec'} <= set(state)
    assert state['step'] == 6 and state['config'] == cfg.to_dict() and state['model_spec'] == m.config
    assert {'torch', 'numpy', 'python'} <= set(state['rng'])
    assert len(state['history']['loss']) == 6 and state['scheduler']['last_epoch'] == 6
    assert all(torch.equal(state['state_dict'][k], v) for k, v in m.state_dict().items())


def test_bad_resume(tmp_path):
    ck = tmp_path / 'run.pt'
    train(fresh(), PHOTOS, small(), checkpoint=ck, stop_at=1, progress=False)
    with pytest.raises(ValueError, match=r"cannot resume .* lr 0.001 in the checkpoint vs 0.01 given"):
        train(fresh(), PHOTOS, small(lr=1e-2), resume=ck, progress=False)
    train(fresh(), PHOTOS, small(val_every=3), resume=ck, stop_at=2, checkpoint=ck, progress=False)  # logistics may change
    with pytest.raises(ValueError, match='does not fit this Net'):
        train(Net(width=4), PHOTOS, resume=ck, progress=False)
    with pytest.raises(FileNotFoundError, match='no checkpoint at'):
        train(fresh(), PHOTOS, resume=tmp_path / 'missing.pt', progress=False)
    torch.save({'state_dict': {}}, tmp_path / 'plain.pt')
    with pytest.raises(ValueError, match='not a training checkpoint'):
        load_checkpoint(tmp_path / 'plain.pt')


def test_schedule_shape():
    cfg = TrainConfig(steps=100, warmup=10, lr=1e-3, min_lr=1e-5)
    f = np.array([lr_factor(k, cfg) for k in range(100)])
    assert np.all(np.diff(f[:10]) > 0) and f[9] == 1.0 and f[10] == 1.0
    assert np.all(np.diff(f[10:]) < 0) and abs(f[-1] - 0.01) < 2e-3
    assert abs(f[55] - (0.01 + 0.99 * 0.5)) < 1e-12
    m = fresh(); opt, sched, _ = make_optimizer(m, cfg)
    lrs = []
    for _ in range(100): lrs.append(opt.param_groups[0]['lr']); opt.step(); sched.step()
    assert np.allclose(lrs, 1e-3 * f)
    assert TrainConfig(steps=200).warmup_steps == 10


def test_history_records_the_schedule():
    cfg = small(steps=4, warmup=2)
    h = train(fresh(), PHOTOS, cfg, progress=False)
    assert np.allclose(h['lr'], [cfg.lr * lr_factor(k, cfg) for k in range(4)])


@pytest.mark.parametrize('kw, msg', [
    (dict(tasks=['noise15', 'snow']), r"unknown task\(s\) \['snow'\]"),
    (dict(steps=0), 'steps must be an integer >= 1, got 0'),
    (dict(steps=-3), 'steps must be an integer >= 1'),
    (dict(steps=2.5), 'steps must be an integer >= 1'),
    (dict(tasks=[]), 'tasks is empty'),
    (dict(tasks=['rain', 'rain']), 'duplicates'),
    (dict(batch_size=0), 'batch_size'),
    (dict(lr=-1.0), 'lr must be > 0'),
    (dict(min_lr=1.0), 'min_lr must be in'),
    (dict(grad_clip=0), 'grad_clip'),
    (dict(device='gpu7'), "device 'gpu7' is not a torch device"),
])
def test_bad_config(kw, msg):
    with pytest.raises(ValueError, match=msg): TrainConfig(**kw)


def test_bad_train_arguments():
    with pytest.raises(TypeError, match='must be a torch.nn.Module'): train(lambda x: x, PHOTOS, small(), progress=False)
    with pytest.raises(TypeError, match='config must be a TrainConfig'): train(fresh(), PHOTOS, None, progress=False)
    with pytest.raises(ValueError, match='no training photos'): train(fresh(), [], small(), progress=False)
    with pytest.raises(ValueError, match='stop_at'): train(fresh(), PHOTOS, small(), stop_at=0, progress=False)


def test_batches_are_pure_balanced_and_disjoint_across_ranks():
    cfg = small(steps=4, batch_size=5, tasks=['noise15', 'rain', 'haze'])
    ds = patch_datasets(PHOTOS, cfg, world_size=2)
    a, b = batch_for_step(ds, 1, cfg, 0, 2), batch_for_step(patch_datasets(PHOTOS, cfg, world_size=2), 1, cfg, 0, 2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[2] == b[2]
    assert sorted(a[2].count(t) for t in cfg.tasks) == [1, 2, 2]
    other = batch_for_step(ds, 1, cfg, 1, 2)
    assert not torch.equal(other[1], a[1])
    assert all(abs(sum(tasks_for_step(k, cfg).count(t) for k in range(3)) - 5) == 0 for t in cfg.tasks)


def test_loader_workers_do_not_change_batches():
    cfg0, cfg2 = small(steps=3), small(steps=3, num_workers=2)
    ds = patch_datasets(PHOTOS, cfg0)
    for x, y in zip(step_loader(ds, cfg0), step_loader(ds, cfg2)):
        assert torch.equal(x[0], y[0]) and x[2] == y[2]


def test_save_release(tmp_path):
    m = fresh(); m.config = {'name': 'net', 'overrides': {}}
    p = save_release(tmp_path / 'm.pt', m, {'steps': 3, 'metrics': {'rain': {'psnr': float('inf')}}})
    rel = torch.load(p, weights_only=True)
    assert rel['model_spec'] == m.config and rel['card']['steps'] == 3
    assert json.loads((tmp_path / 'm.json').read_text())['steps'] == 3
    with pytest.raises(FileExistsError, match='m.pt already exists'): save_release(p, m, {})
    with pytest.raises(TypeError): save_release(tmp_path / 'n.pt', m, {'bad': object()})
    assert not (tmp_path / 'n.pt').exists()


def test_cli_help():
    r = subprocess.run([sys.executable, '-m', 'forgetting.cli', 'train', '--help'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and '--steps' in r.stdout and '--resume' not in r.stdout and '--stop-at' in r.stdout


def test_cli_trains_and_resumes(tmp_path, capsys, monkeypatch):
    "`forgetting train` (the one command line of training) in this process, with the test's model."
    from forgetting import cli
    monkeypatch.setattr(cli, 'get_model', lambda name: fresh())
    args = ['train', '--out', str(tmp_path / 'm.pt'), '--tasks', 'haze', '--steps', '3', '--batch-size', '2', '--patch-size', '16',
            '--suite-size', '16', '--quiet']
    assert cli.main(args + ['--stop-at', '1']) == 0 and not (tmp_path / 'm.json').exists()   # stopped early: no card yet
    assert 'rerun the same command' in capsys.readouterr().out
    assert cli.main(args) == 0
    card = json.loads((tmp_path / 'm.json').read_text())
    assert card['steps'] == 3 and (tmp_path / 'm.json').exists() and (tmp_path / 'm.run.pt').exists()
    assert card['command'].startswith('forgetting train --out')                              # the command as typed
    assert load_checkpoint(tmp_path / 'm.run.pt')['history']['step'] == [1, 2, 3]
    assert cli.main(args) == 1 and 'already exists' in capsys.readouterr().err                # FileExistsError, as a user error


def test_amp_dtype_follows_the_gpu(monkeypatch):
    "bf16 only on GPUs with native bf16 (compute capability 8+); fp16 with a GradScaler before that; none on the CPU."
    from forgetting.train import _amp_dtype
    cfg = TrainConfig(steps=2)
    for major, dtype in ((7, torch.float16), (8, torch.bfloat16), (9, torch.bfloat16)):
        monkeypatch.setattr(torch.cuda, 'get_device_capability', lambda device=None, m=major: (m, 0))
        assert _amp_dtype(cfg, torch.device('cuda', 0)) == dtype
    assert _amp_dtype(cfg, torch.device('cpu')) is None and _amp_dtype(TrainConfig(steps=2, amp=False), torch.device('cuda')) is None


def test_resume_into_an_enabled_scaler_from_a_run_without_one():
    "A CPU (or bf16) run saves an empty GradScaler state; resuming it where fp16 needs a scaler must not fail."
    from forgetting.train import _load_optimizer_state, make_optimizer
    net = torch.nn.Conv2d(3, 3, 1)
    opt, sched, off = make_optimizer(net, TrainConfig(steps=4, device='cpu'))
    state = {'optimizer': opt.state_dict(), 'scheduler': sched.state_dict(), 'scaler': off.state_dict()}
    assert state['scaler'] == {}
    on = torch.amp.GradScaler('cpu', enabled=True)
    _load_optimizer_state(opt, sched, on, state)
    assert on.is_enabled() and on.get_scale() == 65536.0
