"""Hot losses as coarse ops: ``nll_loss`` and ``cross_entropy`` (class indices
or probabilities, weight, ignore_index, label_smoothing, K-dimensional), and
``ctc_loss``.

nll/cross-entropy gradients are linear in the incoming gradient ``g``:
``grad_x = g * (p * A - B)`` with constant arrays ``A``, ``B`` computed in
forward and ``p = softmax(x)``; written with ember ops so double backward
works (``p`` is recomputed as an op only when the backward is recorded).
"""
import numpy as np

from .. import _dtype as D
from .._backend import to_host, xp_of
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._core import autocast_op, node, record, wrap

_REDUCTIONS = ("none", "mean", "sum")
_LOW = (D.float16, D.bfloat16)


def _reduction_check(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _class_last(a):
    """(N, C, d...) -> (N*d..., C); (C,) -> (1, C)."""
    if a.ndim == 1:
        return a.reshape(1, -1)
    if a.ndim == 2:
        return a
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1]) if type(a) is np.ndarray else \
        xp_of(a).moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _class_back(a2, shape):
    """Inverse of _class_last for an array of ``shape``."""
    if len(shape) <= 2:
        return a2.reshape(shape)
    xp = xp_of(a2)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp.moveaxis(a2.reshape(moved), -1, 1)


def _check_target(input, target, ctx):
    ni, nt = input.dim(), target.dim()
    if ni < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {ni})")
    if ni == 1:
        if nt != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return
    if nt != ni - 1 and not (ni == 2 and nt == 1):
        raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, "
                           f"got {list(target.shape)}")
    if input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    if tuple(input.shape[2:]) != tuple(target.shape[1:]):
        raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, "
                           f"got {list(target.shape)}")


def _weights(weight, C, dt, xp):
    if weight is None:
        return None
    if weight.numel() != C or weight.dim() != 1:
        raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no "
                           f"classes but got weight tensor of shape: {list(weight.shape)}")
    return weight._data.astype(dt, copy=False)


def _class_indices(input, target, weight, ignore_index, ctx_name):
    """Flat targets, validity mask and per-sample weights for class-index losses."""
    _check_target(input, target, ctx_name)
    if target._dtype not in (D.int64, D.uint8, D.int32, D.int16, D.int8):
        raise RuntimeError(f"expected scalar type Long but found "
                           f"{_legacy(target._dtype)}")
    x = input._data
    xp = xp_of(x)
    C = x.shape[1] if x.ndim > 1 else x.shape[0]
    t = target._data.reshape(-1).astype(np.int64, copy=False)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bool(bad.any()):
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    ts = xp.where(valid, t, 0)
    return xp, C, ts, valid


def _legacy(dt):
    from ._core import _legacy_name
    return _legacy_name(dt)


def _reduce(loss, reduction, denom, out_shape, xp):
    if reduction == "none":
        return loss.reshape(out_shape), None
    s = loss.sum()
    if reduction == "sum":
        return s, None
    with np.errstate(invalid="ignore", divide="ignore"):
        return s / denom, denom


def _grad_scale(ctx, g):
    """g broadcast against the (N, C, d...) input: per-sample for 'none'."""
    if ctx.reduction == "none":
        if ctx.in_ndim == 1:
            return g
        return g.unsqueeze(1)
    return g


# ---------------------------------------------------------------------------
# nll_loss
# ---------------------------------------------------------------------------

def _nll_backward(ctx, g):
    return _grad_scale(ctx, g) * ctx.const, None, None


NllLossBackward0 = node("NllLossBackward0", _nll_backward)


@autocast_op("fp32")
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    _reduction_check(reduction)
    xp, C, ts, valid = _class_indices(input, target, weight, ignore_index, "nll_loss")
    dt = input._dtype
    x = input._data.astype(np.float32) if dt in _LOW else input._data
    x2 = _class_last(x)
    w = _weights(weight, C, x.dtype, xp)
    n = x2.shape[0]
    rows = xp.arange(n)
    wt = (w[ts] if w is not None else xp.ones(n, x.dtype)) * valid
    loss = -x2[rows, ts] * wt
    out_shape = tuple(target.shape)
    res, denom = _reduce(loss, reduction, wt.sum(), out_shape, xp)
    out = wrap(xp.asarray(res).astype(dt.np), dt)
    if input._requires_grad and STATE.enabled:
        m = xp.zeros(x2.shape, x.dtype)
        v = -wt
        if denom is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                v = v / denom
            v = xp.where(valid, v, 0)   # ignored samples: 0, even when none counts (0/0)
        m[rows, ts] = v
        const = wrap(_class_back(m, x.shape).astype(dt.np), dt)
        record(NllLossBackward0, (input, target, weight), out, const=const,
               reduction=reduction, in_ndim=x.ndim)
    return out


# ---------------------------------------------------------------------------
# cross_entropy
# ---------------------------------------------------------------------------

def _ce_backward(ctx, g):
    gs = _grad_scale(ctx, g)
    A, B = ctx.A, ctx.B
    if STATE.enabled:  # recorded backward (create_graph): p (and A, B) as ops of x, target
        from .activation_ops import log_softmax, softmax
        x, t = ctx.saved_tensors
        cdim = 1 if x.dim() > 1 else 0
        p = softmax(x, cdim)
        if ctx.probs:
            B = ctx.E - t * ctx.Wt
            A = B.sum(cdim, keepdim=x.dim() > 1)
    else:
        p = ctx.p
    gx = gs * (p * A - B) if ctx.needs_input_grad[0] else None
    gt = None
    if ctx.probs and ctx.needs_input_grad[1]:
        if STATE.enabled:
            lsm = log_softmax(x, 1 if x.dim() > 1 else 0)
        else:
            lsm = ctx.lsm
        gt = gs * (lsm * ctx.Wt)
    return gx, gt, None


NllLossBackward0CE = node("NllLossBackward0", _ce_backward)


def _log_softmax_arr(xp, x2):
    m = x2.max(axis=1, keepdims=True) if x2.size else x2.sum(axis=1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    z = x2 - m
    return z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))


@autocast_op("fp32")
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _reduction_check(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError("cross_entropy(): argument 'input' and 'target' must be Tensor")
    dt = input._dtype
    if not dt.is_floating_point:
        raise RuntimeError(f'"log_softmax_lastdim_kernel_impl" not implemented for '
                           f"'{_legacy(dt)}'")
    probs = target._dtype.is_floating_point
    x = input._data.astype(np.float32) if dt in _LOW else input._data
    xp = xp_of(x)
    eps = label_smoothing
    if probs:
        if tuple(target.shape) != tuple(input.shape):
            if input.dim() > 0 and target.dim() > 0 and input.shape[0] != target.shape[0]:
                raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                                 f"batch_size ({target.shape[0]}).")
            raise RuntimeError(f"Expected target size {list(input.shape)}, got "
                               f"{list(target.shape)}")
        if input.dim() < 1:
            raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
        C = x.shape[1] if x.ndim > 1 else x.shape[0]
        x2 = _class_last(x)
        lsm = _log_softmax_arr(xp, x2)
        w = _weights(weight, C, x.dtype, xp)
        t2 = _class_last(target._data.astype(x.dtype, copy=False))
        ts = t2 * (1 - eps) + eps / C if eps else t2
        wts = ts * w if w is not None else ts
        loss = -(lsm * wts).sum(axis=1)
        n = x2.shape[0]
        out_shape = (x.shape[0],) + x.shape[2:] if x.ndim > 1 else ()
        res, denom = _reduce(loss, reduction, n, out_shape, xp)
        out = wrap(xp.asarray(res).astype(dt.np), dt)
        if (input._requires_grad or target._requires_grad) and STATE.enabled:
            scale = 1.0 / denom if denom else 1.0
            A = wts.sum(axis=1) * scale
            B = wts * scale
            Wt = -(1 - eps) * scale * (w if w is not None else xp.ones(C, x.dtype))
            _record_ce(input, target, weight, out, x, x2, lsm, A, B, reduction, dt,
                       probs=True, Wt=Wt)
        return out
    if weight is None and not eps and reduction != "none" and type(x) is np.ndarray and \
            x.ndim == 2 and dt in _FAST and target._dtype is D.int64 and \
            target._data.shape == x.shape[:1]:
        out = _ce_rows(input, target, x, ignore_index, reduction == "mean")
        if out is not None:
            return out
    xp, C, ts, valid = _class_indices(input, target, weight, ignore_index, "cross_entropy")
    x2 = _class_last(x)
    lsm = _log_softmax_arr(xp, x2)
    w = _weights(weight, C, x.dtype, xp)
    n = x2.shape[0]
    rows = xp.arange(n)
    wt = (w[ts] if w is not None else xp.ones(n, x.dtype)) * valid
    loss = -lsm[rows, ts] * wt
    if eps:
        smooth = -(lsm * w).sum(axis=1) if w is not None else -lsm.sum(axis=1)
        loss = loss * (1 - eps) + smooth * valid * (eps / C)
    res, denom = _reduce(loss, reduction, wt.sum(), tuple(target.shape), xp)
    out = wrap(xp.asarray(res).astype(dt.np), dt)
    if input._requires_grad and STATE.enabled:
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = 1.0 / denom if denom is not None else 1.0
        a = wt * (1 - eps)
        B = xp.zeros(x2.shape, x.dtype)
        B[rows, ts] = a
        if eps:
            wsum = w.sum() if w is not None else C
            a = a + valid * (eps / C * wsum)
            B += (valid * (eps / C))[:, None] * (w if w is not None else 1.0)
        with np.errstate(invalid="ignore"):
            A = a * scale
            B *= scale
        if denom is not None:   # ignored samples: 0, even when none counts (0 * inf)
            A = xp.where(valid, A, 0)
            B = xp.where(valid[:, None], B, 0)
        _record_ce(input, target, weight, out, x, x2, lsm, A, B, reduction, dt, probs=False)
    return out


_FAST = (D.float32, D.float64)


def _ce_rows_backward(ctx, g):
    x, = ctx.saved_tensors
    if STATE.enabled:  # recorded backward (create_graph): softmax as an op of x
        from .activation_ops import softmax
        hot = np.zeros(ctx.p.shape, ctx.p.dtype)
        hot.reshape(-1)[ctx.flat] = 1
        return (softmax(x, 1) - wrap(hot, x._dtype)) * (g * ctx.scale), None, None
    return wrap(_ce_rows_arrays(ctx, g._data)[0], x._dtype), None, None


def _ce_rows_arrays(ctx, g):
    """Gradient ``(softmax(x) - one_hot(t)) * g * scale`` on arrays."""
    gx = ctx.p.copy()
    gx.reshape(-1)[ctx.flat] -= 1
    gx *= g * ctx.scale
    return gx, None, None


CeRowsBackward = node("NllLossBackward0", _ce_rows_backward, arrays=_ce_rows_arrays)


def _ce_rows(input, target, x, ignore_index, mean):
    """cross_entropy's common case on the CPU: (N, C) scores, int64 class indices
    all in range and none ignored, no weight or smoothing, 'mean' or 'sum'. A
    few whole-array passes instead of the general path's masks and scatters;
    None (the general path then masks or raises) when the case does not hold."""
    t = target._data
    n, C = x.shape
    if n == 0 or t.min() < 0 or t.max() >= C or (0 <= ignore_index < C and
                                                  (t == ignore_index).any()):
        return None
    m = x.max(axis=1, keepdims=True)
    if not np.isfinite(m).all():
        return None
    z = x - m                                   # log_softmax = z - log(sum(exp(z)))
    p = np.exp(z)
    s = p.sum(axis=1, keepdims=True)
    flat = t + np.arange(0, n * C, C)
    # -sum(log_softmax[i, t_i]) = sum(log s_i) + sum(-z[i, t_i]): both terms >= 0
    loss = np.log(s).sum() - z.reshape(-1)[flat].sum()
    scale = 1.0 / n if mean else 1.0
    out = wrap(np.asarray(loss * scale, x.dtype), input._dtype)
    if input._requires_grad and STATE.enabled:
        p /= s
        record(CeRowsBackward, (input, target, None), out, saved=(input,), p=p, flat=flat,
               scale=scale)
    return out


def _record_ce(input, target, weight, out, x, x2, lsm, A, B, reduction, dt, probs, Wt=None):
    """Records the cross-entropy node; ``A`` is per sample (flat), ``B`` like x2."""
    xp = xp_of(x2)
    shape = x.shape

    def full(a2):
        return wrap(_class_back(a2, shape).astype(dt.np), dt)

    a = A.reshape(()) if len(shape) == 1 else \
        xp.expand_dims(A.reshape((shape[0],) + tuple(shape[2:])), 1)
    attrs = dict(A=wrap(xp.asarray(a).astype(dt.np), dt), B=full(B), p=full(xp.exp(lsm)),
                 reduction=reduction, in_ndim=x.ndim, probs=probs)
    if probs:
        attrs["lsm"] = full(lsm)
        attrs["Wt"] = wrap(Wt.reshape((-1,) + (1,) * (x.ndim - 2)).astype(dt.np), dt)
        attrs["E"] = full(B + _class_last(target._data.astype(x.dtype)) * Wt)
    record(NllLossBackward0CE, (input, target, weight), out, saved=(input, target), **attrs)


# ---------------------------------------------------------------------------
# ctc_loss
# ---------------------------------------------------------------------------

def _ctc_backward(ctx, g):
    gs = g
    if ctx.reduction == "none":
        gs = g.reshape(1, -1, 1)
    return gs * ctx.grad_const, None, None, None


CtcLossBackward0 = node("CtcLossBackward0", _ctc_backward)


def _logsumexp2(a, b):
    m = np.maximum(a, b)
    mm = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        return np.where(np.isneginf(m), -np.inf, mm + np.log(np.exp(a - mm) + np.exp(b - mm)))


@autocast_op("fp32")
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """CTC loss (alpha-beta recursion on the CPU, vectorised over the label
    sequence). The backward is not differentiable again."""
    _reduction_check(reduction)
    lp_t = log_probs
    dt = lp_t._dtype
    lp = lp_t._data
    xp = xp_of(lp)
    host = to_host(lp).astype(np.float64)
    batched = host.ndim == 3
    if not batched:
        host = host[:, None, :]
    T, N, C = host.shape

    def ints(v):
        if isinstance(v, Tensor):
            return to_host(v._data).astype(np.int64, copy=False).reshape(-1)
        return np.asarray(v, dtype=np.int64).reshape(-1)

    il, tl = ints(input_lengths), ints(target_lengths)
    tg = targets._data
    tg = to_host(tg).astype(np.int64, copy=False)
    if not batched:
        tg = tg.reshape(1, -1)
    losses = np.zeros(N)
    grads = np.zeros((T, N, C))
    offset = 0
    for b in range(N):
        L = int(tl[b])
        Tb = int(il[b])
        if Tb > T:
            raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got "
                               f"value {Tb} (while checking arguments for ctc_loss_cpu)")
        if tg.ndim == 2:
            lab = tg[b, :L]
        else:
            lab = tg[offset:offset + L]
            offset += L
        S = 2 * L + 1
        ext = np.full(S, blank, dtype=np.int64)
        ext[1::2] = lab
        lpb = host[:Tb, b, :]
        lpe = lpb[:, ext]  # (Tb, S)
        allow_skip = np.zeros(S, dtype=bool)
        if S > 2:
            allow_skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
        alpha = np.full((Tb, S), -np.inf)
        if Tb > 0:
            alpha[0, 0] = lpe[0, 0]
            if S > 1:
                alpha[0, 1] = lpe[0, 1]
        for t in range(1, Tb):
            prev = alpha[t - 1]
            a = prev.copy()
            a[1:] = _logsumexp2(a[1:], prev[:-1])
            a[2:] = np.where(allow_skip[2:], _logsumexp2(a[2:], prev[:-2]), a[2:])
            alpha[t] = a + lpe[t]
        beta = np.full((Tb, S), -np.inf)
        if Tb > 0:
            beta[Tb - 1, S - 1] = lpe[Tb - 1, S - 1]
            if S > 1:
                beta[Tb - 1, S - 2] = lpe[Tb - 1, S - 2]
        skip_from = np.zeros(S, dtype=bool)
        if S > 2:
            skip_from[:-2] = allow_skip[2:]
        for t in range(Tb - 2, -1, -1):
            nxt = beta[t + 1]
            bb = nxt.copy()
            bb[:-1] = _logsumexp2(bb[:-1], nxt[1:])
            bb[:-2] = np.where(skip_from[:-2], _logsumexp2(bb[:-2], nxt[2:]), bb[:-2])
            beta[t] = bb + lpe[t]
        if Tb == 0:
            ll = 0.0 if L == 0 else -np.inf
        else:
            ll = alpha[Tb - 1, S - 1] if S == 1 else _logsumexp2(alpha[Tb - 1, S - 1],
                                                                 alpha[Tb - 1, S - 2])
        nll = -ll
        losses[b] = nll
        if Tb > 0 and np.isfinite(nll):
            ab = alpha + beta  # log(alpha*beta) double counts lpe
            gsum = np.full((Tb, C), -np.inf)
            for s in range(S):
                gsum[:, ext[s]] = _logsumexp2(gsum[:, ext[s]], ab[:, s])
            with np.errstate(divide="ignore", invalid="ignore"):
                grads[:Tb, b, :] = np.exp(lpb) - np.exp(gsum + nll - lpb)
        elif not np.isfinite(nll) and not zero_infinity:
            grads[:Tb, b, :] = np.nan
    if zero_infinity:
        inf = np.isinf(losses)
        losses[inf] = 0
        grads[:, inf, :] = 0
    if reduction == "none":
        res = losses
        gconst = grads
    elif reduction == "sum":
        res = losses.sum()
        gconst = grads
    else:
        div = np.maximum(tl, 1).astype(np.float64)
        res = (losses / div).mean()
        gconst = grads / div[None, :, None] / N
    if not batched:
        res = res[0] if reduction == "none" else res
        gconst = gconst[:, 0, :]
    out = wrap(xp.asarray(np.asarray(res).astype(dt.np)), dt)
    if lp_t._requires_grad and STATE.enabled:
        gc = wrap(xp.asarray(gconst.astype(dt.np)), dt)
        record(CtcLossBackward0, (lp_t, targets, None, None), out, grad_const=gc,
               reduction=reduction if batched else "scalar")
    return out
