"Fixtures shared by the test files."
import pytest, torch
from console import TINY_TRAIN, forgetting, ok


@pytest.fixture(scope='module')
def one_thread():
    "Tiny models: one thread is as fast and does not fight other processes over a shared CPU."
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    "Tiny original (all tasks) and 'retrained' (no haze) checkpoints, made by `forgetting train`."
    d = tmp_path_factory.mktemp('ck')
    out = ok(forgetting('train', '--out', d / 'orig.pt', *TINY_TRAIN))
    assert '| haze |' in out and (d / 'orig.json').is_file()
    ok(forgetting('train', '--out', d / 'nohaze.pt', '--tasks', 'noise15', 'noise25', 'noise50', 'rain', *TINY_TRAIN))
    return d
