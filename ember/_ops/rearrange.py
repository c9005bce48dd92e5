"""Copying rearrangements: roll, rot90, fliplr/flipud, repeat, tile,
repeat_interleave; the ``*_copy`` variants of the view ops (``view_copy``,
``permute_copy``, ``narrow_copy``, ...); and the in-place metadata ops
(``t_``, ``transpose_``, ``squeeze_``, ...)."""
import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ._core import (
    FUNCTIONS,
    METHODS,
    check_inplace,
    export,
    node,
    record,
    shape_arg,
    wrap,
    wrap_dim,
)
from .index import not_implemented_node
from .shape import basic_view, clone, flip, reshape


def _int_tuple(v):
    return (int(v),) if isinstance(v, (int, np.integer, Tensor)) else tuple(int(x) for x in v)


RollBackward0 = node("RollBackward0",
                     lambda ctx, g: roll(g, tuple(-s for s in ctx.shifts), ctx.dims))


@export()
def roll(input, shifts, dims=None):
    sh = _int_tuple(shifts)
    ds = () if dims is None else _int_tuple(dims)
    a = input._data
    xp = xp_of(a)
    if not ds:
        if len(sh) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:0")
        res = xp.roll(a, sh[0]) if a.size else a.copy()
    else:
        if len(sh) != len(ds):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, "
                               f"dims:{len(ds)}")
        ds = tuple(wrap_dim(d, a.ndim) for d in ds)
        res = xp.roll(a, sh, ds) if a.size else a.copy()
    out = wrap(res, input._dtype)
    if input._requires_grad:
        record(RollBackward0, (input,), out, shifts=sh, dims=ds or None)
    return out


@export()
def rot90(input, k=1, dims=(0, 1)):
    dims = tuple(dims)
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = wrap_dim(dims[0], nd), wrap_dim(dims[1], nd)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return flip(input, d1).transpose(d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(input, d0).transpose(d0, d1)
    return clone(input)


@export()
def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


@export()
def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


# ---------------------------------------------------------------------------
# repeat / tile / repeat_interleave
# ---------------------------------------------------------------------------

def _repeat_backward(ctx, g):
    # Output dim k is (repeat r_k) x (size s_k): split it and sum the repeats.
    split = []
    for r, s in zip(ctx.reps, ctx.padded):
        split += [r, s]
    g = g.reshape(*split)
    if split:
        g = g.sum(dim=tuple(range(0, len(split), 2)))
    return g.reshape(ctx.in_shape)


RepeatBackward0 = node("RepeatBackward0", _repeat_backward)


@export(function=False)
def repeat(input, *sizes):
    reps = shape_arg(sizes)
    a = input._data
    if len(reps) < a.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    padded = (1,) * (len(reps) - a.ndim) + a.shape
    target = [r * s for r, s in zip(reps, padded)]
    for r in reps:
        if r < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {r * 1}: "
                               f"{target}")
    xp = xp_of(a)
    res = xp.tile(a.reshape(padded), reps) if reps else a.copy()
    out = wrap(res, input._dtype)
    if input._requires_grad:
        record(RepeatBackward0, (input,), out, reps=reps, padded=padded, in_shape=a.shape)
    return out


@export()
def tile(input, dims):
    dims = shape_arg((dims,))
    nd = input._data.ndim
    return repeat(input, *((1,) * (nd - len(dims)) + dims))


@export()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # repeat_interleave(repeats): indices repeated repeats[i] times
        reps = input
        if reps._data.ndim != 1 or reps._dtype not in (D.int64, D.int32):
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        xp = xp_of(reps._data)
        return wrap(xp.repeat(xp.arange(reps._data.shape[0], dtype=reps._data.dtype),
                              _check_reps(reps._data)))
    if dim is None:
        input, d = reshape(input, -1), 0
    else:
        d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d] if input._data.ndim else 1
    xp = xp_of(input._data)
    if isinstance(repeats, Tensor):
        if repeats._data.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        if repeats._dtype not in (D.int64, D.int32):
            raise RuntimeError(f'"repeat_interleave_cpu" not implemented for '
                               f"'{repeats._dtype}'")
        r = repeats._data.reshape(-1)
        if r.size != 1 and r.size != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {r.size} and input.size({d}) = {n}")
        r = _check_reps(r)
        r = xp.broadcast_to(r, (n,)) if r.size == 1 else r
    else:
        r = int(repeats)
        if r < 0:
            raise RuntimeError("Repeats must be non-negative")
    idx = xp.repeat(xp.arange(n), r)
    if input._data.ndim == 0:
        return reshape(input, 1).index_select(0, wrap(idx))
    return input.index_select(d, wrap(idx))


def _check_reps(r):
    if r.size and int(r.min()) < 0:
        raise RuntimeError("repeats can not be negative")
    return r


# ---------------------------------------------------------------------------
# *_copy variants: the view op followed by a copy (functions, as in PyTorch)
# ---------------------------------------------------------------------------

def _copy_of(view):
    def f(input, *args, **kwargs):
        r = view(input, *args, **kwargs)
        return tuple(clone(t) for t in r) if isinstance(r, (tuple, list)) else clone(r)
    return f


DetachCopyBackward = not_implemented_node("NotImplemented",
                                          "derivative for aten::detach_copy is not implemented")


@export(method=False)
def detach_copy(input):
    out = wrap(input._data.copy(), input._dtype)
    record(DetachCopyBackward, (input,), out)
    return out


@export(method=False)
def slice_copy(input, dim=0, start=None, end=None, step=1):
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    d = wrap_dim(dim, input._data.ndim)
    return clone(basic_view(input, (slice(None),) * d + (slice(start, end, step),)))


def _view_copy(input, *size):
    if len(size) == 1 and isinstance(size[0], D.dtype):
        return input.view(size[0])
    return reshape(input, *size)


def _m(name):
    return lambda t, *a, **k: getattr(t, name)(*a, **k)


for _name, _view in (
        ("alias_copy", lambda t: t.view_as(t)), ("as_strided_copy", _m("as_strided")),
        ("diagonal_copy", _m("diagonal")),
        ("expand_copy", lambda t, size, *, implicit=False: t.expand(*size)),
        ("narrow_copy", _m("narrow")), ("permute_copy", _m("permute")),
        ("select_copy", _m("select")), ("split_copy", _m("split")),
        ("split_with_sizes_copy", _m("split_with_sizes")), ("squeeze_copy", _m("squeeze")),
        ("t_copy", _m("t")), ("transpose_copy", _m("transpose")),
        ("unbind_copy", _m("unbind")), ("unfold_copy", _m("unfold")),
        ("unsqueeze_copy", _m("unsqueeze")), ("view_copy", _view_copy),
        ("view_as_real_copy", lambda t: FUNCTIONS["view_as_real"](t)),
        ("view_as_complex_copy", lambda t: FUNCTIONS["view_as_complex"](t))):
    export(_name, method=_name == "narrow_copy")(_copy_of(_view))


# ---------------------------------------------------------------------------
# In-place metadata ops: ``self`` becomes the view ``fn(self)``
# ---------------------------------------------------------------------------

def _metadata_inplace(self, view):
    check_inplace(self)
    res = view(self)
    self._data = res._data
    if res._grad_fn is not None:
        self._grad_fn, self._output_nr = res._grad_fn, 0
    if self._base is not None and res._view_fn is not None:
        self._view_fn, self._view_ver = res._view_fn, res._view_ver
    return self


for _name, _view in (
        ("t_", lambda self: lambda t: t.t()),
        ("transpose_", lambda self, d0, d1: lambda t: t.transpose(d0, d1)),
        ("swapaxes_", lambda self, d0, d1: lambda t: t.transpose(d0, d1)),
        ("swapdims_", lambda self, d0, d1: lambda t: t.transpose(d0, d1)),
        ("squeeze_", lambda self, dim=None: lambda t: t.squeeze(dim)),
        ("unsqueeze_", lambda self, dim: lambda t: t.unsqueeze(dim)),
        ("as_strided_", lambda self, size, stride, storage_offset=None:
            lambda t: t.as_strided(size, stride, storage_offset))):
    METHODS[_name] = (lambda mk: lambda self, *a, **k: _metadata_inplace(self, mk(self, *a, **k))
                      )(_view)
FUNCTIONS["as_strided_"] = METHODS["as_strided_"]
