"Metrics against scikit-image, the identity model's gain, and evaluate's error cases."
import json
import numpy as np, pytest, torch
from torch import nn
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from forgetting.evaluate import (psnr, ssim, restoration_gain, evaluate, Results, plot_results, atomic_write)


def random_pair(seed, shape=(3, 37, 53), noise=0.1):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(shape, generator=g)
    return (clean + noise * torch.randn(shape, generator=g)), clean


@pytest.mark.parametrize('seed', range(5))
def test_psnr_matches_skimage(seed):
    out, clean = random_pair(seed, noise=0.02 + 0.05 * seed)
    ref = peak_signal_noise_ratio(clean.double().numpy(), out.clamp(0, 1).double().numpy(), data_range=1)
    assert abs(psnr(out, clean).item() - ref) < 1e-9


@pytest.mark.parametrize('seed', range(5))
def test_ssim_matches_skimage(seed):
    out, clean = random_pair(seed, noise=0.02 + 0.05 * seed)
    hwc = lambda x: x.permute(1, 2, 0).double().numpy()
    ref = structural_similarity(hwc(out.clamp(0, 1)), hwc(clean), data_range=1, channel_axis=-1)
    assert abs(ssim(out, clean).item() - ref) < 1e-12


def test_batch_metrics_are_per_image():
    out, clean = random_pair(0, shape=(4, 3, 16, 16))
    assert psnr(out, clean).shape == (4,) and ssim(out, clean).shape == (4,)
    for i in range(4): assert psnr(out, clean)[i] == psnr(out[i], clean[i])


def test_psnr_of_identical_images_is_inf():
    x = torch.rand(3, 8, 8)
    assert psnr(x, x).item() == float('inf')
    assert restoration_gain(x, x, x).item() == 0.0


def test_metrics_reject_bad_shapes():
    with pytest.raises(ValueError, match='differs from clean shape'): psnr(torch.rand(3, 8, 8), torch.rand(3, 8, 9))
    with pytest.raises(ValueError, match=r'must be \(C,H,W\) or \(B,C,H,W\)'): psnr(torch.rand(8, 8), torch.rand(8, 8))
    with pytest.raises(TypeError, match='must be a torch.Tensor'): ssim(np.zeros((3, 8, 8)), torch.rand(3, 8, 8))


def suite_of(tasks=('noise15', 'rain', 'haze'), n=2, size=24, seed=0):
    g, items = torch.Generator().manual_seed(seed), []
    for k, t in enumerate(tasks):
        for _ in range(n):
            clean = torch.rand(3, size + 8 * k, size, generator=g)   # a different size per task
            items.append(((clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1), clean, t))
    return items


def test_identity_gain_exactly_zero():
    r = evaluate(nn.Identity(), suite_of(), batch_size=3, progress=False)
    assert r.tasks == ['noise15', 'rain', 'haze']
    for t in r.tasks + ['overall']:
        assert r[t]['gain'] == 0.0
        assert r[t]['psnr'] == r[t]['input_psnr'] and r[t]['ssim'] == r[t]['input_ssim']
    assert [r[t]['count'] for t in r.tasks] == [2, 2, 2] and r['overall']['count'] == 6
    assert all(row['gain'] == 0.0 for row in r.images)


def test_evaluate_matches_per_image_metrics_and_restores_mode():
    model = nn.Conv2d(3, 3, 3, padding=1)
    model.train()
    suite = suite_of()
    r = evaluate(model, suite, batch_size=4, progress=False)
    assert model.training
    with torch.no_grad(): model.eval(); outs = [model(d[None])[0] for d, _, _ in suite]
    expected = np.mean([psnr(o, c).item() for o, (_, c, t) in zip(outs, suite) if t == 'rain'])
    assert abs(r['rain']['psnr'] - expected) < 1e-4


def test_evaluate_batches_do_not_change_results():
    model = nn.Conv2d(3, 3, 3, padding=1)
    a = evaluate(model, suite_of(), batch_size=1, progress=False)
    b = evaluate(model, suite_of(), batch_size=8, progress=False)
    for t in a.tasks: assert abs(a[t]['psnr'] - b[t]['psnr']) < 1e-4


def test_evaluate_errors():
    suite = suite_of()
    class Shrink(nn.Module):
        def forward(self, x): return x[..., ::2, ::2]
    class NaNs(nn.Module):
        def forward(self, x): return x * torch.nan
    with pytest.raises(ValueError, match=r'model output shape \(2, 3, 12, 12\) differs from input shape \(2, 3, 24, 24\) \(task noise15\)'):
        evaluate(Shrink(), suite, batch_size=2, progress=False)
    with pytest.raises(ValueError, match='NaN or inf on task noise15'): evaluate(NaNs(), suite, progress=False)
    with pytest.raises(ValueError, match='suite is empty'): evaluate(nn.Identity(), [], progress=False)
    with pytest.raises(TypeError, match='must be a torch.nn.Module'): evaluate(lambda x: x, suite, progress=False)
    bad = [(torch.rand(3, 8, 8), torch.rand(3, 8, 9), 'rain')]
    with pytest.raises(ValueError, match=r'suite item 0 \(rain\)'): evaluate(nn.Identity(), bad, progress=False)


def test_results_roundtrip_and_no_overwrite(tmp_path):
    r = evaluate(nn.Identity(), suite_of(), progress=False)
    p = r.save(tmp_path / 'r.json')
    assert json.loads(p.read_text())['metrics']['rain']['count'] == 2
    assert Results.load(p).to_dict() == r.to_dict()
    with pytest.raises(FileExistsError, match='r.json already exists'): r.save(p)
    r.save(p, overwrite=True)
    assert '| haze |' in repr(r) and r._repr_markdown_() == r.markdown()
    with pytest.raises(KeyError, match="no results for task 'noise50'"): r['noise50']
    (tmp_path / 'x.json').write_text('{}')
    with pytest.raises(ValueError, match='not a saved Results'): Results.load(tmp_path / 'x.json')


def test_plot_results(tmp_path):
    a = evaluate(nn.Identity(), suite_of(), progress=False)
    b = evaluate(nn.Conv2d(3, 3, 1), suite_of(tasks=('rain', 'haze')), progress=False)
    fig = plot_results({'a': a, 'b': b}, metric='ssim', path=tmp_path / 'p.svg')
    assert (tmp_path / 'p.svg').read_text().lstrip().startswith('<?xml')
    assert len(fig.axes[0].patches) == 6      # 2 models x 3 tasks (b has no noise15: a NaN bar)
    with pytest.raises(FileExistsError): plot_results({'a': a}, path=tmp_path / 'p.svg')
    with pytest.raises(ValueError, match='unknown metric'): plot_results({'a': a}, metric='lpips')
    with pytest.raises(TypeError, match=r"results\['a'\] must be a Results"): plot_results({'a': {}})


def test_atomic_write_leaves_no_partial_file(tmp_path):
    p = tmp_path / 'f.txt'
    def fail(t): t.write_text('partial'); raise OSError('boom')
    with pytest.raises(OSError, match='boom'): atomic_write(p, fail)
    assert list(tmp_path.iterdir()) == []


def test_infinite_psnr_is_written_as_strict_json_and_read_back(tmp_path):
    "A perfect output has PSNR +inf: the file must still be standard JSON (no `Infinity`), and load as inf again."
    clean = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    r = evaluate(nn.Identity(), [(clean, clean, 'rain')], progress=False)
    assert r['rain']['psnr'] == float('inf')
    text = r.save(tmp_path / 'r.json').read_text()
    assert 'Infinity' not in text and json.loads(text)['metrics']['rain']['psnr'] == 'inf'
    assert Results.load(tmp_path / 'r.json')['rain']['psnr'] == float('inf')
