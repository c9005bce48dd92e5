"""``linear_cross_entropy`` (PyTorch 2.13): cross entropy of ``linear(input,
linear_weight, linear_bias)`` against ``target``.

``options=None`` is the reference path, a composition of ember's ``linear`` and
``cross_entropy`` (fully differentiable, double backward included). An
``options`` object (:class:`ember.nn.LinearCrossEntropyOptions`) selects the
batch-chunked path: the ``(N, C)`` logits are never kept, the loss is computed
``batch_chunk_size`` rows at a time and the backward recomputes each chunk's
logits (so, unlike PyTorch, ``retain_graph=True`` always works; higher-order
gradients are not supported, as in PyTorch). Configurations the chunked path
does not support fall back to the reference path with PyTorch's warning."""
import math
import warnings

from ..._dtype import int64
from ..._ops import FUNCTIONS as _F
from ...autograd.function import Function, once_differentiable
from .linear import linear
from .loss import cross_entropy

__all__ = ["linear_cross_entropy"]


def _chunk_terms(x, w, b, t, cls_w, ignore_index, acc_dtype):
    """Logits-side quantities of one chunk: ``(lsm, valid, wt)`` with ``lsm``
    the log-softmax (acc dtype), ``valid`` the non-ignored rows and ``wt`` the
    class weight of each row's target (0 where ignored)."""
    if acc_dtype is not None and x.dtype != acc_dtype:
        x, w = x.to(acc_dtype), w.to(acc_dtype)
        b = b.to(acc_dtype) if b is not None else None
    logits = linear(x, w, b)
    lsm = logits.log_softmax(1)
    valid = t != ignore_index
    safe_t = _F["where"](valid, t, _F["zeros_like"](t))
    wt = valid.to(lsm.dtype)
    if cls_w is not None:
        wt = wt * cls_w.to(lsm.dtype).index_select(0, safe_t)
    return lsm, safe_t, wt


class _LinearCrossEntropyChunked(Function):
    """Batch-chunked linear + cross entropy (class-index targets, no smoothing)."""

    @staticmethod
    def forward(ctx, input, linear_weight, target, linear_bias, weight, reduction,
                ignore_index, chunk, acc_dtype):
        n = input.shape[0]
        losses, denom = [], 0.0
        for s in range(0, n, chunk):
            lsm, safe_t, wt = _chunk_terms(input[s:s + chunk], linear_weight, linear_bias,
                                           target[s:s + chunk], weight, ignore_index,
                                           acc_dtype)
            losses.append(-lsm.gather(1, safe_t.unsqueeze(1)).squeeze(1) * wt)
            denom = denom + wt.sum()
        loss = _F["cat"](losses, 0) if losses else input.new_zeros((0,))
        if reduction == "sum":
            out = loss.sum()
        elif reduction == "mean":
            out = loss.sum() / denom
        else:
            out = loss
        ctx.reduction, ctx.ignore_index, ctx.chunk, ctx.acc_dtype = (
            reduction, ignore_index, chunk, acc_dtype)
        ctx.denom = denom
        ctx.has_bias = linear_bias is not None
        ctx.save_for_backward(input, linear_weight, target, linear_bias, weight)
        return out.to(input.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        input, linear_weight, target, linear_bias, weight = ctx.saved_tensors
        n, chunk = input.shape[0], ctx.chunk
        acc = ctx.acc_dtype if ctx.acc_dtype is not None else input.dtype
        g = grad_output.to(acc)
        if ctx.reduction == "mean":
            g = g / ctx.denom
        gx, gw, gb = [], None, None
        for s in range(0, n, chunk):
            x = input[s:s + chunk]
            lsm, safe_t, wt = _chunk_terms(x, linear_weight, linear_bias, target[s:s + chunk],
                                           weight, ctx.ignore_index, ctx.acc_dtype)
            coef = wt * (g[s:s + chunk] if ctx.reduction == "none" else g)
            d = lsm.exp()
            d = d.scatter_add(1, safe_t.unsqueeze(1), -_F["ones_like"](safe_t.unsqueeze(1),
                                                                        dtype=d.dtype))
            d = d * coef.unsqueeze(1)                          # dloss/dlogits of the chunk
            gx.append(d.matmul(linear_weight.to(acc)))
            dw = d.t().matmul(x.to(acc))
            gw = dw if gw is None else gw + dw
            if ctx.has_bias:
                db = d.sum(0)
                gb = db if gb is None else gb + db
        grad_input = _F["cat"](gx, 0).to(input.dtype) if gx else _F["zeros_like"](input)
        grad_weight = (gw.to(linear_weight.dtype) if gw is not None
                       else _F["zeros_like"](linear_weight))
        grad_bias = None
        if ctx.has_bias:
            grad_bias = gb.to(linear_bias.dtype) if gb is not None else _F["zeros_like"](
                linear_bias)
        return grad_input, grad_weight, None, grad_bias, None, None, None, None, None


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0,
                         options=None):
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``;
    ``linear_weight`` may be ``(C, d_1, ..., d_K, in_features)`` for a
    K-dimensional loss (batched input then required). ``ignore_index=None``
    means -100 for class-index targets and is the only value allowed with
    class-probability targets. See the module docstring for ``options``."""
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError("expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.dim()}")
    num_batches = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions "
                           f"(in_features), got {input.shape[-1]} and "
                           f"{linear_weight.shape[-1]}, respectively")
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError("expected linear_bias shape "
                           f"{(num_classes, *out_features)}, got {tuple(linear_bias.shape)}")
    if len(out_features) > 0 and len(num_batches) == 0:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, "
                           f"(N, {in_features}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    logits_shape = (*num_batches, num_classes, *out_features)
    target_contains_probabilities = tuple(target.shape) == logits_shape
    if target_contains_probabilities and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = ignore_index if ignore_index is not None else -100

    chunkable = (reduction in {"mean", "sum", "none"} and label_smoothing == 0.0
                 and not out_features and target.dtype == int64)
    if options is not None and not chunkable:
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; chunked path needs "
            "reduction in {'mean','sum','none'}, label_smoothing == 0, target.dtype"
            " == int64, out_features == (). Got "
            f"reduction={reduction!r}, label_smoothing={label_smoothing}, "
            f"target.dtype={target.dtype}, out_features={out_features}"
            ", tracing=False, linear_bias.shape="
            f"{tuple(linear_bias.shape) if linear_bias is not None else None}.",
            stacklevel=2)
    if options is not None and chunkable:
        has_batches = input.dim() == 2
        if not has_batches:
            input, target = input.unsqueeze(0), target.unsqueeze(0)
        if target.dim() != 1 or target.shape[0] != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0] if target.dim() else 0}).")
        opts = options._adjust(num_batches=input.shape[0], in_features=in_features,
                               num_classes=num_classes, dtype=input.dtype,
                               device=input.device)
        acc = opts.acc_dtype if opts.acc_dtype != input.dtype else None
        result = _LinearCrossEntropyChunked.apply(input, linear_weight, target, linear_bias,
                                                  weight, reduction, ignore_index,
                                                  opts.batch_chunk_size, acc)
        return result if has_batches else result.squeeze(0)

    if out_features:
        linear_weight = linear_weight.reshape((math.prod(out_features, start=num_classes),
                                               in_features))
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(math.prod(out_features, start=num_classes))
    logits = linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=ignore_index, label_smoothing=label_smoothing)

