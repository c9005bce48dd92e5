"""ember.fft and stft/istft against PyTorch: values, gradients (real and complex
inputs, every norm mode, resizing) and gradcheck."""
import numpy as np
import pytest
from reference import check, check_raises, gradcheck, randn

import ember

F64 = np.float64


def cplx(*shape, dtype=np.complex128):
    return (randn(*shape) + 1j * randn(*shape)).astype(dtype)


NORMS = [None, "forward", "ortho", "backward"]

C2C = [
    lambda m, x, nm: m.fft.fft(x, norm=nm), lambda m, x, nm: m.fft.ifft(x, n=7, norm=nm),
    lambda m, x, nm: m.fft.fft(x, n=3, dim=0, norm=nm),
    lambda m, x, nm: m.fft.fft2(x, norm=nm), lambda m, x, nm: m.fft.ifft2(x, s=(3, 8), norm=nm),
    lambda m, x, nm: m.fft.fftn(x, norm=nm), lambda m, x, nm: m.fft.ifftn(x, dim=(0, 2), norm=nm),
    lambda m, x, nm: m.fft.fftn(x, s=(2, -1), norm=nm),
    lambda m, x, nm: m.fft.hfft(x, norm=nm), lambda m, x, nm: m.fft.hfft(x, n=9, norm=nm),
    lambda m, x, nm: m.fft.hfft2(x, norm=nm), lambda m, x, nm: m.fft.hfftn(x, s=(4, 6), norm=nm),
    lambda m, x, nm: m.fft.irfft(x, norm=nm), lambda m, x, nm: m.fft.irfft(x, n=7, dim=1, norm=nm),
    lambda m, x, nm: m.fft.irfft2(x, norm=nm), lambda m, x, nm: m.fft.irfftn(x, s=(3, 5), norm=nm),
    lambda m, x, nm: m.fft.irfftn(x, dim=(0, 2), norm=nm),
]
R2C = [
    lambda m, x, nm: m.fft.rfft(x, norm=nm), lambda m, x, nm: m.fft.rfft(x, n=9, dim=1, norm=nm),
    lambda m, x, nm: m.fft.rfft2(x, norm=nm), lambda m, x, nm: m.fft.rfftn(x, s=(3, 4), norm=nm),
    lambda m, x, nm: m.fft.ihfft(x, norm=nm), lambda m, x, nm: m.fft.ihfft2(x, norm=nm),
    lambda m, x, nm: m.fft.ihfftn(x, dim=(0, 1), norm=nm),
    lambda m, x, nm: m.fft.fft(x, norm=nm), lambda m, x, nm: m.fft.fftn(x, norm=nm),
]


@pytest.mark.parametrize("nm", NORMS)
@pytest.mark.parametrize("i", range(len(C2C)))
def test_complex_input(i, nm):
    check(lambda m, x: C2C[i](m, x, nm), cplx(3, 4, 6))


@pytest.mark.parametrize("nm", NORMS)
@pytest.mark.parametrize("i", range(len(R2C)))
def test_real_input(i, nm):
    check(lambda m, x: R2C[i](m, x, nm), randn(3, 4, 6).astype(F64))


def test_single_precision_and_dtypes():
    check(lambda m, x: m.fft.fft(x), cplx(5, dtype=np.complex64))
    check(lambda m, x: m.fft.rfft(x), randn(6))
    check(lambda m, x: m.fft.irfft(x), cplx(4, dtype=np.complex64))
    check(lambda m, x: m.fft.fft(x), np.arange(5), grad=False)
    check_raises(lambda m, x: m.fft.fft(x.half()), randn(4))
    check_raises(lambda m, x: m.fft.rfft(x), cplx(4))
    check_raises(lambda m, x: m.fft.fft(x, n=0), randn(4))
    check_raises(lambda m, x: m.fft.fft(x, norm="bad"), randn(4))


def test_freq_and_shift():
    for n in (1, 4, 5):
        check(lambda m: m.fft.fftfreq(n, d=0.5), grad=False)
        check(lambda m: m.fft.rfftfreq(n, dtype=m.float64), grad=False)
    check(lambda m, x: m.fft.fftshift(x), randn(4, 5))
    check(lambda m, x: m.fft.ifftshift(x), randn(4, 5))
    check(lambda m, x: m.fft.fftshift(x, dim=1), randn(4, 5))
    check(lambda m, x: m.fft.ifftshift(x, dim=(0,)), cplx(5, 3))


def test_double_backward():
    check(lambda m, x: m.autograd.grad((m.fft.rfft(x).abs() ** 2).sum(), x, create_graph=True)[0],
          randn(6).astype(F64))


STFT = [
    lambda m, x, w: m.stft(x, 8, return_complex=True),
    lambda m, x, w: m.stft(x, 8, hop_length=3, window=w, return_complex=True),
    lambda m, x, w: m.stft(x, 8, win_length=6, window=w[:6], center=False, return_complex=True),
    lambda m, x, w: m.stft(x, 8, window=w, normalized=True, onesided=False, return_complex=True),
    lambda m, x, w: m.stft(x, 8, window=w, pad_mode="constant", return_complex=False),
    lambda m, x, w: x.stft(8, window=w, pad_mode="replicate", return_complex=True),
]


@pytest.mark.parametrize("i", range(len(STFT)))
@pytest.mark.parametrize("shape", [(40,), (2, 33)])
def test_stft(i, shape):
    w = np.hanning(10)[1:9].astype(F64)
    check(lambda m, x, w: STFT[i](m, x, w), randn(*shape).astype(F64), w)


def test_stft_complex_and_errors():
    check(lambda m, x: m.stft(x, 8, return_complex=True), cplx(30))
    check_raises(lambda m, x: m.stft(x, 8), randn(30))
    check_raises(lambda m, x: m.stft(x, 64, return_complex=True, center=False), randn(30))


ISTFT = [
    dict(n_fft=8), dict(n_fft=8, hop_length=2), dict(n_fft=8, center=False),
    dict(n_fft=8, normalized=True, length=35), dict(n_fft=8, length=50),
    dict(n_fft=8, win_length=6, hop_length=2),
]


@pytest.mark.parametrize("kw", ISTFT, ids=[str(k) for k in ISTFT])
def test_istft(kw):
    win_length = kw.get("win_length", 8)

    def f(m, x):
        w = m.hamming_window(win_length, dtype=m.float64)
        spec = m.stft(x, kw["n_fft"], hop_length=kw.get("hop_length"), win_length=win_length,
                      window=w, center=kw.get("center", True), normalized=kw.get("normalized",
                                                                                 False),
                      return_complex=True)
        return m.istft(spec, window=w, **kw)
    check(f, randn(2, 40).astype(F64))


def test_istft_roundtrip_and_twosided():
    x = ember.randn(40, dtype=ember.float64)
    w = ember.hann_window(8, dtype=ember.float64)
    spec = ember.stft(x, 8, window=w, return_complex=True)
    np.testing.assert_allclose(ember.istft(spec, 8, window=w, length=40).numpy(), x.numpy(),
                               atol=1e-12)
    check(lambda m, s: m.istft(s, 8, onesided=False), cplx(8, 9))
    check(lambda m, s: m.istft(s, 8, onesided=False, return_complex=True), cplx(8, 9))
    check_raises(lambda m, s: m.istft(s, 8), randn(5, 9))
    # a Hann window without centering leaves the first sample unrecoverable
    check_raises(lambda m, s: m.istft(s, 8, window=m.hann_window(8), center=False),
                 cplx(5, 9, dtype=np.complex64))


GRADCHECK = [
    (lambda x: ember.fft.rfft(x, n=5), [randn(4)]),
    (lambda x: ember.fft.irfft(ember.fft.rfft(x) * 1.5, n=6).sum(-1), [randn(3, 6)]),
    (lambda x: ember.fft.fftn(x, norm="ortho").real, [randn(3, 4)]),
    (lambda x: ember.fft.ihfftn(x).imag, [randn(3, 4)]),
    (lambda x: ember.fft.hfft(ember.fft.ihfft(x) * 2), [randn(5)]),
    (lambda x: ember.fft.fftshift(x * 3), [randn(3, 4)]),
    (lambda x: ember.stft(x, 4, hop_length=2, return_complex=True).real, [randn(10)]),
    (lambda x: ember.istft(ember.stft(x, 4, hop_length=1, return_complex=True) * 1.5, 4,
                           hop_length=1), [randn(12)]),
]


@pytest.mark.parametrize("i", range(len(GRADCHECK)))
def test_gradcheck(i):
    fn, inputs = GRADCHECK[i]
    assert gradcheck(fn, *[np.asarray(x, F64) for x in inputs])


WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
def test_windows(name):
    for n in (0, 1, 2, 7, 8):
        for periodic in (True, False):
            check(lambda m: getattr(m, name)(n, periodic, dtype=m.float64), grad=False)
    check(lambda m: getattr(m, name)(6), grad=False)
    check(lambda m: getattr(m, name)(5, requires_grad=True), grad=False)
    check_raises(lambda m: getattr(m, name)(-1))
    check_raises(lambda m: getattr(m, name)(4, dtype=m.int64))
    check(lambda m: m.hamming_window(7, False, 0.5, 0.4), grad=False)
    check(lambda m: m.kaiser_window(7, False, 5.0), grad=False)


SIGNAL = [("bartlett", {}), ("blackman", {}), ("cosine", {}), ("exponential", {}),
          ("exponential", {"tau": 0.5}), ("gaussian", {"std": 2.0}),
          ("general_cosine", {"a": [0.46, 0.23, 0.31]}), ("general_hamming", {"alpha": 0.6}),
          ("hamming", {}), ("hann", {}), ("kaiser", {"beta": 4.0}), ("nuttall", {})]


@pytest.mark.parametrize("name,kw", SIGNAL, ids=[f"{n}{k}" for n, k in SIGNAL])
def test_signal_windows(name, kw):
    for n in (0, 1, 2, 7, 10):
        for sym in (True, False):
            check(lambda m: getattr(m.signal.windows, name)(n, sym=sym, **kw), grad=False)
    check(lambda m: getattr(m.signal.windows, name)(5, dtype=m.float64, **kw), grad=False)
    check_raises(lambda m: getattr(m.signal.windows, name)(-1, **kw))
    check_raises(lambda m: getattr(m.signal.windows, name)(3, dtype=m.float16, **kw))
    if name == "exponential":
        check(lambda m: m.signal.windows.exponential(6, center=1.0, sym=False), grad=False)
        check_raises(lambda m: m.signal.windows.exponential(6, center=1.0))
