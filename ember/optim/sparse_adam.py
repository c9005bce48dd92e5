"""SparseAdam (``torch.optim.SparseAdam``).

ember has no sparse tensors, so this takes the dense gradient of an
Embedding-style parameter and updates only the rows (slices along dim 0) whose
gradient is not all zero, which is what PyTorch does with the sparse gradient
of ``nn.Embedding(sparse=True)`` (a row that was looked up but got an exactly
zero gradient is skipped here, updated there)."""
import math

from .adam import _check_betas
from .optimizer import _ArrayOptimizer, _check_lr, _state_like, _xp

__all__ = ["SparseAdam"]


class SparseAdam(_ArrayOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        _check_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)
        complex_params = [[i, j] for i, group in enumerate(self.param_groups)
                          for j, p in enumerate(group["params"]) if p.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not "
                             "support complex parameters")

    def _update(self, group, params):
        lr, eps = float(group["lr"]), group["eps"]
        beta1, beta2 = group["betas"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = 0
                state["exp_avg"] = _state_like(p)
                state["exp_avg_sq"] = _state_like(p)
            state["step"] += 1
            step = state["step"]
            g = p._grad._data
            if group.get("maximize", False):
                g = -g
            if g.ndim == 0:
                continue  # a 0-dim parameter has no rows
            xp = _xp(g)
            rows = xp.flatnonzero((g.reshape(g.shape[0], -1) != 0).any(axis=1))
            if rows.size == 0:
                continue
            m, v, a = state["exp_avg"]._data, state["exp_avg_sq"]._data, p._data
            values = g[rows]
            old_m = m[rows]
            upd_m = (values - old_m) * (1 - beta1)
            m[rows] += upd_m
            old_v = v[rows]
            upd_v = (values * values - old_v) * (1 - beta2)
            v[rows] += upd_v
            numer = upd_m + old_m
            denom = xp.sqrt(upd_v + old_v) + eps
            step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
            a[rows] += -step_size * (numer / denom)
            state["exp_avg"]._version[0] += 1
            state["exp_avg_sq"]._version[0] += 1
