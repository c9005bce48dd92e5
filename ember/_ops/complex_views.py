"""``view_as_real`` / ``view_as_complex``: the two views between a complex
tensor and its (..., 2) real pairs. Both share memory with their input, as in
PyTorch (ember has no lazy conjugate bit, so no tensor is refused for one)."""
from .. import _dtype as D
from .._backend import xp_of
from ._core import FUNCTIONS, export, node, record

ViewAsRealBackward0 = node("ViewAsRealBackward0",
                           lambda ctx, g: FUNCTIONS["complex"](g[..., 0], g[..., 1]))
ViewAsComplexBackward0 = node("ViewAsComplexBackward0", lambda ctx, g: view_as_real(g))


@export(method=False)
def view_as_real(input):
    if not input._dtype.is_complex:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    from .shape import make_view
    a = input._data
    r = a.real  # a view with the complex strides, at the real parts
    v = xp_of(a).lib.stride_tricks.as_strided(r, shape=a.shape + (2,),
                                               strides=a.strides + (r.itemsize,))
    out = make_view(input, v, view_as_real)
    out._dtype = input._dtype.to_real()
    record(ViewAsRealBackward0, (input,), out)
    return out


@export(method=False)
def view_as_complex(input):
    dt = input._dtype
    if dt not in (D.float32, D.float64):
        from ._core import _legacy_name
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of scalar type: {_legacy_name(dt)}")
    a = input._data
    if a.ndim == 0 or a.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    isz = a.itemsize
    if a.strides[-1] != isz:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % (2 * isz) for s, n in zip(a.strides[:-1], a.shape[:-1]) if n > 1):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    from .shape import make_view
    cdt = dt.to_complex()
    out = make_view(input, a.view(cdt.np)[..., 0], view_as_complex)
    out._dtype = cdt
    record(ViewAsComplexBackward0, (input,), out)
    return out
