"Edge cases of `forgetting.purify` that the notebook does not show: other files as purifiers, the attacks' view of a purified model."
import pickle
from pathlib import Path
import pytest, torch
import torch.nn as nn
from forgetting.purify import make_purifier, save_purifier, load_purifier, Purified
from forgetting.attack import pgd, frozen

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures('one_thread')   # tests/conftest.py

@pytest.fixture
def purifier():
    torch.manual_seed(0)
    return make_purifier(dim=8, mults=(1, 2), T=50).eval()


def test_restorer_checkpoint_is_not_a_purifier():
    with pytest.raises(ValueError, match='is not a purifier'): load_purifier(ROOT / 'data/checkpoints/promptir-tiny-original.pt')

def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self): return (print, ('ran',))
    path = tmp_path / 'evil.pt'
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match='(Refusing to load|not a PyTorch checkpoint)'): load_purifier(path)

def test_card_path_and_missing_file(tmp_path, purifier):
    with pytest.raises(ValueError, match='must not end in .json'): save_purifier(tmp_path / 'p.json', purifier)
    with pytest.raises(FileNotFoundError): load_purifier(tmp_path / 'none.pt')
    save_purifier(tmp_path / 'p.pt', purifier, {'note': 'x'})
    assert sorted(p.name for p in tmp_path.iterdir()) == ['p.json', 'p.pt']

def test_pgd_through_purifier_keeps_budget_and_parameters(purifier):
    restorer = nn.Conv2d(3, 3, 3, padding=1)
    model = Purified(restorer, purifier, t_star=0.2, steps=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x = torch.rand(2, 3, 16, 16)
    adv = pgd(model, x, 8 / 255, steps=3, reference=x)
    assert (adv - x).abs().max() <= 8 / 255 + 1e-6 and 0 <= adv.min() and adv.max() <= 1
    assert all(torch.equal(p, before[n]) and p.grad is None and p.requires_grad for n, p in model.named_parameters())
