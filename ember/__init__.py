"""ember: PyTorch's programming model in pure Python over NumPy (CPU) and
CuPy (CUDA). ``import ember as torch`` runs ordinary PyTorch programs."""
# ruff: noqa: I001, E402  -- import order matters here (ops install onto Tensor)
__version__ = "0.1.0"

import numpy as _np

# PyTorch never warns about 1/0 or NaN results; NumPy's floating-point
# warnings would fire inside ember ops on every such value.
_np.seterr(divide="ignore", invalid="ignore", over="ignore", under="ignore")

from . import _blas, _dtype

_blas.init()
from ._backend import OutOfMemoryError, device
from ._dtype import (bfloat16, bool, can_cast, cdouble, cfloat, chalf, complex64, complex128,
                     double, dtype, finfo, float, float16, float32, float64, get_default_dtype,
                     half, iinfo, int, int8, int16, int32, int64, long, promote_types,
                     set_default_dtype, short, uint8, uint16, uint32, uint64)
from ._layout import (channels_last, channels_last_3d, contiguous_format, memory_format,
                      preserve_format)
from ._print import get_printoptions, set_printoptions
from ._tensor import Size, Tensor
from . import _ops
from ._ops import FUNCTIONS as _FUNCTIONS

_ops.install(Tensor)
globals().update(_FUNCTIONS)

from . import autograd
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled
from .autograd.grad_mode import is_grad_enabled, is_inference_mode_enabled
from ._api import *  # functions defined over the registered ops


_LAZY = {"nn", "optim", "utils", "cuda", "linalg", "fft", "special", "serialization", "amp",
         "jit", "onnx", "distributed", "testing", "distributions", "backends", "hub",
         "signal", "examples", "overrides", "types", "library", "compiler", "func",
         "multiprocessing", "random", "storage", "return_types"}


def __getattr__(name):
    # Subpackages load on first use so ``import ember`` stays fast.
    if name in _LAZY:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'ember' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | _LAZY)
from .serialization import load, save  # noqa: E402
