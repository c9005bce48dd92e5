"""RAdam (``torch.optim.RAdam``): Adam with variance rectification."""
import numpy as np

from .adam import _check_betas
from .optimizer import (
    _addcmul_sq_,
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

__all__ = ["RAdam"]


class RAdam(_ArrayOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        _check_lr(lr)
        _check_nonneg(epsilon=eps)
        _check_betas(betas)
        _check_nonneg(weight_decay=weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        _setdefaults(self, state, foreach=None, maximize=False, differentiable=False,
                     decoupled_weight_decay=False, capturable=False)

    def _update(self, group, params):
        lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        decoupled = group["decoupled_weight_decay"]
        rho_inf = 2 / (1 - beta2) - 1
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                _init_state(state, p, "exp_avg", "exp_avg_sq")
            step = _bump_step(state)
            a, g, m, v = _arrays(p, state, "exp_avg", "exp_avg_sq")
            if wd != 0 and decoupled:
                a *= 1 - lr * wd
            g = _effective_grad(self, a, g, group["maximize"], 0 if decoupled else wd)
            tmp, tmp2 = self._scratch(a, 1), self._scratch(a, 2)
            _lerp_(m, g, 1 - beta1, tmp)
            v *= beta2
            _addcmul_sq_(v, g, 1 - beta2, tmp)
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            np.divide(m, bias_correction1, out=tmp)
            tmp *= lr
            if rho_t > 5.0:
                np.sqrt(v, out=tmp2)
                tmp2 += eps
                np.divide(bias_correction2 ** 0.5, tmp2, out=tmp2)
                tmp *= tmp2
                tmp *= ((rho_t - 4) * (rho_t - 2) * rho_inf /
                        ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            a -= tmp
