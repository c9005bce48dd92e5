"""Activation functions of ``ember.nn.functional``: thin doors to the ops in
``ember/_ops/activation_ops.py`` (and ``relu``/``sigmoid``/``tanh`` from
elementwise), with PyTorch's signatures, ``inplace=`` and argument checks."""
import warnings

from ..._ops import FUNCTIONS as _F
from ..._ops import activation_ops as A
from ..._ops._core import inplace as _inplace
from ..._tensor import Tensor

__all__ = ["threshold", "threshold_", "relu", "relu_", "hardtanh", "hardtanh_", "relu6", "elu",
           "elu_", "selu", "selu_", "celu", "celu_", "leaky_relu", "leaky_relu_", "prelu",
           "rrelu", "rrelu_", "glu", "gelu", "logsigmoid", "hardshrink", "tanhshrink",
           "softsign", "softplus", "softmin", "softmax", "log_softmax", "softshrink", "tanh",
           "sigmoid", "hardsigmoid", "silu", "mish", "hardswish"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _tensor_arg(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")


def threshold(input, threshold, value, inplace=False):
    if inplace:
        return threshold_(input, threshold, value)
    return A.threshold(input, threshold=threshold, value=value)


def threshold_(input, threshold, value):
    return _inplace(input, lambda s: A.threshold(s.clone() if s.requires_grad else s,
                                                 threshold=threshold, value=value))


def relu(input, inplace=False):
    return _F["relu_"](input) if inplace else _F["relu"](input)


def relu_(input):
    return _F["relu_"](input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return hardtanh_(input, min_val, max_val)
    return A.hardtanh(input, min_val=min_val, max_val=max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _inplace(input, lambda s: A.hardtanh(s, min_val=min_val, max_val=max_val))


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def _elu(input, alpha, scale, input_scale, inplace):
    if inplace:
        if alpha < 0:
            raise RuntimeError("In-place elu backward calculation is triggered with a negative "
                               "slope which is not supported. This is caused by calling in-place "
                               "forward function with a negative slope, please call out-of-place "
                               "version instead.")
        return _inplace(input, lambda s: A._elu_y(s, alpha=alpha, scale=scale,
                                                  input_scale=input_scale, is_result=True))
    return A.elu(input, alpha=alpha, scale=scale, input_scale=input_scale, is_result=False)


def elu(input, alpha=1.0, inplace=False):
    return _elu(input, alpha, 1.0, 1.0, inplace)


def elu_(input, alpha=1.0):
    return _elu(input, alpha, 1.0, 1.0, True)


def selu(input, inplace=False):
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace)


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _elu(input, alpha, 1.0, 1.0 / alpha, inplace)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return leaky_relu_(input, negative_slope)
    return A.leaky_relu(input, negative_slope=negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    if negative_slope < 0 and input.requires_grad:
        raise RuntimeError("In-place leakyReLu backward calculation is triggered with a negative "
                           "slope which is not supported. This is caused by calling in-place "
                           "forward function with a negative slope, please call out-of-place "
                           "version instead. File an issue at https://github.com/pytorch/pytorch "
                           "if you do require supporting in-place leakRelu backward calculation "
                           "with negative slope")
    return _inplace(input, lambda s: A._leaky_relu_y(s, negative_slope=negative_slope))


def prelu(input, weight):
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.dim()}")
    n = weight.numel()
    if n != 1:
        if input.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        c = input.shape[1] if input.dim() >= 2 else 1
        if n != c:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {c}.")
        w = weight.reshape((-1,) + (1,) * (input.dim() - 2)) if input.dim() >= 2 else weight
    else:
        w = weight.reshape(())
    return _F["where"](input > 0, input, w * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    if inplace:
        return rrelu_(input, lower, upper, training)
    if training:
        return A.rrelu_train(input, lower, upper)
    return A.leaky_relu(input, negative_slope=(lower + upper) / 2)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    if training:
        return _inplace(input, lambda s: A.rrelu_train(s, lower, upper))
    return leaky_relu_(input, (lower + upper) / 2)


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim % input.dim() if input.dim() else 0
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.chunk(2, d)
    return a * b.sigmoid()


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return A.gelu(input, approximate=approximate)


def logsigmoid(input):
    return A.logsigmoid(input)


def hardshrink(input, lambd=0.5):
    return A.hardshrink(input, lambd=lambd)


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return A.softshrink(input, lambd=lambd)


def tanhshrink(input):
    return input - input.tanh()


def softsign(input):
    return input / (input.abs() + 1)


def softplus(input, beta=1.0, threshold=20.0):
    return A.softplus(input, beta, threshold)


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return A.softmax(-input, dim)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return A.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return A.log_softmax(input, dim, dtype)


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def _maybe_inplace(op, input, inplace, clone):
    if inplace:
        return _inplace(input, lambda s: op(s.clone() if clone and s.requires_grad else s))
    return op(input)


def hardsigmoid(input, inplace=False):
    return _maybe_inplace(A.hardsigmoid, input, inplace, True)


def silu(input, inplace=False):
    return _maybe_inplace(A.silu, input, inplace, True)


def mish(input, inplace=False):
    return _maybe_inplace(A.mish, input, inplace, True)


def hardswish(input, inplace=False):
    return _maybe_inplace(A.hardswish, input, inplace, True)
