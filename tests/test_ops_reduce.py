"""Reductions and scans against PyTorch: dim forms (int, tuple, negative,
none), keepdim, dtype=, NaN handling, ties, 0-dim and empty inputs, errors and
gradients (incl. gradcheck in float64)."""
import math
import warnings

import numpy as np
import pytest
import torch
from reference import check, check_raises, gradcheck, rand, randint, randn

import ember

NAN, INF = math.nan, math.inf


@pytest.fixture(autouse=True)
def _quiet():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def with_nans(*shape, frac=0.3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    x[rng.random(shape) < frac] = np.nan
    return x


DIMS = [None, 0, -1, (0, 2), (-1, 1), ()]


@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "nansum", "mean", "nanmean", "prod", "amax", "amin",
                                  "logsumexp", "std", "var", "count_nonzero", "all", "any",
                                  "norm"])
def test_dim_forms(name, dim, keepdim):
    if name == "logsumexp" and dim in (None, ()):
        pytest.skip("logsumexp requires dim (and torch fails on dim=())")
    if name == "prod" and isinstance(dim, tuple):
        pytest.skip("torch.prod takes one dim (ember's several: test_prod_backward)")
    x = randn(2, 3, 4)
    x[0, 1, :2] = 0

    def f(m, x):
        if name == "count_nonzero":
            return m.count_nonzero(x, dim)
        if name == "norm":
            return m.norm(x, 2, dim, keepdim)
        if dim is None and name not in ("amax", "amin", "std", "var", "all", "any"):
            return getattr(m, name)(x)
        return getattr(m, name)(x, dim, keepdim=keepdim)
    # (torch's std/var backward divides by zero for dim=(): not compared)
    check(f, x, grad=name not in ("all", "any", "count_nonzero") and
          not (name in ("std", "var") and dim == ()))


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmedian", "nanquantile", "sum", "mean",
                                  "median", "quantile", "amax", "logsumexp", "cummax",
                                  "logcumsumexp", "norm"])
def test_nan_handling(name):
    x = with_nans(4, 5)
    x[2] = np.nan
    q = {"nanquantile": (0.3,), "quantile": (0.7,)}.get(name, ())
    dim = () if name in ("median", "nanmedian") else (1,) if name in ("cummax", "logcumsumexp",
                                                                        "logsumexp") else None
    # quantile's gradient goes to one of the NaNs; which one follows torch's unstable sort
    grad = name != "quantile"
    if name in ("median", "nanmedian", "nanquantile", "quantile"):
        check(lambda m, x: getattr(m, name)(x, *q, dim=1), x, grad=grad)
    check(lambda m, x: getattr(m, name)(x, *q, *(dim or ())), x, grad=grad)


@pytest.mark.parametrize("fn", [
    lambda m, x: x.sum(0), lambda m, x: x.sum(-1, keepdim=True), lambda m, x: x.prod(0),
    lambda m, x: x.mean(0, keepdim=True), lambda m, x: x.amax(-1), lambda m, x: x.max(0),
    lambda m, x: x.min(-1, keepdim=True), lambda m, x: x.argmax(0), lambda m, x: x.median(0),
    lambda m, x: x.kthvalue(1, 0), lambda m, x: x.mode(0), lambda m, x: x.cumsum(0),
    lambda m, x: x.cumprod(-1), lambda m, x: x.cummax(0), lambda m, x: x.logcumsumexp(0),
    lambda m, x: x.logsumexp(0), lambda m, x: x.var(0), lambda m, x: x.std(0, correction=0),
    lambda m, x: x.norm(dim=0), lambda m, x: m.quantile(x, 0.5, dim=0, keepdim=True),
    lambda m, x: x.count_nonzero(0), lambda m, x: x.all(0), lambda m, x: x.aminmax(dim=0),
    lambda m, x: m.nansum(x, 0), lambda m, x: x.nanmedian(-1),
])
def test_zero_dim_input(fn):
    check(fn, np.array(1.5, dtype=np.float32))


@pytest.mark.parametrize("fn", [
    lambda m, x: x.sum(), lambda m, x: x.sum(1), lambda m, x: x.prod(1), lambda m, x: x.mean(1),
    lambda m, x: x.nansum(1), lambda m, x: x.amax(0), lambda m, x: x.logsumexp(1),
    lambda m, x: x.cumsum(1), lambda m, x: x.cummax(1), lambda m, x: x.norm(),
    lambda m, x: x.median(), lambda m, x: x.count_nonzero(), lambda m, x: m.diff(x, dim=1),
    lambda m, x: m.trapezoid(x), lambda m, x: m.cumulative_trapezoid(x),
])
def test_empty_input(fn):
    check(fn, np.zeros((3, 0), np.float32))
    check(lambda m, x: (m.histc(x, 4), m.histogram(x, 3)), np.zeros((3, 0), np.float32),
          grad=False)


@pytest.mark.parametrize("fn", [
    lambda m, x: x.amax(1), lambda m, x: x.max(), lambda m, x: x.argmax(1),
    lambda m, x: x.median(1), lambda m, x: x.kthvalue(1, 1), lambda m, x: x.mode(1),
    lambda m, x: m.quantile(x, 0.5), lambda m, x: x.norm(INF, 1), lambda m, x: x.aminmax(),
])
def test_empty_input_errors(fn):
    check_raises(fn, np.zeros((3, 0), np.float32))


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda m, x: x.sum(), lambda m, x: x.sum(0, dtype=m.float64), lambda m, x: x.prod(1),
    lambda m, x: x.cumsum(0), lambda m, x: x.cumprod(0, dtype=m.float32),
    lambda m, x: x.nansum(0), lambda m, x: x.mean(dtype=m.float32), lambda m, x: x.amax(0),
    lambda m, x: x.max(1), lambda m, x: x.median(0), lambda m, x: x.mode(0),
    lambda m, x: x.kthvalue(2, 0), lambda m, x: x.cummin(1), lambda m, x: x.count_nonzero(0),
    lambda m, x: x.all(1), lambda m, x: x.any(), lambda m, x: m.diff(x, 2, 0),
    lambda m, x: m.trapezoid(x), lambda m, x: m.cumulative_trapezoid(x, dx=0.5),
    lambda m, x: x.logsumexp(1), lambda m, x: x.aminmax(dim=1),
])
@pytest.mark.parametrize("dt", [np.int64, np.int32, np.uint8, np.int8])
def test_integer_inputs(fn, dt):
    check(fn, randint(0, 5, 4, 6).astype(dt), grad=False)


@pytest.mark.parametrize("fn", [
    lambda m, x: x.mean(), lambda m, x: x.std(), lambda m, x: x.var(0), lambda m, x: x.norm(),
    lambda m, x: m.quantile(x, 0.5), lambda m, x: x.nanmean(), lambda m, x: x.logcumsumexp(0),
    lambda m, x: m.histc(x), lambda m, x: m.bincount(x.flatten().float()),
    lambda m, x: m.dist(x, x),
])
def test_integer_inputs_rejected(fn):
    check_raises(fn, randint(0, 5, 4, 6))


@pytest.mark.parametrize("fn", [
    lambda m, x: x.sum(0), lambda m, x: x.mean(1), lambda m, x: x.prod(0), lambda m, x: x.std(1),
    lambda m, x: x.var(0, keepdim=True), lambda m, x: x.nansum(), lambda m, x: x.nanmean(0),
    lambda m, x: x.amax(1), lambda m, x: x.max(0), lambda m, x: x.median(1),
    lambda m, x: x.cumsum(1), lambda m, x: x.logsumexp(1), lambda m, x: x.norm(dim=1),
    lambda m, x: x.cummax(0), lambda m, x: x.logcumsumexp(1), lambda m, x: m.histc(x, 5),
    lambda m, x: m.diff(x), lambda m, x: m.trapezoid(x),
])
@pytest.mark.parametrize("dt", [np.float16, "bfloat16"])
def test_half_inputs(fn, dt):
    import ml_dtypes
    x = with_nans(4, 6, frac=0.0).astype(ml_dtypes.bfloat16 if dt == "bfloat16" else dt)
    check(fn, x, grad=False)


def test_bool_inputs():
    b = randint(0, 2, 4, 5).astype(bool)
    for fn in (lambda m, x: x.sum(1), lambda m, x: x.prod(), lambda m, x: x.all(0),
               lambda m, x: x.any(1, keepdim=True), lambda m, x: x.count_nonzero(),
               lambda m, x: x.amax(0), lambda m, x: x.cumsum(1), lambda m, x: m.diff(x, dim=0),
               lambda m, x: x.max(1), lambda m, x: x.mode(1), lambda m, x: x.cummax(1)):
        check(fn, b, grad=False)
    for fn in (lambda m, x: x.mean(), lambda m, x: x.argmax(), lambda m, x: x.median(),
               lambda m, x: x.kthvalue(1), lambda m, x: m.trapezoid(x)):
        check_raises(fn, b)


# ---------------------------------------------------------------------------
# prod (zeros and several dims)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [None, 1, (0, 2), (1, 2), (0, 1, 2), (-1, 0)], ids=str)
@pytest.mark.parametrize("zeros", [0, 1, 2])
def test_prod_backward(dim, zeros):
    x = rand(3, 4, 2, low=0.5, high=1.5).astype(np.float64)
    x.reshape(-1)[[5, 13][:zeros]] = 0
    if dim is None:
        check(lambda m, x: x.prod(), x)
    else:
        check(lambda m, x: x.prod(dim) if isinstance(dim, int) else
              _prod_dims(m, x, dim), x)
    f = (lambda x: x.prod()) if dim is None else (lambda x: _prod_dims(ember, x, dim))
    assert gradcheck(f, x)


def _prod_dims(m, x, dims):
    if m is torch:  # torch.prod takes one dim: reduce the dims one by one
        for d in sorted((d % x.dim() for d in dims), reverse=True):
            x = x.prod(d)
        return x
    return x.prod(dims)


def test_prod_double_backward():
    x = ember.tensor([[1.5, 0.0, 2.0], [0.5, 3.0, -1.0]], dtype=ember.float64,
                     requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda x: x.prod(1), [x])
    assert ember.autograd.gradgradcheck(lambda x: x.prod((0, 1)), [x])


# ---------------------------------------------------------------------------
# Order statistics
# ---------------------------------------------------------------------------

_MODE = [lambda m, x: x.mode(), lambda m, x: x.mode(0, True)]
_ORDER = [
    lambda m, x: x.median(), lambda m, x: x.median(1), lambda m, x: x.median(0, True),
    lambda m, x: x.nanmedian(), lambda m, x: x.nanmedian(1), lambda m, x: x.kthvalue(3),
    lambda m, x: x.kthvalue(1, 0), lambda m, x: x.kthvalue(2, 0, True), lambda m, x: x.cummax(1),
    lambda m, x: x.cummin(0), lambda m, x: x.max(1), lambda m, x: x.min(0),
    lambda m, x: x.amax(1), lambda m, x: x.argmax(1), lambda m, x: x.argmin(0),
]


@pytest.mark.parametrize("fn", _ORDER + _MODE)
@pytest.mark.parametrize("data", ["ties", "nan_ties"])
def test_ties_and_nans(fn, data):
    # small integer-valued floats: many ties, whose indices must match PyTorch
    if data == "nan_ties" and fn in _MODE:
        pytest.skip("mode with NaN: PyTorch's std::sort-based pick is unspecified")
    x = randint(0, 3, 5, 7).astype(np.float64)
    if data == "nan_ties":
        x[1, 2] = x[1, 5] = x[3, 0] = np.nan
    check(fn, x)


@pytest.mark.parametrize("dim", [0, 1])
def test_integer_ties(dim):
    x = randint(0, 4, 9, 12)
    for k in (1, 4, 9):
        check(lambda m, x: x.kthvalue(k, 0), x)
    check(lambda m, x: x.median(dim), x)
    check(lambda m, x: x.mode(dim), x)


@pytest.mark.parametrize("interp", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("q", [0.0, 0.25, 1.0, "tensor", "tensor0"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (-1, True),
                                         (0, True)])
def test_quantile(interp, q, dim, keepdim):
    x = randn(3, 5).astype(np.float64)
    qv = {"tensor": np.array([0.1, 0.5, 0.95]), "tensor0": np.array(0.3)}.get(q, q)
    for name in ("quantile", "nanquantile"):
        check(lambda m, x, q: getattr(m, name)(x, q, dim, keepdim, interpolation=interp), x, qv)


def test_quantile_gradcheck_and_errors():
    x = randn(3, 5)
    q = np.array([0.2, 0.7])
    assert gradcheck(lambda x, q: ember.quantile(x, q, dim=1), x, q)
    assert gradcheck(lambda x, q: ember.nanquantile(x, q), x, q)
    check_raises(lambda m, x: m.quantile(x, 1.5), x)
    check_raises(lambda m, x: m.quantile(x, m.tensor([0.5, 2.0])), x)
    check_raises(lambda m, x: m.quantile(x, m.tensor([0.5], dtype=m.float64)), x)
    check_raises(lambda m, x: m.quantile(x, m.tensor([[0.5]])), x)
    check_raises(lambda m, x: m.quantile(x, 0.5, interpolation="cubic"), x)
    check_raises(lambda m, x: m.quantile(x.half(), 0.5), x)


def test_order_errors():
    x = randn(3, 4)
    check_raises(lambda m, x: x.kthvalue(5, 1), x)
    check_raises(lambda m, x: x.kthvalue(0), x)
    check_raises(lambda m, x: x.median(2), x)
    check_raises(lambda m, x: x.cummax(2), x)
    check_raises(lambda m, x: x.mode(-3), x)


# ---------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0, 1, 2, 3, 0.5, 1.5, INF, -INF, -1, "fro", None])
@pytest.mark.parametrize("dim", [None, 1, (0, 1), -1], ids=str)
def test_norm(p, dim):
    x = randn(3, 4).astype(np.float64)
    x[0, 1] = 0
    x[1, 2] = -x[1, 3]   # a tie for the inf norms
    if p == "fro" and dim is not None and not isinstance(dim, tuple):
        pass
    check(lambda m, x: m.norm(x, p, dim), x)
    check(lambda m, x: x.norm(p, dim, keepdim=True), x)
    if p not in (0,):
        assert gradcheck(lambda x: ember.norm(x, p, dim), x)


def test_norm_dtype_and_dist():
    x, y = randn(3, 4), randn(4)
    check(lambda m, x: m.norm(x, dtype=m.float64), x)
    check(lambda m, x: m.norm(x, 3, dim=1, dtype=m.float64), x)
    check(lambda m, x: m.norm(x), (randn(3) + 1j * randn(3)).astype(np.complex64))
    for p in (0, 1, 2, 3.5, INF, -INF):
        check(lambda m, x, y: m.dist(x, y, p), x, y, grad=p != 0)  # torch: no p=0 gradient
        check(lambda m, x, y: x.dist(y, p=p), x.astype(np.float64), y.astype(np.float64),
              grad=p != 0)
    assert gradcheck(lambda x, y: ember.dist(x, y, 3), x, y)
    check_raises(lambda m, x: m.norm(x), randint(0, 3, 4))


# ---------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------

def test_logcumsumexp():
    x = np.array([[-INF, -INF, 0.0, 1000.0, -1000.0, 2.0], [1.0, 2.0, 3.0, -INF, INF, 0.5]])
    check(lambda m, x: x.logcumsumexp(1), x, grad=False)
    y = randn(3, 5).astype(np.float64) * 3
    check(lambda m, x: m.logcumsumexp(x, 0), y)
    check(lambda m, x: m.logcumsumexp(x, -1), y)
    assert gradcheck(lambda x: x.logcumsumexp(1), y)
    t = ember.tensor(y, requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda x: x.logcumsumexp(1), [t])


def test_cummax_cummin_gradients():
    x = randint(0, 3, 4, 5).astype(np.float64)
    check(lambda m, x: m.cummax(x, 1), x)
    check(lambda m, x: m.cummin(x, 0), x)
    x = randn(3, 4).astype(np.float64)
    assert gradcheck(lambda x: x.cummax(1).values, x)
    assert gradcheck(lambda x: x.cummin(0).values, x)
    assert gradcheck(lambda x: x.cumprod(1), x)


# ---------------------------------------------------------------------------
# diff, trapezoid
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda m, x, p: m.diff(x), lambda m, x, p: m.diff(x, 2, 0), lambda m, x, p: x.diff(n=7),
    lambda m, x, p: m.diff(x, 0), lambda m, x, p: m.diff(x, 1, -2, prepend=p, append=p),
    lambda m, x, p: m.diff(x, 3, 1, prepend=p[:, :4].t()), lambda m, x, p: m.diff(x > 0),
])
def test_diff(fn):
    check(fn, randn(4, 5), randn(2, 5))


def test_diff_errors():
    check_raises(lambda m, x: m.diff(x), np.array(1.0, np.float32))
    check_raises(lambda m, x: m.diff(x, -1), randn(3))
    check_raises(lambda m, x, p: m.diff(x, prepend=p), randn(3, 4), randn(4))


@pytest.mark.parametrize("fn", [
    lambda m, y, x: m.trapezoid(y), lambda m, y, x: m.trapezoid(y, dx=0.5),
    lambda m, y, x: m.trapezoid(y, x), lambda m, y, x: m.trapezoid(y, x[None], dim=1),
    lambda m, y, x: m.trapezoid(y.t(), x, dim=0), lambda m, y, x: m.trapz(y, x),
    lambda m, y, x: m.cumulative_trapezoid(y), lambda m, y, x: m.cumulative_trapezoid(y, x),
    lambda m, y, x: m.cumulative_trapezoid(y, dx=2.0, dim=0),
    lambda m, y, x: m.cumulative_trapezoid(y.t(), x, dim=0),
])
def test_trapezoid(fn):
    check(fn, randn(3, 5), np.sort(randn(5)))


def test_trapezoid_dtypes_and_errors():
    check(lambda m, y: m.trapezoid(y), randint(0, 5, 3, 4), grad=False)
    check(lambda m, y: m.cumulative_trapezoid(y, dx=2), randint(0, 5, 3, 4), grad=False)
    check_raises(lambda m, y, x: m.trapezoid(y, x), randn(3, 4), randn(3))
    check_raises(lambda m, y: m.trapezoid(y), randint(0, 2, 3).astype(bool))


# ---------------------------------------------------------------------------
# histc, histogram, bincount
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda m, x, w: m.histc(x), lambda m, x, w: m.histc(x, 7), lambda m, x, w: x.histc(5, -1, 1),
    lambda m, x, w: m.histc(x, 3, 2, 2), lambda m, x, w: m.histc(x * 0 + 1, 4),
    lambda m, x, w: m.histogram(x, 6), lambda m, x, w: m.histogram(x, 4, range=(-1.0, 1.0)),
    lambda m, x, w: m.histogram(x, 5, weight=w), lambda m, x, w: x.histogram(5, density=True),
    lambda m, x, w: m.histogram(x, m.tensor([-2.0, -0.5, 0.0, 0.3, 2.0], dtype=x.dtype)),
    lambda m, x, w: m.histogram(x, 3, weight=w, density=True),
    lambda m, x, w: m.histogram(x * 0 + 2, 4),
])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_histograms(fn, dt):
    x = randn(40).astype(dt)
    x[:5] = [-1.0, 1.0, 0.0, 2.0, -2.0]  # values on bin edges
    check(fn, x, rand(40).astype(dt), grad=False)


def test_histogram_errors():
    x = randn(10)
    check_raises(lambda m, x: m.histc(x, 0), x)
    check_raises(lambda m, x: m.histc(x, 5, 2, 1), x)
    check_raises(lambda m, x: m.histc(x, 5, -INF, 1), x)
    check_raises(lambda m, x: m.histogram(x, 5, range=(1.0, 0.0)), x)
    check_raises(lambda m, x: m.histogram(x, 5, weight=x[:3]), x)
    check_raises(lambda m, x: m.histc(x), randint(0, 4, 5))
    check_raises(lambda m, x: m.histogram(x, m.tensor([0.0, 1.0], dtype=m.float64)), x)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.bincount(x), lambda m, x: x.bincount(minlength=12),
    lambda m, x: m.bincount(x, m.ones(x.shape[0], dtype=m.float32) * 0.5),
    lambda m, x: m.bincount(x, m.arange(x.shape[0])), lambda m, x: m.bincount(x[:0]),
    lambda m, x: m.bincount(x, m.ones(x.shape[0], dtype=m.float64), 3),
    lambda m, x: m.bincount(x.to(m.uint8)),
])
def test_bincount(fn):
    check(fn, randint(0, 8, 20), grad=False)


def test_bincount_errors():
    check_raises(lambda m, x: m.bincount(x), np.array([1, -1]))
    check_raises(lambda m, x: m.bincount(x), randint(0, 3, 2, 2))
    check_raises(lambda m, x: m.bincount(x, minlength=-1), randint(0, 3, 4))
    check_raises(lambda m, x: m.bincount(x, m.ones(3)), randint(0, 3, 4))
    check_raises(lambda m, x: m.bincount(x.float()), randint(0, 3, 4))


# ---------------------------------------------------------------------------
# Gradients of the rest
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda x: x.nansum(1), lambda x: x.nanmean(0), lambda x: x.median(),
    lambda x: x.median(1).values, lambda x: x.nanmedian(0).values, lambda x: x.mode(1).values,
    lambda x: x.kthvalue(2, 1).values, lambda x: ember.std_mean(x, 1)[0],
    lambda x: ember.var_mean(x, (0, 1), correction=0)[1], lambda x: x.aminmax(dim=0).max,
    lambda x: x.logsumexp((0, 1)), lambda x: ember.diff(x, 2, prepend=x[:, :1]),
    lambda x: ember.trapezoid(x, x[0].cumsum(0)), lambda x: ember.cumulative_trapezoid(x),
])
def test_gradcheck_reductions(fn):
    x = randn(3, 4).astype(np.float64)
    assert gradcheck(fn, x)


def test_nansum_gradient_keeps_infs():
    # nansum's gradient is 1 wherever the input is not NaN (inf included)
    check(lambda m, x: m.nansum(x, 1), np.array([[1.0, NAN, INF], [-INF, 2.0, NAN]]))
