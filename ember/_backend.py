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


def to_device(arr, dev, non_blocking=False):
    """Copy ``arr`` to ``dev`` (returns ``arr`` itself when already there)."""
    src = device_of_array(arr)
    if src == dev:
        return arr
    if dev.type == "cpu":
        return arr.get()
    cp = cupy()
    with cp.cuda.Device(dev.index):
        if src.type == "cpu":
            return cp.asarray(arr)
        return cp.array(arr, copy=True)
