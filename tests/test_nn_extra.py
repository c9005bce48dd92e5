"""nn pieces added for PyTorch 2.13 parity: AdaptiveLogSoftmaxWithLoss,
CrossMapLRN2d, LinearCrossEntropyLoss / F.linear_cross_entropy (reference and
chunked paths, LinearCrossEntropyOptions) and F.grouped_mm. Each is built in
both libraries with torch's weights copied into ember; outputs, input gradients
and parameter gradients are compared."""
import warnings

import numpy as np
import pytest
import torch
from reference import assert_close, convert, randint, randn

import ember


def _leaves(obj, lib, grad):
    leaves = []
    return convert(obj, lib, grad, leaves), leaves


def _backward(out, g_seed):
    """Back-propagates a fixed random weighting of every floating output."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    total = None
    rng = np.random.default_rng(g_seed)
    for o in outs:
        if not getattr(o, "requires_grad", False):
            continue
        g = rng.standard_normal(tuple(o.shape))
        lib = torch if isinstance(o, torch.Tensor) else ember
        term = (o * lib.tensor(g, dtype=o.dtype)).sum()
        total = term if total is None else total + term
    if total is not None:
        total.backward()


def check_pair(make, fn, grad_inputs=(), other_inputs=(), rtol=None, atol=None, seed=0):
    """``make(nn)`` builds the module (or None for a functional check);
    ``fn(lib, module, *grad_inputs, *other_inputs)`` runs it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = em = None
        if make is not None:
            tm, em = make(torch.nn), make(ember.nn)
            assert list(em.state_dict()) == list(tm.state_dict()), "state_dict keys"
            for (k, te), ee in zip(tm.state_dict().items(), em.state_dict().values()):
                assert tuple(ee.shape) == tuple(te.shape), k
            em.load_state_dict(tm.state_dict())
            assert repr(em) == repr(tm)
        t_in, t_leaves = _leaves(tuple(grad_inputs), torch, True)
        e_in, e_leaves = _leaves(tuple(grad_inputs), ember, True)
        t_other, e_other = convert(tuple(other_inputs), torch), convert(tuple(other_inputs), ember)
        t_out = fn(torch, tm, *t_in, *t_other)
        e_out = fn(ember, em, *e_in, *e_other)
        assert_close(e_out, t_out, rtol, atol)
        _backward(t_out, seed)
        _backward(e_out, seed)
        g_rtol, g_atol = rtol and rtol * 10, atol and atol * 10
        for i, (te, ee) in enumerate(zip(t_leaves, e_leaves)):
            if te.grad is None:
                assert ee.grad is None or not ee.grad.numpy().any(), f"input grad {i}"
            else:
                assert_close(ee.grad, te.grad, g_rtol, g_atol, f"input grad {i}")
        if make is not None:
            tp = dict(tm.named_parameters())
            for name, ep in em.named_parameters():
                if tp[name].grad is None:
                    assert ep.grad is None or not ep.grad.numpy().any(), name
                else:
                    assert_close(ep.grad, tp[name].grad, g_rtol, g_atol, f"grad of {name}")
        return t_out, e_out


# ---------------------------------------------------------------- AdaptiveLogSoftmaxWithLoss

ASM = [
    ("basic", dict(cutoffs=[3, 7], div_value=2.0), 12),
    ("head_bias", dict(cutoffs=[2, 5, 9], head_bias=True), 16),
    ("one_cluster", dict(cutoffs=[4]), 8),
]


@pytest.mark.parametrize("name,kw,in_f", ASM, ids=[a[0] for a in ASM])
def test_adaptive_log_softmax_forward_backward(name, kw, in_f):
    n_classes = 11
    x = randn(9, in_f)
    target = np.array([0, 1, 10, 3, 6, 2, 9, 7, 5], dtype=np.int64)
    check_pair(lambda nn: nn.AdaptiveLogSoftmaxWithLoss(in_f, n_classes, **kw),
               lambda lib, m, x, t: tuple(m(x, t)), [x], [target])
    check_pair(lambda nn: nn.AdaptiveLogSoftmaxWithLoss(in_f, n_classes, **kw),
               lambda lib, m, x: m.log_prob(x), [x])
    check_pair(lambda nn: nn.AdaptiveLogSoftmaxWithLoss(in_f, n_classes, **kw),
               lambda lib, m, x: m.predict(x), [], [randn(20, in_f) * 3])


def test_adaptive_log_softmax_unbatched_and_single_cluster_rows():
    make = lambda nn: nn.AdaptiveLogSoftmaxWithLoss(8, 10, [2, 6], div_value=2.0)  # noqa: E731
    check_pair(make, lambda lib, m, x, t: tuple(m(x, t)), [randn(8)], [np.array(7)])
    check_pair(make, lambda lib, m, x, t: tuple(m(x, t)), [randn(1, 8)], [np.array([4])])
    # all targets in the shortlist: tail parameters get no gradient in either library
    check_pair(make, lambda lib, m, x, t: tuple(m(x, t)), [randn(4, 8)],
               [np.array([0, 1, 1, 0])])
    t_out, e_out = check_pair(make, lambda lib, m, x, t: m(x, t), [randn(5, 8)],
                              [randint(0, 10, 5)])
    assert type(e_out).__name__ == "_ASMoutput" and e_out._fields == ("output", "loss")


def test_adaptive_log_softmax_init_and_errors():
    m = ember.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10], div_value=4.0)
    assert [tuple(p.shape) for p in m.parameters()] == [(6, 16), (4, 16), (6, 4), (1, 16),
                                                        (10, 1)]
    assert m.cutoffs == [4, 10, 20] and m.head_size == 6 and m.head.bias is None
    bound = 1 / np.sqrt(16)
    assert np.abs(m.head.weight.detach().numpy()).max() <= bound
    lp = m.log_prob(ember.randn(3, 16))
    np.testing.assert_allclose(lp.exp().sum(1).detach().numpy(), np.ones(3), rtol=1e-5)
    for bad in ([], [5, 3], [0, 4], [4, 20], [4, 4], [2.5]):
        for lib in (torch, ember):
            with pytest.raises(ValueError):
                lib.nn.AdaptiveLogSoftmaxWithLoss(16, 20, bad)
    with pytest.raises(RuntimeError, match="Target values should be in"):
        m(ember.randn(2, 16), ember.tensor([1, 25]))
    with pytest.raises(RuntimeError, match="same size in the batch"):
        m(ember.randn(3, 16), ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="multi-target"):
        m(ember.randn(3, 16), ember.tensor([[1], [2], [3]]))


# ---------------------------------------------------------------- CrossMapLRN2d

@pytest.mark.parametrize("size", [2, 3, 4, 5])
def test_cross_map_lrn2d(size):
    x = randn(2, 7, 3, 4).astype(np.float64) * 2
    check_pair(lambda nn: nn.CrossMapLRN2d(size, alpha=0.3, beta=0.6, k=1.5),
               lambda lib, m, x: m(x), [x])
    check_pair(lambda nn: nn.CrossMapLRN2d(size), lambda lib, m, x: m(x), [randn(1, 3, 2, 2)])


def test_cross_map_lrn2d_misc():
    m = ember.nn.CrossMapLRN2d(3)
    y = m(ember.randn(1, 4, 2, 2, requires_grad=True))
    assert type(y.grad_fn).__name__ == "CrossMapLRN2dBackward"
    with pytest.raises(ValueError, match="Expected input to be 4D"):
        m(ember.randn(4, 2, 2))


# ---------------------------------------------------------------- linear_cross_entropy

def _lce(**kw):
    def fn(lib, m, x, w, *rest):
        args = dict(kw)
        if "bias" in args:
            args.pop("bias")
            b, t = rest[0], rest[1]
            args["linear_bias"] = b
        else:
            t = rest[0]
        if "weight" in args:
            args["weight"] = lib.tensor(args["weight"])
        return lib.nn.functional.linear_cross_entropy(x, w, t, **args)
    return fn


LCE_REF = [
    ("mean", {}, (5, 4), (6, 4), (5,)),
    ("sum-weight-ignore", dict(reduction="sum", weight=[1.0, 2, 0.5, 1, 3, 1],
                               ignore_index=2), (5, 4), (6, 4), (5,)),
    ("none-smooth", dict(reduction="none", label_smoothing=0.2), (5, 4), (6, 4), (5,)),
    ("unbatched", {}, (4,), (6, 4), ()),
    ("kdim-bias", dict(bias=True), (3, 4), (6, 2, 5, 4), (3, 2, 5)),
]


@pytest.mark.parametrize("name,kw,xs,ws,ts", LCE_REF, ids=[c[0] for c in LCE_REF])
def test_linear_cross_entropy_reference(name, kw, xs, ws, ts):
    x, w = randn(*xs), randn(*ws)
    t = randint(0, ws[0], *ts)
    if name == "sum-weight-ignore":
        t[1] = 2
    grads = [x, w] + ([randn(*ws[:-1])] if kw.get("bias") else [])
    check_pair(None, _lce(**kw), grads, [t])


def test_linear_cross_entropy_probability_targets():
    x, w = randn(4, 5), randn(6, 5)
    p = torch.randn(4, 6).softmax(1).numpy()
    check_pair(None, _lce(label_smoothing=0.1), [x, w], [p])
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="ignore_index cannot be specified"):
            lib.nn.functional.linear_cross_entropy(lib.tensor(x), lib.tensor(w), lib.tensor(p),
                                                   ignore_index=1)


CHUNKED = [
    ("mean-chunk3", dict(batch_chunk_size=3), {}),
    ("sum-weight-ignore", dict(batch_chunk_size=4), dict(reduction="sum", ignore_index=1,
                                                         weight=[1.0, 2, 0.5, 1, 3, 1, 1, 2])),
    ("none-bias", dict(batch_chunk_size=2), dict(reduction="none", bias=True)),
    ("auto", {}, dict(weight=[0.5, 2, 1, 1, 3, 1, 1, 2])),
    ("aspect_ratio", dict(chunking_method="aspect_ratio"), dict(reduction="none")),
]


@pytest.mark.parametrize("name,okw,kw", CHUNKED, ids=[c[0] for c in CHUNKED])
def test_linear_cross_entropy_chunked(name, okw, kw):
    x, w = randn(10, 4).astype(np.float64), randn(8, 4).astype(np.float64)
    t = randint(0, 8, 10)
    t[3] = 1
    grads = [x, w] + ([randn(8).astype(np.float64)] if kw.get("bias") else [])

    def fn(lib, m, *a):
        return _lce(**kw, options=lib.nn.LinearCrossEntropyOptions(**okw))(lib, m, *a)
    check_pair(None, fn, grads, [t])


def test_linear_cross_entropy_chunked_unbatched_retain_graph_and_float32():
    x = ember.randn(4, requires_grad=True)
    w = ember.randn(6, 4, requires_grad=True)
    opts = ember.nn.LinearCrossEntropyOptions()
    F = ember.nn.functional
    loss = F.linear_cross_entropy(x, w, ember.tensor(2), options=opts)
    ref = F.linear_cross_entropy(x, w, ember.tensor(2))
    assert loss.shape == () and abs(loss.item() - ref.item()) < 1e-5
    loss.backward(retain_graph=True)
    g1 = w.grad.clone()
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * g1.numpy(), rtol=1e-5)
    x2, w2, t2 = randn(12, 4), randn(8, 4), randint(0, 8, 12)

    def fn(lib, m, x, w, t):
        o = lib.nn.LinearCrossEntropyOptions(batch_chunk_size=5)
        return lib.nn.functional.linear_cross_entropy(x, w, t, options=o)
    check_pair(None, fn, [x2, w2], [t2], rtol=1e-4, atol=1e-5)


def test_linear_cross_entropy_options_fallback_and_validation():
    x, w, t = ember.randn(3, 4), ember.randn(5, 4), ember.tensor([0, 1, 4])
    with pytest.warns(UserWarning, match="options.*ignored"):
        ember.nn.functional.linear_cross_entropy(
            x, w, t, label_smoothing=0.1, options=ember.nn.LinearCrossEntropyOptions())
    for bad in (dict(acc_policy="fast"), dict(chunking_method="square"),
                dict(chunking_method="aspect_ratio:0"), dict(batch_chunk_size=0),
                dict(acc_dtype=ember.int64)):
        with pytest.raises(ValueError):
            ember.nn.LinearCrossEntropyOptions(**bad)
    cases = [({}, (100, 16, 1000)), (dict(chunking_method="aspect_ratio"), (64, 8, 100)),
             (dict(batch_chunk_size=7), (50, 8, 30)), (dict(chunking_method=None), (9, 3, 5))]
    for kw, (n, i, c) in cases:
        for dt in ("float32", "bfloat16"):
            tr = torch.nn.LinearCrossEntropyOptions(**kw)._adjust(
                n, i, c, getattr(torch, dt), torch.device("cpu"))
            er = ember.nn.LinearCrossEntropyOptions(**kw)._adjust(
                n, i, c, getattr(ember, dt), ember.device("cpu"))
            assert (er.batch_chunk_size, er.acc_policy, er.chunking_method) == \
                (tr.batch_chunk_size, tr.acc_policy, tr.chunking_method)
            assert str(er.acc_dtype) == str(tr.acc_dtype)
    with pytest.raises(ValueError, match="give different chunk sizes"):
        ember.nn.LinearCrossEntropyOptions(batch_chunk_size=3, chunking_method="aspect_ratio")\
            ._adjust(64, 8, 100, ember.float32, ember.device("cpu"))


LCE_MOD = [
    ("plain", dict()),
    ("bias-kdim", dict(out_features=(2, 3), bias=True)),
    ("weight-smooth", dict(reduction="sum", label_smoothing=0.1, ignore_index=0)),
]


@pytest.mark.parametrize("name,kw", LCE_MOD, ids=[c[0] for c in LCE_MOD])
def test_linear_cross_entropy_loss_module(name, kw):
    ts = (5, *kw.get("out_features", ()))

    def make(nn):
        w = None
        if name == "weight-smooth":
            w = (torch if nn is torch.nn else ember).tensor([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
        return nn.LinearCrossEntropyLoss(4, 6, weight=w, **kw)
    check_pair(make, lambda lib, m, x, t: m(x, t), [randn(5, 4)], [randint(0, 6, *ts)])


def test_linear_cross_entropy_loss_module_chunked_and_errors():
    def make(nn):
        return nn.LinearCrossEntropyLoss(
            4, 9, bias=True, options=nn.LinearCrossEntropyOptions(batch_chunk_size=3),
            dtype=(torch if nn is torch.nn else ember).float64)
    check_pair(make, lambda lib, m, x, t: m(x, t), [randn(7, 4).astype(np.float64)],
               [randint(0, 9, 7)], rtol=1e-4, atol=1e-6)
    for lib in (torch, ember):
        with pytest.raises(RuntimeError):
            lib.nn.LinearCrossEntropyLoss(4, 6, weight=lib.ones(5))
        with pytest.raises(RuntimeError):
            lib.nn.LinearCrossEntropyLoss(4, 6, label_smoothing=1.5)
        with pytest.raises(RuntimeError, match="requires batched input"):
            lib.nn.LinearCrossEntropyLoss(4, 6, out_features=(2,))(lib.ones(4),
                                                                   lib.tensor([1, 2]))


# ---------------------------------------------------------------- grouped_mm

def _torch_grouped(a, b, offs):
    """Loop reference (torch's CPU kernel has no backward for 2-D operands)."""
    ends = offs.tolist()
    starts = [0] + ends[:-1]
    if a.dim() == 2 and b.dim() == 3:
        rows = [a[s:e] @ b[i] for i, (s, e) in enumerate(zip(starts, ends))]
        return torch.cat(rows + [a.new_zeros(a.shape[0] - ends[-1], b.shape[-1])])
    if a.dim() == 3 and b.dim() == 2:
        return torch.cat([a[i] @ b[:, s:e] for i, (s, e) in enumerate(zip(starts, ends))], 1)
    return torch.stack([a[:, s:e] @ b[s:e] for s, e in zip(starts, ends)])


GROUPED = [
    ("2d-3d", (10, 8), (3, 8, 4), [3, 7, 10]),
    ("2d-3d-tail", (10, 8), (3, 8, 4), [3, 3, 8]),
    ("3d-2d", (3, 4, 8), (8, 12), [4, 8, 12]),
    ("2d-2d", (4, 16), (16, 4), [4, 8, 16]),
    ("3d-3d", (3, 4, 8), (3, 8, 4), None),
]


@pytest.mark.parametrize("name,sa,sb,offs", GROUPED, ids=[c[0] for c in GROUPED])
def test_grouped_mm(name, sa, sb, offs):
    a, b = randn(*sa), randn(*sb)
    o = None if offs is None else np.array(offs, dtype=np.int32)
    kw = {} if o is None else {"offs": o}
    ta, tb = torch.tensor(a), torch.tensor(b)
    eo = ember.nn.functional.grouped_mm(ember.tensor(a), ember.tensor(b),
                                        **convert(kw, ember))
    if name != "2d-3d-tail":   # torch leaves rows past offs[-1] uninitialised
        to = torch.nn.functional.grouped_mm(ta, tb, **convert(kw, torch))
        assert_close(eo, to)
    if offs is None:
        fn = lambda lib, m, a, b: (  # noqa: E731
            lib.nn.functional.grouped_mm(a, b) if lib is ember else a @ b)
    else:
        fn = lambda lib, m, a, b: (  # noqa: E731
            lib.nn.functional.grouped_mm(a, b, offs=lib.tensor(o)) if lib is ember
            else _torch_grouped(a, b, torch.tensor(o)))
    check_pair(None, fn, [a, b])


def test_grouped_mm_errors():
    a, b = randn(10, 8), randn(3, 8, 4)
    for lib in (torch, ember):
        F = lib.nn.functional
        ta, tb = lib.tensor(a), lib.tensor(b)
        with pytest.raises(RuntimeError, match="Have to provide offsets"):
            F.grouped_mm(ta, tb)
        with pytest.raises(RuntimeError, match="Offsets have to be int32"):
            F.grouped_mm(ta, tb, offs=lib.tensor([3, 7, 10]))
        with pytest.raises(RuntimeError, match="Bias not supported"):
            F.grouped_mm(ta, tb, offs=lib.tensor([3, 7, 10], dtype=lib.int32),
                         bias=lib.zeros(3, 4))
        with pytest.raises(RuntimeError, match="batch sizes have to match"):
            F.grouped_mm(ta, tb, offs=lib.tensor([3, 10], dtype=lib.int32))
        with pytest.raises(RuntimeError, match="Float32, BFloat16 or Float16"):
            F.grouped_mm(ta.double(), tb.double(), offs=lib.tensor([3, 7, 10], dtype=lib.int32))


# ---------------------------------------------------------- nn.grad, factory_kwargs, attention

CONV_GRAD = [
    ("1d", (2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    ("2d", (2, 3, 7, 6), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    ("3d", (1, 2, 5, 4, 4), (3, 2, 2, 3, 2), dict(padding=1)),
]


@pytest.mark.parametrize("name,xs,ws,kw", CONV_GRAD, ids=[c[0] for c in CONV_GRAD])
def test_nn_grad_conv(name, xs, ws, kw):
    x, w = randn(*xs).astype(np.float64), randn(*ws).astype(np.float64)
    conv = getattr(torch.nn.functional, f"conv{name}")
    go = randn(*conv(torch.tensor(x), torch.tensor(w), **kw).shape).astype(np.float64)
    assert ember.nn.grad is ember.nn.functional.grad

    def fin(lib, m, w, go):
        return getattr(lib.nn.grad, f"conv{name}_input")(xs, w, go, **kw)

    def fw(lib, m, x, go):
        return getattr(lib.nn.grad, f"conv{name}_weight")(x, ws, go, **kw)
    # values and double backward (gradients of the gradient) against torch
    check_pair(None, fin, [w, go])
    check_pair(None, fw, [x, go])


def test_factory_kwargs():
    for lib in (torch, ember):
        assert lib.nn.factory_kwargs(None) == {}
        r = lib.nn.factory_kwargs({"dtype": lib.float64, "factory_kwargs": {"device": "cpu"}})
        assert r == {"dtype": lib.float64, "device": "cpu"}
        with pytest.raises(TypeError, match="unexpected kwargs"):
            lib.nn.factory_kwargs({"requires_grad": True})
        with pytest.raises(TypeError, match="specified twice"):
            lib.nn.factory_kwargs({"dtype": lib.float32, "factory_kwargs": {"dtype": lib.half}})


def test_attention_sdpa_kernel():
    import torch.nn.attention as TA

    import ember.nn.attention as EA
    assert {k: int(v) for k, v in EA.SDPBackend.__members__.items()} == \
        {k: int(v) for k, v in TA.SDPBackend.__members__.items()}
    q = ember.randn(1, 2, 3, 4)
    before = EA._current_backends()
    with EA.sdpa_kernel([EA.SDPBackend.MATH, EA.SDPBackend.MATH]) as ctx:
        assert ctx == {} and EA._current_backends() == [EA.SDPBackend.MATH]
        with EA.sdpa_kernel(EA.SDPBackend.FLASH_ATTENTION):
            assert EA._current_backends() == [EA.SDPBackend.FLASH_ATTENTION]
        out = ember.nn.functional.scaled_dot_product_attention(q, q, q)
    assert EA._current_backends() == before
    ref = torch.nn.functional.scaled_dot_product_attention(*[torch.tensor(q.numpy())] * 3)
    assert_close(out, ref)
    with pytest.raises(AssertionError):
        with EA.sdpa_kernel("math"):
            pass
    assert not EA.can_use_flash_attention(None) and not EA.can_use_efficient_attention(None)


def test_gradcheck_float64():
    from ember.autograd import gradcheck, gradgradcheck
    F = ember.nn.functional
    x = ember.randn(5, 3, dtype=ember.float64, requires_grad=True)
    w = ember.randn(4, 3, dtype=ember.float64, requires_grad=True)
    b = ember.randn(4, dtype=ember.float64, requires_grad=True)
    t = ember.tensor([0, 3, 1, 1, 2])
    ref = lambda x, w, b: F.linear_cross_entropy(x, w, t, linear_bias=b,  # noqa: E731
                                                 label_smoothing=0.1)
    assert gradcheck(ref, (x, w, b))
    assert gradgradcheck(ref, (x, w, b))
    opts = ember.nn.LinearCrossEntropyOptions(batch_chunk_size=2)
    for red in ("mean", "none"):
        assert gradcheck(lambda x, w, b: F.linear_cross_entropy(
            x, w, t, linear_bias=b, reduction=red, options=opts), (x, w, b))
    m = ember.nn.AdaptiveLogSoftmaxWithLoss(6, 9, [2, 5], div_value=2.0, dtype=ember.float64)
    xi = ember.randn(4, 6, dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda x: m(x, ember.tensor([0, 3, 8, 5])).loss, (xi,))
    assert gradcheck(m.log_prob, (xi,))
