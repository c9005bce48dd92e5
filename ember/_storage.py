"""Storages: the flat bytes behind tensors (``torch.UntypedStorage`` / ``TypedStorage``).

A tensor's storage is its *root* array (``Tensor._root_array``: the array that
owns the memory its view chain ends in) seen as one flat run of ``uint8``.
Views of one root share one storage, so ``storage_offset()`` and ``stride()``
count elements from the start of that buffer, as in PyTorch.

Differences from PyTorch: storages can't be resized; ``UntypedStorage(n)``
is zero-filled rather than uninitialised; a root whose memory is not one
contiguous block (rare: an array built with custom strides) has no storage
to share, so ``untyped_storage()`` then returns a storage over a copy.
"""
import weakref

import numpy as np

from . import _dtype as D
from ._backend import CPU, canonical, device_of_array, to_device, to_host

__all__ = ["UntypedStorage", "TypedStorage"]

# id(root array) -> its storage, so views of one root get the same object.
_BY_ROOT = weakref.WeakValueDictionary()


def _flat_bytes(root):
    """``root``'s whole memory as a 1-D uint8 view, or None when it isn't one block."""
    if root.ndim == 0:
        flat = root.reshape(1)
    elif root.flags.c_contiguous:
        flat = root.reshape(-1)
    elif root.flags.f_contiguous:
        flat = root.T.reshape(-1)
    else:
        return None
    return flat.view("uint8")


def _ptr(a):
    return a.__array_interface__["data"][0] if isinstance(a, np.ndarray) else a.data.ptr


class UntypedStorage:
    """Bytes of one root buffer (NumPy on cpu, CuPy on cuda) as a 1-D uint8 array."""

    __slots__ = ("_bytes", "_root", "__weakref__")
    is_sparse = False
    is_sparse_csr = False

    def __init__(self, *args, device=None):
        if len(args) > 1:
            raise TypeError(f"UntypedStorage() takes at most 1 argument ({len(args)} given)")
        arg = args[0] if args else 0
        if isinstance(arg, int):
            if arg < 0:
                raise RuntimeError(f"Storage size must be non-negative, got {arg}")
            a = np.zeros(arg, np.uint8)
        else:
            a = np.array(list(arg), dtype=np.int64)
            if a.size and (a.min() < 0 or a.max() > 255):
                raise RuntimeError("UntypedStorage(sequence): values must be in [0, 255]")
            a = a.astype(np.uint8)
        dev = canonical(device)
        if dev.type != "cpu":
            a = to_device(a, dev)
        self._bytes = self._root = a

    @classmethod
    def _wrap(cls, u8, root=None):
        """A storage over the 1-D uint8 array ``u8`` (no copy)."""
        s = object.__new__(cls)
        s._bytes = u8
        s._root = u8 if root is None else root
        return s

    @classmethod
    def _of_root(cls, root):
        """The storage of root array ``root`` (shared by every view of it), or None
        when its memory is not one contiguous block."""
        s = _BY_ROOT.get(id(root))
        if s is not None and s._root is root:
            return s
        u8 = _flat_bytes(root)
        if u8 is None:
            return None
        s = cls._wrap(u8, root)
        _BY_ROOT[id(root)] = s
        return s

    @classmethod
    def _of(cls, tensor):
        """``tensor.untyped_storage()``."""
        s = cls._of_root(tensor._root_array())
        if s is None:  # no shareable buffer: a storage over a contiguous copy
            s = cls._wrap(_flat_bytes(tensor._data.copy()))
        return s

    # ------------------------------------------------------------------ queries
    def nbytes(self):
        return self._bytes.size

    size = nbytes

    def __len__(self):
        return self._bytes.size

    def element_size(self):
        return 1

    @property
    def device(self):
        return device_of_array(self._bytes)

    @property
    def is_cuda(self):
        return not isinstance(self._bytes, np.ndarray)

    def data_ptr(self):
        return _ptr(self._bytes)

    def tolist(self):
        return self._host().tolist()

    def __iter__(self):
        return iter(self.tolist())

    def _host(self):
        return to_host(self._bytes)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            start, stop, step = idx.indices(self._bytes.size)
            if step != 1:
                raise RuntimeError("slices with steps other than 1 are not supported for storages")
            return type(self)._wrap(self._bytes[start:max(start, stop)], self._root)
        n = self._bytes.size
        if not -n <= idx < n:
            raise IndexError(f"index {idx} out of range for storage of size {n}")
        return int(self._bytes[idx])

    def __setitem__(self, idx, value):
        self._bytes[idx] = value

    def __repr__(self):
        body = "\n".join(f" {v}" for v in self.tolist())
        head = body + "\n" if body else ""
        return f"{head}[torch.storage.UntypedStorage(device={self.device}) of size {len(self)}]"

    # ------------------------------------------------------------------ copies and moves
    def fill_(self, value):
        self._bytes.fill(value)
        return self

    def copy_(self, src, non_blocking=None):
        if src.nbytes() != self.nbytes():
            raise RuntimeError(f"size mismatch: copying {src.nbytes()} bytes into a storage of "
                               f"{self.nbytes()} bytes")
        self._bytes[...] = to_device(src._bytes, self.device)
        return self

    def _write_host(self, host_u8):
        """Fill this storage from a host uint8 array of the same size."""
        if isinstance(self._bytes, np.ndarray):
            self._bytes[...] = host_u8
        else:
            self._bytes.set(host_u8)

    def clone(self):
        return type(self)._wrap(self._bytes.copy())

    def to(self, *, device=None, non_blocking=False):
        dev = canonical(device)
        if dev == self.device:
            return self
        return type(self)._wrap(to_device(self._bytes, dev, non_blocking))

    def cpu(self):
        return self.to(device=CPU)

    def cuda(self, device=None, non_blocking=False):
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device=device, non_blocking=non_blocking)

    def untyped(self):
        return self

    def byteswap(self, dtype):
        """Reverse the byte order of every ``dtype`` element in place."""
        if dtype.itemsize > 1:
            self._bytes.view(dtype.np).byteswap(inplace=True)

    def is_shared(self):
        return False

    def share_memory_(self):
        return self

    def is_pinned(self, device="cuda"):
        return False

    def pin_memory(self, device="cuda"):
        return self

    def __reduce__(self):
        return (_storage_from_bytes, (self._host().tobytes(), str(self.device)))

    @classmethod
    def from_buffer(cls, buffer, *, device=None):
        s = cls._wrap(np.frombuffer(buffer, np.uint8).copy())
        return s if device is None else s.to(device=device)


def _storage_from_bytes(data, device="cpu"):
    s = UntypedStorage._wrap(np.frombuffer(data, np.uint8).copy())
    return s if device == "cpu" else s.to(device=device)


class TypedStorage:
    """An UntypedStorage read as elements of ``dtype`` (PyTorch's legacy storage view)."""

    __slots__ = ("_untyped_storage", "dtype")
    is_sparse = False

    def __init__(self, *args, dtype=None, device=None, wrap_storage=None, _internal=False):
        self.dtype = D.get_default_dtype() if dtype is None else dtype
        if wrap_storage is not None:
            if args:
                raise TypeError("TypedStorage(): pass either wrap_storage or a size/sequence")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError(f"expected wrap_storage to be an UntypedStorage, got "
                                f"{type(wrap_storage).__name__}")
            self._untyped_storage = wrap_storage
            return
        arg = args[0] if args else 0
        if isinstance(arg, int):
            a = np.zeros(arg, self.dtype.np)
        else:
            a = np.array(list(arg), dtype=self.dtype.np)
        u = UntypedStorage._wrap(a.view(np.uint8))
        self._untyped_storage = u if device is None else u.to(device=device)

    def size(self):
        return self._untyped_storage.nbytes() // self.dtype.itemsize

    _size = size
    __len__ = size

    def nbytes(self):
        return self._untyped_storage.nbytes()

    def element_size(self):
        return self.dtype.itemsize

    @property
    def device(self):
        return self._untyped_storage.device

    @property
    def is_cuda(self):
        return self._untyped_storage.is_cuda

    def data_ptr(self):
        return self._untyped_storage.data_ptr()

    def untyped(self):
        return self._untyped_storage

    def _elements(self):
        u = self._untyped_storage._host()
        return u[:self.size() * self.dtype.itemsize].view(self.dtype.np)

    def tolist(self):
        a = self._elements()
        if self.dtype in (D.bfloat16, D.float16):
            a = a.astype(np.float32)
        return a.tolist()

    def __getitem__(self, idx):
        return self.tolist()[idx]

    def cpu(self):
        return TypedStorage(wrap_storage=self._untyped_storage.cpu(), dtype=self.dtype)

    def cuda(self, device=None, non_blocking=False):
        return TypedStorage(wrap_storage=self._untyped_storage.cuda(device, non_blocking),
                            dtype=self.dtype)

    def _pickle_storage_type(self):
        return _STORAGE_NAMES[self.dtype.name]

    pickle_storage_type = _pickle_storage_type

    def __repr__(self):
        body = "\n".join(f" {v}" for v in self.tolist())
        head = body + "\n" if body else ""
        return (f"{head}[torch.storage.TypedStorage(dtype=torch.{self.dtype.name}, "
                f"device={self.device}) of size {len(self)}]")

    def __reduce__(self):
        return (_typed_from_untyped, (self._untyped_storage, self.dtype))


def _typed_from_untyped(untyped, dtype):
    return TypedStorage(wrap_storage=untyped, dtype=dtype)


# PyTorch's legacy typed-storage class names (``torch.FloatStorage`` ...).
_STORAGE_NAMES = {k: v + "Storage" for k, v in D.LEGACY_NAMES.items()}


class StorageType:
    """What a pickled ``torch.FloatStorage`` (etc.) global stands for: its dtype.
    Calling it builds a TypedStorage, as the legacy classes did."""

    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __call__(self, *args, device=None):
        return TypedStorage(*args, dtype=self.dtype, device=device)

    def __repr__(self):
        return f"StorageType(dtype=torch.{self.dtype.name})"


STORAGE_TYPES = {name: StorageType(name, D._BY_NAME[dt]) for dt, name in _STORAGE_NAMES.items()}
