"""Discrete Fourier transforms (``ember.fft``) and the short-time transforms
``stft``/``istft``.

Every transform is built from three differentiable cores on the array
module's FFT: complex-to-complex (``_c2c``), real-to-onesided-complex
(``_r2c``) and its inverse (``_c2r``), each with a scale factor from the
``norm`` mode. Their backward rules are the adjoint transforms (as PyTorch's
``fft_r2c_backward``/``fft_c2r_backward``), so gradients of any composition
and double backward come for free. The public functions only resize inputs
(with differentiable narrow/pad) and pick the core. They are exported with
``function=False`` because ``ember.fft`` is the subpackage.
"""
import math
import warnings

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from ._core import FUNCTIONS, export, node, record, wrap, wrap_dim
from ._outarg import with_out

_NORMS = (None, "backward", "ortho", "forward")


def _scale(norm, n, forward):
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    if norm == "ortho":
        return 1.0 / math.sqrt(n) if n else 1.0
    if (norm == "forward") == forward:
        return 1.0 / n if n else 1.0
    return 1.0


def _swap(norm):
    return {None: "forward", "backward": "forward", "forward": "backward"}.get(norm, norm)


def _xp(a):
    return np if type(a) is np.ndarray else xp_of(a)


def _complex_input(x):
    """``x`` as a complex tensor (integers go through the default float)."""
    dt = x._dtype
    if dt.is_complex:
        return x
    if dt in (D.float16, D.bfloat16):
        raise RuntimeError(f"Unsupported dtype {_legacy(dt)}")
    if not dt.is_floating_point:
        x = x.to(D.get_default_dtype())
    return x.to(x._dtype.to_complex())


def _real_input(x, name):
    dt = x._dtype
    if dt.is_complex:
        raise RuntimeError(f"{name} expects a real input tensor, but got {_legacy(dt)}")
    if dt in (D.float16, D.bfloat16):
        raise RuntimeError(f"Unsupported dtype {_legacy(dt)}")
    return x if dt.is_floating_point else x.to(D.get_default_dtype())


def _legacy(dt):
    from ._core import _legacy_name
    return _legacy_name(dt)


# ---------------------------------------------------------------------------
# The three cores
# ---------------------------------------------------------------------------

def _c2c_backward(ctx, g):
    return (_c2c(g, ctx.dims, not ctx.forward, ctx.scale),)


FftC2CBackward0 = node("FftC2CBackward0", _c2c_backward)


def _c2c(x, dims, forward, scale):
    a = x._data
    xp = _xp(a)
    if not dims:
        r = a.copy()
    elif forward:
        r = xp.fft.fftn(a, axes=dims, norm="backward")
    else:
        r = xp.fft.ifftn(a, axes=dims, norm="forward")
    if scale != 1:
        r *= scale
    out = wrap(r.astype(a.dtype, copy=False), x._dtype)
    record(FftC2CBackward0, (x,), out, dims=dims, forward=forward, scale=scale)
    return out


def _r2c_backward(ctx, g):
    d, n = ctx.dim, ctx.n
    m = g.shape[d]
    if n > m:  # the dropped half of the spectrum gets no gradient
        g = FUNCTIONS["cat"]([g, g.new_zeros(*_with(g.shape, d, n - m))], d)
    return (_c2c(g, (d,), False, ctx.scale).real,)


FftR2CBackward0 = node("FftR2CBackward0", _r2c_backward)


def _with(shape, d, v):
    s = list(shape)
    s[d] = v
    return s


def _r2c(x, dim, scale):
    a = x._data
    xp = _xp(a)
    r = xp.fft.rfft(a, axis=dim, norm="backward")
    if scale != 1:
        r *= scale
    cdt = x._dtype.to_complex()
    out = wrap(r.astype(cdt.np, copy=False), cdt)
    record(FftR2CBackward0, (x,), out, dim=dim, n=a.shape[dim], scale=scale)
    return out


def _c2r_backward(ctx, g):
    d, m = ctx.dim, ctx.m
    gi = _r2c(g, d, ctx.scale)
    double = g.shape[d] - m  # entries whose mirror image is outside the onesided half
    if double > 0:
        xp = _xp(gi._data)
        w = xp.ones(m, dtype=gi._data.real.dtype)
        w[1:1 + double] = 2
        shape = [1] * gi.dim()
        shape[d] = m
        gi = gi * wrap(w.reshape(shape), gi._dtype.to_real())
    return (gi,)


FftC2RBackward0 = node("FftC2RBackward0", _c2r_backward)


def _c2r(x, dim, n, scale):
    """Onesided ``x`` (``n // 2 + 1`` long along ``dim``) to a real signal of ``n``."""
    a = x._data
    xp = _xp(a)
    r = xp.fft.irfft(a, n=n, axis=dim, norm="forward")
    if scale != 1:
        r *= scale
    rdt = x._dtype.to_real()
    out = wrap(r.astype(rdt.np, copy=False), rdt)
    record(FftC2RBackward0, (x,), out, dim=dim, m=a.shape[dim], scale=scale)
    return out


# ---------------------------------------------------------------------------
# Sizes and dims
# ---------------------------------------------------------------------------

def _resize(x, dim, n):
    """``x`` cut or zero-padded to ``n`` along ``dim`` (differentiably)."""
    m = x.shape[dim]
    if n == m:
        return x
    if n < m:
        return x.narrow(dim, 0, n)
    return FUNCTIONS["cat"]([x, x.new_zeros(*_with(x.shape, dim, n - m))], dim)


def _check_n(n, name):
    if n is not None and n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _dims_and_sizes(x, s, dim, name, last_c2r=False):
    """PyTorch's canonicalisation of ``s``/``dim`` for the n-dimensional transforms."""
    nd = x.dim()
    if dim is not None:
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = [wrap_dim(d, nd) for d in dims]
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    elif s is not None:
        if len(s) > nd:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {nd} "
                               "dimensions.")
        dims = list(range(nd - len(s), nd))
    else:
        dims = list(range(nd))
    if s is None:
        sizes = [x.shape[d] for d in dims]
        if last_c2r and dims:
            sizes[-1] = 2 * (x.shape[dims[-1]] - 1)
    else:
        sizes = [x.shape[d] if v == -1 else v for d, v in zip(dims, s)]
        if last_c2r and dims and s[-1] == -1:
            sizes[-1] = 2 * (x.shape[dims[-1]] - 1)
    for v in sizes:
        if v < 1:
            raise RuntimeError(f"Invalid number of data points ({v}) specified")
    return dims, sizes


# ---------------------------------------------------------------------------
# Public transforms
# ---------------------------------------------------------------------------

def _fftn_c2c(x, s, dim, norm, forward, name):
    x = _complex_input(x)
    dims, sizes = _dims_and_sizes(x, s, dim, name)
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    return _c2c(x, tuple(dims), forward, _scale(norm, math.prod(sizes), forward))


def _rfftn(x, s, dim, norm, name):
    x = _real_input(x, name)
    dims, sizes = _dims_and_sizes(x, s, dim, name)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    out = _r2c(x, dims[-1], _scale(norm, math.prod(sizes), True))
    return _c2c(out, tuple(dims[:-1]), True, 1.0) if len(dims) > 1 else out


def _irfftn(x, s, dim, norm, name):
    x = _complex_input(x)
    dims, sizes = _dims_and_sizes(x, s, dim, name, last_c2r=True)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    for d, n in zip(dims[:-1], sizes[:-1]):
        x = _resize(x, d, n)
    x = _resize(x, dims[-1], sizes[-1] // 2 + 1)
    if len(dims) > 1:
        x = _c2c(x, tuple(dims[:-1]), False, 1.0)
    return _c2r(x, dims[-1], sizes[-1], _scale(norm, math.prod(sizes), False))


@with_out
def fft(input, n=None, dim=-1, norm=None):
    _check_n(n, "fft")
    return _fftn_c2c(input, None if n is None else (n,), (dim,), norm, True, "fft")


@with_out
def ifft(input, n=None, dim=-1, norm=None):
    _check_n(n, "ifft")
    return _fftn_c2c(input, None if n is None else (n,), (dim,), norm, False, "ifft")


@with_out
def fft2(input, s=None, dim=(-2, -1), norm=None):
    return _fftn_c2c(input, s, dim, norm, True, "fft2")


@with_out
def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return _fftn_c2c(input, s, dim, norm, False, "ifft2")


@with_out
def fftn(input, s=None, dim=None, norm=None):
    return _fftn_c2c(input, s, dim, norm, True, "fftn")


@with_out
def ifftn(input, s=None, dim=None, norm=None):
    return _fftn_c2c(input, s, dim, norm, False, "ifftn")


@with_out
def rfft(input, n=None, dim=-1, norm=None):
    _check_n(n, "rfft")
    return _rfftn(input, None if n is None else (n,), (dim,), norm, "rfft")


@with_out
def irfft(input, n=None, dim=-1, norm=None):
    _check_n(n, "irfft")
    return _irfftn(input, None if n is None else (n,), (dim,), norm, "irfft")


@with_out
def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return _rfftn(input, s, dim, norm, "rfft2")


@with_out
def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return _irfftn(input, s, dim, norm, "irfft2")


@with_out
def rfftn(input, s=None, dim=None, norm=None):
    return _rfftn(input, s, dim, norm, "rfftn")


@with_out
def irfftn(input, s=None, dim=None, norm=None):
    return _irfftn(input, s, dim, norm, "irfftn")


# The Hermitian transforms: hfft is irfft of the conjugate with the forward
# normalisation, ihfft the conjugate of rfft with the inverse one.

@with_out
def hfft(input, n=None, dim=-1, norm=None):
    _check_n(n, "hfft")
    return _irfftn(_complex_input(input).conj(), None if n is None else (n,), (dim,),
                   _swap(norm), "hfft")


@with_out
def ihfft(input, n=None, dim=-1, norm=None):
    _check_n(n, "ihfft")
    return _rfftn(input, None if n is None else (n,), (dim,), _swap(norm), "ihfft").conj()


@with_out
def hfft2(input, s=None, dim=(-2, -1), norm=None):
    return _irfftn(_complex_input(input).conj(), s, dim, _swap(norm), "hfft2")


@with_out
def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    return _rfftn(input, s, dim, _swap(norm), "ihfft2").conj()


@with_out
def hfftn(input, s=None, dim=None, norm=None):
    return _irfftn(_complex_input(input).conj(), s, dim, _swap(norm), "hfftn")


@with_out
def ihfftn(input, s=None, dim=None, norm=None):
    return _rfftn(input, s, dim, _swap(norm), "ihfftn").conj()


def _freq(n, d, dtype, device, requires_grad, onesided):
    from .creation import arange
    dt = dtype or D.get_default_dtype()
    if onesided:
        v = arange(n // 2 + 1, dtype=dt, device=device)
    else:
        k = np.concatenate([np.arange((n + 1) // 2), np.arange(-(n // 2), 0)])
        from .creation import tensor
        v = tensor(k, dtype=dt, device=device)
    out = v / (n * d)
    return out.requires_grad_(requires_grad) if requires_grad else out


@with_out
def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    return _freq(n, d, dtype, device, requires_grad, False)


@with_out
def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    return _freq(n, d, dtype, device, requires_grad, True)


def _shift(input, dim, inverse):
    dims = list(range(input.dim())) if dim is None else [dim] if isinstance(dim, int) \
        else list(dim)
    shifts = [-(input.shape[d] // 2) if inverse else input.shape[d] // 2 for d in dims]
    return input.roll(shifts, dims)


def fftshift(input, dim=None):
    return _shift(input, dim, False)


def ifftshift(input, dim=None):
    return _shift(input, dim, True)


# ---------------------------------------------------------------------------
# stft / istft
# ---------------------------------------------------------------------------

def _pad_signal(x, pad, mode):
    """Pads the last dim of ``x`` by ``pad`` on both sides (``F.pad`` modes)."""
    if mode == "constant":
        z = x.new_zeros(*x.shape[:-1], pad)
        return FUNCTIONS["cat"]([z, x, z], -1)
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if np_mode is None:
        raise NotImplementedError(f"stft: unsupported pad_mode '{mode}'")
    L = x.shape[-1]
    if mode == "reflect" and pad >= L:
        raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                           f"input dimension, but got: padding ({pad}, {pad}) at dimension "
                           f"{x.dim() - 1} of input {list(x.shape)}")
    idx = np.pad(np.arange(L), pad, mode=np_mode)
    return FUNCTIONS["index_select"](x, -1, wrap(_xp(x._data).asarray(idx)))


def _window(window, win_length, n_fft, like, name):
    if window is not None:
        if window.dim() != 1 or window.shape[0] != win_length:
            raise RuntimeError(f"{name}: expected a 1D window tensor of size equal to "
                               f"win_length={win_length}, but got window with size "
                               f"{list(window.shape)}")
    if win_length == n_fft:
        return window
    if window is None:
        window = like.new_ones(win_length)
    left = (n_fft - win_length) // 2
    z = FUNCTIONS["cat"]
    return z([window.new_zeros(left), window, window.new_zeros(n_fft - win_length - left)])


@export("stft")
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None):
    name = "stft"
    cx = input._dtype.is_complex or (window is not None and window._dtype.is_complex)
    if return_complex is None:
        if not cx:
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs, and will further require that return_complex=True in "
                               "a future PyTorch release.")
        return_complex = True
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch "
                      "release, stft will return complex tensors for all inputs, and "
                      "return_complex=False will raise an error.", UserWarning, stacklevel=2)
    if input.dim() not in (1, 2):
        raise RuntimeError(f"{name}: expected a 1D or 2D tensor, but got {list(input.shape)}")
    x = input if input.dim() == 2 else input.unsqueeze(0)
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        x = x.to(D.get_default_dtype())
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if center:
        x = _pad_signal(x, n_fft // 2, pad_mode)
    L = x.shape[-1]
    if n_fft <= 0 or n_fft > L:
        raise RuntimeError(f"{name}: expected 0 < n_fft < {L}, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(f"{name}: expected hop_length > 0, but got hop_length={hop}")
    if win <= 0 or win > n_fft:
        raise RuntimeError(f"{name}: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win}")
    w = _window(window, win, n_fft, x, name)
    frames = x.unfold(-1, n_fft, hop)  # (B, n_frames, n_fft)
    if w is not None:
        frames = frames * w
    norm = "ortho" if normalized else "backward"
    if onesided is None:
        onesided = not cx
    if onesided and cx:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    spec = rfft(frames, dim=-1, norm=norm) if onesided else fft(frames, dim=-1, norm=norm)
    spec = spec.transpose(-1, -2)
    if input.dim() == 1:
        spec = spec.squeeze(0)
    if return_complex:
        return spec
    return FUNCTIONS["view_as_real"](spec)


@export("istft")
def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    name = "istft"
    if not input._dtype.is_complex:
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"{name}: expected a tensor with 2 or 3 dimensions of complex "
                           f"dtype, but got {input.dim()}")
    x = input if input.dim() == 3 else input.unsqueeze(0)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    n_freq, n_frames = x.shape[-2], x.shape[-1]
    if onesided is None:
        onesided = n_freq != n_fft
    if onesided and n_fft // 2 + 1 != n_freq:
        raise RuntimeError(f"{name}: expected the frequency dimension (3rd to the last) of the "
                           f"input tensor to match n_fft / 2 + 1 when onesided=True, but got "
                           f"{n_freq}")
    if not onesided and n_fft != n_freq:
        raise RuntimeError(f"{name}: expected the frequency dimension (3rd to the last) of the "
                           f"input tensor to match n_fft when onesided=False, but got {n_freq}")
    if not 0 < hop <= win:
        raise RuntimeError(f"{name}: expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{name}: expected 0 < win_length <= n_fft")
    w = _window(window, win, n_fft, x.real, name)
    if w is None:
        w = x.real.new_ones(n_fft)
    norm = "ortho" if normalized else "backward"
    x = x.transpose(-1, -2)  # (B, n_frames, n_freq)
    if return_complex:
        if onesided:
            raise RuntimeError("cannot have onesided output if window or input is complex")
        frames = ifft(x, n_fft, -1, norm)
    else:
        if w._dtype.is_complex:
            raise RuntimeError("Complex windows are incompatible with return_complex=False")
        if not onesided:
            x = x.narrow(-1, 0, n_fft // 2 + 1)
        frames = irfft(x, n_fft, -1, norm)
    frames = frames * w
    total = n_fft + hop * (n_frames - 1)
    xp = _xp(frames._data)
    idx = (np.arange(n_frames)[:, None] * hop + np.arange(n_fft)[None, :]).reshape(-1)
    B = frames.shape[0]
    idx = wrap(xp.asarray(idx))
    y = frames.new_zeros(B, total).index_add(1, idx, frames.reshape(B, n_frames * n_fft))
    wsq = w * w
    env = wsq.new_zeros(total).index_add(0, idx, wsq.expand(n_frames, n_fft).reshape(-1))
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else (total - n_fft // 2 if center else total)
    stop = min(end, total)
    y = y[:, start:stop]
    env = env[start:stop]
    low = float(env.detach().abs().min()) if env.numel() else 1.0
    if low < 1e-11:
        raise RuntimeError(f"{name}(...): window overlap add min: {low}")
    y = y / env
    if end > total:
        warnings.warn("The length of signal is shorter than the length parameter. Result is "
                      "being padded with zeros in the tail. Please check your center and "
                      "hop_length settings.", UserWarning, stacklevel=2)
        y = FUNCTIONS["cat"]([y, y.new_zeros(B, end - total)], -1)
    return y.squeeze(0) if input.dim() == 2 else y

