"""Matrix products: matmul/@, mm, bmm, mv, dot, outer, addmm, linear."""
import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._blas import BIG_MACS, gemm_threads, threads_free
from .._tensor import Tensor
from ._core import METHODS, autocast_op, export, inplace, node, record, wrap
from ._outarg import with_out
from ._parallel import num_threads, split


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


def ones_sum(a):
    """``a.sum(-1)`` of a 2-d array as the product with a vector of ones: BLAS's
    matrix-vector kernel beats NumPy's pairwise sum several-fold here (a conv's
    bias gradient 3.5x; a recurrent layer's bias gradients over 1024 columns of
    1024 float32 rows, 27 us against 149)."""
    return a @ xp_of(a).ones(a.shape[-1], a.dtype)


_SPLIT_MACS = 1 << 24   # products from ~16M multiply-adds are split over the intra-op threads


def _gemm(a, b):
    """``a @ b`` of NumPy or CuPy arrays with ember's thread policy
    (``_blas.gemm_threads``). Mid-size 2-d NumPy products from ``_SPLIT_MACS``
    that may not use OpenBLAS's threads (``_blas.threads_free``: typically because
    ember's intra-op threads are busy with convolutions) are cut into row (or
    column) blocks that the intra-op threads run as single-threaded BLAS calls
    (1.7x faster for cnn_train's 64x9216x128 here). Those threads wait without
    spinning and hand the blocks to whichever thread is free, so a core busy
    elsewhere costs no collapse."""
    macs = a.size * (b.shape[-1] if b.ndim > 1 else 1)
    if type(a) is np.ndarray and a.ndim == 2 and b.ndim == 2 and \
            _SPLIT_MACS <= macs < BIG_MACS and num_threads() > 1 and not threads_free():
        m, n = a.shape[0], b.shape[1]
        out = np.empty((m, n), np.result_type(a, b))
        if m >= n:
            def rows(i, j):
                np.matmul(a[i:j], b, out=out[i:j])
            split(rows, m, macs, np, pieces=2, mark=False)
        else:
            def cols(i, j):
                np.matmul(a, b[:, i:j], out=out[:, i:j])
            split(cols, n, macs, np, pieces=2, mark=False)
        return out
    with gemm_threads(macs):
        return (np.matmul if type(a) is np.ndarray else xp_of(a).matmul)(a, b)


def _mm(a, b, cls):
    x, y = a._data, b._data
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{a._dtype.name} != {b._dtype.name}")
    if a._dtype in (D.bfloat16, D.float16) and type(x) is np.ndarray:
        r = _gemm(x.astype(np.float32), y.astype(np.float32)).astype(x.dtype)
    else:
        r = _gemm(x, y)
    out = wrap(r, a._dtype)
    if a._requires_grad or b._requires_grad:
        record(cls, (a, b), out, saved=(a, b))
    return out


def _shape_err(a, b):
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                        f"({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})")


@export()
@autocast_op("low")
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
@autocast_op("low")
def mm(input, mat2):
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input._data.shape[1] != mat2._data.shape[0]:
        raise _shape_err(input._data, mat2._data)
    return _mm(input, mat2, MmBackward0)


@export()
@autocast_op("low")
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


def _linear_arrays(ctx, g):
    """``_linear_backward`` on arrays (no Tensor per gradient), for non-empty NumPy
    float data of one dtype with at least 2-d input; else None (the Tensor rule runs)."""
    x, w = ctx.saved_tensors
    x, w = x._data, w._data
    if type(x) is not np.ndarray or type(w) is not np.ndarray or g.ndim < 2 or \
            not (x.size and g.size) or not (g.dtype == x.dtype == w.dtype) or \
            g.dtype.kind != "f" or g.dtype.itemsize < 4:
        return None
    need = ctx.needs_input_grad
    g2 = g.reshape(-1, g.shape[-1])
    gx = _gemm(g2, w).reshape(x.shape) if need[0] else None
    gw = _gemm(g2.T, x.reshape(-1, x.shape[-1])) if need[1] else None
    gb = g2.sum(0) if ctx.has_bias and need[2] else None
    return gx, gw, gb


AddmmBackward0 = node("AddmmBackward0", _linear_backward, arrays=_linear_arrays)


@autocast_op("low")
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
    if x.ndim > 2 and x.flags.c_contiguous:  # (..., k) rows as one 2-d product
        r = _gemm(x.reshape(-1, x.shape[-1]), w.T).reshape(x.shape[:-1] + (w.shape[0],))
    else:
        r = _gemm(x, w.T)
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


# ---------------------------------------------------------------------------
# More products: vdot, inner, addmv, addr, addbmm, baddbmm, chain_matmul
# ---------------------------------------------------------------------------

def _scaled_sum(input, prod, beta, alpha):
    """``beta * input + alpha * prod`` with PyTorch's rule that ``beta=0``
    ignores ``input`` (even its NaNs) but still broadcasts against it."""
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod + input.new_zeros(()).expand(*input.shape)
    return prod + (input * beta if beta != 1 else input)


@export()
def vdot(input, other):
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and "
                           f"{other._data.ndim}D tensors")
    return dot(input.conj(), other)


@export()
def inner(input, other):
    if input._data.ndim == 0 or other._data.ndim == 0:
        return input * other
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


@export()
def addmv(input, mat, vec, *, beta=1, alpha=1):
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


@export()
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    if vec1._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1, but got {vec1._data.ndim}-D"
                           if vec1._data.ndim != 1 else
                           f"addr: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


@export()
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    if batch1._data.ndim != 3 or batch2._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if batch1._data.ndim != 3 else
                           "batch2 must be a 3D tensor")
    b, n, m = batch1.shape
    if batch2.shape[0] != b or batch2.shape[1] != m:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b}, {m}] but got: [{batch2.shape[0]}, {batch2.shape[1]}].")
    # sum_b batch1[b] @ batch2[b] is one GEMM over the stacked inner dimension
    prod = mm(batch1.permute(1, 0, 2).reshape(n, b * m), batch2.reshape(b * m, batch2.shape[2]))
    return _scaled_sum(input, prod, beta, alpha)


@export()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def _inplace_of(fn):
    def ip(self, *args, **kwargs):
        return inplace(self, fn, *args, **kwargs)
    ip.__name__ = fn.__name__ + "_"
    return ip


for _f in (addmm, addmv, addr, addbmm, baddbmm):
    METHODS[_f.__name__ + "_"] = _inplace_of(_f)


def _chain_order(shapes):
    """Optimal parenthesisation of a matrix chain (dynamic programming over
    the multiplication cost), as ``linalg.multi_dot`` does."""
    n = len(shapes)
    dims = [shapes[0][0]] + [s[1] for s in shapes]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(ts, split, i, j):
    if i == j:
        return ts[i]
    k = split[i][j]
    return mm(_chain(ts, split, i, k), _chain(ts, split, k + 1, j))


def _multi_dot(tensors, name):
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"{name}(): expected at least 2 tensors but got {len(ts)}")
    first_vec, last_vec = ts[0].dim() == 1, ts[-1].dim() == 1
    if first_vec:
        ts[0] = ts[0].unsqueeze(0)
    if last_vec:
        ts[-1] = ts[-1].unsqueeze(-1)
    for i, t in enumerate(ts):
        if t.dim() != 2:
            which = "first" if i == 0 else "last" if i == len(ts) - 1 else None
            raise RuntimeError(f"{name}(): the {which} tensor must be 1D or 2D but got "
                               f"{t.dim()}D" if which else
                               f"{name}(): tensor {i} must be 2D but got {t.dim()}D")
        if i and ts[i - 1].shape[1] != t.shape[0]:
            raise RuntimeError(f"{name}(): tensors {i - 1} and {i} with shapes "
                               f"{list(tensors[i - 1].shape)} and {list(tensors[i].shape)} "
                               "cannot be multiplied")
    dt = ts[0]._dtype
    if any(t._dtype is not dt for t in ts):
        raise RuntimeError(f"{name}(): all tensors must have be the same dtype but tensor 0 is "
                           f"{dt} and another tensor is "
                           f"{next(t._dtype for t in ts if t._dtype is not dt)}")
    out = _chain(ts, _chain_order([t.shape for t in ts]), 0, len(ts) - 1) if len(ts) > 2 \
        else mm(ts[0], ts[1])
    if first_vec:
        out = out.squeeze(0)
    if last_vec:
        out = out.squeeze(-1)
    return out


@with_out
def multi_dot(tensors):
    """``linalg.multi_dot``: the chain product in the cheapest order."""
    return _multi_dot(tensors, "multi_dot")


@export(method=False)
@with_out
def chain_matmul(*matrices):
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = matrices[0]
    import warnings
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
                  "more tensors rather than multiple parameters.", UserWarning, stacklevel=2)
    if len(matrices) == 1:
        return matrices[0].clone()
    for m in matrices:
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    return _multi_dot(matrices, "chain_matmul")


# ---------------------------------------------------------------------------
# tensordot and einsum. Every contraction goes through one core op whose
# operands have distinct, equally sized labels; pairs of operands contract as
# one (batched) GEMM, larger products follow NumPy's optimised einsum path.
# The gradient of an operand is the einsum of the incoming gradient with the
# other operands (conjugated), so double backward works.
# ---------------------------------------------------------------------------

_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@export(method=False)
@with_out
def tensordot(a, b, dims=2):
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.dim() or dims > b.dim():
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
        if len(da) != len(db):
            raise RuntimeError(f"both dimension lists should have same length, but got "
                               f"{len(da)} and {len(db)}")
    from ._core import wrap_dim
    da = [wrap_dim(d, a.dim()) for d in da]
    db = [wrap_dim(d, b.dim()) for d in db]
    la = list(_LABELS[:a.dim()])
    lb = list(_LABELS[a.dim():a.dim() + b.dim()])
    for x, y in zip(da, db):  # size-1 contracted dims broadcast, as in PyTorch
        if a.shape[x] != b.shape[y] and a.shape[x] != 1 and b.shape[y] != 1:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[x]} in dim {x} and second has size {b.shape[y]} in "
                               f"dim {y}")
        lb[y] = la[x]
    free = [c for i, c in enumerate(la) if i not in da] + \
        [c for i, c in enumerate(lb) if i not in db]
    return einsum("".join(la) + "," + "".join(lb) + "->" + "".join(free), a, b)


def _sublist_equation(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [out]) -> (equation, operands)."""
    def subs(lst):
        s = ""
        for v in lst:
            if v is Ellipsis:
                s += "..."
            elif isinstance(v, int) and 0 <= v < 52:
                s += _LABELS[v]
            else:
                raise RuntimeError(f"einsum(): expected subscript to be within the range "
                                   f"[0, 52), but got {v}")
        return s
    ops = list(args[0::2])
    lhs = [subs(s) for s in args[1::2]]
    if len(args) % 2:
        ops = ops[:-1]
        return ",".join(lhs) + "->" + subs(args[-1]), ops
    return ",".join(lhs), ops


@export(method=False)
def einsum(*args):
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand")
    if isinstance(args[0], str):
        eq, ops = args[0], args[1:]
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = tuple(ops[0])
    else:
        eq, ops = _sublist_equation(args)
    ins, out, squeeze = _parse_einsum(eq, tuple(tuple(o.shape) for o in ops))
    ops = tuple(o.squeeze(sq) if sq else o for o, sq in zip(ops, squeeze))
    return _einsum_core(ins, out, ops)


_PARSE_CACHE = {}


def _parse_einsum(eq, shapes):
    key = (eq, shapes)
    r = _PARSE_CACHE.get(key)
    if r is None:
        r = _PARSE_CACHE[key] = _parse_einsum_uncached(eq, shapes)
        if len(_PARSE_CACHE) > 1024:
            _PARSE_CACHE.pop(next(iter(_PARSE_CACHE)))
    return r


def _parse_einsum_uncached(eq, shapes):
    """Normalises an einsum equation for operands of ``shapes``: ellipses become
    explicit labels, and size-1 dims that broadcast become squeezed. Returns
    (input subscripts, output subscript, dims to squeeze per operand)."""
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                         "equation" if len(shapes) > len(terms) else
                         "einsum(): fewer operands were provided than specified in the "
                         "equation")
    for t in terms + [rhs]:
        for c in t.replace("...", ""):
            if c not in _LABELS:
                raise RuntimeError(f"einsum(): invalid subscript given at index "
                                   f"{eq.index(c)} in the equation string, subscripts must "
                                   f"be in [a-zA-Z]")
    used = set(eq)
    spare = [c for c in _LABELS if c not in used]
    ell_nd = 0
    parts = []
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        n_ell = t.count("...")
        if n_ell > 1 or ("." in t.replace("...", "")):
            raise RuntimeError(f"einsum(): found more than one '...' in subscript for operand "
                               f"{i}" if n_ell > 1 else "einsum(): found '.' for operand "
                               f"{i} that is not part of any ellipsis")
        nlab = len(t) - 3 * n_ell
        if (nlab != len(shape)) if not n_ell else nlab > len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nlab}) "
                               f"{'does not match' if not n_ell else 'is more than'} the "
                               f"number of dimensions ({len(shape)}) for operand {i}"
                               f"{' and no ellipsis was given' if not n_ell else ''}")
        k = len(shape) - nlab if n_ell else 0
        ell_nd = max(ell_nd, k)
        parts.append((t, k))
    ell = "".join(spare[:ell_nd])
    ins = [t.replace("...", ell[ell_nd - k:]) if k or "..." in t else t for t, k in parts]
    ins = [t.replace("...", "") for t in ins]
    if arrow:
        if rhs.count("...") > 1:
            raise RuntimeError("einsum(): found more than one '...' in the output")
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   "the output")
            if not any(c in s for s in ins):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
    else:
        joined = "".join(terms).replace("...", "")
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    # sizes and broadcasting
    size = {}
    for s, shape in zip(ins, shapes):
        for c, n in zip(s, shape):
            m = size.get(c, 1)
            if n != 1 and m != 1 and n != m:
                raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes "
                                   f"(original->remapped): subscript {c} has size {n} for "
                                   f"one operand and {m} for another")
            size[c] = n if n != 1 else m
    squeeze, new_ins = [], []
    for s, shape in zip(ins, shapes):
        sq = tuple(i for i, (c, n) in enumerate(zip(s, shape)) if n == 1 and size[c] != 1)
        squeeze.append(sq)
        new_ins.append("".join(c for i, c in enumerate(s) if i not in sq))
    return tuple(new_ins), out, tuple(squeeze)


def _einsum_backward(ctx, g):
    ops = ctx.saved_tensors
    ins, out = ctx.ins, ctx.out
    grads = []
    for i, s in enumerate(ins):
        if not ctx.needs_input_grad[i]:
            grads.append(None)
            continue
        terms, operands = [out], [g]
        for j, (sj, t) in enumerate(zip(ins, ops)):
            if j != i:
                terms.append(sj)
                operands.append(t.conj() if t._dtype.is_complex else t)
        present = set("".join(terms))
        for c in dict.fromkeys(s):
            if c not in present and s.count(c) > 1:  # a diagonal summed only here
                terms.append(c)
                operands.append(_ones_like(ctx.sizes[c], g))
                present.add(c)
        spare = [c for c in _LABELS if c not in present and c not in s]
        target, seen, dropped = "", set(), []
        for k, c in enumerate(s):
            if c in seen:  # a repeated label: the gradient lives on a diagonal
                d = spare.pop()
                terms.append(c + d)
                operands.append(_eye_like(ctx.sizes[c], g))
                target += d
            elif c not in present:  # summed only in this operand: broadcast back
                dropped.append(k)
            else:
                target += c
            seen.add(c)
        gi = einsum(",".join(terms) + "->" + target, *operands) \
            if target or len(operands) > 1 else g
        if dropped:
            shape = [ctx.sizes[c] for c in s]
            for k in dropped:
                gi = gi.unsqueeze(k)
            gi = gi.expand(*shape)
        grads.append(gi)
    return tuple(grads)


def _eye_like(n, like):
    return wrap(xp_of(like._data).eye(n, dtype=like._data.dtype), like._dtype)


def _ones_like(n, like):
    return wrap(xp_of(like._data).ones(n, dtype=like._data.dtype), like._dtype)


EinsumBackward0 = node("EinsumBackward0", _einsum_backward)


def _einsum_core(ins, out, ops):
    if not ops:
        raise RuntimeError("einsum(): must provide at least one operand")
    dt = ops[0]._dtype
    for o in ops[1:]:
        if o._dtype is not dt:
            raise RuntimeError(f"expected scalar type {_name(dt)} but found {_name(o._dtype)}")
    arrs = [o._data for o in ops]
    low = dt in (D.float16, D.bfloat16)
    if low:
        arrs = [a.astype(np.float32) for a in arrs]
    xp = np if type(arrs[0]) is np.ndarray else xp_of(arrs[0])
    if len(arrs) == 2:
        r = _pair(xp, arrs[0], ins[0], arrs[1], ins[1], out)
    else:
        r = xp.einsum(",".join(ins) + "->" + out, *arrs, optimize=len(arrs) > 2)
        if len(arrs) == 1 and np.may_share_memory(r, arrs[0]):
            r = r.copy()
    out_t = wrap(xp.asarray(r).astype(dt.np, copy=False), dt)
    if any(o._requires_grad for o in ops):
        sizes = {}
        for s, o in zip(ins, ops):
            sizes.update(zip(s, o._data.shape))
        record(EinsumBackward0, ops, out_t, saved=ops, ins=ins, out=out, sizes=sizes)
    return out_t


def _diag_unique(xp, a, s):
    """Operand ``a`` with subscripts ``s`` reduced to unique labels (diagonals)."""
    u = "".join(dict.fromkeys(s))
    return (a, s) if u == s else (xp.einsum(s + "->" + u, a), u)


def _pair(xp, a, sa, b, sb, out):
    """Two-operand contraction as one batched GEMM (torch's sumproduct_pair)."""
    a, sa = _diag_unique(xp, a, sa)
    b, sb = _diag_unique(xp, b, sb)
    # labels of one operand that appear nowhere else are summed first
    only_a = [i for i, c in enumerate(sa) if c not in sb and c not in out]
    if only_a:
        a = a.sum(axis=tuple(only_a))
        sa = "".join(c for i, c in enumerate(sa) if i not in only_a)
    only_b = [i for i, c in enumerate(sb) if c not in sa and c not in out]
    if only_b:
        b = b.sum(axis=tuple(only_b))
        sb = "".join(c for i, c in enumerate(sb) if i not in only_b)
    batch = [c for c in out if c in sa and c in sb]
    lf = [c for c in out if c in sa and c not in sb]
    rf = [c for c in out if c in sb and c not in sa]
    con = [c for c in sa if c in sb and c not in out]
    size = dict(zip(sa, a.shape))
    size.update(zip(sb, b.shape))
    pa = [sa.index(c) for c in batch + lf + con]
    pb = [sb.index(c) for c in batch + con + rf]
    if pa != sorted(pa):
        a = a.transpose(pa)
    if pb != sorted(pb):
        b = b.transpose(pb)
    nb = _prod(size[c] for c in batch)
    nl = _prod(size[c] for c in lf)
    nr = _prod(size[c] for c in rf)
    nc = _prod(size[c] for c in con)
    with gemm_threads(nb * nl * nc * nr):
        if batch:
            r = xp.matmul(a.reshape(nb, nl, nc), b.reshape(nb, nc, nr))
        else:
            r = xp.matmul(a.reshape(nl, nc), b.reshape(nc, nr))
    order = batch + lf + rf
    r = r.reshape([size[c] for c in order])
    perm = [order.index(c) for c in out]
    return r.transpose(perm) if perm != sorted(perm) else r


def _prod(it):
    p = 1
    for v in it:
        p *= v
    return p
