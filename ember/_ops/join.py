"""Joining and combining tensors: hstack/vstack/dstack/column_stack,
atleast_1d/2d/3d, broadcast_tensors, meshgrid, block_diag, cartesian_prod,
combinations, kron. Most are compositions of views, ``cat`` and ``stack``, so
their gradients come from those ops; block_diag has its own rule."""
import itertools
import math
import warnings

import numpy as np

from .. import _dtype as D
from .._api import broadcast_shapes
from .._backend import xp_of
from .._tensor import Tensor
from ._core import export, node, record, wrap, write_out
from .shape import cat, expand, reshape, stack, unsqueeze


def _tensor_list(tensors, name):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return list(tensors)


def _seq_arg(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


# ---------------------------------------------------------------------------
# atleast_nd and the *stack family
# ---------------------------------------------------------------------------

def _at1(t):
    return t if t._data.ndim >= 1 else reshape(t, 1)


def _at2(t):
    nd = t._data.ndim
    return reshape(t, 1, 1) if nd == 0 else unsqueeze(t, 0) if nd == 1 else t


def _at3(t):
    nd = t._data.ndim
    if nd == 0:
        return reshape(t, 1, 1, 1)
    if nd == 1:
        return unsqueeze(unsqueeze(t, 0), -1)
    return unsqueeze(t, -1) if nd == 2 else t


def _atleast(name, one):
    def f(*tensors):
        if len(tensors) == 1 and isinstance(tensors[0], Tensor):
            return one(tensors[0])
        return tuple(one(t) for t in _tensor_list(tensors, name))
    f.__name__ = name
    export(name, method=False)(f)
    return f


atleast_1d = _atleast("atleast_1d", _at1)
atleast_2d = _atleast("atleast_2d", _at2)
atleast_3d = _atleast("atleast_3d", _at3)


@export(method=False)
def hstack(tensors, *, out=None):
    ts = [_at1(t) for t in _seq_arg(tensors, "hstack")]
    return cat(ts, 0 if ts[0]._data.ndim == 1 else 1, out=out)


@export("vstack", "row_stack", method=False)
def vstack(tensors, *, out=None):
    return cat([_at2(t) for t in _seq_arg(tensors, "vstack")], 0, out=out)


@export(method=False)
def dstack(tensors, *, out=None):
    return cat([_at3(t) for t in _seq_arg(tensors, "dstack")], 2, out=out)


@export(method=False)
def column_stack(tensors, *, out=None):
    ts = [reshape(t, t._data.size, 1) if t._data.ndim <= 1 else t
          for t in _seq_arg(tensors, "column_stack")]
    return cat(ts, 1, out=out)


# ---------------------------------------------------------------------------
# Broadcasting and grids
# ---------------------------------------------------------------------------

@export(method=False)
def broadcast_tensors(*tensors):
    ts = _tensor_list(tensors, "broadcast_tensors")
    shape = broadcast_shapes(*[t.shape for t in ts])
    return tuple(t if tuple(t.shape) == tuple(shape) else expand(t, *shape) for t in ts)


@export(method=False)
def meshgrid(*tensors, indexing=None):
    ts = _tensor_list(tensors, "meshgrid")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but '
                           f'received: {indexing}')
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in ts:
        if t._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got a tensor of shape {list(t.shape)}")
        if t._dtype is not ts[0]._dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if t.device != ts[0].device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t._data.size for t in ts)
    n = len(ts)
    grids = []
    for i, t in enumerate(ts):
        view = [1] * n
        view[i] = -1
        grids.append(expand(reshape(t, *view), *shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


@export(method=False)
def cartesian_prod(*tensors):
    ts = _tensor_list(tensors, "cartesian_prod")
    for t in ts:
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(ts) == 1:
        return ts[0]
    return stack([reshape(g, -1) for g in meshgrid(ts, indexing="ij")], 1)


@export(method=False)
def combinations(input, r=2, with_replacement=False):
    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return wrap(input._data[:0].copy(), input._dtype)
    n = input._data.shape[0]
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.fromiter(itertools.chain.from_iterable(pick(range(n), r)), np.int64)
    xp = xp_of(input._data)
    sel = input.index_select(0, wrap(xp.asarray(idx)))
    return reshape(sel, idx.size // r, r)


# ---------------------------------------------------------------------------
# block_diag, kron
# ---------------------------------------------------------------------------

def _block_diag_backward(ctx, g):
    grads = []
    for (r, c), (nr, nc), shape, need in zip(ctx.offsets, ctx.sizes, ctx.shapes,
                                              ctx.needs_input_grad):
        grads.append(reshape(g[r:r + nr, c:c + nc], *shape) if need else None)
    return tuple(grads)


BlockDiagBackward0 = node("BlockDiagBackward0", _block_diag_backward)


@export(method=False)
def block_diag(*tensors):
    ts = _tensor_list(tensors, "block_diag")
    if not ts:
        return wrap(np.zeros((1, 0), D.get_default_dtype().np))
    sizes = []
    for i, t in enumerate(ts):
        nd = t._data.ndim
        if nd > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {nd} dimensions")
        if t.device != ts[0].device:
            raise RuntimeError("torch.block_diag: input tensors must all be on the same device.")
        sh = t._data.shape
        sizes.append((1, 1) if nd == 0 else (1, sh[0]) if nd == 1 else sh)
    dt = D.result_type_of(ts) if len({t._dtype for t in ts}) > 1 else ts[0]._dtype
    xp = xp_of(ts[0]._data)
    out = xp.zeros((sum(s[0] for s in sizes), sum(s[1] for s in sizes)), dt.np)
    offsets, r, c = [], 0, 0
    for t, (nr, nc) in zip(ts, sizes):
        out[r:r + nr, c:c + nc] = t._data.reshape(nr, nc)
        offsets.append((r, c))
        r, c = r + nr, c + nc
    res = wrap(out, dt)
    record(BlockDiagBackward0, ts, res, offsets=offsets, sizes=sizes,
           shapes=[t.shape for t in ts])
    return res


@export()
def kron(input, other, *, out=None):
    nd = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (nd - input._data.ndim) + input._data.shape
    sb = (1,) * (nd - other._data.ndim) + other._data.shape
    # a[i0, 1, i1, 1, ...] * b[1, j0, 1, j1, ...] -> merge each (i_k, j_k) pair.
    a = reshape(input, *itertools.chain.from_iterable((n, 1) for n in sa))
    b = reshape(other, *itertools.chain.from_iterable((1, n) for n in sb))
    res = reshape(a * b, *(math.prod(p) for p in zip(sa, sb)))
    return write_out(res, out)
