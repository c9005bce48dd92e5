"""Window functions: the top-level ``hann_window`` family and the arrays behind
``ember.signal.windows``. Windows are computed in float64 and cast."""
import math

import numpy as np

from .. import _dtype as D
from ._core import export


def _finish(w, dtype, device, requires_grad):
    from .creation import tensor
    return tensor(w, dtype=dtype or D.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def _cosine_sum(M, a, sym):
    """sum_i (-1)^i a_i cos(2 pi i n / (M - 1 or M)), as scipy/torch."""
    if M == 1:
        return np.ones(1)
    k = np.arange(M) * (2 * math.pi / (M - 1 if sym else M))
    return sum((-1) ** i * w * np.cos(i * k) for i, w in enumerate(a))


def _bartlett(M, sym):
    if M == 1:
        return np.ones(1)
    return 1 - np.abs(-1 + np.arange(M) * (2 / (M - 1 if sym else M)))


def _kaiser(M, beta, sym):
    if M == 1:
        return np.ones(1)
    k = -beta + np.arange(M) * (2.0 * beta / (M - 1 if sym else M))
    k = np.minimum(k, beta)
    return np.i0(np.sqrt(np.maximum(beta * beta - k * k, 0))) / np.i0(beta)


def _legacy_window(name, window_length, periodic, dtype, device, requires_grad, fn):
    if dtype is not None and not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    if window_length == 0:
        w = np.zeros(0)
    elif window_length == 1:
        w = np.ones(1)
    else:
        # a periodic window is the symmetric one of length + 1 without its last point
        w = fn(window_length + 1 if periodic else window_length)[:window_length]
    return _finish(w, dtype, device, requires_grad)


@export(method=False)
def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False, pin_memory=False):
    return _legacy_window("hann_window", window_length, periodic, dtype, device, requires_grad,
                          lambda n: _cosine_sum(n, (0.5, 0.5), True))


@export(method=False)
def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False, pin_memory=False):
    return _legacy_window("hamming_window", window_length, periodic, dtype, device,
                          requires_grad, lambda n: _cosine_sum(n, (alpha, beta), True))


@export(method=False)
def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False, pin_memory=False):
    return _legacy_window("blackman_window", window_length, periodic, dtype, device,
                          requires_grad, lambda n: _cosine_sum(n, (0.42, 0.5, 0.08), True))


@export(method=False)
def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False, pin_memory=False):
    return _legacy_window("bartlett_window", window_length, periodic, dtype, device,
                          requires_grad, lambda n: _bartlett(n, True))


@export(method=False)
def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False, pin_memory=False):
    return _legacy_window("kaiser_window", window_length, periodic, dtype, device,
                          requires_grad, lambda n: _kaiser(n, beta, True))


# ---------------------------------------------------------------------------
# torch.signal.windows (scipy conventions: ``sym`` instead of ``periodic``)
# ---------------------------------------------------------------------------

def _signal_checks(name, M, dtype):
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    dt = dtype or D.get_default_dtype()
    if dt not in (D.float32, D.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dt}")


def signal_window(name, M, sym, dtype, device, requires_grad, **p):
    """The window ``name`` of ``ember.signal.windows`` with parameters ``p``."""
    _signal_checks(name, M, dtype)
    if name == "exponential":
        if p["tau"] <= 0:
            raise ValueError(f"Tau must be positive, got: {p['tau']} instead.")
        if sym and p["center"] is not None:
            raise ValueError("Center must be None for symmetric windows")
    if name == "gaussian" and p["std"] <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {p['std']} instead.")
    if name == "kaiser" and p["beta"] < 0:
        raise ValueError(f"beta must be non-negative, got: {p['beta']} instead.")
    if name == "general_cosine":
        a = p["a"]
        if not isinstance(a, (list, tuple)):
            raise TypeError("Coefficients must be a list/tuple")
        if not a:
            raise ValueError("Coefficients cannot be empty")
    if M == 0:
        return _finish(np.zeros(0), dtype, device, requires_grad)
    n = np.arange(M)
    if name == "exponential":
        c = p["center"]
        c = (M if not sym and M > 1 else M - 1) / 2.0 if c is None else c
        w = np.exp(-np.abs((n - c) / p["tau"]))
    elif name == "cosine":
        w = np.sin((n + 0.5) * (math.pi / (M + 1 if not sym and M > 1 else M)))
    elif name == "gaussian":
        start = -(M if not sym and M > 1 else M - 1) / 2.0
        w = np.exp(-(((start + n) / (p["std"] * math.sqrt(2))) ** 2))
    elif name == "kaiser":
        w = _kaiser(M, p["beta"], sym)
    elif name == "bartlett":
        w = _bartlett(M, sym)
    else:
        a = {"hann": (0.5, 0.5), "hamming": (0.54, 0.46), "blackman": (0.42, 0.5, 0.08),
             "nuttall": (0.3635819, 0.4891775, 0.1365995, 0.0106411)}.get(name)
        if name == "general_hamming":
            a = (p["alpha"], 1.0 - p["alpha"])
        elif name == "general_cosine":
            a = p["a"]
        w = _cosine_sum(M, a, sym)
    return _finish(w, dtype, device, requires_grad)
