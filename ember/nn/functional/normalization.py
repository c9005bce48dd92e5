"""Normalization functions of ``ember.nn.functional`` (kernels in
``ember/_ops/norm.py``; ``local_response_norm`` is composed from ops)."""
import math

from ..._ops import norm as _N
from ..._ops.pool import avg_pool as _avg_pool

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm",
           "rms_norm"]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    if training:
        size = input.shape
        if size[0] * math.prod(size[2:]) == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {size}")
    return _N.batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                         eps)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    return _N.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                            momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    return _N.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.dim()}")
    return _N.group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return _N.rms_norm(input, normalized_shape, weight, eps)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Across-channel normalisation, as PyTorch composes it (zero padding
    ``size // 2`` before and ``(size - 1) // 2`` after the channel axis)."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input * input
    sizes = tuple(input.shape)
    c = sizes[1]
    if dim == 3:
        div = _avg_pool(div.unsqueeze(1), 2, (size, 1), 1, (size // 2, 0), fn="avg_pool2d")
        div = div.squeeze(1)
    else:
        div = div.reshape(sizes[0], 1, c, sizes[2], -1)
        div = _avg_pool(div, 3, (size, 1, 1), 1, (size // 2, 0, 0), fn="avg_pool3d").squeeze(1)
    if div.shape[1] != c:  # even size: the symmetric pad left one extra row at the end
        div = div.narrow(1, 0, c)
    div = div.reshape(sizes)
    div = (div * alpha + k).pow(beta)
    return input / div
