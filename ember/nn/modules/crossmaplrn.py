"""CrossMapLRN2d: the legacy (Lua Torch) cross-channel local response
normalisation, kept bit-for-bit compatible with PyTorch's
``torch.nn.modules._functions.CrossMapLRN2d`` -- including its quirks: the
forward's running window never drops channel 0 once ``c > (size - 1) // 2 + 1``,
and the backward is PyTorch's hand-written rule (not the exact derivative of
that forward). Both directions are written in ember ops (vectorised with
cumulative sums over the channel dimension), so the backward is itself
differentiable."""
from ..._ops import FUNCTIONS as _F
from ...autograd.function import Function
from .module import Module

__all__ = ["CrossMapLRN2d"]


def _channel_range_sums(x, lo, hi):
    """``out[:, c] = x[:, lo[c]:hi[c]].sum(1)`` for lists ``lo``/``hi`` (via a cumsum)."""
    n, _, h, w = x.shape
    cs = _F["cat"]([x.new_zeros((n, 1, h, w)), x.cumsum(1)], 1)
    idx_hi = _F["tensor"](hi, device=x.device)
    idx_lo = _F["tensor"](lo, device=x.device)
    return cs.index_select(1, idx_hi) - cs.index_select(1, idx_lo)


def _forward(ctx, input, size, alpha=1e-4, beta=0.75, k=1):
    if input.dim() != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D "
                         "instead.")
    ctx.size, ctx.alpha, ctx.beta, ctx.k = size, alpha, beta, k
    channels = input.size(1)
    pre_pad = int((size - 1) / 2 + 1)
    # scale[c] = sum(sq[0 : min(c + pre_pad, C)]) - sum(sq[1 : c - pre_pad + 1]) (c > pre_pad)
    sq = input * input
    head = _channel_range_sums(sq, [0] * channels,
                               [min(c + pre_pad, channels) for c in range(channels)])
    drop_hi = [max(c - pre_pad + 1, 1) for c in range(channels)]
    dropped = _channel_range_sums(sq, [1] * channels, drop_hi)
    scale = (head - dropped) * (alpha / size) + k
    output = scale.pow(-beta) * input
    ctx.scale = scale
    ctx.save_for_backward(input, output)
    return output


def _backward(ctx, grad_output):
    input, output = ctx.saved_tensors
    scale, size = ctx.scale, ctx.size
    channels = input.size(1)
    cache_ratio_value = 2 * ctx.alpha * ctx.beta / size
    inverse_pre_pad = int(size - (size - 1) / 2)
    # padded[j] = ratio[j - inverse_pre_pad]; accum[c] = padded[c : c + size].sum()
    ratio = grad_output * output / scale
    lo = [min(max(c - inverse_pre_pad, 0), channels) for c in range(channels)]
    hi = [min(max(c + size - inverse_pre_pad, 0), channels) for c in range(channels)]
    accum = _channel_range_sums(ratio, lo, hi)
    grad_input = scale.pow(-ctx.beta) * grad_output - cache_ratio_value * input * accum
    return grad_input, None, None, None, None


# Named like PyTorch's Function so that ``grad_fn`` is ``<CrossMapLRN2dBackward>``.
_cross_map_lrn2d = type("CrossMapLRN2d", (Function,), {
    "forward": staticmethod(_forward), "backward": staticmethod(_backward)})


class CrossMapLRN2d(Module):
    """Legacy cross-map local response normalisation over the channels of a 4-D
    input (see :class:`LocalResponseNorm` for the modern layer)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return _cross_map_lrn2d.apply(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)
