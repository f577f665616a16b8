"Faults and bad input: no lost files, no false success, finishing after a kill, one clear line for every bad option."
import json, os, subprocess, time
from pathlib import Path
import pytest, torch
from torch import nn
from console import ROOT, CMD, TINY_TRAIN, SMALL, FAST_UNLEARN, forgetting, ok
import console


def user_error(r, *words, status=1):
    "`console.user_error`, ignoring libpng's warning about a bundled photo's colour profile (printed by the decoder)."
    r.stderr = ''.join(l for l in r.stderr.splitlines(keepends=True) if not l.startswith('libpng warning'))
    console.user_error(r, *words, status=status)
from forgetting.evaluate import atomic_write, psnr
from forgetting.unlearn import UnlearnConfig


# ---- a user's file is never destroyed

@pytest.mark.parametrize('cmd', ['evaluate', 'attack'])
def test_json_out_never_replaces_the_checkpoint(ckpts, tmp_path, cmd):
    m = tmp_path / 'm.pt'; m.write_bytes((ckpts / 'orig.pt').read_bytes()); before = m.read_bytes()
    user_error(forgetting(cmd, '--checkpoint', m, '--out', m, '--overwrite', *SMALL), 'would replace the input checkpoint')
    user_error(forgetting(cmd, '--checkpoint', m, '--out', tmp_path / 'm.json', '--overwrite', *SMALL), 'checkpoint card')
    assert m.read_bytes() == before


def test_demo_never_replaces_its_input_or_a_file_it_did_not_write(ckpts, tmp_path):
    d = tmp_path / 'demo'; d.mkdir(); (d / 'demo.json').write_text(json.dumps({'files': []}))
    mine = d / 'unlearned-haze.pt'; mine.write_bytes((ckpts / 'orig.pt').read_bytes())
    user_error(forgetting('demo', '--original', mine, '--retrained', ckpts / 'nohaze.pt', '--out', d, *FAST_UNLEARN), 'would replace the input')
    user_error(forgetting('demo', '--original', ckpts / 'orig.pt', '--retrained', ckpts / 'nohaze.pt', '--out', d, *FAST_UNLEARN), 'did not write')
    assert mine.read_bytes() == (ckpts / 'orig.pt').read_bytes()


@pytest.mark.parametrize('flag', ['--run', '--figure'])
def test_train_run_or_figure_equal_to_out(tmp_path, flag):
    user_error(forgetting('train', '--out', tmp_path / 'x.pt', flag, tmp_path / 'x.pt', *TINY_TRAIN), 'is also --out')
    assert list(tmp_path.iterdir()) == []


def test_report_checks_every_output_before_any_work(ckpts, tmp_path):
    (tmp_path / 'file').write_text('x')
    user_error(forgetting('report', '--original', ckpts / 'orig.pt', '--out', tmp_path / 'r.json', '--figures', tmp_path / 'file' / 'figs', *SMALL),
               'is not a folder')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['file']                 # no JSON, no markdown


def test_exclusive_create_when_another_writer_wins(tmp_path):
    "Two writers passed the existence check; the second to publish is refused and the first one's file survives."
    p = tmp_path / 'u.pt'
    def racing(tmp): p.write_text('other run'); tmp.write_text('mine')     # the other run publishes while this one writes
    with pytest.raises(FileExistsError, match='overwrite=True'): atomic_write(p, racing)
    assert p.read_text() == 'other run' and sorted(x.name for x in tmp_path.iterdir()) == ['u.pt']


def test_concurrent_unlearn_runs_write_one_model_with_its_own_card(ckpts, tmp_path):
    runs = [subprocess.Popen(['/bin/sh', '-c', ' '.join(map(str, a))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for a in [[*_cmd(), 'unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', *FAST_UNLEARN, '--seed', s] for s in (0, 1)]]
    codes = sorted(r.wait(timeout=600) for r in runs)
    assert codes == [0, 1], [r.stderr.read() for r in runs]
    state, card = torch.load(tmp_path / 'u.pt', weights_only=True), json.loads((tmp_path / 'u.json').read_text())
    assert state['card'] == card                                                    # the model and its card are of one run


def _cmd():
    return [f"OMP_NUM_THREADS=1 MPLBACKEND=Agg", *CMD]


# ---- no false success

def test_diverged_unlearning_claims_nothing(ckpts, tmp_path):
    for method, lr in (('neggrad', '1e30'), ('accurate-fast', '10')):
        r = forgetting('unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', '--method', method, '--lr', lr, *FAST_UNLEARN)
        user_error(r, 'did not forget haze', 'diverged'); assert 'forgot haze' not in r.stdout
        assert not (tmp_path / 'u.pt').exists() and not (tmp_path / 'u.json').exists()


def test_unmet_stop_rule_says_not_forgotten(ckpts, tmp_path):
    fast = [*FAST_UNLEARN, '--set', 'stop_gain=-100']                            # a rule 2 steps cannot meet
    out = ok(forgetting('unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', *fast))
    assert 'did not forget haze' in out
    card = json.loads((tmp_path / 'u.json').read_text())
    assert card['forgotten'] == [] and card['status'] == 'not forgotten' and 'haze' in card['tasks']


def test_nan_weights_are_refused(ckpts, tmp_path):
    state = torch.load(ckpts / 'orig.pt', weights_only=True)
    k = next(iter(state['state_dict'])); state['state_dict'][k].view(-1)[0] = float('nan')
    torch.save(state, tmp_path / 'nan.pt')
    user_error(forgetting('unlearn', '--checkpoint', tmp_path / 'nan.pt', '--out', tmp_path / 'u.pt', *FAST_UNLEARN), 'not finite', k)
    user_error(forgetting('attack', '--checkpoint', tmp_path / 'nan.pt', '--budgets', '2', '--attack-steps', '1', *SMALL), 'not finite')
    assert not (tmp_path / 'u.pt').exists()


def test_nan_psnr_is_not_a_perfect_score():
    assert psnr(torch.full((3, 8, 8), float('nan')), torch.zeros(3, 8, 8)).isnan()


@pytest.mark.parametrize('bad, words', [(['--steps', '-1'], 'steps must be an integer >= 1, got -1'),
                                        (['--lr', 'nan'], 'lr must be a finite number > 0, got nan'),
                                        (['--set', 'eval_every=0'], 'eval_every must be an integer >= 1, got 0'),
                                        (['--set', 'lam=abc'], "lam must be a finite number >= 0, got 'abc'"),
                                        (['--set', 'batch_forget=0'], 'batch_forget must be an integer >= 1, got 0'),
                                        (['--set', 'update_only=["prompt9"]'], "update_only: the model has no module 'prompt9'; its top-level modules: "),
                                        (['--set', 'update_only=[]'], 'update_only must be None or a non-empty list of module paths'),
                                        (['--set', 'retain_directions=-1'], 'retain_directions must be an integer >= 0, got -1')])
def test_bad_unlearning_options_are_one_line(ckpts, tmp_path, bad, words):
    user_error(forgetting('unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', *FAST_UNLEARN, *bad), words)
    assert not (tmp_path / 'u.pt').exists()


def test_config_fields_are_checked_at_construction():
    with pytest.raises(ValueError, match='eval_every must be an integer >= 1'): UnlearnConfig(eval_every=0)
    from forgetting.train import TrainConfig
    with pytest.raises(ValueError, match='lr must be a finite number'): TrainConfig(lr=float('inf'))


def test_train_with_a_huge_learning_rate_is_one_line(tmp_path):
    user_error(forgetting('train', '--out', tmp_path / 'x.pt', *TINY_TRAIN, '--lr', '1e30', '--min-lr', '0'), 'loss is')


# ---- interrupted work

def test_killed_writers_temporary_files_are_cleaned(tmp_path):
    dead = subprocess.Popen(['true']); dead.wait()
    stale = tmp_path / f'.u.pt.{dead.pid}.tmp'; stale.touch()
    atomic_write(tmp_path / 'u.pt', lambda p: p.write_text('x'))
    assert sorted(x.name for x in tmp_path.iterdir()) == ['u.pt']


def test_rerun_finishes_a_release_killed_before_its_card(ckpts, tmp_path):
    train = ['train', '--out', tmp_path / 'o.pt', *TINY_TRAIN]
    ok(forgetting(*train)); card = (tmp_path / 'o.json').read_text(); (tmp_path / 'o.json').unlink()
    assert 'finished an interrupted write' in ok(forgetting(*train)) and (tmp_path / 'o.json').read_text() == card
    unlearn = ['unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', *FAST_UNLEARN]
    ok(forgetting(*unlearn)); card = (tmp_path / 'u.json').read_text(); (tmp_path / 'u.json').unlink()
    assert 'finished an interrupted write' in ok(forgetting(*unlearn)) and (tmp_path / 'u.json').read_text() == card
    user_error(forgetting(*unlearn), 'already exists', '--overwrite')              # a finished one is refused as before



def _killed_once(argv:list, marker:Path):
    "Run the command and kill -9 it as soon as `marker` (its first periodic state file) appears."
    r = subprocess.Popen([*CMD, *map(str, argv)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'})
    t0 = time.time()
    while not marker.exists() and r.poll() is None and time.time() - t0 < 300: time.sleep(0.05)
    r.kill(); r.wait()
    assert marker.exists() and r.returncode == -9, r.returncode                # killed mid-run, after a periodic save


RESUMABLE = {'train': (['--steps', '60', '--batch-size', '2', '--patch-size', '16', '--suite-size', '32', '--val-every', '0',
                        '--save-every', '5', '--quiet', '--device', 'cpu'], '.run.pt', {'.run.pt'}),
             'unlearn': (['--steps', '60', '--forget-size', '4', '--patch-size', '16', '--set', 'eval_every=5', '--set', 'stop_gain=null',
                          '--save-every', '5', '--quiet', '--device', 'cpu'], '.state.pt', set())}

@pytest.mark.parametrize('cmd', list(RESUMABLE))
def test_a_killed_run_rerun_ends_with_the_uninterrupted_weights(ckpts, tmp_path, cmd):
    opts, state, kept = RESUMABLE[cmd]
    argv = lambda out: [cmd, *(['--checkpoint', ckpts / 'orig.pt'] if cmd == 'unlearn' else []), '--out', out, *opts]
    (tmp_path / 'whole').mkdir(); (tmp_path / 'killed').mkdir()
    ok(forgetting(*argv(tmp_path / 'whole' / 'm.pt')))
    _killed_once(argv(tmp_path / 'killed' / 'm.pt'), tmp_path / 'killed' / f'm{state}')
    assert not (tmp_path / 'killed' / 'm.pt').exists()
    ok(forgetting(*argv(tmp_path / 'killed' / 'm.pt')))                            # the same command, after the kill
    whole, resumed = (torch.load(tmp_path / d / 'm.pt', weights_only=True)['state_dict'] for d in ('whole', 'killed'))
    assert max((v - resumed[k]).abs().max().item() for k, v in whole.items()) == 0
    assert sorted(p.name for p in (tmp_path / 'killed').iterdir()) == sorted({'m.pt', 'm.json'} | {f'm{s}' for s in kept})   # no stray files


def test_unlearn_pauses_and_refuses_another_jobs_state(ckpts, tmp_path):
    opts, _, _ = RESUMABLE['unlearn']
    unlearn = ['unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', *opts]
    assert 'paused at step 7' in ok(forgetting(*unlearn, '--stop-at', '7'))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['u.state.pt']
    user_error(forgetting(*unlearn, '--lr', '0.5'), 'u.state.pt is the state of another unlearning job (lr', 'remove it')
    user_error(forgetting(*unlearn, '--method', 'retrain', '--stop-at', '3'), '--method retrain is a training run')
    user_error(forgetting(*unlearn, '--state', ckpts / 'orig.pt'), 'would replace the input checkpoint')
    ok(forgetting(*unlearn)); card = json.loads((tmp_path / 'u.json').read_text())
    assert card['unlearning']['stop_step'] == 60 and '--stop-at' not in card['command'] and not (tmp_path / 'u.state.pt').exists()


def test_a_paused_two_process_unlearning_resumes_to_its_weights(ckpts, tmp_path):
    "Rank 0 writes the state file, every rank reads it back: the resumed job ends with the uninterrupted job's weights."
    fast = ['--checkpoint', ckpts / 'orig.pt', *FAST_UNLEARN, '--set', 'stop_gain=null', '--nproc', '2']
    ok(forgetting('unlearn', '--out', tmp_path / 'whole.pt', *fast))
    assert 'paused at step 1' in ok(forgetting('unlearn', '--out', tmp_path / 'r.pt', *fast, '--stop-at', '1'))
    ok(forgetting('unlearn', '--out', tmp_path / 'r.pt', *fast))
    whole, resumed = (torch.load(tmp_path / f, weights_only=True)['state_dict'] for f in ('whole.pt', 'r.pt'))
    assert all(torch.equal(v, resumed[k]) for k, v in whole.items())
    assert sorted(p.name for p in tmp_path.iterdir()) == ['r.json', 'r.pt', 'whole.json', 'whole.pt']

# ---- images of any size, tiles and modes

BUNDLED = ROOT / 'data' / 'checkpoints' / 'promptir-tiny-original.pt'
QUIET = ['--quiet', '--device', 'cpu']


def _png(path, h, w):
    from torchvision.io import write_png
    path.parent.mkdir(parents=True, exist_ok=True); write_png((torch.rand(3, h, w) * 255).byte(), str(path))


def test_an_image_smaller_than_the_crop_is_one_line_naming_it(tmp_path):
    _png(tmp_path / 'bsd' / 'tiny.png', 5, 5)
    user_error(forgetting('evaluate', '--checkpoint', BUNDLED, '--bsd68', tmp_path / 'bsd', *QUIET), 'tiny.png is 5x5 pixels', 'smaller than the 16x16')
    _png(tmp_path / 'mine' / 'tiny.png', 5, 5)
    user_error(forgetting('evaluate', '--checkpoint', BUNDLED, '--photos', tmp_path / 'mine', '--size', '8', *QUIET), "photo 'tiny' of size 5x5")


def test_restore_takes_any_size_down_to_one_pixel():
    from forgetting.model import MODELS, get_model, restore
    for name in MODELS: assert restore(get_model(name), torch.rand(3, 5, 5)).shape == (3, 5, 5)
    with pytest.raises(ValueError, match='at least 1x1 pixels, got 0x5'): restore(get_model('promptir-tiny'), torch.rand(3, 0, 5))


def test_restore_and_evaluate_put_back_each_submodules_mode():
    from forgetting.model import restore
    from forgetting.evaluate import evaluate
    net = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Dropout(), nn.Conv2d(3, 3, 1)).train()
    net[1].eval()                                                                 # a submodule frozen in eval mode
    restore(net, torch.rand(3, 8, 8))
    assert [m.training for m in net] == [True, False, True] and net.training
    evaluate(net, [(torch.rand(3, 8, 8), torch.rand(3, 8, 8), 'noise15')], progress=False)
    assert [m.training for m in net] == [True, False, True] and net.training


def test_tiled_restore_holds_one_tile_per_forward_by_default():
    from forgetting.model import restore
    sizes, net = [], nn.Conv2d(3, 3, 1)
    net.register_forward_pre_hook(lambda m, a: sizes.append(tuple(a[0].shape)))
    restore(net, torch.rand(3, 200, 200), tile=64, progress=False)
    assert len(sizes) > 1 and set(sizes) == {(1, 3, 64, 64)}
    sizes.clear(); restore(net, torch.rand(10, 3, 16, 16))                        # whole images: 8 per forward, as before
    assert [s[0] for s in sizes] == [8, 2]


def test_evaluate_in_tiles_is_close_to_whole_images():
    from forgetting.model import load_model
    from forgetting.evaluate import evaluate
    model, g = load_model(BUNDLED).model, torch.Generator().manual_seed(0)
    clean = torch.nn.functional.interpolate(torch.rand(4, 3, 8, 8, generator=g), size=(64, 64), mode='bicubic').clamp(0, 1)
    suite = [((c + 25 / 255 * torch.randn(c.shape, generator=g)).clamp(0, 1), c, 'noise25') for c in clean]
    whole, tiled = evaluate(model, suite, progress=False), evaluate(model, suite, progress=False, tile=48)
    assert whole.images != tiled.images and abs(whole['overall']['psnr'] - tiled['overall']['psnr']) < 0.5
    assert evaluate(model, suite, progress=False, tile=None).images == whole.images


def test_evaluate_and_report_take_a_checked_tile_option(tmp_path):
    data = ['--size', '64', '--tasks', 'noise50', *QUIET]
    ok(forgetting('evaluate', '--checkpoint', BUNDLED, '--out', tmp_path / 'w.json', *data))
    ok(forgetting('evaluate', '--checkpoint', BUNDLED, '--out', tmp_path / 't.json', '--tile', '48', *data))
    whole, tiled = (json.loads((tmp_path / f).read_text())['metrics']['overall']['psnr'] for f in ('w.json', 't.json'))
    assert whole != tiled and abs(whole - tiled) < 0.5
    report = ['report', '--original', BUNDLED, '--size', '64', '--tasks', 'noise50', 'haze', *QUIET]
    ok(forgetting(*report, '--out', tmp_path / 'w-report.json')); ok(forgetting(*report, '--tile', '48', '--out', tmp_path / 't-report.json'))
    whole, tiled = (json.loads((tmp_path / f).read_text())['rows']['original']['images'] for f in ('w-report.json', 't-report.json'))
    assert whole != tiled and abs(sum(whole) - sum(tiled)) / len(whole) < 1.5        # haze: tiles see less of the haze
    for cmd in (['evaluate', '--checkpoint', BUNDLED], ['report', '--original', BUNDLED]):
        user_error(forgetting(*cmd, '--tile', '12', *data), 'expected a positive multiple of 8', status=2)


# ---- unsafe pickles and quiet runs

class Code:
    "A pickle of code: loading it unsafely would run `print`."
    def __reduce__(self): return (print, ('this would run',))


def _torch_advice(stderr):
    return any(w in stderr for w in ('UserWarning', 'Re-running', 'weights_only set to False', 'weights_only` set to `False'))


def test_a_protocol_4_pickle_is_our_one_line_only(tmp_path):
    import pickle
    (tmp_path / 'code.pt').write_bytes(pickle.dumps(Code(), protocol=4))
    r = forgetting('evaluate', '--checkpoint', tmp_path / 'code.pt', *QUIET)
    user_error(r, 'code.pt is not a PyTorch checkpoint'); assert not _torch_advice(r.stderr), r.stderr
    r = forgetting('train', '--out', tmp_path / 'x.pt', '--run', tmp_path / 'code.pt', *TINY_TRAIN)   # a malicious run file to resume
    user_error(r, 'code.pt is not a PyTorch checkpoint'); assert not _torch_advice(r.stderr), r.stderr
    assert not (tmp_path / 'x.pt').exists()


@pytest.mark.parametrize('flag', ['--bsd68', '--rain100l', '--sots'])
def test_quiet_silences_the_benchmark_loaders(tmp_path, flag):
    files = {'--bsd68': ['a.png'], '--rain100l': ['rainy/rain-1.png', 'norain-1.png'], '--sots': ['hazy/0001_0.8_0.2.png', 'gt/0001.png']}[flag]
    for f in files: _png(tmp_path / 'bench' / f, 32, 32)
    r = forgetting('evaluate', '--checkpoint', BUNDLED, flag, tmp_path / 'bench', *QUIET)
    out = ok(r)
    assert '%' not in out + r.stderr and '|---' not in out, out
