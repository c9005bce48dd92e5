"""Sorting and searching: sort, argsort, msort, topk, searchsorted, bucketize,
unique, unique_consecutive. (kthvalue/median/mode live with the reductions.)

Differences from PyTorch: sorting is always stable, so ``stable=False`` gives
the stable order too, and ties in ``topk`` come out in index order (PyTorch's
CPU order for tied elements is an artifact of its selection algorithm).
``topk(sorted=False)`` returns the sorted order, which is one valid answer.
``unique(sorted=False)`` sorts as PyTorch's CPU kernel does."""
import math

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ._core import FUNCTIONS, as_tensor_like, export, node, record, wrap, wrap_dim, write_out
from .index import not_implemented_node
from .reduce import values_indices

sort_result = values_indices["sort"]   # torch.return_types.sort / topk
topk_result = values_indices["topk"]


def _sortable(a, dt, name):
    """``a`` in a dtype NumPy sorts as PyTorch does (bfloat16 via float32)."""
    if dt.is_complex:
        raise RuntimeError(f"{name}(): Sort does not support complex dtypes on CPU")
    return a.astype(np.float32) if dt is D.bfloat16 else a


def _argsort(a, axis, descending, xp):
    """Stable argsort of ``a`` along ``axis``; descending keeps ties in index order
    (NaN sorts as the largest value either way, as in PyTorch)."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    r = xp.argsort(xp.flip(a, axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(r, axis)


def _place_backward(ctx, g, _gi=None):
    """Gradient of ``values = input.gather(dim, indices)`` for unique indices."""
    (idx,) = ctx.saved_tensors
    if not ctx.in_shape:
        return g.reshape(())
    z = g.new_zeros(ctx.in_shape)
    return FUNCTIONS["scatter"](z, ctx.dim, idx, g)


SortBackward0 = node("SortBackward0", _place_backward)
TopkBackward0 = node("TopkBackward0", _place_backward)


def _sorted_with_indices(input, dim, descending, name, k=None):
    a = input._data
    d = wrap_dim(dim, a.ndim)
    xp = xp_of(a)
    if a.ndim == 0:
        if k is not None and k not in (0, 1):
            raise RuntimeError("selected index k out of range")
        vals = a.copy() if k != 0 else a.reshape(1)[:0]
        return wrap(vals, input._dtype), wrap(xp.zeros(vals.shape, np.int64)), d
    if k is not None and not 0 <= k <= a.shape[d]:
        raise RuntimeError("selected index k out of range")
    idx = _argsort(_sortable(a, input._dtype, name), d, descending, xp)
    if k is not None:
        idx = idx[(slice(None),) * d + (slice(0, k),)]
    return wrap(xp.take_along_axis(a, idx, d), input._dtype), wrap(idx), d


@export()
def sort(input, dim=-1, descending=False, *, stable=False, out=None):
    vals, idx, d = _sorted_with_indices(input, dim, descending, "sort")
    record(SortBackward0, (input,), (vals, idx), saved=(idx,), in_shape=input._data.shape, dim=d)
    return write_out(sort_result(vals, idx), out)


@export()
def argsort(input, dim=-1, descending=False, *, stable=False):
    a = input._data
    if a.ndim == 0:
        return wrap(xp_of(a).zeros((), np.int64))
    d = wrap_dim(dim, a.ndim)
    return wrap(_argsort(_sortable(a, input._dtype, "argsort"), d, descending, xp_of(a)))


@export()
def msort(input, *, out=None):
    return write_out(sort(input, 0).values, out)


@export()
def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    vals, idx, d = _sorted_with_indices(input, dim, largest, "topk", int(k))
    record(TopkBackward0, (input,), (vals, idx), saved=(idx,), in_shape=input._data.shape, dim=d)
    return write_out(topk_result(vals, idx), out)


# ---------------------------------------------------------------------------
# searchsorted / bucketize
# ---------------------------------------------------------------------------

def _search(seq, values, right, sorter, out_int32, xp):
    side = "right" if right else "left"
    if seq.ndim == 1:
        res = xp.searchsorted(seq, values, side=side, sorter=sorter)
    else:
        lead = seq.shape[:-1]
        s2 = seq.reshape(math.prod(lead), seq.shape[-1])
        v2 = values.reshape(s2.shape[0], values.shape[-1])
        o2 = None if sorter is None else sorter.reshape(s2.shape)
        res = xp.empty(v2.shape, np.int64)
        for i in range(s2.shape[0]):
            res[i] = xp.searchsorted(s2[i], v2[i], side=side,
                                     sorter=None if o2 is None else o2[i])
        res = res.reshape(lead + values.shape[-1:])
    return wrap(xp.asarray(res, dtype=np.int32 if out_int32 else np.int64))


def _search_operands(seq, values, name):
    if not isinstance(values, Tensor):
        values = as_tensor_like(values, seq)
    s, v = seq._data, values._data
    if seq._dtype.is_complex or values._dtype.is_complex:
        raise RuntimeError(f"{name}(): complex tensors are not supported")
    if seq._dtype is not values._dtype:
        dt = D.promote_types(seq._dtype, values._dtype)
        s, v = s.astype(dt.np), v.astype(dt.np)
    if seq._dtype is D.bfloat16 or values._dtype is D.bfloat16:
        s, v = s.astype(np.float32), v.astype(np.float32)
    return s, v


@export(method=False)
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None, out=None):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    seq = sorted_sequence
    bs = tuple(seq.shape)
    vs = tuple(input.shape) if isinstance(input, Tensor) else ()
    if len(bs) == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if len(bs) > 1 and (len(bs) != len(vs) or bs[:-1] != vs[:-1]):
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           f"the first N-1 dimensions of boundaries tensor and input value "
                           f"tensor must match, but we got boundaries tensor {list(bs)} and "
                           f"input value tensor {list(vs)}")
    srt = None
    if sorter is not None:
        if sorter._dtype is not D.int64:
            raise RuntimeError("torch.searchsorted(): sorter must be a tensor of long dtype but "
                               f"got dtype {sorter._dtype}")
        if tuple(sorter.shape) != bs:
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same "
                               f"size, but got boundary tensor {list(bs)}and got sorter tensor "
                               f"{list(sorter.shape)}")
        srt = sorter._data
        if srt.size and (int(srt.min()) < 0 or int(srt.max()) >= bs[-1]):
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
    s, v = _search_operands(seq, input, "searchsorted")
    return write_out(_search(s, v, right, srt, out_int32, xp_of(s)), out)


@export(method=False)
def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got "
                           f"dim({boundaries._data.ndim})")
    s, v = _search_operands(boundaries, input, "bucketize")
    return write_out(_search(s, v, right, None, out_int32, xp_of(s)), out)


# ---------------------------------------------------------------------------
# unique / unique_consecutive
# ---------------------------------------------------------------------------

Unique2Backward0, UniqueDimBackward0, UniqueConsecutiveBackward0 = (
    not_implemented_node(name, f"the derivative for '{aten}' is not implemented.")
    for name, aten in (("Unique2Backward0", "_unique2"), ("UniqueDimBackward0", "unique_dim"),
                       ("UniqueConsecutiveBackward0", "unique_consecutive")))


def _rows(a, dim):
    """``a`` with ``dim`` moved first and the rest flattened: one row per slice."""
    if dim is None:
        return a.reshape(-1, 1)
    m = xp_of(a).moveaxis(a, dim, 0)
    return m.reshape(m.shape[0], math.prod(m.shape[1:]))


def _finish_unique(input, a, xp, keep, inverse, counts, dim, return_inverse, return_counts,
                   cls):
    """Output of unique-like ops: rows ``keep`` (indices into ``a`` along ``dim``)."""
    if dim is None:
        vals = a.reshape(-1)[keep]
        inv_shape = a.shape
    else:
        vals = xp.take(a, keep, axis=dim)
        inv_shape = (a.shape[dim],)
    out = wrap(vals, input._dtype)
    record(cls, (input,), out)
    res = (out,)
    if return_inverse:
        res += (wrap(xp.asarray(inverse, dtype=np.int64).reshape(inv_shape)),)
    if return_counts:
        res += (wrap(xp.asarray(counts, dtype=np.int64)),)
    return res[0] if len(res) == 1 else res


def _check_unique_dim(a, dim):
    if dim is None:
        return None
    d = wrap_dim(dim, a.ndim)
    if a.ndim == 0:
        raise IndexError("unique(): dim must be None for a 0-dim tensor")
    return d


@export()
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    a = input._data
    xp = xp_of(a)
    d = _check_unique_dim(a, dim)
    key = _sortable(a, input._dtype, "unique")
    rows = _rows(key, d)
    n = rows.shape[0]
    if d is not None and rows.shape[1] == 0:
        # Empty slices are all equal: PyTorch keeps one when the dim is non-empty.
        order = xp.arange(n)
        first = xp.zeros(min(n, 1), bool) if n else xp.zeros(0, bool)
        if n:
            first[0] = True
    else:
        order = xp.lexsort(rows.T[::-1]) if rows.shape[1] > 1 else \
            xp.argsort(rows[:, 0] if rows.shape[1] else rows.reshape(-1), kind="stable")
        srt = rows[order]
        first = xp.ones(n, bool)
        if n > 1:
            first[1:] = (srt[1:] != srt[:-1]).any(axis=1)
    group = xp.cumsum(first) - 1
    inverse = xp.empty(n, np.int64)
    inverse[order] = group
    starts = xp.flatnonzero(first)
    counts = xp.diff(xp.append(starts, n))
    cls = Unique2Backward0 if d is None else UniqueDimBackward0
    return _finish_unique(input, a, xp, order[starts], inverse, counts, d, return_inverse,
                          return_counts, cls)


@export()
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    a = input._data
    xp = xp_of(a)
    d = _check_unique_dim(a, dim)
    rows = _rows(_sortable(a, input._dtype, "unique_consecutive"), d)
    n = rows.shape[0]
    first = xp.ones(n, bool)
    if n > 1:
        first[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    starts = xp.flatnonzero(first)
    return _finish_unique(input, a, xp, starts, xp.cumsum(first) - 1,
                          xp.diff(xp.append(starts, n)), d, return_inverse, return_counts,
                          UniqueConsecutiveBackward0)
