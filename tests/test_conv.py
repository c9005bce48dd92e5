"""Convolutions: conv1d/2d/3d, conv_transpose1d/2d/3d (functional, ops, layers)
against PyTorch, gradcheck/gradgradcheck in float64, errors."""
import numpy as np
import pytest
import torch
from layer_ref import cpu_vs_cuda, layer_check, sweep
from reference import check, check_raises, gradcheck, randn

import ember

F_NAMES = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]


@pytest.mark.parametrize("name", F_NAMES)
def test_opinfo(name):
    n = sweep(f"nn.functional.{name}", lambda m, x, *a, **k: getattr(m.nn.functional, name)(
        x, *a, **k))
    assert n >= 10


CASES_2D = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
    dict(stride=3, dilation=2, padding=2),
]


@pytest.mark.parametrize("kw", CASES_2D)
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d(kw, groups):
    w = randn(6, 4 // groups, 3, 2)
    check(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, groups=groups, **kw),
          randn(2, 4, 7, 8), w, randn(6))


def test_conv_same_even_kernel_and_unbatched():
    # asymmetric 'same' padding (even kernel): PyTorch pads one more on the right
    check(lambda m, x, w: m.nn.functional.conv2d(x, w, padding="same"), randn(2, 3, 6, 5),
          randn(4, 3, 4, 2))
    check(lambda m, x, w: m.nn.functional.conv1d(x, w, padding="same", dilation=3),
          randn(3, 9), randn(2, 3, 2))
    check(lambda m, x, w: m.conv3d(x, w, stride=(1, 2, 1)), randn(2, 5, 4, 5), randn(3, 2, 2, 2, 2))


def test_conv1d_3d_and_depthwise():
    check(lambda m, x, w, b: m.nn.functional.conv1d(x, w, b, stride=2, padding=3, dilation=2,
                                                    groups=3), randn(2, 6, 11), randn(9, 2, 3),
          randn(9))
    check(lambda m, x, w, b: m.nn.functional.conv3d(x, w, b, stride=(1, 2, 2), padding=1,
                                                    groups=2), randn(2, 4, 4, 5, 6),
          randn(4, 2, 3, 3, 2), randn(4))
    check(lambda m, x, w: m.nn.functional.conv2d(x, w, padding=1, groups=4), randn(2, 4, 5, 5),
          randn(8, 1, 3, 3))


@pytest.mark.parametrize("kw", [
    dict(),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(3, 2), padding=(1, 0), output_padding=(2, 1), dilation=(1, 2)),
    dict(stride=1, output_padding=1, dilation=2),   # output_padding < dilation
    dict(groups=2, stride=2),
])
def test_conv_transpose2d(kw):
    check(lambda m, x, w, b: m.nn.functional.conv_transpose2d(x, w, b, **kw), randn(2, 4, 5, 4),
          randn(4, 3, 3, 2), randn(3 * kw.get("groups", 1)))


def test_conv_transpose1d_3d():
    check(lambda m, x, w: m.nn.functional.conv_transpose1d(x, w, None, 2, 1, 1, 3, 2),
          randn(2, 6, 7), randn(6, 2, 3))
    check(lambda m, x, w, b: m.nn.functional.conv_transpose3d(x, w, b, stride=(2, 1, 2),
                                                              padding=(0, 1, 1)),
          randn(4, 3, 4, 3), randn(4, 2, 2, 3, 3), randn(2))


def test_dtypes():
    check(lambda m, x, w: m.conv2d(x, w, padding=1), randn(2, 3, 5, 5, dtype=np.float64),
          randn(4, 3, 3, 3, dtype=np.float64))
    for dt in (torch.float16, torch.bfloat16):
        x = torch.randn(2, 3, 5, 5).to(dt)
        w = torch.randn(4, 3, 3, 3).to(dt)
        check(lambda m, x, w: m.nn.functional.conv2d(x, w, padding=1), x, w, grad=False)
    x = torch.randint(-3, 4, (2, 3, 5, 5))
    w = torch.randint(-3, 4, (4, 3, 3, 3))
    check(lambda m, x, w: m.nn.functional.conv2d(x, w, stride=2), x, w)


def test_grad_fn_and_no_grad():
    x = ember.randn(2, 3, 5, 5, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    y = ember.nn.functional.conv2d(x, w)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    assert y.is_contiguous()
    with ember.no_grad():
        assert ember.nn.functional.conv2d(x, w).grad_fn is None


def test_errors():
    cases = [
        (lambda m, x, w: m.nn.functional.conv2d(x, w), randn(2, 4, 5, 5), randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w), randn(2, 3), randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w), randn(2, 3, 2, 2), randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w, stride=0), randn(1, 3, 5, 5),
         randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w, padding=-1), randn(1, 3, 5, 5),
         randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w, groups=2), randn(1, 4, 5, 5),
         randn(3, 2, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w, padding="same", stride=2),
         randn(1, 3, 5, 5), randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w, padding="full"), randn(1, 3, 5, 5),
         randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w, stride=(1, 1, 1)), randn(1, 3, 5, 5),
         randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w.double()), randn(1, 3, 5, 5),
         randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv2d(x, w, m.zeros(3)), randn(1, 3, 5, 5),
         randn(4, 3, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, output_padding=1),
         randn(1, 3, 5, 5), randn(3, 4, 3, 3)),
        (lambda m, x, w: m.nn.functional.conv_transpose2d(x, w), randn(1, 3, 5, 5),
         randn(4, 4, 3, 3)),
    ]
    for fn, *inputs in cases:
        check_raises(fn, *inputs)


# ---------------------------------------------------------------------------
# gradcheck / double backward (float64)
# ---------------------------------------------------------------------------

def test_gradcheck_conv():
    F = ember.nn.functional
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=1,
                                              groups=2), randn(1, 2, 4, 3), randn(2, 1, 2, 2),
                     randn(2))
    assert gradcheck(lambda x, w: F.conv1d(x, w, padding="same", dilation=2), randn(2, 2, 5),
                     randn(2, 2, 2))
    assert gradcheck(lambda x, w: F.conv3d(x, w, stride=(1, 2, 1)), randn(1, 1, 3, 3, 2),
                     randn(2, 1, 2, 2, 1))
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                        output_padding=1, groups=2),
                     randn(1, 2, 2, 3), randn(2, 1, 2, 2), randn(2))
    assert gradcheck(lambda x, w: F.conv_transpose1d(x, w, dilation=2, output_padding=1),
                     randn(1, 2, 3), randn(2, 1, 2))


def test_double_backward():
    F = ember.nn.functional
    gg = ember.autograd.gradgradcheck
    x = ember.from_numpy(randn(1, 2, 4, 3, dtype=np.float64)).requires_grad_()
    w = ember.from_numpy(randn(2, 1, 2, 2, dtype=np.float64)).requires_grad_()
    assert gg(lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=2), (x, w))
    assert gg(lambda x, w: F.conv_transpose2d(x, w, stride=2, groups=2, output_padding=1),
              (x, w))
    # and against torch: d/dx of <d(conv)/dw, v>
    xn, wn, vn = randn(2, 3, 5, 4, dtype=np.float64), randn(4, 3, 3, 2, dtype=np.float64), None
    res = []
    for m in (torch, ember):
        xt = (torch.from_numpy(xn) if m is torch else ember.from_numpy(xn)).requires_grad_()
        wt = (torch.from_numpy(wn) if m is torch else ember.from_numpy(wn)).requires_grad_()
        y = m.nn.functional.conv2d(xt, wt, stride=2, padding=1)
        vn = vn if vn is not None else np.random.default_rng(1).standard_normal(tuple(y.shape))
        v = torch.from_numpy(vn) if m is torch else ember.from_numpy(vn)
        gw, = m.autograd.grad((y * y * v).sum(), wt, create_graph=True)
        gx, = m.autograd.grad((gw * gw).sum(), xt)
        res.append(gx.detach().numpy())
    np.testing.assert_allclose(res[1], res[0], rtol=1e-7, atol=1e-9)


def test_saved_input_modified_raises():
    x = ember.randn(1, 2, 4, 4, requires_grad=True)
    w = ember.randn(3, 2, 3, 3, requires_grad=True)
    h = x * 1
    y = ember.nn.functional.conv2d(h, w)
    with ember.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_layer_padding_modes(mode):
    layer_check(lambda nn: nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(2, 1),
                                     padding_mode=mode), randn(2, 3, 6, 5))


def test_conv_layers():
    layer_check(lambda nn: nn.Conv1d(4, 6, 3, padding="same", groups=2, bias=False,
                                     padding_mode="reflect"), randn(2, 4, 7))
    layer_check(lambda nn: nn.Conv3d(2, 3, 2, stride=2, padding=1, dilation=1,
                                     padding_mode="circular"), randn(1, 2, 4, 5, 4))
    layer_check(lambda nn: nn.Conv2d(3, 4, 3, padding="same", dilation=2), randn(3, 5, 6))
    layer_check(lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                              groups=2), randn(2, 4, 3, 4))
    layer_check(lambda nn: nn.ConvTranspose1d(2, 3, 4, stride=3, dilation=2), randn(2, 2, 5))
    layer_check(lambda nn: nn.ConvTranspose3d(2, 2, (2, 3, 2), stride=(1, 2, 2), bias=False),
                randn(1, 2, 2, 3, 3))


def test_conv_transpose_output_size():
    x = randn(2, 3, 5, 5)
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    em = ember.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy()) for k, v in
                        tm.state_dict().items()})
    for size in [(9, 9), (10, 10), (2, 2, 10, 9)]:
        check(lambda m, x: (tm if m is torch else em)(x, output_size=size), x)
    check_raises(lambda m, x: (tm if m is torch else em)(x, output_size=(12, 12)), x)


def test_conv_init_and_params():
    ember.manual_seed(0)
    c = ember.nn.Conv2d(8, 16, 3, groups=2)
    assert tuple(c.weight.shape) == (16, 4, 3, 3) and tuple(c.bias.shape) == (16,)
    bound = 1 / np.sqrt(4 * 9)   # kaiming_uniform_(a=sqrt(5)) gives 1/sqrt(fan_in)
    w = c.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound
    assert np.abs(c.bias.detach().numpy()).max() <= bound
    t = ember.nn.ConvTranspose2d(8, 16, 3, groups=2)
    assert tuple(t.weight.shape) == (8, 8, 3, 3)
    with pytest.raises(ValueError):
        ember.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        ember.nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError):
        ember.nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")


def test_lazy_conv():
    for lazy, cls, shape, wshape in [
            (ember.nn.LazyConv2d(4, 3), ember.nn.Conv2d, (2, 3, 5, 5), (4, 3, 3, 3)),
            (ember.nn.LazyConv1d(4, 3, groups=2), ember.nn.Conv1d, (2, 6, 5), (4, 3, 3)),
            (ember.nn.LazyConvTranspose2d(4, 3, groups=2), ember.nn.ConvTranspose2d,
             (2, 6, 5, 5), (6, 2, 3, 3)),
            (ember.nn.LazyConv3d(2, 2), ember.nn.Conv3d, (3, 4, 4, 4), (2, 3, 2, 2, 2))]:
        y = lazy(ember.randn(*shape))
        assert type(lazy) is cls
        assert tuple(lazy.weight.shape) == wshape
        assert y.requires_grad


def test_torch_level_functions():
    check(lambda m, x, w, b: m.convolution(x, w, b, [2, 1], [1, 0], [1, 1], False, [0, 0], 1),
          randn(2, 3, 5, 5), randn(4, 3, 3, 3), randn(4))
    check(lambda m, x, w: m.convolution(x, w, None, [2], [1], [1], True, [1], 1),
          randn(2, 3, 5), randn(3, 4, 3))
    check(lambda m, x, w, b: m.conv_tbc(x, w, b, 1), randn(7, 2, 3), randn(3, 3, 4), randn(4))
    check(lambda m, x, w, b: m.nn.functional.conv_tbc(x, w, b, 1), randn(7, 2, 3),
          randn(3, 3, 4), randn(4))


def test_forward_without_kept_columns():
    """no_grad / frozen weight: im2col streamed in chunks (here 2, 2, 1 samples)."""
    x, w, b = randn(5, 16, 40, 40), randn(8, 16, 5, 5), randn(8)
    check(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, padding=1), x, w, b, grad=False,
          atol=1e-4)
    e = ember.nn.functional.conv2d(ember.from_numpy(x).requires_grad_(), ember.from_numpy(w),
                                   padding=1)
    t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
    np.testing.assert_allclose(e.detach().numpy(), t.numpy(), rtol=1e-4, atol=1e-4)
    assert e.grad_fn.cols is None


@pytest.mark.parametrize("pad", [1, 0, "same", 2])
def test_winograd_path_float64(pad):
    """3x3 stride-1 convs with >= 16 channels take the Winograd path: exact in float64
    (values and both gradients against torch)."""
    import ember._ops.conv as C
    x, w, b = randn(3, 16, 13, 11), randn(24, 16, 3, 3), randn(24)
    calls = []
    orig = C._conv_winograd
    C._conv_winograd = lambda *a, **k: calls.append(1) or orig(*a, **k)
    try:
        check(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, padding=pad),
              x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))
    finally:
        C._conv_winograd = orig
    assert calls, "the Winograd path was not taken"


def test_winograd_path_float32():
    """float32 Winograd stays within ~1e-5 of the output's scale (documented)."""
    x, w = randn(4, 32, 20, 20), (randn(32, 32, 3, 3) / np.sqrt(32 * 9)).astype(np.float32)
    e = ember.nn.functional.conv2d(ember.from_numpy(x), ember.from_numpy(w), padding=1)
    t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
    scale = float(np.abs(t.numpy()).max())
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=0, atol=5e-5 * scale)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    F = ember.nn.functional
    cpu_vs_cuda(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), randn(2, 3, 7, 6),
                 randn(4, 3, 3, 3), randn(4))
    cpu_vs_cuda(lambda x, w: F.conv2d(x, w, padding=1, groups=2), randn(2, 4, 6, 6),
                 randn(6, 2, 3, 3))
    cpu_vs_cuda(lambda x, w: F.conv_transpose2d(x, w, stride=2, output_padding=1),
                 randn(2, 3, 4, 5), randn(3, 2, 3, 3))
    cpu_vs_cuda(lambda x, w: F.conv_transpose1d(x, w), randn(2, 3, 6), randn(3, 2, 3))


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_winograd_transposed_adjoint(pad):
    """Stride-1 conv_transpose2d with >= 16 channels (and so conv2d's input gradient)
    takes the adjoint Winograd path: float64 values and gradients against torch, for
    inputs that are and aren't whole 4x4 tiles."""
    import ember._ops.conv as C
    calls = []
    orig = C._tconv_winograd
    C._tconv_winograd = lambda *a, **k: calls.append(1) or orig(*a, **k)
    try:
        for hw in ((12, 12), (13, 10)):
            check(lambda m, x, w, b: m.nn.functional.conv_transpose2d(x, w, b, padding=pad),
                  randn(2, 16, *hw).astype(np.float64), randn(16, 20, 3, 3).astype(np.float64),
                  randn(20).astype(np.float64))
    finally:
        C._tconv_winograd = orig
    assert len(calls) >= 2, "the adjoint Winograd path was not taken"


def test_winograd_threaded_chunks(two_threads, monkeypatch):
    """Many one-sample chunks split over two threads (forward, both gradients, with bias
    and a cropped 4x4 tile grid) give torch's values; the weight gradient, summed over
    threads, is the same on a rerun."""
    import ember._ops.conv as C
    monkeypatch.setattr(C, "_WINO_CHUNK", 1 << 12)
    x, w, b = randn(12, 16, 22, 21), randn(24, 16, 3, 3), randn(24)
    args = (x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))
    check(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, padding=1), *args)
    grads = []
    for _ in range(2):
        xe, we = ember.from_numpy(x).requires_grad_(), ember.from_numpy(w).requires_grad_()
        ember.nn.functional.conv2d(xe, we, padding=1).square().sum().backward()
        grads.append(we.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_winograd_both_gradients_at_once_and_double_backward():
    """conv2d's input and weight gradients come from one fused Winograd pass, recorded
    so that double backward still matches torch (float64)."""
    import ember._ops.conv as C
    calls = []
    orig = C._wino_backward
    C._wino_backward = lambda *a, **k: calls.append(sorted(k)) or orig(*a, **k)
    x, w = randn(2, 16, 9, 10).astype(np.float64), randn(16, 16, 3, 3).astype(np.float64)
    res = []
    try:
        for m in (ember, torch):
            xt = m.from_numpy(x.copy()).requires_grad_()
            wt = m.from_numpy(w.copy()).requires_grad_()
            loss = (m.nn.functional.conv2d(xt, wt, padding=1) ** 2).sum()
            gx, gw = m.autograd.grad(loss, (xt, wt), create_graph=True)
            res += [gx.detach().numpy(), gw.detach().numpy()]
            res += [a.numpy() for a in m.autograd.grad((gx ** 2).sum() + (gw ** 3).sum(),
                                                       (xt, wt))]
    finally:
        C._wino_backward = orig
    assert ["w", "x"] in calls, "the fused path was not taken"
    for e, t in zip(res[:4], res[4:]):
        np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-9)


def test_im2col_split_over_samples(two_threads):
    """im2col convolutions big enough to be split over samples (one chunk loop per
    thread, the weight gradient summed per thread): values and gradients vs torch."""
    x, w, b = randn(8, 3, 30, 30), randn(16, 3, 5, 5), randn(16)
    check(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, padding=1),
          x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))
    check(lambda m, x, w: m.nn.functional.conv2d(x, w, stride=2), randn(9, 4, 40, 40),
          randn(8, 4, 3, 3), atol=1e-4)
