"""Shape and sampling functions of ``ember.nn.functional``: pad, one_hot,
pixel_shuffle/unshuffle, channel_shuffle, unfold/fold, interpolate/upsample,
grid_sample, affine_grid, gumbel_softmax.

interpolate is separable: along each spatial dim the resampling is a constant
(out x in) matrix (linear, cubic, area, antialias) or an index (nearest), so
gradients come from matmul/index_select."""
import math
import warnings

import numpy as np

from ... import _dtype as D
from ..._ops import FUNCTIONS as _F
from ..._ops import activation_ops as A
from ..._ops import nn_ops
from ..._tensor import Tensor

__all__ = ["pad", "one_hot", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "unfold",
           "fold", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
           "grid_sample", "affine_grid", "gumbel_softmax", "native_channel_shuffle"]


def _ntuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n


# ---------------------------------------------------------------------------
# pad
# ---------------------------------------------------------------------------

def _pad_index(n, lo, hi, mode):
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "circular":
        return np.mod(j, n)
    # reflect
    j = np.abs(j)
    return np.where(j >= n, 2 * (n - 1) - j, j)


def pad(input, pad, mode="constant", value=None):
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    pad = list(pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.dim()}")
    if mode == "constant":
        return nn_ops.constant_pad(input, pad, value)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    nd = len(pad) // 2
    if nd not in (1, 2, 3) or input.dim() not in (nd + 1, nd + 2):
        raise NotImplementedError("Only 2D, 3D, 4D, 5D padding with non-constant padding are "
                                  "supported for now")
    if mode == "circular" and any(p < 0 for p in pad):  # crops first (as PyTorch)
        input = nn_ops.constant_pad(input, [min(p, 0) for p in pad])
        pad = [max(p, 0) for p in pad]
    out = input
    for k in range(nd):
        d = input.dim() - 1 - k
        lo, hi = pad[2 * k], pad[2 * k + 1]
        n = input.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({lo}, {hi}) at dimension {d} "
                               f"of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n + lo + hi < 0:
            raise RuntimeError(f"negative output size {n + lo + hi} at dimension {d}")
        if n == 0 and (lo or hi):
            raise RuntimeError(f"Expected {input.dim()}D tensor with non-zero sizes for input, "
                               f"but got {list(input.shape)}")
        if lo == 0 and hi == 0:
            continue
        idx = _F["from_numpy"](_pad_index(n, lo, hi, mode)).to(device=input.device)
        out = out.index_select(d, idx)
    return out


# ---------------------------------------------------------------------------
# Index and rearrangement functions
# ---------------------------------------------------------------------------

def one_hot(tensor, num_classes=-1):
    if tensor.dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._data
    if a.size and bool((a < 0).any()):
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    elif a.size and int(a.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    ar = _F["arange"](num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == ar).to(D.int64)


def _check_shuffle_args(name, input, factor_name, r):
    if input.dim() < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got "
                           f"input with {input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"{name} expects a positive {factor_name}, but got {r}")


def pixel_shuffle(input, upscale_factor):
    r = upscale_factor
    _check_shuffle_args("pixel_shuffle", input, "upscale_factor", r)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    oc = c // (r * r)
    n = len(lead)
    x = input.reshape(*lead, oc, r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, oc, h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    r = downscale_factor
    _check_shuffle_args("pixel_unshuffle", input, "downscale_factor", r)
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} and input.size(-1)={w} is "
                           f"not divisible by {r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    if input.dim() < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.dim()} dimension(s)")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and "
                           f"{groups} groups.")
    rest = tuple(input.shape[2:])
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle


def _unbatched(input, batched_dim, name):
    if input.dim() == batched_dim - 1:
        return input.unsqueeze(0), True
    if input.dim() != batched_dim:
        raise RuntimeError(f"Input Error: Only {batched_dim - 1}D or {batched_dim}D input Tensors "
                           f"are supported (got {input.dim()}D)")
    return input, False


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    if input.dim() not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got "
                                  f"{input.dim()}D)")
    x, unb = _unbatched(input, 4, "unfold")
    out = nn_ops.unfold(x, _ntuple(kernel_size, 2), _ntuple(dilation, 2), _ntuple(padding, 2),
                        _ntuple(stride, 2))
    return out.squeeze(0) if unb else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    if input.dim() not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors "
                                  f"are supported (got {input.dim()}D)")
    x, unb = _unbatched(input, 3, "fold")
    out = nn_ops.fold(x, _ntuple(output_size, 2), _ntuple(kernel_size, 2), _ntuple(dilation, 2),
                      _ntuple(padding, 2), _ntuple(stride, 2))
    return out.squeeze(0) if unb else out


# ---------------------------------------------------------------------------
# interpolate
# ---------------------------------------------------------------------------

def _src_scale(in_size, out_size, align_corners, scale):
    """PyTorch's area_pixel_compute_scale."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else in_size / out_size


def _cubic_weights(t, a=-0.75):
    def c1(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def c2(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]


def _interp_matrix(in_size, out_size, mode, align_corners, scale, antialias):
    """Dense (out, in) resampling matrix for one dim."""
    M = np.zeros((out_size, in_size))
    rs = _src_scale(in_size, out_size, align_corners, scale)
    dst = np.arange(out_size, dtype=np.float64)
    rows = np.arange(out_size)
    if mode == "area":
        for i in range(out_size):
            s = (i * in_size) // out_size
            e = -((-(i + 1) * in_size) // out_size)
            M[i, s:e] = 1.0 / (e - s)
        return M
    if antialias and rs > 1:
        support = (1.0 if mode == "linear" else 2.0) * rs
        for i in range(out_size):
            center = rs * (i + 0.5)
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), in_size)
            j = np.arange(xmin, xmax)
            x = (j - center + 0.5) / rs
            if mode == "linear":
                w = np.maximum(0.0, 1.0 - np.abs(x))
            else:
                ax = np.abs(x)
                aa = -0.5
                w = np.where(ax < 1, ((aa + 2) * ax - (aa + 3)) * ax * ax + 1,
                             np.where(ax < 2, ((aa * ax - 5 * aa) * ax + 8 * aa) * ax - 4 * aa, 0))
            tot = w.sum()
            M[i, xmin:xmax] = w / tot if tot != 0 else w
        return M
    if mode == "linear":
        src = dst * rs if align_corners else np.maximum(rs * (dst + 0.5) - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        i1 = np.minimum(i0 + 1, in_size - 1)
        lam = src - i0
        np.add.at(M, (rows, i0), 1 - lam)
        np.add.at(M, (rows, i1), lam)
        return M
    # cubic
    src = dst * rs if align_corners else rs * (dst + 0.5) - 0.5
    i0 = np.floor(src).astype(np.int64)
    t = src - i0
    for k, w in zip(range(-1, 3), _cubic_weights(t)):
        np.add.at(M, (rows, np.clip(i0 + k, 0, in_size - 1)), w)
    return M


def _nearest_index(in_size, out_size, scale, exact):
    s = 1.0 / scale if scale is not None and scale > 0 else in_size / out_size
    dst = np.arange(out_size, dtype=np.float64)
    src = np.floor((dst + 0.5) * s) if exact else np.floor(dst * np.float32(s))
    return np.minimum(src.astype(np.int64), in_size - 1)


_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    if dim < 1 or dim > 3 or mode not in _MODES:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.dim()}D) for the modes: nearest | linear | bilinear | "
                                  f"bicubic | trilinear | area | nearest-exact (got {mode})")
    need = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode)
    if need is not None and need != dim:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                  f"{need + 2}D input")
    if antialias and not (mode in ("bilinear", "bicubic") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and "
                         "requires a 4-D tensor as input")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    def per_dim(value, convert, name, got, fmt):
        if not isinstance(value, (list, tuple)):
            return [convert(value)] * dim
        if len(value) != dim:
            raise ValueError(f"Input and {name} must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and {got}. Please provide input tensor "
                             f"in (N, C, d1, d2, ...,dK) format and {fmt} format.")
        return [convert(v) for v in value]

    if size is not None:
        out_size = per_dim(size, int, "output", f"output size of {size}",
                           "output size in (o1, o2, ...,oK)")
        scales = [None] * dim
    elif scale_factor is not None:
        scales = per_dim(scale_factor, float, "scale_factor",
                         f"scale_factor of shape {scale_factor}",
                         "scale_factor in (s1, s2, ...,sK)")
        out_size = [int(math.floor(float(input.shape[i + 2]) * scales[i])) for i in range(dim)]
        if recompute_scale_factor:
            scales = [None] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if mode == "area":
        scales = [None] * dim
    x = input
    for i in range(dim):
        d = i + 2
        n, m = x.shape[d], out_size[i]
        if m <= 0:
            raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                               f"({tuple(input.shape[2:])}) and output ({tuple(out_size)})")
        if mode in ("nearest", "nearest-exact"):
            if n == m and scales[i] in (None, 1.0):
                continue
            idx = _nearest_index(n, m, scales[i], mode == "nearest-exact")
            x = x.index_select(d, _F["from_numpy"](idx).to(device=input.device))
            continue
        kind = "area" if mode == "area" else "linear" if mode in ("linear", "bilinear",
                                                                   "trilinear") else "cubic"
        M = _interp_matrix(n, m, kind, align_corners, scales[i], antialias)
        Mt = _F["from_numpy"](M.astype(np.float64)).to(device=input.device, dtype=input.dtype)
        x = x.movedim(d, -1).matmul(Mt.t()).movedim(-1, d)
    if x is input:
        x = input.clone()
    return x


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------
# grid_sample / affine_grid
# ---------------------------------------------------------------------------

def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(x, twice_low, twice_high):
    if twice_low == twice_high:
        return x * 0
    mn = twice_low / 2
    span = (twice_high - twice_low) / 2
    x = (x - mn).abs()
    extra = _F["fmod"](x, span)
    flips = (x / span).floor().detach()
    even = _F["remainder"](flips, 2) == 0
    return _F["where"](even, extra + mn, span - extra + mn)


def _source_coord(coord, size, padding_mode, align_corners):
    x = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        x = x.clamp(0, size - 1)
    elif padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        x = x.clamp(0, size - 1)
    return x


def _gather_taps(flat, idx_list, sizes, valid):
    """Values of ``flat`` (N, C, prod(sizes)) at integer coords ``idx_list`` (each
    (N, *out)), zero where not ``valid``."""
    lin = None
    for ix, n in zip(idx_list, sizes):
        c = ix.clamp(0, n - 1)
        lin = c if lin is None else lin * n + c
    N, C = flat.shape[0], flat.shape[1]
    out_shape = tuple(lin.shape[1:])
    li = lin.reshape(N, 1, -1).expand(N, C, lin[0].numel())
    v = flat.gather(2, li).reshape(N, C, *out_shape)
    if valid is not None:
        v = v * valid.unsqueeze(1).to(v.dtype)
    return v


def _default_align_corners(align_corners):
    """grid_sample/affine_grid: ``align_corners=None`` warns (at their caller) and means False."""
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to "
                      "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                      "old behavior is desired. See the documentation of grid_sample for "
                      "details.", stacklevel=3)
        return False
    return align_corners


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    align_corners = _default_align_corners(align_corners)
    nd = input.dim() - 2
    if nd not in (2, 3) or grid.dim() != input.dim() or grid.shape[-1] != nd or \
            grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {nd} in last dimension "
                           f"and input and grid to be 4-D or 5-D with the same batch size, but "
                           f"got input of shape {list(input.shape)} and grid of shape "
                           f"{list(grid.shape)}")
    if mode == "bicubic" and nd != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    sizes = list(input.shape[2:])  # (D,) H, W
    N, C = input.shape[0], input.shape[1]
    flat = input.reshape(N, C, -1)
    # grid's last dim is (x, y[, z]) = (W, H[, D]) order
    coords = [grid[..., nd - 1 - k] for k in range(nd)]  # per spatial dim in input order
    if mode == "bicubic":
        src = [_unnormalize(c, n, align_corners) for c, n in zip(coords, sizes)]
        base = [s.floor().detach() for s in src]
        t = [s - b for s, b in zip(src, base)]
        wy = _cubic_weights(t[0])
        wx = _cubic_weights(t[1])
        out = 0
        for a in range(4):
            for b in range(4):
                iy, ix = base[0] + (a - 1), base[1] + (b - 1)
                if padding_mode == "zeros":
                    valid = (iy >= 0) & (iy <= sizes[0] - 1) & (ix >= 0) & (ix <= sizes[1] - 1)
                    idx = [iy.long(), ix.long()]
                else:
                    valid = None
                    idx = [_source_coord_int(iy, sizes[0], padding_mode, align_corners),
                           _source_coord_int(ix, sizes[1], padding_mode, align_corners)]
                v = _gather_taps(flat, idx, sizes, valid)
                out = out + v * (wy[a] * wx[b]).unsqueeze(1)
        return out
    src = [_source_coord(c, n, padding_mode, align_corners) for c, n in zip(coords, sizes)]
    if mode == "nearest":
        idx = [_round_half_even(s) for s in src]
        valid = None
        for i, n in zip(idx, sizes):
            ok = (i >= 0) & (i <= n - 1)
            valid = ok if valid is None else valid & ok
        return _gather_taps(flat, [i.long() for i in idx], sizes, valid)
    lo = [s.floor().detach() for s in src]
    frac = [s - f for s, f in zip(src, lo)]
    out = 0
    for corner in range(2 ** nd):
        idx, w, valid = [], None, None
        for k in range(nd):
            up = (corner >> (nd - 1 - k)) & 1
            i = lo[k] + up
            wk = frac[k] if up else 1 - frac[k]
            w = wk if w is None else w * wk
            ok = (i >= 0) & (i <= sizes[k] - 1)
            valid = ok if valid is None else valid & ok
            idx.append(i.long())
        out = out + _gather_taps(flat, idx, sizes, valid) * w.unsqueeze(1)
    return out


def _round_half_even(x):
    a = x.detach()
    r = a.floor()
    diff = a - r
    up = (diff > 0.5) | ((diff == 0.5) & (_F["remainder"](r, 2) != 0))
    return r + up.to(r.dtype)


def _source_coord_int(i, size, padding_mode, align_corners):
    """Bicubic taps: padding applied to the integer tap coordinates."""
    x = i
    if padding_mode == "border":
        x = x.clamp(0, size - 1)
    else:
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        x = x.clamp(0, size - 1)
    return x.long()


def affine_grid(theta, size, align_corners=None):
    align_corners = _default_align_corners(align_corners)
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = list(size)
    if len(size) == 4:
        if theta.dim() != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {list(theta.shape)}.")
        spatial = size[2:]
    elif len(size) == 5:
        if theta.dim() != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {list(theta.shape)}.")
        spatial = size[2:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    N = size[0]

    def lin(steps):
        if steps <= 1:
            return np.zeros(max(steps, 1))
        v = np.linspace(-1, 1, steps)
        return v if align_corners else v * (steps - 1) / steps
    axes = [lin(s) for s in reversed(spatial)]  # x (W), y (H)[, z (D)]
    mesh = np.meshgrid(*reversed(axes), indexing="ij")  # in spatial order
    cols = [m for m in reversed(mesh)] + [np.ones_like(mesh[0])]
    base = np.stack(cols, axis=-1).reshape(-1, len(cols))
    bt = _F["from_numpy"](base).to(device=theta.device, dtype=theta.dtype)
    grid = bt.unsqueeze(0).matmul(theta.transpose(1, 2))
    return grid.reshape(N, *spatial, len(spatial))


# ---------------------------------------------------------------------------
# gumbel_softmax
# ---------------------------------------------------------------------------

def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -_F["empty_like"](logits).exponential_().log()
    y_soft = A.softmax((logits + gumbels) / tau, dim)
    if hard:
        index = y_soft.max(dim, keepdim=True)[1]
        y_hard = _F["zeros_like"](logits).scatter(dim, index, 1.0)
        return y_hard - y_soft.detach() + y_soft
    return y_soft
