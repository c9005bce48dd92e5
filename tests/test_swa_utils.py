"""ember.optim.swa_utils against torch.optim.swa_utils."""
import warnings

import numpy as np
import pytest
import torch

import ember


def _models():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tm = tm.double()
    em = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2))
    em = em.double()
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    return em, tm


def _perturb(lib, model, k):
    with lib.no_grad():
        for i, p in enumerate(model.parameters()):
            a = p.detach().numpy()
            p.copy_(lib.from_numpy(a + 0.1 * (k + 1) * np.cos(a + i)))


def _swa_run(kwargs_of, steps=6):
    out = []
    for lib, model in zip((ember, torch), _models()):
        su = lib.optim.swa_utils
        avg = su.AveragedModel(model, **kwargs_of(su))
        for k in range(steps):
            _perturb(lib, model, k)
            avg.update_parameters(model)
        out.append((avg, model))
    return out


@pytest.mark.parametrize("kwargs_of", [
    lambda su: {},
    lambda su: {"multi_avg_fn": su.get_ema_multi_avg_fn(0.9)},
    lambda su: {"avg_fn": su.get_ema_avg_fn(0.8)},
    lambda su: {"multi_avg_fn": su.get_swa_multi_avg_fn()},
    lambda su: {"avg_fn": su.get_swa_avg_fn(), "use_buffers": True},
], ids=["swa", "ema-multi", "ema", "swa-multi", "swa-buffers"])
def test_averaged_model_matches_torch(kwargs_of):
    (ea, em), (ta, tm) = _swa_run(kwargs_of)
    assert int(ea.n_averaged) == int(ta.n_averaged) == 6
    assert list(ea.state_dict()) == list(ta.state_dict())
    for (k, e), t in zip(ea.state_dict().items(), ta.state_dict().values()):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-12,
                                   atol=1e-14, err_msg=k)
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(ea(ember.from_numpy(x)).detach().numpy(),
                               ta(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_averaged_model_errors_and_decay_check():
    em, _ = _models()
    su = ember.optim.swa_utils
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        su.AveragedModel(em, avg_fn=su.get_swa_avg_fn(), multi_avg_fn=su.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="Invalid decay value 1.5"):
        su.get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="Invalid decay value -1"):
        su.get_ema_avg_fn(-1)


def test_averaged_model_is_a_copy():
    em, _ = _models()
    avg = ember.optim.swa_utils.AveragedModel(em)
    p_avg, p = next(avg.parameters()), next(em.parameters())
    assert p_avg is not p and p_avg.data_ptr() != p.data_ptr()


@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=[0.05, 0.2], anneal_epochs=3,
                                                        anneal_strategy="linear"),
                                dict(swa_lr=0.01, anneal_epochs=0)])
def test_swalr_sequence(kw):
    seqs = []
    for lib in (ember, torch):
        ps = [lib.zeros(2, requires_grad=True) for _ in range(2)]
        opt = lib.optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.3}], lr=0.1)
        s = lib.optim.swa_utils.SWALR(opt, **kw)
        seq = [s.get_last_lr()]
        for _ in range(15):
            opt.step()
            s.step()
            seq.append(s.get_last_lr())
        seqs.append((seq, {k: v for k, v in s.state_dict().items()
                           if isinstance(v, (int, float, str, list))}))
    assert seqs[0] == seqs[1]


def test_swalr_errors():
    for lib in (ember, torch):
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError, match="anneal_strategy must be one of"):
            lib.optim.swa_utils.SWALR(opt, 0.1, anneal_strategy="exp")
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
            lib.optim.swa_utils.SWALR(opt, 0.1, anneal_epochs=-1)


def test_swalr_with_swa_training_loop():
    """The documented pattern: SGD, AveragedModel, SWALR after a start epoch."""
    em, tm = _models()
    results = []
    for lib, model in ((ember, em), (torch, tm)):
        su = lib.optim.swa_utils
        swa_model = su.AveragedModel(model)
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = su.SWALR(opt, swa_lr=0.05, anneal_epochs=2)
        rng = np.random.default_rng(5)
        for epoch in range(6):
            x = lib.from_numpy(rng.standard_normal((8, 3)))
            y = lib.from_numpy(rng.standard_normal((8, 2)))
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            if epoch >= 2:
                swa_model.update_parameters(model)
                sched.step()
        results.append([p.detach().numpy().copy() for p in swa_model.parameters()])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-10)


@pytest.mark.skipif(not hasattr(ember.nn, "BatchNorm1d"), reason="needs ember.nn.BatchNorm1d")
def test_update_bn_matches_torch():
    rng = np.random.default_rng(2)
    data = [rng.standard_normal((6, 4)) * 3 + 1 for _ in range(4)]
    out = []
    for lib in (ember, torch):
        nn = lib.nn
        model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU()).double()
        with lib.no_grad():
            for p in model.parameters():
                p.copy_(lib.from_numpy(np.linspace(-1, 1, p.numel()).reshape(tuple(p.shape))))
        model.eval()
        loader = [(lib.from_numpy(d), 0) for d in data]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lib.optim.swa_utils.update_bn(loader, model)
        bn = model[1]
        assert not model.training and bn.momentum == 0.1
        out.append((bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(),
                    int(bn.num_batches_tracked)))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-10)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-10)
    assert out[0][2] == out[1][2] == 4


def test_update_bn_without_batchnorm_is_a_no_op():
    em, _ = _models()
    calls = []
    ember.optim.swa_utils.update_bn(iter(lambda: calls.append(1), None), em)
    assert calls == []


def test_update_bn_mechanics_with_a_minimal_batchnorm():
    """Runs whatever BatchNorm ember.nn has or not: a stand-in recognised by name."""
    class BatchNorm1d(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.momentum = 0.3
            self.register_buffer("running_mean", ember.zeros(2, dtype=ember.float64))
            self.register_buffer("num_batches_tracked", ember.tensor(0))
            self.seen_momenta = []

        def reset_running_stats(self):
            self.running_mean.copy_(ember.zeros(2, dtype=ember.float64))
            self.num_batches_tracked.copy_(ember.tensor(0))

        def forward(self, x):
            self.seen_momenta.append(self.momentum)
            self.num_batches_tracked += 1
            n = int(self.num_batches_tracked)
            self.running_mean.copy_(self.running_mean + (x.mean(0) - self.running_mean) / n)
            return x

    bn = BatchNorm1d()
    model = ember.nn.Sequential(bn)
    bn.running_mean.copy_(ember.ones(2, dtype=ember.float64))
    model.eval()
    data = [ember.from_numpy(np.array([[1.0, 2.0], [3.0, 4.0]]) * k) for k in range(1, 4)]
    ember.optim.swa_utils.update_bn([(d, 0) for d in data], model)
    assert bn.seen_momenta == [None, None, None] and bn.momentum == 0.3 and not model.training
    np.testing.assert_allclose(bn.running_mean.numpy(), [4.0, 6.0])
