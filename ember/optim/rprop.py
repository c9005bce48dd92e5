"""Resilient backpropagation (``torch.optim.Rprop``)."""
import numpy as np

from .optimizer import (
    _ArrayOptimizer,
    _arrays,
    _bump_step,
    _check_lr,
    _effective_grad,
    _setdefaults,
    _state_like,
    _step_tensor,
    _to_scalar,
)

__all__ = ["Rprop"]


class Rprop(_ArrayOptimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        _setdefaults(self, state, foreach=None, maximize=False, differentiable=False,
                     capturable=False)

    def _update(self, group, params):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["prev"] = _state_like(p)
                state["step_size"] = _state_like(p, float(_to_scalar(group["lr"])))
            _bump_step(state)
            a, g, prev, step_size = _arrays(p, state, "prev", "step_size")
            g = _effective_grad(self, a, g, group["maximize"], 0)
            sign = self._scratch(a, 1)
            np.multiply(g, prev, out=sign)
            np.sign(sign, out=sign)
            negative = sign < 0
            np.copyto(sign, etaplus, where=sign > 0)
            np.copyto(sign, etaminus, where=negative)
            np.copyto(sign, 1, where=sign == 0)
            step_size *= sign
            np.clip(step_size, step_size_min, step_size_max, out=step_size)
            # where the gradient changed sign it is taken as 0 (no step, no memory)
            np.copyto(prev, g)
            np.copyto(prev, 0, where=negative)
            np.sign(prev, out=sign)
            sign *= step_size
            a -= sign
