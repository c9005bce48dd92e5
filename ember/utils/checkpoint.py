"""Activation checkpointing: run a segment without saving its intermediates
and recompute them during backward (non-reentrant style)."""
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, fn, preserve_rng, kwargs, *args):
        ctx.fn, ctx.kwargs = fn, kwargs
        ctx.rng = None
        if preserve_rng:
            from .._ops.random import default_generator
            ctx.rng = default_generator.get_state()
        ctx.inputs = args
        with no_grad():
            return fn(*args, **kwargs)

    @staticmethod
    def backward(ctx, *grads):
        from .. import autograd
        from .._ops.random import default_generator
        ins = tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a
                    for a in ctx.inputs)
        saved = None
        if ctx.rng is not None:
            saved = default_generator.get_state()
            default_generator.set_state(ctx.rng)
        try:
            with enable_grad():
                out = ctx.fn(*ins, **ctx.kwargs)
        finally:
            if saved is not None:
                default_generator.set_state(saved)
        outs = (out,) if isinstance(out, Tensor) else tuple(out)
        pairs = [(o, g) for o, g in zip(outs, grads) if isinstance(o, Tensor) and o.requires_grad]
        diff = [a for a in ins if isinstance(a, Tensor) and a.requires_grad]
        gs = autograd.grad([o for o, _ in pairs], diff, [g for _, g in pairs],
                           allow_unused=True) if pairs and diff else ()
        it = iter(gs)
        res = tuple(next(it) if isinstance(a, Tensor) and a.requires_grad else None
                    for a in ins)
        return (None, None, None) + res


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    """Computes ``function(*args, **kwargs)`` without keeping its activations;
    they are recomputed in backward. ``use_reentrant`` is accepted (both
    behave the same here)."""
    return _Checkpoint.apply(function, preserve_rng_state, kwargs, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Runs ``functions`` (a Sequential or list) in ``segments`` checkpointed chunks."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(1, len(fns) // segments)

    def run(start, end):
        def f(x):
            for fn in fns[start:end]:
                x = fn(x)
            return x
        return f
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end + 1), input, **kwargs)
    return run(end + 1, len(fns))(input)
