"""nn.Module behaviour against PyTorch: registration, iteration order,
state_dict/load_state_dict (keys, metadata, error text), repr, hooks,
conversion, containers, Parameter/Buffer, lazy modules, init, nn.utils."""
import copy
import pickle
import re
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
from reference import assert_close, randn, to_ember, to_torch

import ember


def both(fn):
    """fn(lib) for torch and ember."""
    return fn(torch), fn(ember)


def make_net(lib):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.act = nn.ReLU()
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.scale = nn.Parameter(lib.ones(1))

        def forward(self, x):
            return self.act(self.fc(x)) * self.scale + self.running

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block(), Block()])
            self.head = nn.Sequential(OrderedDict(lin=nn.Linear(3, 2), out=nn.Tanh()))
            self.extra = nn.ModuleDict({"b": nn.Identity(), "a": nn.GELU(approximate="tanh")})
            self.params = nn.ParameterList([nn.Parameter(lib.zeros(2, 2))])
            self.pdict = nn.ParameterDict({"w": nn.Parameter(lib.ones(3))})
            self.tied = self.head.lin  # same module twice
            self.empty = None

        def forward(self, x):
            for b in self.blocks:
                x = b(x[..., :4]) if x.shape[-1] > 3 else b(lib.cat([x, x[..., :1]], -1))
            return self.extra["a"](self.head(x))
    return Net()


def copy_weights(t_model, e_model):
    e_model.load_state_dict(t_model.state_dict())


def test_state_dict_keys_order_metadata_and_shapes():
    t, e = both(make_net)
    tsd, esd = t.state_dict(), e.state_dict()
    assert list(esd) == list(tsd)
    assert [tuple(v.shape) for v in esd.values()] == [tuple(v.shape) for v in tsd.values()]
    assert dict(esd._metadata) == dict(tsd._metadata)
    assert list(e.state_dict(prefix="m.")) == list(t.state_dict(prefix="m."))
    kv = e.state_dict(keep_vars=True)
    assert isinstance(kv["blocks.0.fc.weight"], ember.nn.Parameter)
    assert not isinstance(esd["blocks.0.fc.weight"], ember.nn.Parameter)
    # detached state dict shares memory with the parameter
    esd["blocks.0.scale"].add_(1)
    assert float(e.blocks[0].scale) == 2.0


@pytest.mark.parametrize("method", ["named_parameters", "named_buffers", "named_modules"])
@pytest.mark.parametrize("kw", [{}, {"prefix": "root"}, {"remove_duplicate": False}])
def test_named_iterators(method, kw):
    t, e = both(make_net)
    assert [n for n, _ in getattr(e, method)(**kw)] == [n for n, _ in getattr(t, method)(**kw)]
    if method != "named_modules":
        assert [n for n, _ in getattr(e, method)(recurse=False)] == \
            [n for n, _ in getattr(t, method)(recurse=False)]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert len(list(e.parameters())) == len(list(t.parameters()))
    assert len(list(e.modules())) == len(list(t.modules()))


def test_repr_matches_torch():
    t, e = both(make_net)
    assert repr(e) == repr(t)

    def many(lib):
        nn = lib.nn
        return nn.Sequential(
            nn.Linear(3, 4, bias=False), nn.Bilinear(2, 3, 4), nn.Identity(), nn.ReLU(inplace=True),
            nn.LeakyReLU(0.2), nn.ELU(alpha=0.5, inplace=True), nn.Hardtanh(-2, 2), nn.ReLU6(),
            nn.Softplus(beta=2), nn.Softmax(dim=1), nn.LogSoftmax(1), nn.Softmin(), nn.GLU(),
            nn.Threshold(0.1, 20), nn.Hardshrink(), nn.Softshrink(0.3), nn.PReLU(3), nn.RReLU(),
            nn.CELU(), nn.SELU(), nn.SiLU(), nn.Mish(), nn.Hardswish(), nn.Hardsigmoid(),
            nn.Sigmoid(), nn.Tanh(), nn.LogSigmoid(), nn.Softsign(), nn.Tanhshrink(),
            nn.Softmax2d(), nn.Dropout(0.2), nn.Dropout2d(), nn.AlphaDropout(0.1), nn.Flatten(),
            nn.Unflatten(1, (2, 2)), nn.PixelShuffle(2), nn.PixelUnshuffle(2),
            nn.ChannelShuffle(2), nn.ZeroPad2d(1), nn.ConstantPad1d((1, 2), 3.0),
            nn.ReflectionPad2d(2), nn.ReplicationPad3d(1), nn.CircularPad1d(1),
            nn.Upsample(scale_factor=2, mode="bilinear"), nn.UpsamplingNearest2d(size=3),
            nn.Fold(4, 2), nn.Unfold(2, padding=1), nn.CosineSimilarity(), nn.PairwiseDistance(),
            nn.CrossEntropyLoss(), nn.MSELoss(), nn.TripletMarginWithDistanceLoss(),
            nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)]),
            nn.ModuleList(), nn.ParameterList([nn.Parameter(lib.zeros(2, 3)), lib.ones(1)]),
            nn.ParameterDict({"a": nn.Parameter(lib.zeros(2))}), nn.Sequential(), nn.GELU(),
        )
    t, e = both(many)
    assert repr(e) == repr(t)


def test_parameter_and_buffer():
    tp = torch.nn.Parameter(torch.ones(2))
    ep = ember.nn.Parameter(ember.ones(2))
    assert repr(ep) == repr(tp)
    assert ep.requires_grad and ep.is_leaf and isinstance(ep, ember.Tensor)
    assert not ember.nn.Parameter(ember.ones(2), requires_grad=False).requires_grad
    assert ember.nn.Parameter().shape == (0,)
    base = ember.ones(3)
    p = ember.nn.Parameter(base)
    p.data.add_(1)
    assert base.tolist() == [2.0, 2.0, 2.0]  # shares memory like _make_subclass
    d = copy.deepcopy(p)
    assert isinstance(d, ember.nn.Parameter) and d.data_ptr() != p.data_ptr()
    b = ember.nn.Buffer(ember.zeros(2), persistent=False)
    assert isinstance(b, ember.nn.Buffer) and type(b) is ember.Tensor

    class M(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.b = ember.nn.Buffer(ember.zeros(2), persistent=False)
            self.c = ember.nn.Buffer(ember.zeros(1))
    m = M()
    assert list(m.state_dict()) == ["c"] and [n for n, _ in m.named_buffers()] == ["b", "c"]


def _errors(fn):
    out = []
    for lib in (torch, ember):
        try:
            fn(lib)
            out.append(None)
        except Exception as ex:  # noqa: BLE001
            out.append((type(ex).__name__, str(ex)))
    return out


def _same_error(fn, message=True):
    t, e = _errors(fn)
    assert t is not None and e is not None, (t, e)
    assert t[0] == e[0], (t, e)
    if message:
        assert e[1] == t[1]


@pytest.mark.parametrize("case", [
    lambda lib: lib.nn.Module().register_parameter("a.b", None),
    lambda lib: lib.nn.Module().register_buffer("", None),
    lambda lib: lib.nn.Module().register_buffer("x", 3),
    lambda lib: lib.nn.Module().register_parameter("x", lib.zeros(2)),
    lambda lib: lib.nn.Module().add_module("x", 3),
    lambda lib: setattr(lib.nn.Linear(2, 2), "weight", lib.zeros(2, 2)),
    lambda lib: setattr(lib.nn.Sequential(lib.nn.ReLU()), "0", lib.zeros(1)),
    lambda lib: lib.nn.Linear(2, 2).register_buffer("weight", None),
    lambda lib: lib.nn.Linear(2, 2).nope,
    lambda lib: lib.nn.Sequential(lib.nn.ReLU()).get_submodule("0.x"),
    lambda lib: lib.nn.Sequential(lib.nn.Linear(1, 1)).get_parameter("0.in_features"),
    lambda lib: lib.nn.Sequential(lib.nn.Linear(1, 1)).get_buffer("0.weight"),
    lambda lib: lib.nn.Sequential(lib.nn.ReLU())[3],
    lambda lib: lib.nn.ModuleList([lib.nn.ReLU()])[-2],
    lambda lib: lib.nn.Module()(lib.zeros(1)),
    lambda lib: lib.nn.Linear(2, 2).train("yes"),
    lambda lib: lib.nn.Linear(2, 2).to(lib.int64),
    lambda lib: lib.nn.ParameterList()(1),
    lambda lib: lib.nn.Linear(2, 2).register_parameter("w", lib.nn.Parameter(lib.ones(1)) * 2),
])
def test_registration_errors_match(case):
    _same_error(case)


def test_load_state_dict_errors_and_incompatible_keys():
    t, e = both(make_net)
    sd = t.state_dict()
    bad = OrderedDict(sd)
    bad["head.lin.weight"] = torch.zeros(5, 5)
    bad["surprise"] = torch.zeros(1)
    bad["blocks.0.nothing"] = torch.zeros(1)
    del bad["blocks.1.fc.bias"]
    msgs = []
    for m in (t, e):
        with pytest.raises(RuntimeError) as ex:
            m.load_state_dict(bad)
        msgs.append(str(ex.value))
    assert msgs[1] == msgs[0]
    rt = t.load_state_dict({k: v for k, v in sd.items() if "blocks.1" not in k}, strict=False)
    re_ = e.load_state_dict({k: v for k, v in sd.items() if "blocks.1" not in k}, strict=False)
    assert repr(re_) == repr(rt) and re_.missing_keys == rt.missing_keys
    assert repr(e.load_state_dict(sd)) == repr(t.load_state_dict(sd)) == \
        "<All keys matched successfully>"
    _same_error(lambda lib: lib.nn.Linear(2, 2).load_state_dict([1, 2]))
    # non-tensor value
    _same_error(lambda lib: lib.nn.Linear(1, 1).load_state_dict({"weight": 1, "bias": lib.ones(1)}))


def test_load_state_dict_values_and_assign():
    t, e = both(make_net)
    copy_weights(t, e)
    for (n, tv), (_, ev) in zip(t.state_dict().items(), e.state_dict().items()):
        assert_close(ev, tv, what=n)
    e2 = make_net(ember)
    w_before = e2.head.lin.weight
    e2.load_state_dict(e.state_dict())
    assert e2.head.lin.weight is w_before  # copied in place
    new = {k: v.clone() for k, v in e.state_dict().items()}
    e2.load_state_dict(new, assign=True)
    assert e2.head.lin.weight is not w_before
    assert isinstance(e2.head.lin.weight, ember.nn.Parameter) and e2.head.lin.weight.requires_grad
    assert e2.blocks[0].running is new["blocks.0.running"]
    # 0-dim parameter loads from a 1-element checkpoint (as PyTorch)
    m = ember.nn.Module()
    m.p = ember.nn.Parameter(ember.tensor(1.0))
    m.load_state_dict({"p": ember.tensor([3.0])})
    assert float(m.p) == 3.0


def test_forward_matches_after_copy():
    t, e = both(make_net)
    copy_weights(t, e)
    x = randn(2, 4)
    assert_close(e(to_ember(x)), t(to_torch(x)))


def test_forward_hooks():
    logs = {}

    def run(lib):
        log = logs.setdefault(lib.__name__, [])
        m = lib.nn.Linear(3, 2)
        h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        m.register_forward_pre_hook(lambda mod, args: log.append("first"), prepend=True)
        m.register_forward_pre_hook(lambda mod, args, kw: (args, {**kw}), with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: out + 1)
        m.register_forward_hook(lambda mod, args, kw, out: log.append(("kw", sorted(kw))) or
                                None, with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append("prepended"), prepend=True)
        with lib.no_grad():
            m.weight.copy_(lib.ones(2, 3))
            m.bias.zero_() if hasattr(m.bias, "zero_") else m.bias.copy_(lib.zeros(2))
        y1 = m(lib.ones(1, 3))
        h1.remove()
        y2 = m(lib.ones(1, 3))
        return y1.tolist(), y2.tolist()
    assert run(ember) == run(torch)
    assert logs["ember"] == logs["torch"]


def test_always_call_hook_runs_on_error():
    def run(lib):
        seen = []

        class Boom(lib.nn.Module):
            def forward(self, x):
                raise ValueError("boom")
        m = Boom()
        m.register_forward_hook(lambda mod, a, out: seen.append("always"), always_call=True)
        m.register_forward_hook(lambda mod, a, out: seen.append("never"))
        with pytest.raises(ValueError):
            m(lib.ones(1))
        return seen
    assert run(ember) == run(torch) == ["always"]


def test_full_backward_hooks_match_torch():
    def run(lib):
        rec = []
        m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
        m.load_state_dict({k: to_torch(v) if lib is torch else to_ember(v)
                           for k, v in SD.items()})

        def hook(mod, gin, gout):
            rec.append(("hook", type(mod).__name__, [None if g is None else g.tolist()
                                                      for g in gin],
                        [g.tolist() for g in gout]))

        def pre(mod, gout):
            rec.append(("pre", type(mod).__name__))
            return (gout[0] * 2,)
        m[0].register_full_backward_hook(hook)
        m[2].register_full_backward_hook(hook)
        m[2].register_full_backward_pre_hook(pre)
        x = (to_torch if lib is torch else to_ember)(X, True)
        y = m(x)
        y.sum().backward()
        return rec, x.grad.tolist()
    rt, gt = run(torch)
    re_, ge = run(ember)
    assert [r[:2] for r in re_] == [r[:2] for r in rt]
    np.testing.assert_allclose(ge, gt, rtol=1e-5, atol=1e-6)
    for a, b in zip(re_, rt):
        if a[0] == "hook":
            for x, y in zip(a[2] + a[3], b[2] + b[3]):
                if y is None:
                    assert x is None
                else:
                    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


SD = {k: v.detach().numpy().copy() for k, v in torch.nn.Sequential(
    torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).state_dict().items()}
X = randn(2, 3)


def test_backward_hook_can_replace_grad_input_and_no_input_grad_case():
    for lib in (torch, ember):
        m = lib.nn.Linear(3, 3)
        m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 0,))
        x = lib.ones(2, 3, requires_grad=True)
        m(x).sum().backward()
        assert float(x.grad.abs().sum()) == 0
        calls = []
        m2 = lib.nn.Linear(3, 3)
        m2.register_full_backward_hook(lambda mod, gin, gout: calls.append(gin))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m2(lib.ones(2, 3)).sum().backward()
        assert calls == [(None,)]


def test_global_hooks():
    from ember.nn.modules import module as em
    seen = []
    h1 = em.register_module_forward_pre_hook(lambda m, a: seen.append(type(m).__name__))
    h2 = em.register_module_forward_hook(lambda m, a, o: seen.append("post"))
    h3 = em.register_module_full_backward_hook(lambda m, gi, go: seen.append("bw"))
    try:
        m = ember.nn.Sequential(ember.nn.Linear(2, 2))
        m(ember.ones(1, 2, requires_grad=True)).sum().backward()
    finally:
        h1.remove()
        h2.remove()
        h3.remove()
        em._global_is_full_backward_hook = None
    assert seen == ["Sequential", "Linear", "post", "post", "bw", "bw"]
    m(ember.ones(1, 2))
    assert len(seen) == 6
    regs = []
    h = em.register_module_parameter_registration_hook(lambda mod, n, p: regs.append(n))
    try:
        ember.nn.Linear(1, 1)
    finally:
        h.remove()
    assert regs == ["weight", "bias"]


def test_state_dict_hooks():
    for lib in (torch, ember):
        m = lib.nn.Linear(2, 2)
        calls = []
        m.register_state_dict_pre_hook(lambda mod, prefix, keep: calls.append(("pre", prefix)))
        m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: calls.append("post"))
        m.register_load_state_dict_pre_hook(lambda mod, sd, prefix, *a: calls.append("lpre"))
        m.register_load_state_dict_post_hook(lambda mod, keys: calls.append(("lpost",
                                                                             list(keys[0]))))
        sd = m.state_dict()
        m.load_state_dict(sd)
        m._register_state_dict_hook(lambda mod, sd, prefix, meta: {"x": 1})
        assert m.state_dict() == {"x": 1}
        assert calls[:4] == [("pre", ""), "post", "lpre", ("lpost", [])]


def test_train_eval_requires_grad_zero_grad_apply():
    m = make_net(ember)
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    m(to_ember(randn(2, 4))).sum().backward()
    assert all(p.grad is not None for p in m.head.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in m.head.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    names = []
    m.apply(lambda mod: names.append(type(mod).__name__))
    assert names[-1] == "Net" and names[0] == "Linear"


def test_dtype_conversion():
    m = make_net(ember)
    w = m.head.lin.weight
    m.double()
    assert m.head.lin.weight is w and w.dtype is ember.float64
    assert m.blocks[0].running.dtype is ember.float64
    m.to(ember.float32)
    assert w.dtype is ember.float32
    m.half()
    assert w.dtype is ember.float16
    m.to(dtype=ember.bfloat16)
    assert w.dtype is ember.bfloat16
    m.float()
    m.to("cpu")
    m.to(ember.zeros(1, dtype=ember.float64))
    assert w.dtype is ember.float64
    m.type(ember.float32)
    assert w.dtype is ember.float32
    x = ember.ones(1, 3, requires_grad=True)
    lin = ember.nn.Linear(3, 1)
    lin(x).sum().backward()
    lin.double()
    assert lin.weight.grad.dtype is ember.float64  # grads follow


def test_sequential_operations_match():
    def ops(lib):
        nn = lib.nn
        s = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
        out = [len(s), type(s[-1]).__name__, repr(s[1:])]
        s.append(nn.GELU())
        s.insert(1, nn.Identity())
        s.extend([nn.SiLU()])
        del s[0]
        out.append(repr(s))
        p = s.pop(1)
        out += [type(p).__name__, repr(s)]
        out.append(repr(s + nn.Sequential(nn.ReLU())))
        out.append(repr(s * 2))
        s[0] = nn.ELU()
        del s[1:3]
        out.append(repr(s))
        s += nn.Sequential(nn.Mish())
        out.append(list(s._modules))
        ml = nn.ModuleList([nn.ReLU()])
        ml += [nn.Tanh()]
        ml.insert(0, nn.GELU())
        ml.append(nn.ReLU())
        del ml[1]
        out += [repr(ml), repr(ml[1:]), repr(ml + ml)]
        md = nn.ModuleDict([("x", nn.ReLU()), ("y", nn.Tanh())])
        md["z"] = nn.GELU()
        md.pop("x")
        out += [list(md.keys()), "y" in md, len(md), repr(md)]
        pl = nn.ParameterList([lib.zeros(1)])
        pl.append(nn.Parameter(lib.ones(2)))
        out += [len(pl), [type(p).__name__ for p in pl], list(pl.state_dict())]
        pd = nn.ParameterDict({"b": lib.zeros(1), "a": lib.ones(1)})
        pd.update({"c": lib.ones(2)})
        out += [list(pd.keys()), list(pd.state_dict()), "a" in pd, pd.get("zz", 5)]
        return out
    e, t = ops(ember), ops(torch)
    assert e == t


def test_sequential_forward_and_errors():
    x = randn(2, 3)
    for case in (lambda lib: lib.nn.Sequential() + 3,
                 lambda lib: lib.nn.Sequential() * 0,
                 lambda lib: lib.nn.ModuleList(3),
                 lambda lib: lib.nn.ParameterDict({1: lib.zeros(1)})):
        _same_error(case, message=False)
    t = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    e = ember.nn.Sequential(ember.nn.Linear(3, 5), ember.nn.ReLU(), ember.nn.Linear(5, 1))
    copy_weights(t, e)
    assert_close(e(to_ember(x)), t(to_torch(x)))


def test_lazy_linear():
    e = ember.nn.LazyLinear(4)
    assert "UninitializedParameter" in repr(e.weight) or repr(e.weight) == \
        "<UninitializedParameter>"
    with pytest.raises(RuntimeError):
        e.weight.shape
    y = e(ember.ones(2, 7))
    assert type(e) is ember.nn.Linear and tuple(e.weight.shape) == (4, 7)
    assert tuple(y.shape) == (2, 4)
    assert repr(e) == repr(torch.nn.Linear(7, 4))
    # loading a state dict materializes the parameters
    lazy = ember.nn.LazyLinear(4)
    lazy.load_state_dict(torch.nn.Linear(3, 4).state_dict())
    assert tuple(lazy.weight.shape) == (4, 3)


def test_deepcopy_and_pickle_roundtrip():
    m = make_net(ember)
    c = copy.deepcopy(m)
    assert repr(c) == repr(m) and c.head.lin.weight is not m.head.lin.weight
    assert c.tied is c.head.lin
    x = to_ember(randn(2, 4))
    np.testing.assert_allclose(c(x).detach().numpy(), m(x).detach().numpy())
    if hasattr(ember, "serialization"):
        try:
            p = pickle.loads(pickle.dumps(m))
        except (ImportError, AttributeError, ModuleNotFoundError):
            pytest.skip("tensor pickling not available yet")
        np.testing.assert_allclose(p(x).detach().numpy(), m(x).detach().numpy())


def test_init_functions_statistics():
    g = ember.nn.init
    t = ember.empty(300, 200)
    bound = 1 / np.sqrt(200)
    ember.manual_seed(0)
    g.kaiming_uniform_(t, a=np.sqrt(5))
    a = t.numpy()
    assert a.max() <= bound and a.min() >= -bound and abs(a.std() - bound / np.sqrt(3)) < 2e-3
    g.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t.numpy().std() - np.sqrt(2 / 300)) < 2e-3
    g.xavier_uniform_(t, gain=g.calculate_gain("tanh"))
    std = 5 / 3 * np.sqrt(2 / 500)
    assert abs(t.numpy().std() - std) < 2e-3
    g.xavier_normal_(t)
    assert abs(t.numpy().std() - np.sqrt(2 / 500)) < 2e-3
    g.trunc_normal_(t, std=2, a=-1, b=1)
    assert t.numpy().min() >= -1 and t.numpy().max() <= 1
    g.orthogonal_(t, gain=2)
    q = t.numpy()
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(200), atol=1e-4)
    g.sparse_(t, 0.3)
    assert ((t.numpy() == 0).sum(0) == 90).all()
    g.eye_(t)
    assert t.numpy().trace() == 200
    w = ember.empty(4, 2, 3, 3)
    g.dirac_(w, groups=2)
    tw = torch.empty(4, 2, 3, 3)
    torch.nn.init.dirac_(tw, groups=2)
    np.testing.assert_array_equal(w.numpy(), tw.numpy())
    for name in ("linear", "sigmoid", "tanh", "relu", "selu", "conv2d"):
        assert g.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    assert g.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain("leaky_relu", 0.2)
    _same_error(lambda lib: lib.nn.init.calculate_gain("nope"))
    _same_error(lambda lib: lib.nn.init.xavier_uniform_(lib.empty(3)))
    _same_error(lambda lib: lib.nn.init.kaiming_uniform_(lib.empty(3, 3), mode="x"))
    g.constant_(t, 0.5)
    assert (t.numpy() == 0.5).all()
    g.zeros_(t)
    g.ones_(t)
    assert (t.numpy() == 1).all()


def test_default_layer_init_distribution():
    ember.manual_seed(1)
    lin = ember.nn.Linear(400, 300)
    b = 1 / np.sqrt(400)
    w = lin.weight.detach().numpy()
    assert w.max() <= b and w.min() >= -b and abs(w.std() - b / np.sqrt(3)) < 1e-3
    bi = lin.bias.detach().numpy()
    assert bi.max() <= b and bi.min() >= -b
    bl = ember.nn.Bilinear(20, 30, 5)
    assert np.abs(bl.weight.detach().numpy()).max() <= 1 / np.sqrt(20)
    assert (ember.nn.PReLU(3).weight.detach().numpy() == 0.25).all()


# ---------------------------------------------------------------------------
# nn.utils
# ---------------------------------------------------------------------------

def _grads_pair():
    t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    e = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.Linear(3, 2))
    copy_weights(t, e)
    x = randn(5, 4)
    (t(to_torch(x)) ** 2).sum().backward()
    (e(to_ember(x)) ** 2).sum().backward()
    return t, e


@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf"), 3])
def test_clip_grad_norm(norm_type):
    t, e = _grads_pair()
    nt = torch.nn.utils.clip_grad_norm_(t.parameters(), 0.5, norm_type)
    ne = ember.nn.utils.clip_grad_norm_(e.parameters(), 0.5, norm_type)
    assert_close(ne, nt, rtol=1e-5)
    for pe, pt in zip(e.parameters(), t.parameters()):
        assert_close(pe.grad, pt.grad, rtol=1e-5, atol=1e-6)
    assert_close(ember.nn.utils.get_total_norm([p.grad for p in e.parameters()], norm_type),
                 torch.nn.utils.get_total_norm([p.grad for p in t.parameters()], norm_type),
                 rtol=1e-5)


def test_clip_grad_value_and_nonfinite():
    t, e = _grads_pair()
    torch.nn.utils.clip_grad_value_(t.parameters(), 0.1)
    ember.nn.utils.clip_grad_value_(e.parameters(), 0.1)
    for pe, pt in zip(e.parameters(), t.parameters()):
        assert_close(pe.grad, pt.grad)
    p = ember.nn.Parameter(ember.ones(2))
    p.grad = ember.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        ember.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_parameters_vector_roundtrip():
    t, e = _grads_pair()
    ve = ember.nn.utils.parameters_to_vector(e.parameters())
    vt = torch.nn.utils.parameters_to_vector(t.parameters())
    assert_close(ve, vt)
    ember.nn.utils.vector_to_parameters(ve * 2, e.parameters())
    assert_close(e[0].weight, t[0].weight * 2)
    _same_error(lambda lib: lib.nn.utils.vector_to_parameters(3, []))


def test_parametrize_register_cache_remove():
    P = ember.nn.utils.parametrize

    class Sym(ember.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

    TSym = type("Sym", (torch.nn.Module,), {"forward": lambda self, X: X.triu() + X.triu(1).mT})
    if not hasattr(ember.Tensor, "triu"):
        pytest.skip("triu not available yet")
    t = torch.nn.Linear(3, 3)
    e = ember.nn.Linear(3, 3)
    copy_weights(t, e)
    torch.nn.utils.parametrize.register_parametrization(t, "weight", TSym())
    P.register_parametrization(e, "weight", Sym())
    assert list(e.state_dict()) == list(t.state_dict())
    assert type(e).__name__ == "ParametrizedLinear" and P.is_parametrized(e, "weight")
    assert repr(e) == repr(t)
    assert_close(e.weight, t.weight)
    x = randn(2, 3)
    assert_close(e(to_ember(x)), t(to_torch(x)))
    with P.cached():
        assert e.weight is e.weight
    P.remove_parametrizations(e, "weight")
    assert type(e) is ember.nn.Linear and isinstance(e.weight, ember.nn.Parameter)
    np.testing.assert_allclose(e.weight.detach().numpy(), e.weight.detach().numpy().T)


def test_weight_norm_and_spectral_norm():
    t = torch.nn.Linear(4, 3)
    e = ember.nn.Linear(4, 3)
    copy_weights(t, e)
    torch.nn.utils.parametrizations.weight_norm(t)
    ember.nn.utils.parametrizations.weight_norm(e)
    assert list(e.state_dict()) == list(t.state_dict())
    e.load_state_dict(t.state_dict())
    x = randn(2, 4)
    yt, ye = t(to_torch(x, True)), e(to_ember(x, True))
    assert_close(ye, yt)
    yt.sum().backward()
    ye.sum().backward()
    g_t = t.parametrizations.weight.original0.grad
    g_e = e.parametrizations.weight.original0.grad
    assert_close(g_e, g_t, rtol=1e-4, atol=1e-5)
    # legacy hook-based weight_norm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t2 = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3))
        e2 = ember.nn.utils.weight_norm(ember.nn.Linear(4, 3))
    assert list(e2.state_dict()) == list(t2.state_dict())
    e2.load_state_dict(t2.state_dict())
    assert_close(e2(to_ember(x)), t2(to_torch(x)))
    ember.nn.utils.remove_weight_norm(e2)
    assert list(e2.state_dict()) == ["bias", "weight"]
    ember.manual_seed(0)  # the power iteration starts from random vectors
    s = ember.nn.utils.parametrizations.spectral_norm(ember.nn.Linear(5, 4))
    for _ in range(10):  # each training-mode forward runs one more power iteration
        s(ember.ones(1, 5))
    s.eval()
    w = s.weight.detach().numpy()
    assert abs(np.linalg.svd(w, compute_uv=False)[0] - 1) < 1e-3
    assert list(s.state_dict()) == list(torch.nn.utils.parametrizations.spectral_norm(
        torch.nn.Linear(5, 4)).state_dict())


def test_prune():
    import torch.nn.utils.prune  # noqa: F401
    prune = ember.nn.utils.prune
    t = torch.nn.Linear(6, 4)
    e = ember.nn.Linear(6, 4)
    copy_weights(t, e)
    torch.nn.utils.prune.l1_unstructured(t, "weight", amount=0.25)
    prune.l1_unstructured(e, "weight", amount=0.25)
    assert list(e.state_dict()) == list(t.state_dict())
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert_close(e.weight_mask, t.weight_mask)
    torch.nn.utils.prune.l1_unstructured(t, "weight", amount=3)
    prune.l1_unstructured(e, "weight", amount=3)
    assert_close(e.weight_mask, t.weight_mask)
    torch.nn.utils.prune.ln_structured(t, "weight", amount=1, n=2, dim=0)
    prune.ln_structured(e, "weight", amount=1, n=2, dim=0)
    assert_close(e.weight_mask, t.weight_mask)
    x = randn(3, 6)
    assert_close(e(to_ember(x)), t(to_torch(x)))
    assert prune.is_pruned(e)
    prune.remove(e, "weight")
    torch.nn.utils.prune.remove(t, "weight")
    assert list(e.state_dict()) == list(t.state_dict()) and not prune.is_pruned(e)
    assert_close(e.weight, t.weight)
    r = prune.random_unstructured(ember.nn.Linear(10, 10), "weight", amount=0.3)
    assert int((r.weight_mask.numpy() == 0).sum()) == 30
    _same_error(lambda lib: lib.nn.utils.prune.l1_unstructured(lib.nn.Linear(2, 2), "weight",
                                                               amount=1.5))


def test_functional_call_and_fusion():
    e = ember.nn.Linear(3, 2)
    x = ember.ones(1, 3)
    new = {"weight": ember.zeros(2, 3), "bias": ember.ones(2)}
    out = ember.nn.utils.stateless.functional_call(e, new, (x,))
    assert out.tolist() == [[1.0, 1.0]]
    assert isinstance(e.weight, ember.nn.Parameter) and e.weight.shape == (2, 3)
    assert e(x).tolist() != [[1.0, 1.0]]
    with pytest.raises(RuntimeError, match="Missing key"):
        ember.nn.utils.stateless.functional_call(e, {"weight": ember.zeros(2, 3)}, x,
                                                 strict=True)
    # fuse_linear_bn_eval with a stand-in BatchNorm (only the attributes fusion reads)
    lin = ember.nn.Linear(3, 2).eval()

    class BN(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.num_features, self.eps = 2, 1e-5
            self.weight = ember.nn.Parameter(ember.tensor([2.0, 0.5]))
            self.bias = ember.nn.Parameter(ember.tensor([0.1, -0.1]))
            self.register_buffer("running_mean", ember.tensor([0.3, -0.2]))
            self.register_buffer("running_var", ember.tensor([1.5, 0.7]))
    bn = BN().eval()
    fused = ember.nn.utils.fuse_linear_bn_eval(lin, bn)
    xin = to_ember(randn(4, 3))
    ref = (lin(xin) - bn.running_mean) / (bn.running_var + 1e-5).sqrt() * bn.weight + bn.bias
    np.testing.assert_allclose(fused(xin).detach().numpy(), ref.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_module_to_and_state_dict_error_message_format():
    m = ember.nn.Linear(2, 2)
    with pytest.raises(RuntimeError) as ex:
        m.load_state_dict({"weight": ember.zeros(3, 2), "bias": ember.zeros(2)})
    assert re.search(r"size mismatch for weight: copying a param with shape torch.Size\(\[3, 2\]\) "
                     r"from checkpoint, the shape in current model is torch.Size\(\[2, 2\]\)",
                     str(ex.value))


@pytest.mark.parametrize("orth_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_parametrization(orth_map):
    if not hasattr(ember, "linalg") or not hasattr(ember.linalg, "qr"):
        pytest.skip("linalg not available")
    shape = (4, 4) if orth_map != "householder" else (5, 3)
    e = ember.nn.utils.parametrizations.orthogonal(ember.nn.Linear(shape[1], shape[0]),
                                                   orthogonal_map=orth_map)
    t = torch.nn.utils.parametrizations.orthogonal(torch.nn.Linear(shape[1], shape[0]),
                                                   orthogonal_map=orth_map)
    assert list(e.state_dict()) == list(t.state_dict())
    w = e.weight.detach().numpy()
    np.testing.assert_allclose(w.T @ w, np.eye(shape[1]), atol=1e-5)
    (e(ember.ones(2, shape[1])) ** 2).sum().backward()
    assert e.parametrizations.weight.original.grad is not None
