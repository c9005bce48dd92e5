"""ember's BLAS thread policy (``ember/_blas.py``): which products use
OpenBLAS's threads, when the intra-op threads claim the second core, and that
threaded recurrent layers give the same results as PyTorch."""
import os
import threading
import types

import numpy as np
import pytest
import torch

import ember
from ember import _blas
from ember._ops import _parallel, blas, rnn_ops

_cores_idle = _blas._cores_idle   # the real one (conftest pins it to False per test)


@pytest.fixture
def policy(monkeypatch):
    """The policy with a fake OpenBLAS (records the thread counts set), two
    threads allowed, idle cores and no recent intra-op run."""
    calls = []
    monkeypatch.setattr(_blas, "_active", True)
    monkeypatch.setattr(_blas, "_max", 2)
    monkeypatch.setattr(_blas, "_set", calls.append)
    monkeypatch.setattr(_blas, "_cores_idle", lambda: True)
    monkeypatch.setattr(_blas, "_pool_used", -1e9)
    return calls


def _threaded(macs):
    ctx = _blas.gemm_threads(macs)
    return ctx is not _blas._NULL


def test_mid_size_products_thread_only_while_cores_are_free(policy, monkeypatch):
    assert not _threaded(_blas.MID_MACS - 1)
    with _blas.gemm_threads(_blas.MID_MACS):
        assert policy == [2] and _blas.in_threaded_region()
        assert not _threaded(_blas.BIG_MACS)          # nested: the region's threads
    assert policy == [2, 1] and not _blas.in_threaded_region()
    other = []
    t = threading.Thread(target=lambda: other.append(_threaded(_blas.MID_MACS)))
    t.start()
    t.join()
    assert other == [False]                           # only the main thread
    _blas.pool_used()                                 # the intra-op threads claim the core
    assert not _threaded(_blas.MID_MACS) and _threaded(_blas.BIG_MACS)
    monkeypatch.setattr(_blas, "_pool_used", -1e9)
    monkeypatch.setattr(_blas, "_cores_idle", lambda: False)   # another process is busy
    assert not _threaded(_blas.MID_MACS) and _threaded(_blas.BIG_MACS)
    monkeypatch.setattr(_blas, "_cores_idle", lambda: True)
    monkeypatch.setattr(_blas, "_max", 1)             # ember.set_num_threads(1)
    assert not _threaded(_blas.MID_MACS)


def test_cores_idle_reads_the_other_processes_cpu_time(monkeypatch):
    """Idle when other processes used less than half a core beside ember's
    threads since the last reading; readings at most every _SAMPLE s; without
    /proc/stat, never."""
    clock = {"now": 100.0, "all": 50.0, "ours": 10.0}
    reads = []

    def cpu():
        reads.append(clock["now"])
        return clock["all"]
    monkeypatch.setattr(_blas, "time", types.SimpleNamespace(
        monotonic=lambda: clock["now"], process_time=lambda: clock["ours"]))
    monkeypatch.setattr(_blas, "_cpu_seconds", cpu)
    monkeypatch.setattr(_blas, "_reading", None)
    monkeypatch.setattr(_blas, "_idle", True)
    monkeypatch.setattr(_blas, "_max", 2)
    monkeypatch.setattr(_blas, "_NCPU", 2)
    assert _cores_idle()                              # first reading: nothing to compare yet
    # (CPU seconds of other processes, of ours, since the reading 0.5-0.6 s before)
    for others, ours, idle in [(0.01, 0.5, True), (0.5, 0.3, False), (0.0, 0.0, True),
                               (0.2, 0.9, True), (0.4, 0.0, False)]:
        clock["now"] += 0.5
        clock["all"] += others + ours
        clock["ours"] += ours
        assert _cores_idle() is idle
        clock["now"] += 0.1                           # within _SAMPLE: the same answer
        assert _cores_idle() is idle
    assert len(reads) == 6
    monkeypatch.setattr(_blas, "_NCPU", 4)            # 4 cores: a busy one leaves 2 idle
    clock["now"] += 0.5
    clock["all"] += 1.0 * 0.5
    assert _cores_idle()

    def missing():
        raise OSError("no /proc/stat")
    monkeypatch.setattr(_blas, "_cpu_seconds", missing)
    clock["now"] += 0.5
    assert not _cores_idle()


def test_cpu_seconds_grows():
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat (not Linux)")
    a = _blas._cpu_seconds()
    x = np.ones(1 << 22)
    for _ in range(20):
        x = np.sin(x)
    assert _blas._cpu_seconds() > a


def test_big_parallel_runs_claim_the_second_core(two_threads, policy, monkeypatch):
    def run(i, j):
        pass
    _parallel.split(run, 4, _parallel._CLAIM_WORK - 1)
    assert _blas.threads_free()                       # a small run (one tensor's update)
    _parallel.split(run, 4, _parallel._CLAIM_WORK, mark=False)
    assert _blas.threads_free()                       # the GEMM split never claims
    _parallel.split(run, 4, _parallel._CLAIM_WORK)
    assert not _blas.threads_free()


def test_short_runs_never_claim_and_run_alone_while_openblas_spins(two_threads, policy,
                                                                   monkeypatch):
    import time
    calls = []

    def run(i, j):
        calls.append((threading.get_ident(), i, j))
    _parallel.split(run, 4, _parallel._CLAIM_WORK, short=True)
    assert _blas.threads_free() and len(calls) >= 2        # threads, no claim
    calls.clear()
    monkeypatch.setattr(_blas, "_threads_used", time.monotonic())
    _parallel.split(run, 4, _parallel._CLAIM_WORK, short=True)
    assert calls == [(threading.get_ident(), 0, 4)]          # alone while OpenBLAS spins


def test_mid_size_product_uses_openblas_threads_when_free(two_threads, policy, monkeypatch):
    """With free cores a product in the split range runs as one threaded BLAS
    call; with busy ones it is split over the intra-op threads."""
    split_calls = []
    split = blas.split
    monkeypatch.setattr(blas, "split", lambda *a, **k: (split_calls.append(1), split(*a, **k)))
    a = np.random.default_rng(0).standard_normal((64, 1024), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((1024, 300), dtype=np.float32)
    want = a @ b
    np.testing.assert_allclose(blas._gemm(a, b), want, rtol=1e-5, atol=1e-4)
    assert policy == [2, 1] and split_calls == []
    monkeypatch.setattr(_blas, "_cores_idle", lambda: False)
    np.testing.assert_allclose(blas._gemm(a, b), want, rtol=1e-5, atol=1e-4)
    assert policy == [2, 1] and split_calls == [1]


def _recurrent_policy(monkeypatch, free):
    """The thread policy with these tests' small recurrent products counted as
    mid-size, and the cores free (threaded passes) or busy (the helper thread)."""
    monkeypatch.setattr(_blas, "MID_MACS", 1)
    monkeypatch.setattr(_blas, "_cores_idle", lambda: free)
    monkeypatch.setattr(_blas, "_pool_used", -1e9)


def _twin_rnns(mode, **kw):
    """``nn.<mode>(5, 8, **kw)`` in float64 in torch and in ember, with torch's weights."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, mode)(5, 8, **kw).double()
    mine = getattr(ember.nn, mode)(5, 8, **kw).double()
    mine.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                          for k, v in ref.state_dict().items()})
    return ref, mine


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("free", [True, False])
def test_recurrent_layer_passes_thread_or_overlap(two_threads, monkeypatch, mode, free):
    """Each layer pass runs either under OpenBLAS's threads (free cores: no helper
    thread) or with the LSTM helper thread (busy cores); both match torch."""
    _recurrent_policy(monkeypatch, free)
    helpers = []
    helper = rnn_ops._helper
    monkeypatch.setattr(rnn_ops, "_helper", lambda: helpers.append(helper()) or helpers[-1])
    regions = []
    enter = _blas._Threads.__enter__
    monkeypatch.setattr(_blas._Threads, "__enter__", lambda s: (regions.append(1), enter(s)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 3, 5))
    ref, mine = _twin_rnns(mode, num_layers=2)
    outs = []
    for lib, m in ((torch, ref), (ember, mine)):
        xt = lib.from_numpy(x.copy()).requires_grad_()
        y = m(xt)[0]
        (y * y).sum().backward()
        outs.append([y.detach().numpy(), xt.grad.numpy()] +
                    [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-10)
    if _blas._active:
        assert (len(regions) == 4) == free            # 2 layers, forward and backward
    if mode == "LSTM":
        used = [h for h in helpers if h is not None]
        assert bool(used) == (not free)


@pytest.mark.parametrize("mode", ["LSTM", "RNN"])
@pytest.mark.parametrize("free", [True, False])
def test_recurrent_input_paths_match_torch(two_threads, monkeypatch, mode, free):
    """A threaded layer pass puts the input projection in each step's product
    (``_joint``); with busy cores it is done ahead, overlapped with the loop on
    the helper thread (``_in_proj``). Both match torch on packed batches in both
    directions with an initial state (and proj_size for LSTM)."""
    _recurrent_policy(monkeypatch, free)
    paths = []
    for name in ("_joint", "_in_proj"):
        fn = getattr(rnn_ops, name)
        monkeypatch.setattr(rnn_ops, name, lambda *a, _f=fn, _n=name: (paths.append(_n),
                                                                        _f(*a))[1])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 4, 5))
    lengths = [12, 9, 9, 4]
    kw = dict(num_layers=2, bidirectional=True)
    if mode == "LSTM":
        kw["proj_size"] = 3
    h = rng.standard_normal((4, 4, 3 if mode == "LSTM" else 8))
    c = rng.standard_normal((4, 4, 8))
    ref, mine = _twin_rnns(mode, **kw)
    outs = []
    for lib, m in ((torch, ref), (ember, mine)):
        xt = lib.from_numpy(x.copy()).requires_grad_()
        hx = [lib.from_numpy(a.copy()).requires_grad_() for a in (h, c)]
        packed = lib.nn.utils.rnn.pack_padded_sequence(xt, lengths)
        y, hn = m(packed, tuple(hx) if mode == "LSTM" else hx[0])
        hn = hn if mode == "LSTM" else (hn,)
        loss = (y.data ** 2).sum() + sum((a ** 3).sum() for a in hn)
        loss.backward()
        outs.append([y.data.detach().numpy(), xt.grad.numpy()] +
                    [a.detach().numpy() for a in hn] + [a.grad.numpy() for a in hx[:len(hn)]] +
                    [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-10)
    assert paths and set(paths) == {"_joint" if free else "_in_proj"}


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("frozen", [("weight_hh_l0", "bias_ih_l0"), ("weight_ih_l0",
                                                                    "bias_hh_l0")])
@pytest.mark.parametrize("helper", [True, False])
def test_recurrent_partial_gradients_match_torch(two_threads, mode, frozen, helper):
    """Frozen weights or biases, and an input without grad: the gradients that are
    needed match torch, whether the LSTM's helper thread computes the weight
    products during the backward loop or the GEMMs after it do."""
    if not helper:
        _parallel.set_num_threads(1)   # (two_threads restores it)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 3, 5))
    ref, mine = _twin_rnns(mode)
    outs = []
    for lib, m in ((torch, ref), (ember, mine)):
        for name, p in m.named_parameters():
            p.requires_grad_(name not in frozen)
        y = m(lib.from_numpy(x.copy()))[0]
        (y * y).sum().backward()
        outs.append([None if p.grad is None else p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*outs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-10)


def test_optimizer_units_run_alone_while_openblas_threads_spin(two_threads, monkeypatch):
    """Right after a threaded product, an optimizer's update runs its parameters
    whole on the calling thread (ember's threads would share OpenBLAS's cores)."""
    import time

    from ember.optim import optimizer
    seen = []

    def unit(a, scale):
        seen.append((threading.get_ident(), a.size))
        a *= scale
    big = np.ones(4 * optimizer._BLOCK)
    items = [((big,), (2.0,)), ((np.ones(100),), (3.0,))]
    assert big.size + 100 >= _parallel._MIN_WORK          # enough work for the threads
    monkeypatch.setattr(_blas, "_threads_used", time.monotonic())
    assert _blas.spinning()
    optimizer._run_units(unit, items)
    assert seen == [(threading.get_ident(), big.size), (threading.get_ident(), 100)]
    huge = np.ones(2 * optimizer._SERIAL_BLOCK, np.float32)   # in pieces: bounded scratch
    seen.clear()
    optimizer._run_units(unit, [((huge,), (2.0,))])
    assert seen == [(threading.get_ident(), optimizer._SERIAL_BLOCK)] * 2
    s1 = optimizer._thread_scratch(huge, 0)                  # too big to keep
    assert s1.shape == huge.shape and not np.shares_memory(s1, optimizer._thread_scratch(huge, 0))
    monkeypatch.setattr(_blas, "_threads_used", -1e9)     # long ago: blocks over the threads
    seen.clear()
    optimizer._run_units(unit, items)
    assert sorted(n for _, n in seen) == [100] + [optimizer._BLOCK] * 4
    assert (big == 4.0).all()
