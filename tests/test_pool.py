"""Pooling: max/avg/adaptive/lp/fractional pooling and max_unpool (functional and
layers) against PyTorch, gradcheck/gradgradcheck in float64, errors."""
import numpy as np
import pytest
import torch
from layer_ref import cpu_vs_cuda, layer_check, sweep
from reference import check, check_raises, gradcheck, randn

import ember


def _fn(name):
    return lambda m, x, *a, **k: getattr(m.nn.functional, name)(x, *a, **k)


def _samples_for(nd):
    def extra(inp, args, kw):
        n = inp.shape[0] if inp.dim() == nd + 2 else 1
        return {"_random_samples": torch.rand(n, inp.shape[-nd - 1], nd,
                                              generator=torch.Generator().manual_seed(0))}
    return extra


OPINFO = [
    ("max_pool1d", 8), ("max_pool2d", 12), ("max_pool3d", 8), ("avg_pool1d", 1),
    ("avg_pool2d", 1), ("avg_pool3d", 1), ("adaptive_avg_pool1d", 1),
    ("adaptive_avg_pool2d", 1), ("adaptive_avg_pool3d", 1), ("adaptive_max_pool1d", 1),
    ("adaptive_max_pool2d", 1), ("adaptive_max_pool3d", 1), ("max_unpool1d", 3),
    ("max_unpool2d", 4), ("max_unpool3d", 2), ("fractional_max_pool2d", 1),
    ("fractional_max_pool3d", 2),
]


@pytest.mark.parametrize("name,every", OPINFO)
def test_opinfo(name, every):
    extra = _samples_for(int(name[-2])) if name.startswith("fractional") else None
    assert sweep(f"nn.functional.{name}", _fn(name), every=every, extra=extra) >= 5


@pytest.mark.parametrize("name", ["max_unpool1d", "max_unpool2d", "max_unpool3d"])
def test_opinfo_unpool_grad(name):
    assert sweep(f"nn.functional.{name}", _fn(name), variant="grad") >= 5


MAX_CASES = [
    (2, {}),
    (3, dict(stride=2, padding=1)),
    (3, dict(stride=2, padding=1, ceil_mode=True)),
    ((3, 2), dict(stride=(2, 1), dilation=(2, 1), padding=(1, 1))),
    (2, dict(stride=3, ceil_mode=True)),
    (3, dict(stride=1, padding=1)),                    # overlapping windows
]


@pytest.mark.parametrize("k,kw", MAX_CASES)
def test_max_pool2d(k, kw):
    check(lambda m, x: m.nn.functional.max_pool2d(x, k, return_indices=True, **kw),
          randn(2, 3, 7, 8))
    check(lambda m, x: m.nn.functional.max_pool2d(x, k, **kw), randn(3, 7, 8))


def test_max_pool_1d_3d_and_dtypes():
    check(lambda m, x: m.nn.functional.max_pool1d(x, 3, 2, 1, 2, True, True), randn(2, 3, 11))
    check(lambda m, x: m.max_pool1d(x, 2), randn(2, 3, 9))
    check(lambda m, x: m.nn.functional.max_pool3d(x, (2, 3, 2), (1, 2, 2), 1, 1, False, True),
          randn(1, 2, 4, 6, 5))
    check(lambda m, x: m.nn.functional.max_pool2d(x, 2), randn(2, 3, 6, 6, dtype=np.float64))
    check(lambda m, x: m.nn.functional.max_pool2d(x, 2, return_indices=True),
          torch.randint(-5, 5, (2, 3, 6, 6)))
    check(lambda m, x: m.nn.functional.max_pool2d(x, 3, 2, 1), torch.randn(2, 2, 7, 7).half(),
          grad=False)


def test_max_pool_ties_and_nan():
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = 1.0   # tie inside one window: first one wins
    x[0, 0, 2, 3] = np.nan
    x[0, 0, 3, 2] = np.nan
    check(lambda m, x: m.nn.functional.max_pool2d(x, 2, return_indices=True), x)
    check(lambda m, x: m.nn.functional.max_pool2d(x, 3, 1, 1, return_indices=True), x)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=2, padding=1, ceil_mode=True),
    dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(stride=(1, 2), padding=(1, 0), divisor_override=3),
])
def test_avg_pool2d(kw):
    check(lambda m, x: m.nn.functional.avg_pool2d(x, 3, **kw), randn(2, 3, 7, 8))


def test_avg_pool_1d_3d_int():
    check(lambda m, x: m.nn.functional.avg_pool1d(x, 3, 2, 1, True, False), randn(2, 3, 10))
    check(lambda m, x: m.avg_pool1d(x, 2), randn(2, 3, 10))
    check(lambda m, x: m.nn.functional.avg_pool3d(x, 2, (1, 2, 2), 1, False, True, None),
          randn(1, 2, 4, 5, 6))
    check(lambda m, x: m.nn.functional.avg_pool2d(x, 3, 2, 1), torch.randint(-9, 9, (2, 2, 7, 7)))


def test_tiled_windows():
    """stride == kernel covering the input exactly takes a reshape fast path"""
    check(lambda m, x: m.nn.functional.avg_pool2d(x, 2), randn(2, 3, 8, 6))
    check(lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, 1), randn(2, 3, 8, 6))
    check(lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, (2, 1, 3)), randn(2, 3, 4, 5, 6))
    check(lambda m, x: m.nn.functional.avg_pool1d(x, 3), randn(2, 3, 9))
    assert gradcheck(lambda x: ember.nn.functional.avg_pool2d(x, 2) ** 2, randn(1, 2, 4, 2))


@pytest.mark.parametrize("size", [1, 3, (2, 4), (None, 3), (5, 7)])
def test_adaptive_pool2d(size):
    check(lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, size), randn(2, 3, 6, 7))
    check(lambda m, x: m.nn.functional.adaptive_max_pool2d(x, size, True), randn(2, 3, 6, 7))


def test_adaptive_pool_1d_3d():
    check(lambda m, x: m.adaptive_avg_pool1d(x, 4), randn(2, 3, 10))
    check(lambda m, x: m.adaptive_max_pool1d(x, 4), randn(2, 3, 10))
    check(lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, (2, 3, 1)), randn(2, 5, 4, 7))
    check(lambda m, x: m.nn.functional.adaptive_max_pool3d(x, (3, 2, 2), True),
          randn(1, 2, 5, 4, 7))


@pytest.mark.parametrize("p", [1, 2, 3.5])
def test_lp_pool(p):
    x = np.abs(randn(2, 3, 7, 8)) + 0.1
    check(lambda m, x: m.nn.functional.lp_pool2d(x, p, (3, 2), 2), x)
    check(lambda m, x: m.nn.functional.lp_pool1d(x, p, 3, ceil_mode=True), x[:, :, 0])
    check(lambda m, x: m.nn.functional.lp_pool3d(x, p, 2), x[None])


def test_fractional_max_pool():
    def samples(m, *shape):
        u = torch.rand(*shape, generator=torch.Generator().manual_seed(1))
        return u if m is torch else ember.from_numpy(u.numpy())
    check(lambda m, x: m.nn.functional.fractional_max_pool2d(
        x, 3, output_size=(5, 4), return_indices=True, _random_samples=samples(m, 2, 3, 2)),
        randn(2, 3, 9, 8))
    check(lambda m, x: m.nn.functional.fractional_max_pool2d(
        x, (2, 3), output_ratio=(0.5, 0.5), _random_samples=samples(m, 1, 3, 2)), randn(3, 9, 8))
    check(lambda m, x: m.nn.functional.fractional_max_pool3d(
        x, 2, output_size=(3, 4, 2), return_indices=True, _random_samples=samples(m, 1, 2, 3)),
        randn(1, 2, 6, 7, 5))
    # without samples ember draws its own: the output is still a valid max of a window
    y, i = ember.nn.functional.fractional_max_pool2d(ember.randn(2, 3, 9, 9), 2,
                                                     output_size=4, return_indices=True)
    assert tuple(y.shape) == (2, 3, 4, 4) and i.dtype is ember.int64


def test_max_unpool():
    x = randn(2, 3, 8, 7)
    for nd, k, kw in [(2, 2, {}), (2, 3, dict(stride=2, padding=1)), (1, 2, {})]:
        xx = torch.from_numpy(x if nd == 2 else x[:, :, 0])
        pooled, idx = getattr(torch.nn.functional, f"max_pool{nd}d")(xx, k, return_indices=True,
                                                                      **kw)
        f = f"max_unpool{nd}d"
        check(lambda m, p, i: getattr(m.nn.functional, f)(p, i, k, output_size=xx.shape[2:],
                                                          **kw), pooled.numpy(), idx)
    _, idx = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    check(lambda m, p, i: m.nn.functional.max_unpool2d(p, i, 2, output_size=(9, 7)),
          torch.randn(2, 3, 4, 3), idx)
    check_raises(lambda m, p, i: m.nn.functional.max_unpool2d(p, i + 1000, 2),
                 torch.randn(2, 3, 4, 3), idx)


def test_errors():
    x = randn(2, 3, 5, 5)
    for fn in [lambda m, x: m.nn.functional.max_pool2d(x, 3, padding=2),
               lambda m, x: m.nn.functional.max_pool2d(x, 7),
               lambda m, x: m.nn.functional.max_pool2d(x, 2, stride=0),
               lambda m, x: m.nn.functional.max_pool2d(x, 2, dilation=0),
               lambda m, x: m.nn.functional.avg_pool2d(x, 3, padding=2),
               lambda m, x: m.nn.functional.avg_pool2d(x, 2, divisor_override=0),
               lambda m, x: m.nn.functional.max_pool2d(x[0, 0], 2),
               lambda m, x: m.nn.functional.adaptive_avg_pool2d(x[0, 0], 2),
               lambda m, x: m.nn.functional.adaptive_max_pool2d(x[0, 0], 2)]:
        check_raises(fn, x)


def test_grad_fn_names():
    x = ember.randn(1, 2, 4, 4, requires_grad=True)
    F = ember.nn.functional
    assert F.max_pool2d(x, 2).grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    assert F.avg_pool2d(x, 2).grad_fn.name() == "AvgPool2DBackward0"
    assert F.adaptive_avg_pool2d(x, 3).grad_fn.name() == "AdaptiveAvgPool2DBackward0"
    assert F.adaptive_max_pool2d(x, 3).grad_fn.name() == "AdaptiveMaxPool2DBackward0"


# ---------------------------------------------------------------------------
# gradcheck / double backward (float64)
# ---------------------------------------------------------------------------

def test_gradcheck_pools():
    F = ember.nn.functional
    x = randn(1, 2, 5, 4)
    fns = [
        lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
        lambda x: F.max_pool2d(x, 2, 1, dilation=(1, 2)),
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda x: F.adaptive_avg_pool2d(x, (3, 3)),
        lambda x: F.adaptive_max_pool2d(x, (3, 2)),
        lambda x: F.lp_pool2d(x * x + 1, 2, 2),
        lambda x: F.fractional_max_pool2d(x, 2, output_size=3,
                                          _random_samples=ember.full((1, 2, 2), 0.3)),
        lambda x: F.max_pool1d(x[0], 2),
        lambda x: F.avg_pool3d(x[None], 2, 1),
        lambda x: F.max_unpool2d(x[:, :, :2, :2], ember.arange(8).reshape(1, 2, 2, 2) * 2, 2),
    ]
    for f in fns:
        assert gradcheck(f, x)


def test_double_backward():
    gg = ember.autograd.gradgradcheck
    F = ember.nn.functional
    x = ember.from_numpy(randn(1, 2, 5, 4, dtype=np.float64)).requires_grad_()
    assert gg(lambda x: F.max_pool2d(x, 3, 2, 1), (x,))
    assert gg(lambda x: F.avg_pool2d(x, 2, 1, 1), (x,))
    assert gg(lambda x: F.adaptive_avg_pool2d(x, 3), (x,))
    assert gg(lambda x: F.adaptive_max_pool2d(x, 3), (x,))


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

LAYERS = [
    (lambda nn: nn.MaxPool1d(3, 2, 1, ceil_mode=True), (2, 3, 9)),
    (lambda nn: nn.MaxPool2d(2), (2, 3, 6, 7)),
    (lambda nn: nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2),
                             return_indices=True), (2, 3, 6, 7)),
    (lambda nn: nn.MaxPool3d(2, padding=1), (1, 2, 4, 5, 4)),
    (lambda nn: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 9)),
    (lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True, divisor_override=4), (2, 3, 7, 6)),
    (lambda nn: nn.AvgPool3d(2, (1, 2, 2)), (1, 2, 4, 5, 4)),
    (lambda nn: nn.AdaptiveAvgPool1d(4), (2, 3, 9)),
    (lambda nn: nn.AdaptiveAvgPool2d((1, 1)), (2, 3, 6, 7)),
    (lambda nn: nn.AdaptiveAvgPool3d((2, None, 3)), (1, 2, 4, 5, 4)),
    (lambda nn: nn.AdaptiveMaxPool1d(4, return_indices=True), (2, 3, 9)),
    (lambda nn: nn.AdaptiveMaxPool2d((3, None)), (2, 3, 6, 7)),
    (lambda nn: nn.AdaptiveMaxPool3d(2), (1, 2, 4, 5, 4)),
    (lambda nn: nn.LPPool1d(2, 3), (2, 3, 9)),
    (lambda nn: nn.LPPool2d(1.5, (2, 3), stride=2), (2, 3, 6, 7)),
    (lambda nn: nn.LPPool3d(2, 2), (1, 2, 4, 5, 4)),
]


@pytest.mark.parametrize("make,shape", LAYERS)
def test_layers(make, shape):
    x = randn(*shape)
    if "LPPool" in repr(make(torch.nn)):
        x = np.abs(x) + 0.1
    layer_check(make, x)


def test_unpool_and_fractional_layers():
    x = torch.randn(2, 3, 8, 6)
    pooled, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    layer_check(lambda nn: nn.MaxUnpool2d(2), pooled.numpy(), idx, grad_inputs=(0,))
    p1, i1 = torch.nn.functional.max_pool1d(x[:, :, 0], 2, return_indices=True)
    layer_check(lambda nn: nn.MaxUnpool1d(2), p1.numpy(), i1, grad_inputs=(0,))
    p3, i3 = torch.nn.functional.max_pool3d(x[None], 2, return_indices=True)
    layer_check(lambda nn: nn.MaxUnpool3d(2), p3.numpy(), i3, grad_inputs=(0,))
    u = torch.rand(2, 3, 2)
    layer_check(lambda nn: nn.FractionalMaxPool2d(3, output_size=(4, 3), _random_samples=(
        u if nn is torch.nn else ember.from_numpy(u.numpy()))), x.numpy())
    u3 = torch.rand(1, 2, 3)
    layer_check(lambda nn: nn.FractionalMaxPool3d(2, output_ratio=0.5, _random_samples=(
        u3 if nn is torch.nn else ember.from_numpy(u3.numpy()))), randn(1, 2, 6, 5, 4))
    with pytest.raises(ValueError):
        ember.nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError):
        ember.nn.FractionalMaxPool2d(2, output_ratio=1.5)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    F = ember.nn.functional
    x = randn(2, 3, 8, 7)
    for fn in [lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
               lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 3, 2, 1),
               lambda x: F.avg_pool2d(x, 2), lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
               lambda x: F.adaptive_max_pool2d(x, (3, 2)), lambda x: F.lp_pool2d(x * x, 2, 2),
               lambda x: F.fractional_max_pool2d(
                   x, 2, output_size=3, _random_samples=ember.full((2, 3, 2), 0.4,
                                                                   device=x.device))]:
        cpu_vs_cuda(fn, x)
    p, i = ember.nn.functional.max_pool2d(ember.from_numpy(x), 2, return_indices=True)
    res = [F.max_unpool2d(p.to(d), i.to(d), 2, output_size=(8, 7)).cpu().numpy()
           for d in ("cpu", "cuda")]
    np.testing.assert_array_equal(res[0], res[1])


def test_pool_blocks_over_two_threads(monkeypatch):
    """Batches big enough to be split over the intra-op threads, in several cache-sized
    blocks each: max (values, indices, gradient, ties from ReLU zeros) and avg pooling."""
    import ember._ops.pool as P
    from ember._ops import _parallel
    monkeypatch.setattr(P, "_BLOCK", 1 << 12)
    old = _parallel.num_threads()
    _parallel.set_num_threads(2)
    try:
        x = np.maximum(randn(24, 16, 34, 34), 0)     # many all-zero windows: ties
        check(lambda m, x: m.nn.functional.max_pool2d(x, 2), x)
        check(lambda m, x: m.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True)[1], x,
              grad=False)
        check(lambda m, x: m.nn.functional.max_pool2d(x, 3, 2, 1), x)
        check(lambda m, x: m.nn.functional.avg_pool2d(x, 3, 2, 1), x)
    finally:
        _parallel.set_num_threads(old)
