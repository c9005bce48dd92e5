"""Devices and the array module behind each one.

``cpu`` arrays are NumPy arrays, ``cuda:N`` arrays are CuPy arrays. Ops never
import numpy or cupy themselves for computation: they ask ``xp_of(array)`` so
one definition serves every device. CuPy is imported only when a CUDA device
is first used, which keeps ``import ember`` fast.
"""
import numpy as np

__all__ = ["device"]


class device:
    """``ember.device('cpu')``, ``device('cuda', 1)``, ``device('cuda:1')``."""

    __slots__ = ("type", "index")
    _cache = {}

    def __new__(cls, type, index=None):
        if isinstance(type, device):
            return type
        key = (type, index)
        d = cls._cache.get(key)
        if d is not None:
            return d
        if isinstance(type, int):  # device(0) means cuda:0, as in PyTorch
            t, i = "cuda", type
        else:
            t, _, i = str(type).partition(":")
            if i:
                if index is not None:
                    raise RuntimeError(f"type (string) must not include an index because index "
                                       f"was passed explicitly: {type}")
                try:
                    i = int(i)
                except ValueError:
                    raise RuntimeError(f"Invalid device string: '{type}'") from None
            else:
                i = index
            if t not in ("cpu", "cuda", "meta"):
                raise RuntimeError(
                    f"Expected one of cpu, cuda, meta device type at start of device string: "
                    f"{type}")
        if i is not None and i < 0:
            raise RuntimeError(f"Device index must not be negative, got {i}")
        d = object.__new__(cls)
        d.type, d.index = t, i
        cls._cache[key] = d
        return d

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and \
            self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")
_cupy = None


class OutOfMemoryError(RuntimeError):
    """``ember.OutOfMemoryError`` (also ``ember.cuda.OutOfMemoryError``): the GPU
    memory pool cannot satisfy an allocation, even after freeing its cache."""


# Highest bytes in use in CuPy's pool, per device, since the last reset
# (ember.cuda.max_memory_allocated); updated by the allocator below.
peak_bytes = {}


def _install_allocator(cp):
    """Route CuPy's allocations through its memory pool with two additions:
    the peak of bytes in use is tracked, and running out of memory raises
    ember's OutOfMemoryError naming the requested size (CuPy's own error
    names neither PyTorch's type nor the device's state)."""
    pool = cp.get_default_memory_pool()
    cupy_oom = cp.cuda.memory.OutOfMemoryError
    malloc, used_bytes, get_device = pool.malloc, pool.used_bytes, cp.cuda.runtime.getDevice

    def allocate(size):
        try:
            mem = malloc(size)
        except cupy_oom:
            pool.free_all_blocks()
            try:
                mem = malloc(size)
            except cupy_oom:
                i = get_device()
                free, total = cp.cuda.runtime.memGetInfo()
                raise OutOfMemoryError(
                    f"CUDA out of memory. Tried to allocate {size / 2**30:.2f} GiB. GPU {i} "
                    f"has a total capacity of {total / 2**30:.2f} GiB of which "
                    f"{free / 2**30:.2f} GiB is free; {used_bytes() / 2**30:.2f} GiB is "
                    f"allocated by ember.") from None
        used = used_bytes()
        i = mem.device_id
        if used > peak_bytes.get(i, 0):
            peak_bytes[i] = used
        return mem

    cp.cuda.set_allocator(allocate)


def cupy():
    """The cupy module, imported on first use; RuntimeError if CUDA is unusable."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp
            if cp.cuda.runtime.getDeviceCount() < 1:
                raise RuntimeError("no CUDA device")
        except Exception as e:  # ImportError, CUDARuntimeError, ...
            raise RuntimeError(
                "CUDA is not available: ember needs CuPy and an NVIDIA GPU for 'cuda' "
                f"tensors ({type(e).__name__}: {e}). Install ember[cuda] on a GPU machine."
            ) from None
        _install_allocator(cp)
        _cupy = cp
    return _cupy


def canonical(dev):
    """A concrete device object: 'cuda' becomes cuda:<current>."""
    if dev is None:
        return CPU
    if not isinstance(dev, device):
        dev = device(dev)
    if dev.type == "cuda":
        cp = cupy()
        if dev.index is None:
            return device("cuda", cp.cuda.runtime.getDevice())
        if dev.index >= cp.cuda.runtime.getDeviceCount():
            raise RuntimeError(f"CUDA error: invalid device ordinal (cuda:{dev.index})")
    elif dev.type == "meta":
        raise NotImplementedError("ember has no 'meta' device")
    return dev


def xp_for(dev):
    return np if dev.type == "cpu" else cupy()


def xp_of(arr):
    """Array module of ``arr``."""
    return np if type(arr) is np.ndarray or isinstance(arr, np.generic) else cupy()


def device_of_array(arr):
    if isinstance(arr, np.ndarray):
        return CPU
    return device("cuda", arr.device.id)


def to_host(arr):
    """``arr`` as a NumPy array: itself if it is one, a copy from the GPU for a
    CuPy array, ``np.asarray`` of anything else (NumPy scalars, lists)."""
    if type(arr) is np.ndarray:
        return arr
    return arr.get() if hasattr(arr, "get") else np.asarray(arr)


def accumulate(xp, name, a, axis):
    """``xp.<name>.accumulate(a, axis)`` for an associative binary ufunc
    (maximum, minimum, logaddexp). CuPy has no ufunc.accumulate, so there it
    is a Hillis-Steele scan: log2(n) elementwise steps over shifted copies."""
    ufunc = getattr(xp, name)
    if xp is np:
        return ufunc.accumulate(a, axis=axis)
    r = xp.moveaxis(a, axis, -1)
    n, s = r.shape[-1], 1
    while s < n:
        r = xp.concatenate([r[..., :s], ufunc(r[..., s:], r[..., :-s])], axis=-1)
        s *= 2
    return xp.moveaxis(r, -1, axis)


def is_pinned(arr):
    """Whether NumPy array ``arr`` lives in page-locked (pinned) host memory."""
    if _cupy is None or not isinstance(arr, np.ndarray):
        return False
    pinned = _cupy.cuda.PinnedMemoryPointer
    while arr is not None:
        if isinstance(arr, pinned):
            return True
        arr = getattr(arr, "base", None)
    return False


def pin(arr):
    """A copy of NumPy array ``arr`` in pinned host memory (``Tensor.pin_memory``)."""
    out = pinned_empty(arr.shape, arr.dtype)
    out[...] = arr
    return out


def pinned_empty(shape, dtype):
    cupy()  # a clear "CUDA is not available" on machines without it, as PyTorch
    import cupyx
    return cupyx.empty_pinned(shape, dtype)


def to_device(arr, dev, non_blocking=False):
    """Copy ``arr`` to ``dev`` (returns ``arr`` itself when already there).

    As in PyTorch, ``non_blocking`` copies are asynchronous on the current
    stream only between pinned host memory and the GPU: a copy to the CPU then
    lands in a new pinned array that is filled once the stream gets there."""
    src = device_of_array(arr)
    if src == dev:
        return arr
    cp = cupy()
    if dev.type == "cpu":
        if non_blocking:
            return arr.get(stream=cp.cuda.get_current_stream(),
                           out=pinned_empty(arr.shape, arr.dtype))
        return arr.get()
    with cp.cuda.Device(dev.index):
        if src.type == "cpu":
            if non_blocking and is_pinned(arr):
                out = cp.empty(arr.shape, arr.dtype)
                out.set(arr, stream=cp.cuda.get_current_stream())
                return out
            return cp.asarray(arr)
        return cp.array(arr, copy=True)
