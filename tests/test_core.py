"""Tensor core and autograd basics, compared with PyTorch."""
import numpy as np
import pytest
import torch
from reference import check, check_raises, randint, randn

import ember


@pytest.mark.parametrize("fn", [
    lambda m, x, y: m.add(x, y, alpha=2),
    lambda m, x, y: x * y + x / (y.abs() + 1),
    lambda m, x, y: (x - y) ** 2,
    lambda m, x, y: m.maximum(x, y) + m.minimum(x, y),
    lambda m, x, y: m.where(x > y, x, y * 2),
])
def test_binary_broadcast(fn):
    check(fn, randn(3, 4), randn(4))


@pytest.mark.parametrize("fn", [
    lambda m, x: x.sum(dim=1), lambda m, x: x.mean((0, 1), keepdim=True),
    lambda m, x: x.max(dim=1), lambda m, x: x.max(), lambda m, x: x.var(dim=0),
    lambda m, x: x.std(), lambda m, x: x.logsumexp(1), lambda m, x: x.prod(1),
    lambda m, x: x.amax(0), lambda m, x: x.cumsum(1), lambda m, x: x.argmax(1),
])
def test_reductions(fn):
    check(fn, randn(3, 4))


@pytest.mark.parametrize("fn", [
    lambda m, x: x[1:, ::2], lambda m, x: x[[0, 2], 1:], lambda m, x: x[x > 0],
    lambda m, x: x[None, ..., 1], lambda m, x: x.t().reshape(-1).view(2, 6),
    lambda m, x: x.unsqueeze(1).expand(3, 2, 4), lambda m, x: m.cat([x, x * 2], 1),
    lambda m, x: m.stack([x, x * 2], 1), lambda m, x: x.permute(1, 0).flip(0),
    lambda m, x: x.split(3, 1), lambda m, x: x.unbind(0), lambda m, x: x.diagonal(),
    lambda m, x: x.gather(1, m.tensor([[0, 1], [1, 2], [3, 3]])),
])
def test_views_and_indexing(fn):
    check(fn, randn(3, 4))


def test_matmul_family():
    check(lambda m, x, y: x @ y, randn(3, 4), randn(4, 5))
    check(lambda m, x, y: m.matmul(x, y), randn(2, 3, 4), randn(4))
    check(lambda m, x, y: m.matmul(x, y), randn(4), randn(2, 4, 3))
    check(lambda m, x, y: m.bmm(x, y), randn(2, 3, 4), randn(2, 4, 5))
    check_raises(lambda m, x, y: m.mm(x, y), randn(3, 4), randn(3, 4))


def test_inplace_through_views():
    def f(m, x):
        y = x * 1
        y[0] = 5
        y[:, 1].mul_(3)
        z = y[1]
        z.add_(x[0])
        return y * x
    check(f, randn(3, 4))


def test_scalar_promotion():
    check(lambda m, x: x + 2.5, randint(0, 5, 3), grad=False)
    check(lambda m, x: x / 2, randint(0, 5, 3), grad=False)
    check(lambda m, x: x * True, randint(0, 5, 3).astype(np.uint8), grad=False)


def test_errors():
    check_raises(lambda m, x: x.view(5), randn(3, 4))
    check_raises(lambda m, x: x[5], randn(3, 4))
    check_raises(lambda m, x: x.expand(3, 5), randn(3, 4))
    check_raises(lambda m, x: m.cat([x, x[:, :2].t()]), randn(3, 4))


def test_backward_errors():
    x = ember.randn(3, requires_grad=True)
    y = x.exp()
    y.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.add_(1)


def test_double_backward():
    def f(m, x):
        y = (x ** 3).sin().sum()
        (g,) = m.autograd.grad(y, x, create_graph=True)
        return g
    check(f, randn(5).astype(np.float64))


def test_custom_function():
    class Sq(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    x = ember.tensor([3.0], requires_grad=True)
    y = Sq.apply(x)
    assert type(y.grad_fn).__name__ == "SqBackward"
    y.backward()
    assert x.grad.tolist() == [6.0]


def test_gradcheck():
    a = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    b = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda a, b: (a * b).exp().sum(1), [a, b])


def test_repr_matches_torch():
    for data in ([1.5, 2], [[1.0, 2.0], [3.0, 4.0]], [1, 2, 3], [1e-5, 1.0, 1e5], [True]):
        assert repr(ember.tensor(data)) == repr(torch.tensor(data))
    assert repr(ember.zeros(2, dtype=ember.float64)) == repr(torch.zeros(2, dtype=torch.float64))
    x = ember.ones(2, requires_grad=True)
    assert repr(x * 2) == "tensor([2., 2.], grad_fn=<MulBackward0>)"


def test_import_stays_light():
    """`import ember` must not pull heavy optional dependencies (import time)."""
    import subprocess
    import sys
    code = ("import sys, ember; print(','.join(m for m in ('scipy', 'torch', 'matplotlib', "
            "'sklearn', 'cupy', 'ember.nn', 'ember.linalg') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"import ember also imported: {out}"


@pytest.mark.parametrize("env, tuned", [({}, True), ({"EMBER_MALLOC_TUNE": "0"}, False),
                                        ({"MALLOC_TOP_PAD_": "0"}, False)])
def test_malloc_tuning_at_import(env, tuned):
    """glibc keeps freed arrays in its heap (ember/_blas.py: tune_malloc) unless the
    user opted out or set a MALLOC_* tunable themselves."""
    import os
    import subprocess
    import sys
    if not os.confstr("CS_GNU_LIBC_VERSION"):
        pytest.skip("not glibc")
    base = {k: v for k, v in os.environ.items()
            if k != "EMBER_MALLOC_TUNE" and not k.startswith("MALLOC_")}
    r = subprocess.run([sys.executable, "-c", "import ember._blas as b; print(b.malloc_tuned)"],
                       capture_output=True, text=True, env={**base, **env}, check=True)
    assert r.stdout.strip() == str(tuned)
