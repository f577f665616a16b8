"The benchmark's command-line side end to end: a user's own photos, the privacy audit and relearning, retain fractions, seeds."
import json
from console import forgetting, ok, user_error, FAST_UNLEARN
import torch
from torchvision.io import write_png


def photos(folder, sizes):
    folder.mkdir()
    for i, (h, w) in enumerate(sizes):
        write_png((torch.rand(3, h, w, generator=torch.Generator().manual_seed(i)) * 255).byte(), str(folder / f'p{i}.png'))
    return folder


def test_evaluate_scores_every_task_on_a_users_photos(ckpts, tmp_path):
    mine = photos(tmp_path / 'mine', [(70, 90), (64, 64)])
    out = ok(forgetting('evaluate', '--checkpoint', ckpts / 'orig.pt', '--photos', mine, '--size', '32', '--out', tmp_path / 'e.json', '--quiet', '--device', 'cpu'))
    res = json.loads((tmp_path / 'e.json').read_text())
    assert [res['metrics'][t]['count'] for t in ('noise15', 'noise25', 'noise50', 'rain', 'haze')] == [8] * 5   # 2 photos x 2 x 2 crops
    assert '(40 images)' in out and 'PSNR se' in out
    user_error(forgetting('evaluate', '--checkpoint', ckpts / 'orig.pt', '--photos', mine, '--size', '72', '--quiet'), "crop size 72 is larger than photo 'p0' of size 70x90")
    user_error(forgetting('evaluate', '--checkpoint', ckpts / 'orig.pt', '--photos', tmp_path / 'none', '--quiet'), 'photos folder not found')


def test_report_audits_membership_and_relearning_on_a_users_photos(ckpts, tmp_path):
    mine = photos(tmp_path / 'mine', [(64, 64), (64, 80)])
    out = ok(forgetting('report', '--original', ckpts / 'orig.pt', '--retrained', ckpts / 'nohaze.pt', '--photos', mine, '--size', '32',
                        '--mia', '--relearn', '--forget-size', '4', '--patch-size', '16', '--out', tmp_path / 'r.json', '--quiet', '--device', 'cpu'))
    assert 'calibrated MIA' in out and 'relearn steps' in out
    rep = json.loads((tmp_path / 'r.json').read_text())
    assert len(rep['image_names']) == 2 * 4 * 5 and rep['image_names'][0] == 'p0@0/noise15'
    o, r = rep['rows']['original'], rep['rows']['retrained']
    assert r['mia_calibrated']['auc'] == 0.5 and 0 <= o['mia_calibrated']['low'] <= o['mia_calibrated']['auc'] <= o['mia_calibrated']['high'] <= 1
    assert o['relearn_steps'] == 0 and o['retain']['n'] == 4 * 8
    user_error(forgetting('report', '--original', ckpts / 'orig.pt', '--mia', '--size', '32', '--quiet'), '--mia needs --retrained')


def test_unlearn_with_a_fraction_of_retain_photos_and_its_seed(ckpts, tmp_path):
    args = ['unlearn', '--checkpoint', ckpts / 'orig.pt', '--method', 'neggrad+', *FAST_UNLEARN]
    ok(forgetting(*args, '--retain-fraction', '0.25', '--out', tmp_path / 'a.pt'))
    card = json.loads((tmp_path / 'a.json').read_text())
    assert card['command'].endswith('--retain-fraction 0.25 --out ' + str(tmp_path / 'a.pt'))
    user_error(forgetting(*args, '--retain-fraction', '0', '--out', tmp_path / 'b.pt'), 'expected a number in (0, 1]', status=2)
    user_error(forgetting(*args, '--set', 'seed=3', '--out', tmp_path / 'c.pt'), 'give the seed as --seed')


def test_report_erasure_runs_the_attack_suite_probes_and_audit_rates(ckpts, tmp_path):
    "`report --erasure`: every row gets the relearning suite, the probes and (with --mia) TPR at 1% and 10% FPR on the "
    "64-member bundled audit; a second retrained model is a row of its own and part of the reference."
    out = ok(forgetting('report', '--original', ckpts / 'orig.pt', '--retrained', ckpts / 'nohaze.pt', '--references',
                        ckpts / 'nohaze.pt', '--size', '32', '--mia', '--erasure', 'quick', '--erasure-steps', '4',
                        '--forget-size', '4', '--patch-size', '16', '--out', tmp_path / 'r.json', '--quiet', '--device', 'cpu'))
    assert '| model | relearn worst (steps) |' in out and 'Relearning reference' in out
    rep = json.loads((tmp_path / 'r.json').read_text())
    assert set(rep['rows']) == {'original', 'retrained', 'retrained (nohaze)'}
    for name, row in rep['rows'].items():
        e = row['erasure']
        assert len(e['relearn']['attacks']) == 5 and row['relearn_worst'] == e['relearn_worst'], name
        assert {'noise', 'line', 'distance'} <= set(e) and e['audit']['auc']['members'] == 64, name
        assert 0 <= e['audit']['tpr@0.01']['low'] <= e['audit']['tpr@0.01']['tpr'] <= e['audit']['tpr@0.01']['high'] <= 1
    assert rep['rows']['original']['relearn_worst'] == 0 and rep['rows']['original']['erasure']['distance'] == 0
    assert rep['relearn_reference'] == max(rep['rows'][k]['relearn_worst'] for k in ('retrained', 'retrained (nohaze)'))
    assert (tmp_path / 'r.md').read_text().count('| model | relearn worst') == 1
    user_error(forgetting('report', '--original', ckpts / 'orig.pt', '--erasure', 'quick', '--size', '32', '--quiet'),
               '--erasure needs --retrained')
