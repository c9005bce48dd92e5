"""Triangles and diagonals: tril, triu (and in place), diag, diag_embed,
diagflat, trace."""
from .. import _dtype as D
from .._backend import xp_of
from ._core import METHODS, export, inplace, node, record, wrap, wrap_dim, write_out
from .shape import _diag_view, reshape


def _tri(name, fn):
    back = node(f"{name.capitalize()}Backward0",
                lambda ctx, g: tril(g, ctx.k) if ctx.lower else triu(g, ctx.k))

    def f(input, diagonal=0, *, out=None):
        a = input._data
        if a.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        res = wrap(getattr(xp_of(a), name)(a, int(diagonal)), input._dtype)
        if input._requires_grad:
            record(back, (input,), res, k=int(diagonal), lower=name == "tril")
        return write_out(res, out)
    f.__name__ = name
    export(name)(f)
    METHODS[name + "_"] = lambda self, diagonal=0: inplace(self, f, diagonal)
    return f


tril = _tri("tril", "tril")
triu = _tri("triu", "triu")

DiagEmbedBackward0 = node("DiagEmbedBackward0",
                          lambda ctx, g: g.diagonal(ctx.offset, ctx.d1, ctx.d2))


@export()
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    a = input._data
    nd = a.ndim + 1
    d1, d2 = wrap_dim(dim1, nd), wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = (a.shape[-1] if a.ndim else 1) + abs(offset)
    rest = list(a.shape[:-1])
    shape = []
    for k in range(nd):
        shape.append(n if k in (d1, d2) else rest.pop(0))
    out = xp_of(a).zeros(shape, a.dtype)
    _diag_view(out, offset, d1, d2)[...] = a
    res = wrap(out, input._dtype)
    if input._requires_grad:
        record(DiagEmbedBackward0, (input,), res, offset=offset, d1=d1, d2=d2)
    return res


@export()
def diag(input, diagonal=0, *, out=None):
    nd = input._data.ndim
    if nd == 1:
        res = diag_embed(input, diagonal, 0, 1)
    elif nd == 2:
        res = input.diagonal(diagonal).clone()
    else:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")
    return write_out(res, out)


@export()
def diagflat(input, offset=0):
    return diag_embed(reshape(input, -1), offset, 0, 1)


@export()
def trace(input):
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim "
                           f"{input._data.ndim}")
    if input._dtype is D.bool:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return input.diagonal().sum()
