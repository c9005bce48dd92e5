"""ember.autograd: the define-by-run engine's public API."""
from . import graph
from .anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .function import Function, FunctionCtx, InplaceFunction, once_differentiable
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import gradcheck, gradgradcheck
from .graph import run_backward

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad",
           "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "gradcheck", "gradgradcheck", "detect_anomaly", "set_detect_anomaly", "graph",
           "Variable", "functional", "InplaceFunction", "is_anomaly_enabled",
           "is_inference_mode_enabled"]


def _tensors(x):
    from .._tensor import Tensor
    if isinstance(x, Tensor):
        return (x,)
    if x is None:
        return ()
    return tuple(x)


def _make_grads(outputs, grads, is_grads_batched=False):
    from .._backend import xp_of as _xp_of
    from .._tensor import Tensor, _wrap
    out = []
    grads = (None,) * len(outputs) if grads is None else \
        ((grads,) if isinstance(grads, Tensor) else tuple(grads))
    if len(grads) != len(outputs):
        raise RuntimeError(f"Mismatch in number of gradients: expected {len(outputs)} but got "
                           f"{len(grads)}")
    for o, g in zip(outputs, grads):
        if g is None:
            if o.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not o.dtype.is_floating_point:  # complex outputs need an explicit grad too
                raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                   f"outputs but got {o.dtype}")
            d = o._data
            g = _wrap(_xp_of(d).ones(d.shape, d.dtype), o.dtype)
        elif not isinstance(g, Tensor):
            g = o.new_full(o.shape, g)
        elif g.shape != o.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{len(out)}] has a shape of "
                               f"{g.shape} and output[{len(out)}] has a shape of {o.shape}.")
        out.append(g)
    return out


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulates gradients of ``tensors`` into the leaves' ``.grad``."""
    tensors = _tensors(tensors)
    if grad_variables is not None:
        grad_tensors = grad_variables
    if inputs is not None:
        inputs = _tensors(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    for t in tensors:
        if t.grad_fn is None and not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
    grads = _make_grads(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Returns the gradients of ``outputs`` w.r.t. ``inputs`` (nothing is
    accumulated into ``.grad``)."""
    outputs = _tensors(outputs)
    inputs = _tensors(inputs)
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    for t in outputs:
        if t.grad_fn is None and not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    grads = _make_grads(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    res = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                       allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        res = [r if r is not None else i.new_zeros(i.shape) for r, i in zip(res, inputs)]
    return tuple(res)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize):
    from .. import _ops
    stack = _ops.FUNCTIONS["stack"]
    n = grad_outputs[0].shape[0] if not hasattr(grad_outputs, "shape") else \
        grad_outputs.shape[0]
    gos = grad_outputs if isinstance(grad_outputs, (tuple, list)) else (grad_outputs,)
    rows = [grad(outputs, inputs, [g[i] for g in gos], retain_graph=True,
                 create_graph=create_graph, allow_unused=allow_unused,
                 materialize_grads=materialize) for i in range(n)]
    return tuple(stack([r[k] for r in rows]) if rows[0][k] is not None else None
                 for k in range(len(inputs)))


def Variable(data, requires_grad=False, volatile=False):
    """Deprecated alias kept for old code: returns ``data`` itself."""
    if requires_grad:
        data.requires_grad_(True)
    return data


def __getattr__(name):
    if name == "functional":
        import importlib
        return importlib.import_module(__name__ + ".functional")
    if name == "forward_ad":
        raise NotImplementedError("ember.autograd.forward_ad (forward-mode AD) is not "
                                  "implemented; use autograd.functional.jvp (double-backward)")
    raise AttributeError(f"module 'ember.autograd' has no attribute '{name}'")
