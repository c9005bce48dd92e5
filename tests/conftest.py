import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


def _has_cuda():
    try:
        import ember
        return ember.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if not any("cuda" in it.keywords for it in items):
        return
    if _has_cuda():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU with CuPy on this machine")
    for it in items:
        if "cuda" in it.keywords:
            it.add_marker(skip)


@pytest.fixture
def two_threads():
    """The intra-op pool with two threads (whatever the machine has), restored after."""
    from ember._ops import _parallel
    old = _parallel.num_threads()
    _parallel.set_num_threads(2)
    yield
    _parallel.set_num_threads(old)


@pytest.fixture(autouse=True)
def _cores_busy(monkeypatch):
    """Mid-size products stay on one BLAS thread (``ember/_blas.py``: the policy
    reads the machine's load, which tests must not depend on);
    ``tests/test_blas_threads.py`` sets the other cases itself."""
    from ember import _blas
    monkeypatch.setattr(_blas, "_cores_idle", lambda: False)
