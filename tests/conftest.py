"Fixtures shared by the test files."
import pytest, torch


@pytest.fixture(scope='module')
def one_thread():
    "Tiny models: one thread is as fast and does not fight other processes over a shared CPU."
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
