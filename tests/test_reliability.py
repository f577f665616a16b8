"Faults and bad input: no lost files, no false success, finishing after a kill, one clear line for every bad option."
import json, os, subprocess
from pathlib import Path
import pytest, torch
from torch import nn
from test_cli import forgetting, ok, ckpts, TINY_TRAIN, SMALL, FAST_UNLEARN
import test_cli


def user_error(r, *words, status=1):
    "`test_cli.user_error`, ignoring libpng's warning about a bundled photo's colour profile (printed by the decoder)."
    r.stderr = ''.join(l for l in r.stderr.splitlines(keepends=True) if not l.startswith('libpng warning'))
    test_cli.user_error(r, *words, status=status)
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
    with pytest.raises(FileExistsError, match='--overwrite'): atomic_write(p, racing)
    assert p.read_text() == 'other run' and sorted(x.name for x in tmp_path.iterdir()) == ['u.pt']


def test_concurrent_unlearn_runs_write_one_model_with_its_own_card(ckpts, tmp_path):
    runs = [subprocess.Popen(['/bin/sh', '-c', ' '.join(map(str, a))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for a in [[*_cmd(), 'unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', *FAST_UNLEARN, '--seed', s] for s in (0, 1)]]
    codes = sorted(r.wait(timeout=600) for r in runs)
    assert codes == [0, 1], [r.stderr.read() for r in runs]
    state, card = torch.load(tmp_path / 'u.pt', weights_only=True), json.loads((tmp_path / 'u.json').read_text())
    assert state['card'] == card                                                    # the model and its card are of one run


def _cmd():
    from test_cli import CMD
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
                                        (['--set', 'batch_forget=0'], 'batch_forget must be an integer >= 1, got 0')])
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
