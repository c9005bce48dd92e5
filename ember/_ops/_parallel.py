"""Intra-op parallelism for the big memory-bound copies of coarse ops (im2col,
col2im, layout transposes). NumPy releases the GIL while it copies, so a small
thread pool splitting the leading axis uses the cores that BLAS uses for the
GEMMs (as PyTorch's intra-op threads do). Thread count: ``OMP_NUM_THREADS`` if
set, else the CPU count (at most 8); ``set_num_threads`` changes it."""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _blas

_MIN_WORK = 1 << 18      # elements below which splitting costs more than it saves
_CLAIM_WORK = 1 << 20    # elements from which a parallel run claims the second core (split)
_pool = None


def _default_threads():
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return max(1, min(8, os.cpu_count() or 1))


_threads = _default_threads()


def num_threads():
    return _threads


def set_num_threads(n):
    global _threads, _pool
    _threads = max(1, int(n))
    if _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None


def _after_fork():
    # a forked child (DataLoader worker) has none of the parent's pool threads
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def alone(work, short=False):
    """Whether ``split`` runs ``work`` elements on the calling thread alone (one
    thread allowed, too little work, or short work while OpenBLAS spins)."""
    return _threads <= 1 or work < _MIN_WORK or (short and _blas.spinning())


def split(fn, n, work, xp=np, pieces=1, mark=True, short=False):
    """Runs ``fn(start, stop)`` over ``range(n)`` cut into one chunk per thread
    (or all at once when ``work`` elements are few or the arrays are not NumPy's).

    ``pieces > 1`` cuts ``range(n)`` into that many ranges per thread instead, which
    the threads (the caller's included) take in turn as each finishes the last: a
    thread that shares its core with another process then does less of the work
    rather than holding everyone up. The ranges don't depend on timing (only which
    thread runs each), so ``fn`` may keep per-range results.

    A run over ``_CLAIM_WORK`` elements claims the second core for ember's
    threads: mid-size products then stay off OpenBLAS's threads for a while
    (``_blas.pool_used``), whose spinning would slow such runs; smaller runs (an
    optimizer's update of one tensor) are not worth giving up threaded products.
    ``mark=False`` (the GEMM split, which runs only when those may not be used
    anyway) never claims.

    ``short=True`` is for brief memory-bound work (an optimizer's update, an
    activation): it never claims, and right after a threaded product, while
    OpenBLAS's threads still spin (``_blas.spinning``), it runs on this thread
    alone (mlp_train's SGD step: 170 us on two threads there, 97 us on one)."""
    global _pool
    t = min(_threads, n)
    if t <= 1 or xp is not np or alone(work, short):
        fn(0, n)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads, thread_name_prefix="ember-intraop")
    if mark and not short and work >= _CLAIM_WORK:
        _blas.pool_used()
    _run(fn, n, t, pieces)


def _run(fn, n, t, pieces):
    if pieces <= 1:
        bounds = [n * i // t for i in range(t + 1)]
        futs = [_pool.submit(fn, a, b) for a, b in zip(bounds[1:-1], bounds[2:])]
        fn(bounds[0], bounds[1])
        for f in futs:
            f.result()
        return
    k = min(n, t * pieces)
    ranges = iter([(n * i // k, n * (i + 1) // k) for i in range(k)])
    lock = threading.Lock()

    def loop():
        while True:
            with lock:
                r = next(ranges, None)
            if r is None:
                return
            fn(*r)
    futs = [_pool.submit(loop) for _ in range(t - 1)]
    try:
        loop()
    finally:
        for f in futs:   # one that never started: the ranges ran elsewhere
            if not f.cancel():
                f.result()
