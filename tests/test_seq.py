"""Sequence and attention models: Embedding/EmbeddingBag, RNN/LSTM/GRU (+ cells,
packed sequences), scaled dot-product attention, MultiheadAttention and the
Transformer family. Modules are checked against PyTorch with the same weights
(outputs, states, input and parameter gradients); the coarse ops get float64
gradcheck (and gradgradcheck); a small character LSTM trains like PyTorch's."""
import os

import numpy as np
import pytest
import torch
from reference import assert_close, check, check_raises, randint, randn

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.nn.utils import rnn as ernn

TR = torch.nn.utils.rnn
R = np.random.default_rng(0)


# ---------------------------------------------------------------------------
# helpers: same-weights module pairs and a full forward/backward comparison
# ---------------------------------------------------------------------------

def _ekw(kw):
    """Module kwargs for ember: torch callables mapped to ember's."""
    m = {torch.nn.functional.gelu: ember.nn.functional.gelu,
         torch.nn.functional.relu: ember.nn.functional.relu}
    return {k: m.get(v, v) if callable(v) else v for k, v in kw.items()}


def pair(name, *args, dtype=torch.float64, **kw):
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(*args, **kw).to(dtype)
    em = getattr(ember.nn, name)(*args, **_ekw(kw)).to(getattr(ember, str(dtype)[6:]))
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    for n, p in tm.state_dict().items():
        assert tuple(em.state_dict()[n].shape) == tuple(p.shape), n
    em.load_state_dict({n: ember.from_numpy(p.detach().numpy().copy())
                        for n, p in tm.state_dict().items()})
    return tm, em


def _lib_arr(x, lib, grad):
    if isinstance(x, tuple):
        return tuple(_lib_arr(v, lib, grad) for v in x)
    if x is None or not isinstance(x, np.ndarray):
        return x
    t = (torch if lib is torch else ember).from_numpy(x.copy())
    return t.requires_grad_() if grad and x.dtype.kind == "f" else t


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [y for v in o for y in _flat(v)]
    if isinstance(o, (ernn.PackedSequence, TR.PackedSequence)):
        return [o.data]
    return [] if o is None else [o]


def compare(name, args, kw, inputs, call_kw=None, train=False, tol=1e-9, wrap=None,
            dtype=torch.float64):
    """Runs module ``name`` on both libraries with the same weights and
    compares every output and the gradients of inputs and parameters."""
    tm, em = pair(name, *args, dtype=dtype, **kw)
    tm.train(train)
    em.train(train)
    ti = [_lib_arr(x, torch, True) for x in inputs]
    ei = [_lib_arr(x, ember, True) for x in inputs]
    call_kw = call_kw or {}
    tk = {k: _lib_arr(v, torch, False) for k, v in call_kw.items()}
    ek = {k: _lib_arr(v, ember, False) for k, v in call_kw.items()}
    tin, ein = (wrap(torch, ti), wrap(ember, ei)) if wrap else (ti, ei)
    to, eo = _flat(tm(*tin, **tk)), _flat(em(*ein, **ek))
    assert len(to) == len(eo)
    for i, (a, b) in enumerate(zip(eo, to)):
        assert_close(a, b, tol, tol, f"output[{i}]")
    rng = np.random.default_rng(1)
    gs = [rng.standard_normal(tuple(o.shape)) for o in to]
    sum((o * torch.from_numpy(g).to(o.dtype)).sum() for o, g in zip(to, gs)).backward()
    sum((o * ember.from_numpy(g).to(o.dtype)).sum() for o, g in zip(eo, gs)).backward()
    leaves_t = [t for t in _flat(ti) if t.requires_grad]
    leaves_e = [t for t in _flat(ei) if t.requires_grad]
    for i, (a, b) in enumerate(zip(leaves_e, leaves_t)):
        assert_close(a.grad, b.grad, tol * 10, tol * 10, f"input grad[{i}]")
    tp = dict(tm.named_parameters())
    for n, p in em.named_parameters():
        if tp[n].grad is None:
            assert p.grad is None or not p.grad.numpy().any(), n
        else:
            assert_close(p.grad, tp[n].grad, tol * 10, tol * 10, f"grad of {n}")
    return em, tm


def f64(*shape):
    return R.standard_normal(shape)


# ---------------------------------------------------------------------------
# Embedding / EmbeddingBag
# ---------------------------------------------------------------------------

def test_embedding_functional():
    w, idx = randn(10, 4), randint(0, 10, 3, 5)
    F = lambda m: m.nn.functional  # noqa: E731
    check(lambda m, w: F(m).embedding(m.from_numpy(idx), w), w)
    check(lambda m, w: F(m).embedding(m.from_numpy(idx), w, padding_idx=2,
                                      scale_grad_by_freq=True), w)
    check(lambda m, w: F(m).embedding(m.from_numpy(idx), w, padding_idx=-3), w)
    check(lambda m, w: F(m).embedding(m.from_numpy(idx.astype(np.int32)), w), w)
    e, t = check(lambda m, w: F(m).embedding(m.from_numpy(idx), w), w)
    assert e.grad_fn.name() == t.grad_fn.name() == "EmbeddingBackward0"
    check_raises(lambda m, w: F(m).embedding(m.from_numpy(idx + 5), w), w)
    check_raises(lambda m, w: F(m).embedding(m.from_numpy(idx - 5), w), w)
    check_raises(lambda m, w: F(m).embedding(m.from_numpy(idx.astype(np.float32)), w), w)
    check_raises(lambda m, w: F(m).embedding(m.from_numpy(idx), w, padding_idx=10), w)


def test_embedding_max_norm_renorms_in_place():
    w = randn(10, 4) * 3
    idx = np.array([[1, 2, 1], [7, 2, 0]])
    res = []
    for m in (torch, ember):
        wt = m.from_numpy(w.copy())
        out = m.nn.functional.embedding(m.from_numpy(idx), wt, max_norm=1.5, norm_type=2.0)
        res.append((out, wt))
    assert_close(res[1][0], res[0][0])
    assert_close(res[1][1], res[0][1])          # the looked-up rows were renormalised
    assert np.allclose(res[1][1].numpy()[5], w[5])   # the others were not
    tm, em = pair("Embedding", 10, 4, max_norm=1.0, norm_type=1.0, dtype=torch.float32)
    assert_close(em(ember.from_numpy(idx)), tm(torch.from_numpy(idx)))
    assert_close(em.weight, tm.weight.detach())


def test_embedding_module():
    compare("Embedding", (10, 4), dict(padding_idx=0), [randint(0, 10, 3, 5)])
    compare("Embedding", (10, 4), dict(scale_grad_by_freq=True), [randint(0, 10, 7)])
    # sparse=True is accepted; the gradient is the dense one
    sp = ember.nn.Embedding(10, 4, sparse=True)
    sp(ember.tensor([1, 1, 3])).sum().backward()
    assert sp.weight.grad.numpy()[:, 0].tolist() == [0, 2, 0, 1, 0, 0, 0, 0, 0, 0]
    torch.manual_seed(0)
    m = ember.nn.Embedding(20, 3, padding_idx=4)
    w0 = m.weight.detach().numpy()
    assert not w0[4].any() and w0.std() > 0.5
    assert repr(m) == repr(torch.nn.Embedding(20, 3, padding_idx=4))
    w = ember.from_numpy(randn(5, 2))
    fp = ember.nn.Embedding.from_pretrained(w, padding_idx=1)
    assert not fp.weight.requires_grad and fp.padding_idx == 1
    assert np.allclose(fp(ember.tensor([3])).detach().numpy(), w.numpy()[3:4])
    assert ember.nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(AssertionError):
        ember.nn.Embedding(5, 2, padding_idx=7)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_functional(mode):
    idx = np.array([1, 2, 0, 4, 4, 3, 9, 9, 9, 2])
    off = np.array([0, 2, 2, 5, 7])
    F = lambda m: m.nn.functional  # noqa: E731
    for pad in (None, 4, -1):
        check(lambda m, w: F(m).embedding_bag(m.from_numpy(idx), w, m.from_numpy(off),
                                              mode=mode, padding_idx=pad), randn(10, 4))
        check(lambda m, w: F(m).embedding_bag(m.from_numpy(idx), w,
                                              m.from_numpy(np.append(off, 10)), mode=mode,
                                              padding_idx=pad, include_last_offset=True),
              randn(10, 4))
    idx2 = randint(0, 10, 3, 4)
    check(lambda m, w: F(m).embedding_bag(m.from_numpy(idx2), w, mode=mode), randn(10, 4))
    if mode == "sum":
        check(lambda m, w, p: F(m).embedding_bag(m.from_numpy(idx), w, m.from_numpy(off),
                                                 mode="sum", per_sample_weights=p,
                                                 padding_idx=4), randn(10, 4), randn(10))
    else:
        check_raises(lambda m, w, p: F(m).embedding_bag(m.from_numpy(idx), w,
                                                        m.from_numpy(off), mode=mode,
                                                        per_sample_weights=p),
                     randn(10, 4), randn(10))
    check_raises(lambda m, w: F(m).embedding_bag(m.from_numpy(idx), w,
                                                 m.from_numpy(np.array([1, 3]))), randn(10, 4))
    check_raises(lambda m, w: F(m).embedding_bag(m.from_numpy(idx), w), randn(10, 4))
    check_raises(lambda m, w: F(m).embedding_bag(m.from_numpy(idx2), w,
                                                 m.from_numpy(off)), randn(10, 4))


def test_embedding_bag_scale_grad_by_freq():
    # PyTorch's CPU kernel scales by the wrong counts here, so check the rule itself:
    # each row's gradient is divided by how often its index occurs in the input.
    idx = np.array([[8, 6, 5, 2, 3], [0, 0, 0, 1, 8], [6, 9, 5, 6, 9]])
    w = ember.from_numpy(randn(10, 3)).requires_grad_()
    g = randn(3, 3)
    ember.nn.functional.embedding_bag(ember.from_numpy(idx), w, mode="mean",
                                      scale_grad_by_freq=True).backward(ember.from_numpy(g))
    want = np.zeros((10, 3), np.float32)
    for b in range(3):
        for i in idx[b]:
            want[i] += g[b] / 5 / (idx == i).sum()
    assert np.allclose(w.grad.numpy(), want, atol=1e-6)


def test_embedding_bag_module():
    em, _ = compare("EmbeddingBag", (10, 3), dict(mode="sum", padding_idx=2),
                    [randint(0, 10, 8), np.array([0, 3, 3, 6])])
    compare("EmbeddingBag", (10, 3), dict(mode="max"), [randint(0, 10, 4, 3)])
    assert repr(em) == "EmbeddingBag(10, 3, mode='sum', padding_idx=2)"
    w, i, o = randn(6, 2), np.array([1, 2, 0, 4, 4, 3]), np.array([0, 2, 2, 5])
    for mode in (0, 1, 2):   # the top-level op returns PyTorch's 4-tuple
        e, t = (m.embedding_bag(m.from_numpy(w), m.from_numpy(i), m.from_numpy(o), False, mode,
                                False, None, False, None) for m in (ember, torch))
        assert len(e) == len(t) == 4
        assert_close(e[0], t[0])
    fp = ember.nn.EmbeddingBag.from_pretrained(ember.ones(4, 2), mode="sum")
    assert fp(ember.tensor([[0, 1, 3]])).tolist() == [[3.0, 3.0]]


def test_embedding_gradcheck():
    idx = ember.from_numpy(np.array([[0, 2, 2], [3, 0, 1]]))
    w = ember.from_numpy(f64(4, 3)).requires_grad_()
    assert gradcheck(lambda w: ember.nn.functional.embedding(idx, w), (w,))
    # padding_idx and scale_grad_by_freq change the gradient on purpose; the
    # backward is still differentiable
    f = lambda w: ember.nn.functional.embedding(idx, w, padding_idx=1,  # noqa: E731
                                                scale_grad_by_freq=True)
    assert gradgradcheck(f, (w,))
    flat, off = ember.from_numpy(np.array([0, 2, 2, 3, 1, 1])), ember.tensor([0, 2, 2, 5])
    p = ember.from_numpy(f64(6)).requires_grad_()
    for mode in ("sum", "mean", "max"):
        f = lambda w, mode=mode: ember.nn.functional.embedding_bag(  # noqa: E731
            flat, w, off, mode=mode)
        assert gradcheck(f, (w,))
    assert gradcheck(lambda w, p: ember.nn.functional.embedding_bag(
        flat, w, off, mode="sum", per_sample_weights=p), (w, p))


# ---------------------------------------------------------------------------
# Recurrent layers
# ---------------------------------------------------------------------------

T, B, I, H = 5, 3, 4, 6


def _h(layers, b=B, h=H):
    return f64(layers, b, h)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_rnn_parity(name):
    x = f64(T, B, I)
    lstm = name == "LSTM"
    compare(name, (I, H), {}, [x])
    h = (_h(4), _h(4)) if lstm else _h(4)
    compare(name, (I, H, 2), dict(bidirectional=True), [x, h])
    compare(name, (I, H, 2), dict(bidirectional=True, batch_first=True),
            [x.transpose(1, 0, 2).copy()])
    compare(name, (I, H), dict(bias=False), [x])
    compare(name, (I, H), {}, [x[:, 0], (_h(1)[:, 0], _h(1)[:, 0]) if lstm else _h(1)[:, 0]])


def test_rnn_relu_and_dropout_between_layers():
    x = f64(T, B, I)
    compare("RNN", (I, H, 3), dict(nonlinearity="relu"), [x])
    # dropout=1 zeroes the input of layer 2 in training: deterministic, so comparable
    compare("LSTM", (I, H, 2), dict(dropout=1.0), [x], train=True)
    em, _ = compare("GRU", (I, H, 2), dict(dropout=0.5), [x], train=False)
    em.train()
    ember.manual_seed(1)
    a = em(ember.from_numpy(x))[0]
    assert not np.allclose(a.detach().numpy(), em.eval()(ember.from_numpy(x))[0].detach().numpy())


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_rnn_packed(name):
    x = f64(T, B, I)
    lengths = [5, 2, 4]

    def packed(lib, ins):
        u = TR if lib is torch else ernn
        return [u.pack_padded_sequence(ins[0], lengths, enforce_sorted=False)] + ins[1:]
    h = (_h(4), _h(4)) if name == "LSTM" else _h(4)
    compare(name, (I, H, 2), dict(bidirectional=True), [x, h], wrap=packed)

    def packed_bf(lib, ins):
        u = TR if lib is torch else ernn
        return [u.pack_padded_sequence(ins[0], [4, 2, 1], batch_first=True)]
    compare(name, (I, H), dict(batch_first=True), [x.transpose(1, 0, 2).copy()],
            wrap=packed_bf)


def test_lstm_proj_size():
    x = f64(T, B, I)
    compare("LSTM", (I, H, 2), dict(proj_size=3, bidirectional=True), [x, (_h(4, h=3), _h(4))])
    compare("LSTM", (I, H, 2), dict(proj_size=2, batch_first=True),
            [x.transpose(1, 0, 2).copy()])

    def packed(lib, ins):
        u = TR if lib is torch else ernn
        return [u.pack_padded_sequence(ins[0], [3, 5, 1], enforce_sorted=False)] + ins[1:]
    compare("LSTM", (I, H), dict(proj_size=4), [x], wrap=packed)
    # the reverse direction of a packed batch starts sequences from the initial state
    compare("LSTM", (I, H, 2), dict(proj_size=3, bidirectional=True), [x, (_h(4, h=3), _h(4))],
            wrap=packed)


def test_rnn_float32_and_output_rows():
    x = randn(T, B, I)
    compare("LSTM", (I, H, 2), dict(bidirectional=True), [x], dtype=torch.float32, tol=2e-6)
    compare("GRU", (I, H), {}, [x], dtype=torch.float32, tol=2e-6)


@pytest.mark.parametrize("name,chunks", [("RNNCell", 1), ("LSTMCell", 4), ("GRUCell", 3)])
def test_cells(name, chunks):
    x = f64(B, I)
    h = (f64(B, H), f64(B, H)) if name == "LSTMCell" else f64(B, H)
    compare(name, (I, H), {}, [x, h])
    compare(name, (I, H), dict(bias=False), [x])
    compare(name, (I, H), {}, [x[0]])
    if name == "RNNCell":
        compare(name, (I, H), dict(nonlinearity="relu"), [x, h])
    tm, em = pair(name, I, H)
    assert tuple(em.weight_ih.shape) == (chunks * H, I)
    assert repr(em) == repr(tm)


def test_rnn_module_api():
    tm, em = pair("LSTM", I, H, 2, bidirectional=True, proj_size=3)
    assert repr(em) == repr(tm)
    assert [n for n, _ in em.named_parameters()][:5] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert "weight_hh_l1_reverse" in dict(em.named_parameters())
    assert len(em.all_weights) == 4 and len(em._flat_weights) == 20
    em.flatten_parameters()
    torch.manual_seed(0)
    g = ember.nn.GRU(3, 100)
    w = np.concatenate([p.detach().numpy().ravel() for p in g.parameters()])
    assert np.abs(w).max() <= 0.1 and np.abs(w).max() > 0.09 and abs(w.mean()) < 0.01
    x = f64(T, B, I)
    check_raises(lambda m, x: m.nn.LSTM(I + 1, H)(x), x)
    check_raises(lambda m, x, h: m.nn.GRU(I, H)(x, h), x, f64(1, B + 1, H))
    check_raises(lambda m, x: m.nn.RNN(I, H)(x.unsqueeze(0)), x)
    check_raises(lambda m, x, h: m.nn.RNN(I, H)(x, h), x, f64(B, H))
    check_raises(lambda m: m.nn.RNN(I, H, nonlinearity="gelu"))
    check_raises(lambda m: m.nn.GRU(I, H, proj_size=2))
    check_raises(lambda m: m.nn.LSTM(I, H, proj_size=H))
    check_raises(lambda m, x: m.nn.LSTM(I, H)(x), x)          # float64 input, float32 model
    check_raises(lambda m, x: m.nn.LSTMCell(I, H)(x), f64(B, I + 1))
    with pytest.warns(UserWarning):
        ember.nn.LSTM(I, H, dropout=0.3)


def test_rnn_gradcheck_and_double_backward():
    from ember._ops.rnn_ops import rnn_layer
    rng = np.random.default_rng(5)

    def t(*s):
        return ember.from_numpy(rng.standard_normal(s)).requires_grad_()
    for mode, g in (("LSTM", 4), ("GRU", 3), ("RNN_TANH", 1), ("RNN_RELU", 1)):
        hs = 3
        for bs, bf, rev in ((None, False, False), (None, True, True), ([3, 2, 2, 1], False, True),
                            ([3, 2, 2, 1], False, False)):
            x = t(8, 2) if bs else (t(3, 4, 2) if bf else t(4, 3, 2))
            c = t(3, hs) if mode == "LSTM" else None
            args = [x, t(3, hs), c, t(g * hs, 2), t(g * hs, hs), t(g * hs), t(g * hs)]
            present = [a for a in args if a is not None]

            def f(*ins, args=args, bs=bs, bf=bf, rev=rev, mode=mode):
                it = iter(ins)
                full = [next(it) if a is not None else None for a in args]
                return tuple(o for o in rnn_layer(mode, *full, batch_sizes=bs, batch_first=bf,
                                                  reverse=rev) if o is not None)
            assert gradcheck(f, present), (mode, bs, bf, rev)
            if bs is None and not bf:
                assert gradgradcheck(f, present), mode
    args = [t(4, 3, 2), t(3, 2), t(3, 4), t(16, 2), t(16, 2), t(16), t(16), t(2, 4)]
    assert gradcheck(lambda *a: rnn_layer("LSTM", *a)[:3], args)


def test_rnn_double_backward_matches_torch():
    x = f64(3, 2, 2)
    tm, em = pair("LSTM", 2, 3)
    res = []
    for lib, m in ((torch, tm), (ember, em)):
        xi = lib.from_numpy(x.copy()).requires_grad_()
        out = m(xi)[0]
        (g,) = lib.autograd.grad(out.pow(2).sum(), xi, create_graph=True)
        g.pow(2).sum().backward()
        res.append((g.detach(), xi.grad, m.weight_hh_l0.grad))
    for a, b in zip(res[1], res[0]):
        assert_close(a, b, 1e-8, 1e-10)


def test_packed_sequence_utils():
    seqs = [f64(k, 3) for k in (2, 5, 3)]
    for bf in (False, True):
        for side in ("left", "right"):
            check(lambda m, *s: m.nn.utils.rnn.pad_sequence(list(s), batch_first=bf,
                                                            padding_value=-1.0,
                                                            padding_side=side), *seqs)
    for es in (False, True):
        ss = sorted(seqs, key=len, reverse=True) if es else seqs
        pt = TR.pack_sequence([torch.from_numpy(s) for s in ss], enforce_sorted=es)
        pe = ernn.pack_sequence([ember.from_numpy(s) for s in ss], enforce_sorted=es)
        assert isinstance(pe, tuple) and pe._fields == pt._fields
        assert_close(pe.data, pt.data)
        assert pe.batch_sizes.tolist() == pt.batch_sizes.tolist()
        for a, b in ((pe.sorted_indices, pt.sorted_indices),
                     (pe.unsorted_indices, pt.unsorted_indices)):
            assert (a is None and b is None) or a.tolist() == b.tolist()
        for bf in (False, True):
            pad_e, len_e = ernn.pad_packed_sequence(pe, batch_first=bf, padding_value=7.0,
                                                    total_length=6)
            pad_t, len_t = TR.pad_packed_sequence(pt, batch_first=bf, padding_value=7.0,
                                                  total_length=6)
            assert_close(pad_e, pad_t)
            assert_close(len_e, len_t)
        for a, b in zip(ernn.unpack_sequence(pe), TR.unpack_sequence(pt)):
            assert_close(a, b)
    assert pe.to(ember.float32).data.dtype == ember.float32 and pe.to("cpu") is pe
    padded, lengths = f64(5, 3, 2), [5, 2, 3]
    check(lambda m, x: m.nn.utils.rnn.pad_packed_sequence(
        m.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False))[0], padded)
    check(lambda m, x: m.nn.utils.rnn.unpad_sequence(x, m.tensor(lengths), batch_first=True),
          padded.transpose(1, 0, 2).copy())
    check_raises(lambda m, x: m.nn.utils.rnn.unpad_sequence(x, m.tensor(lengths),
                                                            batch_first=True), padded)
    check_raises(lambda m, x: m.nn.utils.rnn.pack_padded_sequence(x, [2, 5, 3]), padded)
    check_raises(lambda m, x: m.nn.utils.rnn.pack_padded_sequence(x, [0, 5, 3],
                                                                  enforce_sorted=False), padded)
    check_raises(lambda m, x: m.nn.utils.rnn.pad_sequence([x], padding_side="mid"), padded)
    with pytest.raises(ValueError):
        ernn.pad_packed_sequence(pe, total_length=2)


# ---------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------

def _sdpa(m, *a, **k):
    return m.nn.functional.scaled_dot_product_attention(*a, **k)


def test_sdpa_parity():
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 5, 8), randn(2, 3, 5, 6)
    bm = R.random((4, 5)) > 0.3
    bm[1] = False                                   # a row with every key masked
    check(lambda m, q, k, v: _sdpa(m, q, k, v), q, k, v)
    check(lambda m, q, k, v: _sdpa(m, q, k, v, attn_mask=m.from_numpy(bm)), q, k, v)
    check(lambda m, q, k, v, fm: _sdpa(m, q, k, v, attn_mask=fm), q, k, v, randn(3, 4, 5))
    check(lambda m, q, k, v: _sdpa(m, q, k, v, is_causal=True, scale=0.3), q, k, v)
    check(lambda m, q, k, v: _sdpa(m, q, k, v, enable_gqa=True), randn(2, 6, 4, 8),
          randn(2, 2, 5, 8), randn(2, 2, 5, 6))
    check(lambda m, q, k, v: _sdpa(m, q, k, v), randn(4, 8), randn(5, 8), randn(5, 6))
    check(lambda m, q, k, v: _sdpa(m, q, k, v), randn(2, 3, 4, 8), randn(1, 3, 5, 8),
          randn(2, 1, 5, 6))
    check(lambda m, q, k, v: _sdpa(m, q, k, v), randn(1, 2, 3, 4, dtype=np.float64),
          randn(1, 2, 3, 4, dtype=np.float64), randn(1, 2, 3, 4, dtype=np.float64))
    check_raises(lambda m, q, k, v: _sdpa(m, q, k, v, attn_mask=m.from_numpy(bm),
                                          is_causal=True), q, k, v)
    check_raises(lambda m, q, k, v: _sdpa(m, q, k.double(), v), q, k, v)
    check_raises(lambda m, q, k, v: _sdpa(m, q, k, v, enable_gqa=True), randn(2, 3, 4, 8),
                 randn(2, 2, 5, 8), randn(2, 2, 5, 6))


def test_sdpa_gradcheck_and_dropout():
    rng = np.random.default_rng(2)
    q, k, v = [ember.from_numpy(rng.standard_normal(s)).requires_grad_()
               for s in ((2, 2, 3, 4), (2, 1, 5, 4), (2, 1, 5, 3))]
    fm = ember.from_numpy(rng.standard_normal((3, 5))).requires_grad_()
    bm = ember.from_numpy(np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool))
    f = lambda q, k, v, m: ember.nn.functional.scaled_dot_product_attention(  # noqa: E731
        q, k, v, attn_mask=m, enable_gqa=True)
    assert gradcheck(f, (q, k, v, fm)) and gradgradcheck(f, (q, k, v, fm))
    g = lambda q, k, v: ember.nn.functional.scaled_dot_product_attention(  # noqa: E731
        q, k, v, attn_mask=bm, enable_gqa=True)
    assert gradcheck(g, (q, k, v)) and gradgradcheck(g, (q, k, v))

    def drop(q, k, v):
        ember.manual_seed(3)   # the same dropout mask on every call
        return ember.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.4,
                                                                is_causal=True)
    k2, v2 = (ember.from_numpy(np.repeat(t.detach().numpy(), 2, 1)).requires_grad_()
              for t in (k, v))
    assert gradcheck(drop, (q, k2, v2))
    a, b = drop(q, k, v), ember.nn.functional.scaled_dot_product_attention(q, k, v,
                                                                           is_causal=True)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    x = ember.ones(64, 1, 100, 1)
    ember.manual_seed(0)
    out = ember.nn.functional.scaled_dot_product_attention(x, x, x, dropout_p=0.3)
    assert abs(out.mean().item() - 1.0) < 0.05   # dropout keeps the expectation


E_, L_, S_, N_ = 8, 4, 5, 3


def _qkv():
    return f64(L_, N_, E_), f64(S_, N_, E_), f64(S_, N_, E_)


def test_multihead_attention():
    q, k, v = _qkv()
    kpm = np.zeros((N_, S_), bool)
    kpm[0, -2:] = True
    am = R.random((L_, S_)) > 0.8
    compare("MultiheadAttention", (E_, 2), {}, [q, k, v])
    compare("MultiheadAttention", (E_, 2), {}, [q, k, v], dict(need_weights=False))
    compare("MultiheadAttention", (E_, 2), {}, [q, k, v], dict(key_padding_mask=kpm,
                                                              attn_mask=am))
    compare("MultiheadAttention", (E_, 2), {}, [q, k, v], dict(key_padding_mask=kpm,
                                                              attn_mask=am, need_weights=False))
    compare("MultiheadAttention", (E_, 2), {}, [q, k, v],
            dict(attn_mask=f64(2 * N_, L_, S_), average_attn_weights=False))
    compare("MultiheadAttention", (E_, 2), dict(add_bias_kv=True, add_zero_attn=True),
            [q, k, v], dict(key_padding_mask=kpm))
    compare("MultiheadAttention", (E_, 2), dict(kdim=5, vdim=7, bias=False),
            [q, k[..., :5].copy(), v[..., :7].copy()])
    bf = [a.transpose(1, 0, 2).copy() for a in (q, k, v)]
    compare("MultiheadAttention", (E_, 2), dict(batch_first=True), bf, dict(need_weights=False))
    compare("MultiheadAttention", (E_, 2), {}, [q[:, 0], k[:, 0], v[:, 0]])
    causal = np.triu(np.full((L_, L_), -np.inf), 1)
    compare("MultiheadAttention", (E_, 2), {}, [q, q, q],
            dict(attn_mask=causal, is_causal=True, need_weights=False))
    # dropout = 1 zeroes the attention weights in training: deterministic
    compare("MultiheadAttention", (E_, 2), dict(dropout=1.0), [q, k, v], train=True)
    tm, em = pair("MultiheadAttention", E_, 2)
    assert type(em.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert list(em.state_dict()) == list(tm.state_dict())
    with pytest.raises(AssertionError):
        ember.nn.MultiheadAttention(10, 3)
    x = ember.from_numpy(q)
    with pytest.raises(RuntimeError):
        em(x, x, x, is_causal=True)


@pytest.mark.filterwarnings("ignore:Support for mismatched")
def test_transformer_layers():
    x, mem = f64(L_, N_, E_), f64(S_, N_, E_)
    kpm = np.zeros((N_, L_), bool)
    kpm[1, 3:] = True
    mkpm = np.zeros((N_, S_), bool)
    mkpm[0, -2:] = True
    causal = np.triu(np.full((L_, L_), -np.inf), 1)
    for kw in (dict(), dict(norm_first=True), dict(activation="gelu"),
               dict(activation=torch.nn.functional.gelu), dict(bias=False, layer_norm_eps=1e-3)):
        compare("TransformerEncoderLayer", (E_, 2, 16, 0.0), kw, [x],
                dict(src_key_padding_mask=kpm))
    compare("TransformerEncoderLayer", (E_, 2, 16, 0.0), dict(batch_first=True),
            [x.transpose(1, 0, 2).copy()], dict(src_mask=causal, is_causal=True))
    compare("TransformerDecoderLayer", (E_, 2, 16, 0.0), {}, [x, mem],
            dict(tgt_mask=causal, memory_key_padding_mask=mkpm, tgt_key_padding_mask=kpm))
    compare("TransformerDecoderLayer", (E_, 2, 16, 0.0), dict(norm_first=True,
                                                              activation="gelu"),
            [x, mem], dict(tgt_mask=causal, tgt_is_causal=True))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
def test_transformer_stacks():
    x, mem = f64(L_, N_, E_), f64(S_, N_, E_)
    mkpm = np.zeros((N_, S_), bool)
    mkpm[0, -2:] = True
    causal = np.triu(np.full((L_, L_), -np.inf), 1)
    em, tm = compare("Transformer", (), dict(d_model=E_, nhead=2, num_encoder_layers=2,
                                             num_decoder_layers=2, dim_feedforward=16,
                                             dropout=0.0), [mem, x],
                     dict(tgt_mask=causal, src_key_padding_mask=mkpm,
                          memory_key_padding_mask=mkpm))
    assert list(em.state_dict()) == list(tm.state_dict())
    mask = ember.nn.Transformer.generate_square_subsequent_mask(4)
    assert_close(mask, torch.nn.Transformer.generate_square_subsequent_mask(4))

    # TransformerEncoder (with a final norm) and TransformerDecoder on their own
    te = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E_, 2, 16, 0.0), 2,
                                     torch.nn.LayerNorm(E_), enable_nested_tensor=False).double()
    ee = ember.nn.TransformerEncoder(ember.nn.TransformerEncoderLayer(E_, 2, 16, 0.0), 2,
                                     ember.nn.LayerNorm(E_)).double()
    ee.load_state_dict({k: ember.from_numpy(v.numpy()) for k, v in te.state_dict().items()})
    assert_close(ee(ember.from_numpy(x), mask=ember.from_numpy(causal)),
                 te(torch.from_numpy(x), mask=torch.from_numpy(causal)).detach(), 1e-9, 1e-9)
    td = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E_, 2, 16, 0.0), 2).double()
    ed = ember.nn.TransformerDecoder(ember.nn.TransformerDecoderLayer(E_, 2, 16, 0.0), 2).double()
    ed.load_state_dict({k: ember.from_numpy(v.numpy()) for k, v in td.state_dict().items()})
    assert_close(ed(ember.from_numpy(x), ember.from_numpy(mem)),
                 td(torch.from_numpy(x), torch.from_numpy(mem)).detach(), 1e-9, 1e-9)
    with pytest.raises(RuntimeError):
        ember.nn.TransformerEncoderLayer(E_, 2, activation="tanh")


# ---------------------------------------------------------------------------
# A character-level LSTM language model trains as PyTorch's does
# ---------------------------------------------------------------------------

def test_char_lstm_lm_trains_like_torch():
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "data", "ember_story.txt")
    text = open(path, encoding="utf-8").read()
    chars = sorted(set(text))
    data = np.array([chars.index(c) for c in text])
    rng = np.random.default_rng(0)
    seq, batch, steps = 32, 16, 100
    starts = rng.integers(0, len(data) - seq - 1, (steps, batch))
    curves = {}
    state = None
    for lib in (torch, ember):
        nn = lib.nn
        lib.manual_seed(0)
        emb, lstm, head = nn.Embedding(len(chars), 16), nn.LSTM(16, 64, batch_first=True), \
            nn.Linear(64, len(chars))
        mods = (emb, lstm, head)
        if state is None:
            state = [{k: v.clone() for k, v in m.state_dict().items()} for m in mods]
        else:
            for m, sd in zip(mods, state):
                m.load_state_dict({k: ember.from_numpy(v.numpy().copy()) for k, v in sd.items()})
        params = [p for m in mods for p in m.parameters()]
        opt = lib.optim.Adam(params, lr=1e-2)
        losses = []
        for s in starts:
            x = lib.from_numpy(np.stack([data[i:i + seq] for i in s]))
            y = lib.from_numpy(np.stack([data[i + 1:i + 1 + seq] for i in s]))
            out, _ = lstm(emb(x))
            loss = nn.functional.cross_entropy(head(out).reshape(-1, len(chars)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            losses.append(loss.item())
        curves[lib.__name__] = np.array(losses)
    e, t = curves["ember"], curves["torch"]
    assert e[-10:].mean() < 0.6 * e[:5].mean()          # it learns
    assert np.abs(e - t).max() < 1e-3                   # along PyTorch's trajectory
