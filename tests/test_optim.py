"""ember.optim against torch.optim: same parameters after 15 steps (float64,
rel. diff <= 1e-6), same state_dict structure, state dicts that move between
the two and continue identically, hooks, errors."""
import copy
import math
import warnings

import numpy as np
import pytest
import torch

import ember

# ---------------------------------------------------------------------------
# A fixed non-quadratic loss whose gradient both libraries get from NumPy
# ---------------------------------------------------------------------------

SHAPES = [(4, 3), (5,), (2, 2, 2)]
_rng = np.random.default_rng(0)
INIT = [_rng.standard_normal(s) for s in SHAPES]
TARGET = [_rng.standard_normal(s) for s in SHAPES]
SCALE = [0.5 + _rng.random(s) for s in SHAPES]


def loss_and_grads(arrays):
    loss = sum(float((c * (a - t) ** 2).sum() + 0.1 * np.sin(3 * a).sum())
               for a, t, c in zip(arrays, TARGET, SCALE))
    return loss, [2 * c * (a - t) + 0.3 * np.cos(3 * a) for a, t, c in zip(arrays, TARGET, SCALE)]


def np_of(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def make_params(lib, arrays=INIT):
    return [lib.from_numpy(a.copy()).requires_grad_(True) for a in arrays]


def set_grads(lib, params, step):
    _, grads = loss_and_grads([np_of(p) for p in params])
    for i, (p, g) in enumerate(zip(params, grads)):
        # parameter 1 has no gradient on some steps: the optimizers must skip it
        p.grad = None if (i == 1 and step % 5 == 0) else lib.from_numpy(g.copy())


def groups(params, group1):
    return [{"params": params[:2]}, dict({"params": params[2:]}, **group1)]


def to_ember_obj(x):
    if isinstance(x, torch.Tensor):
        return ember.from_numpy(x.detach().numpy().copy())
    if isinstance(x, dict):
        return {k: to_ember_obj(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_ember_obj(v) for v in x)
    return x


def to_torch_obj(x):
    if isinstance(x, ember.Tensor):
        return torch.from_numpy(x.detach().numpy().copy())
    if isinstance(x, dict):
        return {k: to_torch_obj(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_torch_obj(v) for v in x)
    return x


def assert_params_close(ep, tp):
    for e, t in zip(ep, tp):
        np.testing.assert_allclose(np_of(e), np_of(t), rtol=1e-6, atol=1e-12)


def assert_same_structure(e, t, path="state_dict"):
    """Same keys, same container and scalar types, tensors of the same dtype,
    shape and (close) values."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), path
        assert str(e.dtype) == str(t.dtype), (path, e.dtype, t.dtype)
        assert tuple(e.shape) == tuple(t.shape), path
        np.testing.assert_allclose(np_of(e), np_of(t), rtol=1e-6, atol=1e-12, err_msg=path)
    elif isinstance(t, dict):
        assert isinstance(e, dict) and list(e) == list(t), (path, list(e), list(t))
        for k in t:
            assert_same_structure(e[k], t[k], f"{path}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t), (path, e, t)
        for i, (a, b) in enumerate(zip(e, t)):
            assert_same_structure(a, b, f"{path}[{i}]")
    elif isinstance(t, float):
        assert isinstance(e, float), (path, e)
        assert math.isclose(e, t, rel_tol=1e-6, abs_tol=1e-12), (path, e, t)
    else:
        assert type(e) is type(t) and e == t, (path, e, t)


def run(lib, name, kwargs, group1, steps=15, params=None, opt=None, start=0):
    params = params if params is not None else make_params(lib)
    if opt is None:
        opt = getattr(lib.optim, name)(groups(params, group1), **kwargs)
    for s in range(start, start + steps):
        set_grads(lib, params, s)
        opt.step()
    return params, opt


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.1, betas=(0.3, 0.9), maximize=True)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True)),
    ("Adam", dict(lr=0.1, foreach=True, capturable=False, fused=False)),
    ("AdamW", dict(lr=0.1)),
    ("AdamW", dict(lr=0.1, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("Adamax", dict(lr=0.1)),
    ("Adamax", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, weight_decay=0.1, maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, t0=5, lambd=0.01, alpha=0.5, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.05)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
]
GROUP1 = {"lr": 0.03}


def _id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_trajectory_and_state_dict(case):
    name, kw = case
    ep, eo = run(ember, name, kw, GROUP1)
    tp, to = run(torch, name, kw, GROUP1)
    assert_params_close(ep, tp)
    assert_same_structure(eo.state_dict(), to.state_dict())


@pytest.mark.parametrize("case", CASES[1::2], ids=[_id(c) for c in CASES[1::2]])
def test_state_dict_moves_between_libraries(case):
    name, kw = case
    # torch -> ember: 7 steps in torch, load, 8 more in each
    tp0, to0 = run(torch, name, kw, GROUP1, steps=7)
    ep = make_params(ember, [np_of(p).copy() for p in tp0])
    eo = getattr(ember.optim, name)(groups(ep, {}), **kw)
    eo.load_state_dict(to_ember_obj(to0.state_dict()))
    assert eo.param_groups[1]["lr"] == GROUP1["lr"]
    # the torch side loads the same state (loading casts state to the parameters' dtype)
    tp = make_params(torch, [np_of(p).copy() for p in tp0])
    to = getattr(torch.optim, name)(groups(tp, {}), **kw)
    to.load_state_dict(copy.deepcopy(to0.state_dict()))
    run(torch, name, kw, GROUP1, steps=8, params=tp, opt=to, start=7)
    run(ember, name, kw, GROUP1, steps=8, params=ep, opt=eo, start=7)
    assert_params_close(ep, tp)
    assert_same_structure(eo.state_dict(), to.state_dict())
    # ember -> torch
    tp2 = make_params(torch, [np_of(p).copy() for p in ep])
    to2 = getattr(torch.optim, name)(groups(tp2, {}), **kw)
    to2.load_state_dict(to_torch_obj(eo.state_dict()))
    run(torch, name, kw, GROUP1, steps=4, params=tp2, opt=to2, start=15)
    run(ember, name, kw, GROUP1, steps=4, params=ep, opt=eo, start=15)
    assert_params_close(ep, tp2)


# ---------------------------------------------------------------------------
# LBFGS (one group; the closure sets the gradients)
# ---------------------------------------------------------------------------

LBFGS_CASES = [
    dict(lr=0.5),
    dict(lr=1, history_size=3, max_iter=5),
    dict(lr=1, line_search_fn="strong_wolfe", history_size=4, max_iter=6),
    dict(lr=0.8, line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-14),
]


def run_lbfgs(lib, kw, steps, params=None, opt=None):
    params = params if params is not None else make_params(lib)
    opt = opt if opt is not None else lib.optim.LBFGS(params, **kw)

    def closure():
        opt.zero_grad()
        loss, grads = loss_and_grads([np_of(p) for p in params])
        for p, g in zip(params, grads):
            p.grad = lib.from_numpy(g)
        return lib.tensor(loss, dtype=lib.float64)

    losses = [float(opt.step(closure)) for _ in range(steps)]
    return params, opt, losses


@pytest.mark.parametrize("kw", LBFGS_CASES, ids=[str(c) for c in LBFGS_CASES])
def test_lbfgs(kw):
    ep, eo, el = run_lbfgs(ember, kw, 15)
    tp, to, tl = run_lbfgs(torch, kw, 15)
    np.testing.assert_allclose(el, tl, rtol=1e-6)
    assert_params_close(ep, tp)
    es, ts = eo.state_dict(), to.state_dict()
    assert list(es["state"][0]) == list(ts["state"][0])
    assert es["param_groups"] == ts["param_groups"]
    assert es["state"][0]["func_evals"] == ts["state"][0]["func_evals"]
    assert es["state"][0]["n_iter"] == ts["state"][0]["n_iter"]


def test_lbfgs_state_dict_from_torch():
    kw = dict(lr=0.5, history_size=3, max_iter=4)
    tp, to, _ = run_lbfgs(torch, kw, 2)
    ep = make_params(ember, [np_of(p).copy() for p in tp])
    eo = ember.optim.LBFGS(ep, **kw)
    eo.load_state_dict(to_ember_obj(to.state_dict()))
    run_lbfgs(torch, kw, 3, tp, to)
    run_lbfgs(ember, kw, 3, ep, eo)
    assert_params_close(ep, tp)


def test_lbfgs_rejects_groups_and_bad_line_search():
    p = make_params(ember)
    with pytest.raises(ValueError, match="per-parameter options"):
        ember.optim.LBFGS([{"params": p[:1]}, {"params": p[1:]}])
    opt = ember.optim.LBFGS(p, line_search_fn="armijo")

    def closure():
        _, grads = loss_and_grads([np_of(q) for q in p])
        for q, g in zip(p, grads):
            q.grad = ember.from_numpy(g)
        return ember.tensor(1.0)
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


# ---------------------------------------------------------------------------
# SparseAdam: dense gradients with all-zero rows = PyTorch's row-sparse gradients
# ---------------------------------------------------------------------------

def test_sparse_adam_matches_row_sparse_gradients():
    rng = np.random.default_rng(1)
    init = [rng.standard_normal((6, 3)), rng.standard_normal(5)]
    out = {}
    for lib in (ember, torch):
        params = make_params(lib, init)
        opt = lib.optim.SparseAdam([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}],
                                   lr=0.1)
        for s in range(15):
            mask_rng = np.random.default_rng(100 + s)
            for p, a in zip(params, init):
                g = 2 * np_of(p) + 0.3 * np.cos(np_of(p))
                g[mask_rng.random(g.shape[0]) < 0.4] = 0
                t = lib.from_numpy(g)
                p.grad = t.to_sparse(1) if lib is torch else t
            opt.step()
        out[lib.__name__] = (params, opt.state_dict())
    assert_params_close(out["ember"][0], out["torch"][0])
    assert_same_structure(out["ember"][1], out["torch"][1])


def test_sparse_adam_errors():
    p = make_params(ember)
    with pytest.raises(ValueError, match="Invalid learning rate: 0"):
        ember.optim.SparseAdam(p, lr=0)
    c = ember.zeros(3, dtype=ember.complex64).requires_grad_(True)
    with pytest.raises(ValueError, match="does not support complex"):
        ember.optim.SparseAdam([c])


# ---------------------------------------------------------------------------
# Real autograd, float32, complex parameters
# ---------------------------------------------------------------------------

def _regression(lib, opt_name, kw, steps=20):
    rng = np.random.default_rng(3)
    x = lib.from_numpy(rng.standard_normal((16, 4)).astype(np.float32))
    y = lib.from_numpy(rng.standard_normal((16, 2)).astype(np.float32))
    w = lib.from_numpy(rng.standard_normal((4, 2)).astype(np.float32)).requires_grad_(True)
    b = lib.from_numpy(np.zeros(2, np.float32)).requires_grad_(True)
    opt = getattr(lib.optim, opt_name)([w, b], **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x.matmul(w) + b - y) ** 2).mean()
        loss.backward()
        opt.step()
    return w, b


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.05)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("RMSprop", dict(lr=0.01, centered=True))])
def test_float32_training_with_autograd(name, kw):
    ew, eb = _regression(ember, name, kw)
    tw, tb = _regression(torch, name, kw)
    np.testing.assert_allclose(np_of(ew), np_of(tw), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(np_of(eb), np_of(tb), rtol=2e-5, atol=2e-6)
    assert ew.dtype == ember.float32


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.1, amsgrad=True)),
                                     ("SGD", dict(lr=0.1, momentum=0.5)),
                                     ("Rprop", dict(lr=0.1)), ("Adagrad", dict(lr=0.1))])
def test_complex_parameters(name, kw):
    rng = np.random.default_rng(4)
    init = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    res = []
    for lib in (ember, torch):
        p = lib.from_numpy(init.copy()).requires_grad_(True)
        opt = getattr(lib.optim, name)([p], **kw)
        for _ in range(10):
            a = np_of(p)
            p.grad = lib.from_numpy(np.conj(a) * 0.5 + (1 - 2j) * np.cos(a.real))
            opt.step()
        res.append(np_of(p))
    np.testing.assert_allclose(res[0], res[1], rtol=1e-6, atol=1e-12)


def test_update_is_in_place_and_bumps_version():
    p = make_params(ember)
    data = [q._data for q in p]
    versions = [q._version[0] for q in p]
    opt = ember.optim.Adam(p, lr=0.1)
    set_grads(ember, p, 1)
    opt.step()
    assert all(q._data is d for q, d in zip(p, data))
    assert all(q._version[0] > v for q, v in zip(p, versions))


# ---------------------------------------------------------------------------
# Base-class behaviour
# ---------------------------------------------------------------------------

def test_zero_grad():
    p = make_params(ember)
    opt = ember.optim.SGD(p, lr=0.1)
    set_grads(ember, p, 1)
    g0 = p[0].grad
    opt.zero_grad(set_to_none=False)
    assert p[0].grad is g0 and not g0.numpy().any()
    opt.zero_grad()
    assert all(q.grad is None for q in p)


def _both(fn):
    """Runs ``fn(lib)`` for ember and torch; returns (exception type, message) of each."""
    out = []
    for lib in (ember, torch):
        try:
            fn(lib)
            out.append(None)
        except Exception as e:
            out.append((type(e), str(e)))
    return out


@pytest.mark.parametrize("fn", [
    lambda m: m.optim.SGD([], lr=0.1),
    lambda m: m.optim.SGD(m.zeros(2, requires_grad=True), lr=0.1),
    lambda m: m.optim.SGD([{"params": {m.zeros(2, requires_grad=True)}}], lr=0.1),
    lambda m: m.optim.SGD([1.0], lr=0.1),
    lambda m: m.optim.SGD([m.zeros(2, requires_grad=True) * 2], lr=0.1),
    lambda m: (lambda p: m.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1))(
        m.zeros(2, requires_grad=True)),
    lambda m: m.optim.SGD([m.zeros(2, requires_grad=True)], lr=-1),
    lambda m: m.optim.SGD([m.zeros(2, requires_grad=True)], lr=0.1, momentum=-1),
    lambda m: m.optim.SGD([m.zeros(2, requires_grad=True)], lr=0.1, nesterov=True),
    lambda m: m.optim.SGD([m.zeros(2, requires_grad=True)], lr=0.1, fused=True, foreach=True),
    lambda m: m.optim.Adam([m.zeros(2, requires_grad=True)], lr=-1),
    lambda m: m.optim.Adam([m.zeros(2, requires_grad=True)], eps=-1.0),
    lambda m: m.optim.Adam([m.zeros(2, requires_grad=True)], betas=(1.0, 0.9)),
    lambda m: m.optim.Adam([m.zeros(2, requires_grad=True)], betas=(0.9, -0.1)),
    lambda m: m.optim.Adam([m.zeros(2, requires_grad=True)], betas=(0, 0.9)),
    lambda m: m.optim.AdamW([m.zeros(2, requires_grad=True)], weight_decay=-0.1),
    lambda m: m.optim.Adamax([m.zeros(2, requires_grad=True)], betas=(0.9, 1.5)),
    lambda m: m.optim.NAdam([m.zeros(2, requires_grad=True)], momentum_decay=-1),
    lambda m: m.optim.RAdam([m.zeros(2, requires_grad=True)], eps=-1),
    lambda m: m.optim.RMSprop([m.zeros(2, requires_grad=True)], alpha=-1),
    lambda m: m.optim.RMSprop([m.zeros(2, requires_grad=True)], momentum=-1),
    lambda m: m.optim.Adagrad([m.zeros(2, requires_grad=True)], lr_decay=-1),
    lambda m: m.optim.Adagrad([m.zeros(2, requires_grad=True)], initial_accumulator_value=-1),
    lambda m: m.optim.Adadelta([m.zeros(2, requires_grad=True)], rho=1.5),
    lambda m: m.optim.ASGD([m.zeros(2, requires_grad=True)], weight_decay=-1),
    lambda m: m.optim.Rprop([m.zeros(2, requires_grad=True)], etas=(1.5, 1.2)),
    lambda m: m.optim.LBFGS([m.zeros(2, requires_grad=True)], lr=-0.5),
    lambda m: m.optim.SGD([("a", m.zeros(2, requires_grad=True)), m.zeros(2,
                                                                           requires_grad=True)]),
    lambda m: m.optim.SGD([{"params": [m.zeros(2, requires_grad=True)]}], lr=0.1)
    .add_param_group([m.zeros(2, requires_grad=True)]),
    lambda m: m.optim.SGD([{"params": [m.zeros(2, requires_grad=True)]}], lr=0.1)
    .load_state_dict({"state": {}, "param_groups": []}),
    lambda m: m.optim.SGD([{"params": [m.zeros(2, requires_grad=True)]}], lr=0.1)
    .load_state_dict({"state": {}, "param_groups": [{"params": [0, 1], "lr": 0.1}]}),
])
def test_errors_match_torch(fn):
    e, t = _both(fn)
    assert t is not None
    assert e == t


def test_required_lr_and_group_defaults():
    from ember.optim.optimizer import Optimizer, required

    class MyOpt(Optimizer):
        def __init__(self, params, lr=required, beta=0.5):
            super().__init__(params, {"lr": lr, "beta": beta})

    p = make_params(ember)
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        MyOpt(p)
    opt = MyOpt([{"params": p[:1], "lr": 1.0}, {"params": p[1:], "lr": 2.0, "beta": 0.1}])
    assert [g["beta"] for g in opt.param_groups] == [0.5, 0.1]
    with pytest.raises(NotImplementedError):
        opt.step()


def test_add_param_group_and_named_params():
    p = make_params(ember)
    opt = ember.optim.Adam([("a", p[0]), ("b", p[1])], lr=0.1)
    opt.add_param_group({"params": [("c", p[2])], "lr": 0.5, "betas": (0.5, 0.9)})
    sd = opt.state_dict()
    assert [g["param_names"] for g in sd["param_groups"]] == [["a", "b"], ["c"]]
    assert sd["param_groups"][1]["params"] == [2]
    assert sd["param_groups"][1]["eps"] == 1e-8
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [("d", p[0])]})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ember.optim.SGD([p[0], p[0]], lr=0.1)
    assert any("duplicate parameters" in str(x.message) for x in w)


def test_repr_matches_torch():
    e = ember.optim.Adam(make_params(ember), lr=0.1)
    t = torch.optim.Adam(make_params(torch), lr=0.1)
    assert repr(e) == repr(t)


def test_step_hooks():
    calls = []
    p = make_params(ember)
    opt = ember.optim.SGD(p, lr=0.1)
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", o is opt, a, k)))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append(("post", o is opt)))
    g1 = ember.optim.optimizer.register_optimizer_step_pre_hook(
        lambda o, a, k: calls.append(("gpre",)))
    g2 = ember.optim.optimizer.register_optimizer_step_post_hook(
        lambda o, a, k: calls.append(("gpost",)))
    set_grads(ember, p, 1)
    opt.step()
    assert [c[0] for c in calls] == ["gpre", "pre", "post", "gpost"]
    assert calls[1][1] and calls[1][2] == (opt,) and calls[1][3] == {}
    for h in (h1, h2, g1, g2):
        h.remove()
    calls.clear()
    opt.step()
    assert calls == []

    # a pre-hook can replace the arguments (here: inject a closure)
    seen = []

    def pre(o, args, kwargs):
        return args, {"closure": lambda: seen.append(1) or 3.0}
    with opt.register_step_pre_hook(pre):
        assert opt.step() == 3.0
    assert seen == [1]
    assert opt.step() is None
    with opt.register_step_pre_hook(lambda o, a, k: 5):
        with pytest.raises(RuntimeError, match="must return None or a tuple"):
            opt.step()


def test_state_dict_hooks():
    p = make_params(ember)
    opt = ember.optim.Adam(p, lr=0.1)
    set_grads(ember, p, 1)
    opt.step()
    order = []
    opt.register_state_dict_pre_hook(lambda o: order.append("pre1"))
    opt.register_state_dict_pre_hook(lambda o: order.append("pre0"), prepend=True)

    def post(o, sd):
        order.append("post")
        sd["extra"] = 1
    opt.register_state_dict_post_hook(post)
    sd = opt.state_dict()
    assert order == ["pre0", "pre1", "post"] and sd["extra"] == 1

    def load_pre(o, sd):
        order.append("load_pre")
        sd = dict(sd)
        sd.pop("extra")
        return sd
    opt.register_load_state_dict_pre_hook(load_pre)
    opt.register_load_state_dict_post_hook(lambda o: order.append("load_post"))
    opt.load_state_dict(sd)
    assert order[-2:] == ["load_pre", "load_post"]


def test_load_state_dict_casts_to_param_dtype_and_keeps_step():
    p = make_params(ember)
    opt = ember.optim.Adam(p, lr=0.1)
    set_grads(ember, p, 1)
    opt.step()
    sd = opt.state_dict()
    sd32 = {"state": {k: {n: (v.float() if n != "step" else v) for n, v in s.items()}
                      for k, s in sd["state"].items()},
            "param_groups": sd["param_groups"]}
    opt2 = ember.optim.Adam(make_params(ember), lr=0.5)
    opt2.load_state_dict(sd32)
    st = opt2.state[opt2.param_groups[0]["params"][0]]
    assert st["exp_avg"].dtype == ember.float64 and st["step"].dtype == ember.float32
    assert opt2.param_groups[0]["lr"] == 0.1


def test_deepcopy_keeps_state_and_hooks_working():
    p = make_params(ember)
    opt = ember.optim.SGD(p, lr=0.1, momentum=0.9)
    set_grads(ember, p, 1)
    opt.step()
    opt2 = copy.deepcopy(opt)  # through __getstate__/__setstate__, as pickling
    assert opt2.param_groups[0]["momentum"] == 0.9 and len(opt2.state) == 3
    assert opt2.register_step_pre_hook(lambda *a: None) is not None


def test_adagrad_state_exists_before_first_step():
    e = ember.optim.Adagrad(make_params(ember), lr=0.1, initial_accumulator_value=0.25)
    t = torch.optim.Adagrad(make_params(torch), lr=0.1, initial_accumulator_value=0.25)
    assert_same_structure(e.state_dict(), t.state_dict())


def test_tensor_lr():
    e = make_params(ember)
    t = make_params(torch)
    eo = ember.optim.SGD(e, lr=ember.tensor(0.1))
    to = torch.optim.SGD(t, lr=torch.tensor(0.1))
    for s in range(3):
        set_grads(ember, e, s + 1)
        set_grads(torch, t, s + 1)
        eo.step()
        to.step()
    assert_params_close(e, t)


def test_default_dtype_float64_step_dtype():
    prev = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        opt = ember.optim.Adam(make_params(ember), lr=0.1)
        set_grads(ember, opt.param_groups[0]["params"], 1)
        opt.step()
        assert opt.state_dict()["state"][0]["step"].dtype == ember.float64
    finally:
        ember.set_default_dtype(prev)


def test_load_torch_state_dict_directly():
    """torch tensors inside the state dict are converted on load."""
    kw = dict(lr=0.1, amsgrad=True)
    tp, to = run(torch, "Adam", kw, GROUP1, steps=5)
    ep = make_params(ember, [np_of(p).copy() for p in tp])
    eo = ember.optim.Adam(groups(ep, {}), **kw)
    eo.load_state_dict(copy.deepcopy(to.state_dict()))
    st = eo.state[ep[0]]
    assert isinstance(st["exp_avg"], ember.Tensor) and st["step"].dtype == ember.float32
    run(torch, "Adam", kw, GROUP1, steps=5, params=tp, opt=to, start=5)
    run(ember, "Adam", kw, GROUP1, steps=5, params=ep, opt=eo, start=5)
    assert_params_close(ep, tp)


@pytest.mark.parametrize("kw", [dict(lr=0.01), dict(lr=0.01, amsgrad=True, weight_decay=0.1)])
def test_adam_big_parameter_in_blocks(kw):
    """A parameter of more than one block (updated block by block, split over the
    intra-op threads) follows torch's trajectory like a small one."""
    from ember._ops import _parallel
    rng = np.random.default_rng(3)
    init = rng.standard_normal((300, 700)).astype(np.float32)
    grads = [rng.standard_normal(init.shape).astype(np.float32) for _ in range(4)]
    old = _parallel.num_threads()
    _parallel.set_num_threads(2)
    try:
        out = []
        for lib in (ember, torch):
            p = lib.from_numpy(init.copy()).requires_grad_(True)
            opt = lib.optim.Adam([p], **kw)
            for g in grads:
                p.grad = lib.from_numpy(g.copy())
                opt.step()
            out.append(p.detach().numpy())
    finally:
        _parallel.set_num_threads(old)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,kw", [
    ("Adam", dict(lr=0.1)), ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True,
                  maximize=True)),
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True))])
def test_updates_in_units_over_threads(two_threads, monkeypatch, name, kw):
    """Adam's and SGD's NumPy updates run as units (big parameters in blocks, the
    rest whole, non-contiguous ones too) over the intra-op threads: same as torch."""
    import importlib

    from ember.optim import optimizer
    mod = importlib.import_module("ember.optim." + name.lower())
    units = []
    run_units = mod._run_units

    def counting(unit, items):
        units.append(0)

        def count(*args):
            units[-1] += 1
            unit(*args)
        run_units(count, items)
    monkeypatch.setattr(mod, "_run_units", counting)
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(2 * optimizer._BLOCK + 100), rng.standard_normal((400, 400)).T,
              rng.standard_normal((50, 7))]
    grads = [[rng.standard_normal(a.shape) for a in arrays] for _ in range(3)]
    out = []
    for lib in (ember, torch):
        params = [lib.from_numpy(a.copy(order="K")).requires_grad_(True) for a in arrays]
        opt = getattr(lib.optim, name)(params, **kw)
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = lib.from_numpy(g.copy())
            opt.step()
        out.append(params)
    assert not out[0][1].is_contiguous()
    assert_params_close(*out)
    assert units == [3 + 1 + 1] * 3     # 3 blocks of the big parameter, 2 whole ones
