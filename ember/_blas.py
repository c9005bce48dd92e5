"""BLAS thread policy.

OpenBLAS splits every GEMM statically across its threads and spin-waits at a
barrier, and its idle threads keep spinning ~0.1 s after a product. On a
machine where another process keeps a core busy a 64x784x256 product once went
from 0.6 ms (1 thread) to 95 ms (2 threads) here; on a quiet machine the same
product takes 0.21 ms on one thread and 0.12 ms on two. So ember picks per
product (``gemm_threads``):

- below ``MID_MACS`` multiply-adds: one thread (threads cost more than they save);
- from ``BIG_MACS``: all threads;
- in between: all threads while the cores look free (``threads_free``): other
  processes used under half a core beyond what ember's threads need since the
  last reading of /proc/stat (``_cores_idle``, every 0.2 s, steal time counted),
  ember's own intra-op threads have not run a big job in the last 0.2 s
  (OpenBLAS's spinning threads would take their core), and the caller is the
  main thread. Without /proc/stat (macOS, Windows) mid-size products stay on one
  thread. With one or two busy processes beside it, mlp_train ran at the same
  median as with one thread throughout; on a quiet machine 1.0 -> 0.7 ms.

A user who sets OPENBLAS_NUM_THREADS or OMP_NUM_THREADS keeps control: then
ember changes nothing. The thread count is set through the OpenBLAS library
NumPy already loaded (via ctypes), so this costs no import time.
"""
import contextlib
import glob
import os
import threading
import time

BIG_MACS = 1 << 28   # ~ a 512x512x1024 product: always all threads
MID_MACS = 1 << 22   # ~ a 64x256x256 product: all threads while ``threads_free()``

_NCPU = os.cpu_count() or 1
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
malloc_tuned = False  # whether init() applied tune_malloc
_set = None          # callable(n) or None when no controllable BLAS was found
_max = 1
_core = None         # OpenBLAS's kernel family (``core()``)
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
    global _set, _max, _active, malloc_tuned, _reading, _core
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
            for name in ("scipy_openblas_get_corename64_", "openblas_get_corename"):
                if hasattr(lib, name):
                    getattr(lib, name).restype = ctypes.c_char_p
                    _core = getattr(lib, name)().decode()
                    break
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
        _reading = _read()      # the first window of _cores_idle starts here


class _Threads:
    """All of OpenBLAS's threads for the products inside (back to one after)."""
    __slots__ = ()

    def __enter__(self):
        global _region
        _set(_max)
        _region = True

    def __exit__(self, *exc):
        global _region, _threads_used
        _set(1)
        _region = False
        _threads_used = time.monotonic()


def spinning():
    """Whether OpenBLAS's threads may still be spinning after a threaded product
    (for ``_SPIN`` s; ember's own threads started now would share their cores)."""
    return time.monotonic() - _threads_used < _SPIN


# State of the mid-size policy (see the module docstring).
_POOL_GAP = 0.2       # s since ember's intra-op threads last ran
_SPIN = 0.1           # s OpenBLAS's idle threads spin (2^28 cycles, its THREAD_TIMEOUT)
_threads_used = -1e9  # time.monotonic() when a threaded region last ended
_SAMPLE = 0.2         # s between readings of the machine's CPU time (/proc/stat)
# cores other processes may use beside ember's threads: with a process busy half
# the time beside it, mlp_train ran 0.64 ms threaded vs 1.00 on one thread
# (lstm_train even); with a fully busy one, threads no longer paid
_SLACK = 0.5
_main = threading.main_thread().ident
_pool_used = -1e9     # time.monotonic() when the intra-op threads last ran
_region = False       # inside a _Threads region (its products are threaded already)
_reading = None       # (monotonic time, CPU seconds of all processes, of this one)
_idle = True          # whether the cores ember's threads need were idle at the last reading
_THREADS = _Threads()
_NULL = contextlib.nullcontext()


def pool_used():
    """Notes that ember's own intra-op threads are running (``_ops/_parallel``)."""
    global _pool_used
    _pool_used = time.monotonic()


def _cpu_seconds():
    """CPU seconds all processes have run (steal time included: a hypervisor that
    runs other machines on our cores takes them too), from Linux's /proc/stat."""
    with open("/proc/stat", "rb") as f:
        v = f.readline().split()
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, v[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK


def _read():
    """A reading for ``_cores_idle``, or None where /proc/stat is missing."""
    try:
        return time.monotonic(), _cpu_seconds(), time.process_time()
    except (OSError, ValueError):
        return None


def _cores_idle():
    """Whether other processes left ``_max`` cores idle since the last reading
    (the first taken at import, then at most every ``_SAMPLE`` s; until the
    first comparison, yes; False where /proc/stat is missing)."""
    global _reading, _idle
    if _reading is not None and time.monotonic() - _reading[0] < _SAMPLE:
        return _idle
    reading = _read()
    if reading is None:
        return False
    if _reading is not None:
        others = (reading[1] - _reading[1]) - (reading[2] - _reading[2])
        _idle = others / (reading[0] - _reading[0]) + _max <= _NCPU + _SLACK
    _reading = reading
    return _idle


def threads_free():
    """Whether mid-size products may use all OpenBLAS threads now: the caller is
    the main thread, ember's intra-op threads have not run for ``_POOL_GAP`` s,
    and other processes leave enough cores idle."""
    if not _active or _max < 2 or threading.get_ident() != _main or \
            time.monotonic() - _pool_used < _POOL_GAP:
        return False
    return _cores_idle()


def core():
    """The kernel family NumPy's OpenBLAS runs (``'SkylakeX'``, ``'Haswell'``, ...),
    or None for another BLAS (or when the user set its thread count: then ember
    leaves it alone). ``OPENBLAS_CORETYPE`` overrides OpenBLAS's own
    choice for the CPU, which matters for speed: here a 1024x1024 float32 product
    runs at ~200 GFLOP/s per core with SkylakeX's AVX-512 kernels and ~115 with
    Haswell's AVX2 ones."""
    return _core


def in_threaded_region():
    """Whether the products running now are inside a ``gemm_threads`` region."""
    return _region


def gemm_threads(macs):
    """Context for products of ``macs`` multiply-adds each: all threads if big,
    or if mid-size while ``threads_free()``; else one. Inside a threaded region
    (a recurrent layer's pass) every product keeps the region's threads."""
    if _active and macs >= MID_MACS and not _region and (macs >= BIG_MACS or threads_free()):
        return _THREADS
    return _NULL


def set_max_threads(n):
    """The thread count big products may use (``ember.set_num_threads``)."""
    global _max
    _max = max(1, int(n))
