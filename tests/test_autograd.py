"""Autograd (issue 4): graph, engine, views/in-place, grad modes, custom
Functions, hooks, tools — compared with PyTorch."""
import threading

import numpy as np
import pytest
import torch
from reference import check, check_raises, randn

import ember


def both(fn):
    """Runs fn(m) for ember and torch; returns (ember_result, torch_result)."""
    return fn(ember), fn(torch)


def test_graph_names_and_next_functions():
    def f(m):
        x = m.ones(2, 3, requires_grad=True)
        y = (x * 2 + 1).sum()
        return [type(y.grad_fn).__name__, type(y.grad_fn.next_functions[0][0]).__name__,
                [type(n).__name__ for n, _ in y.grad_fn.next_functions[0][0].next_functions
                 if n is not None], x.is_leaf, y.is_leaf, y.requires_grad]
    e, t = both(f)
    assert e == t


@pytest.mark.parametrize("expr,name", [
    (lambda x, y: x + y, "AddBackward0"), (lambda x, y: x * y, "MulBackward0"),
    (lambda x, y: x - y, "SubBackward0"), (lambda x, y: x / y, "DivBackward0"),
    (lambda x, y: x @ y.t(), "MmBackward0"), (lambda x, y: x.exp(), "ExpBackward0"),
    (lambda x, y: x.sum(), "SumBackward0"), (lambda x, y: x.mean(1), "MeanBackward1"),
    (lambda x, y: x.view(-1), "ViewBackward0"), (lambda x, y: x.t(), "TBackward0"),
    (lambda x, y: x[0], "SelectBackward0"), (lambda x, y: x.relu(), "ReluBackward0"),
])
def test_grad_fn_names(expr, name):
    x = torch.ones(2, 2, requires_grad=True)
    e = ember.ones(2, 2, requires_grad=True)
    tn = type(expr(x, x).grad_fn).__name__
    en = type(expr(e, e).grad_fn).__name__
    assert tn == name
    assert en == tn or (tn, en) in _KNOWN_NAME_DIFFS


# grad_fn names ember does not reproduce yet (the value is the ember name)
_KNOWN_NAME_DIFFS = {("DivBackward0", "TrueDivideBackward0"), ("TBackward0", "TransposeBackward0")}


def test_leaf_accumulation_and_retain_grad():
    def f(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        z = (y * y).sum()
        z.backward(retain_graph=True)
        z.backward()
        return x.grad, y.grad, y.retains_grad
    e, t = both(f)
    np.testing.assert_allclose(e[0].numpy(), t[0].numpy())
    np.testing.assert_allclose(e[1].numpy(), t[1].numpy())
    assert e[2] == t[2]


def test_detach_and_data():
    for m in (ember, torch):
        x = m.ones(3, requires_grad=True)
        d = x.detach()
        d[0] = 5
        assert x[0].item() == 5 and not d.requires_grad
        y = x * 2
        y.detach_()
        assert y.grad_fn is None and not y.requires_grad
        assert not x.data.requires_grad


def test_backward_errors_match_torch():
    def second(m):
        x = m.ones(3, requires_grad=True)
        y = x.exp().sum()
        y.backward()
        y.backward()
    check_raises(lambda m: second(m), match="second time")

    def inplace_saved(m):
        x = m.ones(3, requires_grad=True)
        y = x.sigmoid()
        y.mul_(2)
        y.sum().backward()
    check_raises(lambda m: inplace_saved(m), match="modified by an inplace operation")
    check_raises(lambda m: (m.ones(3, requires_grad=True) * 2).backward(), match="scalar")
    check_raises(lambda m: m.ones(3, requires_grad=True).add_(1), match="leaf Variable")
    check_raises(lambda m: m.ones(3).sum().backward(), match="does not require grad")
    check_raises(lambda m: m.ones(2, requires_grad=True)[0].add_(1), match="view of a leaf")


def test_backward_inputs_and_grad_api():
    def f(m):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        b = m.tensor([3.0, 4.0], requires_grad=True)
        y = (a * b).sum()
        y.backward(inputs=[a])
        g = m.autograd.grad((a * b * b).sum(), [a, b])
        u = m.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
        mz = m.autograd.grad((a * 2).sum(), [a, b], materialize_grads=True)
        return a.grad, b.grad, g, u[1], mz[1]
    e, t = both(f)
    np.testing.assert_allclose(e[0].numpy(), t[0].numpy())
    assert e[1] is None and t[1] is None
    for x, y in zip(e[2], t[2]):
        np.testing.assert_allclose(x.numpy(), y.numpy())
    assert e[3] is None and t[3] is None
    assert e[4].tolist() == t[4].tolist()
    check_raises(lambda m: m.autograd.grad((m.ones(2, requires_grad=True) * 2).sum(),
                                           [m.ones(2, requires_grad=True)]))


def test_implicit_grad_needs_a_real_scalar():
    def complex_loss(m, x):
        z = m.complex(x, x).detach().requires_grad_(True)
        (z * 2).sum().backward()
    check_raises(complex_loss, randn(2), match="only for real scalar outputs")
    check_raises(lambda m, x: m.autograd.backward((x.requires_grad_(True) * 2)), randn(2),
                 match="only for scalar outputs")


def test_non_scalar_backward_with_gradient():
    check(lambda m, x: x * 3, randn(2, 3))

    def f(m, x):
        x = x.detach().requires_grad_(True)
        y = x.exp()
        y.backward(m.ones_like(y) * 2)
        return x.grad
    check(f, randn(3), grad=False)


@pytest.mark.parametrize("fn", [
    lambda m, x: _chain_views(x),
    lambda m, x: _setitem_chain(x),
    lambda m, x: _view_of_view(x),
])
def test_views_and_inplace(fn):
    check(fn, randn(3, 4))


def _chain_views(x):
    y = x * 1
    y[0].mul_(5)
    y[:, 2] = 0
    y.t()[1].add_(1)
    return y


def _setitem_chain(x):
    y = x.clone()
    v = y[1:]
    v[:, :2] = v[:, 2:] * 2
    return y.exp()


def _view_of_view(x):
    y = x + 0
    a = y.view(12)[2:8].view(2, 3)
    a.sub_(x[0, :3])
    return y * a.sum()


def test_grad_modes():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        assert not (x * 2).requires_grad
        with ember.enable_grad():
            assert (x * 2).requires_grad
    with ember.set_grad_enabled(False):
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    with ember.inference_mode():
        assert not (x * 2).requires_grad and ember.is_inference_mode_enabled()

    @ember.no_grad()
    def f(t):
        return t * 2

    @ember.no_grad
    def g(t):
        return t * 2
    assert not f(x).requires_grad and not g(x).requires_grad
    seen = []

    def worker():
        seen.append(ember.is_grad_enabled())
    with ember.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
    assert seen == [True]  # grad mode is thread-local


def test_custom_function_features():
    class Scale(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            ctx.save_for_backward(x)
            ctx.mark_non_differentiable
            return x * k, (x > 0).float()

        @staticmethod
        def backward(ctx, g, g2):
            assert ctx.needs_input_grad == (True, False)
            return g * ctx.k, None

    class Inplace(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        @ember.autograd.function.once_differentiable
        def backward(ctx, g):
            return g * 2

    class Setup(ember.autograd.Function):
        @staticmethod
        def forward(x, y):
            return x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x

    x = ember.tensor([1.0, -2.0], requires_grad=True)
    y, mask = Scale.apply(x, 3.0)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    z = x * 1
    w = Inplace.apply(z)
    w.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    a, b = ember.tensor([2.0], requires_grad=True), ember.tensor([5.0], requires_grad=True)
    Setup.apply(a, b).backward()
    assert a.grad.tolist() == [5.0] and b.grad.tolist() == [2.0]

    class NoMat(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x.clone(), x.clone()

        @staticmethod
        def backward(ctx, g1, g2):
            assert g2 is None
            return g1
    q = ember.ones(2, requires_grad=True)
    NoMat.apply(q)[0].sum().backward()
    assert q.grad.tolist() == [1.0, 1.0]


def test_hooks():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0], requires_grad=True)
        h = x.register_hook(lambda g: g * 10)
        y = x * 3
        y.register_hook(lambda g: log.append(g.tolist()))
        y.grad_fn.register_hook(lambda gi, go: log.append(("post", len(gi), len(go))))
        y.grad_fn.register_prehook(lambda go: log.append(("pre", len(go))))
        x.register_post_accumulate_grad_hook(lambda p: log.append(("acc", p.grad.tolist())))
        y.sum().backward()
        h.remove()
        return log, x.grad.tolist()
    e, t = both(f)
    assert e == t


def test_saved_tensor_hooks():
    packed = []

    def pack(t):
        packed.append(t.shape)
        return t * 1

    for m in (ember,):
        x = m.ones(3, requires_grad=True)
        with m.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = (x * x).sum()
        y.backward()
        assert x.grad.tolist() == [2.0, 2.0, 2.0] and packed
        with m.autograd.graph.save_on_cpu():
            y = (x.exp()).sum()
        y.backward()


def test_detect_anomaly():
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning):
        with ember.autograd.detect_anomaly():
            y = x.sqrt() * 0
            with pytest.raises(RuntimeError, match="returned nan values"):
                (y / y).sum().backward()


HVP_OPS = [
    "exp", "log", "sin", "cos", "tanh", "sigmoid", "sqrt", "rsqrt", "square", "reciprocal",
    "abs", "neg", "expm1", "log1p", "log2", "log10", "sinh", "cosh", "atan", "asinh",
    "exp2", "tan", "relu", "sum", "mean", "prod", "logsumexp", "var", "std", "amax", "max",
    "cumsum", "cumprod", "t", "flatten", "flip", "clone", "matmul", "mul", "div", "pow",
    "sub", "add", "maximum", "minimum", "atan2", "hypot", "where", "square_sum",
]


def _apply(m, name, x, y):
    if name in ("mul", "div", "sub", "add", "maximum", "minimum", "atan2", "hypot"):
        return getattr(m, name)(x, y + 2.0 if name == "div" else y)
    if name == "pow":
        return (x.abs() + 0.5) ** y
    if name == "matmul":
        return x @ y.t()
    if name == "where":
        return m.where(x > 0, x * y, y.exp())
    if name == "square_sum":
        return (x * x).sum(0)
    if name in ("logsumexp",):
        return x.logsumexp(1)
    if name in ("log", "sqrt", "rsqrt", "log2", "log10", "log1p"):
        return getattr(m, name)(x.abs() + 0.5)
    if name in ("cumsum", "cumprod", "flip"):
        return getattr(x, name)(1)
    return getattr(x, name)()


@pytest.mark.parametrize("name", HVP_OPS)
def test_double_backward_hvp(name):
    """Hessian-vector products through each op match PyTorch's."""
    def f(m, x, y, v):
        out = _apply(m, name, x, y)
        loss = (out * out).sum() if out.dim() else out * out
        gx, gy = m.autograd.grad(loss, [x, y], create_graph=True, allow_unused=True,
                                 materialize_grads=True)
        return m.autograd.grad((gx * v).sum() + (gy * v).sum(), [x, y], allow_unused=True,
                               materialize_grads=True)
    x, y, v = randn(3, 3).astype(np.float64), randn(3, 3).astype(np.float64), \
        randn(3, 3).astype(np.float64)

    def run(m):
        tx = _to(m, x, True)
        ty = _to(m, y, True)
        return f(m, tx, ty, _to(m, v, False))
    e, t = run(ember), run(torch)
    for a, b in zip(e, t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6,
                                   atol=1e-8)


def _to(m, a, rg):
    t = m.from_numpy(a.copy())
    return t.requires_grad_(rg)


def test_autograd_functional():
    from torch.autograd import functional as TF

    from ember.autograd import functional as EF
    x = randn(3).astype(np.float64)
    v = randn(3).astype(np.float64)

    def fs(m):
        return lambda t: (t.exp() * t.sin()).sum()

    def vec(m):
        return lambda t: t.exp() * t.sum()
    for fe, ft in ((EF.hessian, TF.hessian), (EF.jacobian, TF.jacobian)):
        fn = fs if fe is EF.hessian else vec
        np.testing.assert_allclose(fe(fn(ember), ember.from_numpy(x)).numpy(),
                                   ft(fn(torch), torch.from_numpy(x)).numpy(), rtol=1e-6)
    for fe, ft, g in ((EF.vjp, TF.vjp, vec), (EF.jvp, TF.jvp, vec), (EF.hvp, TF.hvp, fs),
                      (EF.vhp, TF.vhp, fs)):
        e = fe(g(ember), ember.from_numpy(x), ember.from_numpy(v))
        t = ft(g(torch), torch.from_numpy(x), torch.from_numpy(v))
        for a, b in zip(e, t):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_checkpoint():
    from ember.utils.checkpoint import checkpoint

    def body(t):
        return (t.exp() * 2).sin().sum(0)
    x = ember.from_numpy(randn(3, 2)).requires_grad_(True)
    checkpoint(body, x, use_reentrant=False).sum().backward()
    g1 = x.grad.clone()
    x.grad = None
    body(x).sum().backward()
    np.testing.assert_allclose(g1.numpy(), x.grad.numpy(), rtol=1e-6)


def test_gradcheck_and_gradgradcheck():
    a = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: (t * t.sin()).sum(1), (a,))
    assert ember.autograd.gradgradcheck(lambda t: (t * t.sin()).sum(1), (a,))
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        class Bad(ember.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 3
        ember.autograd.gradcheck(Bad.apply, (a,))
