"""Adamax (``torch.optim.Adamax``): Adam with the infinity norm."""
import numpy as np

from .adam import _check_betas
from .optimizer import (
    _ArrayOptimizer,
    _arrays,
    _bump_step,
    _check_lr,
    _check_nonneg,
    _effective_grad,
    _init_state,
    _lerp_,
    _setdefaults,
)

__all__ = ["Adamax"]


class Adamax(_ArrayOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check_nonneg(epsilon=eps)
        _check_betas(betas)
        _check_nonneg(weight_decay=weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        _setdefaults(self, state, foreach=None, maximize=False, differentiable=False,
                     capturable=False)

    def _update(self, group, params):
        lr, eps = float(group["lr"]), group["eps"]
        beta1, beta2 = group["betas"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                _init_state(state, p, "exp_avg", "exp_inf")
            step = _bump_step(state)
            a, g, m, u = _arrays(p, state, "exp_avg", "exp_inf")
            g = _effective_grad(self, a, g, group["maximize"], group["weight_decay"])
            tmp = self._scratch(a, 1)
            _lerp_(m, g, 1 - beta1, tmp)
            u *= beta2
            np.abs(g, out=tmp)
            tmp += eps
            np.maximum(u, tmp, out=u)
            clr = lr / (1 - beta1 ** step)
            np.divide(m, u, out=tmp)
            tmp *= -clr
            a += tmp
