"""Dropout family. The keep mask is drawn with ember's RNG on the input's
device; the op itself is one ``masked_scale`` node."""
import warnings

from ..._ops import FUNCTIONS as _F
from ..._ops._core import inplace as _inplace
from ..._ops.nn_ops import masked_scale

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]

_ALPHA = 1.7580993408473766


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise(input, feature):
    if feature:
        shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
        return _F["empty"](shape, dtype=input.dtype, device=input.device)
    return _F["empty_like"](input)


def _dropout_impl(input, p, training, inplace, feature=False, alpha=False):
    _check_p(p)
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        mask = _F["zeros"](() if not feature else tuple(input.shape[:2]) +
                           (1,) * (input.dim() - 2), dtype=input.dtype, device=input.device)
        b = None
    else:
        noise = _noise(input, feature).bernoulli_(1 - p)
        if alpha:
            a = 1.0 / ((_ALPHA * _ALPHA * p + 1) * (1 - p)) ** 0.5
            b = (noise - 1) * (_ALPHA * a) + _ALPHA * a * p
            mask = noise * a
        else:
            b = None
            mask = noise * (1.0 / (1 - p))
    if mask.shape != input.shape:
        mask = mask.expand(*input.shape)

    def run(x):
        y = masked_scale(x, mask)
        return y + b if b is not None else y
    if inplace:
        return _inplace(input, run)
    return run(input)


def dropout(input, p=0.5, training=True, inplace=False):
    return _dropout_impl(input, p, training, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _dropout_impl(input, p, training, inplace, alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)


def _feature(input, p, training, inplace, batched_dim, name):
    _check_p(p)
    nd = input.dim()
    if nd not in (batched_dim - 1, batched_dim):
        raise RuntimeError(f"{name}: Expected {batched_dim - 1}D or {batched_dim}D input, but "
                           f"received a {nd}D input. Note that {name} exists to provide "
                           f"channel-wise dropout on inputs with {batched_dim - 2} spatial "
                           f"dimension{'s' if batched_dim > 3 else ''}, a channel dimension, "
                           "and an optional batch dimension (i.e. "
                           f"{batched_dim - 1}D or {batched_dim}D inputs).")
    unbatched = nd == batched_dim - 1
    x = input.unsqueeze(0) if unbatched else input
    if inplace and unbatched:
        _dropout_impl(x, p, training, True, feature=True)
        return input
    out = _dropout_impl(x, p, training, inplace, feature=True)
    return out.squeeze(0) if unbatched else out


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature(input, p, training, inplace, 3, "dropout1d")


def _warn_unexpected_dim(name, nd, batched_dim):
    """Deprecation warning of dropout2d/dropout3d for an input that is not (batched_dim - 1)D or
    batched_dim-D (the warning points at the caller of ``name``)."""
    if nd not in (batched_dim - 1, batched_dim):
        warnings.warn(f"{name}: Received a {nd}-D input to {name}, which is deprecated and "
                      "will result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that {name} "
                      f"exists to provide channel-wise dropout on inputs with {batched_dim - 2} "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      f"(i.e. {batched_dim - 1}D or {batched_dim}D inputs).", stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    nd = input.dim()
    _warn_unexpected_dim("dropout2d", nd, 4)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape (C, "
                      "H, W). To maintain the 1D channel-wise dropout behavior, please switch to "
                      "using dropout1d instead.", stacklevel=2)
    return _dropout_impl(input, p, training, inplace, feature=True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    nd = input.dim()
    _warn_unexpected_dim("dropout3d", nd, 5)
    unbatched = nd == 4
    x = input.unsqueeze(0) if unbatched else input
    out = _dropout_impl(x, p, training, inplace and not unbatched, feature=True)
    if unbatched:
        out = out.squeeze(0)
        if inplace:
            return input.copy_(out)
    return out
