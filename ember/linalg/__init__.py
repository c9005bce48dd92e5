"""``ember.linalg``: PyTorch's ``torch.linalg`` namespace. The ops live in
``ember/_ops/linalg.py`` (and ``blas.py`` for ``multi_dot``)."""
from .._ops import FUNCTIONS as _F
from .._ops.blas import multi_dot
from .._ops.linalg import (
    LinAlgError,
    cholesky_ex,
    cond,
    eig,
    eigh,
    eigvals,
    eigvalsh,
    householder_product,
    inv,
    inv_ex,
    lstsq,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    matrix_exp,
    matrix_norm,
    matrix_power,
    matrix_rank,
    pinv,
    solve,
    solve_ex,
    solve_triangular,
    svdvals,
    tensorinv,
    tensorsolve,
    vecdot,
    vector_norm,
)
from .._ops.linalg import det_ as det
from .._ops.linalg import linalg_cholesky as cholesky
from .._ops.linalg import linalg_cross as cross
from .._ops.linalg import linalg_lu as lu
from .._ops.linalg import linalg_norm as norm
from .._ops.linalg import linalg_qr as qr
from .._ops.linalg import linalg_slogdet as slogdet
from .._ops.linalg import linalg_svd as svd
from .._ops.linalg import linalg_vander as vander

matmul = _F["matmul"]


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return _F["diagonal"](A, offset, dim1, dim2)


__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig",
           "eigh", "eigvals", "eigvalsh", "householder_product", "inv", "inv_ex", "lstsq", "lu",
           "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm",
           "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve",
           "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve",
           "vander", "vecdot", "vector_norm"]
