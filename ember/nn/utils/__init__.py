"""ember.nn.utils: gradient clipping, parameter/vector conversion,
parametrizations, fusion, pruning and stateless calls."""
import importlib as _importlib

from . import parametrizations, parametrize, prune, stateless
from .clip_grad import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from .init import skip_init
from .weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grads_with_norm_", "clip_grad_value_",
           "get_total_norm", "parameters_to_vector", "vector_to_parameters",
           "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights", "skip_init", "weight_norm", "remove_weight_norm",
           "parametrizations", "parametrize", "prune", "stateless", "rnn"]


def __getattr__(name):
    # rnn (pack_padded_sequence & co.) lives in its own file, loaded on use.
    if name == "rnn":
        return _importlib.import_module(f"{__name__}.rnn")
    raise AttributeError(f"module 'ember.nn.utils' has no attribute '{name}'")
