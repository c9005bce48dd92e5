"""Adagrad (``torch.optim.Adagrad``)."""
import numpy as np

from .optimizer import (
    _ArrayOptimizer,
    _arrays,
    _bump_step,
    _check_fused,
    _check_lr,
    _check_nonneg,
    _effective_grad,
    _setdefaults,
    _state_like,
    _step_tensor,
)

__all__ = ["Adagrad"]


class Adagrad(_ArrayOptimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        _check_nonneg(lr_decay=lr_decay, weight_decay=weight_decay,
                      initial_accumulator_value=initial_accumulator_value, epsilon=eps)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)
        # As PyTorch: the state exists from construction on.
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group, initial_accumulator_value)

    def _init_state(self, p, group, initial_accumulator_value):
        state = self.state[p]
        state["step"] = _step_tensor(is_fused=group["fused"])
        state["sum"] = _state_like(p, initial_accumulator_value)

    def __setstate__(self, state):
        _setdefaults(self, state, foreach=None, maximize=False, differentiable=False,
                     fused=None)

    def share_memory(self):
        pass  # NumPy memory is process-local; nothing to share

    def _update(self, group, params):
        lr, lr_decay, eps = float(group["lr"]), group["lr_decay"], group["eps"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                self._init_state(p, group, self.defaults["initial_accumulator_value"])
            step = _bump_step(state)
            a, g, s = _arrays(p, state, "sum")
            g = _effective_grad(self, a, g, group["maximize"], group["weight_decay"])
            clr = lr / (1 + (step - 1) * lr_decay)
            tmp = self._scratch(a, 1)
            np.multiply(g, g, out=tmp)
            s += tmp
            np.sqrt(s, out=tmp)
            tmp += eps
            np.divide(g, tmp, out=tmp)
            tmp *= -clr
            a += tmp
