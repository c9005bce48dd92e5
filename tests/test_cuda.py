"""CUDA device: CPU-only behaviour here; GPU tests carry the `cuda` marker and
run through scripts/gpu-check on a machine with a GPU."""
import numpy as np
import pytest
from reference import randn

import ember


def test_cpu_only_behaviour():
    if ember.cuda.is_available():
        pytest.skip("machine has a GPU")
    assert ember.cuda.is_available() is False
    assert ember.cuda.device_count() == 0
    assert ember.cuda.memory_allocated() == 0
    for f in (lambda: ember.zeros(2, device="cuda"), lambda: ember.ones(2).cuda(),
              lambda: ember.ones(2).to("cuda:0"), lambda: ember.cuda.current_device()):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            f()


@pytest.mark.cuda
def test_cuda_roundtrip_and_ops():
    a = randn(4, 5)
    x = ember.from_numpy(a).cuda()
    assert x.is_cuda and x.device.type == "cuda"
    y = (x * 2 + 1).exp().sum(1)
    np.testing.assert_allclose(y.cpu().numpy(), np.exp(a * 2 + 1).sum(1), rtol=1e-5)
    with pytest.raises(TypeError):
        x.numpy()
    with pytest.raises(RuntimeError, match="same device"):
        _ = x + ember.ones(4, 5)


@pytest.mark.cuda
def test_cuda_autograd_matches_cpu():
    a = randn(8, 6)
    w = randn(6, 3)
    res = []
    for dev in ("cpu", "cuda"):
        x = ember.from_numpy(a).to(dev).requires_grad_(True)
        W = ember.from_numpy(w).to(dev).requires_grad_(True)
        ((x @ W).tanh() ** 2).mean().backward()
        res.append((x.grad.cpu().numpy(), W.grad.cpu().numpy()))
    for c, g in zip(*res):
        np.testing.assert_allclose(c, g, rtol=1e-4, atol=1e-6)


def test_cpu_only_pinning_and_errors():
    if ember.cuda.is_available():
        pytest.skip("machine has a GPU")
    x = ember.ones(3)
    assert x.is_pinned() is False
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        x.pin_memory()
    assert ember.OutOfMemoryError is ember.cuda.OutOfMemoryError
    assert issubclass(ember.OutOfMemoryError, RuntimeError)
    assert ember.cuda.max_memory_allocated() == 0


class _ScanOnly:
    """NumPy without ufunc.accumulate, as CuPy: exercises the scan fallback."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("name", ["maximum", "minimum", "logaddexp"])
def test_accumulate_scan_matches_numpy(name):
    from ember._backend import accumulate
    a = np.random.default_rng(0).standard_normal((3, 13, 4))
    a[1, 5, 2] = np.nan
    for axis in (0, 1, 2, -1):
        # max/min exactly; logaddexp up to rounding (the scan adds in another order)
        np.testing.assert_allclose(accumulate(_ScanOnly(), name, a, axis),
                                   getattr(np, name).accumulate(a, axis=axis), rtol=1e-13)
