"Drive the viewer's dropdowns from code and check that images and PSNR labels follow, against forgetting.evaluate.psnr."
import pytest, torch
from torch import nn
from forgetting.data import bundled_suite
from forgetting.evaluate import psnr
from forgetting.viewer import Viewer, ALL


class Scale(nn.Module):
    "Output = a * input: a model whose PSNR is easy to predict and differs from the input's."
    def __init__(self, a): super().__init__(); self.a = nn.Parameter(torch.tensor(float(a)))
    def forward(self, x): return self.a * x


@pytest.fixture(scope='module')
def viewer():
    suite = bundled_suite('test', tasks=['noise25', 'rain', 'haze'], size=32)
    return Viewer({'dark': Scale(0.8), 'same': Scale(1.0), 'bright': Scale(1.1)}, suite)


def shown(v):
    "What is on screen: panel names, label texts and image bytes."
    return list(v.panels), [lab.value for _, lab in v.panels.values()], [bytes(im.value) for im, _ in v.panels.values()]


def expected_psnr(v, model_scale):
    x, y, _ = v.suite[v.index[v.task.value][v.photo.value]]
    return psnr((model_scale * x).clamp(0, 1), y).item()


def test_initial_view_shows_all_models(viewer):
    names, labels, images = shown(viewer)
    assert viewer.model.value == ALL and names == ['input', 'dark', 'same', 'bright', 'clean']
    assert viewer.psnrs['same'] == pytest.approx(viewer.psnrs['input'], abs=1e-9)
    assert viewer.psnrs['dark'] == pytest.approx(expected_psnr(viewer, 0.8), abs=1e-5)
    assert 'inf dB' in labels[-1] and all(img[:4] == b'\x89PNG' for img in images)


@pytest.mark.parametrize('task', ['rain', 'haze', 'noise25'])
def test_task_and_model_dropdowns_update_the_panels(viewer, task):
    viewer.model.value = 'bright'
    before = shown(viewer)
    viewer.task.value = task
    names, labels, images = shown(viewer)
    assert names == ['input', 'bright', 'clean']
    assert viewer.suite[viewer.index[task][viewer.photo.value]][2] == task
    assert viewer.psnrs['bright'] == pytest.approx(expected_psnr(viewer, 1.1), abs=1e-5)
    assert f"{viewer.psnrs['bright']:.2f} dB" in labels[1]
    if before[0] == names and before != (names, labels, images): assert images[0] != before[2][0] or labels != before[1]


def test_photo_dropdown_changes_input_and_numbers(viewer):
    viewer.model.value = 'dark'
    first = viewer.photo.options[0]; viewer.photo.value = first
    a = shown(viewer), dict(viewer.psnrs)
    viewer.photo.value = viewer.photo.options[1]
    b = shown(viewer), dict(viewer.psnrs)
    assert a[0][2][0] != b[0][2][0] and a[0][2][-1] != b[0][2][-1]     # new input and clean images
    assert a[1]['dark'] != b[1]['dark']
    assert b[1]['dark'] == pytest.approx(expected_psnr(viewer, 0.8), abs=1e-5)


def test_outputs_are_cached_and_models_left_untouched(viewer):
    viewer.model.value = ALL
    m = viewer.models['dark']; m.train()
    viewer.photo.value = viewer.photo.options[0]; viewer.update()
    assert m.training                                       # eval mode only while restoring
    assert any(k[0] == 'dark' for k in viewer._cache)


def test_bad_models():
    suite = bundled_suite('test', tasks=['rain'], size=32)
    with pytest.raises(ValueError, match='no models'): Viewer({}, suite)
    with pytest.raises(TypeError, match="models\\['x'\\] must be a torch.nn.Module"): Viewer({'x': 3}, suite)
    with pytest.raises(ValueError, match='differs from input shape'): Viewer({'bad': nn.Conv2d(3, 1, 1)}, suite)
