"""Activation ops: one node each, forward as one array expression, gradient
rule in ember ops (so double backward works). softmax/log_softmax take
``dim`` and ``dtype=``. Exposed through ``ember.nn.functional`` (and, where
PyTorch has them, as ``ember.<name>``).

A rule ``grad(g, t, p)`` gets the incoming gradient, the saved tensor (input
``x`` or output ``y`` as the op declares) and the op's parameters ``p``.
"""
import math

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from ..autograd.grad_mode import STATE
from ._core import FUNCTIONS, METHODS, autocast_op, node, record, wrap, wrap_dim

_LOW = (D.float16, D.bfloat16)
_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_K_TANH = math.sqrt(2 / math.pi)


def _erf(xp, x):
    """erf on arrays: SciPy/CuPy's when installed, else math.erf per element."""
    try:
        if xp is np:
            from scipy.special import erf
        else:
            from cupyx.scipy.special import erf
        return erf(x)
    except ImportError:
        return np.vectorize(math.erf, otypes=[x.dtype])(x)


def _check_float(name, t):
    if not t._dtype.is_floating_point:
        raise RuntimeError(f'"{name}" not implemented for '
                           f"'{t._dtype.name.capitalize() if t._dtype is not D.int64 else 'Long'}'")


def _act(name, fwd, grad, *, saves="x", node_name=None, allow_int=False, allow_complex=False):
    """Defines activation ``name``: ``fwd(xp, x, p) -> array``; ``grad(g, t, p)``."""
    cls = node(node_name or "".join(s.capitalize() for s in name.split("_")) + "Backward0",
               lambda ctx, g: grad(g, ctx.saved_tensors[0], ctx.p))

    def op(input, **p):
        dt = input._dtype
        if not allow_int and not (allow_complex and dt.is_complex):
            _check_float(name, input)
        x = input._data
        xp = np if type(x) is np.ndarray else xp_of(x)
        if dt in _LOW:
            y = fwd(xp, x.astype(np.float32), p).astype(dt.np)
        else:
            y = fwd(xp, x, p)
            if y.dtype != x.dtype:
                y = y.astype(x.dtype)
        out = wrap(y, dt)
        if input._requires_grad and STATE.enabled:
            record(cls, (input,), out, saved=(input,) if saves == "x" else (),
                   saved_out=saves == "y", p=p)
        return out
    op.__name__ = op.__qualname__ = name
    return op


def _where(c, a, b):
    return FUNCTIONS["where"](c, a, b)


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

def _gelu_fwd(xp, x, p):
    if p["approximate"] == "tanh":
        return 0.5 * x * (1 + xp.tanh(_K_TANH * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(xp, x * _SQRT1_2))


def _gelu_grad(g, x, p):
    if p["approximate"] == "tanh":
        x2 = x * x
        t = (_K_TANH * x * (1 + 0.044715 * x2)).tanh()
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _K_TANH * (1 + 0.134145 * x2))
    return g * (normal_cdf(x) + x * (x * x * -0.5).exp() * _INV_SQRT_2PI)


gelu = _act("gelu", _gelu_fwd, _gelu_grad)

NormalCdfBackward0 = node("NormalCdfBackward0", lambda ctx, g: g * (
    ctx.saved_tensors[0] ** 2 * -0.5).exp() * _INV_SQRT_2PI)


def normal_cdf(input):
    """Φ(x), the standard normal CDF (an op so that GELU's gradient is
    differentiable again)."""
    x = input._data
    xp = xp_of(x)
    out = wrap((0.5 * (1 + _erf(xp, x * _SQRT1_2))).astype(x.dtype, copy=False), input._dtype)
    record(NormalCdfBackward0, (input,), out, saved=(input,))
    return out


def _sigmoid_arr(xp, x):
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


silu = _act("silu", lambda xp, x, p: x * _sigmoid_arr(xp, x) if x.dtype.kind != "c" else
            x / (1 + xp.exp(-x)), lambda g, x, p: _silu_grad(g, x), allow_complex=True)


def _silu_grad(g, x):
    s = x.sigmoid()
    d = s * (1 + x * (1 - s))
    return g * (d.conj() if d.is_complex() else d)


def _softplus_arr(xp, x):
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


mish = _act("mish", lambda xp, x, p: x * xp.tanh(_softplus_arr(xp, x)),
            lambda g, x, p: _mish_grad(g, x))


def _mish_grad(g, x):
    t = softplus(x).tanh()
    return g * (t + x * (1 - t * t) * x.sigmoid())


def _leaky_grad(g, t, p):
    return g * _where(t > 0, 1.0, p["negative_slope"]).to(g.dtype)


leaky_relu = _act("leaky_relu", lambda xp, x, p: xp.where(x > 0, x, x * p["negative_slope"]),
                  _leaky_grad, node_name="LeakyReluBackward0")
_leaky_relu_y = _act("leaky_relu", lambda xp, x, p: xp.where(x > 0, x, x * p["negative_slope"]),
                     _leaky_grad, saves="y", node_name="LeakyReluBackward1")


def _hardtanh_grad(g, t, p):
    return g * ((t > p["min_val"]) & (t < p["max_val"]))


hardtanh = _act("hardtanh", lambda xp, x, p: xp.clip(x, p["min_val"], p["max_val"]),
                _hardtanh_grad, saves="y", allow_int=True)


def _elu_fwd(xp, x, p):
    a, s, i = p["alpha"], p["scale"], p["input_scale"]
    return xp.where(x > 0, x * s, xp.expm1(xp.minimum(x, 0) * i) * (a * s))


def _elu_grad(g, t, p):
    a, s, i = p["alpha"], p["scale"], p["input_scale"]
    if p["is_result"]:
        return g * _where(t > 0, s, (t + a * s) * i)
    return g * _where(t > 0, s, (t * i).exp() * (a * s * i))


elu = _act("elu", _elu_fwd, _elu_grad, node_name="EluBackward0")
_elu_y = _act("elu", _elu_fwd, _elu_grad, saves="y", node_name="EluBackward1")


def _softplus_fwd(xp, x, p):
    b, th = p["beta"], p["threshold"]
    bx = x * b
    return xp.where(bx > th, x, _softplus_arr(xp, bx) / b)


def _softplus_grad(g, x, p):
    bx = x * p["beta"]
    return g * _where(bx > p["threshold"], 1.0, bx.sigmoid()).to(g.dtype)


softplus_op = _act("softplus", _softplus_fwd, _softplus_grad)


@autocast_op("fp32")
def softplus(input, beta=1.0, threshold=20.0):
    return softplus_op(input, beta=beta, threshold=threshold)


softshrink = _act("softshrink", lambda xp, x, p: xp.where(
    x > p["lambd"], x - p["lambd"], xp.where(x < -p["lambd"], x + p["lambd"], 0)),
    lambda g, x, p: g * (x.abs() > p["lambd"]))
hardshrink = _act("hardshrink", lambda xp, x, p: xp.where(
    (x >= -p["lambd"]) & (x <= p["lambd"]), 0, x),
    lambda g, x, p: g * ((x < -p["lambd"]) | (x > p["lambd"])))
hardsigmoid = _act("hardsigmoid", lambda xp, x, p: xp.clip(x / 6 + 0.5, 0, 1),
                   lambda g, x, p: g * ((x > -3) & (x < 3)) / 6)
hardswish = _act("hardswish", lambda xp, x, p: x * xp.clip(x + 3, 0, 6) / 6,
                 lambda g, x, p: g * _where(x < -3, 0.0, _where(x <= 3, x / 3 + 0.5, 1.0)))
logsigmoid = _act("log_sigmoid", lambda xp, x, p: xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x))),
                  lambda g, x, p: g * (-x).sigmoid(), node_name="LogSigmoidBackward0")


def _threshold_fwd(xp, x, p):
    return xp.where(x > p["threshold"], x, xp.asarray(p["value"], dtype=x.dtype))


threshold = _act("threshold", _threshold_fwd,
                 lambda g, x, p: g * (x > p["threshold"]), allow_int=True)

# rrelu in training: slope drawn per element; the noise is saved for backward.
RreluWithNoiseBackward0 = node("RreluWithNoiseBackward0",
                               lambda ctx, g: g * ctx.saved_tensors[0])


def rrelu_train(input, lower, upper, generator=None):
    from .random import _rng
    _check_float("rrelu_with_noise", input)
    x = input._data
    xp = xp_of(x)
    rng = _rng(generator)
    r = rng.uniform(lower, upper, x.shape) if xp is np else \
        xp.asarray(np.random.default_rng(rng.integers(2 ** 63)).uniform(lower, upper, x.shape))
    noise_a = xp.where(x >= 0, 1, r).astype(x.dtype)
    noise = wrap(noise_a, input._dtype)
    out = wrap(x * noise_a, input._dtype)
    record(RreluWithNoiseBackward0, (input,), out, saved=(noise,))
    return out


# ---------------------------------------------------------------------------
# softmax / log_softmax
# ---------------------------------------------------------------------------

def _softmax_grad(ctx, g):
    (y,) = ctx.saved_tensors
    return y * (g - (g * y).sum(ctx.dim, keepdim=True))


def _log_softmax_grad(ctx, g):
    (y,) = ctx.saved_tensors
    return g - y.exp() * g.sum(ctx.dim, keepdim=True)


SoftmaxBackward0 = node("SoftmaxBackward0", _softmax_grad)
LogSoftmaxBackward0 = node("LogSoftmaxBackward0", _log_softmax_grad)


def _softmax_common(input, dim, dtype, log):
    if dtype is not None:
        input = input.to(dtype)
    dt = input._dtype
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(f'"{"log_softmax" if log else "softmax"}_lastdim_kernel_impl" not '
                           f"implemented for '{dt.name.capitalize()}'")
    x = input._data
    xp = np if type(x) is np.ndarray else xp_of(x)
    ax = wrap_dim(dim, x.ndim) if x.ndim else None
    low = dt in _LOW
    a = x.astype(np.float32) if low else x
    if a.size:
        m = a.max(axis=ax, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        z = a - m
    else:
        z = a
    if log:
        r = z - xp.log(xp.exp(z).sum(axis=ax, keepdims=True))
    else:
        e = xp.exp(z)
        r = e / e.sum(axis=ax, keepdims=True)
    out = wrap(r.astype(dt.np, copy=False), dt)
    if input._requires_grad and STATE.enabled:
        record(LogSoftmaxBackward0 if log else SoftmaxBackward0, (input,), out, saved_out=True,
               dim=ax if ax is not None else 0)
    return out


@autocast_op("fp32")
def softmax(input, dim, dtype=None):
    return _softmax_common(input, dim, dtype, False)


@autocast_op("fp32")
def log_softmax(input, dim, dtype=None):
    return _softmax_common(input, dim, dtype, True)


for _n, _f in (("softmax", softmax), ("log_softmax", log_softmax)):
    FUNCTIONS[_n] = METHODS[_n] = _f

__all__ = ["gelu", "silu", "mish", "leaky_relu", "hardtanh", "elu", "softplus", "softshrink",
           "hardshrink", "hardsigmoid", "hardswish", "logsigmoid", "threshold", "rrelu_train",
           "softmax", "log_softmax", "normal_cdf", "_leaky_relu_y", "_elu_y"]
