"""Small coarse ops used by ember.nn.functional: the p-norm over dims,
dropout's masked scaling, constant padding and unfold/fold (im2col/col2im)."""

from .. import _dtype as D
from .._backend import xp_of
from ..autograd.grad_mode import STATE
from ._core import autocast_op, node, record, wrap
from .linalg import vector_norm

_LOW = (D.float16, D.bfloat16)


# The p-norm nn.functional builds on (pairwise_distance, pdist, normalize,
# clip_grad_norm_, weight_norm): linalg.vector_norm, with the float32 autocast
# policy of PyTorch's norm ops.
pnorm = autocast_op("fp32")(vector_norm)


def _mask_mul_backward(ctx, g):
    return g * ctx.saved_tensors[0]


MulBackward0 = node("MulBackward0", _mask_mul_backward)


def masked_scale(input, mask):
    """``input * mask`` where ``mask`` is a constant (dropout's scaled keep mask);
    one node whose gradient is ``g * mask``."""
    out = wrap((input._data * mask._data).astype(input._data.dtype, copy=False), input._dtype)
    if input._requires_grad and STATE.enabled:
        record(MulBackward0, (input,), out, saved=(mask,))
    return out


# ---------------------------------------------------------------------------
# Constant padding (negative pads crop); its adjoint is padding by -pad.
# ---------------------------------------------------------------------------

ConstantPadNdBackward0 = node("ConstantPadNdBackward0",
                              lambda ctx, g: constant_pad(g, [-p for p in ctx.pad], 0))


def constant_pad(input, pad, value=0):
    """``F.pad(input, pad, 'constant', value)`` as one op."""
    x = input._data
    xp = xp_of(x)
    nd = len(pad) // 2
    src, dst, shape = [slice(None)] * x.ndim, [slice(None)] * x.ndim, list(x.shape)
    for k in range(nd):
        d = x.ndim - 1 - k
        lo, hi = pad[2 * k], pad[2 * k + 1]
        n = x.shape[d]
        m = n + lo + hi
        if m < 0:
            raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} resulted "
                               f"in a negative output size, which is invalid. Check dimension "
                               f"{d} of your input.")
        shape[d] = m
        s0, s1 = max(-lo, 0), n - max(-hi, 0)
        src[d] = slice(s0, max(s1, s0))
        dst[d] = slice(max(lo, 0), max(lo, 0) + max(s1 - s0, 0))
    dt = input._dtype
    fill = value if value is not None else 0
    out_a = xp.full(shape, fill, dtype=x.dtype) if fill != 0 else xp.zeros(shape, x.dtype)
    out_a[tuple(dst)] = x[tuple(src)]
    out = wrap(out_a, dt)
    if input._requires_grad and STATE.enabled:
        record(ConstantPadNdBackward0, (input,), out, pad=list(pad))
    return out


# ---------------------------------------------------------------------------
# unfold (im2col) and fold (col2im): each is the other's adjoint.
# ---------------------------------------------------------------------------

def _geom(spatial, kernel, dilation, padding, stride):
    out = []
    for n, k, d, p, s in zip(spatial, kernel, dilation, padding, stride):
        out.append((n + 2 * p - d * (k - 1) - 1) // s + 1)
    return out


Im2ColBackward0 = node("Im2ColBackward0", lambda ctx, g: fold(g, ctx.spatial, *ctx.geom))
Col2ImBackward0 = node("Col2ImBackward0", lambda ctx, g: unfold(g, *ctx.geom))


def unfold(input, kernel_size, dilation, padding, stride):
    """(N, C, H, W) -> (N, C*kh*kw, L); 2-D only, as PyTorch."""
    x = input._data
    xp = xp_of(x)
    N, C, H, W = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel_size, dilation, padding, stride
    oh, ow = _geom((H, W), kernel_size, dilation, padding, stride)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"Given input with spatial size ({H}, {W}), kernel_size=({kh}, {kw}), "
                           f"dilation=({dh}, {dw}), padding=({ph}, {pw}), calculated shape of the "
                           f"array of sliding blocks as ({oh}, {ow}), but its components must be "
                           "at least one.")
    xpd = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    cols = xp.empty((N, C, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xpd[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                                   j * dw:j * dw + sw * (ow - 1) + 1:sw]
    out = wrap(cols.reshape(N, C * kh * kw, oh * ow), input._dtype)
    if input._requires_grad and STATE.enabled:
        record(Im2ColBackward0, (input,), out, spatial=(H, W),
               geom=(kernel_size, dilation, padding, stride))
    return out


def fold(input, output_size, kernel_size, dilation, padding, stride):
    """(N, C*kh*kw, L) -> (N, C, H, W), summing overlapping values."""
    x = input._data
    xp = xp_of(x)
    N, CK, L = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel_size, dilation, padding, stride
    H, W = output_size
    oh, ow = _geom((H, W), kernel_size, dilation, padding, stride)
    if CK % (kh * kw):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={CK} and "
                           f"kernel_size=({kh}, {kw}).")
    if oh * ow != L:
        raise RuntimeError(f"Given output_size=({H}, {W}), kernel_size=({kh}, {kw}), "
                           f"dilation=({dh}, {dw}), padding=({ph}, {pw}), stride=({sh}, {sw}), "
                           f"expected size of input's dimension 2 to match the calculated number "
                           f"of sliding blocks {oh} * {ow} = {oh * ow}, but got input.size(2)={L}.")
    C = CK // (kh * kw)
    cols = x.reshape(N, C, kh, kw, oh, ow)
    out = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, :, i, j]
    out = out[:, :, ph:ph + H, pw:pw + W]
    res = wrap(xp.ascontiguousarray(out), input._dtype)
    if input._requires_grad and STATE.enabled:
        record(Col2ImBackward0, (input,), res, geom=(kernel_size, dilation, padding, stride))
    return res
