"""``ember.nn.grad`` (also ``ember.nn.functional.grad``, as in PyTorch): the
gradients of ``conv{1,2,3}d`` with respect to their input or weight, given the
gradient of the output. Each runs the convolution on a zero placeholder and
back-propagates ``grad_output`` through it with ``ember.autograd.grad``, so the
result is differentiable (double backward) whenever ``weight``/``input`` or
``grad_output`` require grad. Nothing is lifted into ``ember.nn.functional``'s
namespace (``__all__`` is empty); use ``F.grad.conv2d_input(...)``."""
from ...autograd import grad as _autograd_grad
from ...autograd.grad_mode import enable_grad
from . import conv as _conv

__all__ = []


def _input_grad(conv, input_size, weight, grad_output, stride, padding, dilation, groups):
    create = weight.requires_grad or grad_output.requires_grad
    with enable_grad():
        x = grad_output.new_zeros(tuple(input_size)).requires_grad_()
        out = conv(x, weight, None, stride, padding, dilation, groups)
        (g,) = _autograd_grad(out, x, grad_output, create_graph=create)
    return g


def _weight_grad(conv, input, weight_size, grad_output, stride, padding, dilation, groups):
    create = input.requires_grad or grad_output.requires_grad
    with enable_grad():
        w = grad_output.new_zeros(tuple(weight_size)).requires_grad_()
        out = conv(input, w, None, stride, padding, dilation, groups)
        (g,) = _autograd_grad(out, w, grad_output, create_graph=create)
    return g


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of ``conv1d`` with respect to an input of shape ``input_size``."""
    return _input_grad(_conv.conv1d, input_size, weight, grad_output, stride, padding,
                       dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of ``conv1d`` with respect to a weight of shape ``weight_size``."""
    return _weight_grad(_conv.conv1d, input, weight_size, grad_output, stride, padding,
                        dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of ``conv2d`` with respect to an input of shape ``input_size``."""
    return _input_grad(_conv.conv2d, input_size, weight, grad_output, stride, padding,
                       dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of ``conv2d`` with respect to a weight of shape ``weight_size``."""
    return _weight_grad(_conv.conv2d, input, weight_size, grad_output, stride, padding,
                        dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of ``conv3d`` with respect to an input of shape ``input_size``."""
    return _input_grad(_conv.conv3d, input_size, weight, grad_output, stride, padding,
                       dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of ``conv3d`` with respect to a weight of shape ``weight_size``."""
    return _weight_grad(_conv.conv3d, input, weight_size, grad_output, stride, padding,
                        dilation, groups)
