"Your own job, end to end: your private pairs or photos in, an unlearned model and a report on your photos out; bad folders are one line."
import json, os, resource, subprocess
from pathlib import Path
import pytest, torch
from torchvision.io import write_png
from console import ROOT, CMD, SMALL, FAST_UNLEARN, forgetting, ok, user_error
from forgetting.data import bundled_split, bundled_pools, degrade, grid_crops
from forgetting.evaluate import evaluate
from forgetting.data import folder_pairs
from forgetting.model import load_model
from forgetting.report import retrain_cost

ORIGINAL, RETRAINED = ROOT / 'data/checkpoints/promptir-tiny-original.pt', ROOT / 'data/checkpoints/promptir-tiny-retrained-nohaze.pt'
QUIET = ['--quiet', '--device', 'cpu']


def png(x, path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_png((x.clamp(0, 1) * 255).round().byte(), str(path))


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    "A SOTS-style folder of private haze pairs (crops of the haze pool's photos) and a folder of unseen clean photos (test photos)."
    d = tmp_path_factory.mktemp('mine')
    for i, p in enumerate(bundled_pools()['haze']):
        for j, c in enumerate(grid_crops(p.image, 96, 2)):
            png(c, d / 'pairs' / 'gt' / f'{i}{j}.png'); png(degrade(c, 'haze', 100 * i + j), d / 'pairs' / 'hazy' / f'{i}{j}_1_0.1.png')
    for p in bundled_split()[1]: png(grid_crops(p.image, 96, 1)[0], d / 'unseen' / f'{p.name}.png')
    return d


def test_your_pairs_forgotten_and_audited_from_the_command_line(folders, tmp_path):
    "unlearn --forget-pairs, then report --members/--nonmembers: the stop rule met on your photos, the card's compute in the report."
    out = ok(forgetting('unlearn', '--checkpoint', ORIGINAL, '--out', tmp_path / 'u.pt', '--forget-pairs', folders / 'pairs',
                        '--forget-size', 16, '--patch-size', 32, *QUIET))
    assert 'forgot haze' in out
    card = json.loads((tmp_path / 'u.json').read_text())
    assert card['status'] == 'forgotten' and card['forget_set']['source'] == 'pairs' and card['forget_set']['files'] == 2 * len(list((folders / 'pairs' / 'gt').iterdir()))
    assert card['unlearning']['final_gain'] <= 0.25                                     # the default's stop rule, on patches of your pairs
    pairs, new = folder_pairs(folders / 'pairs'), load_model(tmp_path / 'u.pt').model
    before, after = (evaluate(m, pairs, progress=False)['haze']['gain'] for m in (load_model(ORIGINAL).model, new))
    assert before > 3 and after < before - 3                                            # your photos: haze no longer removed
    ok(forgetting('report', '--original', ORIGINAL, '--retrained', RETRAINED, '--unlearned', f"mine={tmp_path / 'u.pt'}", '--mia',
                  '--members', folders / 'pairs', '--nonmembers', folders / 'unseen', '--size', 64, '--grid', 1, '--tasks', 'noise50', 'haze',
                  '--out', tmp_path / 'r.json', *QUIET))
    rep = json.loads((tmp_path / 'r.json').read_text())
    row, cost = rep['rows']['mine'], retrain_cost(json.loads(RETRAINED.with_suffix('.json').read_text()))
    assert row['method'] == 'pass-through-distill' and row['seconds'] == card['unlearning']['seconds']
    assert row['compute'] == pytest.approx(card['unlearning']['image_passes'] / cost['passes'])
    assert row['mia_calibrated']['members'] == len(pairs) and row['mia_calibrated']['nonmembers'] == 4
    assert rep['audit']['members']['sha256'] == card['forget_set']['sha256'] and rep['audit']['notes'] == []


def test_audit_says_when_the_members_are_not_the_forget_set(ckpts, folders, tmp_path):
    "A model forgotten on the bundled photos, audited on your pairs: the report says the members differ from its card."
    ok(forgetting('unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', *FAST_UNLEARN))
    out = ok(forgetting('report', '--original', ckpts / 'orig.pt', '--retrained', ckpts / 'nohaze.pt', '--unlearned', tmp_path / 'u.pt', '--mia',
                        '--members', folders / 'pairs', '--nonmembers', folders / 'unseen', '--grid', 1, *SMALL))
    assert 'note: u: its card records another forget set (the bundled photos' in out


def test_your_photos_and_public_proxy_photos(ckpts, folders, tmp_path):
    ok(forgetting('unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'u.pt', '--forget-photos', folders / 'unseen',
                  '--proxy-photos', folders / 'pairs' / 'gt', *FAST_UNLEARN))
    card = json.loads((tmp_path / 'u.json').read_text())
    assert card['forget_set']['source'] == 'photos' and card['forget_set']['files'] == 4 and card['unlearning']['n_proxy'] == 4


def bad_folders(root:Path) -> dict:
    "Folders a user may give by mistake."
    im = lambda s, h=40, w=40: torch.rand(3, h, w, generator=torch.Generator().manual_seed(s))
    (root / 'empty').mkdir(parents=True)
    png(im(0), root / 'nolayout' / 'a' / 'x.png'); png(im(1), root / 'nolayout' / 'b' / 'x.png')
    png(im(2), root / 'sizes' / 'hazy' / '1_1_0.1.png'); png(im(3, 48, 40), root / 'sizes' / 'gt' / '1.png')
    png(im(4), root / 'orphan' / 'degraded' / 'a.png'); png(im(5), root / 'orphan' / 'clean' / 'b.png')
    return dict(empty=root / 'empty', nolayout=root / 'nolayout', sizes=root / 'sizes', orphan=root / 'orphan')


@pytest.mark.parametrize('flag,name,words', [
    ('--forget-photos', 'empty', ['photos', 'empty folder']),
    ('--forget-pairs', 'empty', ['holds no pairs in a known layout']),
    ('--forget-pairs', 'nolayout', ['nolayout holds no pairs in a known layout']),
    ('--forget-pairs', 'sizes', ['size mismatch', '1_1_0.1.png']),
    ('--forget-pairs', 'orphan', ['no partner a', 'a.png']),
    ('--proxy-photos', 'missing', ['--proxy-photos not found'])])
def test_bad_forget_folders_are_one_line_and_write_nothing(ckpts, tmp_path, flag, name, words):
    f = bad_folders(tmp_path / 'in').get(name, tmp_path / name)
    user_error(forgetting('unlearn', '--checkpoint', ckpts / 'orig.pt', '--out', tmp_path / 'out' / 'u.pt', flag, f, *FAST_UNLEARN), *words)
    assert not (tmp_path / 'out').exists()


def test_bad_audit_folders_and_types_are_one_line(ckpts, folders, tmp_path):
    base = ['report', '--original', ckpts / 'orig.pt', '--retrained', ckpts / 'nohaze.pt', '--mia', '--out', tmp_path / 'r.json', *SMALL]
    user_error(forgetting(*base, '--members', folders / 'pairs', '--nonmembers', folders / 'pairs'), 'hold the same images')
    user_error(forgetting(*base, '--members', folders / 'pairs'), 'give both --members and --nonmembers')
    user_error(forgetting('report', '--original', ckpts / 'orig.pt', '--sots', folders / 'pairs', *QUIET), 'holds only the forgotten task')   # no retained task to compare
    user_error(forgetting('report', '--original', ckpts / 'orig.pt', '--retrained', ckpts / 'nohaze.pt', '--mia', '--forget', 'rain', '--members', folders / 'pairs',
                          '--nonmembers', folders / 'unseen', '--size', 32, '--tasks', 'noise50', 'rain', *QUIET), 'holds haze pairs')
    user_error(forgetting('unlearn', '--checkpoint', ckpts / 'nohaze.pt', '--out', tmp_path / 'u.pt', '--forget-pairs', folders / 'pairs', *FAST_UNLEARN),
               "no task of type 'haze'", 'nothing to forget')
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_command_line_report_equals_the_demos(ckpts, tmp_path):
    "`forgetting report` on the demo's models, with the demo's settings, gives the demo's rows: the card carries what the run recorded."
    ok(forgetting('demo', '--original', ckpts / 'orig.pt', '--retrained', ckpts / 'nohaze.pt', '--out', tmp_path / 'demo', '--size', 32, *FAST_UNLEARN))
    name = 'unlearned (pass-through-distill)'
    ok(forgetting('report', '--original', ckpts / 'orig.pt', '--retrained', ckpts / 'nohaze.pt', '--unlearned', f"{name}={tmp_path / 'demo' / 'unlearned-haze.pt'}",
                  '--mia', '--relearn', '--forget-size', 4, '--patch-size', 16, '--size', 32, '--out', tmp_path / 'r.json', *QUIET))
    demo, cli = (json.loads(p.read_text()) for p in (tmp_path / 'demo' / 'report.json', tmp_path / 'r.json'))
    assert demo['rows'][name]['compute'] is not None and demo['rows'][name]['stop_reason']
    assert cli['rows'] == demo['rows']


def test_a_photo_too_large_for_memory_is_one_line_naming_tile(ckpts, tmp_path):
    "Under a 6 GB address-space limit a 2000 x 2000 photo fails whole (one line naming --tile) and is scored in tiles."
    png(torch.rand(3, 2000, 2000, generator=torch.Generator().manual_seed(0)), tmp_path / 'big' / 'big.png')
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (6 * 10**9, 6 * 10**9))
    args = [*CMD, 'evaluate', '--checkpoint', ORIGINAL, '--photos', tmp_path / 'big', '--size', 1984, '--grid', 1, '--tasks', 'haze', *QUIET]
    run = lambda *more: subprocess.run([str(a) for a in (*args, *more)], capture_output=True, text=True, preexec_fn=limit, timeout=600,
                                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    user_error(run(), 'out of memory', '--tile')
    assert '| haze |' in ok(run('--tile', 256))


def test_commands_print_only_their_own_lines(tmp_path):
    "No decoder warnings (a bundled photo's colour profile) on stderr."
    r = forgetting('evaluate', '--checkpoint', ORIGINAL, '--tasks', 'haze', '--size', 32, '--grid', 1, *QUIET)
    assert ok(r) and r.stderr == ''
    r = forgetting('evaluate', '--checkpoint', ORIGINAL, '--out', ORIGINAL.with_suffix('.json'), *QUIET)
    user_error(r, 'would replace the input checkpoint card')
    r = forgetting('report', '--original', ORIGINAL, '--out', Path(__file__), '--tasks', 'haze', *QUIET)
    user_error(r, 'already exists; pass --overwrite to replace it')
    assert 'overwrite=True' not in r.stderr
