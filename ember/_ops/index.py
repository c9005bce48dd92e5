"""Indexing: ``__getitem__``/``__setitem__``, gather/scatter, index_put,
where and masked_fill. Basic indexing returns views; advanced indexing copies
(NumPy's rules for where advanced dims land match PyTorch's)."""
import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._core import (
    METHODS,
    as_tensor_like,
    check_inplace,
    export,
    inplace,
    node,
    record,
    sum_to,
    wrap,
    wrap_dim,
)
from .shape import SelectBackward0, SliceBackward0, basic_view


def _convert_key(key, shape):
    """Turns an index into NumPy's form. Returns (key, is_basic)."""
    if not isinstance(key, tuple):
        key = (key,)
    out, basic = [], True
    for k in key:
        if isinstance(k, Tensor):
            if k._dtype is D.bool or k._dtype is D.uint8:
                out.append(k._data.astype(bool, copy=False))
            elif k._dtype.is_floating_point or k._dtype.is_complex:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            else:
                out.append(k._data)
            basic = False
        elif isinstance(k, (list, np.ndarray)):
            a = np.asarray(k)
            if a.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            out.append(a if a.dtype.kind in "biu" else a.astype(np.int64))
            basic = False
        elif isinstance(k, (bool, np.bool_)):
            out.append(np.asarray(k))
            basic = False
        elif k is None or k is Ellipsis or isinstance(k, slice):
            if isinstance(k, slice) and k.step is not None and k.step <= 0:
                raise ValueError("step must be greater than zero")
            out.append(_slice_ints(k) if isinstance(k, slice) else k)
        else:
            try:
                out.append(k.__index__())
            except (AttributeError, TypeError):
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                                 "byte Variables are valid indices (got "
                                 f"{type(k).__name__})") from None
    _check_bounds(out, shape)
    return tuple(out), basic


def _slice_ints(s):
    f = lambda v: v if v is None else (v.__index__() if not isinstance(v, int) else v)
    return slice(f(s.start), f(s.stop), f(s.step))


def _check_bounds(key, shape):
    d = 0
    n_spec = sum(1 for k in key if k is not None and k is not Ellipsis and
                 not (isinstance(k, np.ndarray) and k.dtype == bool and k.ndim == 0))
    n_spec += sum(k.ndim - 1 for k in key if isinstance(k, np.ndarray) and k.dtype == bool
                  and k.ndim > 0)
    if n_spec > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    for k in key:
        if k is Ellipsis:
            d += len(shape) - n_spec
            continue
        if k is None:
            continue
        if isinstance(k, int):
            if not -shape[d] <= k < shape[d]:
                raise IndexError(f"index {k} is out of bounds for dimension {d} with size "
                                 f"{shape[d]}")
            d += 1
        elif isinstance(k, slice):
            d += 1
        elif isinstance(k, np.ndarray) and k.dtype == bool:
            if k.ndim:
                if k.shape != tuple(shape[d:d + k.ndim]):
                    for i, (a, b) in enumerate(zip(k.shape, shape[d:d + k.ndim])):
                        if a != b:
                            raise IndexError(f"The shape of the mask {list(k.shape)} at index "
                                             f"{i} does not match the shape of the indexed "
                                             f"tensor {list(shape)} at index {d + i}")
                d += k.ndim
        else:
            if k.size and type(k) is np.ndarray:
                lo, hi = int(k.min()), int(k.max())
                if hi >= shape[d] or lo < -shape[d]:
                    bad = hi if hi >= shape[d] else lo
                    raise IndexError(f"index {bad} is out of bounds for dimension {d} with "
                                     f"size {shape[d]}")
            d += 1


def _index_backward(ctx, g):
    from . import FUNCTIONS as F
    z = F["zeros"](ctx.in_shape, dtype=g.dtype, device=g.device)
    return F["_index_put_impl"](z, ctx.key, g, True)


IndexBackward0 = node("IndexBackward0", _index_backward)


def getitem(self, key):
    a = self._data
    if a.ndim == 0 and not isinstance(key, (tuple, type(None), type(Ellipsis), Tensor, bool)):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    k, basic = _convert_key(key, a.shape)
    if basic:
        return basic_view(self, k, SelectBackward0 if any(isinstance(i, int) for i in k)
                          else SliceBackward0)
    xp = np if type(a) is np.ndarray else xp_of(a)
    if xp is not np:
        k = tuple(xp.asarray(i) if isinstance(i, np.ndarray) else i for i in k)
    out = wrap(a[k], self._dtype)
    if self._requires_grad:
        record(IndexBackward0, (self,), out, in_shape=a.shape, key=k)
    return out


def _index_put_backward(ctx, g):
    from . import FUNCTIONS as F
    gv = None
    if ctx.needs_input_grad[1]:
        gv = sum_to(getitem_raw(g, ctx.key), ctx.vshape)
    gs = None
    if ctx.needs_input_grad[0]:
        gs = g if ctx.accumulate else F["_index_put_impl"](g, ctx.key,
                                                            F["zeros"]((), dtype=g.dtype), False)
    return gs, gv


IndexPutBackward0 = node("IndexPutBackward0", _index_put_backward)


def getitem_raw(t, k):
    """``t[k]`` for an already-converted NumPy key (differentiable)."""
    a = t._data
    out = wrap(a[k], t._dtype)
    if t._requires_grad:
        record(IndexBackward0, (t,), out, in_shape=a.shape, key=k)
    return out


@export("_index_put_impl", method=False)
def index_put_impl(self, key, values, accumulate=False):
    """Out-of-place ``self[key] = values`` (``+=`` with accumulate) for a converted key."""
    a = self._data
    values = values if isinstance(values, Tensor) else as_tensor_like(values, self)
    v = values._data
    if v.dtype != a.dtype:
        v = v.astype(a.dtype)
    out = a.copy()
    xp = np if type(a) is np.ndarray else xp_of(a)
    if accumulate:
        if xp is np:
            np.add.at(out, key, v)
        else:
            out[key] += v  # cupy: scatter_add via .at is not guaranteed; fallback
    else:
        try:
            out[key] = v
        except ValueError:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(v.shape)} cannot be "
                               f"broadcast to indexing result of shape "
                               f"{list(out[key].shape)}") from None
    res = wrap(out, self._dtype)
    record(IndexPutBackward0, (self, values), res, key=key, vshape=v.shape,
           accumulate=accumulate)
    return res


def setitem(self, key, value):
    a = self._data
    k, basic = _convert_key(key, a.shape)
    if isinstance(value, Tensor) and value.device != self.device and value._data.ndim:
        raise RuntimeError(f"expected device {self.device} but got device {value.device}")
    track = STATE.enabled and (self._requires_grad or
                               (isinstance(value, Tensor) and value._requires_grad) or
                               (self._base is not None and self._base._requires_grad))
    if not track:
        v = value._data if isinstance(value, Tensor) else value
        if isinstance(value, Tensor) and value._dtype.is_complex and not self._dtype.is_complex:
            v = v.real
        try:
            a[k] = v
        except ValueError as e:
            raise RuntimeError(f"shape mismatch: value tensor of shape "
                               f"{list(np.shape(v))} cannot be broadcast to indexing result of "
                               f"shape {list(a[k].shape)}") from e
        self._version[0] += 1
        return
    check_inplace(self)
    inplace(self, index_put_impl, k, value, False)


METHODS["__getitem__"] = getitem
METHODS["__setitem__"] = setitem


def _key_from_indices(indices):
    return tuple(slice(None) if i is None else i for i in indices)


@export()
def index_put(input, indices, values, accumulate=False):
    k, _ = _convert_key(_key_from_indices(indices), input._data.shape)
    return index_put_impl(input, k, values, accumulate)


@export("index_put_", function=False)
def index_put_(input, indices, values, accumulate=False):
    k, _ = _convert_key(_key_from_indices(indices), input._data.shape)
    return inplace(input, index_put_impl, k, values, accumulate)


@export("_view_scatter", method=False)
def view_scatter(base, src, key, accumulate=False):
    """``base`` with ``src`` written (or added) at basic-index ``key``;
    differentiable in both (used by view backward rules)."""
    return index_put_impl(base, key, src, accumulate)


@export()
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    out = input.clone()
    d = out.diagonal(offset, dim1, dim2)
    if d.shape != src.shape:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(d.shape)}")
    if not (STATE.enabled and (input._requires_grad or src._requires_grad)):
        d._data[...] = src._data
        return out
    return _diag_scatter_graph(input, src, offset, dim1, dim2)


def _diag_scatter_graph(input, src, offset, dim1, dim2):
    xp = xp_of(input._data)
    mask = xp.zeros(input._data.shape, bool)
    from .shape import _diag_view
    nd = input._data.ndim
    _diag_view(mask, offset, wrap_dim(dim1, nd), wrap_dim(dim2, nd))[...] = True
    placed = wrap(xp.zeros(input._data.shape, input._data.dtype), input._dtype)
    placed = _DiagPlace(placed, src, offset, dim1, dim2)
    from . import FUNCTIONS as F
    return F["where"](wrap(mask, D.bool), placed, input)


def _DiagPlace(zeros, src, offset, d1, d2):
    out = zeros
    out.diagonal(offset, d1, d2)._data[...] = src._data
    record(_DiagPlaceBackward, (src,), out, offset=offset, d1=d1, d2=d2)
    return out


_DiagPlaceBackward = node("DiagonalScatterBackward0",
                          lambda ctx, g: g.diagonal(ctx.offset, ctx.d1, ctx.d2))


# ---------------------------------------------------------------------------
# where / masked_fill
# ---------------------------------------------------------------------------

def _where_backward(ctx, g):
    (c,) = ctx.saved_tensors
    z = g.new_zeros(())
    return (None,
            where(c, g, z) if ctx.needs_input_grad[1] else None,
            where(c, z, g) if ctx.needs_input_grad[2] else None)


WhereBackward0 = node("WhereBackward0", _where_backward)


@export()
def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        from . import FUNCTIONS as F
        return F["nonzero"](condition, as_tuple=True)
    if condition._dtype is not D.bool:
        if condition._dtype is D.uint8:
            condition = condition.bool()
        else:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {condition._dtype.name.capitalize()}")
    ref = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) \
        else condition
    x = input if isinstance(input, Tensor) else as_tensor_like(input, ref)
    y = other if isinstance(other, Tensor) else as_tensor_like(other, ref)
    dt = D.result_type_of((input, other)) if x._dtype is not y._dtype else x._dtype
    xp = xp_of(condition._data)
    res = wrap(xp.where(condition._data, x._data.astype(dt.np, copy=False),
                        y._data.astype(dt.np, copy=False)), dt)
    record(WhereBackward0, (condition, x, y), res, saved=(condition,))
    return res


@export()
def masked_fill(input, mask, value):
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool:
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value._data.ndim} dimension(s).")
        v = value.to(input._dtype) if value._dtype is not input._dtype else value
    else:
        v = as_tensor_like(value, input).to(input._dtype)
    res = where(mask, v, input)
    if res.shape != input.shape:
        raise RuntimeError(f"The size of tensor a ({input.shape[-1]}) must match the size of "
                           f"tensor b ({mask.shape[-1]}) at non-singleton dimension "
                           f"{input.dim() - 1}")
    return res


@export("masked_fill_", function=False)
def masked_fill_(input, mask, value):
    return inplace(input, masked_fill, mask, value)


# ---------------------------------------------------------------------------
# gather / scatter
# ---------------------------------------------------------------------------

def _gather_backward(ctx, g):
    from . import FUNCTIONS as F
    (idx,) = ctx.saved_tensors
    z = F["zeros"](ctx.in_shape, dtype=g.dtype, device=g.device)
    return scatter_add(z, ctx.dim, idx, g), None


GatherBackward0 = node("GatherBackward0", _gather_backward)


def _check_index(index, name):
    if index._dtype is not D.int64:
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")


@export()
def gather(input, dim, index, *, sparse_grad=False):
    _check_index(index, "gather")
    a = input._data
    d = wrap_dim(dim, a.ndim)
    idx = index._data
    if idx.ndim != a.ndim and not (a.ndim == 0 or idx.ndim == 0):
        raise RuntimeError("Index tensor must have the same number of dimensions as input "
                           "tensor")
    xp = xp_of(a)
    if a.ndim == 0:
        res = wrap(a.reshape(idx.shape).copy(), input._dtype)
    else:
        if idx.size and (idx.max() >= a.shape[d] or idx.min() < -a.shape[d]):
            raise RuntimeError(f"index {int(idx.max())} is out of bounds for dimension {d} with "
                               f"size {a.shape[d]}")
        src = a[tuple(slice(0, n) for n in idx.shape[:d]) + (slice(None),) +
                tuple(slice(0, n) for n in idx.shape[d + 1:])]
        res = wrap(xp.take_along_axis(src, idx, d), input._dtype)
    record(GatherBackward0, (input, index), res, saved=(index,), in_shape=a.shape, dim=d)
    return res


def _scatter_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    gs = scatter(g, ctx.dim, idx, 0.0) if ctx.needs_input_grad[0] else None
    gsrc = gather(g, ctx.dim, idx) if ctx.needs_input_grad[2] else None
    return gs, None, gsrc


def _scatter_add_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    return g, None, gather(g, ctx.dim, idx) if ctx.needs_input_grad[2] else None


ScatterBackward0 = node("ScatterBackward0", _scatter_backward)
ScatterAddBackward0 = node("ScatterAddBackward0", _scatter_add_backward)


def _scatter_key(idx, d, xp):
    grids = xp.indices(idx.shape, sparse=True)
    return tuple(idx if i == d else g for i, g in enumerate(grids))


@export()
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    if src is None:
        src = value
    _check_index(index, "scatter")
    a = input._data
    d = wrap_dim(dim, a.ndim)
    xp = xp_of(a)
    idx = index._data
    out = a.copy()
    key = _scatter_key(idx, d, xp)
    if isinstance(src, Tensor):
        s = src._data[tuple(slice(0, n) for n in idx.shape)].astype(a.dtype, copy=False)
    else:
        s = xp.asarray(src, a.dtype)
    if reduce is None:
        out[key] = s
    elif reduce == "add":
        np.add.at(out, key, xp.broadcast_to(s, idx.shape))
    elif reduce == "multiply":
        np.multiply.at(out, key, xp.broadcast_to(s, idx.shape))
    else:
        raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")
    res = wrap(out, input._dtype)
    srct = src if isinstance(src, Tensor) else None
    if reduce is None:
        record(ScatterBackward0, (input, index, srct), res, saved=(index,), dim=d)
    return res


@export()
def scatter_add(input, dim, index, src):
    _check_index(index, "scatter_add")
    a = input._data
    d = wrap_dim(dim, a.ndim)
    xp = xp_of(a)
    idx = index._data
    out = a.copy()
    s = src._data[tuple(slice(0, n) for n in idx.shape)].astype(a.dtype, copy=False)
    if xp is np:
        np.add.at(out, _scatter_key(idx, d, xp), s)
    else:
        xp.add.at(out, _scatter_key(idx, d, xp), s)
    res = wrap(out, input._dtype)
    record(ScatterAddBackward0, (input, index, src), res, saved=(index,), dim=d)
    return res


for _n, _f in (("scatter", scatter), ("scatter_add", scatter_add), ("gather", gather)):
    if _n != "gather":
        METHODS[_n + "_"] = (lambda f: lambda self, *a, **k: inplace(self, f, *a, **k))(_f)


def _index_select_backward(ctx, g):
    from . import FUNCTIONS as F
    (idx,) = ctx.saved_tensors
    z = F["zeros"](ctx.in_shape, dtype=g.dtype, device=g.device)
    return index_add(z, ctx.dim, idx, g), None


IndexSelectBackward0 = node("IndexSelectBackward0", _index_select_backward)


@export()
def index_select(input, dim, index):
    a = input._data
    d = wrap_dim(dim, a.ndim)
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index._dtype not in (D.int64, D.int32):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    idx = index._data.reshape(-1)
    n = a.shape[d] if a.ndim else 1
    if idx.size and (int(idx.max()) >= n or int(idx.min()) < -n):
        raise IndexError("index out of range in self")
    xp = xp_of(a)
    res = wrap(xp.take(a, idx, axis=d) if a.ndim else a.reshape(1)[idx].reshape(
        index._data.shape), input._dtype)
    record(IndexSelectBackward0, (input, index), res, saved=(index,), in_shape=a.shape, dim=d)
    return res


def _index_add_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    gs = index_select(g, ctx.dim, idx) * ctx.alpha if ctx.needs_input_grad[2] else None
    return g, None, gs


IndexAddBackward0 = node("IndexAddBackward0", _index_add_backward)


@export()
def index_add(input, dim, index, source, *, alpha=1):
    a = input._data
    d = wrap_dim(dim, a.ndim)
    out = a.copy()
    s = source._data.astype(a.dtype, copy=False)
    if alpha != 1:
        s = s * alpha
    key = (slice(None),) * d + (index._data.reshape(-1),)
    xp = xp_of(a)
    if xp is np:
        np.add.at(out, key, s)
    else:
        xp.add.at(out, key, s)
    res = wrap(out, input._dtype)
    record(IndexAddBackward0, (input, index, source), res, saved=(index,), dim=d, alpha=alpha)
    return res


METHODS["index_add_"] = lambda self, *a, **k: inplace(self, index_add, *a, **k)
