"""Adadelta (``torch.optim.Adadelta``)."""
import numpy as np

from .optimizer import (
    _addcmul_sq_,
    _ArrayOptimizer,
    _arrays,
    _bump_step,
    _check_lr,
    _check_nonneg,
    _effective_grad,
    _init_state,
    _setdefaults,
)

__all__ = ["Adadelta"]


class Adadelta(_ArrayOptimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonneg(epsilon=eps, weight_decay=weight_decay)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        _setdefaults(self, state, foreach=None, maximize=False, differentiable=False,
                     capturable=False)

    def _update(self, group, params):
        lr, rho, eps = float(group["lr"]), group["rho"], group["eps"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                _init_state(state, p, "square_avg", "acc_delta")
            _bump_step(state)
            a, g, sq, acc = _arrays(p, state, "square_avg", "acc_delta")
            g = _effective_grad(self, a, g, group["maximize"], group["weight_decay"])
            std, delta = self._scratch(a, 1), self._scratch(a, 2)
            sq *= rho
            _addcmul_sq_(sq, g, 1 - rho, std)
            np.add(sq, eps, out=std)
            np.sqrt(std, out=std)
            np.add(acc, eps, out=delta)
            np.sqrt(delta, out=delta)
            delta /= std
            delta *= g
            acc *= rho
            _addcmul_sq_(acc, delta, 1 - rho, std)
            delta *= -lr
            a += delta
