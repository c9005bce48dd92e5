"""ember.cuda: NVIDIA GPUs through CuPy.

Everything here is safe to call on a machine without CuPy or a GPU:
``is_available()`` is then False (quietly, without a slow import attempt
on every call) and functions that need a device raise a clear RuntimeError.
"""
import functools

from .. import _backend

__all__ = ["is_available", "device_count", "current_device", "set_device", "device",
           "get_device_name", "get_device_properties", "get_device_capability", "synchronize",
           "manual_seed", "manual_seed_all", "Stream", "Event", "stream", "current_stream",
           "default_stream", "memory_allocated", "max_memory_allocated", "memory_reserved",
           "max_memory_reserved", "reset_peak_memory_stats", "empty_cache", "mem_get_info",
           "OutOfMemoryError", "is_bf16_supported", "amp", "init", "is_initialized"]

_initialized = False


OutOfMemoryError = _backend.OutOfMemoryError


@functools.lru_cache(maxsize=None)
def _probe():
    try:
        import cupy as cp
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no cupy, no driver, no device
        return False


def is_available():
    return _probe()


def _cp():
    global _initialized
    cp = _backend.cupy()
    _initialized = True
    return cp


def init():
    _cp()


def is_initialized():
    return _initialized


def device_count():
    return _cp().cuda.runtime.getDeviceCount() if is_available() else 0


def current_device():
    return _cp().cuda.runtime.getDevice()


def set_device(device):
    idx = _index(device)
    if idx >= 0:
        _cp().cuda.runtime.setDevice(idx)


def _index(device):
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    d = _backend.device(device)
    return d.index if d.index is not None else current_device()


class device:
    """Context manager selecting the current CUDA device."""

    def __init__(self, device):
        self.idx = _index(device) if device is not None else -1

    def __enter__(self):
        if self.idx >= 0:
            self.prev = current_device()
            set_device(self.idx)

    def __exit__(self, *a):
        if self.idx >= 0:
            set_device(self.prev)


class device_of(device):
    def __init__(self, obj):
        super().__init__(obj.device.index if obj.is_cuda else -1)


def get_device_properties(device=None):
    cp = _cp()
    p = cp.cuda.runtime.getDeviceProperties(_index(device))

    class _Props:
        name = p["name"].decode() if isinstance(p["name"], bytes) else p["name"]
        total_memory = p["totalGlobalMem"]
        major, minor = p["major"], p["minor"]
        multi_processor_count = p["multiProcessorCount"]

        def __repr__(self):
            return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                    f"minor={self.minor}, total_memory={self.total_memory // 2**20}MB, "
                    f"multi_processor_count={self.multi_processor_count})")
    return _Props()


def get_device_name(device=None):
    return get_device_properties(device).name


def get_device_capability(device=None):
    p = get_device_properties(device)
    return (p.major, p.minor)


def is_bf16_supported(including_emulation=True):
    return is_available() and get_device_capability()[0] >= 8


def synchronize(device=None):
    cp = _cp()
    with cp.cuda.Device(_index(device)):
        cp.cuda.runtime.deviceSynchronize()


def manual_seed(seed):
    manual_seed_all(seed)


def manual_seed_all(seed):
    """Seeds the CUDA stream of random numbers (ember/_ops/random.py)."""
    from .._ops.random import cuda_manual_seed
    cuda_manual_seed(seed)


class Stream:
    def __init__(self, device=None, priority=0, **kwargs):
        self._s = _cp().cuda.Stream(non_blocking=True)

    def synchronize(self):
        self._s.synchronize()

    def wait_stream(self, other):
        self._s.wait_event(other._s.record())

    def wait_event(self, event):
        self._s.wait_event(event._e)

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def query(self):
        return self._s.done

    def __enter__(self):
        self._s.__enter__()
        return self

    def __exit__(self, *a):
        self._s.__exit__(*a)


class Event:
    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self._e = _cp().cuda.Event(block=blocking, disable_timing=not enable_timing)

    def record(self, stream=None):
        self._e.record(stream._s if stream is not None else None)

    def synchronize(self):
        self._e.synchronize()

    def query(self):
        return self._e.done

    def elapsed_time(self, end_event):
        return _cp().cuda.get_elapsed_time(self._e, end_event._e)

    def wait(self, stream=None):
        (stream._s if stream else _cp().cuda.get_current_stream()).wait_event(self._e)


class stream:
    def __init__(self, stream):
        self.s = stream

    def __enter__(self):
        if self.s is not None:
            self.s.__enter__()

    def __exit__(self, *a):
        if self.s is not None:
            self.s.__exit__(*a)


def current_stream(device=None):
    s = Stream.__new__(Stream)
    s._s = _cp().cuda.get_current_stream()
    return s


default_stream = current_stream


def memory_allocated(device=None):
    """Bytes in use in CuPy's memory pool (it serves every CUDA device ember uses)."""
    return _cp().get_default_memory_pool().used_bytes() if is_available() else 0


def max_memory_allocated(device=None):
    """Peak of ``memory_allocated`` since the start or ``reset_peak_memory_stats``."""
    if not is_available():
        return 0
    return max(_backend.peak_bytes.get(_index(device), 0), memory_allocated(device))


def memory_reserved(device=None):
    return _cp().get_default_memory_pool().total_bytes() if is_available() else 0


max_memory_reserved = memory_reserved


def reset_peak_memory_stats(device=None):
    if is_available():
        _backend.peak_bytes[_index(device)] = memory_allocated(device)


def empty_cache():
    if is_available():
        _cp().get_default_memory_pool().free_all_blocks()


def mem_get_info(device=None):
    return _cp().cuda.runtime.memGetInfo()


def __getattr__(name):
    if name == "amp":
        from .. import amp
        return amp
    raise AttributeError(f"module 'ember.cuda' has no attribute '{name}'")
