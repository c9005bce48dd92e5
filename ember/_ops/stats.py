"""Distances (cdist, pdist), covariance, correlation and multi-dimensional
histograms."""
import collections

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ._core import FUNCTIONS, autocast_op, export, node, record, wrap
from .linalg import _legacy, _xp, vector_norm

R_histogramdd = collections.namedtuple("histogramdd", ["hist", "bin_edges"])


# ---------------------------------------------------------------------------
# Distances
# ---------------------------------------------------------------------------

def _euclid_backward(ctx, g):
    x1, x2, res = ctx.saved_tensors
    ratio = (g / res).masked_fill(res == 0, 0)
    return (x1 * ratio.sum(-1, keepdim=True) - ratio @ x2,
            x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1)


EuclideanDistBackward0 = node("EuclideanDistBackward0", _euclid_backward)


def _euclidean_dist(x1, x2):
    a, b = x1._data, x2._data
    xp = _xp(a)
    with np.errstate(all="ignore"):
        d = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :] - \
            2 * xp.matmul(a, xp.swapaxes(b, -1, -2))
        r = xp.sqrt(xp.maximum(d, 0))
    out = wrap(r.astype(a.dtype, copy=False), x1._dtype)
    record(EuclideanDistBackward0, (x1, x2), out, saved=(x1, x2), saved_out=True)
    return out


@export(method=False)
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    if x1.dim() < 2 or x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D" if
                           x1.dim() < 2 else
                           f"cdist only supports at least 2D tensors, X2 got: {x2.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if not (x1._dtype.is_floating_point and x2._dtype.is_floating_point):
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: "
                           f"{_legacy(x1._dtype)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
             "donot_use_mm_for_euclid_dist", None)
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    batch = tuple(np.broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2])))
    x1 = x1.expand(*batch, *x1.shape[-2:]) if tuple(x1.shape[:-2]) != batch else x1
    x2 = x2.expand(*batch, *x2.shape[-2:]) if tuple(x2.shape[:-2]) != batch else x2
    r1, r2 = x1.shape[-2], x2.shape[-2]
    mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                     (compute_mode in (None, modes[0]) and (r1 > 25 or r2 > 25)))
    if mm:
        return _euclidean_dist(x1, x2)
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)


@export(method=False)
@autocast_op("fp32")
def pdist(input, p=2):
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    xp = _xp(input)
    i, j = xp.triu_indices(n, 1)
    sel = FUNCTIONS["index_select"]
    diff = sel(input, 0, wrap(i)) - sel(input, 0, wrap(j))
    return vector_norm(diff, p, -1)


# ---------------------------------------------------------------------------
# Covariance, correlation, histograms
# ---------------------------------------------------------------------------

@export()
def cov(input, *, correction=1, fweights=None, aweights=None):
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.dim()} dimensions")
    x = input if input.dim() == 2 else input.reshape(1, -1)
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        x = x.to(D.get_default_dtype())
    n_obs = x.shape[1]
    w = None
    if fweights is not None:
        if fweights.dim() > 1 or fweights.numel() != n_obs:
            raise RuntimeError(f"cov(): expected fweights to have one or fewer dimensions and "
                               f"{n_obs} elements")
        if fweights._dtype.is_floating_point or fweights._dtype.is_complex:
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got "
                               f"fweights with {fweights._dtype} dtype")
        if bool((fweights < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights
    if aweights is not None:
        if aweights.dim() > 1 or aweights.numel() != n_obs:
            raise RuntimeError(f"cov(): expected aweights to have one or fewer dimensions and "
                               f"{n_obs} elements")
        if not aweights._dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got "
                               f"aweights with {aweights._dtype} dtype")
        if bool((aweights < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        w = aweights if w is None else w * aweights
    if w is None:
        avg = x.mean(1)
        w_sum = n_obs
        norm = n_obs - correction
    else:
        w = w.to(x._dtype.to_real()) if not w._dtype.is_floating_point else w
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
        if correction == 0:
            norm = w_sum
        elif aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * aweights).sum() / w_sum
    if float(norm) <= 0:
        import warnings
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=2)
        norm = norm * 0 if not isinstance(norm, (int, float)) else 0
    xm = x - avg.unsqueeze(1)
    xw = xm if w is None else xm * w
    return ((xw @ xm.mH) / norm).squeeze()


@export()
def corrcoef(input):
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = c.diagonal(0, -2, -1)
    std = d.real.sqrt() if d._dtype.is_complex else d.sqrt()
    c = c / std.unsqueeze(1)
    c = c / std.unsqueeze(0)
    if c._dtype.is_complex:
        from . import FUNCTIONS as F
        return F["complex"](c.real.clamp(-1, 1), c.imag.clamp(-1, 1))
    return c.clamp(-1, 1)


@export(method=False)
def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """PyTorch's binning: a value lands in the bin whose edges bracket it
    (``upper_bound`` on the edges), the last bin includes its right edge and
    values outside [first edge, last edge] are dropped."""
    name = "torch.histogramdd"
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"{name}: input tensor and bins tensors should have the same dtype, "
                           f"but got input {input._dtype} and bins {D.get_default_dtype()}")
    if input.dim() < 2:
        raise RuntimeError(f"{name}: input tensor should have at least 2 dimensions, but got "
                           f"{input.dim()}")
    a = input._data
    xp = xp_of(a)
    nd = a.shape[-1]
    pts = a.reshape(-1, nd)
    if isinstance(bins, int):
        bins = [bins] * nd
    if len(bins) != nd:
        raise RuntimeError(f"{name}: expected {nd} sequences of bin edges for each of the {nd} "
                           f"dimensions of the input, but got {len(bins)}")
    if range is not None and len(range) != 2 * nd:
        raise RuntimeError(f"{name}: for a {nd}-dimensional histogram range should have "
                           f"{2 * nd} elements, but got {len(range)}")
    edges = []
    for d, b in enumerate(bins):
        if isinstance(b, Tensor):
            edges.append(b._data.astype(a.dtype, copy=False))
            continue
        if range is not None:
            lo, hi = float(range[2 * d]), float(range[2 * d + 1])
        elif pts.shape[0]:
            lo, hi = float(pts[:, d].min()), float(pts[:, d].max())
        else:
            lo, hi = 0.0, 0.0
        if lo == hi:  # widen an empty range, as NumPy and PyTorch do
            lo, hi = lo - 0.5, hi + 0.5
        edges.append(xp.linspace(lo, hi, int(b) + 1).astype(a.dtype))
    nbins = [e.shape[0] - 1 for e in edges]
    keep = xp.ones(pts.shape[0], dtype=bool)
    flat = xp.zeros(pts.shape[0], dtype=np.int64)
    for d, e in enumerate(edges):
        x = pts[:, d]
        keep &= (x >= e[0]) & (x <= e[-1])
        pos = xp.searchsorted(e, x, side="right") - 1
        pos = xp.clip(xp.where(pos == nbins[d], nbins[d] - 1, pos), 0, max(nbins[d] - 1, 0))
        flat = flat * nbins[d] + pos
    w = None if weight is None else weight._data.reshape(-1)[keep]
    hist = xp.bincount(flat[keep], weights=w, minlength=int(np.prod(nbins))).astype(a.dtype)
    hist = hist.reshape(nbins)
    if density:  # an empty histogram gives NaNs, as in PyTorch
        with np.errstate(all="ignore"):
            hist = hist / hist.sum()
            for d, e in enumerate(edges):
                shape = [1] * nd
                shape[d] = nbins[d]
                hist = hist / xp.diff(e).reshape(shape)
    dt = input._dtype
    return R_histogramdd(wrap(hist.astype(dt.np, copy=False), dt),
                         tuple(wrap(e, dt) for e in edges))
