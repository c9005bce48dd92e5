"""Mixed precision on CPU: autocast dtypes as PyTorch, GradScaler behaviour."""
import numpy as np
import pytest
import torch
from reference import dtype_name, randn

import ember


@pytest.mark.parametrize("fn", [
    lambda m, a, b: a @ b, lambda m, a, b: m.mm(a, b), lambda m, a, b: a + 1,
    lambda m, a, b: (a @ b) + a[:, :1], lambda m, a, b: m.nn.functional.linear(a, b.t()),
    lambda m, a, b: m.bmm(a[None], b[None]), lambda m, a, b: a.exp(),
    lambda m, a, b: (a @ b).exp(), lambda m, a, b: (a @ b).sum(),
    lambda m, a, b: m.nn.functional.conv2d(a[None, None], b[None, None, :3, :3]),
    lambda m, a, b: m.nn.functional.conv_transpose1d(a[None], b[:, :, None]),
    lambda m, a, b: m.nn.functional.layer_norm(a @ b, (4,)),
])
def test_autocast_cpu_dtypes(fn):
    a, b = randn(4, 4), randn(4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t = fn(torch, torch.from_numpy(a), torch.from_numpy(b))
    with ember.autocast("cpu", dtype=ember.bfloat16):
        e = fn(ember, ember.from_numpy(a), ember.from_numpy(b))
    assert dtype_name(e.dtype) == dtype_name(t.dtype)
    np.testing.assert_allclose(e.float().numpy(), t.float().numpy(), rtol=3e-2, atol=3e-2)


def test_autocast_nesting_and_disable():
    a = ember.randn(2, 2)
    with ember.autocast("cpu"):
        assert (a @ a).dtype is ember.bfloat16
        with ember.autocast("cpu", enabled=False):
            assert (a @ a).dtype is ember.float32
        assert (a @ a).dtype is ember.bfloat16
    assert (a @ a).dtype is ember.float32
    with ember.amp.autocast("cpu", dtype=ember.float16):
        assert (a @ a).dtype is ember.float16


def test_autocast_backward_gives_fp32_grads():
    w = ember.randn(3, 3, requires_grad=True)
    x = ember.randn(2, 3)
    with ember.autocast("cpu"):
        y = (x @ w).float().sum()
    y.backward()
    assert w.grad.dtype is ember.float32


def _model(m):
    w = m.nn.Parameter(m.tensor([[1.0, 2.0], [3.0, 4.0]]))
    return w, m.optim.SGD([w], lr=0.1)


def test_grad_scaler_matches_torch():
    if not hasattr(ember, "optim") or not hasattr(ember.nn, "Parameter"):
        pytest.skip("needs ember.optim")
    res = {}
    for m in (ember, torch):
        w, opt = _model(m)
        sc = m.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
        scales = []
        for step in range(5):
            opt.zero_grad()
            loss = (w * w).sum()
            sc.scale(loss).backward()
            if step == 2:
                w.grad[0, 0] = float("inf")   # injected overflow: step must be skipped
            sc.step(opt)
            sc.update()
            scales.append(sc.get_scale())
        res[m.__name__] = (scales, w.detach().numpy().copy(), sc.state_dict())
    assert res["ember"][0] == res["torch"][0]
    np.testing.assert_allclose(res["ember"][1], res["torch"][1], rtol=1e-6)
    assert res["ember"][2] == res["torch"][2]


def test_grad_scaler_unscale_and_errors():
    sc = ember.amp.GradScaler("cpu", init_scale=4.0)
    w = ember.ones(2, requires_grad=True)

    class Opt:
        param_groups = [{"params": [w]}]
        stepped = False

        def step(self):
            Opt.stepped = True
    opt = Opt()
    sc.scale((w * 3).sum()).backward()
    sc.unscale_(opt)
    assert w.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="already been called"):
        sc.unscale_(opt)
    sc.step(opt)
    assert Opt.stepped
    with pytest.raises(ValueError):
        ember.amp.GradScaler(growth_factor=0.5)
