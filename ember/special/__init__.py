"""``ember.special``: PyTorch's ``torch.special`` namespace.

Functions that PyTorch also has at the top level (``erf``, ``lgamma`` ...) are
the top-level ember ops, looked up when called; the rest live in
``ember/_ops/special_fns.py``. Most forwards need SciPy (an optional
dependency: ``pip install ember[scipy]``).
"""
from .._ops import FUNCTIONS as _F
from .._ops.special_fns import (
    airy_ai,
    bessel_j0,
    bessel_j1,
    bessel_y0,
    bessel_y1,
    chebyshev_polynomial_t,
    chebyshev_polynomial_u,
    chebyshev_polynomial_v,
    chebyshev_polynomial_w,
    entr,
    erfcx,
    gammainc,
    gammaincc,
    hermite_polynomial_h,
    hermite_polynomial_he,
    i0e,
    i1e,
    laguerre_polynomial_l,
    legendre_polynomial_p,
    log_ndtr,
    modified_bessel_i0,
    modified_bessel_i1,
    modified_bessel_k0,
    modified_bessel_k1,
    ndtr,
    ndtri,
    scaled_modified_bessel_k0,
    scaled_modified_bessel_k1,
    shifted_chebyshev_polynomial_t,
    shifted_chebyshev_polynomial_u,
    shifted_chebyshev_polynomial_v,
    shifted_chebyshev_polynomial_w,
    spherical_bessel_j0,
    xlog1py,
    zeta,
)


def _top(name, doc_name=None):
    """``special.<doc_name>`` as the top-level op ``name``, resolved at call time."""
    def f(*args, **kwargs):
        return _F[name](*args, **kwargs)
    f.__name__ = f.__qualname__ = doc_name or name
    f.__doc__ = f"``torch.special.{doc_name or name}``: the same op as ``ember.{name}``."
    return f


erf = _top("erf")
erfc = _top("erfc")
erfinv = _top("erfinv")
expit = _top("sigmoid", "expit")
exp2 = _top("exp2")
expm1 = _top("expm1")
log1p = _top("log1p")
logit = _top("logit")
gammaln = _top("lgamma", "gammaln")
digamma = _top("digamma")
psi = _top("digamma", "psi")
polygamma = _top("polygamma")
i0 = _top("i0")
sinc = _top("sinc")
xlogy = _top("xlogy")
round = _top("round")
logsumexp = _top("logsumexp")


def multigammaln(input, p):
    return _F["mvlgamma"](input, p)


def softmax(input, dim, *, dtype=None):
    return _F["softmax"](input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _F["log_softmax"](input, dim, dtype=dtype)


def i1(input):
    from .._ops.special_math import _i1  # i0's gradient; PyTorch exposes it only here
    return _i1(input)


__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
    "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma",
    "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc",
    "gammaln", "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e", "i1", "i1e",
    "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax",
    "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
    "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
    "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "sinc", "softmax", "spherical_bessel_j0", "xlog1py",
    "xlogy", "zeta",
]
