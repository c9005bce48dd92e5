"""ember dtypes and PyTorch's type-promotion rules.

A dtype wraps the NumPy dtype that stores it (bfloat16 comes from
``ml_dtypes``). Promotion follows PyTorch, not NumPy: an integer combined with
a float gives that float (``int16 + float16 -> float16``), ``bfloat16 + float16
-> float32``, and Python scalars / 0-dim tensors only raise the result's
*category* (bool < integer < floating < complex), never its width.
"""
import builtins

import ml_dtypes
import numpy as np

__all__ = [
    "dtype", "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
    "float32", "float64", "complex64", "complex128", "half", "float", "double", "short",
    "int", "long", "cfloat", "cdouble", "chalf", "uint16", "uint32", "uint64",
    "get_default_dtype", "set_default_dtype", "promote_types", "finfo", "iinfo", "can_cast",
]


class dtype:
    """A tensor element type (``ember.float32`` ...). Compared by identity."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_complex", "is_signed",
                 "_cat", "_rank", "__weakref__")

    def __init__(self, name, np_dtype, cat, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self._cat = cat          # 0 bool, 1 integer, 2 floating, 3 complex
        self._rank = rank        # width order inside the category
        self.is_floating_point = cat == 2
        self.is_complex = cat == 3
        self.is_signed = not (cat == 0 or name.startswith("uint"))

    def __repr__(self):
        return "torch." + self.name if _REPR_AS_TORCH else "ember." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_real(self):
        return {"complex64": float32, "complex128": float64}.get(self.name, self)

    def to_complex(self):
        return {"float64": complex128, "complex128": complex128}.get(self.name, complex64)


# PyTorch users read ``torch.float32`` in reprs; printing ``ember.float32`` would
# make output differ for `import ember as torch` programs. Keep PyTorch's text.
_REPR_AS_TORCH = True

bool = dtype("bool", np.bool_, 0, 0)
uint8 = dtype("uint8", np.uint8, 1, 1)
int8 = dtype("int8", np.int8, 1, 0)
int16 = dtype("int16", np.int16, 1, 2)
int32 = dtype("int32", np.int32, 1, 3)
int64 = dtype("int64", np.int64, 1, 4)
uint16 = dtype("uint16", np.uint16, 1, 5)
uint32 = dtype("uint32", np.uint32, 1, 6)
uint64 = dtype("uint64", np.uint64, 1, 7)
float16 = dtype("float16", np.float16, 2, 0)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, 2, 0)
float32 = dtype("float32", np.float32, 2, 1)
float64 = dtype("float64", np.float64, 2, 2)
complex64 = dtype("complex64", np.complex64, 3, 1)
complex128 = dtype("complex128", np.complex128, 3, 2)
chalf = complex32 = None  # not supported: NumPy has no complex32

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
cfloat, cdouble = complex64, complex128

ALL = (bool, uint8, int8, int16, int32, int64, uint16, uint32, uint64, float16, bfloat16,
       float32, float64, complex64, complex128)
_BY_NAME = {d.name: d for d in ALL}
_FROM_NP = {d.np: d for d in ALL}


# PyTorch's legacy scalar-type names ("Float" in torch.FloatTensor / FloatStorage
# and in error messages such as "result type Float can't be cast ...").
LEGACY_NAMES = {
    "float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
    "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
    "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble",
}


def legacy_name(dt):
    return LEGACY_NAMES.get(dt.name, dt.name)


def _dtype_by_name(name):
    return _BY_NAME[name]


def from_numpy_dtype(npd):
    """The ember dtype stored as NumPy dtype ``npd`` (TypeError if none)."""
    try:
        return _FROM_NP[npd]
    except KeyError:
        d = _FROM_NP.get(np.dtype(npd))
        if d is None:
            raise TypeError(
                f"can't convert np.ndarray of type {np.dtype(npd)}. The only supported types "
                "are: float64, float32, float16, bfloat16, complex64, complex128, int64, "
                "int32, int16, int8, uint8, and bool.") from None
        return d


_default = float32


def get_default_dtype():
    return _default


def set_default_dtype(d):
    global _default
    if not isinstance(d, dtype) or not d.is_floating_point or d is bfloat16:
        if not (isinstance(d, dtype) and d.is_floating_point):
            raise TypeError(f"only floating-point types are supported as the default type, "
                            f"got {d}")
    _default = d


def default_complex():
    return complex128 if _default is float64 else complex64


def _promote_int(a, b):
    # NumPy's integer promotion matches PyTorch's (uint8 + int8 -> int16).
    return _FROM_NP[np.promote_types(a.np, b.np)]


def promote_types(a, b):
    """PyTorch's ``promote_types`` table."""
    if a is b:
        return a
    ca, cb = a._cat, b._cat
    if ca != cb:
        if ca < cb:
            a, b, ca, cb = b, a, cb, ca
        # a is now the higher category.
        if ca == 3 and cb == 2:
            return complex128 if (a is complex128 or b is float64) else complex64
        return a
    if ca == 0:
        return a
    if ca == 1:
        return _promote_int(a, b)
    if a._rank == b._rank:  # float16 vs bfloat16
        return float32
    return a if a._rank > b._rank else b


def _combine_categories(higher, lower):
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher._cat == 3:
        return higher
    if lower._cat == 3:
        return higher.to_complex() if higher._cat == 2 else lower
    if higher._cat == 2:
        return higher
    if higher is bool or lower._cat == 2:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(v):
    """dtype a Python scalar takes when it stands alone (``ember.tensor(v)``)."""
    t = type(v)
    if t is builtins.bool or t is np.bool_:
        return bool
    if t is builtins.int:
        return int64
    if t is builtins.float:
        return _default
    if t is builtins.complex:
        return default_complex()
    if isinstance(v, np.generic):
        return from_numpy_dtype(v.dtype)
    raise TypeError(f"unsupported scalar type {t.__name__}")


def result_type_of(operands):
    """PyTorch's ``result_type`` over tensors and Python scalars.

    Dimensioned tensors decide first, then 0-dim tensors, then scalars; a lower
    tier only matters when it belongs to a higher category.
    """
    dim = zero = wrapped = None
    for o in operands:
        d = getattr(o, "dtype", None)
        if isinstance(d, dtype):
            if o.ndim:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        elif o is not None:
            d = scalar_dtype(o)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    return _combine_categories(dim, _combine_categories(zero, wrapped))


def can_cast(from_, to):
    """PyTorch's same-kind casting rule (used for in-place and out= results)."""
    return from_._cat <= to._cat


class finfo:
    """Machine limits of a floating dtype (fields as ``torch.finfo``)."""

    def __init__(self, type=None):
        type = _default if type is None else type
        if not (type.is_floating_point or type.is_complex):
            raise TypeError(f"torch.finfo() requires a floating point input type. Use "
                            f"torch.iinfo to handle '{type}'")
        fi = ml_dtypes.finfo(type.to_real().np)
        self.dtype = type.to_real().name
        self.bits = fi.bits
        self.eps = builtins.float(fi.eps)
        self.max = builtins.float(fi.max)
        self.min = builtins.float(fi.min)
        self.tiny = self.smallest_normal = builtins.float(fi.tiny)
        self.resolution = builtins.float(fi.resolution)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.tiny}, tiny={self.tiny}, "
                f"dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype (fields as ``torch.iinfo``)."""

    def __init__(self, type):
        if type.is_floating_point or type.is_complex:
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo "
                            f"to handle '{type}'")
        ii = np.iinfo(type.np) if type is not bool else None
        self.dtype = type.name
        self.bits = type.itemsize * 8
        self.max = 1 if ii is None else builtins.int(ii.max)
        self.min = 0 if ii is None else builtins.int(ii.min)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
