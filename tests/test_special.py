"""ember.special against torch.special: values on each function's domain,
gradients where PyTorch defines them, and gradcheck."""
import sys

import numpy as np
import pytest
from reference import check, check_raises, gradcheck, rand, randn

import ember

F64 = np.float64


def real(*s):
    return (randn(*s) * 2).astype(F64)


def pos(*s):
    return rand(*s, low=0.1, high=4.0).astype(F64)


def unit(*s):
    return rand(*s, low=0.02, high=0.98).astype(F64)


UNARY = [  # name, domain, differentiable in PyTorch
    ("erf", real, True), ("erfc", real, True), ("erfcx", real, True), ("erfinv", unit, True),
    ("expit", real, True), ("exp2", real, True), ("expm1", real, True), ("log1p", pos, True),
    ("logit", unit, True), ("log_ndtr", real, True), ("ndtr", real, True), ("ndtri", unit, True),
    ("gammaln", pos, True), ("digamma", pos, True), ("psi", pos, True), ("i0", real, True),
    ("i0e", real, True), ("i1", real, True), ("i1e", real, True), ("entr", pos, True),
    ("sinc", real, True), ("round", real, True),
    ("bessel_j0", real, False), ("bessel_j1", real, False), ("bessel_y0", pos, False),
    ("bessel_y1", pos, False), ("modified_bessel_i0", real, False),
    ("modified_bessel_i1", real, False), ("modified_bessel_k0", pos, False),
    ("modified_bessel_k1", pos, False), ("scaled_modified_bessel_k0", pos, False),
    ("scaled_modified_bessel_k1", pos, False), ("spherical_bessel_j0", real, False),
    ("airy_ai", real, False),
]


@pytest.mark.parametrize("name,dom,diff", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, dom, diff):
    # PyTorch's float64 Bessel/Airy kernels are good to ~1e-6 (SciPy's, used here, to 1e-15)
    tol = {} if diff else dict(rtol=1e-5, atol=2e-6)
    check(lambda m, x: getattr(m.special, name)(x), dom(3, 5), **tol)
    check(lambda m, x: getattr(m.special, name)(x), dom(7).astype(np.float32))
    if diff and name != "round":
        assert gradcheck(lambda x: getattr(ember.special, name)(x), dom(4))


def test_edge_values():
    check(lambda m, x: m.special.entr(x), np.array([0.0, -1.0, 2.0, np.nan]))
    check(lambda m, x: m.special.i1e(x), np.array([0.0, 1e-3, -2.0, 30.0]))
    check(lambda m, x: m.special.i0e(x), np.array([0.0, -1e-3, 2.0, 300.0]))
    check(lambda m, x: m.special.ndtri(x), np.array([0.0, 1.0, 0.5]), grad=False)
    check(lambda m, x: m.special.log_ndtr(x), np.array([-40.0, 0.0, 10.0]))
    check(lambda m, x: m.special.erfcx(x), np.array([-3.0, 0.0, 50.0]))
    check(lambda m, x: m.special.spherical_bessel_j0(x), np.array([0.0, 1e-8, 3.0]), grad=False)
    check(lambda m, x: m.special.erfcx(x), np.arange(4), grad=False)  # integers -> float


BINARY = [
    ("xlogy", lambda *s: rand(*s, low=0, high=2).astype(F64), pos, True),
    ("xlog1py", real, pos, True),
    ("zeta", lambda *s: rand(*s, low=1.5, high=4).astype(F64), pos, False),
    ("gammainc", pos, pos, False), ("gammaincc", pos, pos, False),
]


@pytest.mark.parametrize("name,da,db,both", BINARY, ids=[b[0] for b in BINARY])
def test_binary(name, da, db, both):
    a, b = da(3, 4), db(4)
    if both:
        check(lambda m, x, y: getattr(m.special, name)(x, y), a, b)
    else:  # PyTorch differentiates only the second argument
        check(lambda m, x, y: getattr(m.special, name)(x.detach(), y), a, b)
        check_raises(lambda m, x, y: getattr(m.special, name)(x, y.detach()).sum().backward(),
                     a, b)
    if name.startswith("gamma"):  # tensor arguments are required, as in PyTorch
        check_raises(lambda m, y: getattr(m.special, name)(2.0, y), b)
        check_raises(lambda m, x: getattr(m.special, name)(x, 0.5), a)
    else:
        check(lambda m, y: getattr(m.special, name)(2.0, y), b)
        check(lambda m, x: getattr(m.special, name)(x, 0.5), a, grad=False)
    assert gradcheck(lambda y: getattr(ember.special, name)(ember.tensor(a), y), b)


def test_xlog1py_zero():
    check(lambda m, x, y: m.special.xlog1py(x, y), np.array([0.0, 0.0, 1.0]),
          np.array([-1.0, np.nan, 2.0]))


POLY = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
        "chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
        "laguerre_polynomial_l", "legendre_polynomial_p", "shifted_chebyshev_polynomial_t",
        "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
        "shifted_chebyshev_polynomial_w"]


@pytest.mark.parametrize("name", POLY)
def test_polynomials(name):
    f = getattr
    x = np.concatenate([randn(6), [-1.0, 1.0, 0.0, 0.5, 1.5, -2.0]]).astype(F64)
    n = np.array([0, 1, 2, 3, 5, 7, 9, 12, 15, -1, 4, 10], dtype=F64)
    check(lambda m, x, n: f(m.special, name)(x, n), x, n, grad=False)
    check(lambda m, x, n: f(m.special, name)(x[:, None], n), x.astype(np.float32), n, grad=False)
    check(lambda m, x: f(m.special, name)(x, 3), x, grad=False)
    check(lambda m, x: f(m.special, name)(x, 2.7), x, grad=False)
    check(lambda m, n: f(m.special, name)(0.25, n), n, grad=False)
    check(lambda m, x, n: f(m.special, name)(x, n), np.arange(4), np.arange(4), grad=False)
    y = f(ember.special, name)(ember.tensor(x, requires_grad=True), 3)
    assert not y.requires_grad  # not differentiable, as in PyTorch


def test_composites():
    x = pos(3, 4)
    check(lambda m, x: m.special.multigammaln(x + 1, 3), x)
    check(lambda m, x: m.special.polygamma(2, x), x)
    check(lambda m, x: m.special.logsumexp(x, 1), x)
    check(lambda m, x: m.special.softmax(x, 0), x)
    # computed in float32 (dtype=), so compared at float32's tolerance, also for the
    # float64 input's gradient (it varied by float32 rounding, 1e-6 relative)
    check(lambda m, x: m.special.log_softmax(x, 1, dtype=m.float32), x, grad_rtol=1e-4,
          grad_atol=2e-5)
    check(lambda m, x: m.special.round(x * 10, decimals=1), x, grad=False)


def test_double_backward():
    check(lambda m, x: m.autograd.grad(m.special.i1e(x).sum(), x, create_graph=True)[0],
          real(5))
    check(lambda m, x: m.autograd.grad(m.special.ndtri(x).sum(), x, create_graph=True)[0],
          unit(5))


def test_scipy_is_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(ImportError, match=r"pip install ember\[scipy\]"):
        ember.special.erfcx(ember.ones(2))
    # the polynomials need no SciPy
    assert ember.special.hermite_polynomial_h(ember.ones(2), 2).tolist() == [2.0, 2.0]
