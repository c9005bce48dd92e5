"""Linear algebra: determinants, inverses and solves, factorizations (LU,
Cholesky, QR, eigen, SVD), norms and matrix functions.

Forwards run batched on the array module's ``linalg`` (LAPACK on the CPU); LU
factorization and triangular substitution, which NumPy lacks, are written
here over the batch. Backward rules follow PyTorch's FunctionsManual and are
written with ember ops (so double backward works); decompositions carry the
usual gauge caveats that PyTorch documents (svd/eig/eigh gradients are only
defined for losses invariant to the phase of the singular/eigen vectors).
``ember.linalg`` (the package) re-exports these under PyTorch's names; the
legacy top-level names (``ember.det``, ``ember.svd`` ...) are registered here.
"""
import collections
import math
import warnings

import numpy as np

from .. import _dtype as D
from .._backend import to_host, xp_of
from .._tensor import Tensor
from ._core import FUNCTIONS, METHODS, export, inplace, node, record, wrap, wrap_dim
from ._outarg import with_out


class LinAlgError(RuntimeError):
    """``torch.linalg.LinAlgError``: a matrix was singular or not positive
    definite. A subclass of RuntimeError, as in PyTorch."""


def _rt(name, *fields):
    return collections.namedtuple(name, fields)


R_slogdet = _rt("slogdet", "sign", "logabsdet")
R_linalg_slogdet = _rt("linalg_slogdet", "sign", "logabsdet")
R_inv_ex = _rt("linalg_inv_ex", "inverse", "info")
R_solve_ex = _rt("linalg_solve_ex", "result", "info")
R_cholesky_ex = _rt("linalg_cholesky_ex", "L", "info")
R_qr = _rt("qr", "Q", "R")
R_linalg_qr = _rt("linalg_qr", "Q", "R")
R_eig = _rt("linalg_eig", "eigenvalues", "eigenvectors")
R_eigh = _rt("linalg_eigh", "eigenvalues", "eigenvectors")
R_svd = _rt("svd", "U", "S", "V")
R_linalg_svd = _rt("linalg_svd", "U", "S", "Vh")
R_lstsq = _rt("linalg_lstsq", "solution", "residuals", "rank", "singular_values")
R_lu = _rt("linalg_lu", "P", "L", "U")
R_lu_factor = _rt("linalg_lu_factor", "LU", "pivots")
R_lu_factor_ex = _rt("linalg_lu_factor_ex", "LU", "pivots", "info")
R_lu_unpack = _rt("lu_unpack", "P", "L", "U")
R_triangular_solve = _rt("triangular_solve", "solution", "cloned_coefficient")


# ---------------------------------------------------------------------------
# Checks and small tensor helpers (ember ops, so they are differentiable)
# ---------------------------------------------------------------------------

def _check(A, name, square=True, min_dim=2, arg="A"):
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(A).__name__}")
    dt = A._dtype
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {_legacy(dt)}")
    if dt in (D.float16, D.bfloat16):
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {_legacy(dt)}")
    if A._data.ndim < min_dim:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least {min_dim} "
                           f"dimensions.")
    if square and min_dim == 2 and A._data.shape[-1] != A._data.shape[-2]:
        raise RuntimeError(f"{name}: {arg} must be batches of square matrices, but they are "
                           f"{A._data.shape[-2]} by {A._data.shape[-1]} matrices")


def _legacy(dt):
    from ._core import _legacy_name
    return _legacy_name(dt)


def _same_dtype(A, B, name):
    if A._dtype is not B._dtype:
        raise RuntimeError(f"{name}: Expected A and B to have the same dtype, but found A of "
                           f"type {_legacy(A._dtype)} and B of type {_legacy(B._dtype)} instead")


def _xp(t):
    a = t._data if isinstance(t, Tensor) else t
    return np if type(a) is np.ndarray else xp_of(a)


def _const(arr, like):
    """A constant tensor from array ``arr`` in ``like``'s dtype."""
    return wrap(arr.astype(like._data.dtype, copy=False), like._dtype)


def tril(x, k=0):
    return x.tril(k)


def triu(x, k=0):
    return x.triu(k)


def diag_embed(v):
    return FUNCTIONS["diag_embed"](v)


def _diag(x):
    return x.diagonal(0, -2, -1)


def _eye(n, like, m=None):
    return _const(_xp(like).eye(n, m if m is not None else n), like)


def _cj(t):
    return t.conj() if t._dtype.is_complex else t


def _abs2(t):
    """|t|^2 with a real dtype."""
    return (t * t.conj()).real if t._dtype.is_complex else t * t


def _real_dtype(dt):
    return dt.to_real() if dt.is_complex else dt


def _batch_info(infos, name, msg):
    """Raise LinAlgError for the first nonzero LAPACK-style ``info``."""
    flat = to_host(infos).reshape(-1)
    bad = np.nonzero(flat)[0]
    if bad.size:
        b = int(bad[0])
        pre = f"{name}: (Batch element {b}): " if np.ndim(infos) else f"{name}: "
        raise LinAlgError(pre + msg.format(int(flat[b])))


# ---------------------------------------------------------------------------
# LU factorization with partial pivoting (LAPACK getrf semantics), batched
# ---------------------------------------------------------------------------

def _lu_arrays(a):
    """(LU, pivots (1-based int32), info) of ``a[..., m, n]``."""
    xp = _xp(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    lu = a.reshape((-1, m, n)).copy()
    nb = lu.shape[0]
    piv = xp.zeros((nb, k), dtype=np.int32)
    info = xp.zeros(nb, dtype=np.int32)
    rows = xp.arange(nb)
    for j in range(k):
        col = lu[:, j:, j]
        mag = xp.abs(col.real) + xp.abs(col.imag) if col.dtype.kind == "c" else xp.abs(col)
        p = xp.argmax(mag, axis=1) + j if m - j else xp.full(nb, j)
        piv[:, j] = p + 1
        swap = p != j
        if swap.any():
            rj = lu[rows, j].copy()
            lu[rows, j] = lu[rows, p]
            lu[rows, p] = rj
        d = lu[:, j, j]
        zero = d == 0
        info = xp.where((info == 0) & zero, j + 1, info)
        if j + 1 < m:
            l = lu[:, j + 1:, j] / xp.where(zero, 1, d)[:, None]
            l = xp.where(zero[:, None], lu[:, j + 1:, j], l)
            lu[:, j + 1:, j] = l
            if j + 1 < n:
                lu[:, j + 1:, j + 1:] -= l[:, :, None] * lu[:, j, None, j + 1:]
    return (lu.reshape(a.shape), piv.reshape(batch + (k,)).astype(np.int32),
            info.reshape(batch).astype(np.int32))


def _perm_from_pivots(piv, m):
    """Row permutation ``perm`` with ``A[perm] = L @ U`` from 1-based pivots."""
    xp = _xp(piv)
    batch = piv.shape[:-1]
    k = piv.shape[-1]
    p = piv.reshape(-1, k).astype(np.int64) - 1
    nb = p.shape[0]
    perm = xp.broadcast_to(xp.arange(m), (nb, m)).copy()
    rows = xp.arange(nb)
    for j in range(k):
        pj = p[:, j]
        a = perm[rows, j].copy()
        perm[rows, j] = perm[rows, pj]
        perm[rows, pj] = a
    return perm.reshape(batch + (m,))


def _perm_matrix(perm, like):
    """P with ``A = P @ L @ U`` (``P[perm[i], i] = 1``), in ``like``'s dtype."""
    xp = _xp(like)
    m = perm.shape[-1]
    eye = xp.eye(m, dtype=like._data.dtype)
    return wrap(xp.swapaxes(eye[perm], -1, -2).copy(), like._dtype)


def _singular_info(a):
    return _lu_arrays(a)[2]


# ---------------------------------------------------------------------------
# det, slogdet, logdet
# ---------------------------------------------------------------------------

def _det_backward(ctx, g):
    A, det = ctx.saved_tensors
    if not ctx.needs_input_grad[0]:
        return (None,)
    if bool((det._data != 0).all()):
        return (g * det.conj()).unsqueeze(-1).unsqueeze(-1) * inv(A).mH
    # singular: the cofactor matrix, through the SVD (PyTorch returns zeros here)
    U, S, Vh = linalg_svd(A)
    alpha = (det_(U) * det_(Vh)).conj() * g
    n = S.shape[-1]
    others = FUNCTIONS["where"](wrap(_xp(S).eye(n, dtype=bool), D.bool),
                                S.new_ones(()), S.unsqueeze(-2).expand(*S.shape[:-1], n, n))
    cof = others.prod(-1)
    return (U * (alpha.unsqueeze(-1) * cof).unsqueeze(-2)) @ Vh


LinalgDetBackward0 = node("LinalgDetBackward0", _det_backward)


@export("det")
def det_(A):
    _check(A, "linalg.det")
    a = A._data
    xp = _xp(a)
    out = wrap(xp.asarray(xp.linalg.det(a)).astype(a.dtype, copy=False), A._dtype)
    record(LinalgDetBackward0, (A,), out, saved=(A,), saved_out=True)
    return out


def _slogdet_backward(ctx, gsign, glogabs):
    A, sign = ctx.saved_tensors
    g = glogabs
    if A._dtype.is_complex:
        g = g + 1j * (gsign * sign.conj()).imag
    return (g.unsqueeze(-1).unsqueeze(-1) * inv(A).mH,)


LinalgSlogdetBackward0 = node("LinalgSlogdetBackward0", _slogdet_backward)


def _slogdet(A, rtype, name):
    _check(A, name)
    a = A._data
    xp = _xp(a)
    s, l = xp.linalg.slogdet(a)
    sign = wrap(xp.asarray(s).astype(a.dtype, copy=False), A._dtype)
    logabs = wrap(xp.asarray(l).astype(a.real.dtype, copy=False), _real_dtype(A._dtype))
    record(LinalgSlogdetBackward0, (A,), (sign, logabs), saved=(A, sign))
    return rtype(sign, logabs)


def linalg_slogdet(A):
    return _slogdet(A, R_linalg_slogdet, "linalg.slogdet")


@export()
def slogdet(input):
    return _slogdet(input, R_slogdet, "linalg.slogdet")


@export()
def logdet(input):
    sign, logabs = _slogdet(input, R_slogdet, "linalg.slogdet")
    if input._dtype.is_complex:
        return logabs + sign.log()
    return FUNCTIONS["where"](sign < 0, logabs.new_full((), math.nan), logabs)


# ---------------------------------------------------------------------------
# inverses and solves
# ---------------------------------------------------------------------------

def _inv_backward(ctx, g):
    (Ainv,) = ctx.saved_tensors
    AinvH = Ainv.mH
    return (-(AinvH @ g @ AinvH),)


LinalgInvExBackward0 = node("LinalgInvExBackward0", _inv_backward)


def _inv_arrays(a):
    """(inverse, info): singular matrices give info > 0 and non-finite values."""
    xp = _xp(a)
    try:
        return xp.linalg.inv(a), xp.zeros(a.shape[:-2], dtype=np.int32)
    except np.linalg.LinAlgError:
        pass
    info = _singular_info(a)
    flat = a.reshape((-1,) + a.shape[-2:])
    out = xp.full_like(flat, np.nan)  # LAPACK leaves non-finite values for singular ones
    for i, bad in enumerate(info.reshape(-1)):
        if not bad:
            out[i] = xp.linalg.inv(flat[i])
    return out.reshape(a.shape), info


def _inv_ex(A, check_errors, name):
    _check(A, name)
    inv_a, info = _inv_arrays(A._data)
    if check_errors:
        _batch_info(info, name, "The diagonal element {} is zero, the inversion could not be "
                    "completed because the input matrix is singular.")
    out = wrap(inv_a.astype(A._data.dtype, copy=False), A._dtype)
    record(LinalgInvExBackward0, (A,), out, saved_out=True)
    return out, wrap(info, D.int32)


@with_out
def inv_ex(A, *, check_errors=False):
    return R_inv_ex(*_inv_ex(A, check_errors, "linalg.inv_ex"))


@with_out
def inv(A):
    return _inv_ex(A, True, "linalg.inv")[0]


@export()
def inverse(input):
    return _inv_ex(input, True, "inverse")[0]


def _is_vector_rhs(A, B):
    return B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def _solve_backward(ctx, g):
    A, X = ctx.saved_tensors
    gA = gB = None
    vec = ctx.vector
    gB = solve(A.mH, g)
    if ctx.needs_input_grad[0]:
        if vec:
            gA = -(gB.unsqueeze(-1) * X.conj().unsqueeze(-2))
        else:
            gA = -(gB @ X.mH)
    return gA, (gB if ctx.needs_input_grad[1] else None)


LinalgSolveExBackward0 = node("LinalgSolveExBackward0", _solve_backward)


def _incompatible_shapes(name, a, b_shape, equation="AX = B"):
    """The error for an ``A`` (array ``a``) and ``B`` (trailing dims ``b_shape``) that do not
    fit ``equation``."""
    return RuntimeError(f"{name}: Incompatible shapes of A and B for the equation {equation} "
                        f"({a.shape[-2]}x{a.shape[-1]} and "
                        f"{'x'.join(str(s) for s in b_shape)})")


def _solve_ex(A, B, left, check_errors, name):
    _check(A, name)
    if not isinstance(B, Tensor):
        raise TypeError(f"{name}(): argument 'B' must be Tensor")
    _same_dtype(A, B, name)
    if not left:
        if _is_vector_rhs(A, B):
            raise RuntimeError(f"{name}: Vector broadcasting of the left hand side is not "
                               "supported for left=False. In this case linalg.solve is "
                               "equivalent to B / A.squeeze(-1)")
        X, info = _solve_ex(A.mT, B.mT, True, check_errors, name)
        return X.mT, info
    vec = _is_vector_rhs(A, B)
    a, b = A._data, B._data
    n = a.shape[-1]
    if (b.shape[-1] if vec else b.shape[-2]) != n:
        raise _incompatible_shapes(name, a, b.shape[-1:] if vec else b.shape[-2:])
    xp = _xp(a)
    bm = b[..., None] if vec else b
    try:
        x = xp.linalg.solve(a, bm)
        info = xp.zeros(np.broadcast_shapes(a.shape[:-2], bm.shape[:-2]), dtype=np.int32)
    except np.linalg.LinAlgError:
        info = xp.broadcast_to(_singular_info(a), np.broadcast_shapes(a.shape[:-2],
                                                                      bm.shape[:-2]))
        if check_errors:
            raise LinAlgError(f"torch.{name}: The solver failed because the input matrix is "
                              "singular.") from None
        inv_a, _ = _inv_arrays(a)
        with np.errstate(all="ignore"):
            x = xp.matmul(inv_a, bm)
    if vec:
        x = x[..., 0]
    out = wrap(x.astype(a.dtype, copy=False), A._dtype)
    record(LinalgSolveExBackward0, (A, B), out, saved=(A,), saved_out=True, vector=vec)
    return out, wrap(info.copy(), D.int32)


@with_out
def solve(A, B, *, left=True):
    return _solve_ex(A, B, left, True, "linalg.solve")[0]


@with_out
def solve_ex(A, B, *, left=True, check_errors=False):
    return R_solve_ex(*_solve_ex(A, B, left, check_errors, "linalg.solve_ex"))


def _trsm(a, b, upper, unit):
    """Solves ``a x = b`` with ``a`` triangular (batched, broadcasting)."""
    xp = _xp(a)
    n = a.shape[-1]
    mask = xp.tri(n, n, -1 if unit else 0, dtype=bool)
    if upper:
        mask = mask.T
    t = xp.where(mask, a, 0).astype(a.dtype, copy=False)
    if unit:
        t = t + xp.eye(n, dtype=a.dtype)
    try:
        return xp.linalg.solve(t, b)
    except np.linalg.LinAlgError:
        pass
    # a zero on the diagonal: substitute row by row (gives inf/nan like LAPACK)
    shape = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
    t = xp.broadcast_to(t, shape + t.shape[-2:])
    x = xp.broadcast_to(b, shape + b.shape[-2:]).astype(np.result_type(t, b)).copy()
    order = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(all="ignore"):
        for i in order:
            if upper:
                s = x[..., i, :] - (t[..., i, i + 1:, None] * x[..., i + 1:, :]).sum(-2)
            else:
                s = x[..., i, :] - (t[..., i, :i, None] * x[..., :i, :]).sum(-2)
            x[..., i, :] = s / t[..., i, i, None]
    return x


def _solve_triangular_backward(ctx, g):
    A, X = ctx.saved_tensors
    upper, left, unit = ctx.upper, ctx.left, ctx.unit
    gB = solve_triangular(A.mH, g, upper=not upper, left=left, unitriangular=unit)
    gA = None
    if ctx.needs_input_grad[0]:
        gA = -(gB @ X.mH) if left else -(X.mH @ gB)
        gA = triu(gA, 1 if unit else 0) if upper else tril(gA, -1 if unit else 0)
    return gA, (gB if ctx.needs_input_grad[1] else None)


LinalgSolveTriangularBackward0 = node("LinalgSolveTriangularBackward0",
                                      _solve_triangular_backward)


@with_out
def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    name = "linalg.solve_triangular"
    _check(A, name)
    _same_dtype(A, B, name)
    if B.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor B must have at least 2 dimensions.")
    a, b = A._data, B._data
    n = a.shape[-1]
    if (b.shape[-2] if left else b.shape[-1]) != n:
        raise _incompatible_shapes(name, a, b.shape[-2:], "AX = B" if left else "XA = B")
    if left:
        x = _trsm(a, b, upper, unitriangular)
    else:  # X A = B  <=>  A^T X^T = B^T
        x = np.swapaxes(_trsm(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2), not upper,
                              unitriangular), -1, -2)
    out_t = wrap(_xp(a).ascontiguousarray(x).astype(a.dtype, copy=False), A._dtype)
    record(LinalgSolveTriangularBackward0, (A, B), out_t, saved=(A,), saved_out=True,
           upper=upper, left=left, unit=unitriangular)
    return out_t


@export()
def triangular_solve(input, A, upper=True, transpose=False, unitriangular=False):
    B = input
    if B.dim() < 2 or A.dim() < 2:
        raise RuntimeError(f"torch.triangular_solve: Expected b to have at least 2 dimensions, "
                           f"but it has {B.dim()} dimensions instead" if B.dim() < 2 else
                           f"torch.triangular_solve: Expected A to have at least 2 dimensions, "
                           f"but it has {A.dim()} dimensions instead")
    shape = tuple(np.broadcast_shapes(tuple(B.shape[:-2]), tuple(A.shape[:-2])))
    Ab = A.expand(*shape, *A.shape[-2:])
    Bb = B.expand(*shape, *B.shape[-2:])
    M = Ab.mT if transpose else Ab
    X = solve_triangular(M, Bb, upper=upper != transpose, unitriangular=unitriangular)
    return R_triangular_solve(X, Ab.clone())


# ---------------------------------------------------------------------------
# Cholesky
# ---------------------------------------------------------------------------

def _cholesky_backward(ctx, gL, ginfo=None):
    (L,) = ctx.saved_tensors
    if ctx.upper:
        L, gL = L.mH, gL.mH
    gA = tril(L.mH @ gL)
    gA = 0.5 * (gA + tril(gA, -1).mH)
    gA = solve_triangular(L.mH, gA, upper=True, left=True)
    gA = solve_triangular(L, gA, upper=False, left=False)
    return (gA,)


LinalgCholeskyExBackward0 = node("LinalgCholeskyExBackward0", _cholesky_backward)


def _cholesky_ex(A, upper, check_errors, name):
    _check(A, name)
    a = A._data
    xp = _xp(a)
    try:
        l = xp.linalg.cholesky(a)
        info = xp.zeros(a.shape[:-2], dtype=np.int32)
    except np.linalg.LinAlgError:
        info = _cholesky_info(a)
        if check_errors:
            _batch_info(info, name, "The factorization could not be completed because the "
                        "input is not positive-definite (the leading minor of order {} is not "
                        "positive-definite).")
        l = _cholesky_partial(a, info)
    if upper:
        l = xp.swapaxes(l, -1, -2).conj()
    out = wrap(xp.ascontiguousarray(l).astype(a.dtype, copy=False), A._dtype)
    record(LinalgCholeskyExBackward0, (A,), out, saved_out=True, upper=upper)
    return out, wrap(info, D.int32)


def _cholesky_info(a):
    """Order of the first leading minor that is not positive definite, per matrix."""
    xp = _xp(a)
    flat = a.reshape((-1,) + a.shape[-2:])
    info = np.zeros(flat.shape[0], dtype=np.int32)
    for i, m in enumerate(flat):
        for k in range(1, m.shape[-1] + 1):
            try:
                xp.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                info[i] = k
                break
    return xp.asarray(info.reshape(a.shape[:-2]))


def _cholesky_partial(a, info):
    xp = _xp(a)
    flat = a.reshape((-1,) + a.shape[-2:])
    out = xp.zeros_like(flat)
    for i, (m, bad) in enumerate(zip(flat, np.asarray(info).reshape(-1))):
        out[i] = xp.linalg.cholesky(m) if not bad else xp.tril(m)
    return out.reshape(a.shape)


@with_out
def cholesky_ex(A, *, upper=False, check_errors=False):
    return R_cholesky_ex(*_cholesky_ex(A, upper, check_errors, "linalg.cholesky_ex"))


@with_out
def linalg_cholesky(A, *, upper=False):
    return _cholesky_ex(A, upper, True, "linalg.cholesky")[0]


@export()
def cholesky(input, upper=False):
    return _cholesky_ex(input, upper, True, "linalg.cholesky")[0]


def _cholesky_solve_arrays(b, l, upper):
    xp = _xp(l)
    lh = xp.swapaxes(l, -1, -2).conj()
    if upper:  # A = U^H U
        return _trsm(l, _trsm(lh, b, False, False), True, False)
    return _trsm(lh, _trsm(l, b, False, False), True, False)


def _cholesky_solve_backward(ctx, g):
    L, X = ctx.saved_tensors
    gB = cholesky_solve(g, L, ctx.upper)
    gL = None
    if ctx.needs_input_grad[1]:
        common = gB @ X.mH
        common = common + common.mH
        gL = -(L @ common) if ctx.upper else -(common @ L)
    return (gB if ctx.needs_input_grad[0] else None), gL


CholeskySolveBackward0 = node("CholeskySolveBackward0", _cholesky_solve_backward)


@export()
def cholesky_solve(input, input2, upper=False):
    B, L = input, input2
    _check(L, "linalg.cholesky_solve")
    _same_dtype(B, L, "linalg.cholesky_solve")
    if B.dim() < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.dim()} dimensions "
                           "instead")
    x = _cholesky_solve_arrays(B._data, L._data, upper)
    out = wrap(_xp(x).ascontiguousarray(x).astype(B._data.dtype, copy=False), B._dtype)
    record(CholeskySolveBackward0, (B, L), out, saved=(L,), saved_out=True, upper=upper)
    return out


def _cholesky_inverse_backward(ctx, g):
    L, Ainv = ctx.saved_tensors
    common = Ainv @ (g + g.mH) @ Ainv
    return (-(L @ common) if ctx.upper else -(common @ L),)


CholeskyInverseBackward0 = node("CholeskyInverseBackward0", _cholesky_inverse_backward)


@export()
def cholesky_inverse(input, upper=False):
    _check(input, "cholesky_inverse")
    l = input._data
    xp = _xp(l)
    eye = xp.broadcast_to(xp.eye(l.shape[-1], dtype=l.dtype), l.shape)
    x = _cholesky_solve_arrays(eye, l, upper)
    out = wrap(xp.ascontiguousarray(x).astype(l.dtype, copy=False), input._dtype)
    record(CholeskyInverseBackward0, (input,), out, saved=(input,), saved_out=True,
           upper=upper)
    return out


# ---------------------------------------------------------------------------
# QR
# ---------------------------------------------------------------------------

def _qr_backward(ctx, gQ, gR):
    Q, R = ctx.saved_tensors
    mode = ctx.mode
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                           "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                           "going to differentiate through linalg.qr.")
    m, n = Q.shape[-2], R.shape[-1]
    if mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                           "and nrows > ncols.")
    gA = gR @ R.mH - Q.mH @ gQ
    if m >= n:
        X = triu(gA)
        X = X + X.mH
        X = X - diag_embed(_diag(X).real * 0.5)
        gA = Q @ X + gQ
        return (solve_triangular(R.mH, gA, upper=False, left=False),)
    X = tril(gA.mH - gA)
    if X._dtype.is_complex:
        X = X - diag_embed(_diag(X).imag * 0.5j)
    gA = Q @ X
    gA = solve_triangular(R[..., :m].mH, gA, upper=False, left=False)
    gA = FUNCTIONS["cat"]([gA, gA.new_zeros(*gA.shape[:-1], n - m)], -1)
    return (gA + Q @ gR,)


LinalgQrBackward0 = node("LinalgQrBackward0", _qr_backward)


def _qr(A, mode, rtype, name):
    _check(A, name, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    a = A._data
    xp = _xp(a)
    if mode == "r":
        r = xp.linalg.qr(a, mode="r")
        q = xp.zeros((0,), dtype=a.dtype)
    else:
        q, r = xp.linalg.qr(a, mode=mode)
    Q = wrap(xp.ascontiguousarray(q).astype(a.dtype, copy=False), A._dtype)
    R = wrap(xp.ascontiguousarray(r).astype(a.dtype, copy=False), A._dtype)
    record(LinalgQrBackward0, (A,), (Q, R), saved=(Q, R), mode=mode)
    return rtype(Q, R)


@with_out
def linalg_qr(A, mode="reduced"):
    return _qr(A, mode, R_linalg_qr, "linalg.qr")


@export()
def qr(input, some=True):
    return _qr(input, "reduced" if some else "complete", R_qr, "linalg.qr")


# ---------------------------------------------------------------------------
# Eigen decompositions
# ---------------------------------------------------------------------------

def _eig_backward(ctx, gL, gV=None):
    L, V = ctx.saved_tensors
    herm = ctx.hermitian
    VH = V.mH
    if not ctx.has_vectors:  # eigvals / eigvalsh
        if herm:
            return ((V * gL.unsqueeze(-2)) @ VH,)
        return (solve(VH, gL.unsqueeze(-1) * VH),)
    VhgV = VH @ gV
    if herm:
        VhgV = 0.5 * (VhgV - VhgV.mH)
    else:
        VhgV = VhgV - VH @ (V * _diag(VhgV).real.unsqueeze(-2))
    Lc = L if herm else L.conj()
    E = Lc.unsqueeze(-2) - Lc.unsqueeze(-1)
    n = L.shape[-1]
    E = E + _eye(n, E)
    gA = VhgV / E
    gA = gA - diag_embed(_diag(gA)) + diag_embed(gL.to(gA.dtype))
    if herm:
        return (V @ gA @ VH,)
    return (solve(VH, gA @ VH),)


LinalgEighBackward0 = node("LinalgEighBackward0", _eig_backward)
LinalgEigBackward0 = node("LinalgEigBackward0", _eig_backward)


def _eigh(A, UPLO, name, vectors):
    _check(A, name)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    a = A._data
    xp = _xp(a)
    w, v = xp.linalg.eigh(a, UPLO=UPLO)
    L = wrap(w.astype(a.real.dtype, copy=False), _real_dtype(A._dtype))
    V = wrap(v.astype(a.dtype, copy=False), A._dtype)
    record(LinalgEighBackward0, (A,), (L, V) if vectors else L, saved=(L, V), hermitian=True,
           has_vectors=vectors)
    return (L, V) if vectors else L


@with_out
def eigh(A, UPLO="L"):
    return R_eigh(*_eigh(A, UPLO, "linalg.eigh", True))


@with_out
def eigvalsh(A, UPLO="L"):
    return _eigh(A, UPLO, "linalg.eigvalsh", False)


def _eig(A, name, vectors):
    _check(A, name)
    a = A._data
    xp = _xp(a)
    if not bool(xp.isfinite(a).all()):
        raise RuntimeError(f"{name}: input tensor should not contain infs or NaNs.")
    w, v = xp.linalg.eig(a)
    cdt = A._dtype.to_complex() if not A._dtype.is_complex else A._dtype
    L = wrap(xp.asarray(w).astype(cdt.np, copy=False), cdt)
    V = wrap(xp.asarray(v).astype(cdt.np, copy=False), cdt)
    record(LinalgEigBackward0, (A,), (L, V) if vectors else L, saved=(L, V), hermitian=False,
           has_vectors=vectors)
    return (L, V) if vectors else L


@with_out
def eig(A):
    return R_eig(*_eig(A, "linalg.eig", True))


@with_out
def eigvals(A):
    return _eig(A, "linalg.eigvals", False)


# ---------------------------------------------------------------------------
# SVD and what builds on it
# ---------------------------------------------------------------------------

def _svd_backward(ctx, *grads):
    U, S, Vh = ctx.saved_tensors
    if not ctx.has_vectors:
        (gS,) = grads
        m, n = U.shape[-2], Vh.shape[-1]
        if m >= n:
            return (U @ (gS.unsqueeze(-1) * Vh),)
        return ((U * gS.unsqueeze(-2)) @ Vh,)
    gU, gS, gVh = grads
    k = S.shape[-1]
    if ctx.full_matrices:
        gU, U = gU[..., :k], U[..., :k]
        gVh, Vh = gVh[..., :k, :], Vh[..., :k, :]
    m, n = U.shape[-2], Vh.shape[-1]
    UhgU = U.mH @ gU
    VhgV = Vh @ gVh.mH
    UhgU = UhgU - UhgU.mH
    VhgV = VhgV - VhgV.mH
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1)
    E = E + _eye(k, E)
    gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
    gA = gA + diag_embed(gS.to(gA.dtype))
    if U._dtype.is_complex:
        gA = gA + diag_embed(_diag(UhgU) / (2 * S))
    if m > n:
        gA = U @ gA
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - U @ (U.mH @ gUSinv)
        return (gA @ Vh,)
    if m < n:
        gA = gA @ Vh
        SinvgVh = gVh / S.unsqueeze(-1)
        gA = gA + SinvgVh - (SinvgVh @ Vh.mH) @ Vh
        return (U @ gA,)
    return (U @ gA @ Vh,)


LinalgSvdBackward0 = node("LinalgSvdBackward0", _svd_backward)


def _svd(A, full_matrices, name, vectors):
    _check(A, name, square=False)
    a = A._data
    xp = _xp(a)
    m, n = a.shape[-2:]
    if a.size == 0:
        k = min(m, n)
        u = xp.broadcast_to(xp.eye(m, m if full_matrices else k, dtype=a.dtype),
                            a.shape[:-2] + (m, m if full_matrices else k)).copy()
        s = xp.zeros(a.shape[:-2] + (k,), dtype=a.real.dtype)
        vh = xp.broadcast_to(xp.eye(n if full_matrices else k, n, dtype=a.dtype),
                             a.shape[:-2] + (n if full_matrices else k, n)).copy()
    elif vectors or A._requires_grad:
        u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices and vectors)
    else:
        s = xp.linalg.svd(a, compute_uv=False)
        u = vh = None
    S = wrap(s.astype(a.real.dtype, copy=False), _real_dtype(A._dtype))
    if u is None:
        return S
    U = wrap(u.astype(a.dtype, copy=False), A._dtype)
    Vh = wrap(vh.astype(a.dtype, copy=False), A._dtype)
    record(LinalgSvdBackward0, (A,), (U, S, Vh) if vectors else S, saved=(U, S, Vh),
           has_vectors=vectors, full_matrices=full_matrices and vectors)
    return (U, S, Vh) if vectors else S


@with_out
def linalg_svd(A, full_matrices=True, *, driver=None):
    return R_linalg_svd(*_svd(A, full_matrices, "linalg.svd", True))


@with_out
def svdvals(A, *, driver=None):
    return _svd(A, False, "linalg.svdvals", False)


@export()
def svd(input, some=True, compute_uv=True):
    if not compute_uv:
        S = _svd(input, False, "linalg.svd", False)
        m, n = input.shape[-2:]
        z = input.new_zeros
        return R_svd(z(*input.shape[:-2], m, m), S, z(*input.shape[:-2], n, n))
    U, S, Vh = _svd(input, not some, "linalg.svd", True)
    return R_svd(U, S, Vh.mH)


def _tolerances(A, atol, rtol, name):
    """PyTorch's rule: rtol defaults to eps * max(m, n) unless atol is given (> 0)."""
    if rtol is None:
        given = atol is not None and bool((atol > 0).any() if isinstance(atol, Tensor)
                                          else atol > 0)
        rtol = 0.0 if given else \
            D.finfo(_real_dtype(A._dtype)).eps * max(A.shape[-2], A.shape[-1])
    return (0.0 if atol is None else atol), rtol


def _tol(s, atol, rtol):
    """max(atol, rtol * largest singular value), tolerances possibly batched tensors."""
    xp = _xp(s)
    smax = s.max(-1, keepdims=True) if s.shape[-1] else s
    at = atol._data[..., None] if isinstance(atol, Tensor) else atol
    rt = rtol._data[..., None] if isinstance(rtol, Tensor) else rtol
    return xp.maximum(at, rt * smax)


def _pinv_backward(ctx, g):
    A, P = ctx.saved_tensors
    m, n = A.shape[-2], A.shape[-1]
    PH, gH = P.mH, g.mH
    if m <= n:
        K = gH @ P
        KPH = K @ PH
        return (-(P @ K).mH + KPH - (A @ P) @ KPH + (PH @ P) @ (gH - K @ A),)
    K = P @ gH
    PHK = PH @ K
    return (-(K @ P).mH + (gH - A @ K) @ P @ PH + PHK - PHK @ P @ A,)


LinalgPinvBackward0 = node("LinalgPinvBackward0", _pinv_backward)


@with_out
def pinv(A, *, atol=None, rtol=None, hermitian=False, rcond=None):
    if rcond is not None:
        rtol = rcond
    _check(A, "linalg.pinv", square=False)
    atol, rtol = _tolerances(A, atol, rtol, "linalg.pinv")
    a = A._data
    xp = _xp(a)
    with np.errstate(all="ignore"):
        if hermitian:
            w, v = xp.linalg.eigh(a)
            s = xp.abs(w)
            u, vh = v, xp.swapaxes(v, -1, -2).conj()
        else:
            u, s, vh = xp.linalg.svd(a, full_matrices=False)
            w = s
        tol = _tol(s, atol, rtol)
        sinv = xp.where(s > tol, 1 / xp.where(s > tol, w, 1), 0).astype(w.dtype)
        p = xp.matmul(xp.swapaxes(vh, -1, -2).conj() * sinv[..., None, :],
                      xp.swapaxes(u, -1, -2).conj())
    out_t = wrap(p.astype(a.dtype, copy=False), A._dtype)
    record(LinalgPinvBackward0, (A,), out_t, saved=(A,), saved_out=True)
    return out_t


@export()
def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


@with_out
def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None):
    if tol is not None:
        atol = tol
    _check(A, "linalg.matrix_rank", square=False)
    atol, rtol = _tolerances(A, atol, rtol, "linalg.matrix_rank")
    a = A._data
    xp = _xp(a)
    s = xp.abs(xp.linalg.eigvalsh(a)) if hermitian else xp.linalg.svd(a, compute_uv=False)
    return wrap(xp.asarray((s > _tol(s, atol, rtol)).sum(-1)).astype(np.int64), D.int64)


def lstsq(A, B, rcond=None, *, driver=None):
    name = "torch.linalg.lstsq"
    _check(A, "linalg.lstsq", square=False)
    _same_dtype(A, B, "linalg.lstsq")
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"{name}: parameter `driver` should be one of (gels, gelsy, gelsd, "
                           f"gelss)")
    vec = B.dim() == A.dim() - 1
    m, n = A.shape[-2], A.shape[-1]
    if (B.shape[-1] if vec else B.shape[-2]) != m:
        raise RuntimeError(f"{name}: input.size(-2) should match other.size(-2)" if not vec
                           else f"{name}: input.size(-2) should match other.size(-1)")
    rtol = rcond if rcond is not None and rcond > 0 else None
    P = pinv(A, rtol=rtol)
    X = (P @ B.unsqueeze(-1)).squeeze(-1) if vec else P @ B
    driver = driver or "gelsy"
    rdt = _real_dtype(A._dtype)
    rank = matrix_rank(A.detach(), rtol=rtol) if driver != "gels" else \
        wrap(_xp(A).zeros(0, dtype=np.int64), D.int64)
    # residuals (in the graph even when empty, as PyTorch's)
    resid = _abs2(X.reshape(-1)[:0])
    if driver != "gelsy" and m > n and (driver == "gels" or bool((rank._data == n).all())):
        r = A @ (X.unsqueeze(-1) if vec else X) - (B.unsqueeze(-1) if vec else B)
        resid = _abs2(r).sum(-2)
        if vec:
            resid = resid.squeeze(-1)
    sv = svdvals(A.detach()) if driver in ("gelsd", "gelss") else \
        wrap(_xp(A).zeros(0, dtype=rdt.np), rdt)
    return R_lstsq(X, resid, rank, sv)


@with_out
def cond(A, p=None):
    _check(A, "linalg.cond", square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(A)
        r = s[..., 0] / s[..., -1]
        return r if p != -2 else s[..., -1] / s[..., 0]
    Ainv, info = _inv_ex(A, False, "linalg.cond")
    out_t = matrix_norm(A, p) * matrix_norm(Ainv, p)
    if bool(info._data.any()):
        out_t = FUNCTIONS["where"](info != 0, out_t.new_full((), math.inf), out_t)
    return out_t


# ---------------------------------------------------------------------------
# LU
# ---------------------------------------------------------------------------

def _lu_factor(A, pivot, check_errors, name):
    _check(A, name, square=False)
    if not pivot:
        raise RuntimeError(f"{name}: LU without pivoting is not implemented on the CPU")
    lu, piv, info = _lu_arrays(A._data)
    if check_errors:
        _batch_info(info, name, "The factorization could not be completed because the input "
                    "is not invertible.")
    LU = wrap(lu, A._dtype)
    if A._requires_grad:
        # the gradient flows through the unpacked factors
        P, L, U = _lu_unpacked(LU.detach(), piv, A)
        record(LinalgLuFactorExBackward0, (A,), LU, saved=(L, U), perm=P)
    return LU, wrap(piv, D.int32), wrap(info, D.int32)


def _lu_factor_backward(ctx, gLU, *rest):
    L, U = ctx.saved_tensors
    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    gL = tril(gLU, -1)[..., :, :k]
    gU = triu(gLU)[..., :k, :]
    return (_lu_backward(gL, gU, ctx.perm, L, U),)


LinalgLuFactorExBackward0 = node("LinalgLuFactorExBackward0", _lu_factor_backward)


def _lu_unpacked(LU, piv, like):
    m, n = LU.shape[-2], LU.shape[-1]
    k = min(m, n)
    L = tril(LU, -1)[..., :, :k] + _eye(m, LU, k)
    U = triu(LU)[..., :k, :]
    P = _perm_matrix(_perm_from_pivots(piv, m), LU)
    return P, L, U


def _lu_backward(gL, gU, P, L, U):
    """PyTorch's linalg_lu_backward: gradient of A = P L U from gL and gU."""
    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    cat = FUNCTIONS["cat"]
    if m == n:
        gA = tril(L.mH @ gL, -1) + triu(gU @ U.mH)
        gA = solve_triangular(U.mH, gA, upper=False, left=False)
        gA = solve_triangular(L.mH, gA, upper=True, left=True, unitriangular=True)
    elif m < n:
        U1 = U[..., :, :k]
        gA = L.mH @ gL - triu(gU) @ U.mH
        gA = solve_triangular(U1.mH, tril(gA, -1), upper=False, left=False)
        gA = cat([gA + triu(gU[..., :, :k]), gU[..., :, k:]], -1)
        gA = solve_triangular(L.mH, gA, upper=True, left=True, unitriangular=True)
    else:
        L1 = L[..., :k, :]
        gA = gU @ U.mH - L.mH @ tril(gL, -1)
        gA = solve_triangular(L1.mH, triu(gA), upper=True, left=True, unitriangular=True)
        gA = cat([gA + tril(gL[..., :k, :], -1), gL[..., k:, :]], -2)
        gA = solve_triangular(U.mH, gA, upper=False, left=False)
    return P @ gA


def _lu_full_backward(ctx, gL, gU):
    L, U = ctx.saved_tensors
    return (_lu_backward(gL, gU, ctx.perm, L, U),)


LinalgLuBackward0 = node("LinalgLuBackward0", _lu_full_backward)


@with_out
def lu_factor(A, *, pivot=True):
    LU, piv, _ = _lu_factor(A, pivot, True, "torch.linalg.lu_factor")
    return R_lu_factor(LU, piv)


@with_out
def lu_factor_ex(A, *, pivot=True, check_errors=False):
    return R_lu_factor_ex(*_lu_factor(A, pivot, check_errors, "torch.linalg.lu_factor_ex"))


@with_out
def linalg_lu(A, *, pivot=True):
    _check(A, "linalg.lu", square=False)
    if not pivot:
        raise RuntimeError("linalg.lu: LU without pivoting is not implemented on the CPU")
    lu_a, piv, _ = _lu_arrays(A._data)
    LU = wrap(lu_a, A._dtype)
    from ..autograd.grad_mode import no_grad
    with no_grad():
        P, L, U = _lu_unpacked(LU, piv, A)
    L = wrap(L._data, A._dtype)
    U = wrap(U._data, A._dtype)
    record(LinalgLuBackward0, (A,), (L, U), saved=(L, U), perm=P)
    return R_lu(P, L, U)


@export(method=False)
def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    if LU_pivots.shape[-1] != k:
        raise RuntimeError(f"torch.lu_unpack: Expected LU_pivots.size(-1) to be {k}, but got "
                           f"{LU_pivots.shape[-1]}")
    P, L, U = _lu_unpacked(LU_data, LU_pivots._data, LU_data)
    z = LU_data.new_zeros(0)
    return R_lu_unpack(P if unpack_pivots else z, L if unpack_data else z,
                       U if unpack_data else z)


@with_out
def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    name = "linalg.lu_solve"
    _check(LU, name)
    _same_dtype(LU, B, name)
    if not left:  # X A = B  <=>  A^H X^H = B^H
        return lu_solve(LU, pivots, B.mH, left=True, adjoint=not adjoint).mH
    P, L, U = _lu_unpacked(LU, pivots._data, LU)
    if adjoint:  # A^H X = B with A = P L U: X = P L^-H U^-H B
        Y = solve_triangular(U.mH, B, upper=False)
        Y = solve_triangular(L.mH, Y, upper=True, unitriangular=True)
        return P @ Y
    Y = solve_triangular(L, P.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(U, Y, upper=True)


@export()
def lu(input, pivot=True, get_infos=False):
    LU, piv, info = _lu_factor(input, pivot, False, "torch.lu")
    return (LU, piv, info) if get_infos else (LU, piv)


@export("lu_solve")
def lu_solve_legacy(input, LU_data, LU_pivots):
    return lu_solve(LU_data, LU_pivots, input)


# ---------------------------------------------------------------------------
# Matrix functions
# ---------------------------------------------------------------------------

@export()
def matrix_power(input, n):
    if n < 0:
        _check(input, "linalg.matrix_power")
    if input.dim() < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {input.shape[-2] if input.dim() > 1 else 1} by "
                           f"{input.shape[-1] if input.dim() else 1} matrices")
    if n == 0:  # a copy of the identity, still in the graph (as PyTorch's)
        return input.clone().copy_(_eye(input.shape[-1], input).expand(*input.shape))
    A = inv(input) if n < 0 else input
    n = abs(n)
    if n == 1:
        return A.clone()
    result = None
    z = A
    while n:
        if n & 1:
            result = z if result is None else result @ z
        n >>= 1
        if n:
            z = z @ z
    return result


# Pade coefficients of degree 13 and the norm bound theta_13 (Higham 2005).
_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def _expm_arrays(a):
    xp = _xp(a)
    n = a.shape[-1]
    if a.size == 0:
        return a.copy()
    work = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    norm1 = xp.abs(work).sum(-2).max(-1)
    with np.errstate(all="ignore"):
        s = xp.maximum(0, xp.ceil(xp.log2(norm1 / _THETA13))).astype(np.int64)
    s = xp.where(xp.isfinite(norm1), s, 0)
    work = work / (2.0 ** s)[..., None, None]
    b = _PADE13
    ident = xp.eye(n, dtype=work.dtype)
    A2 = work @ work
    A4 = A2 @ A2
    A6 = A4 @ A2
    U = work @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 +
                b[3] * A2 + b[1] * ident)
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + \
        b[0] * ident
    r = xp.linalg.solve(V - U, V + U)
    for i in range(int(s.max()) if s.size else 0):
        sq = r @ r
        r = xp.where((s > i)[..., None, None], sq, r)
    return r.astype(a.dtype)


def _matrix_exp_backward(ctx, g):
    (A,) = ctx.saved_tensors
    n = A.shape[-1]
    cat = FUNCTIONS["cat"]
    AH = A.mH
    big = cat([cat([AH, g], -1), cat([A.new_zeros(A.shape), AH], -1)], -2)
    return (matrix_exp(big)[..., :n, n:],)


LinalgMatrixExpBackward0 = node("LinalgMatrixExpBackward0", _matrix_exp_backward)


@export()
def matrix_exp(input):
    _check(input, "linalg.matrix_exp")
    out = wrap(_expm_arrays(input._data), input._dtype)
    record(LinalgMatrixExpBackward0, (input,), out, saved=(input,))
    return out


# ---------------------------------------------------------------------------
# Products and structure: cross, vecdot, householder_product, tensorinv/solve,
# vander
# ---------------------------------------------------------------------------

def _cross_backward(ctx, g):
    a, b = ctx.saved_tensors
    d = ctx.dim
    return (linalg_cross(_cj(b), g, dim=d) if ctx.needs_input_grad[0] else None,
            linalg_cross(g, _cj(a), dim=d) if ctx.needs_input_grad[1] else None)


LinalgCrossBackward0 = node("LinalgCrossBackward0", _cross_backward)


@with_out
def linalg_cross(input, other, *, dim=-1):
    from ._core import operands
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    x, y, dt = operands(input, other)
    d = wrap_dim(dim, x.ndim)
    if x.shape[d] != 3 or y.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{x.shape[d]} and {y.shape[d]}")
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise RuntimeError(f"linalg.cross: inputs of shapes {list(x.shape)} and "
                           f"{list(y.shape)} cannot be broadcast") from None
    xp = _xp(x)
    r = xp.cross(x, y, axis=d)
    out_t = wrap(r.astype(dt.np, copy=False), dt)
    a = input if input._dtype is dt else input.to(dt)
    b = other if other._dtype is dt else other.to(dt)
    record(LinalgCrossBackward0, (a, b), out_t, saved=(a, b), dim=d)
    return out_t


@export()
def cross(input, other, dim=None):
    if dim is None:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dims = [i for i, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError("no dimension of size 3 in input")
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use "
                      "torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning,
                      stacklevel=2)
        dim = dims[0]
    return linalg_cross(input, other, dim=dim)


@with_out
def vecdot(x, y, *, dim=-1):
    if x._dtype is not y._dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found "
                           f"x of type {_legacy(x._dtype)} and y of type {_legacy(y._dtype)} "
                           "instead")
    return (_cj(x) * y).sum(dim)


@with_out
def householder_product(A, tau):
    name = "torch.linalg.householder_product"
    if A.dim() < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    m, n = A.shape[-2], A.shape[-1]
    k = tau.shape[-1]
    if m < n:
        raise RuntimeError(f"{name}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if k > n:
        raise RuntimeError(f"{name}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    _same_dtype(A, tau, name)
    cat = FUNCTIONS["cat"]
    Q = _eye(m, A, n).expand(*A.shape).clone() if A.dim() > 2 else _eye(m, A, n)
    if k == 0:  # zeros that keep the result in the graph of A and tau, as PyTorch's
        Q = Q + A[..., :0].sum(-1, keepdim=True) + tau[..., :0].sum(-1)[..., None, None]
    ones = A.new_ones(*A.shape[:-2], 1)
    # Q = H_1 H_2 ... H_k [I_n; 0], applied from the last reflector backwards
    for i in range(k - 1, -1, -1):
        parts = ([A.new_zeros(*A.shape[:-2], i)] if i else []) + [ones, A[..., i + 1:, i]]
        v = cat(parts, -1)
        t = tau[..., i]
        Q = Q - (t.unsqueeze(-1) * v).unsqueeze(-1) * (v.conj().unsqueeze(-2) @ Q)
    return Q


@export()
def orgqr(input, tau):
    return householder_product(input, tau)


@with_out
def tensorinv(A, ind=2):
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape = tuple(A.shape[ind:]) + tuple(A.shape[:ind])
    p = math.prod(A.shape[:ind])
    q = math.prod(A.shape[ind:])
    if p != q:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {q} != {p}")
    return inv(A.reshape(p, q)).reshape(*out_shape)


@with_out
def tensorsolve(A, B, dims=None):
    if dims is not None:
        nd = A.dim()
        dims = [wrap_dim(d, nd) for d in dims]
        A = A.movedim(dims, list(range(nd - len(dims), nd)))
    rest = tuple(A.shape[B.dim():])
    n = B.numel()
    if math.prod(rest) != n:
        raise RuntimeError(f"Expected self to satisfy the requirement "
                           f"prod(self.shape[other.ndim:]) == prod(self.shape[:other.ndim]), "
                           f"but got {math.prod(rest)} != {n}")
    return solve(A.reshape(n, n), B.reshape(n)).reshape(*rest)


def linalg_vander(x, *, N=None):
    if x.dim() == 0:
        x = x.unsqueeze(0)
    n = x.shape[-1] if N is None else N
    if n < 2:
        if n < 0:
            raise RuntimeError("N must be greater than 1.")
        return x.new_ones(*x.shape, n)
    if x._dtype is D.bool:
        x = x.to(D.int64)
    pw = x.unsqueeze(-1).expand(*x.shape, n - 1).cumprod(-1)
    return FUNCTIONS["cat"]([x.new_ones(*x.shape, 1).to(pw.dtype), pw], -1)


@export(method=False)
def vander(x, N=None, increasing=False):
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    if N is not None and N < 0:
        raise RuntimeError("N must be non-negative.")
    v = linalg_vander(x, N=N)
    if x._dtype is D.bool or not (x._dtype.is_floating_point or x._dtype.is_complex):
        v = v.to(D.int64)
    return v if increasing else v.flip(-1)


# ---------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------

def _unsq(t, dims):
    for d in dims:
        t = t.unsqueeze(d)
    return t


def _vector_norm_backward(ctx, g):
    x, norm = ctx.saved_tensors
    p = ctx.ord
    if not ctx.keepdim and x.dim():
        g, norm = _unsq(g, ctx.dims), _unsq(norm, ctx.dims)
    if p == 0:
        return (None,)
    if p == 1:
        return (x.sgn() * g,)
    if p == 2:
        return (g * (x / norm).masked_fill(norm == 0, 0),)
    if math.isinf(p):
        ax = x.abs()
        mask = (ax == norm) | ax.isnan()
        return (x.sgn() * ((g / mask.sum(ctx.dims, keepdim=True)) * mask),)
    if p < 1:
        scaled = x.sgn() * ax_pow(x, p - 1).masked_fill(x == 0, 0)
        return (scaled * g * norm.pow(1 - p),)
    scaled = x.sgn() * ax_pow(x, p - 1) if p < 2 else x * ax_pow(x, p - 2)
    scale = (g / norm.pow(p - 1)).masked_fill(norm == 0, 0)
    return (scaled * scale,)


def ax_pow(x, e):
    return x.abs().pow(e)


LinalgVectorNormBackward0 = node("LinalgVectorNormBackward0", _vector_norm_backward)


@with_out
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    name = "linalg.vector_norm"
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg_vector_norm(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(x).__name__}")
    if dtype is not None:
        if not (dtype.is_floating_point or dtype.is_complex):
            raise RuntimeError(f"{name}: dtype should be floating point or complex. Got "
                               f"{_legacy(dtype)} instead.")
        if x._dtype.is_complex and not dtype.is_complex:
            raise RuntimeError(f"{name}: dtype should be complex for complex inputs, but got "
                               f"{_legacy(dtype)}")
        x = x.to(dtype)
    dt = x._dtype
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {_legacy(dt)}")
    if isinstance(ord, (str, bool)) or ord is None:
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not "
                        f"{type(ord).__name__}")
    p = float(ord)
    a = x._data
    nd = a.ndim
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0 and nd == 0):
        dims = tuple(range(nd))
    else:
        dl = [dim] if isinstance(dim, int) else list(dim)
        dims = tuple(sorted(wrap_dim(d, nd) for d in dl))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
        if nd == 0:  # a 0-dim tensor accepts dim 0/-1 and has no axes to reduce
            dims = ()
    if (p < 0 or math.isinf(p)) and any(a.shape[d] == 0 for d in dims) or \
            (p < 0 or math.isinf(p)) and a.size == 0 and not dims:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                           "tensor because the operation does not have an identity")
    xp = _xp(a)
    rdt = _real_dtype(dt)
    low = rdt in (D.float16, D.bfloat16)
    ab = xp.abs(a)
    if low:
        ab = ab.astype(np.float32)
    with np.errstate(all="ignore"):
        if p == 2:
            r = xp.sqrt((ab * ab).sum(axis=dims, keepdims=keepdim))
        elif p == 1:
            r = ab.sum(axis=dims, keepdims=keepdim)
        elif p == math.inf:
            r = ab.max(axis=dims, keepdims=keepdim) if ab.size else \
                xp.zeros([s for i, s in enumerate(ab.shape) if i not in dims or keepdim],
                         ab.dtype)
        elif p == -math.inf:
            r = ab.min(axis=dims, keepdims=keepdim)
        elif p == 0:
            r = (ab != 0).sum(axis=dims, keepdims=keepdim).astype(ab.dtype)
        else:
            r = (ab ** p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)
    out_t = wrap(xp.asarray(r).astype(rdt.np, copy=False), rdt)
    record(LinalgVectorNormBackward0, (x,), out_t, saved=(x,), saved_out=True, ord=p,
           dims=dims, keepdim=keepdim)
    return out_t


@with_out
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    name = "linalg.matrix_norm"
    if A.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    dim = tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = wrap_dim(dim[0], A.dim()), wrap_dim(dim[1], A.dim())
    if d0 == d1:
        raise RuntimeError(f"{name}: dims must be different. Got ({dim[0]}, {dim[1]})")
    if dtype is not None:
        A = A.to(dtype)
    if not (A._dtype.is_floating_point or A._dtype.is_complex):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {_legacy(A._dtype)}")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord not in ("nuc", 2, -2, 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"{name}: Order {ord} not supported.")
    B = A.movedim((d0, d1), (-2, -1))
    if ord in ("nuc", 2, -2):
        s = svdvals(B)
        r = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
    else:
        if any(A.shape[d] == 0 for d in (d0, d1)):
            raise RuntimeError(f"{name}: Expected a non-empty tensor")
        red = -2 if abs(ord) == 1 else -1
        cols = vector_norm(B, 1, red)
        r = cols.amax(-1) if ord > 0 else cols.amin(-1)
    if keepdim:
        for d in sorted((d0, d1)):
            r = r.unsqueeze(d)
    return r


@with_out
def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    if dim is not None:
        dim = (dim,) if isinstance(dim, int) else tuple(dim)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if A.dim() not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.dim()}D.")
        dim = (0,) if A.dim() == 1 else (-2, -1)
    if isinstance(ord, str) or len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


@export()
def renorm(input, p, dim, maxnorm):
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.dim() <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.dim()} "
                           "dimensions")
    d = wrap_dim(dim, input.dim())
    red = tuple(i for i in range(input.dim()) if i != d)
    nrm = vector_norm(input, p, red, True)
    factor = FUNCTIONS["where"](nrm > maxnorm, maxnorm / (nrm + 1e-7), nrm.new_ones(()))
    return input * factor.to(input._dtype)


METHODS["renorm_"] = lambda self, p, dim, maxnorm: inplace(self, renorm, p, dim, maxnorm)


# ---------------------------------------------------------------------------
# Method / function registrations under PyTorch's names
# ---------------------------------------------------------------------------

for _n, _f in (("det", det_), ("logdet", logdet), ("slogdet", slogdet),
               ("matrix_exp", matrix_exp), ("matrix_power", matrix_power),
               ("cholesky_inverse", cholesky_inverse), ("cholesky_solve", cholesky_solve),
               ("cholesky", cholesky), ("qr", qr), ("svd", svd), ("pinverse", pinverse),
               ("inverse", inverse), ("triangular_solve", triangular_solve),
               ("cross", cross), ("renorm", renorm), ("orgqr", orgqr),
               ("lu", lu), ("lu_solve", lu_solve_legacy)):
    METHODS[_n] = _f
