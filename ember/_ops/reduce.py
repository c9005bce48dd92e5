"""Reductions and scans: sum/nansum, mean/nanmean, prod, var/std, max/min
(with indices), amax/amin/aminmax, argmax/argmin, median/nanmedian, mode,
kthvalue, quantile/nanquantile, all/any, logsumexp, norm/dist,
count_nonzero, cumsum/cumprod/cummax/cummin/logcumsumexp, diff, trapezoid,
histc/histogram/bincount."""
import builtins
import collections

import numpy as np

from .. import _dtype as D
from .._backend import accumulate, to_host, xp_of
from .._tensor import Tensor
from ._core import dims_arg, export, node, record, wrap, wrap_dim, write_out
from .elementwise import unsupported

# Namedtuples as in torch.return_types
values_indices = {n: collections.namedtuple(n, ["values", "indices"])
                  for n in ("max", "min", "sort", "topk", "kthvalue", "median", "mode",
                            "nanmedian", "cummax", "cummin")}


def _rdims(dim, ndim, empty_all=True):
    """Reduction axes of ``dim``: None means all, and so does an empty tuple
    unless ``empty_all`` is False (``all``/``any`` then reduce nothing, as
    PyTorch). A 0-dim tensor accepts dim 0/-1 and reduces nothing."""
    if dim is None or (empty_all and isinstance(dim, (tuple, list)) and not dim):
        return tuple(range(ndim))
    d = dims_arg(dim, ndim)
    return d if ndim else ()


def _expand_back(g, dims, keepdim, shape):
    """Broadcasts a reduced gradient back to the input ``shape``."""
    if g._data.ndim == 0:  # a full reduction: broadcast the scalar straight back
        return g.expand(*shape) if shape else g
    if not keepdim and dims:
        # one reshape to the keepdim shape instead of an unsqueeze per dim
        g = g.reshape(tuple(1 if i in dims else n for i, n in enumerate(shape)))
    return g.expand(*shape) if g._data.shape != tuple(shape) else g


def _sum_backward(ctx, g):
    return _expand_back(g, ctx.dims, ctx.keepdim, ctx.in_shape)


def _mean_backward(ctx, g):
    return _expand_back(g, ctx.dims, ctx.keepdim, ctx.in_shape) / ctx.count


def _expand_back_array(ctx, g):
    """``_expand_back`` on a raw NumPy gradient (the engine's array path): a
    read-only broadcast view, as ``expand`` gives; None on other devices."""
    if type(g) is not np.ndarray:
        return None
    shape = ctx.in_shape
    if g.ndim and not ctx.keepdim and ctx.dims:
        g = g.reshape(tuple(1 if i in ctx.dims else n for i, n in enumerate(shape)))
    return (np.broadcast_to(g, shape) if g.shape != shape else g,)


def _mean_backward_array(ctx, g):
    r = _expand_back_array(ctx, g)
    return None if r is None else (np.asarray(r[0] / ctx.count),)  # 0-dim: not a scalar


SumBackward0 = node("SumBackward0", _sum_backward, _expand_back_array)
SumBackward1 = node("SumBackward1", _sum_backward, _expand_back_array)
MeanBackward0 = node("MeanBackward0", _mean_backward, _mean_backward_array)
MeanBackward1 = node("MeanBackward1", _mean_backward, _mean_backward_array)


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
    dims = _rdims(dim, a.ndim)
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


def _nansum_backward(ctx, g):
    (x,) = ctx.saved_tensors
    return _expand_back(g, ctx.dims, ctx.keepdim, x.shape) * ~x.isnan()


NansumBackward0 = node("NansumBackward0", _nansum_backward)


@export()
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    if not input._dtype.is_floating_point:
        if input._dtype.is_complex:
            raise RuntimeError("nansum does not support complex inputs")
        return sum(input, dim, keepdim, dtype=dtype)
    a = input._data
    odt = _sum_dtype(input._dtype, dtype)
    dims = _rdims(dim, a.ndim)
    xp = xp_of(a)
    low = (D.float16, D.bfloat16)
    if input._dtype in low:  # NumPy's nansum sees no NaN in bfloat16
        a = a.astype(np.float32)
    r = xp.nansum(a, axis=dims, keepdims=keepdim, dtype=np.float32 if odt in low else odt.np)
    out = wrap(xp.asarray(r).astype(odt.np, copy=False), odt)
    if input._requires_grad:
        record(NansumBackward0, (input,), out, saved=(input,), dims=dims, keepdim=keepdim)
    return out


@export()
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype "
                           f"but got {_legacy(input._dtype)}")
    count = (~input.isnan()).sum(dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / count


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
    dims = _rdims(dim, a.ndim)
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
    if not dims or x.numel() == 0:
        return g * (x.numel() != 0)
    # Product of all other elements, robust to zeros: exclusive cumprods both
    # ways along the reduced dims (moved last and flattened when several).
    if len(dims) == 1:
        d = dims[0]
        return g * (_excl_cumprod(x, d, False) * _excl_cumprod(x, d, True)).conj()
    keep = [i for i in range(x.dim()) if i not in dims]
    perm = keep + list(dims)
    xt = x.permute(*perm)
    lead = tuple(xt.shape[:len(keep)])
    flat = xt.reshape(*lead, -1)
    other = (_excl_cumprod(flat, -1, False) * _excl_cumprod(flat, -1, True)).reshape(xt.shape)
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return g * other.permute(*inv).conj()


def _excl_cumprod(x, d, reverse):
    from . import FUNCTIONS as F
    if reverse:
        x = x.flip(d)
    n = x.shape[d]
    ones = F["ones_like"](x.narrow(d, 0, 1))
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
    dims = _rdims(dim, a.ndim)
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
    dims = _rdims(dim, a.ndim)
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
def _amax_backward(ctx, g):
    # PyTorch scales by the count of elements equal to the result (NaN: none)
    x, y = ctx.saved_tensors
    mask = x == _expand_back(y, ctx.dims, ctx.keepdim, x.shape)
    return (_expand_back(g, ctx.dims, ctx.keepdim, x.shape) /
            mask.sum(dim=ctx.dims, keepdim=True)) * mask


AmaxBackward0 = node("AmaxBackward0", _amax_backward)
AminBackward0 = node("AminBackward0", _amax_backward)
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
        raise unsupported(name + "_all" if dim is None else name + "_cpu", input._dtype)
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
    return _values_indices_out(name, cls_dim, input, vals, idx, d, keepdim)


def _values_indices_out(name, cls, input, vals, idx, d, keepdim):
    """The (values, indices) named tuple of a reduction of ``input`` along ``d``,
    recorded with ``cls`` (its backward scatters into ``in_shape`` at the indices)."""
    xp = xp_of(input._data)
    v = wrap(vals, input._dtype)
    i = wrap(xp.asarray(idx, dtype=np.int64), D.int64)
    if input._requires_grad:
        record(cls, (input,), (v, i), saved=(i,), dim=d, keepdim=keepdim,
               in_shape=input._data.shape)
    return values_indices[name](v, i)


def _is_tensor(x):
    return isinstance(x, Tensor)


def _nanarg(f):
    # PyTorch's arg-extremes pick the first NaN of a row that has one.
    def g(xp, a, ax):
        r = f(a, axis=ax)
        if a.dtype.kind == "f":
            nan = xp.isnan(a)
            if nan.any():
                return xp.where(nan.any(axis=ax), xp.argmax(nan, axis=ax), r)
        return r
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
        if input._dtype.is_complex:
            raise unsupported(name + "_cpu", input._dtype)
        dims = _rdims(dim, a.ndim)
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
    if input.numel() == 0 and (dim is None or input.shape[wrap_dim(dim, input.dim())] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    if dim is None:
        return _aminmax(F["amin"](input), F["amax"](input))
    return _aminmax(F["amin"](input, dim, keepdim), F["amax"](input, dim, keepdim))


_aminmax = collections.namedtuple("aminmax", ["min", "max"])


def _arg(name, npf):
    def f(input, dim=None, keepdim=False):
        a = input._data
        xp = xp_of(a)
        if input._dtype is D.bool or input._dtype.is_complex:
            raise RuntimeError(f"{name}(): does not support "
                               f"{'bool' if input._dtype is D.bool else 'complex'} input")
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


def _logical_reduce(name):
    """``all``/``any``: bool result (uint8 for uint8 input, as PyTorch)."""
    def f(input, dim=None, keepdim=False):
        a = input._data
        dims = _rdims(dim, a.ndim, empty_all=False)
        r = getattr(xp_of(a), name)(a, axis=dims, keepdims=keepdim)
        return wrap(r, D.bool if input._dtype is not D.uint8 else D.uint8)
    f.__name__ = f.__qualname__ = name
    return export()(f)


all = _logical_reduce("all")
any = _logical_reduce("any")


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
    dims = _rdims(dim, a.ndim)
    xp = xp_of(a)
    # complex: shift by the largest real part (as PyTorch)
    ar = a.real if a.dtype.kind == "c" else a
    m = xp.max(ar, axis=dims, keepdims=True) if a.size else xp.zeros((1,) * a.ndim, ar.dtype)
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
    xp = xp_of(a)
    return wrap(xp.asarray(xp.count_nonzero(a, axis=_rdims(dim, a.ndim)), dtype=np.int64),
                D.int64)


# ---------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------

def _cumsum_backward(ctx, g):
    if g.dim() == 0:
        return g
    return g.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim)


def _cumprod_backward(ctx, g):
    x, y = ctx.saved_tensors
    d = ctx.dim
    if x.dim() == 0:
        return g
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
        if odt is D.bool:
            raise unsupported(name + "_out_cpu", odt)
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


def _cumext(name, ufunc, cls):
    def f(input, dim):
        a = input._data
        d = wrap_dim(dim, a.ndim)
        xp = xp_of(a)
        if input._dtype.is_complex:
            raise unsupported(name + "_cpu", input._dtype)
        a1 = a.reshape(1) if a.ndim == 0 else a
        acc = accumulate(xp, ufunc, a1, d)
        # PyTorch keeps the latest index among ties, and of the latest NaN.
        hit = a1 == acc
        if a1.dtype.kind == "f":
            hit |= xp.isnan(a1)
        pos = xp.arange(a1.shape[d]).reshape((-1,) + (1,) * (a1.ndim - d - 1))
        idx = accumulate(xp, "maximum", xp.where(hit, pos, 0), d) if a1.size else \
            xp.zeros(a1.shape, np.int64)
        v = wrap(acc.reshape(a.shape), input._dtype)
        i = wrap(idx.reshape(a.shape).astype(np.int64, copy=False), D.int64)
        if input._requires_grad:
            record(cls, (input,), (v, i), saved=(i,), dim=d, in_shape=a.shape)
        return values_indices[name](v, i)
    f.__name__ = name
    export(name)(f)


def _cumext_backward(ctx, g, _gi=None):
    from . import FUNCTIONS as F
    (idx,) = ctx.saved_tensors
    if g.dim() == 0 or g.numel() == 0:
        return g
    return F["scatter_add"](F["zeros_like"](g), ctx.dim, idx, g)


_cumext("cummax", "maximum", node("CummaxBackward0", _cumext_backward))
_cumext("cummin", "minimum", node("CumminBackward0", _cumext_backward))


def _logcumsumexp_backward(ctx, g):
    x, y = ctx.saved_tensors
    d = ctx.dim
    if g.dim() == 0 or g.numel() == 0:
        return g
    if g._dtype.is_complex:
        # d y_k / d x_i = exp(x_i - y_k) for k >= i; PyTorch's convention conjugates it.
        return (g / y.exp().conj()).flip(d).cumsum(d).flip(d) * x.exp().conj()
    # PyTorch's formula: split g by sign so both halves go through logcumsumexp.
    from . import FUNCTIONS as F
    lowest = F["tensor"](D.finfo(g.dtype).min, dtype=g.dtype, device=g.device)
    log_abs = g.abs().log()
    pos = F["where"](g > 0, log_abs, lowest)
    neg = F["where"](g < 0, log_abs, lowest)

    def rev(t):
        return t.flip(d).logcumsumexp(d).flip(d)
    return (rev(pos - y) + x).exp() - (rev(neg - y) + x).exp()


LogcumsumexpBackward0 = node("LogcumsumexpBackward0", _logcumsumexp_backward)


@export()
def logcumsumexp(input, dim):
    dt = input._dtype
    if not (dt.is_floating_point or dt.is_complex):
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                  f"'{_legacy(dt)}'")
    a = input._data
    d = wrap_dim(dim, a.ndim)
    xp = xp_of(a)
    a1 = a.reshape(1) if a.ndim == 0 else a
    c = a1.astype(np.float32) if dt in (D.float16, D.bfloat16) else a1
    if c.dtype.kind == "c":
        # PyTorch's recurrence r_k = big + log1p(exp(small - big)), which (unlike a
        # log of a cumsum) does not wrap the imaginary part into (-pi, pi].
        from .elementwise import _logaddexp
        c = xp.moveaxis(c, d, 0)
        r = c.copy()
        for k in range(1, c.shape[0]):
            r[k] = _logaddexp(xp, r[k - 1], c[k])
        r = xp.moveaxis(r, 0, d)
    else:
        r = accumulate(xp, "logaddexp", c, d)
    out = wrap(r.astype(dt.np, copy=False).reshape(a.shape), dt)
    if input._requires_grad:
        record(LogcumsumexpBackward0, (input,), out, saved=(input,), saved_out=True, dim=d)
    return out


# ---------------------------------------------------------------------------
# Order statistics: median, nanmedian, kthvalue, mode, quantile
# ---------------------------------------------------------------------------

MedianBackward0 = node("MedianBackward0", _evenly_backward)
NanmedianBackward0 = node("NanmedianBackward0", _evenly_backward)
MedianBackward1 = node("MedianBackward1", _indexed_backward)
NanmedianBackward1 = node("NanmedianBackward1", _indexed_backward)
KthvalueBackward0 = node("KthvalueBackward0", _indexed_backward)
ModeBackward0 = node("ModeBackward0", _indexed_backward)


def _select_along(name, input, dim, keepdim, pick, cls):
    """Values and indices of the element ``pick(xp, a, sorted, order, dim)``
    chooses per row of ``dim`` (it returns the element's index, keepdims-shaped)
    given a stable ascending sort of ``a`` (NaN last) along ``dim``."""
    a = input._data
    xp = xp_of(a)
    if input._dtype.is_complex or (input._dtype is D.bool and name != "mode"):
        raise unsupported(("median" if "median" in name else name) + "_cpu", input._dtype)
    d = wrap_dim(dim, a.ndim)
    if a.ndim == 0:
        vals, idx = a.copy(), xp.zeros((), np.int64)
    else:
        _check_nonempty(a, name, (d,))
        order = xp.argsort(a, axis=d, kind="stable")
        srt = xp.take_along_axis(a, order, d)
        idx = pick(xp, a, srt, order, d)
        vals = xp.take_along_axis(a, idx, d)
        if not keepdim:
            idx, vals = idx.squeeze(d), vals.squeeze(d)
    return _values_indices_out(name, cls, input, vals, idx, d, keepdim)


def _median_pos(ignore_nan):
    """The median's position in the sorted row (PyTorch's nth_element breaks
    ties by index, as a stable sort does)."""
    def pos(xp, srt, d):
        n = srt.shape[d]
        if srt.dtype.kind not in "fc":
            return xp.full(_reduced_shape(srt.shape, (d,), True), (n - 1) // 2, np.int64)
        nans = xp.isnan(srt).sum(axis=d, keepdims=True)
        if ignore_nan:  # all-NaN rows pick the middle one
            return xp.where(nans == n, (n - 1) // 2, (n - nans - 1) // 2)
        # with NaN, the first NaN (sorted NaNs keep their order)
        return xp.where(nans > 0, n - nans, (n - 1) // 2)
    return pos


def _median(name, input, dim, keepdim, ignore_nan, cls_all, cls_dim):
    if input._dtype.is_complex or input._dtype is D.bool:
        raise unsupported("median_cpu", input._dtype)
    if dim is not None:
        pos = _median_pos(ignore_nan)
        return _select_along(name, input, dim, keepdim, lambda xp, a, srt, order, d:
                             xp.take_along_axis(order, pos(xp, srt, d), d), cls_dim)
    a = input._data
    xp = xp_of(a)
    flat = a.reshape(-1)
    if flat.size == 0:
        r = xp.full((), np.nan, a.dtype)
    else:
        order = xp.argsort(flat, kind="stable")
        srt = flat[order]
        r = srt[_median_pos(ignore_nan)(xp, srt, 0)[0]]
    out = wrap(xp.asarray(r, dtype=a.dtype).reshape(()), input._dtype)
    if input._requires_grad:
        record(cls_all, (input,), out, saved=(input,), saved_out=True,
               dims=tuple(range(a.ndim)), keepdim=False)
    return out


@export()
def median(input, dim=None, keepdim=False):
    return _median("median", input, dim, keepdim, False, MedianBackward0, MedianBackward1)


@export()
def nanmedian(input, dim=None, keepdim=False):
    return _median("nanmedian", input, dim, keepdim, True, NanmedianBackward0,
                   NanmedianBackward1)


@export()
def kthvalue(input, k, dim=-1, keepdim=False):
    n = input.shape[wrap_dim(dim, input.dim())] if input.dim() else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {dim} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    return _select_along("kthvalue", input, dim, keepdim,
                         lambda xp, a, srt, order, d: _kth_index(xp, a, srt, order, d, k - 1),
                         KthvalueBackward0)


def _kth_index(xp, a, srt, order, d, k):
    idx = xp.take(order, [k], axis=d)
    # Among equal values PyTorch's quickselect decides which index is returned;
    # rows with ties (or several NaNs) replay it.
    s = xp.moveaxis(srt, d, -1)
    tie = (s[..., 1:] == s[..., :-1]).any(-1)
    if s.dtype.kind == "f":
        tie |= xp.isnan(s).sum(-1) > 1
    if tie.any():
        rows = xp.moveaxis(a, d, -1)
        out = xp.moveaxis(idx, d, -1).copy()
        tie = to_host(tie)
        for r in np.ndindex(tie.shape):
            if tie[r]:
                out[r + (0,)] = _quickselect(rows[r].tolist(), k)
        idx = xp.moveaxis(out, -1, d)
    return idx


def _quickselect(arr, k):
    """The index PyTorch's CPU ``quick_select_template`` leaves at position k
    (median-of-three pivot; NaN sorts last)."""
    idx = list(range(len(arr)))

    def gt(x, y):
        return (x != x and y == y) or x > y

    def sw(i, j):
        arr[i], arr[j] = arr[j], arr[i]
        idx[i], idx[j] = idx[j], idx[i]
    lo, hi = 0, len(arr) - 1
    while hi > lo:
        if hi == lo + 1:
            if gt(arr[lo], arr[hi]):
                sw(lo, hi)
            break
        sw(lo + (hi - lo) // 2, lo + 1)
        if gt(arr[lo + 1], arr[hi]):
            sw(lo + 1, hi)
        if gt(arr[lo], arr[hi]):
            sw(lo, hi)
        if gt(arr[lo + 1], arr[lo]):
            sw(lo + 1, lo)
        i, j, piv = lo + 1, hi, arr[lo]
        while True:
            i += 1
            while gt(piv, arr[i]):
                i += 1
            j -= 1
            while gt(arr[j], piv):
                j -= 1
            if j < i:
                break
            sw(i, j)
        sw(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    return idx[k]


def _mode_index(xp, a, srt, order, d):
    s = xp.moveaxis(srt, d, -1)
    n = s.shape[-1]
    change = s[..., 1:] != s[..., :-1]
    edge = xp.ones(s.shape[:-1] + (1,), bool)
    starts = xp.concatenate([edge, change], -1)
    ends = xp.concatenate([change, edge], -1)
    pos = xp.arange(n)
    run_start = accumulate(xp, "maximum", xp.where(starts, pos, 0), -1)
    length = xp.where(ends, pos - run_start + 1, 0)
    # the most frequent value, the smallest among ties; its last index (as PyTorch's CPU kernel)
    j = xp.argmax(length, axis=-1)[..., None]
    return xp.take_along_axis(order, xp.moveaxis(j, -1, d), d)


@export()
def mode(input, dim=-1, keepdim=False):
    return _select_along("mode", input, dim, keepdim, _mode_index, ModeBackward0)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    from . import FUNCTIONS as F
    dt = input._dtype
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if isinstance(q, Tensor):
        if q.dim() > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if dt not in (D.float32, D.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q._dtype is not dt:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if not ((q._data >= 0) & (q._data <= 1)).all():
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
        qt = q
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        qt = F["tensor"](q, dtype=dt, device=input.device)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest. Got {interpolation}")
    nd = input.dim()
    if dim is None:
        x = input.reshape(-1)
    else:
        d = wrap_dim(dim, nd)
        x = input.movedim(d, -1) if nd else input.reshape(1)
    a = x._data
    xp = xp_of(a)
    order = xp.argsort(a, axis=-1, kind="stable")
    srt = xp.take_along_axis(a, order, -1)
    # Ranks in [0, n-1] per row and quantile, as ember ops so that q gets a gradient.
    q1 = qt.reshape(-1)
    n = a.shape[-1]
    if ignore_nan:
        count = wrap(xp.asarray((~xp.isnan(srt)).sum(-1, keepdims=True), dtype=np.int64),
                     D.int64)
        ranks = q1 * (count - 1)
        ranks = F["where"](ranks < 0, 0, ranks)
    else:
        has_nan = wrap(xp.isnan(srt).any(-1, keepdims=True), D.bool)
        ranks = F["where"](has_nan, n - 1, q1 * (n - 1))
    ranks = ranks.expand(*a.shape[:-1], q1.shape[0])
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()
    rd = ranks._data
    below = rd.astype(np.int64)
    r = x.gather(-1, wrap(xp.take_along_axis(order, below, -1), D.int64))
    if interpolation in ("linear", "midpoint"):
        above = wrap(xp.take_along_axis(order, xp.ceil(rd).astype(np.int64), -1), D.int64)
        w = F["full_like"](ranks, 0.5) if interpolation == "midpoint" else \
            ranks - wrap(below.astype(rd.dtype), ranks._dtype)
        r = r.lerp(x.gather(-1, above), w)
    # r: (*kept dims, Q) -> (Q, *kept dims), with keepdim's size-1 dims
    if keepdim:
        if dim is None:
            r = r.reshape(*((1,) * nd), q1.shape[0])
        elif nd:
            r = r.unsqueeze(d)
    r = r.movedim(-1, 0)
    return r if isinstance(q, Tensor) and q.dim() == 1 else r.squeeze(0)


@export()
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


@export()
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


# ---------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------

@export()
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """``torch.norm``: ``linalg.vector_norm``, or ``linalg.matrix_norm`` for
    ``p='nuc'`` and for 'fro' over more than two dims (as PyTorch)."""
    from .linalg import matrix_norm, vector_norm
    if (isinstance(dim, (tuple, list)) and not dim) or input.dim() == 0:
        dim = None  # an empty dim list reduces everything; a 0-dim tensor accepts dim 0
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            r = vector_norm(input, 2, dim, keepdim, dtype=dtype)
        else:
            r = matrix_norm(input, p, list(range(input.dim())) if dim is None else dim,
                            keepdim, dtype=dtype)
    else:
        r = vector_norm(input, 2.0 if p is None else p, dim, keepdim, dtype=dtype)
    if out is not None:
        return write_out(r, out)
    return r


@export()
def dist(input, other, p=2):
    from .linalg import vector_norm
    return vector_norm(input - other, p)


# ---------------------------------------------------------------------------
# Differences and integrals
# ---------------------------------------------------------------------------

@export()
def diff(input, n=1, dim=-1, prepend=None, append=None):
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, input.dim())
    parts = [t for t in (prepend, input, append) if t is not None]
    for t in parts:
        if t.dim() != input.dim():
            raise RuntimeError("diff expects prepend or append to be the same dimension as "
                               "input")
    if n == 0:
        return input.clone()
    x = _cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = hi.logical_xor(lo) if x._dtype is D.bool else hi - lo
    return x


def _trapezoid_parts(y, x, dx, dim, name):
    d = wrap_dim(dim, y.dim())
    if y._dtype is D.bool:
        raise RuntimeError(f"{name}: received a bool input for `y`, but bool is not supported")
    if x is not None and dx is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both "
                        "`x` and `dx`")
    n = y.shape[d]
    m = builtins.max(n - 1, 0)
    left, right = y.narrow(d, 0, m), y.narrow(d, builtins.min(1, n), m)
    if isinstance(x, Tensor):
        if x._dtype is D.bool:
            raise RuntimeError(f"{name}: received a bool input for `x`, but bool is not "
                               "supported")
        if x.dim() == 1:
            if x.shape[0] != n:
                raise RuntimeError(f"{name}: There must be one `x` value for each sample "
                                   "point")
            xv = x.view(*[n if i == d else 1 for i in range(y.dim())])
        elif x.dim() < y.dim():
            xv = x.view(*((1,) * (y.dim() - x.dim()) + tuple(x.shape)))
        else:
            xv = x
        k = xv.shape[d]
        dxt = xv.narrow(d, builtins.min(1, k), builtins.max(k - 1, 0)) - \
            xv.narrow(d, 0, builtins.max(k - 1, 0))
        return d, left, right, dxt
    dx = 1 if dx is None and x is None else (x if dx is None else dx)
    if isinstance(dx, (complex, bool)):
        raise RuntimeError(f"{name}: Currently, we only support dx as a real number.")
    return d, left, right, float(dx)


@export(method=False)
def trapezoid(y, x=None, *, dx=None, dim=-1):
    from . import FUNCTIONS as F
    d, left, right, dxv = _trapezoid_parts(y, x, dx, dim, "trapezoid")
    if y.shape[d] == 0:
        return F["zeros"](_reduced_shape(y.shape, (d,), False), dtype=y.dtype, device=y.device)
    if isinstance(dxv, float):
        return (y.sum(d) - (y.select(d, 0) + y.select(d, -1)) * 0.5) * dxv
    return ((left + right) * dxv).sum(d) / 2.0


@export(method=False)
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    d, left, right, dxv = _trapezoid_parts(y, x, dx, dim, "cumulative_trapezoid")
    if isinstance(dxv, float):
        return (dxv / 2.0 * (left + right)).cumsum(d)
    return ((left + right) * dxv).cumsum(d) / 2.0


@export(method=False)
def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


# ---------------------------------------------------------------------------
# Histograms and counting
# ---------------------------------------------------------------------------

def _histogram_backward(ctx, *grads):
    raise RuntimeError("derivative for aten::histogram is not implemented")


HistogramNotImpl = node("NotImplemented", _histogram_backward)


def _torch_linspace(lo, hi, steps, npdt, xp):
    """PyTorch's CPU linspace in dtype ``npdt``: from both ends towards the
    middle, each point one fused multiply-add (emulated in extended precision)."""
    t = np.dtype(npdt).type
    s, e = t(lo), t(hi)
    step = (e - s) / t(steps - 1) if steps > 1 else t(0)
    i = np.arange(steps)
    wide = np.longdouble if np.dtype(npdt).itemsize >= 8 else np.float64
    k = np.where(i < steps // 2, i, steps - 1 - i).astype(wide)
    r = np.where(i < steps // 2, wide(s) + wide(step) * k, wide(e) - wide(step) * k)
    return xp.asarray(r.astype(npdt))


def _hist_float_check(input, name, low=False):
    dt = input._dtype
    if not dt.is_floating_point or (not low and dt in (D.float16, D.bfloat16)):
        raise unsupported(name, dt)


@export()
def histc(input, bins=100, min=0, max=0, *, out=None):
    _hist_float_check(input, "histogram_cpu", low=True)
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    a = input._data.reshape(-1)
    xp = xp_of(a)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    t = a.dtype.type
    left, right = t(lo), t(hi)
    e = a[(a >= left) & (a <= right)]
    # PyTorch's histc bins linearly, without correcting against the edges.
    pos = ((e - left) * t(bins) / (right - left)).astype(np.int64)
    pos = xp.minimum(pos, bins - 1)
    r = wrap(xp.bincount(pos, minlength=bins).astype(a.dtype), input._dtype)
    if out is not None:
        return write_out(r, out)
    return r


_histogram_result = collections.namedtuple("histogram", ["hist", "bin_edges"])


@export()
def histogram(input, bins, *, range=None, weight=None, density=False, out=None):
    _hist_float_check(input, "histogram_cpu")
    a = input._data.reshape(-1)
    xp = xp_of(a)
    if isinstance(bins, Tensor):
        if bins.dim() != 1:
            raise RuntimeError("torch.histogram(): bins tensor should have one dimension, but "
                               f"got {bins.dim()} dimensions in the bins tensor")
        if bins._dtype is not input._dtype:
            raise RuntimeError("torch.histogramdd: input tensor and bins tensors should have the "
                               f"same dtype, but got input with dtype {input._dtype.name} and "
                               f"bins for dimension 0 with dtype {bins._dtype.name}")
        edges = bins._data
    else:
        if bins <= 0:
            raise RuntimeError(f"torch.histogramdd(): bins must be > 0, but got {bins} for "
                               "dimension 0")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif a.size:
            lo, hi = float(a.min()), float(a.max())
        else:
            lo, hi = 0.0, 1.0
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension 0's range [{lo}, {hi}] is not "
                               "finite")
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {lo} "
                               f"max {hi} for dimension 0")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _torch_linspace(lo, hi, bins + 1, a.dtype, xp)
    nb = edges.shape[0] - 1
    w = None
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise RuntimeError("torch.histogramdd(): if weight tensor is provided, it should "
                               "have the same shape as the input tensor excluding its innermost "
                               "dimension")
        w = weight._data.reshape(-1)
    keep = (a >= edges[0]) & (a <= edges[-1])
    pos = xp.searchsorted(edges, a[keep], side="right") - 1
    pos = xp.minimum(pos, nb - 1)
    h = xp.bincount(pos, weights=None if w is None else w[keep], minlength=nb)
    h = h.astype(a.dtype)
    if density:
        with np.errstate(divide="ignore", invalid="ignore"):
            h = h / h.sum() / xp.diff(edges)
    res = _histogram_result(wrap(h.astype(a.dtype, copy=False), input._dtype),
                            wrap(edges.copy(), input._dtype))
    if input._requires_grad or (weight is not None and weight._requires_grad):
        record(HistogramNotImpl, (input, weight), tuple(res))
    return res


@export()
def bincount(input, weights=None, minlength=0):
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind not in "iu":
        raise unsupported("bincount_cpu", input._dtype)
    if a.ndim != 1 or (a.size and (a < 0).any()):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is not None and (weights.dim() != 1 or weights.shape[0] != a.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if weights is None:
        return wrap(xp.bincount(a, minlength=minlength).astype(np.int64, copy=False), D.int64)
    odt = D.float32 if weights._dtype is D.float32 else D.float64
    r = xp.bincount(a, weights=weights._data.astype(np.float64), minlength=minlength)
    out = wrap(r.astype(odt.np), odt)
    if weights._requires_grad:
        record(HistogramNotImpl, (input, weights), out)
    return out
