"""NAdam (``torch.optim.NAdam``): Adam with Nesterov momentum."""
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

__all__ = ["NAdam"]


class NAdam(_ArrayOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_lr(lr)
        _check_nonneg(epsilon=eps)
        _check_betas(betas)
        _check_nonneg(weight_decay=weight_decay, momentum_decay=momentum_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        _setdefaults(self, state, maximize=False, foreach=None, capturable=False,
                     differentiable=False, decoupled_weight_decay=False)

    def _update(self, group, params):
        lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        momentum_decay, decoupled = group["momentum_decay"], group["decoupled_weight_decay"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                _init_state(state, p, "exp_avg", "exp_avg_sq", mu_product=1.0)
            step = _bump_step(state)
            a, g, m, v = _arrays(p, state, "exp_avg", "exp_avg_sq")
            bias_correction2 = 1 - beta2 ** step
            if wd != 0 and decoupled:
                a *= 1 - lr * wd
            g = _effective_grad(self, a, g, group["maximize"], 0 if decoupled else wd)
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            # mu_product is a 0-dim tensor of the scalar dtype: the product rounds to it
            mp_t = state["mu_product"]
            mp = mp_t._data
            np.multiply(mp, mp.dtype.type(mu), out=mp)
            mp_t._version[0] += 1
            mu_product = float(mp)
            tmp, tmp2 = self._scratch(a, 1), self._scratch(a, 2)
            _lerp_(m, g, 1 - beta1, tmp)
            v *= beta2
            _addcmul_sq_(v, g, 1 - beta2, tmp)
            np.divide(v, bias_correction2, out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp += eps
            mu_product_next = mu_product * mu_next
            np.divide(g, tmp, out=tmp2)
            tmp2 *= -lr * (1.0 - mu) / (1.0 - mu_product)
            a += tmp2
            np.divide(m, tmp, out=tmp2)
            tmp2 *= (-lr * mu_next) / (1.0 - mu_product_next)
            a += tmp2
