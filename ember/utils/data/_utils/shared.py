"""Moving objects between the DataLoader's processes through shared memory.

A message is pickled with protocol 5 and array data never enters the pickle:

* arrays that ``empty`` placed in shared memory (``default_collate`` stacks each
  batch straight into one when it runs in a worker) travel as the name of their
  file;
* every other array goes out of band: its bytes are written into one
  shared-memory file per message, next to a small pickle that points into it.

The receiver maps the files (no copy) and unlinks them at once, so the memory
goes back to the system when the last array viewing it dies. Files live in a
directory per DataLoader iterator (under /dev/shm) that the main process removes
when the iterator shuts down, so nothing leaks if a worker dies mid-batch.
Files are reserved with ``posix_fallocate``: a full /dev/shm is an ``OSError``
in the worker, which the main process re-raises, instead of a SIGBUS.
"""
import io
import itertools
import math
import mmap
import os
import pickle
import tempfile

import numpy as np

from ...._backend import to_host
from ...._tensor import Tensor, _wrap

_ALIGN = 64
_counter = itertools.count()
_dir = None    # set in a worker: where ``empty`` creates its files
_owned = {}    # id(array) -> (array, path) for arrays ``empty`` placed in shared memory


def root():
    """Where the per-iterator directories go: /dev/shm (RAM) when the system has it."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else tempfile.gettempdir()


def set_dir(directory):
    global _dir
    _dir = directory


def _create(directory, nbytes):
    path = os.path.join(directory, f"{os.getpid()}-{next(_counter)}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, nbytes)
        else:
            os.ftruncate(fd, nbytes)
        return path, mmap.mmap(fd, nbytes)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)


def _open(path, unlink):
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
        if unlink:
            os.unlink(path)


def empty(shape, dtype):
    """An uninitialised array; in a worker it lives in shared memory and reaches
    the main process without being copied again."""
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    if _dir is None or count == 0:
        return np.empty(shape, dtype)
    path, m = _create(_dir, count * dtype.itemsize)
    a = np.frombuffer(m, dtype, count).reshape(shape)
    _owned[id(a)] = (a, path)
    return a


def discard():
    """Forget this worker's unsent shared arrays (their memory goes with the arrays)."""
    for _, path in _owned.values():
        _unlink(path)
    _owned.clear()


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# Rebuilders, called by pickle.loads in the receiving process.
def _attach(path, dtype, shape):
    return np.frombuffer(_open(path, True), dtype, math.prod(shape)).reshape(shape)


def _array(buf, dtype, shape):
    return np.frombuffer(buf, dtype).reshape(shape)


def _tensor(cls, arr, dtype, device, requires_grad):
    t = _wrap(arr, dtype)
    if cls is not Tensor:
        t.__class__ = cls
    if device != "cpu":
        t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


class _Pickler(pickle.Pickler):
    def __init__(self, file, buffers):
        super().__init__(file, protocol=5, buffer_callback=buffers.append)
        self.sent = set()

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray) and not obj.dtype.hasobject:
            ref = _owned.get(id(obj))
            if ref is not None and ref[0] is obj:
                self.sent.add(ref[1])
                return _attach, (ref[1], obj.dtype, obj.shape)
            a = obj if obj.flags.c_contiguous else obj.copy(order="C")
            # As bytes: NumPy only pickles built-in dtypes out of band (not bfloat16).
            return _array, (pickle.PickleBuffer(a.reshape(-1).view(np.uint8)), a.dtype, a.shape)
        if isinstance(obj, Tensor):
            arr = to_host(obj._data)
            return _tensor, (type(obj), arr, obj._dtype, str(obj.device),
                             obj._requires_grad and obj.is_leaf)
        return NotImplemented


def dumps(obj, directory):
    """``obj`` as a small picklable message; array bytes go to shared memory."""
    buffers, f = [], io.BytesIO()
    p = _Pickler(f, buffers)
    try:
        p.dump(obj)
    finally:
        for ref in list(_owned.values()):
            if ref[1] not in p.sent:   # made by collate but not part of the result
                _unlink(ref[1])
        _owned.clear()
    spans, size = [], 0
    raws = [b.raw() for b in buffers]
    for r in raws:
        spans.append((size, r.nbytes))
        size += -(-r.nbytes // _ALIGN) * _ALIGN
    path = None
    if size:
        path, m = _create(directory, size)
        with m:
            for (off, n), r in zip(spans, raws):
                m[off:off + n] = r
    return f.getvalue(), path, spans


def loads(msg, unlink=True):
    """Rebuilds what ``dumps`` sent; arrays view the shared memory (no copy).
    ``unlink=False`` leaves the file for other readers (a dataset sent to
    several workers)."""
    payload, path, spans = msg
    if path is None:
        buffers = [bytearray() for _ in spans]
    else:
        view = memoryview(_open(path, unlink))
        buffers = [view[off:off + n] for off, n in spans]
    return pickle.loads(payload, buffers=buffers)
