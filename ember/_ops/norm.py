"""Normalization: batch_norm, layer_norm, group_norm, instance_norm, rms_norm
(local_response_norm is composed in ``nn.functional``).

All of them are one kernel: view the input as ``vshape``, normalise over the
axes ``red`` and apply an affine ``weight``/``bias`` broadcast as ``ashape``.
The backward is computed on arrays (with what forward kept); when a graph of
the backward is requested (``create_graph=True``) the same formulas run as
ember ops from the saved input, so double backward works.
"""
import math

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from ..autograd.grad_mode import STATE
from ._core import autocast_op, export, record, wrap
from ._parallel import split
from .conv import node_freeing

_LOW = (D.float16, D.bfloat16)


def _arr(t, low):
    if t is None:
        return None
    a = t._data
    return a.astype(np.float32) if low and a.dtype != np.float32 else a


def _mean(a, red):
    """Mean over ``red`` (kept dims); NaN without a warning over empty axes."""
    if all(a.shape[i] for i in red):
        return a.mean(red, keepdims=True)
    shape = tuple(1 if i in red else n for i, n in enumerate(a.shape))
    return xp_of(a).full(shape, np.nan, a.dtype)


def _others(red, nd, ashape):
    """Axes the affine parameters are summed over in backward."""
    return tuple(i for i in range(nd) if ashape[i] == 1)


# ---------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------

def _norm_backward(ctx, g):
    x, w, b = ctx.saved_tensors
    need = ctx.needs_input_grad
    if STATE.enabled:
        return _norm_backward_graph(ctx, g, x, w, b, need)
    low = ctx.low
    ga = _arr(g, low).reshape(ctx.vshape)
    xhat, rstd = ctx.xhat, ctx.rstd
    red, ashape = ctx.red, ctx.ashape
    others = _others(red, len(ctx.vshape), ashape)
    gx = gw = gb = None
    if need[0]:
        gxh = ga * _arr(w, low).reshape(ashape) if w is not None else ga
        if ctx.stats_fixed:
            gx = gxh * rstd
        else:
            m2 = _mean(gxh * xhat, red)
            if ctx.center:
                gx = gxh - _mean(gxh, red)
                gx -= xhat * m2
            else:
                gx = gxh - xhat * m2
            gx *= rstd
        gx = wrap(gx.reshape(x.shape).astype(x._dtype.np, copy=False), x._dtype)
    if w is not None and need[1]:
        gw = wrap((ga * xhat).sum(others).reshape(w.shape).astype(w._dtype.np, copy=False),
                  w._dtype)
    if b is not None and need[2]:
        gb = wrap(ga.sum(others).reshape(b.shape).astype(b._dtype.np, copy=False), b._dtype)
    return gx, gw, gb


def _norm_backward_graph(ctx, g, x, w, b, need):
    """The same gradients as ember ops (differentiable again)."""
    red, ashape, vshape = ctx.red, ctx.ashape, ctx.vshape
    others = _others(red, len(vshape), ashape)
    xv = x.reshape(vshape)
    gv = g.reshape(vshape)
    if ctx.stats_fixed:
        mean = wrap(ctx.mean)
        rstd = wrap(ctx.rstd)
        xhat = (xv - mean) * rstd
    else:
        xc = xv - xv.mean(red, keepdim=True) if ctx.center else xv
        rstd = ((xc * xc).mean(red, keepdim=True) + ctx.eps).rsqrt()
        xhat = xc * rstd
    gx = gw = gb = None
    if need[0]:
        gxh = gv * w.reshape(ashape) if w is not None else gv
        if ctx.stats_fixed:
            gx = gxh * rstd
        else:
            gx = gxh - xhat * (gxh * xhat).mean(red, keepdim=True)
            if ctx.center:
                gx = gx - gxh.mean(red, keepdim=True)
            gx = gx * rstd
        gx = gx.reshape(x.shape)
    if w is not None and need[1]:
        gw = (gv * xhat).sum(others).reshape(w.shape)
    if b is not None and need[2]:
        gb = gv.sum(others).reshape(b.shape)
    return gx, gw, gb


_NODES = {}


def _normalize(x, w, b, vshape, red, ashape, eps, name, center=True, stats=None):
    """y = (x - mean) * rstd * w + b over axes ``red`` of ``x`` viewed as ``vshape``.

    ``stats``: fixed (mean, var) arrays broadcastable to ``vshape`` (eval-mode
    batch norm). Returns (y, mean, biased var) with the stats as arrays (None
    when fixed)."""
    low = x._dtype in _LOW
    a = _arr(x, low).reshape(vshape)
    xp = xp_of(a)
    wa = _arr(w, low)
    ba = _arr(b, low)
    if wa is not None:
        wa = wa.reshape(ashape)
    if ba is not None:
        ba = ba.reshape(ashape)
    if stats is not None:
        mean, var = stats
        rstd = 1 / xp.sqrt(var + eps)
        scale = rstd if wa is None else rstd * wa
        shift = -mean * scale
        if ba is not None:
            shift = shift + ba
        y = xp.empty(a.shape, np.result_type(a.dtype, scale.dtype))
        if xp is np and len(vshape) == 3 and vshape[2] > 1 and a.flags.c_contiguous:
            # whole (channel, position) rows per sample: NumPy walks a (1, C, 1)
            # operand as N*C short loops (2M floats: 0.40 ms a pass vs 0.22)
            n, c, p = vshape
            srow = np.repeat(scale.reshape(c), p).astype(y.dtype, copy=False)
            brow = np.repeat(shift.reshape(c), p).astype(y.dtype, copy=False)
            a2, y2 = a.reshape(n, c * p), y.reshape(n, c * p)

            def affine(i, j):  # per block of samples
                np.multiply(a2[i:j], srow, out=y2[i:j])
                y2[i:j] += brow
            split(affine, n, a.size, xp)
        else:
            def affine(i, j):  # per channel block (axis 1 of vshape)
                xp.multiply(a[:, i:j], scale[:, i:j], out=y[:, i:j])
                y[:, i:j] += shift[:, i:j]
            split(affine, a.shape[1], a.size, xp)
        xhat = None
        mean_out = var_out = None
    else:
        if center:
            mean = _mean(a, red)
            xc = a - mean
        else:
            mean = None
            xc = a
        var = _mean(xc * xc, red)
        rstd = 1 / xp.sqrt(var + eps)
        xhat = xc * rstd if xc is a else _imul(xc, rstd)
        if wa is not None:
            y = xhat * wa
            if ba is not None:
                y += ba
        elif ba is not None:
            y = xhat + ba
        else:
            y = xhat.copy()
        mean_out, var_out = mean, var
    out = wrap(y.reshape(x.shape).astype(x._dtype.np, copy=False), x._dtype)
    if x._requires_grad or (w is not None and w._requires_grad) or \
            (b is not None and b._requires_grad):
        cls = _NODES.get(name)
        if cls is None:
            cls = _NODES[name] = node_freeing(name, _norm_backward, "xhat", "rstd")
        if xhat is None and STATE.enabled and w is not None and w._requires_grad:
            xhat = (a - mean) * rstd
        record(cls, (x, w, b), out, saved=(x, w, b), xhat=xhat, rstd=rstd, vshape=vshape,
               red=red, ashape=ashape, eps=eps, center=center, low=low,
               stats_fixed=stats is not None,
               mean=None if stats is None else stats[0])
    return out, mean_out, var_out


def _imul(a, b):
    a *= b
    return a


# ---------------------------------------------------------------------------
# Public ops
# ---------------------------------------------------------------------------

def _check_dtypes(x, *ts):
    for t in ts:
        if t is not None and t._dtype is not x._dtype and not (
                x._dtype in _LOW and t._dtype is D.float32):
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def _check_vec(t, n, what):
    if t is not None and t.numel() != n:
        raise RuntimeError(f"{what} should contain {n} elements not {t.numel()}")


def _update_running(rt, new, momentum):
    """running = (1 - momentum) * running + momentum * new, in place (no autograd)."""
    if rt is None:
        return
    a = rt._data
    a *= (1 - momentum)
    a += (momentum * new).astype(a.dtype, copy=False).reshape(a.shape)
    rt._version[0] += 1


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """``nn.functional.batch_norm`` (``ember.batch_norm`` takes PyTorch's
    ``torch.batch_norm`` argument order)."""
    x = input
    if x.ndim < 2:
        C = 0
    else:
        C = x.shape[1]
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(f"running_{'mean' if running_mean is None else 'var'} must be "
                           f"defined in evaluation mode")
    _check_vec(running_mean, C, "running_mean")
    _check_vec(running_var, C, "running_var")
    _check_vec(weight, C, "weight")
    _check_vec(bias, C, "bias")
    _check_dtypes(x, weight, bias)
    if STATE.enabled:
        for t, nm in ((running_mean, "running_mean"), (running_var, "running_var")):
            if t is not None and t._requires_grad:
                raise RuntimeError(f"The function 'native_batch_norm' is not differentiable "
                                   f"with respect to argument '{nm}'. This input cannot have "
                                   f"requires_grad True.")
    N = x.shape[0]
    P = math.prod(x.shape[2:])
    vshape = (N, C, P)
    ashape = (1, C, 1)
    name = "NativeBatchNormBackward0"
    if not training:
        low = x._dtype in _LOW
        # copies: the buffers may be updated in place before backward runs
        mean = _arr(running_mean, low).reshape(ashape).astype(np.float32 if low else
                                                             running_mean._data.dtype)
        var = _arr(running_var, low).reshape(ashape).astype(mean.dtype)
        return _normalize(x, weight, bias, vshape, (0, 2), ashape, eps, name,
                          stats=(mean, var))[0]
    n = N * P
    out, mean, var = _normalize(x, weight, bias, vshape, (0, 2), ashape, eps, name)
    if running_mean is not None or running_var is not None:
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var * (n / (n - 1)) if n > 1 else var, momentum)
    return out


@export(method=False)
@autocast_op("fp32_cuda")  # CUDA autocast runs it in float32 (see _core.CUDA_FP32)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5,
               cudnn_enable=True):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(int(v) for v in normalized_shape)
    x = input
    k = len(ns)
    if tuple(x.shape[x.ndim - k:]) != ns or k > x.ndim:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(x.shape)}")
    for t, nm in ((weight, "weight"), (bias, "bias")):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {nm} to be of same shape as normalized_shape, but got "
                               f"{nm} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(ns)}")
    _check_dtypes(x, weight, bias)
    R = math.prod(ns)
    M = x.numel() // R if R else 0
    return _normalize(x, weight, bias, (M, R), (1,), (1, R), eps,
                      "NativeLayerNormBackward0")[0]


@export(method=False)
@autocast_op("fp32_cuda")
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    x = input
    if x.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{x.ndim}")
    N, C = x.shape[:2]
    G = int(num_groups)
    if G <= 0 or C % G:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(x.shape)} and "
                           f"num_groups={G}")
    for t, nm in ((weight, "weight"), (bias, "bias")):
        if t is not None and (t.ndim != 1 or t.shape[0] != C):
            raise RuntimeError(f"Expected {nm} to be a vector of size equal to the number of "
                               f"channels in input, but got {nm} of shape {list(t.shape)} and "
                               f"input of shape {list(x.shape)}")
    _check_dtypes(x, weight, bias)
    P = math.prod(x.shape[2:])
    return _normalize(x, weight, bias, (N, G, C // G, P), (2, 3), (1, G, C // G, 1), eps,
                      "NativeGroupNormBackward0")[0]


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """``nn.functional.instance_norm`` (``ember.instance_norm`` takes PyTorch's
    ``torch.instance_norm`` argument order)."""
    x = input
    N, C = x.shape[:2]
    _check_vec(running_mean, C, "running_mean")
    _check_vec(running_var, C, "running_var")
    _check_vec(weight, C, "weight")
    _check_vec(bias, C, "bias")
    _check_dtypes(x, weight, bias)
    P = math.prod(x.shape[2:])
    name = "NativeBatchNormBackward0"
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        low = x._dtype in _LOW
        mean = _arr(running_mean, low).reshape(1, C, 1).copy()
        var = _arr(running_var, low).reshape(1, C, 1).copy()
        return _normalize(x, weight, bias, (N, C, P), (0, 2), (1, C, 1), eps, name,
                          stats=(mean, var))[0]
    out, mean, var = _normalize(x, weight, bias, (N, C, P), (2,), (1, C, 1), eps, name)
    if running_mean is not None or running_var is not None:
        _update_running(running_mean, mean.mean(0), momentum)
        _update_running(running_var, (var * (P / (P - 1)) if P > 1 else var).mean(0),
                        momentum)
    return out


@export("batch_norm", method=False)
def _batch_norm_top(input, weight, bias, running_mean, running_var, training, momentum, eps,
                    cudnn_enabled):
    return batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


@export("instance_norm", method=False)
def _instance_norm_top(input, weight, bias, running_mean, running_var, use_input_stats,
                       momentum, eps, cudnn_enabled):
    return instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                         momentum, eps)


@export(method=False)
def rms_norm(input, normalized_shape, weight=None, eps=None):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(int(v) for v in normalized_shape)
    x = input
    k = len(ns)
    if k > x.ndim or tuple(x.shape[x.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*{', '.join(map(str, ns))}], but got input of size"
                           f"{list(x.shape)}")
    if weight is not None and tuple(weight.shape) != ns:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got "
                           f"weight of shape {list(weight.shape)} and normalized_shape = "
                           f"{list(ns)}")
    if eps is None:
        eps = float(np.finfo(np.float32 if x._dtype in _LOW else x._dtype.np).eps) \
            if x._dtype.is_floating_point else 1.1920928955078125e-07
    R = math.prod(ns)
    M = x.numel() // R if R else 0
    return _normalize(x, weight, None, (M, R), (1,), (1, R), eps, "RmsNormBackward0",
                      center=False)[0]

