"""Special functions: erf family, gamma family, Bessel ``i0``, ``sinc``, ``logit``.

NumPy lacks most of these, so the forward uses SciPy's ufuncs on CPU (an
optional dependency, ``pip install ember[scipy]``, imported on first use) and
``cupyx.scipy.special`` on GPU. Gradient rules are ember ops, as everywhere.
"""
import math

import numpy as np

from .. import _dtype as D
from .._backend import to_host
from ._core import FUNCTIONS, METHODS, inplace
from .elementwise import _unary, _where, cj


def _sp(xp):
    """The special-function module for array module ``xp``."""
    if xp is np:
        try:
            import scipy.special as sp
        except ImportError:
            raise ImportError("this ember op needs SciPy for its special functions: "
                              "pip install ember[scipy]") from None
        return sp
    import cupyx.scipy.special as sp
    return sp


def _on_host(xp, f, *arrays):
    """``f(scipy.special, *arrays)`` for the functions cupyx lacks (airy): on
    CUDA the arrays go to the host and the result comes back."""
    if xp is np:
        return f(_sp(np), *arrays)
    return xp.asarray(f(_sp(np), *map(to_host, arrays)))


_2_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_PI_2 = math.sqrt(math.pi) / 2
_LOG_PI = math.log(math.pi)

_R = "bif"  # real dtypes: PyTorch has no complex kernels for these
_unary("erf", lambda xp, x: _sp(xp).erf(x), lambda g, x: g * _2_SQRT_PI * (-x * x).exp(),
       dtypes=_R)
_unary("erfc", lambda xp, x: _sp(xp).erfc(x), lambda g, x: g * -_2_SQRT_PI * (-x * x).exp(),
       dtypes=_R)
_unary("erfinv", lambda xp, x: _sp(xp).erfinv(x), lambda g, y: g * _SQRT_PI_2 * (y * y).exp(),
       dtypes=_R)
_unary("lgamma", lambda xp, x: _lgamma(xp, x), lambda g, x: g * x.digamma(), dtypes=_R)
_unary("digamma", lambda xp, x: _sp(xp).psi(x), lambda g, x: g * _polygamma(x, 1), dtypes=_R)
_unary("i0", lambda xp, x: _sp(xp).i0(x), lambda g, x: g * _i1(x), dtypes=_R)
_unary("sinc", lambda xp, x: xp.sinc(x), lambda g, x: g * cj(_sinc_grad(x)))
_unary("logit", lambda xp, x, eps=None: _logit(xp, x, eps),
       lambda g, x, eps: _logit_grad(g, x, eps), params=(("eps", None),), dtypes=_R)
_unary("mvlgamma", lambda xp, x, p=None: _mvlgamma(xp, x, p),
       lambda g, x, p: g * sum((x - j / 2).digamma() for j in range(p)), params=(("p", None),),
       dtypes=_R)
_polygamma = _unary("polygamma", lambda xp, x, n=0: _polygamma_fwd(xp, x, n),
                    lambda g, x, n: g * _polygamma(x, n + 1), params=(("n", 0),),
                    register=False, dtypes=_R)
# i1 serves i0's gradient; PyTorch exposes it as torch.special.i1 only.
_i1 = _unary("special_i1", lambda xp, x: _sp(xp).i1(x), lambda g, x, y: g * _i1_grad(x, y),
             register=False, dtypes=_R)


def _sinc_grad(x):
    safe = _where(x == 0, 1, x)  # no 0/0 in the branch where() drops
    px = safe * math.pi
    return _where(x == 0, 0, (px.cos() * px - px.sin()) / (px * safe))


def _logit(xp, x, eps):
    if eps is not None:
        x = xp.clip(x, eps, 1 - eps)
    return xp.log(x / (1 - x))


def _logit_grad(g, x, eps):
    r = g / (x * (1 - x))
    if eps is None:
        return _where((x < 0) | (x > 1), math.nan, r)
    return _where((x < eps) | (x > 1 - eps), 0, r)


def _mvlgamma(xp, x, p):
    if p is None:
        raise TypeError("mvlgamma() missing required argument 'p' (pos 2)")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    sp = _sp(xp)
    r = sp.gammaln(x)
    for j in range(1, p):
        r = r + sp.gammaln(x - x.dtype.type(j / 2))
    return r + x.dtype.type(p * (p - 1) / 4 * _LOG_PI)


def _lgamma(xp, x):
    # SciPy gives -inf at -inf; PyTorch (and C's lgamma) +inf
    return xp.where(x == -np.inf, np.inf, _sp(xp).gammaln(x)).astype(x.dtype, copy=False)


def _polygamma_fwd(xp, x, n):
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    sp = _sp(xp)
    if n == 0:
        return sp.psi(x)
    # PyTorch's zeta-based kernel gives NaN at +inf (SciPy: the limit 0)
    r = sp.polygamma(xp.asarray(n, dtype=np.float64), x)  # CuPy needs n as an array
    return xp.where(x == np.inf, np.nan, r).astype(x.dtype, copy=False)


def _i1_grad(x, y):
    # i1'(x) = i0(x) - i1(x) / x, with the limit 0.5 at x = 0 (as PyTorch).
    eps = D.finfo(x.dtype).eps
    tiny = x.abs() <= eps
    safe = _where(tiny, eps, x)
    return _where(tiny, 0.5, safe.i0() - y / safe)


FUNCTIONS["polygamma"] = lambda n, input: _polygamma(input, n)
METHODS["polygamma"] = lambda self, n: _polygamma(self, n)
METHODS["polygamma_"] = lambda self, n: inplace(self, _polygamma, n)
