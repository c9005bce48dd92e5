"""``ember.nn.attention`` (the part of ``torch.nn.attention`` that makes sense
without fused kernels): ``SDPBackend`` and the ``sdpa_kernel`` context manager.

ember has a single (math) implementation of
``ember.nn.functional.scaled_dot_product_attention``, so selecting backends has
no effect on results; ``sdpa_kernel`` validates its argument and records the
selection (``_current_backends()``) so code written for PyTorch runs
unchanged. ``can_use_flash_attention``/``can_use_efficient_attention`` are
always False. Not provided: ``flex_attention``, ``bias`` (CausalBias),
``varlen`` and the flash-attention implementation registry (all
fused-kernel/compile features)."""
import contextlib
import enum

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS",
           "can_use_flash_attention", "can_use_efficient_attention"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.IntEnum):
    """Scaled-dot-product-attention backends (same names and values as PyTorch)."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_ALL = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION,
        SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH, SDPBackend.OVERRIDEABLE]
_state = {"backends": list(_ALL)}


def _current_backends():
    """The backends enabled by the innermost ``sdpa_kernel`` (all by default)."""
    return list(_state["backends"])


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Enables only ``backends`` (an ``SDPBackend`` or a list of them) inside the
    ``with`` block; the previous selection is restored on exit. In ember this
    is bookkeeping only (see the module docstring)."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of "
                             f"SDPBackend instances, got {type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(dict.fromkeys(backends))
    previous = _state["backends"]
    _state["backends"] = backends
    try:
        yield {}
    finally:
        _state["backends"] = previous


def can_use_flash_attention(params, debug=False):
    """Always False: ember has no fused flash-attention kernel."""
    return False


def can_use_efficient_attention(params, debug=False):
    """Always False: ember has no fused memory-efficient attention kernel."""
    return False
