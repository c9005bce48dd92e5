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

malloc_tuned = False  # whether init() applied tune_malloc
_set = None          # callable(n) or None when no controllable BLAS was found
_max = 1
_active = False


# glibc malloc: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD (mallopt parameter numbers)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
               "MALLOC_MMAP_MAX_")


def tune_malloc():
    """Keeps freed array memory in glibc's heap instead of returning it to the kernel
    (done at import; ``EMBER_MALLOC_TUNE=0`` opts out). Returns whether it did.

    By default glibc hands big blocks back (heap trimming once more than ~2x the
    largest recently freed block is free at the top, and ``mmap``/``munmap`` above
    a threshold), so a training step whose activations come and go re-faults
    fresh zeroed pages every step (~2800 page faults per cnn_train step here) and
    pays ``munmap`` when gradients are dropped. Here blocks below 32 MiB come from
    the heap and up to 256 MiB of free heap is kept: resident memory stays near
    its high-water mark, as with caching allocators. Measured with ember alone in
    a process: cnn_train 36 -> 29 ms, lstm_train 19.6 -> 17.5 ms, the rest
    unchanged; a step's peak memory is unchanged (``bench --memory``). The
    setting is process-wide, so other libraries in the process gain too (torch's
    cnn_train in the in-process bench, 32 -> 24 ms). Skipped when the user set any
    ``MALLOC_*`` tunable in the environment, or off glibc."""
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
    glibc's malloc unless ``EMBER_MALLOC_TUNE=0`` (``tune_malloc``)."""
    global _set, _max, _active, malloc_tuned
    if os.environ.get("EMBER_MALLOC_TUNE") != "0":
        malloc_tuned = tune_malloc()
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
