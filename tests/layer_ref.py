"""Layer reference helper for the conv/pool/norm tests: builds the same layer in
PyTorch and ember, copies torch's state_dict into ember, and compares outputs,
input gradients, parameter gradients and buffers (train and eval)."""
import warnings

import numpy as np
import torch
from reference import assert_close, convert, opinfo_samples

import ember


def layer_check(make, *inputs, modes=("train", "eval"), rtol=None, atol=None, steps=1,
                seed=0, grad_inputs=None):
    """``make(nn)`` builds the layer. ``steps`` forward/backward passes per mode
    (running statistics accumulate across them). ``grad_inputs``: indices of the
    inputs that get a gradient (default: every floating input)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        tm, em = make(torch.nn), make(ember.nn)
    assert list(em.state_dict()) == list(tm.state_dict()), "state_dict keys"
    for k, v in em.state_dict().items():
        assert tuple(v.shape) == tuple(tm.state_dict()[k].shape), f"shape of {k}"
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    assert repr(em) == repr(tm)
    rng = np.random.default_rng(seed)
    for mode in modes:
        tm.train(mode == "train")
        em.train(mode == "train")
        for _ in range(steps):
            t_leaves, e_leaves = [], []
            t_in, e_in = [], []
            for i, x in enumerate(inputs):
                g = grad_inputs is None or i in grad_inputs
                t_in.append(convert(x, torch, g, t_leaves))
                e_in.append(convert(x, ember, g, e_leaves))
            t_out = tm(*t_in)
            e_out = em(*e_in)
            assert_close(e_out, t_out, rtol, atol, f"{mode} output")
            t_first = t_out[0] if isinstance(t_out, tuple) else t_out
            e_first = e_out[0] if isinstance(e_out, tuple) else e_out
            if t_first.requires_grad:
                g = rng.standard_normal(tuple(t_first.shape))
                t_first.backward(torch.from_numpy(g).to(t_first.dtype))
                e_first.backward(ember.from_numpy(g).to(e_first.dtype))
                gr = rtol and rtol * 10
                ga = atol and atol * 10
                for i, (te, ee) in enumerate(zip(t_leaves, e_leaves)):
                    if te.grad is not None:
                        assert_close(ee.grad, te.grad, gr, ga, f"{mode} input grad {i}")
                tp = dict(tm.named_parameters())
                for name, ep in em.named_parameters():
                    if tp[name].grad is None:
                        assert ep.grad is None, name
                    else:
                        assert_close(ep.grad, tp[name].grad, gr, ga, f"{mode} grad of {name}")
                tm.zero_grad()
                em.zero_grad()
            tb = dict(tm.named_buffers())
            for name, eb in em.named_buffers():
                assert_close(eb, tb[name], rtol, atol, f"{mode} buffer {name}")
    return em, tm


def sweep(name, fn, variant="", every=1, extra=None):
    """Reference-checks ``fn(m, x, *args, **kwargs)`` on PyTorch's OpInfo samples for
    ``name`` (every ``every``-th sample). ``extra(sample) -> kwargs`` may add
    arguments. Returns the number of samples checked."""
    from reference import check
    n = 0
    for i, (inp, args, kw) in enumerate(opinfo_samples(name, variant=variant)):
        if i % every:
            continue
        if extra is not None:
            kw = {**kw, **extra(inp, args, kw)}
        check(lambda m, x, *a, _kw=kw: fn(m, x, *a, **{k: convert(v, m) for k, v in
                                                         _kw.items()}), inp, *args)
        n += 1
    return n


def cpu_vs_cuda(fn, *arrays):
    """``fn(*tensors)`` on CPU and on CUDA: same values and input gradients."""
    res = []
    for dev in ("cpu", "cuda"):
        ts = [ember.from_numpy(a).to(dev).requires_grad_() for a in arrays]
        out = fn(*ts)
        out = out[0] if isinstance(out, tuple) else out
        (out * out).sum().backward()
        res.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts])
    for c, g in zip(*res):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-4)
