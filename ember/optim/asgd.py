"""Averaged SGD (``torch.optim.ASGD``)."""
import numpy as np

from .optimizer import (
    _ArrayOptimizer,
    _arrays,
    _bump_step,
    _check_lr,
    _check_nonneg,
    _effective_grad,
    _init_state,
    _setdefaults,
    _to_scalar,
)

__all__ = ["ASGD"]


class ASGD(_ArrayOptimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check_nonneg(weight_decay=weight_decay)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        _setdefaults(self, state, foreach=None, maximize=False, differentiable=False,
                     capturable=False)

    def _update(self, group, params):
        lr, lambd, alpha, t0 = float(group["lr"]), group["lambd"], group["alpha"], group["t0"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                _init_state(state, p, "ax", eta=float(_to_scalar(group["lr"])), mu=1.0)
            step = _bump_step(state)
            a, g, ax = _arrays(p, state, "ax")
            g = _effective_grad(self, a, g, group["maximize"], group["weight_decay"])
            eta, mu = state["eta"], state["mu"]
            eta_value = float(eta._data)
            tmp = self._scratch(a, 1)
            a *= 1 - lambd * eta_value
            np.multiply(g, -eta_value, out=tmp)
            a += tmp
            mu_value = float(mu._data)
            if mu_value != 1:
                np.subtract(a, ax, out=tmp)
                tmp *= mu_value
                ax += tmp
            else:
                np.copyto(ax, a)
            # eta and mu round to their (scalar) dtype, as PyTorch's 0-dim tensors do
            eta._data[...] = lr / ((1 + lambd * lr * step) ** alpha)
            mu._data[...] = 1 / max(1, step - t0)
            eta._version[0] += 1
            mu._version[0] += 1
