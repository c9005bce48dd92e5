"""``grouped_mm`` (PyTorch 2.13): grouped GEMM for Mixture-of-Experts layers,
written as a loop of ember matmuls over the groups (so autograd, including
double backward, comes for free; PyTorch's CPU kernel has no backward for the
2-D operand cases). ``scaled_mm``/``scaled_grouped_mm`` are FP8 (quantised)
kernels and are not provided."""
from ..._dtype import bfloat16, float16, float32, int32
from ..._ops import FUNCTIONS as _F

__all__ = ["grouped_mm"]


def grouped_mm(mat_a, mat_b, *, offs=None, bias=None, out_dtype=None):
    """Grouped matrix multiply; ``offs[i]`` ends group ``i`` of the jagged
    dimension of the 2-D operand(s):

    - ``(M, K) x (G, K, N)``: rows ``offs[i-1]:offs[i]`` of ``mat_a`` times
      ``mat_b[i]``; result ``(M, N)`` (rows past ``offs[-1]`` are zero).
    - ``(G, M, K) x (K, N)``: ``mat_a[i]`` times columns ``offs[i-1]:offs[i]``;
      result ``(M, N)``.
    - ``(M, K) x (K, N)``: ``mat_a[:, s:e] @ mat_b[s:e]`` per group; result
      ``(G, M, N)``.
    - ``(G, M, K) x (G, K, N)``: batched matmul (``offs`` must be None).
    """
    if mat_a.dtype not in (float32, bfloat16, float16):
        raise RuntimeError("Expected mat_a to be Float32, BFloat16 or Float16 matrix, got "
                           f"{str(mat_a.dtype).replace('torch.', '').capitalize()}")
    if mat_b.dtype != mat_a.dtype:
        raise RuntimeError("Expected mat_a and mat_b to have the same dtype, got "
                           f"{mat_a.dtype} and {mat_b.dtype}")
    if mat_a.dim() not in (2, 3) or mat_b.dim() not in (2, 3):
        raise RuntimeError("mat_a and mat_b have to be 2 or 3d")
    if out_dtype is not None and out_dtype != mat_a.dtype and not (
            mat_a.dtype == bfloat16 and out_dtype == float32):
        raise RuntimeError("Grouped gemm output dtype must match `mat_a` dtype")
    if bias is not None:
        raise RuntimeError("Bias not supported yet")
    a_is_2d, b_is_2d = mat_a.dim() == 2, mat_b.dim() == 2
    if (offs is not None) != (a_is_2d or b_is_2d):
        raise RuntimeError("Have to provide offsets if there is a 2d matrix, or no offset if "
                           "both matrices are 3d")
    if offs is not None:
        if offs.dim() != 1:
            raise RuntimeError("offs has to be 1D")
        if offs.dtype != int32:
            raise RuntimeError("Offsets have to be int32")
    if mat_a.shape[-1] != mat_b.shape[-2]:
        raise RuntimeError("contraction dimension of mat_a and mat_b must match")
    if not a_is_2d and not b_is_2d and mat_a.shape[0] != mat_b.shape[0]:
        raise RuntimeError("matrix batch sizes have to match")
    if not a_is_2d and b_is_2d and mat_a.shape[0] != offs.shape[0]:
        raise RuntimeError("matrix batch sizes have to match")
    if a_is_2d and not b_is_2d and mat_b.shape[0] != offs.shape[0]:
        raise RuntimeError("matrix batch sizes have to match")
    acc = out_dtype if out_dtype is not None else mat_a.dtype
    a, b = mat_a.to(acc), mat_b.to(acc)
    if not a_is_2d and not b_is_2d:
        return a.matmul(b)
    ends = [int(v) for v in offs.tolist()]
    starts = [0] + ends[:-1]
    if a_is_2d and b_is_2d:                    # jagged K: one (M, N) block per group
        return _F["stack"]([a[:, s:e].matmul(b[s:e]) for s, e in zip(starts, ends)], 0)
    if a_is_2d:                                # jagged M
        pieces = [a[s:e].matmul(b[i]) for i, (s, e) in enumerate(zip(starts, ends))]
        rest = a.shape[0] - (ends[-1] if ends else 0)
        if rest > 0:
            pieces.append(a.new_zeros((rest, b.shape[-1])))
        return _F["cat"](pieces, 0)
    pieces = [a[i].matmul(b[:, s:e]) for i, (s, e) in enumerate(zip(starts, ends))]  # jagged N
    rest = b.shape[-1] - (ends[-1] if ends else 0)
    if rest > 0:
        pieces.append(a.new_zeros((a.shape[1], rest)))
    return _F["cat"](pieces, 1)
