"""Pooling: max/avg (1d-3d, padding, dilation, ceil_mode), adaptive max/avg,
fractional max, max_unpool.

Windows are strided views of the (padded) input, one per kernel tap, so a pool
is ``prod(kernel)`` vectorised passes over the output. Every backward is a
linear map (scatter into windows, or by index) computed by ``_linear`` whose
own backward is the adjoint map, so double backward works.
"""
import math

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ._core import FUNCTIONS, export, node, record, wrap
from ._parallel import split
from .conv import _pad_to, _span

_LOW = (D.float16, D.bfloat16)


# ---------------------------------------------------------------------------
# Linear maps with their adjoints
# ---------------------------------------------------------------------------

def _linear_backward(ctx, g):
    return _linear(g, ctx.ft, ctx.f, ctx.adj_name, ctx.fwd_name)


_NODES = {}


def _linear(x, f, ft, name, adj_name):
    """``f(x)`` for a linear array map ``f`` with adjoint ``ft``; recorded as node
    ``name`` whose backward is ``ft`` (recorded as ``adj_name``)."""
    a = x._data
    low = x._dtype in _LOW
    r = f(a.astype(np.float32) if low else a)
    out = wrap(r.astype(x._dtype.np) if low else r, x._dtype)
    if x._requires_grad:
        cls = _NODES.get(name)
        if cls is None:
            cls = _NODES[name] = node(name, _linear_backward)
        record(cls, (x,), out, f=f, ft=ft, fwd_name=name, adj_name=adj_name)
    return out


def _indexed_backward(ctx, g):
    return _linear(g, ctx.ft, ctx.f, ctx.fwd_name.replace("Backward0", "BackwardBackward0"),
                   ctx.fwd_name)


_IDX_NODES = {}


def _record_indexed(name, input, out, f, ft):
    """Records a max-type op whose backward is the linear map ``ft`` (scatter by
    the argmax) with adjoint ``f`` (gather)."""
    if input._requires_grad:
        cls = _IDX_NODES.get(name)
        if cls is None:
            cls = _IDX_NODES[name] = node(name, _indexed_backward)
        record(cls, (input,), out, f=f, ft=ft, fwd_name=name)


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def _tuple(v, nd, name, fn):
    if isinstance(v, (tuple, list)):
        v = tuple(int(a) for a in v)
        if len(v) == 1:
            v = v * nd
        if len(v) != nd:
            raise RuntimeError(f"{fn}: {name} must either be a single int, or a tuple of {nd} "
                               f"ints")
        return v
    return (int(v),) * nd


def _prepare(input, nd, fn):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{fn}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for "
                           f"input, but got: {list(input.shape)}")
    unb = input.ndim == nd + 1
    x = input.unsqueeze(0) if unb else input
    if any(n == 0 for n in x.shape[1:]):
        raise RuntimeError(f"{fn}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with "
                           f"optional 0 dim batch size for input, but got:{list(input.shape)}")
    return x, unb


def _finish(out, unb):
    return out.squeeze(0) if unb else out


def _geometry(S, k, s, p, d, ceil, fn):
    for kk in k:
        if kk <= 0:
            raise RuntimeError(f"{fn}: kernel_size must be greater than zero, but got "
                               f"{list(k)}")
    if any(v <= 0 for v in s):
        raise RuntimeError("stride should not be zero")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(d)}")
    for pp, kk, dd in zip(p, k, d):
        if pp < 0 or pp > ((kk - 1) * dd + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pp}, kernel_size={kk} and dilation={dd}")
    osz = []
    for n, kk, ss, pp, dd in zip(S, k, s, p, d):
        o = (n + 2 * pp - dd * (kk - 1) - 1 + (ss - 1 if ceil else 0)) // ss + 1
        if ceil and (o - 1) * ss >= n + pp:
            o -= 1
        osz.append(o)
    if any(o <= 0 for o in osz):
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, S))}). Calculated output "
                           f"size: ({'x'.join(map(str, osz))}). Output size is too small")
    return tuple(osz)


def _views(a, k, s, d, osz):
    """One strided view of ``a`` (N, C, *Sp) per kernel tap, each shaped like the output."""
    for kk in np.ndindex(*k):
        yield a[(slice(None), slice(None)) + tuple(
            slice(kk[i] * d[i], kk[i] * d[i] + s[i] * (osz[i] - 1) + 1, s[i])
            for i in range(len(k)))]


def _padded_size(S, k, s, p, d, osz):
    return tuple(max(_span(o, kk, ss, dd), pp + n) for o, kk, ss, dd, pp, n in
                 zip(osz, k, s, d, p, S))


def _crop(xp, buf, p, S):
    if all(pp == 0 for pp in p) and buf.shape[2:] == tuple(S):
        return buf
    return xp.ascontiguousarray(buf[(slice(None), slice(None)) +
                                    tuple(slice(pp, pp + n) for pp, n in zip(p, S))])


def _tiles(k, s, p, d, S, osz):
    """Windows tile the input exactly (stride = kernel, no padding or dilation)."""
    return all(kk == ss and pp == 0 and dd == 1 and o * kk == n
               for kk, ss, pp, dd, n, o in zip(k, s, p, d, S, osz))


def _tiled_shape(nc, k, osz):
    return tuple(nc) + tuple(v for o, kk in zip(osz, k) for v in (o, kk))


def _window_scatter(k, s, p, d, S, osz, weight=None, idx=None):
    """(N, C, *osz) -> (N, C, *S): every output cell adds into its window's
    taps (times ``weight``), or only into the tap ``idx`` selects."""
    # disjoint windows: each tap view is written once, no read-modify-write
    disjoint = all(ss >= dd * (kk - 1) + 1 for kk, ss, dd in zip(k, s, d))

    # windows tile the input: every cell is written once, no zero fill needed
    covers = _tiles(k, s, p, d, S, osz)
    tiled = idx is None and covers

    def f(g):
        xp = xp_of(g)
        gg = g if weight is None else g * weight
        if tiled:  # every input cell in exactly one window: a broadcast copy
            out = xp.empty(g.shape[:2] + tuple(S), g.dtype)
            out.reshape(_tiled_shape(g.shape[:2], k, osz))[...] = \
                gg.reshape(_tiled_shape(g.shape[:2], (1,) * len(k), osz))
            return out
        shape = g.shape[:2] + _padded_size(S, k, s, p, d, osz)
        buf = xp.empty(shape, g.dtype) if covers else xp.zeros(shape, g.dtype)

        def run(a, b):   # samples a .. b-1, in cache-sized chunks
            for n0, n1 in _blocks(a, b, math.prod(gg.shape[1:]) * math.prod(k), xp):
                gc = gg[n0:n1]
                ic = None if idx is None else idx[n0:n1]
                for j, v in enumerate(_views(buf[n0:n1], k, s, d, osz)):
                    if ic is None:
                        if disjoint:
                            v[...] = gc
                        else:
                            v += gc
                    elif disjoint:
                        xp.multiply(gc, ic == j, out=v)
                    else:
                        v += gc * (ic == j)
        split(run, g.shape[0], buf.size, xp, 4)
        return _crop(xp, buf, p, S)
    return f


def _window_gather(k, s, p, d, S, osz, weight=None, idx=None):
    """The adjoint of ``_window_scatter``."""
    tiled = idx is None and _tiles(k, s, p, d, S, osz)
    axes = tuple(3 + 2 * i for i in range(len(k)))

    def f(x):
        xp = xp_of(x)
        if tiled:  # one reduction over the window axes of a reshaped view
            out = x.reshape(_tiled_shape(x.shape[:2], k, osz)).sum(axes)
            return out if weight is None else out * weight
        xpad = _pad_to(xp, x, p, _padded_size(S, k, s, p, d, osz))
        out = xp.zeros(x.shape[:2] + tuple(osz), x.dtype)
        for j, v in enumerate(_views(xpad, k, s, d, osz)):
            out += v if idx is None else v * (idx == j)
        return out if weight is None else out * weight
    return f


def _index_scatter(S):
    """(N, C, *osz) values added at flat plane indices ``idx`` -> (N, C, *S)."""
    def make(idx):
        def f(g):
            xp = xp_of(g)
            N, C = g.shape[:2]
            P = math.prod(S)
            flat = (_planes(idx) + (xp.arange(N * C) * P).reshape(N, C, 1)).ravel()
            r = xp.bincount(flat, weights=g.ravel(), minlength=N * C * P)
            return r.astype(g.dtype, copy=False).reshape((N, C) + tuple(S))
        return f
    return make


def _planes(a):
    """(N, C, *S) -> (N, C, prod(S)), also for empty batches."""
    return a.reshape(a.shape[:2] + (math.prod(a.shape[2:]),))


def _index_gather(idx):
    def f(x):
        r = xp_of(x).take_along_axis(_planes(x), _planes(idx), 2)
        return r.reshape(idx.shape)
    return f


def _node_name(kind, nd):
    return f"{kind}{nd}DBackward0"


# ---------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------

def _fill_min(dt):
    return -np.inf if dt.kind == "f" else np.iinfo(dt).min


def _global_index(idx, k, s, p, d, S, osz):
    """Local tap numbers -> flat indices into each input plane (as PyTorch returns)."""
    xp = xp_of(idx)
    nd = len(k)
    loc = idx.astype(np.int64)
    flat = 0
    for i in range(nd):
        inner = math.prod(k[i + 1:])
        tap = (loc // inner) % k[i] if i else loc // inner
        shape = [1] * (nd + 2)
        shape[2 + i] = osz[i]
        base = (xp.arange(osz[i], dtype=np.int64) * s[i] - p[i]).reshape(shape)
        flat = flat * S[i] + (base + tap * d[i])
    return flat


def max_pool(input, nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
             return_indices=False, fn="max_pool2d"):
    x, unb = _prepare(input, nd, fn)
    k = _tuple(kernel_size, nd, "kernel_size", fn)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _tuple(stride, nd, "stride", fn)
    p = _tuple(padding, nd, "padding", fn)
    d = _tuple(dilation, nd, "dilation", fn)
    S = tuple(x.shape[2:])
    osz = _geometry(S, k, s, p, d, ceil_mode, fn)
    a = x._data
    xp = xp_of(a)
    low = x._dtype in _LOW
    if low:
        a = a.astype(np.float32)
    xpad = _pad_to(xp, a, p, _padded_size(S, k, s, p, d, osz), _fill_min(a.dtype))
    need = return_indices or (x._requires_grad and _grad_on())
    m, idx = _max_taps(xp, xpad, k, s, d, osz, need)
    if need:
        if a.dtype.kind == "f" and xp.isnan(m).any():
            m, idx = _max_exact(xp, xpad, k, s, d, osz, idx)
    out = wrap(m.astype(x._dtype.np) if low else m, x._dtype)
    if idx is not None:
        _record_indexed(f"MaxPool{nd}DWithIndicesBackward0", x, out,
                        _window_gather(k, s, p, d, S, osz, idx=idx),
                        _window_scatter(k, s, p, d, S, osz, idx=idx))
    if return_indices:
        ind = wrap(_global_index(idx, k, s, p, d, S, osz), D.int64)
        return _finish(out, unb), _finish(ind, unb)
    return _finish(out, unb)


_BLOCK = 1 << 17   # output elements per block: the passes over a block stay in cache


def _blocks(a, b, per, xp=np):
    """Cuts samples ``a .. b-1`` (``per`` elements each) into cache-sized blocks
    (one block on the GPU, where fewer, bigger kernels are what pays)."""
    if xp is not np:
        return [(a, b)]
    step = max(1, _BLOCK // max(1, per))
    return [(n0, min(b, n0 + step)) for n0 in range(a, b, step)]


def _max_taps(xp, xpad, k, s, d, osz, need):
    """Max over the windows of ``xpad`` (N, C, *Sp) and, if ``need``, the tap
    number of the first maximum (int8/int32). Samples are split over the intra-op
    threads (NumPy arrays; ~1.9x on 2 cores for 64x64x24x24), a block at a time."""
    N, C = xpad.shape[:2]
    m = xp.empty((N, C) + tuple(osz), xpad.dtype)
    idx = xp.empty(m.shape, np.int8 if math.prod(k) < 128 else np.int32) if need else None

    def run(a, b):
        for n0, n1 in _blocks(a, b, math.prod(m.shape[1:]), xp):
            views = _views(xpad[n0:n1], k, s, d, osz)
            mc = m[n0:n1]
            mc[...] = next(views)
            if idx is None:
                for v in views:
                    xp.maximum(mc, v, out=mc)
                continue
            ic = idx[n0:n1]
            ic[...] = 0
            for j, v in enumerate(views, 1):
                # idx = j where v > m: integer arithmetic beats masked copies several-fold
                step = j - ic
                step *= v > mc
                ic += step
                xp.maximum(mc, v, out=mc)
    split(run, N, m.size * math.prod(k), xp, 4)
    return m, idx


def _max_exact(xp, xpad, k, s, d, osz, idx):
    """PyTorch's rule with NaNs: a NaN wins, and a later NaN wins over an earlier one."""
    views = _views(xpad, k, s, d, osz)
    m = xp.array(next(views))
    idx[...] = 0
    for j, v in enumerate(views, 1):
        take = (v > m) | xp.isnan(v)
        xp.copyto(idx, j, where=take)
        xp.copyto(m, v, where=take)
    return m, idx


def _grad_on():
    from ..autograd.grad_mode import STATE
    return STATE.enabled


# ---------------------------------------------------------------------------
# Average pooling
# ---------------------------------------------------------------------------

def _avg_divisor(xp, S, k, s, p, osz, count_include_pad, dtype):
    div = None
    for i, (n, kk, ss, pp, o) in enumerate(zip(S, k, s, p, osz)):
        start = np.arange(o) * ss - pp
        end = np.minimum(start + kk, n + pp)
        size = end - start if count_include_pad else \
            np.minimum(end, n) - np.maximum(start, 0)
        shape = [1] * len(S)
        shape[i] = o
        size = size.reshape(shape)
        div = size if div is None else div * size
    return xp.asarray(div.astype(dtype))


def avg_pool(input, nd, kernel_size, stride=None, padding=0, ceil_mode=False,
             count_include_pad=True, divisor_override=None, fn="avg_pool2d"):
    x, unb = _prepare(input, nd, fn)
    k = _tuple(kernel_size, nd, "kernel_size", fn)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _tuple(stride, nd, "stride", fn)
    p = _tuple(padding, nd, "padding", fn)
    d = (1,) * nd
    S = tuple(x.shape[2:])
    osz = _geometry(S, k, s, p, d, ceil_mode, fn)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        w = 1.0 / divisor_override
    else:
        cdt = np.float32 if x._dtype in _LOW or not x._dtype.is_floating_point else \
            x._dtype.np
        w = 1 / _avg_divisor(xp_of(x._data), S, k, s, p, osz, count_include_pad, cdt)
    if not x._dtype.is_floating_point:
        # integer pooling: sum, then truncating division (as PyTorch's integer kernel)
        xp = xp_of(x._data)
        tot = _window_gather(k, s, p, d, S, osz)(x._data)
        div = divisor_override if divisor_override is not None else 1 / w
        r = xp.trunc(tot / div).astype(x._data.dtype)
        return _finish(wrap(r, x._dtype), unb)
    name = _node_name("AvgPool", nd)
    out = _linear(x, _window_gather(k, s, p, d, S, osz, weight=w),
                  _window_scatter(k, s, p, d, S, osz, weight=w), name,
                  name.replace("Backward0", "BackwardBackward0"))
    return _finish(out, unb)


# ---------------------------------------------------------------------------
# Adaptive pooling
# ---------------------------------------------------------------------------

def _adaptive_size(output_size, S, nd, fn):
    if isinstance(output_size, (tuple, list)):
        o = tuple(output_size)
        if len(o) == 1 and nd > 1:
            o = o * nd
        if len(o) != nd:
            raise RuntimeError(f"{fn}: internal error: output_size.size() must be {nd}")
    else:
        o = (output_size,) * nd
    o = tuple(n if v is None else int(v) for v, n in zip(o, S))
    if any(v < 0 for v in o):
        raise RuntimeError(f"{fn}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(o)}")
    return o


def _bounds(n, o):
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _adaptive_input(input, nd, fn):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2) or any(n == 0 for n in input.shape[-nd - 1 + 1:]):
        raise RuntimeError(f"{fn}(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{list(input.shape)}")
    unb = input.ndim == nd + 1
    return (input.unsqueeze(0) if unb else input), unb


def adaptive_avg_pool(input, nd, output_size, fn="adaptive_avg_pool2d"):
    x, unb = _adaptive_input(input, nd, fn)
    S = tuple(x.shape[2:])
    o = _adaptive_size(output_size, S, nd, fn)
    name = _node_name("AdaptiveAvgPool", nd)
    adj = name.replace("Backward0", "BackwardBackward0")
    if all(v > 0 and n % v == 0 for n, v in zip(S, o)):
        k = tuple(n // v for n, v in zip(S, o))
        z = (0,) * nd
        one = (1,) * nd
        w = 1.0 / math.prod(k)
        out = _linear(x, _window_gather(k, k, z, one, S, o, weight=w),
                      _window_scatter(k, k, z, one, S, o, weight=w), name, adj)
        return _finish(out, unb)
    cdt = np.float32 if x._dtype in _LOW or not x._dtype.is_floating_point else x._dtype.np
    mats = []
    for n, v in zip(S, o):
        m = np.zeros((v, n))
        for i, (a, b) in enumerate(zip(*_bounds(n, v))):
            m[i, a:b] = 1.0 / (b - a)
        mats.append(m.astype(cdt))
    xp = xp_of(x._data)
    mats = [xp.asarray(m) for m in mats]
    out = _linear(x, _separable(mats), _separable([m.T for m in mats]), name, adj)
    return _finish(out, unb)


def _separable(mats):
    """x (N, C, *S) -> x with matrix ``mats[i]`` applied along spatial dim i."""
    def f(a):
        xp = xp_of(a)
        for i, m in enumerate(mats):
            a = xp.moveaxis(xp.moveaxis(a, 2 + i, -1) @ m.T.astype(a.dtype, copy=False), -1,
                            2 + i)
        return xp.ascontiguousarray(a)
    return f


def adaptive_max_pool(input, nd, output_size, return_indices=False, fn="adaptive_max_pool2d"):
    x, unb = _adaptive_input(input, nd, fn)
    S = tuple(x.shape[2:])
    o = _adaptive_size(output_size, S, nd, fn)
    a = x._data
    xp = xp_of(a)
    low = x._dtype in _LOW
    if low:
        a = a.astype(np.float32)
    N, C = a.shape[:2]
    # Per dim, window positions padded to the longest window by repeating its last one.
    pos = []
    for n, v in zip(S, o):
        st, en = _bounds(n, v)
        L = int((en - st).max()) if v else 1
        pos.append(np.minimum(st[:, None] + np.arange(L)[None, :], en[:, None] - 1))
    flat = np.zeros((1,) * (2 * nd), np.int64)
    for i, (ps, n) in enumerate(zip(pos, S)):
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = ps.shape
        flat = flat * n + ps.reshape(shape)
    flat = flat.reshape(tuple(o) + (-1,))
    win = xp.asarray(flat)
    vals = _planes(a)[:, :, win]
    j = _nan_argmax(xp, vals)
    gidx = xp.take_along_axis(xp.broadcast_to(win, (N, C) + win.shape), j[..., None],
                              -1)[..., 0]
    m = xp.take_along_axis(vals, j[..., None], -1)[..., 0]
    out = wrap(m.astype(x._dtype.np) if low else m, x._dtype)
    _record_indexed(_node_name("AdaptiveMaxPool", nd), x, out, _index_gather(gidx),
                    _index_scatter(S)(gidx))
    if return_indices:
        return _finish(out, unb), _finish(wrap(gidx.astype(np.int64), D.int64), unb)
    return _finish(out, unb)


def _nan_argmax(xp, vals):
    """argmax over the last axis; the first NaN wins (NumPy) -- PyTorch picks the
    last NaN, which only matters for the index."""
    return xp.argmax(vals, -1)


# ---------------------------------------------------------------------------
# Fractional max pooling
# ---------------------------------------------------------------------------

def _intervals(u, n, o, k, dt):
    """PyTorch's pseudo-random window starts for samples ``u`` (N, C), in ``dt``."""
    u = u.astype(dt)
    seq = np.empty(u.shape + (o,), np.int64)
    if o > 1:
        alpha = dt(n - k) / dt(o - 1)
        i = np.arange(o - 1, dtype=dt)
        seq[..., :-1] = (((i + u[..., None]) * alpha).astype(np.int64) -
                         (u * alpha).astype(np.int64)[..., None])
    if o > 0:
        seq[..., -1] = n - k
    return seq


def fractional_max_pool(input, nd, kernel_size, output_size=None, output_ratio=None,
                        return_indices=False, _random_samples=None,
                        fn="fractional_max_pool2d"):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{fn}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    unb = input.ndim == nd + 1
    x = input.unsqueeze(0) if unb else input
    k = _tuple(kernel_size, nd, "kernel_size", fn)
    S = tuple(x.shape[2:])
    if output_size is None:
        if output_ratio is None:
            raise ValueError("fractional_max_pool2d requires specifying either an output_size "
                             "or an output_ratio")
        r = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * nd
        if len(r) == 1:
            r = tuple(r) * nd
        o = tuple(int(n * float(v)) for n, v in zip(S, r))
    else:
        o = _tuple(output_size, nd, "output_size", fn)
    for n, v, kk in zip(S, o, k):
        if v + kk - 1 > n:
            raise RuntimeError(f"{fn}(): pool size {kk} too large relative to input size {n} "
                               f"and output size {v}")
    N, C = x.shape[:2]
    if _random_samples is None:
        _random_samples = FUNCTIONS["rand"](N, C, nd, dtype=x._dtype if x._dtype.is_floating_point
                               else None, device=x.device)
    u = np.asarray(_random_samples.detach().cpu()._data)
    if u.ndim == 2 and unb:
        u = u[None]
    if u.shape != (N, C, nd):
        raise RuntimeError(f"{fn}(): Expect _random_samples to be of size {[N, C, nd]}, but "
                           f"got {list(u.shape)}")
    cdt = np.float64 if x._dtype is D.float64 else np.float32
    if nd == 2:  # PyTorch draws the width's sample first for 2-d
        order = (1, 0)
    else:
        order = tuple(range(nd))
    flat = np.zeros((N, C) + (1,) * (2 * nd), np.int64)
    for i in range(nd):
        st = _intervals(u[:, :, order[i]], S[i], o[i], k[i], cdt)       # (N, C, o_i)
        shape = [N, C] + [1] * (2 * nd)
        shape[2 + i] = o[i]
        tap = np.arange(k[i]).reshape([1] * (2 + nd + i) + [k[i]] + [1] * (nd - i - 1))
        flat = flat * S[i] + (st.reshape(shape) + tap)
    flat = flat.reshape((N, C) + tuple(o) + (math.prod(k),))
    a = x._data
    xp = xp_of(a)
    low = x._dtype in _LOW
    if low:
        a = a.astype(np.float32)
    win = xp.asarray(flat)
    vals = xp.take_along_axis(_planes(a), _planes(win), 2).reshape(win.shape)
    j = xp.argmax(vals, -1)[..., None]
    gidx = xp.take_along_axis(win, j, -1)[..., 0]
    m = xp.take_along_axis(vals, j, -1)[..., 0]
    out = wrap(m.astype(x._dtype.np) if low else m, x._dtype)
    _record_indexed(f"FractionalMaxPool{nd}DBackward0", x, out, _index_gather(gidx),
                    _index_scatter(S)(gidx))
    if return_indices:
        return _finish(out, unb), _finish(wrap(gidx, D.int64), unb)
    return _finish(out, unb)


# ---------------------------------------------------------------------------
# Max unpooling
# ---------------------------------------------------------------------------

def _unpool_place(S):
    def f(v, idx):
        xp = xp_of(v)
        N, C = v.shape[:2]
        P = math.prod(S)
        out = xp.zeros(N * C * P, v.dtype)
        out[(_planes(idx) + (xp.arange(N * C) * P).reshape(N, C, 1)).ravel()] = v.ravel()
        return out.reshape((N, C) + tuple(S))
    return f


def max_unpool(input, nd, indices, kernel_size, stride=None, padding=0, output_size=None,
               fn="max_unpool2d"):
    if not isinstance(input, Tensor) or not isinstance(indices, Tensor):
        raise TypeError(f"{fn}(): expected Tensor arguments")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{fn}(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{list(input.shape)}")
    if indices._dtype is not D.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: "
                           f"{indices._dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    k = _tuple(kernel_size, nd, "kernel_size", fn)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _tuple(stride, nd, "stride", fn)
    p = _tuple(padding, nd, "padding", fn)
    unb = input.ndim == nd + 1
    x = input.unsqueeze(0) if unb else input
    idx = indices._data[None] if unb else indices._data
    Sin = tuple(x.shape[2:])
    default = tuple((n - 1) * ss - 2 * pp + kk for n, ss, pp, kk in zip(Sin, s, p, k))
    if output_size is None:
        S = default
    else:
        S = tuple(int(v) for v in output_size)
        if len(S) == nd + 2:
            S = S[2:]
        elif len(S) == nd + 1:
            S = S[1:]
        if len(S) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(output_size)}'")
        for v, dv, ss in zip(S, default, s):
            if not dv - ss < v < dv + ss:
                raise ValueError(f"invalid output_size \"{list(S)}\" (dim 0 must be between "
                                 f"{dv - ss} and {dv + ss})")
    P = math.prod(S)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= P):
        bad = int(idx.max()) if int(idx.max()) >= P else int(idx.min())
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, S))}")
    place = _unpool_place(S)
    gather = _index_gather(idx)
    out = _linear(x, lambda v: place(v, idx), gather, f"MaxUnpool{nd}DBackward0",
                  f"MaxUnpool{nd}DBackwardBackward0")
    return _finish(out, unb)


# ---------------------------------------------------------------------------
# Top-level functions PyTorch exposes as torch.<name>
# ---------------------------------------------------------------------------

def _stride_default(stride):
    return None if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else stride


@export(method=False)
def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return max_pool(input, 1, kernel_size, _stride_default(stride), padding, dilation,
                    ceil_mode, fn="max_pool1d")


@export(method=False)
def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    return max_pool(input, 1, kernel_size, _stride_default(stride), padding, dilation,
                    ceil_mode, True, fn="max_pool1d")


@export(method=False)
def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return max_pool(input, 2, kernel_size, _stride_default(stride), padding, dilation,
                    ceil_mode, fn="max_pool2d")


@export(method=False)
def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return max_pool(input, 3, kernel_size, _stride_default(stride), padding, dilation,
                    ceil_mode, fn="max_pool3d")


@export(method=False)
def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False,
               count_include_pad=True):
    return avg_pool(input, 1, kernel_size, _stride_default(stride), padding, ceil_mode,
                    count_include_pad, fn="avg_pool1d")


@export(method=False)
def adaptive_avg_pool1d(input, output_size):
    return adaptive_avg_pool(input, 1, output_size, fn="adaptive_avg_pool1d")


@export(method=False)
def adaptive_max_pool1d(input, output_size):
    return adaptive_max_pool(input, 1, output_size, True, fn="adaptive_max_pool1d")
