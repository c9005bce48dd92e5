"""Tensor creation: ``tensor``, ``zeros``/``ones``/``full``/``empty`` (+ ``_like``
and ``new_*``), ``arange``, ``linspace``, ``logspace``, ``eye``, index helpers."""
import builtins
import math

import numpy as np

from .. import _dtype as D
from .._backend import canonical, to_device, to_host, xp_for, xp_of
from .._tensor import Tensor, _wrap
from ._core import FUNCTIONS, METHODS, as_tensor_like, export, inplace, node, record, shape_arg


def _finish(arr, dt, device, requires_grad):
    dev = canonical(device)
    if dev.type != "cpu":
        arr = to_device(arr, dev)
    t = _wrap(arr, dt)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(data):
    """dtype PyTorch infers for nested Python data."""
    kinds = set()

    def walk(x):
        if isinstance(x, Tensor):
            kinds.add(x._dtype)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, np.ndarray):
            kinds.add(D.from_numpy_dtype(x.dtype))
        else:
            kinds.add(D.scalar_dtype(x))
    walk(data)
    if not kinds:
        return D.get_default_dtype()
    out = None
    for k in kinds:
        out = k if out is None else D.promote_types(out, k)
    return out


def _to_array(data, dt):
    if isinstance(data, Tensor):
        return to_host(data._data).astype(dt.np, copy=True)
    if isinstance(data, np.ndarray):
        return data.astype(dt.np, copy=True)
    if isinstance(data, (list, tuple)):
        _check_ragged(data)
        if any(isinstance(v, Tensor) for v in _flat(data)):
            data = _detach_nested(data)
    try:
        return np.array(data, dtype=dt.np)
    except OverflowError:
        raise RuntimeError(f"value cannot be converted to type {dt.name} without overflow") \
            from None


def _flat(x):
    if isinstance(x, (list, tuple)):
        for v in x:
            yield from _flat(v)
    else:
        yield x


def _detach_nested(x):
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)):
        return [_detach_nested(v) for v in x]
    return x


def _check_ragged(data, depth=0):
    if not isinstance(data, (list, tuple)) or not data:
        return
    lens = {len(v) if isinstance(v, (list, tuple)) else -1 for v in data}
    if len(lens) > 1:
        raise ValueError(f"expected sequence of length {list(lens)[0]} at dim {depth + 1} "
                         f"(got {list(lens)[1]})")
    for v in data:
        if isinstance(v, str):
            raise TypeError(f"new(): invalid data type '{type(v).__name__}'")
        _check_ragged(v, depth + 1)


@export(method=False)
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    if isinstance(data, Tensor):
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.clone().detach() or sourceTensor.clone().detach()."
                      "requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
    dt = dtype or _infer_dtype(data)
    if device is None and isinstance(data, Tensor):
        device = data.device
    return _finish(_to_array(data, dt), dt, device, requires_grad)


@export(method=False)
def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    if isinstance(data, np.ndarray):
        t = from_numpy(data)
        return t.to(device=device, dtype=dtype) if (dtype or device) else t
    return tensor(data, dtype=dtype, device=device)


@export(method=False)
def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    if copy:
        t = tensor(obj, dtype=dtype, device=device) if not isinstance(obj, Tensor) else \
            obj.to(device=device, dtype=dtype, copy=True)
    else:
        t = as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


@export(method=False)
def from_numpy(ndarray):
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dt = D.from_numpy_dtype(ndarray.dtype)
    if any(s < 0 for s in ndarray.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")
    return _wrap(ndarray, dt)


def _sized(fill):
    def f(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None):
        shape = shape_arg(size)
        for s in shape:
            if s < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                                   f"{list(shape)}")
        dt = dtype or D.get_default_dtype()
        dev = canonical(device)
        return _finish_on(fill(xp_for(dev), shape, dt.np), dt, dev, requires_grad)
    return f


def _finish_on(arr, dt, dev, requires_grad):
    t = _wrap(arr, dt)
    if requires_grad:
        t.requires_grad_(True)
    return t


zeros = export("zeros", method=False)(_sized(lambda xp, s, d: xp.zeros(s, d)))
ones = export("ones", method=False)(_sized(lambda xp, s, d: xp.ones(s, d)))
empty = export("empty", method=False)(_sized(lambda xp, s, d: xp.zeros(s, d)))


@export(method=False)
def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False):
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dt = dtype or D.scalar_dtype(fill_value)
    dev = canonical(device)
    shape = shape_arg((size,))
    return _finish_on(xp_for(dev).full(shape, fill_value, dt.np), dt, dev, requires_grad)


def _like(maker):
    def f(input, *args, dtype=None, layout=None, device=None, requires_grad=False,
          memory_format=None, pin_memory=False):
        return maker(input.shape, *args, dtype=dtype or input._dtype,
                     device=device if device is not None else input.device,
                     requires_grad=requires_grad)
    return f


for _n, _m in (("zeros", zeros), ("ones", ones), ("empty", empty), ("full", full)):
    FUNCTIONS[_n + "_like"] = _like(_m)


def _new(maker, has_fill=False):
    def f(self, *size, dtype=None, device=None, requires_grad=False, layout=None,
          pin_memory=False):
        if has_fill:
            size, fill = size[0], size[1]
            return maker(shape_arg((size,)), fill, dtype=dtype or self._dtype,
                         device=device or self.device, requires_grad=requires_grad)
        return maker(*size, dtype=dtype or self._dtype, device=device or self.device,
                     requires_grad=requires_grad)
    return f


METHODS["new_zeros"] = _new(zeros)
METHODS["new_ones"] = _new(ones)
METHODS["new_empty"] = _new(empty)
METHODS["new_full"] = _new(full, True)


@export(method=False)
def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False, **kw):
    return empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)


@export(method=False)
def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = D.int64 if builtins.all(isinstance(v, (int, np.integer)) and
                                        not isinstance(v, bool) for v in vals) \
            else D.get_default_dtype()
    n = math.ceil((end - start) / step)
    dev = canonical(device)
    xp = xp_for(dev)
    if dtype.is_floating_point:
        arr = (start + xp.arange(n, dtype=np.float64) * step).astype(dtype.np)
    else:
        arr = xp.arange(n, dtype=np.int64).astype(dtype.np) * step + start
        arr = arr.astype(dtype.np)
    return _finish_on(arr, dtype, dev, requires_grad)


@export(method=False)
def range_(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    import warnings
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    n = int(math.floor((end - start) / step)) + 1
    dt = dtype or D.get_default_dtype()
    return _finish_on(xp_for(canonical(device)).asarray(
        start + np.arange(n) * step, dtype=dt.np), dt, canonical(device), requires_grad)


FUNCTIONS["range"] = FUNCTIONS.pop("range_")


@export(method=False)
def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = dtype or D.get_default_dtype()
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    dev = canonical(device)
    arr = _linspace(start, end, steps)
    if not (dt.is_floating_point or dt.is_complex):
        arr = np.trunc(arr) if not isinstance(start, complex) else arr
    return _finish_on(xp_for(dev).asarray(arr.astype(dt.np)), dt, dev, requires_grad)


def _linspace(start, end, steps):
    # PyTorch fills the first half from start and the second half from end.
    if steps == 1:
        return np.asarray([start], dtype=np.float64 if not isinstance(start, complex)
                          else np.complex128)
    step = (end - start) / (steps - 1)
    i = np.arange(steps)
    half = steps // 2
    return np.where(i < half, start + step * i, end - step * (steps - i - 1))


@export(method=False)
def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    dt = dtype or D.get_default_dtype()
    arr = np.power(base, _linspace(start, end, steps))
    dev = canonical(device)
    return _finish_on(xp_for(dev).asarray(arr.astype(dt.np)), dt, dev, requires_grad)


@export(method=False)
def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    dt = dtype or D.get_default_dtype()
    dev = canonical(device)
    return _finish_on(xp_for(dev).eye(n, m, dtype=dt.np), dt, dev, requires_grad)


def _tri_indices(fn):
    def f(row, col, offset=0, *, dtype=D.int64, device=None, layout=None):
        r, c = fn(row, offset, col)
        dev = canonical(device)
        return _finish_on(xp_for(dev).asarray(np.stack([r, c]).astype(dtype.np)), dtype, dev,
                          False)
    return f


FUNCTIONS["tril_indices"] = _tri_indices(np.tril_indices)
FUNCTIONS["triu_indices"] = _tri_indices(np.triu_indices)


@export(method=False)
def complex(real, imag, *, out=None):
    if real._dtype is not imag._dtype:
        raise RuntimeError(f"Expected object of scalar type {real._dtype.name.capitalize()} but "
                           f"got scalar type {imag._dtype.name.capitalize()} for second argument")
    if real._dtype not in (D.float32, D.float64, D.float16):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{real._dtype.name.capitalize()} and "
                           f"{imag._dtype.name.capitalize()}")
    cdt = real._dtype.to_complex()
    j = _wrap(xp_of(real._data).asarray(1j, dtype=cdt.np), cdt)
    return real.to(cdt) + imag * j


@export(method=False)
def polar(abs, angle, *, out=None):
    return FUNCTIONS["complex"](abs * angle.cos(), abs * angle.sin())


def _legacy_new(cls, args, kwargs):
    """``torch.Tensor(...)``: ``Tensor(2, 3)`` uninitialised, ``Tensor([1, 2])``
    data, ``Tensor()`` empty; always the default dtype."""
    dt = D.get_default_dtype()
    device = kwargs.pop("device", None)
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)):
        t = tensor(args[0], dtype=dt, device=device)
    elif len(args) == 1 and isinstance(args[0], Tensor):
        return args[0]
    elif not args:
        t = zeros(0, dtype=dt, device=device)
    else:
        t = zeros(*args, dtype=dt, device=device)
    if cls is not Tensor:
        t.__class__ = cls
    return t


for _dn, _dt in (("FloatTensor", D.float32), ("DoubleTensor", D.float64),
                 ("LongTensor", D.int64), ("IntTensor", D.int32), ("BoolTensor", D.bool),
                 ("ByteTensor", D.uint8), ("HalfTensor", D.float16),
                 ("BFloat16Tensor", D.bfloat16), ("ShortTensor", D.int16),
                 ("CharTensor", D.int8)):
    def _legacy_ctor(*args, _dt=_dt, device=None):
        if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)):
            return tensor(args[0], dtype=_dt, device=device)
        return zeros(*args, dtype=_dt, device=device)
    _legacy_ctor.__name__ = _dn
    FUNCTIONS[_dn] = _legacy_ctor




def _fill_backward(ctx, g):
    return g * 0, (g.sum() if ctx.needs_input_grad[1] else None)


FillBackward0 = node("FillBackward0", _fill_backward)


def _filled(self, value):
    if isinstance(value, Tensor) and value.dim() != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.dim()} dimensions.")
    v = value if isinstance(value, Tensor) else as_tensor_like(value, self)
    xp = xp_of(self._data)
    out = _wrap(xp.full(self._data.shape, v._data, dtype=self._data.dtype), self._dtype)
    record(FillBackward0, (self, v), out)
    return out


def fill_(self, value):
    return inplace(self, _filled, value)


def zero_(self):
    return fill_(self, 0)


METHODS["fill_"] = FUNCTIONS["fill_"] = fill_
METHODS["zero_"] = FUNCTIONS["zero_"] = zero_
