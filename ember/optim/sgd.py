"""Stochastic gradient descent (``torch.optim.SGD``)."""
import numpy as np

from ._cuda_fused import sgd_momentum_step
from .optimizer import (
    _ArrayOptimizer,
    _check_fused,
    _check_lr,
    _effective_grad,
    _real,
    _run_units,
    _setdefaults,
    _state_like,
    _thread_scratch,
)

__all__ = ["SGD"]


class SGD(_ArrayOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def __setstate__(self, state):
        _setdefaults(self, state, nesterov=False, maximize=False, foreach=None,
                     differentiable=False, fused=False)

    def _update(self, group, params):
        lr, momentum = float(group["lr"]), group["momentum"]
        consts = (lr, momentum, group["dampening"], group["nesterov"], group["weight_decay"],
                  group["maximize"])
        units = []
        for p in params:
            a, g = _real(p._data), _real(p._grad._data)
            buf, first = None, False
            if momentum != 0:
                state = self.state[p]
                buf_t = state.get("momentum_buffer")
                if buf_t is None:
                    buf_t = state["momentum_buffer"] = _state_like(p)
                    first = True
                buf = _real(buf_t._data)
                if type(a) is not np.ndarray and not first:  # CUDA: one fused kernel
                    g = _effective_grad(self, a, g, group["maximize"], group["weight_decay"])
                    sgd_momentum_step(a, g, buf, lr, momentum, group["dampening"],
                                      group["nesterov"])
                    continue
            if type(a) is np.ndarray:
                units.append(((a, g, buf), (first,) + consts))
            else:
                _sgd_unit(a, g, buf, first, *consts)
        if units:
            _run_units(_sgd_unit, units)


def _sgd_unit(a, g, buf, first, lr, momentum, dampening, nesterov, wd, maximize):
    """One SGD update of (a block of) parameter ``a`` in place; ``buf`` is the
    momentum buffer (None without momentum), ``first`` whether it is new. Units
    of a group run on the intra-op threads (``optimizer._run_units``)."""
    g = _effective_grad(None, a, g, maximize, wd)
    tmp = _thread_scratch(a, 1)
    if buf is not None:
        if first:
            np.copyto(buf, g)
        else:
            buf *= momentum
            if dampening:
                np.multiply(g, 1 - dampening, out=tmp)
                buf += tmp
            else:
                buf += g
        if nesterov:
            np.multiply(buf, momentum, out=tmp)
            g = np.add(g, tmp, out=tmp)
        else:
            g = buf
    np.multiply(g, -lr, out=tmp)
    a += tmp
