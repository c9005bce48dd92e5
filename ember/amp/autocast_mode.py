"""``ember.autocast``: inside the region, ops on PyTorch's lower-precision list
(matmul, linear, conv, bmm, baddbmm, SDPA) run in the autocast dtype and ops
on its float32 list (softmax, log_softmax, losses, norms, ...) in float32;
other ops run in their inputs' promoted dtype. Each op carries its policy
(``ember._ops._core.autocast_op``)."""
import functools

from .. import _dtype as D
from .._ops._core import AUTOCAST

__all__ = ["autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]


def is_autocast_available(device_type):
    return device_type in ("cpu", "cuda")


class autocast:
    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in ("cpu", "cuda"):
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        if dtype is None:
            dtype = D.bfloat16 if device_type == "cpu" else D.float16
        if device_type == "cpu" and dtype not in (D.bfloat16, D.float16):
            import warnings
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.", UserWarning, stacklevel=2)
            enabled = False
        self.device_type, self.fast_dtype, self._enabled = device_type, dtype, enabled

    def __enter__(self):
        self._prev = AUTOCAST.get(self.device_type)
        if self._enabled:
            AUTOCAST[self.device_type] = self.fast_dtype
        else:
            AUTOCAST.pop(self.device_type, None)
        return self

    def __exit__(self, *a):
        if self._prev is None:
            AUTOCAST.pop(self.device_type, None)
        else:
            AUTOCAST[self.device_type] = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def w(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self._enabled):
                return fn(*args, **kwargs)
        return w


def custom_fwd(fwd=None, *, device_type="cuda", cast_inputs=None):
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    return fwd


def custom_bwd(bwd=None, *, device_type="cuda"):
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
