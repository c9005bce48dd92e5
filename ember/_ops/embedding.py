"""Embedding lookups: ``embedding`` (one gather, gradient by one scatter-add of
rows), ``embedding_bag`` (gather + per-bag sum/mean/max) and the in-place
``embedding_renorm_`` that ``max_norm`` uses.

The scatter-add of gradient rows into the weight's gradient is
``embedding_dense_backward``, an op of its own whose gradient is again an
embedding lookup, so double backward works. ``sparse=True`` is accepted but
gradients are always dense (ember has no sparse tensors).
"""
import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._core import export, node, record, wrap

_LOW = (D.float16, D.bfloat16)
_INDEX = (D.int64, D.int32)


def rows_add(idx, rows, n):
    """``out[idx[k]] += rows[k]`` for an ``(n, D)`` zero array ``out``: the
    scatter-add of embedding gradients. On the CPU a sparse (n x N) one-hot
    product when SciPy is present (several times faster than ``np.add.at``)."""
    xp = xp_of(rows)
    dt = rows.dtype
    if dt.kind != "f" or dt.itemsize < 4:
        rows = rows.astype(np.float32)
    out_shape = (n,) + rows.shape[1:]
    if xp is np:
        m = idx.size
        if m >= 256 and rows.ndim == 2:
            try:
                import scipy.sparse as sp
            except ImportError:
                sp = None
            if sp is not None:
                one = sp.csr_matrix((np.ones(m, rows.dtype), (idx, np.arange(m))), shape=(n, m))
                return np.asarray(one @ rows).astype(dt, copy=False)
        out = np.zeros(out_shape, rows.dtype)
        np.add.at(out, idx, rows)
        return out.astype(dt, copy=False)
    import cupyx
    out = xp.zeros(out_shape, rows.dtype)
    cupyx.scatter_add(out, idx, rows)
    return out.astype(dt, copy=False)


def _check_indices(indices, fn="embedding"):
    if not isinstance(indices, Tensor):
        raise TypeError(f"{fn}(): argument 'indices' must be Tensor, not "
                        f"{type(indices).__name__}")
    if indices._dtype not in _INDEX:
        from ._core import _legacy_name
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"torch.{_legacy_name(indices._dtype)}Tensor instead (while checking "
                           f"arguments for {fn})")


def _check_range(idx, n):
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError("index out of range in self")


# ---------------------------------------------------------------------------
# embedding
# ---------------------------------------------------------------------------

def _embedding_backward(ctx, g):
    (indices,) = ctx.saved_tensors
    return None, embedding_dense_backward(g, indices, ctx.num_weights, ctx.padding_idx,
                                          ctx.scale_grad_by_freq)


EmbeddingBackward0 = node("EmbeddingBackward0", _embedding_backward)


@export(method=False)
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``torch.embedding``: rows of ``weight`` at ``indices``. ``padding_idx``
    (-1 for none) rows get no gradient."""
    _check_indices(indices)
    if weight._data.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D, got {weight._data.ndim}-D")
    w, idx = weight._data, indices._data
    n = w.shape[0]
    _check_range(idx, n)
    out = wrap(w[idx], weight._dtype)
    if weight._requires_grad and STATE.enabled:
        record(EmbeddingBackward0, (indices, weight), out, saved=(indices,), num_weights=n,
               padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    return out


def _dense_backward_backward(ctx, gg):
    (indices,) = ctx.saved_tensors
    r = embedding(gg, indices)
    scale = ctx.scale
    if scale is not None:
        r = r * wrap(scale.astype(gg._data.dtype, copy=False)
                     .reshape(scale.shape + (1,)), gg._dtype)
    return r, None


EmbeddingDenseBackward = node("EmbeddingDenseBackwardBackward0", _dense_backward_backward)


def embedding_dense_backward(grad, indices, num_weights, padding_idx=-1,
                             scale_grad_by_freq=False):
    """The weight gradient of ``embedding``: gradient rows summed per index
    (rows at ``padding_idx`` dropped, divided by the index's count with
    ``scale_grad_by_freq``)."""
    idx = indices._data.reshape(-1)
    g = grad._data
    rows = g.reshape(idx.size, g.shape[-1]) if idx.size else g.reshape(0, g.shape[-1])
    xp = xp_of(rows)
    scale = None
    if scale_grad_by_freq and idx.size:
        counts = xp.bincount(idx, minlength=num_weights)
        scale = (1.0 / counts[idx]).reshape(indices._data.shape)
    keep = None
    if padding_idx is not None and padding_idx >= 0:
        keep = idx != padding_idx
        if scale is None:
            scale = keep.reshape(indices._data.shape).astype(np.float64)
        else:
            scale = scale * keep.reshape(scale.shape)
    if scale is not None:
        rows = rows * scale.reshape(-1, 1).astype(rows.dtype if rows.dtype.kind == "f"
                                                  else np.float32)
        rows = rows.astype(g.dtype, copy=False)
    out = wrap(rows_add(idx, rows, num_weights), grad._dtype)
    if grad._requires_grad and STATE.enabled:
        record(EmbeddingDenseBackward, (grad, indices), out, saved=(indices,), scale=scale)
    return out


# ---------------------------------------------------------------------------
# embedding_renorm_
# ---------------------------------------------------------------------------

@export(method=False)
def embedding_renorm_(weight, indices, max_norm, norm_type):
    """Scales the rows of ``weight`` named in ``indices`` whose ``norm_type``
    norm exceeds ``max_norm`` down to ``max_norm`` (in place, unrecorded)."""
    _check_indices(indices, "embedding_renorm_")
    w = weight._data
    xp = xp_of(w)
    u = xp.unique(indices._data.reshape(-1))
    _check_range(u, w.shape[0])
    rows = w[u].astype(np.float64 if w.dtype == np.float64 else np.float32)
    p = float(norm_type)
    a = xp.abs(rows)
    if p == 2:
        nrm = xp.sqrt((a * a).sum(1))
    elif p == float("inf"):
        nrm = a.max(1) if a.shape[1] else a.sum(1)
    elif p == 1:
        nrm = a.sum(1)
    else:
        nrm = (a ** p).sum(1) ** (1.0 / p)
    big = nrm > max_norm
    if bool(big.any()):
        scale = max_norm / (nrm[big] + 1e-7)
        w[u[big]] = (rows[big] * scale[:, None]).astype(w.dtype)
        weight._version[0] += 1
    return weight


# ---------------------------------------------------------------------------
# embedding_bag
# ---------------------------------------------------------------------------

_MODES = {"sum": 0, "mean": 1, "max": 2, 0: 0, 1: 1, 2: 2}


def _bags(idx, offsets, include_last_offset, n_idx):
    """Bag id of every index position, and the number of bags."""
    xp = xp_of(idx)
    off = offsets.astype(np.int64, copy=False)
    if off.size and int(off[0]) != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {int(off[0])}")
    if off.size and int(off[-1]) > n_idx:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {n_idx} but got "
                           f"offsets[-1] of {int(off[-1])}")
    if off.size > 1 and bool((off[1:] < off[:-1]).any()):
        raise RuntimeError("embedding_bag: offsets must be non-decreasing")
    nb = off.size - 1 if include_last_offset else off.size
    nb = max(nb, 0)
    starts = off[:nb]
    # position k belongs to the last bag whose start is <= k
    bag = xp.searchsorted(starts, xp.arange(n_idx), side="right") - 1
    if include_last_offset and off.size:
        bag = xp.where(xp.arange(n_idx) >= off[-1], -1, bag)  # past the last bag: unused
    return bag, nb


def _embedding_bag_backward(ctx, g):
    (weight, psw) = ctx.saved_tensors[:2]
    idx_k, bag_k, keep_pos = ctx.idx_k, ctx.bag_k, ctx.keep_pos
    xp = xp_of(g._data)
    gw = gp = None
    idx_t = wrap(idx_k)
    if ctx.mode == 2:
        if ctx.needs_input_grad[1]:
            mi = ctx.max_idx  # (B, D) weight row of each bag's max, -1 for empty bags
            d = g._data.shape[1]
            valid = (mi >= 0).reshape(-1)
            flat = (mi * d + xp.arange(d)).reshape(-1)[valid]
            gsel = g.reshape(-1)[wrap(xp.nonzero(valid)[0])]
            gw = g.new_zeros((ctx.num_weights * d,)).index_add(0, wrap(flat), gsel) \
                .reshape(ctx.num_weights, d)
        return None, gw, None, None
    g_rows = g.index_select(0, wrap(bag_k))
    if ctx.needs_input_grad[1]:
        scaled = g_rows
        if ctx.row_scale is not None:
            scaled = g_rows * wrap(ctx.row_scale.reshape(-1, 1).astype(g._data.dtype), g._dtype)
        if psw is not None:
            scaled = scaled * psw.reshape(-1)[wrap(keep_pos)].unsqueeze(1)
        gw = embedding_dense_backward(scaled, idx_t, ctx.num_weights, -1,
                                      ctx.scale_grad_by_freq)
    if psw is not None and ctx.needs_input_grad[3]:
        per = (g_rows * embedding(weight, idx_t)).sum(1)
        gp = psw.new_zeros((psw.numel(),)).index_add(0, wrap(keep_pos), per).reshape(psw.shape)
    return None, gw, None, gp


EmbeddingBagBackward0 = node("EmbeddingBagBackward0", _embedding_bag_backward)


@export(method=False)
def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """``torch.embedding_bag``: ``(output, offset2bag, bag_size, max_indices)``.
    The three bookkeeping tensors are the bag of each index, each bag's size
    and (mode max) the row each maximum came from; their contents can differ
    from PyTorch's, which vary by mode and kernel."""
    out, aux = _embedding_bag(weight, indices, offsets, scale_grad_by_freq, mode,
                              per_sample_weights, include_last_offset, padding_idx)
    return (out,) + tuple(wrap(a.astype(np.int64, copy=False)) for a in aux)


def embedding_bag_output(weight, indices, offsets, scale_grad_by_freq=False, mode=0,
                         sparse=False, per_sample_weights=None, include_last_offset=False,
                         padding_idx=None):
    """The output of ``embedding_bag`` alone (what ``F.embedding_bag`` returns)."""
    return _embedding_bag(weight, indices, offsets, scale_grad_by_freq, mode,
                          per_sample_weights, include_last_offset, padding_idx)[0]


def _embedding_bag(weight, indices, offsets, scale_grad_by_freq, mode, per_sample_weights,
                   include_last_offset, padding_idx):
    """Per-bag sum (0), mean (1) or max (2) of the rows of ``weight`` at 1-D
    ``indices`` split into bags by ``offsets``."""
    _check_indices(indices, "embedding_bag")
    mode = _MODES[mode]
    w = weight._data
    xp = xp_of(w)
    n, d = w.shape
    idx = indices._data.reshape(-1)
    _check_range(idx, n)
    bag, nb = _bags(idx, offsets._data, include_last_offset, idx.size)
    keep = bag >= 0
    if padding_idx is not None and padding_idx >= 0:
        keep &= idx != padding_idx
    keep_pos = xp.nonzero(keep)[0]
    idx_k, bag_k = idx[keep_pos], bag[keep_pos]
    low = weight._dtype in _LOW
    rows = w[idx_k]
    if low:
        rows = rows.astype(np.float32)
    psw = per_sample_weights
    if psw is not None:
        if mode != 0:
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                      f"per_sample_weights is only supported for mode='sum' "
                                      f"(got mode='{['sum', 'mean', 'max'][mode]}'). Please open "
                                      "a feature request on GitHub.")
        rows = rows * psw._data.reshape(-1)[keep_pos].astype(rows.dtype)[:, None]
    counts = xp.bincount(bag_k, minlength=nb)[:nb] if nb else xp.zeros(0, np.int64)
    nonempty = counts > 0
    starts = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(counts)[:-1]]) if nb else counts
    out = xp.zeros((nb, d), rows.dtype)
    max_idx = row_scale = None
    if rows.shape[0]:
        s = starts[nonempty]
        if mode == 2:
            if xp is np:
                out[nonempty] = np.maximum.reduceat(rows, s, axis=0)
            else:
                import cupyx
                out[...] = -xp.inf
                cupyx.scatter_max(out, bag_k, rows)
                out[~nonempty] = 0
            hit = rows == out[bag_k]
            pos = xp.where(hit, xp.arange(rows.shape[0])[:, None], rows.shape[0])
            first = xp.full((nb, d), rows.shape[0], np.int64)
            if xp is np:
                first[nonempty] = np.minimum.reduceat(pos, s, axis=0)
            else:
                cupyx.scatter_min(first, bag_k, pos)
            max_idx = xp.where(nonempty[:, None], xp.concatenate([idx_k, xp.full(1, -1)])[first],
                               -1)
        else:
            if xp is np:
                out[nonempty] = np.add.reduceat(rows, s, axis=0)
            else:
                out = rows_add(bag_k, rows, nb)
            if mode == 1:
                c = xp.maximum(counts, 1).astype(out.dtype)
                out /= c[:, None]
                row_scale = 1.0 / c[bag_k]
    elif mode == 2:
        max_idx = xp.full((nb, d), -1, np.int64)
    res = wrap(out.astype(w.dtype, copy=False), weight._dtype)
    if STATE.enabled and (weight._requires_grad or (psw is not None and psw._requires_grad)):
        record(EmbeddingBagBackward0, (indices, weight, offsets, psw), res, saved=(weight, psw),
               idx_k=idx_k, bag_k=bag_k, keep_pos=keep_pos, mode=mode, num_weights=n,
               max_idx=max_idx, row_scale=row_scale, scale_grad_by_freq=scale_grad_by_freq)
    return res, (bag, counts, max_idx if max_idx is not None else counts)
