"Safety and failure modes of `forgetting.unlearn` that the notebook cannot show well."
import copy, hashlib, math
import pytest, torch, torch.nn as nn
from forgetting.unlearn import (UnlearnConfig, forget, unlearn_loss, as_pairs, forget_anchoring, adversarial_examples,
                                forget_term, forget_gain, proxy_retain_inputs, DEFAULT_METHOD, RECIPES, ACCURATE)
import forgetting.variants  # its recipes join RECIPES
from forgetting.unlearn import ablation
from dataclasses import replace


def small_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))


class Items(torch.utils.data.Dataset):
    "A tiny (degraded, clean, task) dataset."
    def __init__(self, n=8, task='haze', size=16, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.rand(n, 3, size, size, generator=g)
        self.x = (0.6 * self.y + 0.4).clamp(0, 1)
        self.task = task
    def __len__(self): return len(self.y)
    def __getitem__(self, i): return self.x[i], self.y[i], self.task


FAST = dict(steps=6, eval_every=2, eval_size=4, progress=False)
FAST_FIELDS = dict(steps=6, eval_every=2, eval_size=4, min_steps=0, lr=1e-2, stop_gain=None)   # every step runs
ADV = dict(n_adv=1, adv_steps=2)      # a small adversarial set, for the recipes that have one


def test_user_model_and_checkpoint_untouched(tmp_path):
    model = small_net()
    ckpt = tmp_path / 'model.pt'
    torch.save(model.state_dict(), ckpt)
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    model.load_state_dict(torch.load(ckpt, weights_only=True))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new, hist = forget(model, Items(), lr=1e-2, stop_gain=None, trained_tasks=['noise15', 'haze'], **FAST)
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == digest
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert model.training and new.training  # mode preserved on both
    assert new is not model and any(not torch.equal(before[k], v) for k, v in new.state_dict().items())
    assert hist['stop_reason'] == 'step limit' and len(hist['steps']) == FAST['steps']


def test_errors():
    model = small_net()
    with pytest.raises(ValueError, match='empty'): forget(model, Items(n=0), **FAST)
    with pytest.raises(ValueError, match='empty'): forget(model, (torch.rand(0, 3, 8, 8), torch.rand(0, 3, 8, 8)), **FAST)
    with pytest.raises(ValueError, match='need retain data'): forget(model, Items(), method='neggrad+', **FAST)
    with pytest.raises(ValueError, match='need retain data'): forget(model, Items(), method='finetune', **FAST)
    with pytest.raises(ValueError, match=r"\['haze'\] are not among the model's training tasks"):
        forget(model, Items(), trained_tasks=['noise15', 'rain'], **FAST)
    with pytest.raises(ValueError, match='unknown unlearning method'): forget(model, Items(), method='amnesia', **FAST)
    with pytest.raises(TypeError, match='lamda'): forget(model, Items(), lamda=3, **FAST)
    with pytest.raises(ValueError, match='retained tasks'): forget(model, Items(), method='accurate', adv_source='proxy-retain', **FAST)
    with pytest.raises(ValueError, match='retained tasks'): forget(model, Items(), **FAST)   # the default distils on retained tasks
    with pytest.raises(ValueError, match='training run'): forget(model, Items(), method='retrain', **FAST)
    with pytest.raises(ValueError, match='must be equal'): as_pairs((torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 9)))
    with pytest.raises(ValueError, match='unknown forget_loss'): forget_term(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), 'forgetful')
    with pytest.raises(ValueError, match='no start inputs'): adversarial_examples(model, torch.rand(0, 3, 8, 8), torch.rand(0, 3, 8, 8))
    with pytest.raises(ValueError): proxy_retain_inputs(torch.rand(1, 3, 8, 8), ['fog'])


def test_divergence_guard_restores_last_good_state():
    model = small_net()
    new, hist = forget(model, Items(), method='neggrad', lr=1e6, momentum=0.0, stop_gain=None, **{**FAST, 'steps': 50, 'eval_every': 1})
    assert hist['stop_reason'].startswith('diverged'), hist['stop_reason']
    assert hist['stop_step'] < 50
    x = Items().x
    with torch.no_grad(): out = new(x)
    assert torch.isfinite(out).all() and -0.5 < out.mean() < 1.5
    assert all(torch.isfinite(p).all() for p in new.parameters())
    assert math.isfinite(hist['final_gain'])


def test_stop_rule_and_target():
    model = small_net()
    # the untrained net does not restore (gain <= 0): nothing to forget, it stops before any step
    _, hist = forget(model, Items(), method='accurate', **ADV, **FAST)
    assert hist['evals'][0]['forget_gain'] <= 0 and hist['stop_step'] == 0 and 'before any step' in hist['stop_reason']
    _, hist = forget(model, Items(), method='accurate', stop_gain=-1e9, lr=1e-3, **ADV, **FAST)
    assert hist['stop_reason'] == 'step limit'


def test_ablation_switches_change_the_loss_terms():
    model, f0 = small_net(), small_net()
    xf, yf = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)
    xa = torch.rand(4, 3, 8, 8)
    with torch.no_grad(): ya = f0(xa)
    theta0 = {k: v.detach().clone() for k, v in f0.named_parameters()}
    with torch.no_grad(): model[0].weight.add_(0.05)
    omega = forget_anchoring(f0, xf)
    batch, ctx = dict(forget=(xf, yf), adversarial=(xa, ya)), dict(omega=omega, theta0=theta0)
    published = lambda **kw: UnlearnConfig(**{**ACCURATE, **kw})
    full, parts, _ = unlearn_loss(model, published(), batch, ctx)
    no_adv, p_na, _ = unlearn_loss(model, published(adversarial=False), batch, ctx)
    no_imp, p_ni, _ = unlearn_loss(model, published(importance=False), batch, ctx)
    ga, p_ga, _ = unlearn_loss(model, published(adversarial=False, importance=False), batch, ctx)
    assert {'adv', 'importance'} <= set(parts) and 'adv' not in p_na and 'importance' not in p_ni and not ({'adv', 'importance'} & set(p_ga))
    assert parts['importance'] > 0 and parts['adv'] > 0
    assert p_na['loss'] == pytest.approx(-parts['forget_l1'] + parts['importance'], rel=1e-5)
    assert p_ga['loss'] == pytest.approx(-parts['forget_l1'], rel=1e-5)
    assert p_ni['loss'] == pytest.approx(0.5 * (-parts['forget_l1'] + parts['adv']), rel=1e-5)
    # lambda scales only the importance term
    _, p_l2, _ = unlearn_loss(model, published(lam=2.0), batch, ctx)
    assert p_l2['loss'] - parts['loss'] == pytest.approx(parts['importance'], rel=1e-4)


def test_history_records_the_terms_of_each_method():
    model = small_net()
    kw = dict(stop_gain=None, lr=1e-3, **FAST)
    _, h_acc = forget(model, Items(), method='accurate', **ADV, **kw)
    _, h_ga = forget(model, Items(), method='neggrad', **kw)
    _, h_plus = forget(model, Items(), method='neggrad+', retain_set=Items(task='rain', seed=1), **kw)
    assert {'adv', 'importance'} <= set(h_acc['steps'][-1]) and not ({'adv', 'importance'} & set(h_ga['steps'][-1]))
    assert 'retain' in h_plus['steps'][-1] and h_acc['n_adversarial'] == len(Items()) * ADV['n_adv']
    _, h_rl = forget(model, Items(), method='relabel', **kw)
    assert h_rl['steps'][-1]['forget_term'] >= 0  # pass-through is a descent term


def test_reproducible():
    kw = dict(stop_gain=None, lr=1e-2, trained_tasks=['noise15', 'haze'], **FAST)
    for method in ('accurate', DEFAULT_METHOD):
        adv = ADV if method == 'accurate' else {}
        a, ha = forget(small_net(), Items(), method=method, **adv, **kw)
        b, hb = forget(small_net(), Items(), method=method, **adv, **kw)
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())), method
        assert [s['loss'] for s in ha['steps']] == [s['loss'] for s in hb['steps']], method


@pytest.mark.parametrize('method', list(RECIPES))
def test_every_recipe_leaves_the_callers_model_and_its_frozen_weights_alone(method):
    "Frozen parameters, train/eval mode and gradients of the caller's model are untouched, and the frozen weights do not move."
    model = small_net(); model[0].weight.requires_grad_(False); model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new, hist = forget(model, Items(), method=method, retain_set=Items(task='noise15', seed=1), trained_tasks=['noise15', 'haze'], lr=1e-2, **FAST)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and not model.training
    assert [p.requires_grad for p in model.parameters()] == [False, True, True, True] and all(p.grad is None for p in model.parameters())
    assert torch.equal(new[0].weight, before['0.weight']) and not new[0].weight.requires_grad and not new.training


VARIANT_ROWS = {**{n: replace(ablation(n), **FAST_FIELDS) for n in forgetting.variants.VARIANT_ABLATIONS},
                'update_only': replace(UnlearnConfig.for_method(DEFAULT_METHOD, update_only=['2']), **FAST_FIELDS),
                'saliency': replace(UnlearnConfig.for_method(DEFAULT_METHOD, saliency=0.5), **FAST_FIELDS)}


@pytest.mark.parametrize('name', list(VARIANT_ROWS))
def test_every_variant_leaves_the_callers_model_and_its_frozen_weights_alone(name):
    "The same for every variant the recipes do not name: the study's ablation rows, a module mask and a saliency mask."
    model = small_net(); model[0].weight.requires_grad_(False); model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new, hist = forget(model, Items(), config=VARIANT_ROWS[name], trained_tasks=['noise15', 'haze'], progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and not model.training
    assert [p.requires_grad for p in model.parameters()] == [False, True, True, True] and all(p.grad is None for p in model.parameters())
    assert torch.equal(new[0].weight, before['0.weight']) and not new[0].weight.requires_grad and not new.training
    assert len(hist['steps']) == 6 and hist['image_passes'] == sum(hist['passes'].values())
