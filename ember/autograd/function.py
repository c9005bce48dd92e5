"""Custom differentiable operations: ``ember.autograd.Function``.

Both styles work: ``forward(ctx, *args)``, and ``forward(*args)`` together
with ``setup_context(ctx, inputs, output)``. The ctx is the graph node itself
(named ``<ClassName>Backward``), as in PyTorch.
"""
import functools

from .grad_mode import STATE, no_grad
from .graph import Node

__all__ = ["Function", "FunctionCtx", "once_differentiable", "InplaceFunction"]


class FunctionCtx:
    """Methods every custom Function's ctx has (mixed into its node class)."""

    def mark_dirty(self, *args):
        self._dirty = args

    def mark_non_differentiable(self, *args):
        self._non_diff = args

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def save_for_forward(self, *tensors):
        self._saved_fwd = tensors


class BackwardCFunction(Node, FunctionCtx):
    __slots__ = ()

    @staticmethod
    def backward(ctx, *grads):
        fn = ctx._fn_cls
        res = fn.backward(ctx, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n = len(ctx.next_functions)
        if len(res) > n:
            if any(r is not None for r in res[n:]):
                raise RuntimeError(f"function {type(ctx).__name__} returned an incorrect number "
                                   f"of gradients (expected {n}, got {len(res)})")
            res = res[:n]
        elif len(res) < n:
            raise RuntimeError(f"function {type(ctx).__name__} returned an incorrect number of "
                               f"gradients (expected {n}, got {len(res)})")
        return res

    # PyTorch exposes the user's backward as node.apply too
    def __call__(self, *grads):
        return self.apply(*grads)


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,),
                                 {"__slots__": (), "_fn_cls": cls})


class Function(metaclass=_FunctionMeta):
    """Base class for custom autograd ops (see ``torch.autograd.Function``)."""

    generate_vmap_rule = False

    def __init__(self, *args, **kwargs):
        pass

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not overridden")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._ops._core import record
        from .._tensor import Tensor
        ctx = cls._backward_cls()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        ctx._dirty = ctx._non_diff = ()
        uses_setup = cls.setup_context is not Function.setup_context
        with no_grad():
            if uses_setup:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        dirty = {id(t) for t in ctx._dirty}
        # Outputs that alias an input (returned as-is) get a fresh Tensor object
        # unless marked dirty, so their grad_fn doesn't clobber the input's.
        ids_in = {id(a) for a in args if isinstance(a, Tensor)}
        fixed = []
        for o in outs:
            if isinstance(o, Tensor) and id(o) in ids_in and id(o) not in dirty:
                o = o.view_as(o) if STATE.enabled else o.detach()
                o._base = None
            fixed.append(o)
        outs = tuple(fixed)
        tensor_outs = tuple(o if isinstance(o, Tensor) else None for o in outs)
        nondiff = {id(t) for t in ctx._non_diff}
        if STATE.enabled and any(ctx.needs_input_grad):
            # (record reads the inputs' edges before re-pointing dirty outputs)
            record(ctx, args, tuple(None if o is None or id(o) in nondiff else o
                                    for o in tensor_outs))
            for o in tensor_outs:
                if o is not None and id(o) in nondiff:
                    o._requires_grad = False
            # _out_meta must cover every output position
            ctx._out_meta = [None if o is None else
                             (o._data.shape, o._dtype, o.device) for o in tensor_outs]
        return outs[0] if single else outs


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        self.inplace = inplace


def once_differentiable(fn):
    """The wrapped backward runs with grad mode off (no double backward)."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper
