"""BLAS thread policy.

OpenBLAS splits every GEMM statically across its threads and spin-waits at a
barrier; on a machine where another process keeps a core busy a 64x784x256
product went from 0.6 ms (1 thread) to 95 ms (2 threads) here. ember
therefore runs products below ``BIG_MACS`` multiply-adds on one thread and
lets only big ones use all cores. A user who sets OPENBLAS_NUM_THREADS or
OMP_NUM_THREADS keeps control: then ember changes nothing.

The thread count is set through the OpenBLAS library NumPy already loaded
(via ctypes), so this costs no import time.
"""
import contextlib
import glob
import os

BIG_MACS = 1 << 28   # ~ a 512x512x1024 product

_set = None          # callable(n) or None when no controllable BLAS was found
_max = 1
_active = False


# glibc malloc: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD (mallopt parameter numbers)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
               "MALLOC_MMAP_MAX_")


def tune_malloc():
    """Keeps freed array memory in glibc's heap instead of returning it to the kernel
    (opt-in: ``EMBER_MALLOC_TUNE=1`` at import, or call this; returns whether it did).

    By default glibc hands big blocks back (heap trimming once more than ~2x the
    largest recently freed block is free at the top, and ``mmap``/``munmap`` above
    a threshold), so a training step whose activations come and go re-faults
    fresh zeroed pages every step: ~2800 page faults per cnn_train step here,
    ~10-20% of its time (conv2's forward 9 ms instead of 6.5). Here blocks below
    32 MiB come from the heap and up to 256 MiB of free heap is kept: resident
    memory stays near its high-water mark (as with caching allocators). A step's
    own peak is unchanged (``bench --memory`` cnn_train: 64 MiB either way), but
    memory freed earlier stays resident (+13 MiB of setup temporaries there).
    It is process-wide, so other libraries gain too: torch in the same process
    (``python -m bench``) ran cnn_train 32 -> 24 ms, and ember's ratio against it
    got no better; hence off by default. Skipped when the user set any ``MALLOC_*``
    tunable in the environment, or off glibc."""
    if any(v in os.environ for v in _MALLOC_ENV):
        return False
    try:
        import ctypes
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and \
            bool(mallopt(_M_TRIM_THRESHOLD, 256 << 20))
    except Exception:  # no mallopt: leave the allocator alone
        return False


def init():
    """Finds OpenBLAS and sets one thread as the default (called at import); tunes
    glibc's malloc if ``EMBER_MALLOC_TUNE=1`` (``tune_malloc``)."""
    global _set, _max, _active
    if os.environ.get("EMBER_MALLOC_TUNE") == "1":
        tune_malloc()
    if any(v in os.environ for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                     "MKL_NUM_THREADS")):
        return
    try:
        import ctypes

        import numpy as np
        base = os.path.dirname(os.path.dirname(np.__file__))
        paths = glob.glob(os.path.join(base, "numpy.libs", "*openblas*")) + \
            glob.glob(os.path.join(os.path.dirname(np.__file__), ".libs", "*openblas*"))
        for p in paths:
            lib = ctypes.CDLL(p)
            for setter, getter in (("scipy_openblas_set_num_threads64_",
                                    "scipy_openblas_get_num_threads64_"),
                                   ("openblas_set_num_threads", "openblas_get_num_threads")):
                if hasattr(lib, setter) and hasattr(lib, getter):
                    fset = getattr(lib, setter)
                    fset.argtypes = [ctypes.c_int]
                    _max = int(getattr(lib, getter)())
                    _set = fset
                    break
            if _set is not None:
                break
    except Exception:  # a BLAS we can't steer: leave it alone
        _set = None
    if _set is not None and _max > 1:
        _set(1)
        _active = True


@contextlib.contextmanager
def _all_threads():
    _set(_max)
    try:
        yield
    finally:
        _set(1)


def gemm_threads(macs):
    """Context for a product of ``macs`` multiply-adds: all threads if big."""
    if _active and macs >= BIG_MACS:
        return _all_threads()
    return contextlib.nullcontext()


def set_max_threads(n):
    """The thread count big products may use (``ember.set_num_threads``)."""
    global _max
    _max = max(1, int(n))
