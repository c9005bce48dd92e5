"""``ember.signal.windows``: SciPy-style windows, as ``torch.signal.windows``
(computed in ``ember/_ops/windows.py``)."""
from ..._ops.windows import signal_window as _w

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=None, device=None,
                requires_grad=False):
    return _w("exponential", M, sym, dtype, device, requires_grad, center=center, tau=tau)


def cosine(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return _w("cosine", M, sym, dtype, device, requires_grad)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=None, device=None,
             requires_grad=False):
    return _w("gaussian", M, sym, dtype, device, requires_grad, std=std)


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=None, device=None,
           requires_grad=False):
    return _w("kaiser", M, sym, dtype, device, requires_grad, beta=beta)


def hamming(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return _w("hamming", M, sym, dtype, device, requires_grad)


def hann(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return _w("hann", M, sym, dtype, device, requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return _w("blackman", M, sym, dtype, device, requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return _w("bartlett", M, sym, dtype, device, requires_grad)


def general_cosine(M, *, a, sym=True, dtype=None, layout=None, device=None,
                   requires_grad=False):
    return _w("general_cosine", M, sym, dtype, device, requires_grad, a=a)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=None, device=None,
                    requires_grad=False):
    return _w("general_hamming", M, sym, dtype, device, requires_grad, alpha=alpha)


def nuttall(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return _w("nuttall", M, sym, dtype, device, requires_grad)
