"""RMSprop (``torch.optim.RMSprop``)."""
import numpy as np

from .optimizer import (
    _addcmul_sq_,
    _ArrayOptimizer,
    _arrays,
    _bump_step,
    _check_lr,
    _check_nonneg,
    _effective_grad,
    _lerp_,
    _real,
    _setdefaults,
    _state_like,
    _step_tensor,
)

__all__ = ["RMSprop"]


class RMSprop(_ArrayOptimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check_lr(lr)
        _check_nonneg(epsilon=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        _setdefaults(self, state, momentum=0, centered=False, foreach=None, maximize=False,
                     differentiable=False, capturable=False)

    def _update(self, group, params):
        lr, alpha, eps = float(group["lr"]), group["alpha"], group["eps"]
        momentum, centered = group["momentum"], group["centered"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["square_avg"] = _state_like(p)
                if momentum > 0:
                    state["momentum_buffer"] = _state_like(p)
                if centered:
                    state["grad_avg"] = _state_like(p)
            _bump_step(state)
            a, g, sq = _arrays(p, state, "square_avg")
            g = _effective_grad(self, a, g, group["maximize"], group["weight_decay"])
            tmp = self._scratch(a, 1)
            sq *= alpha
            _addcmul_sq_(sq, g, 1 - alpha, tmp)
            if centered:
                ga = _real(state["grad_avg"]._data)
                _lerp_(ga, g, 1 - alpha, tmp)
                np.multiply(ga, ga, out=tmp)
                np.subtract(sq, tmp, out=tmp)
                np.sqrt(tmp, out=tmp)
            else:
                np.sqrt(sq, out=tmp)
            tmp += eps
            np.divide(g, tmp, out=tmp)
            if momentum > 0:
                buf = _real(state["momentum_buffer"]._data)
                buf *= momentum
                buf += tmp
                np.multiply(buf, -lr, out=tmp)
            else:
                tmp *= -lr
            a += tmp
