"""Reductions: sum, mean, prod, var/std, max/min (with indices), amax/amin,
argmax/argmin, all/any, logsumexp, norm."""
import builtins
import collections

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from ._core import dims_arg, export, node, record, wrap, wrap_dim

# Namedtuples as in torch.return_types
values_indices = {n: collections.namedtuple(n, ["values", "indices"])
                  for n in ("max", "min", "sort", "topk", "kthvalue", "median", "mode",
                            "nanmedian", "cummax", "cummin")}


def _expand_back(g, dims, keepdim, shape):
    """Broadcasts a reduced gradient back to the input ``shape``."""
    if not keepdim and dims:
        for d in dims:
            g = g.unsqueeze(d)
    return g.expand(*shape) if tuple(g.shape) != tuple(shape) else g


def _sum_backward(ctx, g):
    return _expand_back(g, ctx.dims, ctx.keepdim, ctx.in_shape)


def _mean_backward(ctx, g):
    return _expand_back(g, ctx.dims, ctx.keepdim, ctx.in_shape) / ctx.count


SumBackward0 = node("SumBackward0", _sum_backward)
SumBackward1 = node("SumBackward1", _sum_backward)
MeanBackward0 = node("MeanBackward0", _mean_backward)
MeanBackward1 = node("MeanBackward1", _mean_backward)


def _sum_dtype(dt, dtype):
    if dtype is not None:
        return dtype
    if dt is D.bool or (not dt.is_floating_point and not dt.is_complex):
        return D.int64
    return dt


@export()
def sum(input, dim=None, keepdim=False, *, dtype=None):
    a = input._data
    odt = _sum_dtype(input._dtype, dtype)
    dims = tuple(range(a.ndim)) if dim is None or (isinstance(dim, (tuple, list)) and not dim) \
        else dims_arg(dim, a.ndim)
    xp = np if type(a) is np.ndarray else xp_of(a)
    if odt in (D.float16, D.bfloat16):
        r = xp.sum(a, axis=dims, keepdims=keepdim, dtype=np.float32).astype(odt.np)
    else:
        r = xp.sum(a, axis=dims, keepdims=keepdim, dtype=odt.np)
    out = wrap(r, odt)
    if input._requires_grad:
        record(SumBackward0 if dim is None else SumBackward1, (input,), out,
               dims=dims, keepdim=keepdim, in_shape=a.shape)
    return out


@export()
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return sum(input.nan_to_num(0.0, posinf=float("inf"), neginf=float("-inf"))
               if input.is_floating_point() else input, dim, keepdim, dtype=dtype)


@export()
def mean(input, dim=None, keepdim=False, *, dtype=None):
    dt = dtype or input._dtype
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: "
                           f"{_legacy(input._dtype)}")
    a = input._data
    if dtype is not None and dtype is not input._dtype:
        a = a.astype(dtype.np)
    dims = tuple(range(a.ndim)) if dim is None or (isinstance(dim, (list, tuple)) and not dim) \
        else dims_arg(dim, a.ndim)
    xp = np if type(a) is np.ndarray else xp_of(a)
    if dt in (D.float16, D.bfloat16):
        r = xp.mean(a, axis=dims, keepdims=keepdim, dtype=np.float32).astype(dt.np)
    else:
        r = xp.mean(a, axis=dims, keepdims=keepdim)
    out = wrap(r if r.dtype == dt.np else r.astype(dt.np), dt)
    if input._requires_grad:
        count = int(np.prod([a.shape[d] for d in dims])) if dims else 1
        record(MeanBackward0 if dim is None else MeanBackward1, (input,), out, dims=dims,
               keepdim=keepdim, in_shape=a.shape, count=count)
    return out


def _legacy(dt):
    from ._core import _legacy_name
    return _legacy_name(dt)


def _prod_backward(ctx, g):
    (x,) = ctx.saved_tensors
    dims = ctx.dims
    g = _expand_back(g, dims, ctx.keepdim, x.shape)
    # Product of all other elements, robust to zeros: exclusive cumprod both ways.
    if len(dims) == 1:
        d = dims[0]
        left = _excl_cumprod(x, d, False)
        right = _excl_cumprod(x, d, True)
        return g * (left * right).conj()
    flat = x.reshape(-1) if len(dims) == x.dim() else None
    if flat is not None:
        left = _excl_cumprod(flat, 0, False)
        right = _excl_cumprod(flat, 0, True)
        return g * (left * right).reshape(x.shape).conj()
    raise NotImplementedError("prod backward over several (not all) dims")


def _excl_cumprod(x, d, reverse):
    if reverse:
        x = x.flip(d)
    n = x.shape[d]
    ones = x.narrow(d, 0, 1) * 0 + 1
    c = _cat((ones, x.narrow(d, 0, n - 1).cumprod(d)), d) if n > 1 else ones
    return c.flip(d) if reverse else c


def _cat(ts, d):
    from . import FUNCTIONS as F
    return F["cat"](ts, d)


ProdBackward0 = node("ProdBackward0", _prod_backward)
ProdBackward1 = node("ProdBackward1", _prod_backward)


@export()
def prod(input, dim=None, keepdim=False, *, dtype=None):
    a = input._data
    odt = _sum_dtype(input._dtype, dtype)
    dims = tuple(range(a.ndim)) if dim is None else dims_arg(dim, a.ndim)
    xp = xp_of(a)
    out = wrap(xp.prod(a, axis=dims, keepdims=keepdim,
                       dtype=odt.np if odt not in (D.float16, D.bfloat16) else np.float32
                       ).astype(odt.np, copy=False), odt)
    if input._requires_grad:
        record(ProdBackward0 if dim is None else ProdBackward1, (input,), out, saved=(input,),
               dims=dims, keepdim=keepdim)
    return out


def _var_backward(ctx, g):
    (x,) = ctx.saved_tensors
    g = _expand_back(g, ctx.dims, ctx.keepdim, x.shape)
    m = x.mean(dim=ctx.dims, keepdim=True)
    return g * 2 * (x - m) / builtins.max(ctx.n - ctx.correction, 0)


def _std_backward(ctx, g):
    x, y = ctx.saved_tensors
    g = _expand_back(g / (2 * y), ctx.dims, ctx.keepdim, x.shape)
    gv = g.masked_fill(_expand_back(y == 0, ctx.dims, ctx.keepdim, x.shape), 0)
    m = x.mean(dim=ctx.dims, keepdim=True)
    return gv * 2 * (x - m) / builtins.max(ctx.n - ctx.correction, 0)


VarBackward0 = node("VarBackward0", _var_backward)
StdBackward0 = node("StdBackward0", _std_backward)


def _var_args(input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # var(input, unbiased)
        unbiased, dim = dim, None
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    a = input._data
    dims = tuple(range(a.ndim)) if dim is None else dims_arg(dim, a.ndim)
    n = int(np.prod([a.shape[d] for d in dims])) if dims else 1
    return a, dims, n, correction


def _var_impl(input, dim, unbiased, keepdim, correction, std):
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError("std and var only support floating point and complex dtypes")
    a, dims, n, corr = _var_args(input, dim, unbiased, keepdim, correction)
    xp = xp_of(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = input._dtype in (D.float16, D.bfloat16)
        r = xp.var(a.astype(np.float32) if low else a, axis=dims, keepdims=keepdim,
                   ddof=corr) if n - corr > 0 else \
            xp.full(_reduced_shape(a.shape, dims, keepdim), np.nan)
        if std:
            r = xp.sqrt(r)
    dt = input._dtype.to_real()
    out = wrap(xp.asarray(r).astype(dt.np, copy=False), dt)
    if input._requires_grad:
        if std:
            record(StdBackward0, (input,), out, saved=(input,), saved_out=True, dims=dims,
                   keepdim=keepdim, n=n, correction=corr)
        else:
            record(VarBackward0, (input,), out, saved=(input,), dims=dims, keepdim=keepdim, n=n,
                   correction=corr)
    return out


def _reduced_shape(shape, dims, keepdim):
    return tuple(1 if i in dims else s for i, s in enumerate(shape) if keepdim or i not in dims)


@export()
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_impl(input, dim, unbiased, keepdim, correction, False)


@export()
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_impl(input, dim, unbiased, keepdim, correction, True)


@export(method=False)
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), \
        mean(input, dim if not isinstance(dim, bool) else None, keepdim)


@export(method=False)
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), \
        mean(input, dim if not isinstance(dim, bool) else None, keepdim)


# ---------------------------------------------------------------------------
# max / min
# ---------------------------------------------------------------------------

def _evenly_backward(ctx, g):
    x, y = ctx.saved_tensors
    ye = _expand_back(y, ctx.dims, ctx.keepdim, x.shape)
    mask = (x == ye) | (x.isnan() & ye.isnan())
    count = mask.sum(dim=ctx.dims, keepdim=True)
    return _expand_back(g, ctx.dims, ctx.keepdim, x.shape) * mask / count


def _indexed_backward(ctx, g, _gi=None):
    from . import FUNCTIONS as F
    (idx,) = ctx.saved_tensors
    d = ctx.dim
    if not ctx.keepdim:
        g = g.unsqueeze(d)
        idx = idx.unsqueeze(d)
    z = F["zeros"](ctx.in_shape, dtype=g.dtype, device=g.device)
    return F["scatter"](z, d, idx, g) if len(ctx.in_shape) else g.reshape(())


MaxBackward1 = node("MaxBackward1", _evenly_backward)
MinBackward1 = node("MinBackward1", _evenly_backward)
AmaxBackward0 = node("AmaxBackward0", _evenly_backward)
AminBackward0 = node("AminBackward0", _evenly_backward)
MaxBackward0 = node("MaxBackward0", _indexed_backward)
MinBackward0 = node("MinBackward0", _indexed_backward)


def _check_nonempty(a, name, dims):
    for d in dims:
        if a.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if not dims and a.size == 0:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           f"== 0. Specify the reduction dim with the 'dim' argument.")


def _extreme(name, fn, argfn, cls_all, cls_dim, input, dim, keepdim, other):
    if _is_tensor(dim) or other is not None:
        from . import FUNCTIONS as F
        return F["maximum" if name == "max" else "minimum"](input, dim if other is None
                                                             else other)
    a = input._data
    xp = xp_of(a)
    if input._dtype.is_complex:
        raise RuntimeError(f"{name}(): does not support complex input")
    if dim is None:
        _check_nonempty(a, name, ())
        out = wrap(fn(xp, a, None, False), input._dtype)
        if input._requires_grad:
            record(cls_all, (input,), out, saved=(input,), saved_out=True,
                   dims=tuple(range(a.ndim)), keepdim=False)
        return out
    d = wrap_dim(dim, a.ndim)
    if a.ndim:
        _check_nonempty(a, name, (d,))
    ax = d if a.ndim else None
    idx = argfn(xp, a, ax)
    if a.ndim:
        ie = xp.expand_dims(idx, d)
        vals = xp.take_along_axis(a, ie, d)
        if not keepdim:
            vals = vals.squeeze(d)
        else:
            idx = ie
    else:
        vals = a.copy()
    v = wrap(vals, input._dtype)
    i = wrap(xp.asarray(idx, dtype=np.int64), D.int64)
    if input._requires_grad:
        record(cls_dim, (input,), (v, i), saved=(i,), dim=d, keepdim=keepdim, in_shape=a.shape)
    return values_indices[name](v, i)


def _is_tensor(x):
    from .._tensor import Tensor
    return isinstance(x, Tensor)


def _nanarg(f):
    def g(xp, a, ax):
        if a.dtype.kind == "f":
            nan = xp.isnan(a)
            if nan.any():
                return xp.argmax(nan, axis=ax)
        return f(a, axis=ax)
    return g


@export()
def max(input, dim=None, keepdim=False, *, other=None):
    return _extreme("max", lambda xp, a, ax, k: xp.max(a, axis=ax, keepdims=k),
                    _nanarg(np.argmax), MaxBackward1, MaxBackward0, input, dim,
                    keepdim, other)


@export()
def min(input, dim=None, keepdim=False, *, other=None):
    return _extreme("min", lambda xp, a, ax, k: xp.min(a, axis=ax, keepdims=k),
                    _nanarg(np.argmin), MinBackward1, MinBackward0, input, dim, keepdim, other)


def _amax_amin(name, fn, cls):
    def f(input, dim=(), keepdim=False):
        a = input._data
        dims = tuple(range(a.ndim)) if dim is None or dim == () or dim == [] \
            else dims_arg(dim, a.ndim)
        _check_nonempty(a, name, dims) if a.size == 0 else None
        out = wrap(fn(xp_of(a), a, dims, keepdim), input._dtype)
        if input._requires_grad:
            record(cls, (input,), out, saved=(input,), saved_out=True, dims=dims,
                   keepdim=keepdim)
        return out
    f.__name__ = name
    export(name)(f)


_amax_amin("amax", lambda xp, a, ax, k: xp.max(a, axis=ax, keepdims=k), AmaxBackward0)
_amax_amin("amin", lambda xp, a, ax, k: xp.min(a, axis=ax, keepdims=k), AminBackward0)


@export()
def aminmax(input, *, dim=None, keepdim=False):
    from . import FUNCTIONS as F
    if dim is None:
        return _aminmax(F["amin"](input), F["amax"](input))
    return _aminmax(F["amin"](input, dim, keepdim), F["amax"](input, dim, keepdim))


_aminmax = collections.namedtuple("aminmax", ["min", "max"])


def _arg(name, npf):
    def f(input, dim=None, keepdim=False):
        a = input._data
        xp = xp_of(a)
        if a.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.") if dim is None else \
                IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
        if dim is None:
            r = _nanarg(npf)(xp, a.reshape(-1), None)
            if keepdim:
                r = xp.asarray(r).reshape((1,) * a.ndim)
        else:
            d = wrap_dim(dim, a.ndim)
            r = _nanarg(npf)(xp, a, d if a.ndim else None)
            if keepdim and a.ndim:
                r = xp.expand_dims(r, d)
        return wrap(xp.asarray(r, dtype=np.int64), D.int64)
    f.__name__ = name
    export(name)(f)


_arg("argmax", np.argmax)
_arg("argmin", np.argmin)


@export()
def all(input, dim=None, keepdim=False):
    a = input._data
    dims = None if dim is None else dims_arg(dim, a.ndim)
    r = xp_of(a).all(a, axis=dims, keepdims=keepdim)
    return wrap(r, D.bool if input._dtype is not D.uint8 else D.uint8)


@export()
def any(input, dim=None, keepdim=False):
    a = input._data
    dims = None if dim is None else dims_arg(dim, a.ndim)
    r = xp_of(a).any(a, axis=dims, keepdims=keepdim)
    return wrap(r, D.bool if input._dtype is not D.uint8 else D.uint8)


def _logsumexp_backward(ctx, g):
    x, y = ctx.saved_tensors
    ye = _expand_back(y, ctx.dims, ctx.keepdim, x.shape)
    return _expand_back(g, ctx.dims, ctx.keepdim, x.shape) * (x - ye).exp()


LogsumexpBackward0 = node("LogsumexpBackward0", _logsumexp_backward)


@export()
def logsumexp(input, dim, keepdim=False):
    a = input._data
    from ._core import float_dtype
    dt = float_dtype(input._dtype)
    if dt is not input._dtype:
        a = a.astype(dt.np)
    dims = dims_arg(dim, a.ndim) if not (isinstance(dim, (tuple, list)) and not dim) \
        else tuple(range(a.ndim))
    xp = xp_of(a)
    m = xp.max(a, axis=dims, keepdims=True) if a.size else xp.zeros((1,) * a.ndim, a.dtype)
    m = xp.where(xp.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        r = xp.log(xp.sum(xp.exp(a - m), axis=dims, keepdims=True)) + m
    if not keepdim:
        r = r.reshape(_reduced_shape(a.shape, dims, False))
    out = wrap(r.astype(dt.np, copy=False), dt)
    if input._requires_grad:
        record(LogsumexpBackward0, (input,), out, saved=(input,), saved_out=True, dims=dims,
               keepdim=keepdim)
    return out


@export()
def count_nonzero(input, dim=None):
    a = input._data
    dims = None if dim is None else dims_arg(dim, a.ndim)
    return wrap(xp_of(a).asarray(xp_of(a).count_nonzero(a, axis=dims), dtype=np.int64),
                D.int64)



# ---------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------

def _cumsum_backward(ctx, g):
    return g.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim)


def _cumprod_backward(ctx, g):
    x, y = ctx.saved_tensors
    d = ctx.dim
    if not (x == 0).any():
        return (g * y).flip(d).cumsum(d).flip(d) / x
    # With zeros: sum_{k>=i} g_k * prod_{j<=k, j!=i} x_j, done by brute force.
    from . import FUNCTIONS as F
    n = x.shape[d]
    cols = []
    for i in range(n):
        xi = x.narrow(d, i, 1)
        ones = F["ones_like"](xi)
        xr = F["cat"]([x.narrow(d, 0, i), ones, x.narrow(d, i + 1, n - i - 1)], d)
        p = xr.cumprod(d)
        cols.append((g * p).narrow(d, i, n - i).sum(d, keepdim=True))
    return F["cat"](cols, d)


CumsumBackward0 = node("CumsumBackward0", _cumsum_backward)
CumprodBackward0 = node("CumprodBackward0", _cumprod_backward)


def _scan(name, fn, cls, saves):
    def f(input, dim, *, dtype=None, out=None):
        a = input._data
        odt = _sum_dtype(input._dtype, dtype)
        d = wrap_dim(dim, a.ndim)
        r = fn(xp_of(a), a.reshape(1) if a.ndim == 0 else a, d).astype(odt.np, copy=False)
        res = wrap(r.reshape(a.shape), odt)
        if input._requires_grad:
            record(cls, (input,), res, saved=(input,) if saves else (), saved_out=saves, dim=d)
        return res
    f.__name__ = name
    export(name)(f)
    from ._core import METHODS, inplace
    METHODS[name + "_"] = lambda self, dim, *, dtype=None: inplace(self, f, dim, dtype=dtype)


_scan("cumsum", lambda xp, a, d: xp.cumsum(a, axis=d), CumsumBackward0, False)
_scan("cumprod", lambda xp, a, d: xp.cumprod(a, axis=d), CumprodBackward0, True)
