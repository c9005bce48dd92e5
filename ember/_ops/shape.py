"""Views and shape ops. Views share memory with their input exactly as in
PyTorch (NumPy views of one buffer) and share its version counter; each
remembers how to rebuild itself from its base for in-place autograd."""
import math

import numpy as np

from .. import _dtype as D
from .._backend import canonical, device, to_device, xp_of
from .._layout import copy_as, preserve_format
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._core import (
    METHODS,
    dims_arg,
    export,
    inplace,
    node,
    record,
    shape_arg,
    wrap,
    wrap_dim,
    write_into,
    write_out,
)


def make_view(src, arr, fn):
    """A Tensor viewing ``arr`` (a view of ``src``'s array); ``fn(t)`` re-applies
    the view to a tensor shaped like ``src``."""
    out = wrap(arr, src._dtype)
    out._version = src._version
    base = src._base
    if base is None or src._view_fn is None:
        out._base = src if base is None else base
        out._view_fn = fn if base is None else None
    else:
        pf = src._view_fn
        out._base = base
        out._view_fn = lambda b: fn(pf(b))
    out._view_ver = src._version[0]
    return out


def _infer_shape(shape, numel):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    known = math.prod(s for s in shape if s != -1)
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _reshape_backward(ctx, g):
    return g.reshape(ctx.in_shape)


ViewBackward0 = node("ViewBackward0", _reshape_backward)
ReshapeAliasBackward0 = node("UnsafeViewBackward0", _reshape_backward)


@export()
def view(input, *shape):
    if len(shape) == 1 and isinstance(shape[0], (D.dtype,)):
        return _view_dtype(input, shape[0])
    shape = _infer_shape(shape_arg(shape), input._data.size)
    a = input._data
    try:
        v = a.reshape(shape, copy=False) if type(a) is np.ndarray else _cupy_view(a, shape)
    except ValueError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        ) from None
    out = make_view(input, v, lambda t: t.view(shape))
    if input._requires_grad:
        record(ViewBackward0, (input,), out, in_shape=a.shape)
    return out


def _cupy_view(a, shape):
    v = a.view()
    v.shape = shape
    return v


def _view_dtype(input, dt):
    a = input._data
    if dt.itemsize != input._dtype.itemsize and a.ndim == 0:
        raise RuntimeError("self.dim() cannot be 0 if self.itemsize() is not equal to "
                           "dtype.itemsize()")
    out = make_view(input, a.view(dt.np), lambda t: t.view(dt))
    out._dtype = dt
    return out


@export()
def view_as(input, other):
    return view(input, *other.shape)


@export()
def reshape(input, *shape):
    shape = _infer_shape(shape_arg(shape), input._data.size)
    a = input._data
    if type(a) is np.ndarray:
        try:
            v = a.reshape(shape, copy=False)
            out = make_view(input, v, lambda t: t.reshape(shape))
            if input._requires_grad:
                record(ViewBackward0, (input,), out, in_shape=a.shape)
            return out
        except ValueError:
            pass
    out = wrap(a.reshape(shape), input._dtype)
    if input._requires_grad:
        record(ReshapeAliasBackward0, (input,), out, in_shape=a.shape)
    return out


@export()
def reshape_as(input, other):
    return reshape(input, *other.shape)


@export()
def flatten(input, start_dim=0, end_dim=-1):
    nd = input._data.ndim
    if nd == 0:
        return reshape(input, 1)
    s, e = wrap_dim(start_dim, nd), wrap_dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    sh = input._data.shape
    return reshape(input, *sh[:s], math.prod(sh[s:e + 1]), *sh[e + 1:])


@export()
def unflatten(input, dim, sizes):
    sh = input._data.shape
    d = wrap_dim(dim, len(sh))
    sizes = list(sizes)
    if -1 in sizes:
        sizes = list(_infer_shape(sizes, sh[d]))
    elif math.prod(sizes) != sh[d]:
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of "
                           f"dim {dim} ({sh[d]}) in the input tensor")
    return view(input, *sh[:d], *sizes, *sh[d + 1:]) if input.is_contiguous() else \
        reshape(input, *sh[:d], *sizes, *sh[d + 1:])


@export()
def ravel(input):
    return reshape(input, -1)


def _permute_backward(ctx, g):
    return g.permute(*np.argsort(ctx.dims).tolist())


PermuteBackward0 = node("PermuteBackward0", _permute_backward)
TransposeBackward0 = node("TransposeBackward0",
                          lambda ctx, g: g.transpose(ctx.d0, ctx.d1))


@export()
def permute(input, *dims):
    dims = shape_arg(dims) if dims and not isinstance(dims[0], (tuple, list)) else \
        tuple(dims[0]) if dims else ()
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    out = make_view(input, input._data.transpose(dims), lambda t: t.permute(dims))
    if input._requires_grad:
        record(PermuteBackward0, (input,), out, dims=dims)
    return out


@export("transpose", "swapaxes", "swapdims")
def transpose(input, dim0, dim1):
    nd = input._data.ndim
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    if nd == 0:
        return alias(input)
    out = make_view(input, input._data.swapaxes(d0, d1), lambda t: t.transpose(d0, d1))
    if input._requires_grad:
        record(TransposeBackward0, (input,), out, d0=d0, d1=d1)
    return out


@export()
def t(input):
    nd = input._data.ndim
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
    return transpose(input, 0, 1) if nd == 2 else alias(input)


AliasBackward0 = node("AliasBackward0", lambda ctx, g: g)


def alias(input):
    """A view of all of ``input`` (what ``t()`` of a vector returns)."""
    out = make_view(input, input._data.view(), alias)
    if input._requires_grad:
        record(AliasBackward0, (input,), out)
    return out


@export()
def adjoint(input):
    return transpose(input, -2, -1).conj()


METHODS["T"] = property(lambda self: permute(self, *range(self._data.ndim - 1, -1, -1)))
METHODS["mT"] = property(lambda self: _mt(self))
METHODS["H"] = property(lambda self: t(self).conj())
METHODS["mH"] = property(lambda self: _mt(self).conj())


def _mt(x):
    if x._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {x._data.ndim}-D tensor.")
    return transpose(x, -2, -1)


@export("movedim", "moveaxis")
def movedim(input, source, destination):
    nd = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    src = [wrap_dim(d, nd) for d in src]
    dst = [wrap_dim(d, nd) for d in dst]
    order = [d for d in range(nd) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, *order)


def _expand_backward(ctx, g):
    from ._core import sum_to
    return sum_to(g, ctx.in_shape)


ExpandBackward0 = node("ExpandBackward0", _expand_backward)


@export()
def expand(input, *sizes):
    sizes = shape_arg(sizes)
    a = input._data
    nd = a.ndim
    if len(sizes) < nd:
        raise RuntimeError(f"expand(torch.{input._dtype.name}{{{list(a.shape)}}}, "
                           f"size={list(sizes)}): the number of sizes provided ({len(sizes)}) "
                           f"must be greater or equal to the number of dimensions in the tensor "
                           f"({nd})")
    lead = len(sizes) - nd
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                   "leading, non-existing dimension 0")
            target.append(s)
            continue
        cur = a.shape[i - lead]
        if s == -1:
            s = cur
        elif cur != 1 and s != cur:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                               f"size ({cur}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(a.shape)}")
        target.append(s)
    target = tuple(target)
    xp = np if type(a) is np.ndarray else xp_of(a)
    v = xp.broadcast_to(a, target)
    if type(a) is np.ndarray and a.flags.writeable:
        v = np.lib.stride_tricks.as_strided(a, target, v.strides)  # writable like PyTorch
    out = make_view(input, v, lambda t: t.expand(*target))
    if input._requires_grad:
        record(ExpandBackward0, (input,), out, in_shape=a.shape)
    return out


@export()
def expand_as(input, other):
    return expand(input, *other.shape)


@export()
def broadcast_to(input, size):
    return expand(input, *size)


SqueezeBackward0 = node("SqueezeBackward0", _reshape_backward)
UnsqueezeBackward0 = node("UnsqueezeBackward0", _reshape_backward)


@export()
def squeeze(input, dim=None):
    a = input._data
    if dim is None:
        dims = tuple(i for i, s in enumerate(a.shape) if s == 1)
    else:
        dims = tuple(d for d in dims_arg(dim, a.ndim) if a.ndim and a.shape[d] == 1)
    shape = tuple(s for i, s in enumerate(a.shape) if i not in dims)
    out = make_view(input, a.reshape(shape), lambda t: t.squeeze(dim))
    if input._requires_grad:
        record(SqueezeBackward0, (input,), out, in_shape=a.shape)
    return out


@export()
def unsqueeze(input, dim):
    a = input._data
    d = wrap_dim(dim, a.ndim + 1)
    shape = a.shape[:d] + (1,) + a.shape[d:]
    out = make_view(input, a.reshape(shape), lambda t: t.unsqueeze(d))
    if input._requires_grad:
        record(UnsqueezeBackward0, (input,), out, in_shape=a.shape)
    return out


def _index_view_backward(ctx, g):
    from . import FUNCTIONS as F
    z = F["zeros"](ctx.in_shape, dtype=g.dtype, device=g.device)
    return F["_view_scatter"](z, g, ctx.key)


SliceBackward0 = node("SliceBackward0", _index_view_backward)
SelectBackward0 = node("SelectBackward0", _index_view_backward)


def basic_view(input, key, cls=SliceBackward0):
    """The view ``input[key]`` for a basic (int/slice/None/Ellipsis) key."""
    a = input._data
    v = a[key]
    if type(v) is not type(a):  # NumPy returns a scalar copy for an all-int key
        v = a[key + (Ellipsis,)]
    out = make_view(input, v, lambda t: basic_view(t, key, cls))
    if input._requires_grad:
        record(cls, (input,), out, in_shape=a.shape, key=key)
    return out


def _check_dim_index(a, d, index, name):
    n = a.shape[d]
    if not -n <= index < n:
        raise IndexError(f"{name}(): index {index} out of range for tensor of size "
                         f"{list(a.shape)} at dimension {d}")


@export()
def select(input, dim, index):
    a = input._data
    if a.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, a.ndim)
    index = int(index)
    _check_dim_index(a, d, index, "select")
    return basic_view(input, (slice(None),) * d + (index,), SelectBackward0)


@export()
def narrow(input, dim, start, length):
    a = input._data
    d = wrap_dim(dim, a.ndim)
    start = int(start)
    if start < 0:
        start += a.shape[d]
    if start < 0 or start + length > a.shape[d] or length < 0:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({a.shape[d]}).")
    return basic_view(input, (slice(None),) * d + (slice(start, start + length),))


def _multi_view_backward(ctx, *grads):
    from . import FUNCTIONS as F
    z = F["zeros"](ctx.in_shape, dtype=grads[0].dtype, device=grads[0].device)
    for g, key in zip(grads, ctx.keys):
        z = F["_view_scatter"](z, g, key)
    return z


SplitBackward0 = node("SplitWithSizesBackward0", _multi_view_backward)
UnbindBackward0 = node("UnbindBackward0", _multi_view_backward)


def _multi_view(input, keys, cls):
    a = input._data
    outs = tuple(make_view(input, a[k], (lambda k: lambda t: t[k])(k)) for k in keys)
    if input._requires_grad and STATE.enabled:
        record(cls, (input,), outs, in_shape=a.shape, keys=keys)
    return outs


@export()
def split(input, split_size_or_sections, dim=0):
    a = input._data
    d = wrap_dim(dim, a.ndim)
    n = a.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        if s <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        sizes = [min(s, n - i) for i in range(0, n, s)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    keys, off = [], 0
    for s in sizes:
        keys.append((slice(None),) * d + (slice(off, off + s),))
        off += s
    return _multi_view(input, keys, SplitBackward0)


@export()
def split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


@export()
def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input._data.shape[wrap_dim(dim, input._data.ndim)]
    size = -(-n // chunks) if n else 0
    if size == 0:
        return split(input, [0] * chunks if n == 0 else [1] * n, dim) if n == 0 else ()
    return split(input, size, dim)


@export()
def tensor_split(input, indices_or_sections, dim=0):
    a = input._data
    d = wrap_dim(dim, a.ndim)
    n = a.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        bounds = np.cumsum([0] + sizes)
    else:
        idx = [min(max(int(i) if int(i) >= 0 else int(i) + n, 0), n)
               for i in indices_or_sections]
        bounds = [0] + idx + [n]
    keys = [(slice(None),) * d + (slice(int(s), max(int(s), int(e))),)
            for s, e in zip(bounds[:-1], bounds[1:])]
    return _multi_view(input, keys, SplitBackward0)


def _nsplit(name, dim, min_nd):
    def f(input, indices_or_sections):
        if input._data.ndim < min_nd:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_nd} "
                               f"dimension, but got a tensor with {input._data.ndim} dimensions!")
        d = 0 if (name == "hsplit" and input._data.ndim == 1) else dim
        if isinstance(indices_or_sections, int) and input._data.shape[d] % indices_or_sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the "
                               f"size of the dimension {input._data.shape[d]} is not divisible by "
                               f"the split_size {indices_or_sections}!")
        return tensor_split(input, indices_or_sections, d)
    f.__name__ = name
    export(name)(f)


_nsplit("hsplit", 1, 1)
_nsplit("vsplit", 0, 2)
_nsplit("dsplit", 2, 3)


@export()
def unbind(input, dim=0):
    a = input._data
    d = wrap_dim(dim, a.ndim)
    keys = [(slice(None),) * d + (i,) for i in range(a.shape[d])]
    return _multi_view(input, keys, UnbindBackward0)


def _diag_view(a, offset, d1, d2):
    xp = np if type(a) is np.ndarray else xp_of(a)
    v = xp.diagonal(a, offset, d1, d2)
    if type(a) is np.ndarray and a.flags.writeable:
        v = np.lib.stride_tricks.as_strided(a[_diag_start(a, offset, d1, d2)], v.shape,
                                            v.strides)
    return v


def _diag_start(a, offset, d1, d2):
    key = [slice(None)] * a.ndim
    if offset >= 0:
        key[d2] = slice(min(offset, a.shape[d2]), None)
    else:
        key[d1] = slice(min(-offset, a.shape[d1]), None)
    return tuple(key)


def _diagonal_backward(ctx, g):
    from . import FUNCTIONS as F
    z = F["zeros"](ctx.in_shape, dtype=g.dtype, device=g.device)
    return F["diagonal_scatter"](z, g, ctx.offset, ctx.d1, ctx.d2)


DiagonalBackward0 = node("DiagonalBackward0", _diagonal_backward)


@export()
def diagonal(input, offset=0, dim1=0, dim2=1):
    a = input._data
    d1, d2 = wrap_dim(dim1, a.ndim), wrap_dim(dim2, a.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    out = make_view(input, _diag_view(a, offset, d1, d2),
                    lambda t: t.diagonal(offset, d1, d2))
    if input._requires_grad:
        record(DiagonalBackward0, (input,), out, in_shape=a.shape, offset=offset, d1=d1, d2=d2)
    return out


AsStridedBackward0 = node("AsStridedBackward0", lambda ctx, g: _as_strided_grad(ctx, g))


@export()
def as_strided(input, size, stride, storage_offset=None):
    a = input._data
    root = input._root_array()
    isz = input._dtype.itemsize
    off = input.storage_offset() if storage_offset is None else storage_offset
    flat = root.reshape(-1) if root.flags.c_contiguous else root.ravel()
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    need = off + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else 0
    if need > flat.size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {off}, and itemsize {isz} requiring a storage size of "
                           f"{need * isz} are out of bounds for storage of size "
                           f"{flat.size * isz}")
    v = xp_of(a).lib.stride_tricks.as_strided(flat[off:], size,
                                              tuple(s * isz for s in stride))
    out = make_view(input, v, lambda t: t.as_strided(size, stride, storage_offset))
    if input._requires_grad:
        record(AsStridedBackward0, (input,), out, in_shape=a.shape, size=size, stride=stride,
               off=off - input.storage_offset(), in_stride=input.stride())
    return out


def _as_strided_grad(ctx, g):
    # Scatter-add the gradient into a flat buffer laid out like the input.
    xp = xp_of(g._data)
    n = int(np.prod(ctx.in_shape)) if ctx.in_shape else 1
    buf = xp.zeros(max(n, 1) + max(ctx.off, 0) + 1, g._data.dtype)
    idx = ctx.off + sum(xp.arange(s).reshape((-1,) + (1,) * (len(ctx.size) - i - 1)) * st
                        for i, (s, st) in enumerate(zip(ctx.size, ctx.stride))) \
        if ctx.size else xp.asarray(ctx.off)
    np.add.at(buf, idx, g._data) if xp is np else xp.add.at(buf, idx, g._data)
    return wrap(buf[:n].reshape(ctx.in_shape), g._dtype)


UnfoldBackward0 = node("UnfoldBackward0", lambda ctx, g: _unfold_grad(ctx, g))


@export("unfold", function=False)
def unfold(input, dimension, size, step):
    a = input._data
    d = wrap_dim(dimension, a.ndim) if a.ndim else 0
    n = a.shape[d] if a.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    count = (n - size) // step + 1
    if a.ndim == 0:
        v = a.reshape(1)
    else:
        shape = a.shape[:d] + (count,) + a.shape[d + 1:] + (size,)
        strides = a.strides[:d] + (a.strides[d] * step,) + a.strides[d + 1:] + (a.strides[d],)
        v = xp_of(a).lib.stride_tricks.as_strided(a, shape, strides)
    out = make_view(input, v, lambda t: unfold(t, dimension, size, step))
    if input._requires_grad:
        record(UnfoldBackward0, (input,), out, in_shape=a.shape, d=d, size=size, step=step)
    return out


def _unfold_grad(ctx, g):
    from . import FUNCTIONS as F
    z = F["zeros"](ctx.in_shape, dtype=g.dtype, device=g.device)
    if not ctx.in_shape:
        return g.reshape(())
    for i in range(g.shape[ctx.d]):
        piece = g.select(ctx.d, i).movedim(-1, ctx.d)
        key = (slice(None),) * ctx.d + (slice(i * ctx.step, i * ctx.step + ctx.size),)
        z = F["_view_scatter"](z, piece, key, accumulate=True)
    return z


# ---------------------------------------------------------------------------
# Copies, casts, devices
# ---------------------------------------------------------------------------

CloneBackward0 = node("CloneBackward0", lambda ctx, g: g)


@export()
def clone(input, *, memory_format=None):
    """As PyTorch; the copy is in C order unless ``memory_format`` is channels-last
    (PyTorch's default ``preserve_format`` keeps a dense input's strides)."""
    out = wrap(copy_as(input._data, xp_of(input._data), memory_format), input._dtype)
    if input._requires_grad:
        record(CloneBackward0, (input,), out)
    return out


@export(function=False)
def contiguous(input, memory_format=None):
    if memory_format is preserve_format:  # allowed only where it changes nothing
        if input.is_contiguous():
            return input
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    if input.is_contiguous(memory_format):
        return input
    return clone(input, memory_format=memory_format)


def _to_copy_backward(ctx, g):
    if ctx.src_dtype.is_complex is False and g._dtype.is_complex:
        g = g.real
    return g.to(dtype=ctx.src_dtype, device=ctx.src_device)


ToCopyBackward0 = node("ToCopyBackward0", _to_copy_backward)


_TO_KEYS = ("device", "dtype", "non_blocking", "copy", "memory_format")


def parse_to(args, kwargs):
    """(device, dtype, non_blocking, copy, memory_format) from the overloads of
    ``Tensor.to`` and ``Module.to``: (device=None, dtype=None, non_blocking=False,
    copy=False), (dtype, non_blocking, copy), (tensor, non_blocking, copy), and
    the keywords; PyTorch's TypeError for any other combination."""
    dev = dt = mf = None
    nb = cp = False
    rest = list(args)
    if rest:
        a = rest[0]
        if isinstance(a, D.dtype):
            dt = rest.pop(0)
        elif isinstance(a, Tensor):
            rest.pop(0)
            dev, dt = a.device, a._dtype
        elif not isinstance(a, bool):  # a device, its name, a CUDA index, or None
            dev = rest.pop(0)
            if rest and (rest[0] is None or isinstance(rest[0], D.dtype)):
                dt = rest.pop(0)
        if rest and isinstance(rest[0], bool):
            nb = rest.pop(0)
            if rest and isinstance(rest[0], bool):
                cp = rest.pop(0)
    if kwargs:
        dev = kwargs.get("device", dev)
        dt = kwargs.get("dtype", dt)
        nb = kwargs.get("non_blocking", nb)
        cp = kwargs.get("copy", cp)
        mf = kwargs.get("memory_format")
    if rest or (kwargs and any(k not in _TO_KEYS for k in kwargs)) or \
            not (dev is None or isinstance(dev, (str, int, device))) or \
            not (dt is None or isinstance(dt, D.dtype)):
        got = [type(a).__name__ for a in args] + [f"{k}={type(v).__name__}"
                                                   for k, v in kwargs.items()]
        raise TypeError(f"to() received an invalid combination of arguments - got "
                        f"({', '.join(got)}), but expected one of: (torch.device device, "
                        f"torch.dtype dtype, bool non_blocking, bool copy), (torch.dtype "
                        f"dtype, bool non_blocking, bool copy), (Tensor other, bool "
                        f"non_blocking, bool copy)")
    return dev, dt, nb, cp, mf


@export(function=False)
def to(input, *args, **kwargs):
    dev, dt, non_blocking, copy, memory_format = parse_to(args, kwargs)
    if memory_format is not None and memory_format is not preserve_format:
        return contiguous(to(input, dev, dt, non_blocking, copy), memory_format)
    src_dev = input.device
    if dev is not None:
        dev = canonical(dev)
    same_dev = dev is None or dev == src_dev
    same_dt = dt is None or dt is input._dtype
    if same_dev and same_dt and not copy:
        return input
    a = input._data
    if not same_dev:
        a = to_device(a, dev, non_blocking)
    if not same_dt:
        a = _astype(a, input._dtype, dt)
    elif same_dev:
        a = a.copy()
    out = wrap(a, dt or input._dtype)
    if input._requires_grad and (out._dtype.is_floating_point or out._dtype.is_complex):
        record(ToCopyBackward0, (input,), out, src_dtype=input._dtype, src_device=src_dev)
    return out


def _astype(a, src, dt):
    if src.is_complex and not dt.is_complex:
        import warnings
        warnings.warn("Casting complex values to real discards the imaginary part",
                      UserWarning, stacklevel=4)
        a = a.real
    if dt is D.bool:
        return a != 0
    if (src.is_floating_point or src.is_complex) and not (dt.is_floating_point or
                                                          dt.is_complex):
        with np.errstate(invalid="ignore"):
            return a.astype(dt.np)
    return a.astype(dt.np)


@export("type_as", function=False)
def type_as(input, other):
    return to(input, other._dtype)


def _copy_backward(ctx, g):
    return None, g.to(dtype=ctx.src_dtype, device=ctx.src_device)


CopyBackwards = node("CopyBackwards", _copy_backward)


def _copy_op(self, src, non_blocking=False):
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    a = src._data
    if src.device != self.device:
        a = to_device(a, self.device)
    a = _astype(a, src._dtype, self._dtype) if src._dtype is not self._dtype else a
    xp = xp_of(a)
    try:
        a = xp.broadcast_to(a, self._data.shape)
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({self._data.shape[-1] if self._data.ndim else 1}"
                           f") must match the size of tensor b ({a.shape[-1] if a.ndim else 1}) "
                           f"at non-singleton dimension {self._data.ndim - 1}") from None
    out = wrap(a.copy(), self._dtype)
    record(CopyBackwards, (self, src), out, src_dtype=src._dtype, src_device=src.device)
    return out


@export("copy_", function=False)
def copy_(self, src, non_blocking=False):
    if not (STATE.enabled and (src._requires_grad or self._requires_grad or
                               (self._base is not None and self._base._requires_grad))):
        a = src._data
        if src.device != self.device:
            a = to_device(a, self.device)
        if a is self._data:
            return self
        write_into(self, _astype(a, src._dtype, self._dtype)
                   if src._dtype is not self._dtype else a, self._dtype)
        return self
    return inplace(self, _copy_op, src, non_blocking)


# ---------------------------------------------------------------------------
# Joining
# ---------------------------------------------------------------------------

def _cat_backward(ctx, g):
    return tuple(g.narrow(ctx.dim, s, n) if n else None for s, n in ctx.spans)


CatBackward0 = node("CatBackward0", _cat_backward)


@export("cat", "concat", "concatenate")
def cat(tensors, dim=0, *, out=None, axis=None):
    if axis is not None:
        dim = axis
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        "Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    # PyTorch skips 1-D empty tensors (legacy behaviour).
    parts = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)]
    dt = D.result_type_of(tensors) if len({t._dtype for t in tensors}) > 1 else tensors[0]._dtype
    if not parts:
        parts = tensors  # all 1-D and empty
    ref = parts[0]
    nd = ref._data.ndim
    if nd == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, nd)
    for i, t in enumerate(parts):
        if t._data.ndim != nd:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and "
                               f"{t._data.ndim}")
        for k in range(nd):
            if k != d and t._data.shape[k] != ref._data.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref._data.shape[k]} but got size "
                                   f"{t._data.shape[k]} for tensor number {i} in the list.")
        if t.device != ref.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                               f"least two devices, {ref.device} and {t.device}!")
    xp = xp_of(ref._data)
    res = wrap(xp.concatenate([t._data.astype(dt.np, copy=False) for t in parts], d), dt)
    if STATE.enabled and any(t._requires_grad for t in parts):
        spans, off = [], 0
        for t in parts:
            n = t._data.shape[d]
            spans.append((off, n))
            off += n
        record(CatBackward0, parts, res, dim=d, spans=spans)
    return write_out(res, out)


@export()
def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(s0)} at entry 0 and {list(t.shape)} at entry {i}")
    d = wrap_dim(dim, len(s0) + 1)
    return cat([unsqueeze(t, d) for t in tensors], d, out=out)



FlipBackward0 = node("FlipBackward0", lambda ctx, g: g.flip(ctx.dims))


@export()
def flip(input, *dims, **kw):
    if "dims" in kw:
        dims = (kw.pop("dims"),)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    a = input._data
    ds = dims_arg(dims, a.ndim) if dims else ()
    xp = xp_of(a)
    out = wrap(xp.flip(a, ds).copy() if ds else a.copy(), input._dtype)
    if input._requires_grad:
        record(FlipBackward0, (input,), out, dims=ds)
    return out
