"""Scaled dot-product attention as one fused op.

Forward on arrays: ``softmax(q k^T * scale + mask)`` (dropout on the weights)
``@ v``, keeping the attention weights for backward. Backward on arrays too;
under ``create_graph=True`` the same attention is recomputed with ember ops
and differentiated, so double backward works. Rows whose keys are all masked
give zeros (and zero gradients), as PyTorch's CPU kernels do.
"""
import math

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._blas import gemm_threads
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._core import FUNCTIONS, node, record, wrap

_LOW = (D.float16, D.bfloat16)


def _t(a):
    return a.swapaxes(-1, -2)


def _bmm(a, b):
    """Batched ``a @ b`` (all BLAS threads when big)."""
    batch = max(a.size // (a.shape[-1] * a.shape[-2] or 1), b.size // (b.shape[-1] * b.shape[-2]
                                                                       or 1))
    with gemm_threads(batch * a.shape[-2] * a.shape[-1] * b.shape[-1]):
        return a @ b


def _arr(t, dt):
    a = t._data
    return a if a.dtype == dt else a.astype(dt)


def _check(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be Tensor, "
                            f"not {type(t).__name__}")
    if not (query._dtype is key._dtype is value._dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {_nm(query)} key.dtype: {_nm(key)} and value.dtype: "
                           f"{_nm(value)} instead.")
    if not query._dtype.is_floating_point:
        raise RuntimeError(f"scaled_dot_product_attention: expected floating point inputs, got "
                           f"{query._dtype.name}")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must be at least "
                           "2-D")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same "
                           f"embedding size, got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same "
                           f"sequence length, got {key.shape[-2]} and {value.shape[-2]}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if attn_mask is not None and not (attn_mask._dtype is D.bool or
                                      attn_mask._dtype.is_floating_point):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                           f"dtype, but got attn_mask.dtype: {attn_mask._dtype.name}")


def _nm(t):
    return {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16"}.get(t._dtype.name, t._dtype.name)


def _gqa_repeat(query, key, enable_gqa):
    """How many query heads share each key/value head (1 without GQA)."""
    if not enable_gqa or query.dim() < 3 or key.dim() < 3:
        return 1
    hq, hk = query.shape[-3], key.shape[-3]
    if hq == hk:
        return 1
    if hk == 0 or hq % hk:
        raise RuntimeError("Number of heads in key and value must divide the number of heads in "
                           "query")
    return hq // hk


def _softmax_rows(xp, s):
    """Softmax over the last axis in place; all -inf rows become zeros."""
    m = s.max(-1, keepdims=True)
    dead = None
    if not bool(xp.isfinite(m).all()):
        dead = ~xp.isfinite(m)
        m = xp.where(dead, 0, m)
    s -= m
    xp.exp(s, out=s)
    tot = s.sum(-1, keepdims=True)
    if dead is not None:
        tot = xp.where(tot == 0, 1, tot)
    s /= tot
    return s


def _sdpa_backward(ctx, g):
    if STATE.enabled:
        return _sdpa_backward_graph(ctx, g)
    q_t, k_t, v_t = ctx.saved_tensors
    dt = ctx.cdt
    p, keep, scale, rep = ctx.p, ctx.keep, ctx.scale, ctx.rep
    need = ctx.needs_input_grad
    q, k, v = _arr(q_t, dt), _arr(k_t, dt), _arr(v_t, dt)
    if rep > 1:
        xp = xp_of(k)
        k, v = xp.repeat(k, rep, axis=-3), xp.repeat(v, rep, axis=-3)
    ga = _arr(g, dt)
    pd = p * keep if keep is not None else p
    gq = gk = gv = gm = None
    if need[2]:
        gv = _bmm(_t(pd), ga)
    dp = _bmm(ga, _t(v))
    if keep is not None:
        dp *= keep
    ds = dp
    ds -= (dp * p).sum(-1, keepdims=True)
    ds *= p
    if need[3]:
        gm = ds
    if need[0]:
        gq = _bmm(ds, k) * scale
    if need[1]:
        gk = _bmm(_t(ds), q) * scale
    if rep > 1:
        if gk is not None:
            gk = _group_sum(gk, rep)
        if gv is not None:
            gv = _group_sum(gv, rep)
    dts = (q_t._dtype, k_t._dtype, v_t._dtype, ctx.mask_dtype)
    return tuple(None if a is None else wrap(a.astype(d.np, copy=False), d)
                 for a, d in zip((gq, gk, gv, gm), dts))


def _group_sum(a, rep):
    s = a.shape
    return a.reshape(s[:-3] + (s[-3] // rep, rep) + s[-2:]).sum(-3)


SdpaBackward = node("ScaledDotProductFlashAttentionForCpuBackward0", _sdpa_backward)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    _check(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    dt = query._dtype
    cdt = np.dtype(np.float32) if dt in _LOW else np.dtype(dt.np)
    rep = _gqa_repeat(query, key, enable_gqa)
    q, k, v = _arr(query, cdt), _arr(key, cdt), _arr(value, cdt)
    xp = xp_of(q)
    if rep > 1:
        k, v = xp.repeat(k, rep, axis=-3), xp.repeat(v, rep, axis=-3)
    e, lq, sk = q.shape[-1], q.shape[-2], k.shape[-2]
    sc = 1.0 / math.sqrt(e) if scale is None else float(scale)
    s = _bmm(q * sc, _t(k))
    if is_causal:
        s = s + xp.where(xp.tril(xp.ones((lq, sk), bool)), 0, -xp.inf).astype(cdt)
    if attn_mask is not None:
        m = attn_mask._data
        if attn_mask._dtype is D.bool:
            s = s + xp.where(m, 0, -xp.inf).astype(cdt)
        else:
            s = s + m.astype(cdt, copy=False)
    p = _softmax_rows(xp, s)
    keep = None
    if dropout_p > 0:
        if dropout_p >= 1:
            keep = xp.zeros(p.shape, cdt)
        else:
            mask = FUNCTIONS["empty"](p.shape, dtype=D.float32,
                                      device=query.device).bernoulli_(1 - dropout_p)
            keep = mask._data.astype(cdt, copy=False) * (1.0 / (1 - dropout_p))
        out = _bmm(p * keep, v)
    else:
        out = _bmm(p, v)
    res = wrap(out.astype(dt.np, copy=False), dt)
    mask_grad = attn_mask is not None and attn_mask._dtype.is_floating_point
    if STATE.enabled:
        record(SdpaBackward, (query, key, value, attn_mask if mask_grad else None), res,
               saved=(query, key, value), p=p, keep=keep, scale=sc, rep=rep, cdt=cdt,
               mask_dtype=attn_mask._dtype if mask_grad else None, is_causal=is_causal,
               attn_mask=attn_mask)
    return res


# ---------------------------------------------------------------------------
# Double backward: the attention as ember ops, then differentiated
# ---------------------------------------------------------------------------

def _sdpa_graph(q, k, v, mask, ctx):
    if ctx.rep > 1:
        k = k.repeat_interleave(ctx.rep, dim=-3)
        v = v.repeat_interleave(ctx.rep, dim=-3)
    s = (q * ctx.scale).matmul(k.transpose(-2, -1))
    lq, sk = s.shape[-2], s.shape[-1]
    xp = xp_of(s._data)
    add = None
    if ctx.is_causal:
        add = xp.where(xp.tril(xp.ones((lq, sk), bool)), 0, -xp.inf)
    m = ctx.attn_mask
    if m is not None:
        if m._dtype is D.bool:
            add = xp.where(m._data, 0, -xp.inf)
        else:
            s = s + m
    if add is not None:
        s = s + wrap(add.astype(s._data.dtype), s._dtype)
    dead = ~xp.isfinite(s._data.max(-1, keepdims=True))
    if bool(dead.any()):   # all keys masked: zeros out, zero gradients
        dead = wrap(dead)
        p = s.masked_fill(dead, 0).softmax(-1).masked_fill(dead, 0)
    else:
        p = s.softmax(-1)
    if ctx.keep is not None:
        p = p * wrap(ctx.keep.astype(s._data.dtype, copy=False), s._dtype)
    return p.matmul(v)


def _sdpa_backward_graph(ctx, g):
    from ..autograd import grad as _grad
    q, k, v = ctx.saved_tensors
    m = ctx.attn_mask if ctx.mask_dtype is not None else None
    ins = (q, k, v, m)
    need = [i for i in range(4) if ctx.needs_input_grad[i]]
    out = _sdpa_graph(q, k, v, m, ctx)
    gs = _grad([out], [ins[i] for i in need], [g], create_graph=True, allow_unused=True)
    res = [None] * 4
    for i, gi in zip(need, gs):
        res[i] = gi
    return tuple(res)
