"""Pooling functions of ``ember.nn.functional`` (kernels in ``ember/_ops/pool.py``)."""
from ..._ops import pool as _P

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
           "avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d",
           "max_unpool2d", "max_unpool3d", "fractional_max_pool2d", "fractional_max_pool3d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices"]


def _max(nd):
    def with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                     return_indices=True):
        return _P.max_pool(input, nd, kernel_size, stride, padding, dilation, ceil_mode, True,
                           fn=f"max_pool{nd}d")

    def pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
             return_indices=False):
        return _P.max_pool(input, nd, kernel_size, stride, padding, dilation, ceil_mode,
                           return_indices, fn=f"max_pool{nd}d")
    return pool, with_indices


max_pool1d, max_pool1d_with_indices = _max(1)
max_pool2d, max_pool2d_with_indices = _max(2)
max_pool3d, max_pool3d_with_indices = _max(3)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _P.avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       fn="avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _P.avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override, fn="avg_pool2d")


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _P.avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override, fn="avg_pool3d")


def _adaptive(nd):
    def avg(input, output_size):
        return _P.adaptive_avg_pool(input, nd, output_size, fn=f"adaptive_avg_pool{nd}d")

    def mx(input, output_size, return_indices=False):
        return _P.adaptive_max_pool(input, nd, output_size, return_indices,
                                    fn=f"adaptive_max_pool{nd}d")

    def mx_indices(input, output_size, return_indices=True):
        return _P.adaptive_max_pool(input, nd, output_size, True, fn=f"adaptive_max_pool{nd}d")
    return avg, mx, mx_indices


adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_max_pool1d_with_indices = _adaptive(1)
adaptive_avg_pool2d, adaptive_max_pool2d, adaptive_max_pool2d_with_indices = _adaptive(2)
adaptive_avg_pool3d, adaptive_max_pool3d, adaptive_max_pool3d_with_indices = _adaptive(3)


def _ntuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v) * n if len(v) == 1 else tuple(v)
    return (v,) * n


def _lp(input, nd, norm_type, kernel_size, stride, ceil_mode):
    k = _ntuple(kernel_size, nd)
    out = _P.avg_pool(input.pow(norm_type), nd, k, stride, 0, ceil_mode, fn=f"lp_pool{nd}d")
    n = 1
    for v in k:
        n *= v
    return (out.sign() * out.abs().relu()).mul(n).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp(input, 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp(input, 3, norm_type, kernel_size, stride, ceil_mode)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _P.max_unpool(input, 1, indices, kernel_size, stride, padding, output_size,
                         fn="max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _P.max_unpool(input, 2, indices, kernel_size, stride, padding, output_size,
                         fn="max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _P.max_unpool(input, 3, indices, kernel_size, stride, padding, output_size,
                         fn="max_unpool3d")


def _fractional(nd):
    def pool(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
             _random_samples=None):
        return _P.fractional_max_pool(input, nd, kernel_size, output_size, output_ratio,
                                      return_indices, _random_samples,
                                      fn=f"fractional_max_pool{nd}d")

    def with_indices(input, kernel_size, output_size=None, output_ratio=None,
                     return_indices=False, _random_samples=None):
        return _P.fractional_max_pool(input, nd, kernel_size, output_size, output_ratio, True,
                                      _random_samples, fn=f"fractional_max_pool{nd}d")
    return pool, with_indices


fractional_max_pool2d, fractional_max_pool2d_with_indices = _fractional(2)
fractional_max_pool3d, fractional_max_pool3d_with_indices = _fractional(3)
