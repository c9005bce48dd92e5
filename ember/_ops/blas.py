"""Matrix products: matmul/@, mm, bmm, mv, dot, outer, addmm, linear."""
import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ._core import METHODS, export, node, record, wrap


def _matmul_backward(ctx, g):
    a, b = ctx.saved_tensors
    ga = gb = None
    da, db = a.dim(), b.dim()
    if da == 1 and db == 1:
        return (g * b.conj() if ctx.needs_input_grad[0] else None,
                g * a.conj() if ctx.needs_input_grad[1] else None)
    a2 = a.unsqueeze(0) if da == 1 else a
    b2 = b.unsqueeze(-1) if db == 1 else b
    g2 = g
    if da == 1:
        g2 = g2.unsqueeze(-2)
    if db == 1:
        g2 = g2.unsqueeze(-1)
    if ctx.needs_input_grad[0]:
        ga = matmul(g2, b2.mT.conj())
        if da == 1:
            ga = ga.squeeze(-2)
        if ga.dim() > da:
            ga = ga.sum(dim=tuple(range(ga.dim() - da)))
    if ctx.needs_input_grad[1]:
        gb = matmul(a2.mT.conj(), g2)
        if db == 1:
            gb = gb.squeeze(-1)
        if gb.dim() > db:
            gb = gb.sum(dim=tuple(range(gb.dim() - db)))
    return ga, gb


MmBackward0 = node("MmBackward0", _matmul_backward)
BmmBackward0 = node("BmmBackward0", _matmul_backward)
MvBackward0 = node("MvBackward0", _matmul_backward)
DotBackward0 = node("DotBackward0", _matmul_backward)
MatmulBackward0 = node("UnsafeViewBackward0", _matmul_backward)


def _mm(a, b, cls):
    x, y = a._data, b._data
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{a._dtype.name} != {b._dtype.name}")
    if a._dtype in (D.bfloat16, D.float16):
        r = np.matmul(x.astype(np.float32), y.astype(np.float32)).astype(x.dtype) \
            if type(x) is np.ndarray else xp_of(x).matmul(x, y)
    else:
        r = (np.matmul if type(x) is np.ndarray else xp_of(x).matmul)(x, y)
    out = wrap(r, a._dtype)
    if a._requires_grad or b._requires_grad:
        record(cls, (a, b), out, saved=(a, b))
    return out


def _shape_err(a, b):
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                        f"({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})")


@export()
def matmul(input, other):
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError("matmul(): argument 'other' must be Tensor")
    da, db = input._data.ndim, other._data.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{da}D and {db}D")
    ka = input._data.shape[-1]
    kb = other._data.shape[-2] if db > 1 else other._data.shape[0]
    if ka != kb:
        if da == 2 and db == 2:
            raise _shape_err(input._data, other._data)
        if da == 1 and db == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{ka}] and src "
                               f"[{kb}] to have the same number of elements, but got {ka} and "
                               f"{kb} elements respectively")
        if db == 1:
            raise RuntimeError(f"size mismatch, got input ({input._data.shape[0]}), mat "
                               f"({input._data.shape[0]}x{ka}), vec ({kb})")
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{other._data.shape[0]}, {ka}] but got: "
                           f"[{other._data.shape[0]}, {kb}].")
    cls = MmBackward0 if da == 2 and db == 2 else DotBackward0 if da == db == 1 else \
        MvBackward0 if da == 2 and db == 1 else MatmulBackward0
    return _mm(input, other, cls)


@export()
def mm(input, mat2):
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input._data.shape[1] != mat2._data.shape[0]:
        raise _shape_err(input._data, mat2._data)
    return _mm(input, mat2, MmBackward0)


@export()
def bmm(input, mat2):
    if input._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2._data.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    a, b = input._data.shape, mat2._data.shape
    if a[0] != b[0] or a[2] != b[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a[0]}, {a[2]}] but got: [{b[0]}, {b[1]}].")
    return _mm(input, mat2, BmmBackward0)


@export()
def mv(input, vec):
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input._data.ndim}, "
                           f"{vec._data.ndim}")
    return matmul(input, vec)


@export()
def dot(input, tensor):
    if input._data.ndim != 1 or tensor._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and "
                           f"{tensor._data.ndim}D tensors")
    if input._dtype is not tensor._dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{input._dtype.name.capitalize()} and "
                           f"{tensor._dtype.name.capitalize()}")
    return matmul(input, tensor)


@export("outer", "ger")
def outer(input, vec2):
    return input.unsqueeze(-1) * vec2.unsqueeze(0)


@export()
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    prod = mm(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:  # input is ignored, even its NaNs (as PyTorch)
        return prod + input.new_zeros(()).expand(*input.shape)
    return prod + (input * beta if beta != 1 else input)


def _linear_backward(ctx, g):
    x, w = ctx.saved_tensors
    gx = gw = gb = None
    if ctx.needs_input_grad[0]:
        gx = g.matmul(w)
    if ctx.needs_input_grad[1]:
        g2 = g.reshape(-1, g.shape[-1]) if g.dim() != 2 else g
        x2 = x.reshape(-1, x.shape[-1]) if x.dim() != 2 else x
        gw = g2.mT.mm(x2) if g.dim() > 1 else g.unsqueeze(-1) * x.unsqueeze(0)
    if ctx.has_bias and ctx.needs_input_grad[2]:
        gb = g.sum(dim=tuple(range(g.dim() - 1))) if g.dim() > 1 else g
    return gx, gw, gb


AddmmBackward0 = node("AddmmBackward0", _linear_backward)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` as one op (one node, one BLAS call)."""
    x, w = input._data, weight._data
    if x.shape[-1] != w.shape[-1]:
        xs = x.reshape(-1, x.shape[-1]).shape if x.ndim else (1, 1)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({xs[0]}x{xs[1]} and "
                           f"{w.shape[1] if w.ndim > 1 else 1}x{w.shape[0]})")
    if input._dtype is not weight._dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{_name(input._dtype)} and {_name(weight._dtype)}")
    xp = np if type(x) is np.ndarray else xp_of(x)
    low = input._dtype in (D.float16, D.bfloat16) and xp is np
    if low:
        x, w = x.astype(np.float32), w.astype(np.float32)
    r = xp.matmul(x, w.T)
    if bias is not None:
        b = bias._data.astype(np.float32) if low else bias._data
        r += b
    out = wrap(r.astype(input._data.dtype) if low else r, input._dtype)
    record(AddmmBackward0, (input, weight, bias), out, saved=(input, weight),
           has_bias=bias is not None)
    return out


def _name(dt):
    from ._core import _legacy_name
    return _legacy_name(dt)


METHODS["__matmul__"] = matmul
METHODS["__rmatmul__"] = lambda self, other: matmul(other, self)
METHODS["__imatmul__"] = lambda self, other: self.copy_(matmul(self, other))
