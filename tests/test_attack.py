"Edge cases and properties of `forgetting.attack` that the notebook does not show: bad inputs, model state, files."
import json, math
import pytest, torch
import torch.nn as nn
from forgetting.attack import (pgd, fgsm, square, cw_l2, minimal_norms, sample_norm, output_distance, robustness, Robustness,
                               plot_robustness, plot_attack_example, robustness_change, adversarial_finetune, frozen)
from forgetting.evaluate import psnr


class SmallNet(nn.Module):
    "Residual CNN with a BatchNorm and a Dropout, so that train/eval mode matters."
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.GELU(), nn.Dropout(0.2),
                                  nn.Conv2d(8, 3, 3, padding=1))
    def forward(self, x): return x + self.body(x)


pytestmark = pytest.mark.usefixtures('one_thread')   # tests/conftest.py

@pytest.fixture
def net():
    torch.manual_seed(0)
    return SmallNet().eval()

@pytest.fixture
def images():
    g = torch.Generator().manual_seed(1)
    return 0.1 + 0.8 * torch.rand(3, 3, 16, 16, generator=g), torch.rand(3, 3, 16, 16, generator=g)

def _attained(net, x, ref):
    with torch.no_grad(): return output_distance(net(x), ref)


# ---- bad inputs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs, message', [
    (dict(norm='l1'), "norm='l1'"), (dict(loss='huber'), "loss='huber'"), (dict(eps=-0.1), 'eps must be >= 0'),
    (dict(steps=0), 'steps must be >= 1'), (dict(restarts=0), 'restarts must be >= 1'),
    (dict(step_size=-1.), 'step_size must be >= 0'), (dict(random_start=False), 'random_start=True'),
])
def test_bad_arguments(net, images, kwargs, message):
    x, _ = images
    args = dict(eps=4 / 255) | kwargs
    with pytest.raises(ValueError, match=message.replace('(', r'\(')): pgd(net, x, **args)

def test_bad_images(net, images):
    x, ref = images
    with pytest.raises(ValueError, match=r'\[0,1\]'): pgd(net, x * 2, 0.1, reference=ref)
    with pytest.raises(ValueError, match='shape'): pgd(net, x[0, 0], 0.1, reference=ref)
    with pytest.raises(TypeError, match='floating'): pgd(net, (x * 255).to(torch.uint8), 0.1, reference=ref)
    with pytest.raises(TypeError, match='torch.Tensor'): pgd(net, x.numpy(), 0.1, reference=ref)
    with pytest.raises(ValueError, match='not both'): pgd(net, x, 0.1, reference=ref, target=ref)
    with pytest.raises(ValueError, match='reference/target has shape'): pgd(net, x, 0.1, reference=ref[:, :, :8])
    with pytest.raises(ValueError, match='random_start=True'): fgsm(net, x, 0.1)


@pytest.mark.parametrize('kwargs, message', [
    (dict(eps=-0.1), 'eps must be >= 0'), (dict(queries=0), 'queries must be >= 1'), (dict(p_init=0.), 'p_init'),
    (dict(loss='huber'), "loss='huber'"),
])
def test_square_bad_arguments(net, images, kwargs, message):
    x, ref = images
    with pytest.raises(ValueError, match=message): square(net, x, **(dict(eps=4 / 255, reference=ref) | kwargs))
    with pytest.raises(ValueError, match='not both'): square(net, x, 0.1, reference=ref, target=ref)
    with pytest.raises(ValueError, match=r'\[0,1\]'): square(net, x * 2, 0.1, reference=ref)

@pytest.mark.parametrize('kwargs, message', [
    (dict(drop=0.), 'drop must be > 0'), (dict(drop=-1.), 'drop must be > 0'), (dict(c=0.), 'c must be > 0'),
    (dict(steps=0), 'steps and search_steps'), (dict(search_steps=0), 'steps and search_steps'),
    (dict(max_norm=0.), 'max_norm must be > 0'), (dict(reference=None), 'needs a reference'),
])
def test_cw_bad_arguments(net, images, kwargs, message):
    x, ref = images
    with pytest.raises(ValueError, match=message): cw_l2(net, x, **(dict(reference=ref) | kwargs))


# ---- budget, range, shapes ----------------------------------------------------------------------------------
@pytest.mark.parametrize('norm, eps', [('linf', 8 / 255), ('l2', 0.3)])
@pytest.mark.parametrize('loss', ['l1', 'mse'])
@pytest.mark.parametrize('targeted', [False, True])
def test_budget_and_range(net, images, norm, eps, loss, targeted):
    x, ref = images
    x = x.clone(); x[0] = 0.; x[1] = 1.                                # saturated images: clamping must hold
    kw = dict(target=ref) if targeted else dict(reference=ref)
    adv = pgd(net, x, eps, norm, steps=4, loss=loss, restarts=2, **kw)
    assert adv.shape == x.shape and adv.dtype == x.dtype
    assert (sample_norm(adv - x, norm) <= eps * (1 + 1e-5)).all()
    assert adv.min() >= 0 and adv.max() <= 1

@pytest.mark.parametrize('attack', ['square', 'cw'])
def test_new_attacks_keep_range_budget_and_model(net, images, attack):
    "Square and C&W: pixels in [0,1] (saturated images too), Square within its budget, C&W within max_norm; model untouched."
    x, ref = images
    x = x.clone(); x[0] = 0.; x[1] = 1.
    net.train()
    for p in net.parameters(): p.grad = torch.full_like(p, 0.5)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    if attack == 'square':
        adv = square(net, x, 8 / 255, queries=20, reference=ref)
        assert (sample_norm(adv - x, 'linf') <= 8 / 255 + 1e-6).all()
    else:
        adv, ok = cw_l2(net, x, ref, drop=1., steps=5, search_steps=2, max_norm=0.5)
        assert ok.dtype == torch.bool and ok.shape == (3,) and (sample_norm(adv - x, 'l2') <= 0.5 + 1e-5).all()
    assert adv.shape == x.shape and adv.min() >= 0 and adv.max() <= 1
    assert net.training and all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) and p.requires_grad for p in net.parameters())

def test_minimal_norms_counts_failures(net, images):
    "An impossible drop within a tiny budget is no success, an infinite norm, and an infinite median; saved JSON keeps it."
    x, ref = images
    adv, ok = cw_l2(net, x, ref, drop=40., steps=3, search_steps=2, max_norm=1e-3)
    assert not ok.any() and torch.equal(adv, x)
    table = minimal_norms(net, _suite(images), drop=40., steps=2, search_steps=1, progress=False)
    assert all(math.isinf(r['norm']) for r in table['images']) and table['table']['rain']['success'] == 0
    assert math.isinf(table['table']['rain']['median_norm'])

def test_single_image_and_step_size_zero(net, images):
    x, ref = images
    assert pgd(net, x[0], 0.1, reference=ref[0], steps=2).shape == x[0].shape
    assert torch.equal(pgd(net, x, 0.1, reference=ref, steps=2, step_size=0., random_start=False), x)

def test_fgsm_is_one_linf_step_of_size_eps(net, images):
    x, ref = images
    adv = fgsm(net, x, 2 / 255, reference=ref)
    torch.testing.assert_close((adv - x).abs(), torch.full_like(x, 2 / 255), rtol=0, atol=1e-6)  # interior: every pixel moves


# ---- exact answer on a linear model (a Linear layer on flattened pixels this time) ----------------------------
class FlatLinear(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, n, bias=False)
    def forward(self, x): return self.lin(x.flatten(1)).view_as(x)

@pytest.mark.parametrize('norm', ['linf', 'l2'])
def test_fgsm_matches_closed_form_on_linear_model(norm):
    torch.manual_seed(3)
    n, eps = 3 * 4 * 4, (0.03 if norm == 'linf' else 0.4)
    model = FlatLinear(n)
    x, ref = 0.3 + 0.4 * torch.rand(5, 3, 4, 4), torch.rand(5, 3, 4, 4)
    W = model.lin.weight.detach()
    g = (2 / n) * ((x.flatten(1) @ W.T - ref.flatten(1)) @ W)             # grad of mean((Wx - r)^2)
    step = g.sign() if norm == 'linf' else g / g.norm(dim=1, keepdim=True)
    expected = x + eps * step.view_as(x)
    torch.testing.assert_close(fgsm(model, x, eps, norm, reference=ref, loss='mse'), expected, rtol=0, atol=1e-6)


# ---- the model is left alone ------------------------------------------------------------------------------------
def test_model_state_untouched(net, images):
    x, ref = images
    net.train(); net.body[3].eval()                                     # mixed modes must come back exactly
    net.body[0].weight.requires_grad_(False)                             # a frozen parameter stays frozen
    for p in net.parameters(): p.grad = torch.full_like(p, 0.5)
    state = {k: v.clone() for k, v in net.state_dict().items()}          # includes BatchNorm running stats
    modes = [m.training for m in net.modules()]
    rng = torch.get_rng_state()
    pgd(net, x, 4 / 255, steps=3, reference=ref, restarts=2)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in net.parameters())
    assert [m.training for m in net.modules()] == modes
    assert [p.requires_grad for p in net.parameters()] == [False] + [True] * (len(list(net.parameters())) - 1)
    assert torch.equal(torch.get_rng_state(), rng)                       # own generator: global RNG untouched

def test_mode_restored_after_an_error(net, images):
    x, ref = images
    net.train()
    with pytest.raises(ValueError):
        with frozen(net): raise ValueError('boom')
    assert net.training and all(p.requires_grad for p in net.parameters())

def test_eval_mode_false_keeps_train_mode(net, images):
    x, ref = images
    seen = []
    net.train()
    hook = net.register_forward_hook(lambda m, i, o: seen.append(m.training))
    pgd(net, x, 4 / 255, steps=2, reference=ref, eval_mode=False)
    hook.remove()
    assert seen and all(seen)
    pgd(net, x, 4 / 255, steps=1, reference=ref)                        # default: eval mode inside
    assert net.training

@pytest.mark.parametrize('context', [torch.no_grad, torch.inference_mode])
def test_runs_inside_no_grad_and_inference_mode(net, images, context):
    x, ref = images
    expected = pgd(net, x, 4 / 255, steps=3, reference=ref)
    with context():
        x2, ref2 = x.clone(), ref.clone()
        adv = pgd(net, x2, 4 / 255, steps=3, reference=ref2)
    assert torch.equal(adv, expected)


# ---- strength -----------------------------------------------------------------------------------------------------
def test_restarts_and_steps_never_weaker(net, images):
    x, ref = images
    one, three = (_attained(net, pgd(net, x, 4 / 255, steps=3, reference=ref, restarts=r), ref) for r in (1, 3))
    assert (three >= one).all()
    few, many = (_attained(net, pgd(net, x, 4 / 255, steps=s, reference=ref), ref) for s in (3, 12))
    assert (many >= few).all()

def test_pgd_beats_random_noise(net, images):
    x, ref = images
    with torch.no_grad(): clean = _attained(net, x, ref)
    adv = _attained(net, pgd(net, x, 8 / 255, steps=10, reference=ref), ref) - clean
    noise = (x + 8 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).sign()).clamp(0, 1)
    rand = _attained(net, noise, ref) - clean
    assert adv.mean() > 5 * rand.abs().mean()

def test_targeted_moves_towards_target(net, images):
    x, target = images
    before = _attained(net, x, target)
    after = _attained(net, pgd(net, x, 8 / 255, steps=10, target=target), target)
    assert (after < before).all()


# ---- a real restoration model ---------------------------------------------------------------------------------------
def test_on_promptir_tiny():
    model_zoo = pytest.importorskip('forgetting.model')
    torch.manual_seed(0)
    model = model_zoo.get_model('promptir-tiny').eval()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    params = {k: v.clone() for k, v in model.state_dict().items()}
    adv = pgd(model, x, 4 / 255, steps=2)
    assert (sample_norm(adv - x, 'linf') <= 4 / 255 + 1e-6).all() and adv.min() >= 0 and adv.max() <= 1
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in params.items())
    assert all(p.grad is None for p in model.parameters())
    with torch.no_grad(): assert output_distance(model(adv), model(x)).item() > 0


# ---- robustness tables, files ---------------------------------------------------------------------------------------
def _suite(images):
    x, clean = images
    return [(x[i], clean[i], 'noise25' if i < 2 else 'rain') for i in range(3)]

def test_robustness_bad_suites(net, images):
    x, clean = images
    with pytest.raises(ValueError, match='empty'): robustness(net, [], progress=False)
    with pytest.raises(ValueError, match=r'suite item 0 \(rain\)'): robustness(net, [(x[0], clean[0, :, :8], 'rain')], progress=False)
    with pytest.raises(ValueError, match='suite item 0 must be'): robustness(net, [(x[0], clean[0])], progress=False)
    with pytest.raises(ValueError, match='no budgets'): robustness(net, _suite(images), budgets=(), progress=False)

def test_robustness_table_roundtrip_and_files(net, images, tmp_path):
    table = robustness(net, _suite(images), budgets=(2 / 255, 8 / 255), steps=2, batch_size=2, progress=False)
    assert table.tasks == ['noise25', 'rain'] and table['noise25']['clean']['count'] == 2
    assert math.isinf(table['rain']['clean']['psnr_vs_clean_output'])
    with torch.no_grad(): direct = psnr(net(images[0][2:3]).clamp(0, 1), images[1][2:3]).item()
    assert table['rain']['clean']['psnr'] == pytest.approx(direct)
    path = table.save(tmp_path / 'r.json')
    assert json.loads(path.read_text())['table']['rain']['clean']['psnr_vs_clean_output'] == 'inf'   # valid JSON
    with pytest.raises(FileExistsError): table.save(path)
    loaded = Robustness.load(path)
    assert loaded.table == table.table and loaded.markdown() == table.markdown()
    (tmp_path / 'bad.json').write_text('{"metrics": {}}')
    with pytest.raises(ValueError, match='not a saved Robustness'): Robustness.load(tmp_path / 'bad.json')
    with pytest.raises(FileNotFoundError): Robustness.load(tmp_path / 'missing.json')
    with pytest.raises(KeyError, match='haze'): table['haze']
    fig_path = tmp_path / 'r.png'
    plot_robustness(table, fig_path)
    assert fig_path.stat().st_size > 1000 and sorted(p.name for p in tmp_path.iterdir()) == ['bad.json', 'r.json', 'r.png']
    with pytest.raises(FileExistsError): plot_robustness(table, fig_path)
    x, clean = images
    plot_attack_example(net, x[:2], pgd(net, x[:2], 8 / 255, steps=2, reference=clean[:2]), clean[:2], tmp_path / 'ex.png')
    assert (tmp_path / 'ex.png').stat().st_size > 1000

def test_robustness_change_checks_budgets(net, images):
    one_rain = robustness(net, _suite(images), budgets=(2 / 255,), steps=1, progress=False)
    with pytest.raises(ValueError, match='rain has 1 image'): robustness_change(one_rain, one_rain)   # no interval from one image
    x, clean = images
    suite = [(x[i % 3], clean[i % 3], 'noise25' if i < 2 else 'rain') for i in range(4)]
    a = robustness(net, suite, budgets=(2 / 255,), steps=1, progress=False)
    b = robustness(net, suite, budgets=(4 / 255,), steps=1, progress=False)
    with pytest.raises(ValueError, match='different budgets'): robustness_change(a, b)
    same = robustness_change(a, a)
    assert list(same) == ['clean', '2/255'] and same['2/255']['mean'] == 0 and same['2/255']['tasks']['rain']['mean'] == 0


# ---- adversarial fine-tuning ---------------------------------------------------------------------------------------
def test_adversarial_finetune_arguments_and_copy(net):
    from forgetting.data import bundled_split
    photos = bundled_split()[0][:2]
    with pytest.raises(ValueError, match='attack_steps'): adversarial_finetune(net, photos, attack_steps=0)
    with pytest.raises(ValueError, match='unknown task'): adversarial_finetune(net, photos, tasks=['snow'], steps=1)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    tuned, history = adversarial_finetune(net, photos, ['noise25', 'rain'], steps=2, attack_steps=1, batch_size=2,
                                          patch_size=16, lr=1e-3, progress=False)
    assert tuned is not net and history['step'] == [0, 1] and history['adv_fraction'] == 0.5
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    assert not all(torch.equal(v, tuned.state_dict()[k]) for k, v in state.items())

def test_adversarial_finetune_budget_mix(net):
    "A tuple of budgets: each adversarial patch draws one (seeded: two runs agree, the global seed fixing the net's dropout); budgets outside (0, 1] are refused."
    from forgetting.data import bundled_split
    photos = bundled_split()[0][:2]
    for bad in (0., (2 / 255, 2.), ()):
        with pytest.raises(ValueError, match='eps must be a budget'): adversarial_finetune(net, photos, eps=bad, steps=1)
    run = lambda: torch.manual_seed(0) and adversarial_finetune(net, photos, ['noise25', 'rain'], steps=2, eps=(2 / 255, 8 / 255), attack_steps=1,
                                       batch_size=4, patch_size=16, lr=1e-3, adv_fraction=1., progress=False)
    (a, ha), (b, hb) = run(), run()
    assert ha['eps'] == [2 / 255, 8 / 255] and ha['loss'] == hb['loss']
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
