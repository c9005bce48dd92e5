"""Elementwise math, comparison and logic ops against PyTorch: special values,
dtype rules, in-place forms, errors and gradients the OpInfo samples miss."""
import math
import sys
import warnings

import numpy as np
import pytest
import torch
from reference import check, check_raises, gradcheck, rand, randint, randn

import ember

INF, NAN = math.inf, math.nan


@pytest.fixture(autouse=True)
def _quiet():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def special(*v, dtype=np.float32):
    return np.array(v, dtype=dtype)


EDGE = special(0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 20.0, -20.0, INF, -INF, NAN)


# ---------------------------------------------------------------------------
# Special functions at their edges
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda m, x: m.erf(x), lambda m, x: m.erfc(x), lambda m, x: x.lgamma(),
    lambda m, x: x.digamma(), lambda m, x: m.i0(x), lambda m, x: m.sinc(x),
    lambda m, x: m.special.erf(x) if m is torch else m.erf(x),
    lambda m, x: m.polygamma(0, x), lambda m, x: m.polygamma(2, x),
    lambda m, x: x.polygamma(3), lambda m, x: m.angle(x), lambda m, x: m.nan_to_num(x),
    lambda m, x: m.nan_to_num(x, nan=1.5, posinf=2.0), lambda m, x: x.nan_to_num(neginf=-7.0),
    lambda m, x: m.round(x), lambda m, x: m.logit(x), lambda m, x: m.logit(x, 0.25),
    lambda m, x: m.frexp(x), lambda m, x: m.signbit(x), lambda m, x: m.isreal(x),
    lambda m, x: m.heaviside(x, m.tensor(0.5)), lambda m, x: m.float_power(x, 2),
], ids=lambda f: "")
def test_special_values(fn):
    check(fn, EDGE, grad=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_erfinv_and_logit_domain(dtype):
    x = special(-1.0, -0.999, -0.5, 0.0, 0.3, 0.999, 1.0, 1.5, NAN, dtype=dtype)
    check(lambda m, x: m.erfinv(x), x, grad=False)
    check(lambda m, x: m.logit(x), x, grad=False)
    check(lambda m, x: m.logit(x, 1e-3), x, grad=False)


def test_mvlgamma():
    x = rand(3, 4, low=2.0, high=5.0).astype(np.float64)
    for p in (1, 2, 4):
        check(lambda m, x: m.mvlgamma(x, p), x)
        check(lambda m, x: x.mvlgamma(p=p), x)
    check(lambda m, x: m.mvlgamma(x, 4), special(0.5, 3.0, -1.25), grad=False)  # no domain check
    check_raises(lambda m, x: m.mvlgamma(x, 0), special(3.0))


def test_polygamma_forms():
    x = rand(5, low=0.5, high=3.0).astype(np.float64)
    for n in range(4):
        check(lambda m, x: m.polygamma(n, x), x)
    check(lambda m, x: x.clone().polygamma_(2), x, grad=False)
    check_raises(lambda m, x: m.polygamma(-1, x), x)


@pytest.mark.parametrize("decimals", [0, 1, 3, -1, -2])
def test_round_decimals(decimals):
    x = special(0.5, 1.5, 2.5, -0.5, 1234.5678, -0.125, 0.045, 99.95, 1e-4, NAN, INF)
    check(lambda m, x: m.round(x, decimals=decimals), x, grad=False)
    check(lambda m, x: m.round(x, decimals=decimals), x.astype(np.float64), grad=False)
    check(lambda m, x: x.round(decimals=decimals), randn(4, 3).astype(np.float64) * 100)


def test_round_integers():
    check(lambda m, x: m.round(x), randint(-5, 5, 4), grad=False)
    check_raises(lambda m, x: m.round(x, decimals=1), randint(-5, 5, 4))
    check_raises(lambda m, x: m.round(x), randint(0, 2, 4).astype(bool))


# ---------------------------------------------------------------------------
# dtype rules
# ---------------------------------------------------------------------------

INT = randint(-4, 5, 6)
BOOL = randint(0, 2, 6).astype(bool)


@pytest.mark.parametrize("name", ["erf", "erfc", "lgamma", "digamma", "i0", "sinc", "exp",
                                  "sigmoid", "logit", "angle", "sqrt", "deg2rad"])
@pytest.mark.parametrize("x", [INT, BOOL, randint(0, 9, 6).astype(np.uint8)],
                         ids=["int64", "bool", "uint8"])
def test_integer_inputs_give_default_float(name, x):
    check(lambda m, x: getattr(m, name)(x), x, grad=False)


@pytest.mark.parametrize("name", ["erf", "lgamma", "digamma", "sinc", "logit", "angle",
                                  "nan_to_num", "round", "frac", "i0", "erfinv"])
@pytest.mark.parametrize("dt", [np.float16, "bfloat16"])
def test_half_inputs_keep_dtype(name, dt):
    import ml_dtypes
    x = rand(8, low=-0.9, high=0.9).astype(ml_dtypes.bfloat16 if dt == "bfloat16" else dt)
    check(lambda m, x: getattr(m, name)(x), x, grad=False)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.abs(x), lambda m, x: m.square(x), lambda m, x: m.sign(x),
    lambda m, x: m.sgn(x), lambda m, x: m.positive(x), lambda m, x: m.nan_to_num(x),
    lambda m, x: m.ceil(x), lambda m, x: m.trunc(x), lambda m, x: m.signbit(x),
    lambda m, x: m.float_power(x, 2), lambda m, x: m.float_power(2, x),
    lambda m, x: m.heaviside(x, x), lambda m, x: m.isreal(x),
    lambda m, x: m.isin(x, m.tensor([1, 2])), lambda m, x: m.isin(x, 2, invert=True),
    lambda m, x: m.bitwise_left_shift(x, 2), lambda m, x: x >> 1, lambda m, x: ~x,
    lambda m, x: m.gcd(x, m.tensor(6)), lambda m, x: m.addcmul(x, x, x, value=2),
    lambda m, x: m.equal(x, x.clone()), lambda m, x: m.isclose(x, x + 1, atol=1),
    lambda m, x: m.clamp(x, -1, 2),
])
def test_integer_results(fn):
    check(fn, INT, grad=False)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.abs(x), lambda m, x: m.neg(x), lambda m, x: m.ceil(x),
    lambda m, x: m.frac(x), lambda m, x: m.positive(x), lambda m, x: m.round(x),
    lambda m, x: m.clamp(x, min=True), lambda m, x: m.addcmul(x, x, x),
    lambda m, x: m.bitwise_left_shift(x, x), lambda m, x: m.gcd(x, x),
    lambda m, x: m.argmax(x), lambda m, x: m.median(x), lambda m, x: m.cumsum(x, 0,
                                                                              dtype=m.bool),
])
def test_bool_unsupported(fn):
    check_raises(fn, BOOL)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.square(x), lambda m, x: m.sign(x), lambda m, x: m.sgn(x),
    lambda m, x: m.clamp_min(x, x), lambda m, x: m.bitwise_and(x, x), lambda m, x: ~x,
    lambda m, x: m.isin(x.long(), m.tensor([1])), lambda m, x: m.nan_to_num(x),
    lambda m, x: m.mode(x), lambda m, x: m.cummax(x, 0), lambda m, x: m.logical_xor(x, x),
])
def test_bool_results(fn):
    check(fn, BOOL, grad=False)


C = (randn(6) + 1j * randn(6)).astype(np.complex64)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.abs(x), lambda m, x: m.angle(x), lambda m, x: m.sgn(x),
    lambda m, x: m.sinc(x), lambda m, x: m.isreal(x), lambda m, x: m.nan_to_num(x),
    lambda m, x: m.logaddexp(x, x * 2), lambda m, x: m.float_power(x, 2),
    lambda m, x: m.isclose(x, x * (1 + 1e-6)), lambda m, x: m.lerp(x, x * 2, 0.25),
    lambda m, x: m.addcdiv(x, x, x + 1, value=0.5), lambda m, x: m.logsumexp(x, 0),
    lambda m, x: m.logcumsumexp(x * 3, 0),
])
def test_complex(fn):
    check(fn, C, grad=False)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.erf(x), lambda m, x: m.sign(x), lambda m, x: m.round(x),
    lambda m, x: m.clamp(x, 0, 1), lambda m, x: m.maximum(x, x), lambda m, x: x < x,
    lambda m, x: m.atan2(x, x), lambda m, x: m.amax(x), lambda m, x: m.argmax(x),
    lambda m, x: m.cummax(x, 0), lambda m, x: m.heaviside(x, x), lambda m, x: m.floor(x),
    lambda m, x: m.isposinf(x), lambda m, x: m.isin(x, x), lambda m, x: m.median(x),
    lambda m, x: m.xlogy(x, x), lambda m, x: m.logaddexp2(x, x),
])
def test_complex_unsupported(fn):
    check_raises(fn, C)


# ---------------------------------------------------------------------------
# lerp, addcmul, addcdiv, float_power, heaviside, frexp
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda m, a, b, w: m.lerp(a, b, 0.3), lambda m, a, b, w: m.lerp(a, b, 0.7),
    lambda m, a, b, w: m.lerp(a, b, w), lambda m, a, b, w: a.lerp(b[0], w[:, :1]),
    lambda m, a, b, w: m.addcmul(a, b, w, value=-1.5), lambda m, a, b, w: a.addcmul(b[0], w),
    lambda m, a, b, w: m.addcdiv(a, b, w + 3, value=0.5),
    lambda m, a, b, w: m.addcdiv(a[0], b, w.abs() + 1),
])
def test_ternary(fn):
    a, b, w = randn(3, 4), randn(3, 4), rand(3, 4)
    check(fn, a, b, w)
    check(fn, a.astype(np.float64), b.astype(np.float64), w.astype(np.float64))


def test_ternary_errors():
    check_raises(lambda m, a, b: m.lerp(a, b, 0.5), randn(3), randn(3).astype(np.float64))
    check_raises(lambda m, a, b: m.lerp(a, a, b), randn(3), randn(3).astype(np.float64))
    check_raises(lambda m, a: m.lerp(a, a, 0.5), randint(0, 3, 3))
    check_raises(lambda m, a: m.addcdiv(a.float(), a, a), randint(1, 3, 3))
    check_raises(lambda m, a, b: m.addcmul(a, b, b), randn(3), randn(4))
    check(lambda m, a: m.addcdiv(a, a.float(), a.float() + 1), randint(1, 3, 3), grad=False)
    check(lambda m, a, b: m.lerp(a, a * 2, b), randn(3), np.float64(0.25) + np.zeros(()))


def test_float_power():
    x = rand(5, low=0.5, high=2).astype(np.float32)
    check(lambda m, x: m.float_power(x, 2.5), x)
    check(lambda m, x: m.float_power(x, x), x)
    check(lambda m, x: m.float_power(3, x), x)
    check(lambda m, x: m.float_power(x, 2j), x, grad=False)
    check(lambda m, x: x.double().float_power_(2), x, grad=False)
    check_raises(lambda m, x: x.clone().float_power_(2), x)


def test_heaviside_and_frexp_errors():
    check_raises(lambda m, x, y: m.heaviside(x, y), randn(3), randn(3).astype(np.float64))
    check_raises(lambda m, x: m.frexp(x), randint(0, 4, 3))
    e = ember.frexp(ember.tensor([8.0, -3.5]))
    assert e.mantissa.tolist() == [0.5, -0.875] and e.exponent.dtype is ember.int32


def test_not_implemented_derivatives():
    # PyTorch keeps requires_grad on these outputs and fails in backward; so does ember.
    for f in (lambda m, x: m.heaviside(x, x), lambda m, x: m.floor_divide(x, x + 3)):
        x = ember.randn(3, requires_grad=True)
        y = f(ember, x)
        assert y.requires_grad
        with pytest.raises(RuntimeError, match="not implemented"):
            y.sum().backward()
    check(lambda m, x: m.div(x, x + 3, rounding_mode="floor"), randn(3))


# ---------------------------------------------------------------------------
# Comparison and logic
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda m, x, y: m.isclose(x, y), lambda m, x, y: m.isclose(x, y, rtol=0, atol=0),
    lambda m, x, y: m.isclose(x, y, equal_nan=True), lambda m, x, y: x.isclose(y, atol=0.1),
    lambda m, x, y: m.allclose(x, y), lambda m, x, y: m.allclose(x, x, equal_nan=True),
    lambda m, x, y: m.allclose(x, x), lambda m, x, y: m.equal(x, y), lambda m, x, y: x.equal(x),
    lambda m, x, y: m.equal(x, x[:2]), lambda m, x, y: m.isin(x, y),
    lambda m, x, y: m.isin(x, y, invert=True), lambda m, x, y: m.isin(1.0, y),
    lambda m, x, y: m.isin(x, 1.0), lambda m, x, y: m.isin(x, x[::2], assume_unique=True),
])
def test_closeness_and_membership(fn):
    x = special(1.0, 2.0, NAN, INF, -INF, 0.0, 1e-9, 3.0)
    y = special(1.0 + 1e-6, 2.1, NAN, INF, INF, 1e-9, 0.0, 3.0)
    check(fn, x, y, grad=False)


def test_closeness_dtypes_and_errors():
    a = randint(0, 200, 8).astype(np.uint8)
    b = randint(0, 200, 8).astype(np.uint8)
    check(lambda m, a, b: m.isclose(a, b, atol=50), a, b)
    check(lambda m, a: m.isclose(a, a, rtol=0.5), BOOL)
    check(lambda m, a, b: m.equal(a, b), INT, INT.astype(np.float32))
    check_raises(lambda m, a, b: m.isclose(a, b), randn(3), randn(3).astype(np.float64))
    check_raises(lambda m, a: m.isclose(a, a, rtol=-1), randn(3))
    check_raises(lambda m, a: m.isclose(a, 1.0), randn(3))
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2])) is True


@pytest.mark.parametrize("fn", [
    lambda m, c, x, y: m.where(c, x, y), lambda m, c, x, y: m.where(c, x, 0.5),
    lambda m, c, x, y: m.where(c, 1.0, 0.0), lambda m, c, x, y: m.where(c, 2, y),
    lambda m, c, x, y: m.where(c), lambda m, c, x, y: x.where(c, y),
    lambda m, c, x, y: m.where(c[0], x, y[:, :1]),
])
def test_where_forms(fn):
    check(fn, randint(0, 2, 3, 4).astype(bool), randn(3, 4), randn(3, 4))


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.int64])
def test_shifts_past_width(dt):
    x = np.array([1, 3, 100, 127], dtype=dt)
    s = np.array([0, 7, 8, 70], dtype=dt)
    check(lambda m, x, s: m.bitwise_left_shift(x, s), x, s)
    check(lambda m, x, s: m.bitwise_right_shift(x, s), x, s)
    if dt is not np.uint8:
        check(lambda m, x, s: (-x) >> s, x, s)


# ---------------------------------------------------------------------------
# In-place forms, gradients, double backward
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda m, x: x.erf_(), lambda m, x: x.erfc_(), lambda m, x: x.lgamma_(),
    lambda m, x: x.digamma_(), lambda m, x: x.i0_(), lambda m, x: x.sinc_(),
    lambda m, x: x.logit_(0.1), lambda m, x: x.mvlgamma_(1), lambda m, x: x.round_(decimals=1),
    lambda m, x: x.nan_to_num_(), lambda m, x: x.lerp_(x * 2, 0.3),
    lambda m, x: x.addcmul_(x, x, value=0.5), lambda m, x: x.addcdiv_(x, x + 2),
    lambda m, x: x.heaviside_(x), lambda m, x: x.float_power_(2), lambda m, x: x.erfinv_(),
    lambda m, x: x.square_(), lambda m, x: x.xlogy_(x), lambda m, x: x.sgn_(),
])
def test_inplace(fn):
    # in-place on a non-leaf: returns self with the op's values, bumps the version
    def f(m, x):
        y = x * 1
        v = _version(y)
        out = fn(m, y)
        assert out is y and _version(y) > v
        return y
    check(f, rand(3, 4, low=0.05, high=0.95).astype(np.float64), grad=False)


@pytest.mark.parametrize("fn", [
    lambda m, y, a: y.lerp_(a, 0.3), lambda m, y, a: y.addcmul_(a, a, value=0.5),
    lambda m, y, a: y.addcdiv_(a, a + 2), lambda m, y, a: y.round_(decimals=1),
])
def test_inplace_gradients(fn):
    def f(m, x, a):
        y = x * 1
        fn(m, y, a)
        return y * a
    check(f, randn(3, 4).astype(np.float64), rand(3, 4).astype(np.float64))


@pytest.mark.parametrize("fn", [lambda y: y.erf_(), lambda y: y.logit_(), lambda y: y.digamma_(),
                                lambda y: y.nan_to_num_()])
def test_inplace_that_overwrites_a_saved_input_fails_backward(fn):
    # as in PyTorch, these rules need the input the in-place op overwrote
    check_raises(lambda m, x: fn(x * 1).sum().backward(), rand(3).astype(np.float64) + 0.1)


def _version(t):
    v = t._version
    return v if isinstance(v, int) else v[0]  # ember keeps a shared [counter]


@pytest.mark.parametrize("fn", [
    lambda x: x.erf(), lambda x: x.lgamma(), lambda x: x.digamma(), lambda x: x.i0(),
    lambda x: x.sinc(), lambda x: x.logit(), lambda x: x.erfinv(),
    lambda x: x.lerp(x * x, x), lambda x: ember.addcdiv(x, x, x + 2),
    lambda x: ember.polygamma(1, x), lambda x: x.mvlgamma(2),
])
def test_double_backward(fn):
    x = ember.tensor(np.linspace(0.6, 0.9, 4), requires_grad=True)
    assert ember.autograd.gradgradcheck(fn, [x])


def test_gradcheck_new_ops():
    x = rand(4, low=0.1, high=0.9)
    assert gradcheck(lambda x: x.logit(0.2), x)
    assert gradcheck(lambda x: ember.nan_to_num((x - 0.5).log()), x)
    assert gradcheck(lambda x, w: ember.lerp(x, x.flip(0), w), x, rand(4))
    assert gradcheck(lambda x: ember.float_power(x, x), x)
    assert gradcheck(lambda x: ember.frexp(x * 10).mantissa, x)


def test_scipy_is_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    with pytest.raises(ImportError, match=r"ember\[scipy\]"):
        ember.erf(ember.ones(2))
    assert ember.sinc(ember.ones(2)).shape == (2,)  # NumPy-only ops keep working
