"""Stochastic gradient descent (``torch.optim.SGD``)."""
import numpy as np

from ._cuda_fused import sgd_momentum_step
from .optimizer import (
    _ArrayOptimizer,
    _check_fused,
    _check_lr,
    _effective_grad,
    _real,
    _setdefaults,
    _state_like,
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
        dampening, nesterov = group["dampening"], group["nesterov"]
        for p in params:
            a = _real(p._data)
            g = _effective_grad(self, a, _real(p._grad._data), group["maximize"],
                                group["weight_decay"])
            tmp = self._scratch(a, 1)
            if momentum != 0:
                state = self.state[p]
                buf_t = state.get("momentum_buffer")
                if buf_t is None:
                    buf_t = state["momentum_buffer"] = _state_like(p)
                    buf = _real(buf_t._data)
                    np.copyto(buf, g)
                elif type(a) is not np.ndarray:  # CUDA: one fused kernel
                    sgd_momentum_step(a, g, _real(buf_t._data), lr, momentum, dampening,
                                      nesterov)
                    continue
                else:
                    buf = _real(buf_t._data)
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
