"""Indexing: ``__getitem__``/``__setitem__``, where and masked_fill, the
gather/scatter and index_* families, masks, take/put, nonzero and the
``*_scatter`` ops. Basic indexing returns views; advanced indexing copies
(NumPy's rules for where advanced dims land match PyTorch's)."""
import math
import warnings

import numpy as np

from .. import _dtype as D
from .._api import broadcast_shapes
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
    write_out,
)
from .shape import SelectBackward0, SliceBackward0, basic_view

_BAD_INDEX = "tensors used as indices must be long, int, byte or bool tensors"


def _sequence_as_tuple(key):
    """PyTorch's (and old NumPy's) rule: a short list holding a sequence, slice,
    tensor, None or Ellipsis is a tuple of indices, not one index array."""
    if len(key) >= 32:
        return False
    for k in key:
        if isinstance(k, (Tensor, list, tuple, np.ndarray, slice)) or k is None or \
                k is Ellipsis:
            warnings.warn("Using a non-tuple sequence for multidimensional indexing is "
                          "deprecated and will be changed in pytorch 2.9; use x[tuple(seq)] "
                          "instead of x[seq].", UserWarning, stacklevel=4)
            return True
    return False


def _index_items(key):
    """``key`` as a list of int / slice / None / Ellipsis / array items. Lists
    and tensors become index arrays, a bool a 0-dim bool array; a 0-dim integer
    tensor acts as an int (the result is then a copy, as in PyTorch). Returns
    (items, copy)."""
    if isinstance(key, list) and _sequence_as_tuple(key):
        key = tuple(key)
    if not isinstance(key, tuple):
        key = (key,)
    out, copy = [], False
    for k in key:
        if isinstance(k, Tensor):
            dt = k._dtype
            if dt is D.bool or dt is D.uint8:
                out.append(k._data.astype(bool, copy=False))
            elif dt.is_floating_point or dt.is_complex:
                raise IndexError(_BAD_INDEX)
            elif k._data.ndim == 0:
                out.append(int(k._data))
                copy = True
            else:
                out.append(k._data)
        elif isinstance(k, (list, tuple, np.ndarray)):
            a = np.asarray(k)
            if a.size == 0 and a.dtype.kind == "f":
                a = a.astype(np.int64)  # ``x[[]]``
            if a.dtype.kind not in "biu":
                raise IndexError(_BAD_INDEX)
            out.append(a)
        elif isinstance(k, (bool, np.bool_)):
            out.append(np.asarray(k))
        elif k is None or k is Ellipsis or isinstance(k, slice):
            if isinstance(k, slice) and k.step is not None and k.step <= 0:
                raise ValueError("step must be greater than zero")
            out.append(_slice_ints(k) if isinstance(k, slice) else k)
        elif isinstance(k, str):
            raise TypeError("new(): invalid data type 'str'")
        else:
            try:
                out.append(k.__index__())
            except (AttributeError, TypeError):
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                                 "byte Variables are valid indices (got "
                                 f"{type(k).__name__})") from None
    if sum(1 for k in out if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    return out, copy


def _is_array(k):
    return not isinstance(k, (int, slice)) and k is not None and k is not Ellipsis


def _split_key(items, shape):
    """Splits converted index ``items`` (bounds-checked against ``shape``) into a
    basic key applied first (a view) and the advanced key applied to that view,
    as PyTorch does: ints select before advanced indexing, so an int never
    counts as an advanced dim (NumPy would treat ``x[1, :, [0, 2]]`` as
    advanced in both). Returns (basic_key, advanced_key or None)."""
    if not any(_is_array(k) for k in items):
        return tuple(items), None
    n_spec = _n_specified(items)
    k1, k2 = [], []
    for k in items:
        if k is Ellipsis:
            k1.append(k)
            k2 += [slice(None)] * (len(shape) - n_spec)
        elif k is None:
            k1.append(None)
            k2.append(slice(None))
        elif isinstance(k, int):
            k1.append(k)
        elif isinstance(k, slice):
            k1.append(k)
            k2.append(slice(None))
        elif k.dtype == bool and k.ndim == 0:  # a new dim of size 1 (True) or 0 (False)
            k1.append(None)
            k2.append(xp_of(k).zeros(1 if bool(k) else 0, np.int64))
        else:
            k1 += [slice(None)] * (k.ndim if k.dtype == bool else 1)
            k2.append(k)
    return tuple(k1), tuple(k2)


def _trivial(key):
    return all(k is Ellipsis or k == slice(None) for k in key)


def _n_specified(key):
    """Number of tensor dims an index consumes (everything but None, Ellipsis
    and bool scalars; a k-dim mask consumes k)."""
    n = 0
    for k in key:
        if k is None or k is Ellipsis:
            continue
        if isinstance(k, (int, slice)):
            n += 1
        elif k.dtype == bool:
            n += k.ndim
        else:
            n += 1
    return n


def _convert_key(indices, shape):
    """``index_put``'s tuple of index tensors in NumPy's form, bounds-checked."""
    items, _ = _index_items(tuple(indices))
    _check_bounds(items, shape)
    return tuple(items)


def _slice_ints(s):
    f = lambda v: v if v is None else (v.__index__() if not isinstance(v, int) else v)
    return slice(f(s.start), f(s.stop), f(s.step))


def _check_bounds(key, shape):
    d = 0
    n_spec = _n_specified(key)
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
    items, copy = _index_items(key)
    _check_bounds(items, a.shape)
    k1, k2 = _split_key(items, a.shape)
    if k2 is None:
        out = basic_view(self, k1, SelectBackward0 if any(isinstance(i, int) for i in k1)
                         else SliceBackward0)
        return out.clone() if copy else out
    view = self if _trivial(k1) else basic_view(self, k1)
    return getitem_raw(view, _on_device(k2, a))


def _on_device(key, a):
    if type(a) is np.ndarray:
        return key
    xp = xp_of(a)
    return tuple(xp.asarray(i) if isinstance(i, np.ndarray) else i for i in key)


def _index_put_backward(ctx, g):
    from . import FUNCTIONS as F
    gv = None
    if ctx.needs_input_grad[1]:
        gv = getitem_raw(g, ctx.key)
        lead = len(ctx.vshape) - gv.dim()
        if lead > 0:  # values may carry extra leading size-1 dims
            gv = gv.reshape((1,) * lead + tuple(gv.shape))
        gv = sum_to(gv, ctx.vshape)
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
        _at(xp, "add", out, key, v)
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
    items, _ = _index_items(key)
    _check_bounds(items, self._data.shape)
    k1, k2 = _split_key(items, self._data.shape)
    if k2 is not None and isinstance(value, Tensor) and value._dtype is not self._dtype and \
            not (isinstance(key, Tensor) and key._dtype in (D.bool, D.uint8) and
                 value._data.ndim == 0):
        # Advanced assignment is index_put_, which does not cast (a 0-dim value
        # under a lone mask is masked_fill_, which does).
        _check_index_put(self, (), value)
    if k2 is None:
        _setitem(self, k1, value)
    elif _trivial(k1):
        _setitem(self, _on_device(k2, self._data), value)
    else:  # write through the basic view, as PyTorch's index_put_ on a slice
        _setitem(basic_view(self, k1), _on_device(k2, self._data), value)


def _setitem(self, k, value):
    a = self._data
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


@export()
def index_put(input, indices, values, accumulate=False):
    _check_index_put(input, indices, values)
    k = _convert_key(indices, input._data.shape)
    return index_put_impl(input, k, values, accumulate)


@export("index_put_")
def index_put_(input, indices, values, accumulate=False):
    _check_index_put(input, indices, values)
    k = _convert_key(indices, input._data.shape)
    return inplace(input, index_put_impl, k, values, accumulate)


@export("_view_scatter", method=False)
def view_scatter(base, src, key, accumulate=False):
    """``base`` with ``src`` written (or added) at basic-index ``key``;
    differentiable in both (used by view backward rules)."""
    return index_put_impl(base, key, src, accumulate)



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


METHODS["where"] = lambda self, condition, other: where(condition, self, other)


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
    # out-of-place masked_fill broadcasts input and mask (masked_fill_ checks the
    # result still fits self when it writes back)
    return where(mask, v, input)


@export("masked_fill_", function=False)
def masked_fill_(input, mask, value):
    return inplace(input, masked_fill, mask, value)


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------

def not_implemented_node(name, message):
    """A grad_fn class whose backward raises ``message``, for ops PyTorch records
    but cannot differentiate (``scatter(reduce=)``, ``unique``, ``detach_copy``)."""
    def backward(ctx, *grads):
        raise RuntimeError(message)
    return node(name, backward)


def _at(xp, ufunc, out, key, vals):
    """Unbuffered ``out[key] <ufunc>= vals`` (repeated indices all count)."""
    getattr(xp, ufunc).at(out, key, vals)


_CSC = []   # [csc_matvecs or None], looked up on first use (SciPy is slow to import)


def _csc_matvecs_fn():
    """SciPy's CSC kernel ``Y += A @ X``: with one unit entry per column of A it
    is ``Y[rows[j]] += X[j]`` for j in order, i.e. ``np.add.at`` over whole rows.
    None without SciPy."""
    if not _CSC:
        try:
            from scipy.sparse._sparsetools import csc_matvecs
        except ImportError:  # pragma: no cover
            csc_matvecs = None
        _CSC.append(csc_matvecs)
    return _CSC[0]

# Not complex: its kernel multiplies by 1+0j, which turns inf parts into nan.
_ROWS_ADD_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))


def _add_rows(res, d, rows, s):
    """In-place ``res[(:,) * d + (rows,)] += s``, repeated ``rows`` accumulating in
    order (exactly ``np.add.at``). ``rows`` is 1-D and in range; ``s`` has
    ``res``'s shape except ``rows.size`` along ``d`` and maybe smaller elsewhere.
    Whole rows go through SciPy's sparse kernel when possible (several times
    faster than ``np.add.at`` with flat positions)."""
    xp = xp_of(res)
    m = rows.size
    if m == 0 or s.size == 0:
        return
    if (xp is np and res.dtype in _ROWS_ADD_DTYPES and _csc_matvecs_fn() is not None
            and s.dtype == res.dtype and res.flags.c_contiguous
            and s.shape[d + 1:] == res.shape[d + 1:] and math.prod(s.shape[:d]) <= 64):
        n = res.shape[d]
        nv = math.prod(res.shape[d + 1:])
        s = np.ascontiguousarray(s)
        rows = np.ascontiguousarray(rows)
        if rows.dtype not in (np.int32, np.int64):
            rows = rows.astype(np.int64)
        ptr = np.arange(m + 1, dtype=rows.dtype)
        ones = np.ones(m, res.dtype)
        for p in np.ndindex(*s.shape[:d]):
            _csc_matvecs_fn()(n, m, nv, ptr, rows, ones, s[p].reshape(m, nv),
                         res[p].reshape(n, nv))
        return
    view = [1] * res.ndim
    view[d] = -1
    _at(xp, "add", res.reshape(-1), _positions(res.shape, d, rows.reshape(view), s.shape, xp),
        s.reshape(-1))


def _const_rows(i1, d):
    """The 1-D index along ``d`` when the gather/scatter index ``i1`` is constant
    across every other dim (an expanded row index, as in embedding-style use),
    else None."""
    if i1.ndim == 1:
        return i1
    first = tuple(slice(None) if k == d else slice(0, 1) for k in range(i1.ndim))
    rows = i1[first]
    if all(k == d or i1.shape[k] == 1 or i1.strides[k] == 0 for k in range(i1.ndim)):
        return rows.reshape(-1)
    last = tuple(slice(None) if k == d else slice(-1, None) for k in range(i1.ndim))
    xp = xp_of(i1)
    if not bool(xp.array_equal(i1[last], rows)) or not bool((i1 == rows).all()):
        return None
    return rows.reshape(-1)


def _full_rows(rows, i1, a1, d):
    """``rows`` when the index covers ``a1`` fully apart from ``d`` (so gather
    along it is ``index_select``), else None."""
    if rows is None or i1.ndim != a1.ndim or \
            any(k != d and i1.shape[k] != a1.shape[k] for k in range(a1.ndim)):
        return None
    return rows


def _nd1(a):
    """PyTorch's ``ensure_nonempty_dim``: a 0-dim array acts as 1-dim."""
    return a.reshape(1) if a.ndim == 0 else a


def _int_index(index, name, allow_int32=True, exc=RuntimeError, msg=None):
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    ok = (D.int64, D.int32) if allow_int32 else (D.int64,)
    if index._dtype not in ok and (index._data.size or not allow_int32):
        raise exc(msg or f"{name}(): Expected dtype {'int32/int64' if allow_int32 else 'int64'} "
                         f"for index")
    return index._data


def _check_in_range(idx, n, d, exc=RuntimeError, negative=False, prefix=""):
    """Raises unless every index is in [0, n) (or [-n, n) with ``negative``)."""
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    low = -n if negative else 0
    if lo < low or hi >= n:
        bad = lo if lo < low else hi
        raise exc(f"{prefix}index {bad} is out of bounds for dimension {d} with size {n}")


def _same_dtype(self, other, what):
    if other._dtype is not self._dtype:
        raise RuntimeError(f"{what}(): Expected self.dtype to be equal to src.dtype")


def _compute(a):
    """bfloat16 arrays compute in float32 (NumPy's ufunc.at lacks bfloat16 loops)."""
    return a.astype(np.float32) if a.dtype == D.bfloat16.np else a


def _pad_to(g, shape):
    """``g`` zero-padded at the end of each dim up to ``shape`` (the gradient of
    the leading ``g.shape`` block of a bigger source tensor)."""
    if tuple(g.shape) == tuple(shape):
        return g
    z = g.new_zeros(shape)
    return view_scatter(z, g, tuple(slice(0, n) for n in g.shape))


# ---------------------------------------------------------------------------
# gather / scatter family
# ---------------------------------------------------------------------------

def _gather_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    if ctx.rows is not None:  # an expanded row index: the scatter-add is an index_add
        return _index_add_zeros(ctx.in_shape, ctx.dim, ctx.rows, g), None
    return scatter_add(g.new_zeros(ctx.in_shape), ctx.dim, idx, g), None


GatherBackward0 = node("GatherBackward0", _gather_backward)


@export()
def gather(input, dim, index, *, sparse_grad=False, out=None):
    idx = _int_index(index, "gather")
    a = input._data
    d = wrap_dim(dim, a.ndim)
    a1, i1 = _nd1(a), _nd1(idx)
    if i1.ndim != a1.ndim and idx.size:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    xp = xp_of(a)
    full = None
    if idx.size:
        for k in range(a1.ndim):
            if k != d and i1.shape[k] > a1.shape[k]:
                raise RuntimeError(f"Size does not match at dimension {k} expected index "
                                   f"{list(idx.shape)} to be no larger than self {list(a.shape)} "
                                   f"apart from dimension {d}")
        rows = _const_rows(i1, d)
        if rows is not None:  # rows picked whole: a take along ``d``
            _check_in_range(rows, a1.shape[d], d)
            res = xp.take(a1, rows, axis=d)
            if res.shape != i1.shape:
                res = xp.ascontiguousarray(res[tuple(slice(0, n) for n in i1.shape)])
            res = res.reshape(idx.shape)
            if a.ndim and STATE.enabled and input._requires_grad:
                full = _full_rows(rows, i1, a1, d)
                full = None if full is None else wrap(full)
        else:
            _check_in_range(idx, a1.shape[d], d)
            res = xp.ravel(a1)[_positions(a1.shape, d, i1, i1.shape, xp)].reshape(idx.shape)
    else:
        res = xp.empty(idx.shape, a.dtype)
    res = wrap(res, input._dtype)
    record(GatherBackward0, (input, index), res, saved=(index,), in_shape=a.shape, dim=d,
           rows=full)
    return write_out(res, out)


def _scatter_prep(name, input, dim, index, src, rows_out=None):
    """Checks of the scatter family; returns (self array, dim, index array,
    source array cut to the index's shape) with 0-dim arrays made 1-dim. With a
    list ``rows_out``, appends ``_const_rows`` of the index (None if not
    constant across the other dims)."""
    idx = _int_index(index, name)
    a = input._data
    d = wrap_dim(dim, a.ndim)
    a1, i1 = _nd1(a), _nd1(idx)
    xp = xp_of(a)
    if idx.size == 0:  # nothing to write: PyTorch skips the shape checks
        return a1, d, i1.reshape((0,) * a1.ndim), xp.zeros((0,) * a1.ndim, a.dtype), xp
    if i1.ndim != a1.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if isinstance(src, Tensor):
        s1 = _nd1(src._data)
        if s1.ndim != i1.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
        if any(i1.shape[k] > s1.shape[k] or (k != d and i1.shape[k] > a1.shape[k])
               for k in range(i1.ndim)):
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(a.shape)} apart from dimension {d} and to be no larger "
                               f"size than src {list(src.shape)}")
        s1 = s1[tuple(slice(0, n) for n in i1.shape)]
    else:
        if any(k != d and i1.shape[k] > a1.shape[k] for k in range(i1.ndim)):
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(a.shape)} apart from dimension {d}")
        s1 = xp.broadcast_to(xp.asarray(src, dtype=a.dtype), i1.shape)
    rows = _const_rows(i1, d) if rows_out is not None else None
    _check_in_range(idx if rows is None else rows, a1.shape[d], d)
    if rows_out is not None:
        rows_out.append(rows)
    return a1, d, i1, s1, xp


def _positions(shape, d, idx, grid, xp):
    """Flat (C-order) positions, in an array of ``shape``, of the elements that a
    gather/scatter along ``d`` over index grid ``grid`` touches: ``idx``
    (broadcast to ``grid``) along ``d``, the element's own coordinate along the
    other dims. One flat index is much faster than a tuple of index arrays."""
    strides, st = [0] * len(shape), 1
    for k in range(len(shape) - 1, -1, -1):
        strides[k], st = st, st * shape[k]
    lin = idx.astype(np.int64, copy=False) * strides[d]
    for k, n in enumerate(grid):
        if k != d and n > 1:
            view = [1] * len(grid)
            view[k] = n
            lin = lin + (xp.arange(n, dtype=np.int64) * strides[k]).reshape(view)
    return xp.broadcast_to(lin, grid).reshape(-1)


def _scatter_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    gs = scatter(g, ctx.dim, idx, 0) if ctx.needs_input_grad[0] else None
    gsrc = None
    if ctx.needs_input_grad[2]:
        gsrc = _pad_to(gather(g, ctx.dim, idx), ctx.src_shape)
    return gs, None, gsrc


ScatterBackward0 = node("ScatterBackward0", _scatter_backward)
ScatterBackward1 = node("ScatterBackward1", _scatter_backward)
ScatterReduceNotImpl = not_implemented_node("NotImplemented",
                                            "derivative for aten::scatter is not implemented")


@export()
def scatter(input, dim, index, src=None, *, value=None, reduce=None, out=None):
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    if isinstance(src, Tensor):
        _same_dtype(input, src, "scatter")
    a1, d, i1, s1, xp = _scatter_prep("scatter", input, dim, index, src)
    res = a1.copy()
    key = _positions(a1.shape, d, i1, i1.shape, xp)
    if reduce is None:
        res.reshape(-1)[key] = s1.reshape(-1)
    elif reduce in ("add", "multiply"):
        if isinstance(src, Tensor):
            warnings.warn("The reduce argument of torch.scatter with Tensor src is deprecated and "
                          "will be removed in a future PyTorch release. Use torch.scatter_reduce "
                          "instead for more reduction options.", UserWarning, stacklevel=2)
        r = _compute(res)
        _at(xp, "add" if reduce == "add" else "multiply", r.reshape(-1), key,
            _compute(s1).reshape(-1))
        res = r.astype(res.dtype, copy=False)
    else:
        raise RuntimeError("reduce argument must be either add or multiply.")
    res = wrap(res.reshape(input._data.shape), input._dtype)
    srct = src if isinstance(src, Tensor) else None
    if reduce is not None:
        record(ScatterReduceNotImpl, (input, srct), res)
    else:
        record(ScatterBackward0 if srct is not None else ScatterBackward1, (input, index, srct),
               res, saved=(index,), dim=d, src_shape=None if srct is None else srct.shape)
    return write_out(res, out)


def _scatter_add_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    gsrc = None
    if ctx.needs_input_grad[2]:
        if ctx.rows is not None:  # an expanded row index: the gather is an index_select
            gsrc = _pad_to(index_select(g, ctx.dim, ctx.rows), ctx.src_shape)
        else:
            gsrc = _pad_to(gather(g, ctx.dim, idx), ctx.src_shape)
    return g, None, gsrc


ScatterAddBackward0 = node("ScatterAddBackward0", _scatter_add_backward)


@export()
def scatter_add(input, dim, index, src, *, out=None):
    _same_dtype(input, src, "scatter_add")
    rows = []
    a1, d, i1, s1, xp = _scatter_prep("scatter_add", input, dim, index, src, rows)
    rows = rows[0] if rows else None
    res = _compute(a1.copy())
    if rows is not None:
        _add_rows(res, d, rows, _compute(s1))
    else:
        _at(xp, "add", res.reshape(-1), _positions(a1.shape, d, i1, i1.shape, xp),
            _compute(s1).reshape(-1))
    res = wrap(res.astype(a1.dtype, copy=False).reshape(input._data.shape), input._dtype)
    full = None
    if rows is not None and input._data.ndim and STATE.enabled and src._requires_grad:
        full = _full_rows(rows, i1, a1, d)
        full = None if full is None else wrap(full)
    record(ScatterAddBackward0, (input, index, src), res, saved=(index,), dim=d,
           src_shape=src.shape, rows=full)
    return write_out(res, out)


_REDUCE_UFUNC = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum",
                 "amin": "minimum", "max": "maximum", "min": "minimum"}


def _identity(reduce, dt):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dt.kind == "b":
        return reduce == "amin"
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return info.min if reduce == "amax" else info.max
    return -np.inf if reduce == "amax" else np.inf


def _scatter_reduce_arrays(a1, d, i1, s1, reduce, include_self, xp):
    key = _positions(a1.shape, d, i1, i1.shape, xp)
    res = _compute(a1.copy())
    flat = res.reshape(-1)
    if not include_self:
        flat[key] = _identity(reduce, res.dtype)
    _at(xp, _REDUCE_UFUNC[reduce], flat, key, _compute(s1).reshape(-1))
    if reduce == "mean":
        cnt = xp.ones(a1.shape, np.int64) if include_self else xp.zeros(a1.shape, np.int64)
        _at(xp, "add", cnt.reshape(-1), key, 1)
        cnt[cnt == 0] = 1
        if res.dtype.kind in "iub":
            res = xp.floor_divide(res, cnt)
        else:
            res = res / cnt
    return res.astype(a1.dtype, copy=False)


_ALIAS = {"max": "amax", "min": "amin"}  # accepted by PyTorch's forward only


def _scatter_reduce_backward(ctx, g):
    if ctx.reduce in _ALIAS:
        raise RuntimeError(f"Expected 'reduce' to be one of 'sum', 'prod', 'mean', 'amax', "
                           f"'amin' but got {ctx.reduce}.")
    self, idx, src, result = ctx.saved_tensors
    d, reduce, include_self = ctx.dim, ctx.reduce, ctx.include_self
    src = src[tuple(slice(0, n) for n in idx.shape)] if src.shape != idx.shape else src
    if reduce == "sum":
        gself, gsrc = g, gather(g, d, idx)
    elif reduce == "prod":
        masked_self = self.masked_fill(self == 0, 1)
        gself = g * scatter_reduce(masked_self, d, idx, src, "prod", include_self=include_self) \
            / masked_self
        src_zero = src == 0
        nzeros = gather(scatter_add(self.new_zeros(self.shape), d, idx, src_zero.to(self.dtype)),
                        d, idx)
        single = src_zero & (nzeros == 1)
        masked_src_result = scatter_reduce(self, d, idx, src.masked_fill(single, 1), "prod",
                                           include_self=include_self)
        gsrc = where(single, gather(g * masked_src_result, d, idx),
                     gather(g * result, d, idx) / src.masked_fill(src_zero, 1))
    elif reduce == "mean":
        n = g.new_ones(g.shape) if include_self else g.new_zeros(g.shape)
        n = scatter_add(n, d, idx, g.new_ones(idx.shape))
        n = n.masked_fill(n == 0, 1)
        gself, gsrc = g / n, gather(g, d, idx) / gather(n, d, idx)
    else:
        value = gather(result, d, idx)
        self_is = (self == result).to(g.dtype)
        src_is = (src == value).to(g.dtype)
        dist = g / scatter_add(self_is, d, idx, src_is)
        gself, gsrc = self_is * dist, src_is * gather(dist, d, idx)
    if not include_self:
        gself = scatter(gself, d, idx, 0)
    return gself, None, _pad_to(gsrc, ctx.src_shape)


ScatterReduceBackward0 = node("ScatterReduceBackward0", _scatter_reduce_backward)


@export()
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, out=None):
    if reduce not in _REDUCE_UFUNC:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    _same_dtype(input, src, "scatter_reduce")
    a1, d, i1, s1, xp = _scatter_prep("scatter_reduce", input, dim, index, src)
    res = _scatter_reduce_arrays(a1, d, i1, s1, _ALIAS.get(reduce, reduce), include_self, xp)
    res = wrap(res.reshape(input._data.shape), input._dtype)
    if STATE.enabled and (input._requires_grad or src._requires_grad):
        record(ScatterReduceBackward0, (input, index, src), res,
               saved=(input, index, src), saved_out=True, dim=d, reduce=reduce,
               include_self=include_self, src_shape=src.shape)
    return write_out(res, out)


# ---------------------------------------------------------------------------
# index_* family (1-D index along one dim)
# ---------------------------------------------------------------------------

def _index_args(name, input, dim, index, source, int32=True, idx_exc=RuntimeError,
                idx_msg=None):
    """Common checks of index_add/index_copy/index_reduce; returns (self array
    made >= 1-d, dim, flat index array, source array shaped like the self slice)."""
    idx = _int_index(index, name, int32, idx_exc, idx_msg)
    if idx.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    a = input._data
    d = wrap_dim(dim, a.ndim)
    a1 = _nd1(a)
    idx = idx.reshape(-1)
    s = source._data
    s1 = s.reshape(1) if s.ndim == 0 else s
    return a1, d, idx, s1


def _check_slices(name, a1, s1, d, idx, source):
    ns = s1.shape[d] if s1.ndim == a1.ndim else 1
    if idx.size != ns:
        raise IndexError(f"{name}(): Number of indices ({idx.size}) should be equal to "
                         f"source.size(dim) ({ns})")
    if s1.ndim != a1.ndim or any(s1.shape[k] != a1.shape[k] for k in range(a1.ndim) if k != d):
        raise RuntimeError(f"{name}(): Source/destination tensor must have same slice shapes. "
                           f"Got self.shape = {list(a1.shape)} source.shape = "
                           f"{list(source.shape)}")


def _index_add_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    gs = None
    if ctx.needs_input_grad[2]:
        gs = index_select(g, ctx.dim, idx)
        gs = (gs * ctx.alpha if ctx.alpha != 1 else gs).reshape(ctx.src_shape)
    return g, None, gs


IndexAddBackward0 = node("IndexAddBackward0", _index_add_backward)


@export()
def index_add(input, dim, index, source, *, alpha=1, out=None):
    a1, d, idx, s1 = _index_args("index_add_", input, dim, index, source,
                                 idx_msg=f"index_add_(): Expected dtype int32/int64 for index "
                                         f"but got: {_legacy(index)}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"index_add_(): self ({_legacy(input)}) and source ({_legacy(source)}) "
                           f"must have the same scalar type")
    ns = s1.shape[d] if s1.ndim == a1.ndim else 1
    if idx.size != ns:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({ns}), for dim: {d}")
    if s1.ndim != a1.ndim or any(s1.shape[k] != a1.shape[k] for k in range(a1.ndim) if k != d):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(source.shape)}")
    _check_in_range(idx, a1.shape[d], d)
    res = _compute(a1.copy())
    s = _compute(s1)
    if alpha != 1:
        s = s * (alpha if res.dtype.kind in "fc" else int(alpha))
    _add_rows(res, d, idx, s.astype(res.dtype, copy=False))
    res = wrap(res.astype(a1.dtype, copy=False).reshape(input._data.shape), input._dtype)
    record(IndexAddBackward0, (input, index, source), res, saved=(index,), dim=d, alpha=alpha,
           src_shape=source.shape)
    return write_out(res, out)


def _index_add_zeros(shape, d, index, source):
    """``source.new_zeros(shape).index_add(d, index, source)`` (same node, so
    differentiable in ``source``) without copying a zero tensor: the backward
    of gather along rows and of index_select. ``index`` is in range."""
    s = source._data
    res = _compute(xp_of(s).zeros(shape, s.dtype))
    _add_rows(res, d, index._data.reshape(-1), _compute(s).astype(res.dtype, copy=False))
    res = wrap(res.astype(s.dtype, copy=False), source._dtype)
    record(IndexAddBackward0, (None, index, source), res, saved=(index,), dim=d, alpha=1,
           src_shape=source.shape)
    return res


def _legacy(t):
    from ._core import _legacy_name
    return _legacy_name(t._dtype)


def _index_select_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    if not ctx.in_shape:
        return g.reshape(()), None
    return _index_add_zeros(ctx.in_shape, ctx.dim, idx.reshape(-1), g), None


IndexSelectBackward0 = node("IndexSelectBackward0", _index_select_backward)


@export()
def index_select(input, dim, index, *, out=None):
    if not isinstance(index, Tensor):
        raise TypeError(f"index_select(): argument 'index' must be Tensor, not "
                        f"{type(index).__name__}")
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index._dtype not in (D.int64, D.int32):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    a = input._data
    d = wrap_dim(dim, a.ndim)
    idx = index._data.reshape(-1)
    a1 = _nd1(a)
    n = a1.shape[d]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError("index out of range in self")
    xp = xp_of(a)
    if a.ndim == 0:
        if idx.size != 1:
            raise IndexError("index_select(): Index to scalar can have only 1 value, got "
                             f"{idx.size} value(s)")
        res = a.copy()
    else:
        res = xp.take(a, idx, axis=d)
    res = wrap(res, input._dtype)
    record(IndexSelectBackward0, (input, index), res, saved=(index,), in_shape=a.shape, dim=d)
    return write_out(res, out)


def _index_copy_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    gs = index_fill(g, ctx.dim, idx, 0) if ctx.needs_input_grad[0] else None
    gsrc = index_select(g, ctx.dim, idx).reshape(ctx.src_shape) if ctx.needs_input_grad[2] \
        else None
    return gs, None, gsrc


IndexCopyBackward0 = node("IndexCopyBackward0", _index_copy_backward)


@export()
def index_copy(input, dim, index, source, *, out=None):
    name = "index_copy_"
    a1, d, idx, s1 = _index_args(name, input, dim, index, source, int32=False,
                                 idx_msg=f"{name}(): Expected a long tensor for index, but got "
                                         f"{_legacy(index)}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"{name}(): self and source expected to have the same dtype, but got "
                           f"(self) {_legacy(input)} and (source) {_legacy(source)}")
    _check_slices(name, a1, s1, d, idx, source)
    _check_in_range(idx, a1.shape[d], d, IndexError, prefix=f"{name}(): ")
    res = a1.copy()
    res[(slice(None),) * d + (idx,)] = s1
    res = wrap(res.reshape(input._data.shape), input._dtype)
    record(IndexCopyBackward0, (input, index, source), res, saved=(index,), dim=d,
           src_shape=source.shape)
    return write_out(res, out)


def _index_fill_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    gs = index_fill(g, ctx.dim, idx, 0) if ctx.needs_input_grad[0] else None
    gv = None
    if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
        gv = index_select(g, ctx.dim, ctx.filled).sum() if g.dim() else g
    return gs, None, gv


IndexFillBackward0 = node("IndexFillBackward0", _index_fill_backward)
IndexFillBackward1 = node("IndexFillBackward1", _index_fill_backward)


@export()
def index_fill(input, dim, index, value):
    idx = _int_index(index, "index_fill_", False, IndexError,
                     "index_fill_(): Expected dtype int64 for index.")
    if idx.ndim > 1:
        raise IndexError("index_fill_(): Index is supposed to be a vector")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        v = value._data.astype(input._data.dtype)
    else:
        v = value
    a = input._data
    d = wrap_dim(dim, a.ndim)
    a1 = _nd1(a)
    idx = idx.reshape(-1)
    _check_in_range(idx, a1.shape[d], d, IndexError, negative=True)
    res = a1.copy()
    res[(slice(None),) * d + (idx,)] = v
    res = wrap(res.reshape(a.shape), input._dtype)
    if isinstance(value, Tensor):
        if STATE.enabled and value._requires_grad:
            xp = xp_of(idx)
            filled = wrap(xp.unique(idx % a1.shape[d]) if idx.size else idx)
        else:
            filled = None
        record(IndexFillBackward1, (input, index, value), res, saved=(index,), dim=d,
               filled=filled)
    else:
        record(IndexFillBackward0, (input, index), res, saved=(index,), dim=d)
    return res


def _expanded_index(index, dim, shape):
    """The 1-D ``index`` along ``dim`` as a scatter index of ``shape``."""
    view = [1] * len(shape)
    if shape:
        view[dim] = -1
    return index.reshape(view).expand(*shape)


_INDEX_REDUCES = ("prod", "mean", "amax", "amin")


@export()
def index_reduce(input, dim, index, source, reduce, *, include_self=True, out=None):
    if reduce not in _INDEX_REDUCES:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    name = "index_reduce_"
    a1, d, idx, s1 = _index_args(name, input, dim, index, source)
    if source._dtype is not input._dtype:
        raise RuntimeError(f"{name}(): self ({_legacy(input)}) and source ({_legacy(source)}) "
                           f"must have the same scalar type")
    _check_slices(name, a1, s1, d, idx, source)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= a1.shape[d]):
        raise IndexError("index out of range in self")
    # index_reduce is scatter_reduce with the index repeated across the other dims.
    src = source.reshape(s1.shape)
    full = _expanded_index(wrap(idx), d, s1.shape)
    inp = input.reshape(a1.shape) if input._data.ndim == 0 else input
    res = scatter_reduce(inp, d, full, src, reduce, include_self=include_self)
    return write_out(res.reshape(input.shape) if input._data.ndim == 0 else res, out)


# ---------------------------------------------------------------------------
# index_put, masks, take/put, nonzero
# ---------------------------------------------------------------------------

def _check_index_put(input, indices, values):
    if not isinstance(indices, (tuple, list)):
        raise TypeError("index_put(): argument 'indices' must be tuple of Tensors")
    for n, i in enumerate(indices):
        if not isinstance(i, Tensor):
            raise TypeError(f"expected Tensor as element {n} in argument 0, but got "
                            f"{type(i).__name__}")
    if isinstance(values, Tensor) and values._dtype is not input._dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_legacy(input)} for the destination and {_legacy(values)} for the "
                           f"source.")


def _masked_select_backward(ctx, g):
    (mask,) = ctx.saved_tensors
    return g.new_zeros(ctx.shape).masked_scatter(mask, g), None


MaskedSelectBackward0 = node("MaskedSelectBackward0", _masked_select_backward)


def _bool_mask(mask, name):
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool:
        raise RuntimeError(f"{name}: expected BoolTensor for mask")
    return mask


@export()
def masked_select(input, mask, *, out=None):
    _bool_mask(mask, "masked_select")
    xp = xp_of(input._data)
    shape = tuple(broadcast_shapes(input._data.shape, mask._data.shape))
    a = xp.broadcast_to(input._data, shape)
    m = xp.broadcast_to(mask._data, shape)
    res = wrap(a[m], input._dtype)
    if STATE.enabled and input._requires_grad:
        mb = mask if mask._data.shape == shape else wrap(xp.ascontiguousarray(m), D.bool)
        record(MaskedSelectBackward0, (input, mask), res, saved=(mb,), shape=shape)
    return write_out(res, out)


def _masked_scatter_backward(ctx, g):
    (mask,) = ctx.saved_tensors
    gs = g.masked_fill(mask, 0) if ctx.needs_input_grad[0] else None
    gsrc = None
    if ctx.needs_input_grad[2]:
        sel = masked_select(g, mask)
        n, total = sel.shape[0], ctx.src_numel
        if n < total:
            from . import FUNCTIONS as F
            sel = F["cat"]([sel, sel.new_zeros(total - n)])
        gsrc = sel.reshape(ctx.src_shape)
    return gs, None, gsrc


MaskedScatterBackward0 = node("MaskedScatterBackward0", _masked_scatter_backward)


@export()
def masked_scatter(input, mask, source):
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool:
        raise RuntimeError("masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{_legacy(mask) if isinstance(mask, Tensor) else type(mask).__name__}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got"
                           f"{_legacy(input)} and {_legacy(source)}")
    xp = xp_of(input._data)
    shape = tuple(broadcast_shapes(input._data.shape, mask._data.shape))
    m = xp.broadcast_to(mask._data, shape)
    n = int(m.sum())
    s = source._data.reshape(-1)
    if s.size < n:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    res = xp.array(xp.broadcast_to(input._data, shape))
    res[m] = s[:n]
    res = wrap(res, input._dtype)
    if STATE.enabled and (input._requires_grad or source._requires_grad):
        mb = mask if mask._data.shape == shape else wrap(xp.ascontiguousarray(m), D.bool)
        record(MaskedScatterBackward0, (input, mask, source), res, saved=(mb,),
               src_shape=source.shape, src_numel=s.size)
    return res


def _flat_index(name, input, index):
    idx = _int_index(index, name, False, RuntimeError,
                     f"{name}(): Expected a long tensor for index, but got {_legacy(index)}")
    n = input._data.size
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            raise IndexError(f"out of range: tried to access index {lo if lo < -n else hi} on a "
                             f"tensor of {n} elements.")
    return idx


def _take_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    return put(g.new_zeros(ctx.in_shape), idx, g, accumulate=True), None


TakeBackward0 = node("TakeBackward0", _take_backward)


@export()
def take(input, index, *, out=None):
    idx = _flat_index("take", input, index)
    a = input._data
    res = wrap(a.reshape(-1)[idx], input._dtype)
    record(TakeBackward0, (input, index), res, saved=(index,), in_shape=a.shape)
    return write_out(res, out)


def _put_backward(ctx, g):
    (idx,) = ctx.saved_tensors
    gs = None
    if ctx.needs_input_grad[0]:
        gs = g if ctx.accumulate else put(g, idx, g.new_zeros(ctx.src_shape))
    gsrc = take(g, idx).reshape(ctx.src_shape) if ctx.needs_input_grad[2] else None
    return gs, None, gsrc


PutBackward0 = node("PutBackward0", _put_backward)


@export()
def put(input, index, source, accumulate=False):
    idx = _flat_index("put_", input, index)
    if source._data.size != idx.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of "
                         f"elements, but got source.numel() = {source._data.size}, "
                         f"index.numel() = {idx.size}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {_legacy(input)} and source.dtype = {_legacy(source)}")
    a = input._data
    xp = xp_of(a)
    res = _compute(a.copy())
    flat = res.reshape(-1)
    s = _compute(source._data).reshape(-1)
    if accumulate:
        _at(xp, "add", flat, idx.reshape(-1), s)
    else:
        flat[idx.reshape(-1)] = s
    res = wrap(res.astype(a.dtype, copy=False), input._dtype)
    record(PutBackward0, (input, index, source), res, saved=(index,), accumulate=accumulate,
           src_shape=source.shape)
    return res


@export()
def take_along_dim(input, indices, dim=None, *, out=None):
    if indices._dtype is not D.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_legacy(indices)}")
    if dim is None:
        return write_out(gather(input.reshape(-1), 0, indices.reshape(-1)), out)
    nd = input._data.ndim
    if nd != indices._data.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {nd} dimensions for input, and "
                           f"{indices._data.ndim} dimensions for indices")
    d = wrap_dim(dim, nd)
    if indices._data.size and int(indices._data.min()) < 0:
        # Negative indices count from the end along ``dim`` (unlike gather).
        i = indices._data
        indices = wrap(xp_of(i).where(i < 0, i % max(input._data.shape[d], 1), i))
    si, ii = list(input.shape), list(indices.shape)
    si[d], ii[d] = ii[d], si[d]
    idx_b = indices.broadcast_to(broadcast_shapes(si, indices.shape))
    in_b = input.broadcast_to(broadcast_shapes(ii, input.shape))
    return write_out(gather(in_b, d, idx_b), out)


@export()
def nonzero(input, *, out=None, as_tuple=False):
    a = input._data
    xp = xp_of(a)
    if as_tuple:
        return tuple(wrap(i.astype(np.int64, copy=False)) for i in xp.nonzero(_nd1(a)))
    return write_out(wrap(xp.argwhere(a).astype(np.int64, copy=False)), out)


@export()
def argwhere(input):
    return nonzero(input)


@export(method=False)
def unravel_index(indices, shape):
    if not isinstance(indices, Tensor):
        raise TypeError(f"unravel_index(): argument 'indices' must be Tensor, not "
                        f"{type(indices).__name__}")
    if indices._dtype.is_floating_point or indices._dtype.is_complex or indices._dtype is D.bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices._dtype}")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(s, (int, np.integer)) for s in shape):
        raise TypeError("expected 'shape' to be int or sequence of ints")
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    a = indices._data.astype(np.int64)
    xp = xp_of(a)
    coefs = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        coefs[i] = coefs[i + 1] * shape[i + 1]
    return tuple(wrap(xp.floor_divide(a, c) % s) for c, s in zip(coefs, shape))


# ---------------------------------------------------------------------------
# *_scatter: out-of-place writes into a view (select/slice/diagonal/as_strided)
# ---------------------------------------------------------------------------

def _embed_backward(ctx, g):
    gs = _embed(g, g.new_zeros(ctx.src_shape), ctx.view) if ctx.needs_input_grad[0] else None
    return gs, ctx.view(g.contiguous()) if ctx.needs_input_grad[1] else None


SelectScatterBackward0 = node("SelectScatterBackward0", _embed_backward)
SliceScatterBackward0 = node("SliceScatterBackward0", _embed_backward)
DiagonalScatterBackward0 = node("DiagonalScatterBackward0", _embed_backward)
AsStridedScatterBackward0 = node("AsStridedScatterBackward0", _embed_backward)


def _embed(input, src, view, cls=None):
    """``input`` with ``view(input)`` replaced by ``src`` (a new tensor)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"argument 'src' must be Tensor, not {type(src).__name__}")
    out = wrap(input._data.copy(), input._dtype)
    region = view(out)
    if tuple(region.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(region.shape)}")
    s = src._data
    if input._dtype.is_complex is False and src._dtype.is_complex:
        s = s.real
    region._data[...] = s
    record(cls or SliceScatterBackward0, (input, src), out, view=view, src_shape=src.shape)
    return out


def _no_grad_view(fn):
    """``fn`` run with grad mode off (the region views of ``_embed``)."""
    def view(t):
        prev = STATE.enabled
        if t._requires_grad:
            return fn(t)
        STATE.enabled = False
        try:
            return fn(t)
        finally:
            STATE.enabled = prev
    return view


@export()
def select_scatter(input, src, dim, index):
    nd = input._data.ndim
    d = wrap_dim(dim, nd)
    index = int(index)
    return _embed(input, src, _no_grad_view(lambda t: t.select(d, index)),
                  SelectScatterBackward0)


def _slice_key(shape, dim, start, end, step):
    d = wrap_dim(dim, len(shape))
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return (slice(None),) * d + (slice(start, end, step),)


@export()
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    key = _slice_key(input._data.shape, dim, start, end, step)
    return _embed(input, src, _no_grad_view(lambda t: basic_view(t, key)),
                  SliceScatterBackward0)


@export()
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    return _embed(input, src, _no_grad_view(lambda t: t.diagonal(offset, dim1, dim2)),
                  DiagonalScatterBackward0)


@export()
def as_strided_scatter(input, src, size, stride, storage_offset=None):
    off = 0 if storage_offset is None else int(storage_offset)
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    n = input._data.size
    need = off + sum((k - 1) * s for k, s in zip(size, stride)) + 1 if all(size) else 0
    if need > n:
        isz = input._dtype.itemsize
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {off}, and itemsize {isz} requiring a storage size of "
                           f"{need * isz} are out of bounds for storage of size {n * isz}")
    # The region is laid out over a contiguous copy of ``input`` (offsets are
    # relative to its first element).
    return _embed(input, src, _no_grad_view(
        lambda t: t.as_strided(size, stride, t.storage_offset() + off)),
        AsStridedScatterBackward0)




# In-place forms: Tensor.<name>_ writes the out-of-place result into self.
for _f in (scatter, scatter_add, scatter_reduce, index_add, index_copy, index_fill,
           index_reduce, masked_scatter, put):
    METHODS[_f.__name__ + "_"] = (lambda f: lambda self, *a, **k: inplace(self, f, *a, **k))(_f)
