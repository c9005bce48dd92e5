"""One CUDA kernel per parameter for the common optimizer updates.

On the GPU each CuPy call is a kernel launch with some microseconds of Python
around it, so Adam's ~8 array operations per parameter cost more than the
arithmetic. These ``ElementwiseKernel``s do the same arithmetic, in the same
order as the NumPy path (PyTorch's formulas), in one launch. They are compiled
on first use; CPU code never imports CuPy.
"""
import functools

from .._backend import cupy


@functools.cache
def _adam():
    # m.lerp_(g, w1) with PyTorch's two-branch lerp; v = v*beta2 + (g*w2)*g;
    # a += (m / (sqrt(v)/bc2_sqrt + eps)) * (-step_size)
    return cupy().ElementwiseKernel(
        "T g, T w1, T beta2, T w2, T step_size, T bc2_sqrt, T eps", "T a, T m, T v",
        """
        T d = g - m;
        m = w1 < T(0.5) ? m + d * w1 : g - d * (T(1) - w1);
        v = v * beta2 + (g * w2) * g;
        a = a + (m / (sqrt(v) / bc2_sqrt + eps)) * (-step_size);
        """, "ember_adam_step")


def adam_step(a, g, m, v, beta1, beta2, step_size, bc2_sqrt, eps):
    """Adam's update of parameter ``a`` (in place, with its moments ``m``, ``v``)."""
    dt = a.dtype.type
    _adam()(g, dt(1 - beta1), dt(beta2), dt(1 - beta2), dt(step_size), dt(bc2_sqrt), dt(eps),
            a, m, v)


@functools.cache
def _sgd_momentum():
    # buf = buf*momentum + g*(1-dampening); step along buf (or g + momentum*buf)
    return cupy().ElementwiseKernel(
        "T g, T momentum, T keep, T neg_lr, bool nesterov", "T a, T buf",
        """
        buf = buf * momentum + g * keep;
        T d = nesterov ? g + buf * momentum : buf;
        a = a + d * neg_lr;
        """, "ember_sgd_momentum_step")


def sgd_momentum_step(a, g, buf, lr, momentum, dampening, nesterov):
    """SGD's update with an existing momentum buffer ``buf`` (in place)."""
    dt = a.dtype.type
    _sgd_momentum()(g, dt(momentum), dt(1 - dampening), dt(-lr), bool(nesterov), a, buf)
