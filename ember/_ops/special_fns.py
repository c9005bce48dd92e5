"""The functions of ``ember.special`` that have no top-level ember op: scaled
Bessel functions, normal-distribution functions, ``zeta``, ``entr``, the
Bessel/Airy family and the orthogonal polynomials.

Forwards use SciPy (optional: ``pip install ember[scipy]``, loaded on first
use through ``special_math._sp``) except the polynomials, which follow
PyTorch's recurrences. Gradients are defined where PyTorch defines them; the
Bessel/Airy functions and the polynomials are not differentiable in PyTorch
either (their outputs do not require grad).
"""
import math

import numpy as np

from .._tensor import Tensor
from .elementwise import _binary, _unary, _where
from .special_math import _on_host, _sp

_R = "bif"
_SQRT_2PI = math.sqrt(2 * math.pi)
_2_SQRT_PI = 2 / math.sqrt(math.pi)


def _u(name, fwd, grad=None):
    return _unary(name, fwd, grad, register=False, dtypes=_R)


def _b(name, fwd, grad=None):
    return _binary(name, fwd, grad, kind="float", register=False, dtypes=_R)


def _not_implemented(what):
    def rule(g, *_):
        raise NotImplementedError(f"the derivative for '{what}' is not implemented.")
    return rule


# ---------------------------------------------------------------------------
# Differentiable functions
# ---------------------------------------------------------------------------

erfcx = _u("special_erfcx", lambda xp, x: _sp(xp).erfcx(x),
           lambda g, x, y: g * (2 * x * y - _2_SQRT_PI))
ndtr = _u("special_ndtr", lambda xp, x: _sp(xp).ndtr(x),
          lambda g, x: g * (-0.5 * x * x).exp() / _SQRT_2PI)
ndtri = _u("special_ndtri", lambda xp, x: _sp(xp).ndtri(x),
           lambda g, y: g * _SQRT_2PI * (0.5 * y * y).exp())
log_ndtr = _u("special_log_ndtr", lambda xp, x: _sp(xp).log_ndtr(x),
              lambda g, x, y: g / _SQRT_2PI * (-(y + 0.5 * x * x)).exp())


def _i0e_grad(g, x, y):
    return g * (i1e(x) - x.sgn() * y)


def _i1e_grad(g, x, y):
    # i1e'(x) = i0e(x) - i1e(x) (sgn(x) + 1/x), with the limit 0.5 at x = 0
    tiny = x == 0
    safe = _where(tiny, 1.0, x)
    return g * _where(tiny, 0.5, i0e(x) - y * (x.sgn() + 1 / safe))


i0e = _u("special_i0e", lambda xp, x: _sp(xp).i0e(x), _i0e_grad)
i1e = _u("special_i1e", lambda xp, x: _sp(xp).i1e(x), _i1e_grad)


def _entr(xp, x):
    with np.errstate(all="ignore"):
        r = -x * xp.log(x)
    return xp.where(x < 0, -np.inf, xp.where(x == 0, 0, r)).astype(x.dtype, copy=False)


entr = _u("special_entr", _entr, lambda g, x: g * -(1 + x.log()))


def _xlog1py(xp, x, y):
    with np.errstate(all="ignore"):
        r = x * xp.log1p(y)
    return xp.where((x == 0) & ~xp.isnan(y), 0, r).astype(r.dtype, copy=False)


xlog1py = _b("special_xlog1py", _xlog1py,
             (lambda g, a, b: g * _where((a == 0) & ~b.isnan(), 0, b.log1p()),
              lambda g, a, b: g * a / (1 + b)))
zeta = _b("special_zeta", lambda xp, x, q: _sp(xp).zeta(x, q),
          (_not_implemented("zeta"), lambda g, a, b: g * -a * zeta(a + 1.0, b)))


def _igamma_grad(upper):
    def rule(g, a, b):
        d = (-b + (a - 1) * b.log() - a.lgamma()).exp()
        return g * (-d if upper else d)
    return rule


_gammainc = _b("special_gammainc", lambda xp, a, x: _sp(xp).gammainc(a, x),
               (_not_implemented("igamma: input"), _igamma_grad(False)))
_gammaincc = _b("special_gammaincc", lambda xp, a, x: _sp(xp).gammaincc(a, x),
                (_not_implemented("igammac: input"), _igamma_grad(True)))


def _tensors_only(op, name):
    def f(input, other):
        for i, (arg, v) in enumerate((("input", input), ("other", other))):
            if not isinstance(v, Tensor):
                raise TypeError(f"{name}(): argument '{arg}' (position {i + 1}) must be Tensor, "
                                f"not {type(v).__name__}")
        return op(input, other)
    f.__name__ = f.__qualname__ = name
    return f


gammainc = _tensors_only(_gammainc, "special_gammainc")
gammaincc = _tensors_only(_gammaincc, "special_gammaincc")

# ---------------------------------------------------------------------------
# Bessel and Airy functions (not differentiable, as in PyTorch)
# ---------------------------------------------------------------------------


def _spherical_j0(xp, x):
    with np.errstate(all="ignore"):
        r = xp.sin(x) / x
    return xp.where(x == 0, 1, r).astype(x.dtype, copy=False)


bessel_j0 = _u("special_bessel_j0", lambda xp, x: _sp(xp).j0(x))
bessel_j1 = _u("special_bessel_j1", lambda xp, x: _sp(xp).j1(x))
bessel_y0 = _u("special_bessel_y0", lambda xp, x: _sp(xp).y0(x))
bessel_y1 = _u("special_bessel_y1", lambda xp, x: _sp(xp).y1(x))
modified_bessel_i0 = _u("special_modified_bessel_i0", lambda xp, x: _sp(xp).i0(x))
modified_bessel_i1 = _u("special_modified_bessel_i1", lambda xp, x: _sp(xp).i1(x))
modified_bessel_k0 = _u("special_modified_bessel_k0", lambda xp, x: _sp(xp).k0(x))
modified_bessel_k1 = _u("special_modified_bessel_k1", lambda xp, x: _sp(xp).k1(x))
scaled_modified_bessel_k0 = _u("special_scaled_modified_bessel_k0",
                               lambda xp, x: _sp(xp).k0e(x))
scaled_modified_bessel_k1 = _u("special_scaled_modified_bessel_k1",
                               lambda xp, x: _sp(xp).k1e(x))
spherical_bessel_j0 = _u("special_spherical_bessel_j0", _spherical_j0)
airy_ai = _u("special_airy_ai", lambda xp, x: _on_host(xp, lambda sp, h: sp.airy(h)[0], x))

# ---------------------------------------------------------------------------
# Orthogonal polynomials of degree n (a tensor or a number; truncated to an
# integer; negative degrees give 0), by PyTorch's recurrences and special cases.
# ---------------------------------------------------------------------------


def _recurrence(xp, x, n, p0, p1, step):
    """Evaluates p_n(x) from p_0, p_1 and ``step(k, p_{k-1}, p_k) -> p_{k+1}``."""
    nmax = int(n.max()) if n.size else 0
    out = xp.where(n == 0, p0, p1)
    p, q = p0, p1
    for k in range(1, nmax):
        p, q = q, step(k, p, q)
        out = xp.where(n == k + 1, q, out)
    return out


def _poly(kind):
    def fwd(xp, x, n):
        n = xp.trunc(n)
        x, n = xp.broadcast_arrays(x, n)
        one = xp.ones_like(x)
        with np.errstate(all="ignore"):
            out = _POLY[kind](xp, x, n, one)
        return xp.where(n < 0, 0, out).astype(x.dtype, copy=False)
    return fwd


def _cheb(xp, x, n, one, first, trig, edge):
    """Chebyshev polynomials of the four kinds: recurrence 2x p_k - p_{k-1}
    from ``first``, the trigonometric form for large n inside (-1, 1), and
    the closed values at x = +-1."""
    big = (n > (6 if trig is _t_trig else 8)) & (xp.abs(x) < 1)
    r = _recurrence(xp, x, xp.where(big, 0, n), one, first, lambda k, p, q: (x + x) * q - p)
    if big.any():
        r = xp.where(big, trig(xp, x, n), r)
    return xp.where(xp.abs(x) == 1, edge(xp, x, n), r)


def _t_trig(xp, x, n):
    return xp.cos(n * xp.arccos(x))


def _u_trig(xp, x, n):
    t = xp.arccos(x)
    s = xp.sin(t)
    return xp.where(s != 0, xp.sin((n + 1) * t) / xp.where(s != 0, s, 1),
                    (n + 1) * xp.cos((n + 1) * t) * x)


def _v_trig(xp, x, n):
    t = xp.arccos(x)
    c = xp.cos(t / 2)
    return xp.where(xp.sin(t / 2) != 1, xp.cos((n + 0.5) * t) / xp.where(c != 0, c, 1),
                    _odd_sign(xp, n) * (n + n + 1))


def _w_trig(xp, x, n):
    t = xp.arccos(x)
    s = xp.sin(t / 2)
    return xp.where(xp.cos(t / 2) != 1, xp.sin((n + 0.5) * t) / xp.where(s != 0, s, 1),
                    xp.where(x > 0, n + n + 1, _odd_sign(xp, n)))


def _odd_sign(xp, n):
    return xp.where(n % 2 == 0, 1, -1)


_POLY = {
    "t": lambda xp, x, n, one: _cheb(xp, x, n, one, x, _t_trig,
                                     lambda xp, x, n: xp.where(x > 0, 1, _odd_sign(xp, n))),
    "u": lambda xp, x, n, one: _cheb(xp, x, n, one, x + x, _u_trig,
                                     lambda xp, x, n: xp.where(x > 0, 1, _odd_sign(xp, n)) *
                                     (n + 1)),
    "v": lambda xp, x, n, one: _cheb(xp, x, n, one, x + x - 1, _v_trig,
                                     lambda xp, x, n: xp.where(x > 0, 1,
                                                               _odd_sign(xp, n) * (n + n + 1))),
    "w": lambda xp, x, n, one: _cheb(xp, x, n, one, x + x + 1, _w_trig,
                                     lambda xp, x, n: xp.where(x > 0, n + n + 1,
                                                               _odd_sign(xp, n))),
    "h": lambda xp, x, n, one: _recurrence(xp, x, n, one, x + x,
                                           lambda k, p, q: (x + x) * q - 2 * k * p),
    "he": lambda xp, x, n, one: _recurrence(xp, x, n, one, x, lambda k, p, q: x * q - k * p),
    "l": lambda xp, x, n, one: xp.where(
        x == 0, 1, _recurrence(xp, x, n, one, one - x,
                               lambda k, p, q: ((k + k + 1 - x) * q - k * p) / (k + 1))),
    "p": lambda xp, x, n, one: xp.where(
        xp.abs(x) == 1, xp.where((x > 0) | (n == 0), 1, _odd_sign(xp, n)),
        _recurrence(xp, x, n, one, x, lambda k, p, q: ((k + k + 1) * x * q - k * p) / (k + 1))),
}


def _shifted(kind):
    f = _poly(kind)
    return lambda xp, x, n: f(xp, x + x - 1, n)


chebyshev_polynomial_t = _b("special_chebyshev_polynomial_t", _poly("t"))
chebyshev_polynomial_u = _b("special_chebyshev_polynomial_u", _poly("u"))
chebyshev_polynomial_v = _b("special_chebyshev_polynomial_v", _poly("v"))
chebyshev_polynomial_w = _b("special_chebyshev_polynomial_w", _poly("w"))
hermite_polynomial_h = _b("special_hermite_polynomial_h", _poly("h"))
hermite_polynomial_he = _b("special_hermite_polynomial_he", _poly("he"))
laguerre_polynomial_l = _b("special_laguerre_polynomial_l", _poly("l"))
legendre_polynomial_p = _b("special_legendre_polynomial_p", _poly("p"))
shifted_chebyshev_polynomial_t = _b("special_shifted_chebyshev_polynomial_t", _shifted("t"))
shifted_chebyshev_polynomial_u = _b("special_shifted_chebyshev_polynomial_u", _shifted("u"))
shifted_chebyshev_polynomial_v = _b("special_shifted_chebyshev_polynomial_v", _shifted("v"))
shifted_chebyshev_polynomial_w = _b("special_shifted_chebyshev_polynomial_w", _shifted("w"))
