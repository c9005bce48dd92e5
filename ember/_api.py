"""Top-level functions that are not ops themselves: type predicates,
promotion queries, and small conveniences."""
from . import _dtype as D
from ._tensor import Tensor

__all__ = ["is_tensor", "is_storage", "is_floating_point", "is_complex", "is_nonzero",
           "numel", "result_type", "set_default_device", "get_default_device",
           "compile", "typename", "broadcast_shapes", "autocast",
           "set_num_threads", "get_num_threads"]



def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_storage(obj):
    from ._storage import TypedStorage, UntypedStorage
    return isinstance(obj, (UntypedStorage, TypedStorage))


def is_floating_point(input):
    return input.dtype.is_floating_point


def is_complex(input):
    return input.dtype.is_complex


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous"
                           if input.numel() else
                           "Boolean value of Tensor with no values is ambiguous")
    return bool(input.item())


def numel(input):
    return input.numel()


def result_type(tensor1, tensor2):
    return D.result_type_of((tensor1, tensor2))


_default_device = ["cpu"]


def set_default_device(device):
    if device is not None and str(device) != "cpu":
        raise NotImplementedError("ember.set_default_device supports only 'cpu' so far")
    _default_device[0] = "cpu"


def get_default_device():
    from ._backend import device
    return device(_default_device[0])


def compile(model=None, **kwargs):
    """No compiler yet: returns ``model`` unchanged (so scripts that call
    ``torch.compile`` still run, eagerly)."""
    if model is None:
        return lambda m: m
    return model


def typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    return type(obj).__qualname__


def broadcast_shapes(*shapes):
    import numpy as np

    from ._tensor import Size
    try:
        return Size(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s)
                                          for s in shapes]))
    except ValueError:
        raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single shape"
                           ) from None


def autocast(device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
    """``ember.autocast``: see ``ember.amp.autocast``."""
    from .amp import autocast as _autocast
    return _autocast(device_type, dtype, enabled, cache_enabled)


def set_num_threads(n):
    """Threads for ember's parallel kernels: big BLAS products and the
    intra-op copies of coarse ops (small products always use one, see
    ``ember/_blas.py``)."""
    if int(n) < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    from . import _blas
    from ._ops import _parallel
    _blas.set_max_threads(n)
    _parallel.set_num_threads(n)


def get_num_threads():
    from ._ops import _parallel
    return _parallel.num_threads()
