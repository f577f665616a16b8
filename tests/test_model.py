"Tests of forgetting.model beyond the notebook: reference outputs at both input sizes, checkpoint edge cases, restore."
import json, os, pickle, random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from forgetting.model import (AdaIR, MODELS, PromptIR, build_model, get_model, load_weights, model_config,
                              reference_init, restore)

DATA = Path(__file__).parent / 'data'
PUBLISHED = {'promptir': (PromptIR, 35_592_263), 'adair': (AdaIR, 28_784_824)}


def shapes(model): return {k: list(v.shape) for k, v in model.state_dict().items()}


@pytest.fixture(scope='module')
def published():
    "Published models under the reference initialisation (built once: they are large)."
    return {name: reference_init(cls()).eval() for name, (cls, _) in PUBLISHED.items()}


@pytest.mark.parametrize('name', list(PUBLISHED))
def test_state_dict_matches_published(name, published):
    ref = json.loads((DATA / f'{name}_state_dict_shapes.json').read_text())
    model = published[name]
    assert shapes(model) == ref['state_dict']
    assert list(model.state_dict()) == list(ref['state_dict'])
    assert sum(p.numel() for p in model.parameters()) == ref['num_parameters'] == PUBLISHED[name][1]
    assert shapes(get_model(name)) == ref['state_dict']


@pytest.mark.parametrize('name', list(PUBLISHED))
@pytest.mark.parametrize('suffix', ['', '2'])
def test_reference_outputs(name, suffix, published):
    ref = np.load(DATA / f'{name}_reference_io.npz')
    x, expected = torch.from_numpy(ref[f'input{suffix}']), torch.from_numpy(ref[f'output{suffix}'])
    with torch.no_grad(): y = published[name](x)
    assert y.shape == expected.shape
    assert (y - expected).abs().max() < 1e-4
    residual, expected_residual = y - x, expected - x
    assert (residual - expected_residual).abs().max() < 1e-4
    assert expected_residual.abs().mean() > 0.1  # the residual is substantial, not the identity


def test_reference_outputs_detect_wiring_change(published):
    "A sign error in one frequency module's output mix (para1 -> -para1) moves the output beyond the 1e-4 tolerance."
    ref = np.load(DATA / 'adair_reference_io.npz')
    model = published['adair']
    w = model.fre3.para1
    saved = w.detach().clone()
    try:
        with torch.no_grad():
            w.mul_(-1)
            y = model(torch.from_numpy(ref['input']))
        assert (y - torch.from_numpy(ref['output'])).abs().max() > 1e-4
    finally:
        with torch.no_grad(): w.copy_(saved)


def test_registry():
    assert set(MODELS) == {'promptir', 'adair', 'promptir-tiny', 'adair-tiny'}
    with pytest.raises(ValueError, match='promptir-tiny'): get_model('swinir')
    m = get_model('promptir-tiny', dim=8)
    assert model_config(m) == {'name': 'promptir-tiny', 'overrides': {'dim': 8}}
    assert shapes(build_model(model_config(m))) == shapes(m)
    # a config survives a weights_only checkpoint round trip
    cfg = model_config(AdaIR(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1))
    assert shapes(build_model(cfg)) == shapes(AdaIR(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1))
    with pytest.raises(ValueError, match='name'): build_model({'overrides': {}})


@pytest.mark.parametrize('name', ['promptir-tiny', 'adair-tiny'])
def test_tiny_presets_train(name):
    torch.manual_seed(0)
    model = get_model(name).train()
    n = sum(p.numel() for p in model.parameters())
    assert 200_000 <= n <= 1_100_000
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    clean = torch.rand(4, 3, 32, 32)
    noisy = (clean + 0.1 * torch.randn_like(clean)).clamp(0, 1)
    losses = []
    for _ in range(8):
        loss = (model(noisy) - clean).abs().mean()
        opt.zero_grad(); loss.backward(); opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses
    untrained = {k for k, p in model.named_parameters() if p.grad is None}
    # every parameter gets a gradient, except AdaIR's rate_conv: its threshold is truncated to an int (as published)
    assert untrained == ({f'fre{i}.rate_conv.{j}.weight' for i in (1, 2, 3) for j in (0, 2)} if name == 'adair-tiny' else set())


# ---------------------------------------------------------------- checkpoints

@pytest.fixture
def tiny():
    return reference_init(get_model('adair-tiny'))


def same(a, b): return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_lightning_checkpoint_loads(tmp_path, tiny):
    path = tmp_path / 'epoch=119-step=100.ckpt'
    torch.save({'epoch': 119, 'global_step': 100, 'pytorch-lightning_version': '2.0.2',
                'state_dict': {f'net.{k}': v for k, v in tiny.state_dict().items()},
                'optimizer_states': [{'state': {}, 'param_groups': [{'lr': 2e-4}]}], 'lr_schedulers': [],
                'hyper_parameters': {}}, path)
    model = load_weights(get_model('adair-tiny'), path)
    assert same(model.state_dict(), tiny.state_dict())
    assert same(load_weights(get_model('adair-tiny'), str(path)).state_dict(), tiny.state_dict())


@pytest.mark.parametrize('wrap', [lambda sd: sd, lambda sd: {'state_dict': sd}, lambda sd: {'model': sd, 'step': 3},
                                  lambda sd: {f'module.{k}': v for k, v in sd.items()}])
def test_wrappers(tmp_path, tiny, wrap):
    torch.save(wrap(tiny.state_dict()), tmp_path / 'w.pt')
    assert same(load_weights(get_model('adair-tiny'), tmp_path / 'w.pt').state_dict(), tiny.state_dict())
    assert same(load_weights(get_model('adair-tiny'), wrap(tiny.state_dict())).state_dict(), tiny.state_dict())


def test_wrong_architecture(tmp_path, tiny):
    path = tmp_path / 'adair_tiny.pt'
    torch.save(tiny.state_dict(), path)
    with pytest.raises(ValueError) as e: load_weights(get_model('promptir-tiny'), path)
    msg = str(e.value)
    assert 'adair_tiny.pt' in msg and 'PromptIR' in msg
    assert 'missing keys' in msg and 'prompt1.prompt_param' in msg
    assert 'unexpected keys' in msg and 'fre1.para1' in msg
    assert 'shape differences' in msg and 'up4_3.body.0.weight: checkpoint [192, 96, 3, 3] vs model [96, 48, 3, 3]' in msg
    # non-strict loading tolerates missing/unexpected keys but never a shape difference
    sd = {k: v for k, v in tiny.state_dict().items() if not k.startswith('fre1.')}
    load_weights(get_model('adair-tiny'), sd, strict=False)
    with pytest.raises(ValueError, match='missing keys'): load_weights(get_model('adair-tiny'), sd)
    with pytest.raises(ValueError, match='shape differences'):
        load_weights(get_model('adair-tiny'), get_model('adair-tiny', dim=16).state_dict(), strict=False)


def test_corrupt_files(tmp_path, tiny):
    rng = random.Random(0)
    cases = {**{f'random{i}.pt': rng.randbytes(512) for i in range(20)}, 'text.pt': b'this is not a checkpoint\n', 'empty.pt': b''}
    good = tmp_path / 'good.pt'
    torch.save(tiny.state_dict(), good)
    cases['truncated.pt'] = good.read_bytes()[:good.stat().st_size // 2]
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f'{name} is not a (readable )?PyTorch checkpoint'):
            load_weights(get_model('adair-tiny'), tmp_path / name)
    with pytest.raises(FileNotFoundError, match='nothere.pt'): load_weights(tiny, tmp_path / 'nothere.pt')
    torch.save({'weights': [1, 2, 3]}, tmp_path / 'nodict.pt')
    with pytest.raises(ValueError, match='nodict.pt: no state_dict found'): load_weights(tiny, tmp_path / 'nodict.pt')


class Evil:
    def __reduce__(self): return (os.system, ('echo pwned > /dev/null',))


class Harmless:
    pass


@pytest.mark.parametrize('payload', [lambda sd: {'state_dict': sd, 'x': Evil()}, lambda sd: {'state_dict': sd, 'obj': Harmless()}])
def test_pickle_with_code_refused(tmp_path, tiny, payload):
    path = tmp_path / 'evil.ckpt'
    torch.save(payload(tiny.state_dict()), path)
    with pytest.raises(ValueError, match='evil.ckpt: it needs arbitrary pickled code'):
        load_weights(get_model('adair-tiny'), path)


@pytest.mark.filterwarnings('ignore:Detected pickle protocol')
def test_plain_pickle_refused(tmp_path):
    path = tmp_path / 'plain.pkl'
    with open(path, 'wb') as f: pickle.dump(Evil(), f)
    with pytest.raises(ValueError, match='plain.pkl'): load_weights(get_model('adair-tiny'), path)


# ---------------------------------------------------------------- restore

class LocalNet(nn.Module):
    "Receptive field radius 6 (3x3 convs, one of them after a pixel-unshuffle)."
    def __init__(self):
        super().__init__()
        self.full = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, 8, 3, padding=1), nn.GELU())
        self.coarse = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(32, 32, 3, padding=1), nn.PixelShuffle(2))
        self.out = nn.Conv2d(8, 3, 3, padding=1)
    def forward(self, x):
        assert x.shape[-1] % 8 == 0 and x.shape[-2] % 8 == 0
        return self.out(self.coarse(self.full(x))) + x


@pytest.mark.parametrize('size', [(8, 8), (13, 29), (64, 64), (97, 130), (3, 5)])
def test_restore_any_size(size):
    torch.manual_seed(0)
    net = LocalNet()
    img = torch.rand(3, *size)
    out = restore(net, img)
    assert out.shape == img.shape
    if size == (64, 64):
        with torch.no_grad(): assert torch.equal(out, net(img[None])[0])


def test_restore_mode_and_batch():
    net = LocalNet().train()
    batch = torch.rand(5, 3, 37, 45)
    out = restore(net, batch, batch=2)
    assert net.training and out.shape == batch.shape and not out.requires_grad
    torch.testing.assert_close(out, torch.stack([restore(net, b) for b in batch]), atol=1e-6, rtol=0)
    net.eval(); restore(net, batch); assert not net.training


@pytest.mark.parametrize('tile,overlap', [(64, 32), (48, 32), (32, 24), (128, 40)])
def test_tiling_exact_within_receptive_field(tile, overlap):
    torch.manual_seed(1)
    net = LocalNet()
    img = torch.rand(2, 3, 150, 203)
    torch.testing.assert_close(restore(net, img, tile=tile, overlap=overlap, batch=3, progress=False),
                               restore(net, img), atol=1e-5, rtol=0)


def test_tiling_too_small_overlap_shows():
    torch.manual_seed(1)
    net = LocalNet()
    img = torch.rand(3, 150, 203)
    assert (restore(net, img, tile=64, overlap=8, progress=False) - restore(net, img)).abs().max() > 1e-3


def test_tiling_promptir_tiny():
    "PromptIR pools globally: tiles change the output, but one tile covering the image is exact."
    torch.manual_seed(0)
    model = reference_init(get_model('promptir-tiny'))
    img = torch.rand(3, 90, 120)
    whole = restore(model, img)
    assert torch.equal(restore(model, img, tile=128), whole)
    tiled = restore(model, img, tile=64, overlap=32, progress=False)
    assert tiled.shape == img.shape and torch.isfinite(tiled).all()
    assert (tiled - whole).abs().max() > 0


def test_restore_bad_input():
    net = LocalNet()
    with pytest.raises(ValueError, match=r'\(3,H,W\)'): restore(net, torch.rand(10, 10))
    with pytest.raises(ValueError, match='float'): restore(net, torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match='multiple of 8'): restore(net, torch.rand(3, 64, 64), tile=50)
    with pytest.raises(ValueError, match='stride'): restore(net, torch.rand(3, 64, 64), tile=32, overlap=32)


def test_model_rejects_bad_size():
    with pytest.raises(ValueError, match='divisible by 8'): get_model('adair-tiny')(torch.rand(1, 3, 20, 24))


def test_adair_frequency_split_runs_in_fp32_under_autocast():
    "Mixed precision must not reach AdaIR's FFTs (CUDA rejects bf16 FFTs; fp16 ones need power-of-2 sizes)."
    from forgetting.model import split_frequencies
    x = torch.randn(1, 4, 12, 20); mask = torch.zeros(1, 1, 12, 20); mask[..., 4:8, 7:13] = 1
    ref = split_frequencies(x, mask)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = split_frequencies(x.bfloat16(), mask)
    for g, r in zip(got, ref):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, r, atol=0.05, rtol=0.05)


@pytest.mark.parametrize('name', list(PUBLISHED))
def test_every_module_of_the_published_models_is_in_one_block(name, published):
    "The study's per-block rows restrict updates to these paths: every top-level module of PromptIR and AdaIR falls in a block."
    from forgetting.model import model_blocks
    blocks = model_blocks(published[name])
    names = [n for ns in blocks.values() for n in ns]
    assert len(names) == len(set(names)) and {'encoder', 'latent', 'decoder', 'output'} <= set(blocks)
    assert ('frequency' in blocks) == (name == 'adair') and ('prompts' in blocks) == (name == 'promptir')
