"""Loss functions of ``ember.nn.functional``. ``cross_entropy``, ``nll_loss``
and ``ctc_loss`` are coarse ops (``ember/_ops/loss_ops.py``); the others are
short compositions of ember ops, following PyTorch's formulas."""
import math
import warnings

from ..._ops import FUNCTIONS as _F
from ..._ops import activation_ops as A
from ..._ops import loss_ops as L
from ..._ops._core import autocast_op
from ..._ops.nn_ops import pnorm
from ..._ops.stats import pdist  # torch.nn.functional.pdist is torch.pdist
from ..._tensor import Tensor

__all__ = ["l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div", "smooth_l1_loss", "huber_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss",
           "multi_margin_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "poisson_nll_loss", "gaussian_nll_loss", "ctc_loss", "pairwise_distance",
           "cosine_similarity", "pdist", "normalize"]


def _legacy_reduction(size_average, reduce, emit_warning=True):
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _red(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    return reduction


def _apply(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _size_warn(input, target):
    if target.size() != input.size():
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input "
                      f"size ({input.size()}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", stacklevel=3)


def _pointwise(input, target, reduction, weight, fn, weighted_mean_by_weight=True):
    _size_warn(input, target)
    try:
        input, target = _F["broadcast_tensors"](input, target) if "broadcast_tensors" in _F \
            else _broadcast2(input, target)
    except (RuntimeError, ValueError) as e:
        raise RuntimeError(str(e)) from None
    loss = fn(input - target)
    if weight is None:
        return _apply(loss, reduction)
    if weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and weighted_mean_by_weight:
        return loss.sum() / weight.sum()
    return _apply(loss, reduction)


def _broadcast2(a, b):
    shape = tuple(_F["broadcast_to"](a, b.shape).shape) if a.shape == b.shape else None
    if shape is None:
        import numpy as np
        try:
            shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({a.shape[-1] if a.dim() else 1}) must "
                               f"match the size of tensor b ({b.shape[-1] if b.dim() else 1})"
                               ) from None
        return a.expand(*shape), b.expand(*shape)
    return a, b


@autocast_op("fp32")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return _pointwise(input, target, _red(size_average, reduce, reduction), weight,
                      lambda d: d.abs())


@autocast_op("fp32")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return _pointwise(input, target, _red(size_average, reduce, reduction), weight,
                      lambda d: d * d)


def _smooth(d, beta):
    z = d.abs()
    return _F["where"](z < beta, z * z * (0.5 / beta), z - 0.5 * beta)


@autocast_op("fp32")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _red(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:
        return _pointwise(input, target, reduction, None, lambda d: d.abs())
    return _pointwise(input, target, reduction, None, lambda d: _smooth(d, beta))


@autocast_op("fp32")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")

    def f(d):
        z = d.abs()
        return _F["where"](z < delta, z * z * 0.5, (z - 0.5 * delta) * delta)
    return _pointwise(input, target, reduction, weight, f, weighted_mean_by_weight=False)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    reduction = _red(size_average, reduce, reduction)
    return L.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    return L.nll_loss(input, target, weight, ignore_index, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    if target.size() != input.size():
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input "
                         f"size ({input.size()}) is deprecated. Please ensure they have the same "
                         "size.")
    if input.numel() and bool(((input < 0) | (input > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    log_x = input.log().clamp(min=-100)
    log_1mx = (1 - input).log().clamp(min=-100)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _apply(loss, reduction)


@autocast_op("fp32")
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _red(size_average, reduce, reduction)
    if not target.size() == input.size():
        raise ValueError(f"Target size ({target.size()}) must be the same as input size "
                         f"({input.size()})")
    sp = -A.logsigmoid(input)  # log(1 + exp(-x)), stable
    if pos_weight is not None:
        loss = (1 - target) * input + ((pos_weight - 1) * target + 1) * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _apply(loss, reduction)


@autocast_op("fp32")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _F["xlogy"](target, target) - target * input
    if reduction == "batchmean":
        s = loss.sum()
        return s / input.size()[0] if input.dim() != 0 else s
    return _apply(loss, reduction)


@autocast_op("fp32")
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    return _apply(A.softplus(-input * target), reduction)


@autocast_op("fp32")
def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    loss = -(target * A.logsigmoid(input) + (1 - target) * A.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    C = input.size(class_dim)
    loss = loss.sum(dim=class_dim) / C
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _apply(loss, reduction)


@autocast_op("fp32")
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    import numpy as np
    ndim = input.dim()
    if ndim > 2 or (ndim > 0 and tuple(target.shape) != tuple(input.shape)) or \
            (ndim == 0 and target.numel() != 1):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    x = input.reshape(1, -1) if ndim < 2 else input
    C = x.shape[1]
    t = np.asarray(target.detach().cpu().numpy() if hasattr(target, "numpy") else target,
                   dtype=np.int64).reshape(x.shape)
    valid = np.cumprod(t >= 0, axis=1).astype(bool)  # targets stop at the first -1
    if bool(((t >= C) & valid).any()):
        raise RuntimeError("multilabel_margin_loss: target index out of range")
    safe = np.where(valid, t, 0)
    is_t = np.zeros(x.shape, bool)
    rows = np.repeat(np.arange(x.shape[0]), C)
    is_t[rows[valid.reshape(-1)], safe[valid]] = True
    like = input.detach()
    mask = _F["from_numpy"](valid[:, :, None] & ~is_t[:, None, :]).to(device=like.device)
    xt = x.gather(1, _F["from_numpy"](safe).to(device=like.device))
    z = (1 - xt.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0) * mask
    loss = z.sum((1, 2)) / C
    if ndim < 2:
        loss = loss.reshape(())
    return _apply(loss, reduction)


@autocast_op("fp32")
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    if input.dim() > 2:
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {list(input.shape)}")
    C = x.shape[1]
    t = target.reshape(-1, 1)
    if t.shape[0] != x.shape[0]:
        raise RuntimeError(f"inconsistent target size, expected {x.shape[0]} but got "
                           f"{list(target.shape)}")
    xy = x.gather(1, t)
    z = (margin - xy + x).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[t.reshape(-1)].unsqueeze(1)
    onehot = _F["zeros_like"](x).scatter(1, t, 1.0)
    loss = (z * (1 - onehot)).sum(1) / C
    if input.dim() < 2:
        loss = loss.reshape(())
    return _apply(loss, reduction)


@autocast_op("fp32")
def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.size()}, input2: {input2.size()}, "
                           f"target: {target.size()} ")
    return _apply((-target * (input1 - input2) + margin).clamp(min=0), reduction)


@autocast_op("fp32")
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    where = _F["where"]
    margin_clamp = (margin - input).clamp(min=0)
    out = where(target != 1, margin_clamp, 0.0 * margin_clamp) + \
        where(target != -1, input, 0.0 * input)
    return _apply(out, reduction)


@autocast_op("fp32")
def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() not in (1, 2) or \
            target.dim() != input1.dim() - 1:
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs with a target one "
                           f"dimension smaller, but got input1 {list(input1.shape)}, input2 "
                           f"{list(input2.shape)} and target {list(target.shape)}")
    d = input1.dim() - 1
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + eps
    m2 = (input2 * input2).sum(d) + eps
    cos = prod / (m1 * m2).sqrt()
    zeros = cos * 0
    out = _F["where"](target == 1, 1 - cos, zeros) + \
        _F["where"](target == -1, (cos - margin).clamp(min=0), zeros)
    return _apply(out, reduction)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    ndim = max(x1.dim(), x2.dim())
    return pnorm(x1 - x2 + eps, p, ndim - 1 if ndim else None, keepdim)


@autocast_op("fp32")
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    if not x1.is_floating_point():
        x1 = x1.float()
    if not x2.is_floating_point():
        x2 = x2.float()
    import numpy as np
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({x1.shape}) must match the size of tensor b "
                           f"({x2.shape}) at non-singleton dimension") from None
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = pnorm(x1, 2, dim, True)
    n2 = pnorm(x2, 2, dim, True)
    n1 = n1 + (n1.clamp(min=eps) - n1).detach()  # clamped value, unclamped gradient (as ATen)
    n2 = n2 + (n2.clamp(min=eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = pnorm(input, p, dim, True).clamp(min=eps).expand_as(input)
    res = input / denom
    if out is not None:
        return out.copy_(res)
    return res


@autocast_op("fp32")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    a, pd, nd = anchor.dim(), positive.dim(), negative.dim()
    if not (a == pd == nd):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {pd}D, "
                           f"and negative {nd}D inputs")
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = _F["minimum"](dist_neg, pairwise_distance(positive, negative, p, eps))
    return _apply((margin + dist_pos - dist_neg).clamp(min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pd, nd = anchor.ndim, positive.ndim, negative.ndim
    if not (a == pd == nd):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {pd}D, "
                           f"and negative {nd}D inputs")
    if distance_function is None:
        distance_function = pairwise_distance
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:
        dist_neg = _F["minimum"](dist_neg, distance_function(positive, negative))
    return _apply((margin + dist_pos - dist_neg).clamp(min=0), reduction)


@autocast_op("fp32")
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    reduction = _red(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        t = target
        stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + stirling.masked_fill(t <= 1, 0)
    return _apply(loss, reduction)


@autocast_op("fp32")
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * _F["ones_like"](input)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.size() != input.size():
        if input.size()[:-1] == var.size():
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and \
                sum(y for x, y in zip(input.size(), var.size()) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var + (var.clamp(min=eps) - var).detach()  # clamp without blocking the gradient
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _apply(loss, reduction)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    if not isinstance(log_probs, Tensor):
        raise TypeError("ctc_loss(): argument 'log_probs' must be Tensor")
    return L.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                      zero_infinity)
