"""ember.optim.lr_scheduler against torch.optim.lr_scheduler: identical
learning-rate (and momentum) sequences, state dicts and warnings."""
import math
import warnings

import numpy as np
import pytest
import torch

import ember


def make_opt(lib, opt="SGD"):
    ps = [lib.from_numpy(np.ones(2)).requires_grad_(True) for _ in range(2)]
    groups = [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.5}]
    if opt == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.Adam(groups, lr=0.1)


def lr_sched(lib):
    return lib.optim.lr_scheduler


def trace(lib, build, steps=25, opt="SGD", metrics=None, epochs=None):
    """LRs, momenta and get_last_lr() before and after each of ``steps`` steps."""
    o = make_opt(lib, opt)
    s = build(lr_sched(lib), o)
    key = "momentum" if opt == "SGD" else "betas"
    out = [([g["lr"] for g in o.param_groups], [g[key] for g in o.param_groups],
            list(s.get_last_lr()))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(steps):
            o.step()
            if metrics is not None:
                s.step(metrics[i])
            elif epochs is not None:
                s.step(epochs[i])
            else:
                s.step()
            out.append(([g["lr"] for g in o.param_groups], [g[key] for g in o.param_groups],
                        list(s.get_last_lr())))
    return out, s


SCHEDULERS = {
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e),
    "LambdaLR-list": lambda m, o: m.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.9 if e % 2 else 0.97),
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=8, power=2.0),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.001),
    "CosineAnnealingWarmRestarts-1": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4),
    "CyclicLR-triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.3],
                                                   step_size_up=3, step_size_down=2),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                    step_size_up=4, mode="triangular2"),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                  mode="exp_range", gamma=0.9,
                                                  base_momentum=0.7, max_momentum=0.95),
    "CyclicLR-no-momentum": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=2,
                                                    cycle_momentum=False),
    "CyclicLR-scale_fn": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=2,
                                                 scale_fn=lambda x: 1 / (1 + x),
                                                 scale_mode="iterations"),
    "OneCycleLR-cos": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=25),
    "OneCycleLR-linear": lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=5, steps_per_epoch=5,
                                                   anneal_strategy="linear", pct_start=0.4),
    "OneCycleLR-three_phase": lambda m, o: m.OneCycleLR(
        o, max_lr=1.0, total_steps=25, three_phase=True, div_factor=10.0,
        final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=3), m.ExponentialLR(o, gamma=0.9),
            m.StepLR(o, step_size=2)], milestones=[4, 10]),
    "SequentialLR-warmup-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=15)],
        milestones=[5]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.5, total_iters=3), m.ExponentialLR(o, gamma=0.9)]),
    "ChainedScheduler-opt": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.5, total_iters=4), m.MultiStepLR(o, [3, 7])], optimizer=o),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_sequence_matches_torch(name):
    e, es = trace(ember, SCHEDULERS[name])
    t, ts = trace(torch, SCHEDULERS[name])
    assert e == t  # exact: same arithmetic in the same order
    _compare_state_dicts(es.state_dict(), ts.state_dict())


@pytest.mark.parametrize("name", ["CyclicLR-triangular", "OneCycleLR-cos",
                                  "OneCycleLR-three_phase"])
def test_beta1_cycling_with_adam(name):
    e, _ = trace(ember, SCHEDULERS[name], opt="Adam")
    t, _ = trace(torch, SCHEDULERS[name], opt="Adam")
    assert e == t


def _compare_state_dicts(e, t):
    assert set(e) == set(t), set(e) ^ set(t)
    for k in t:
        if k == "_schedulers":
            for a, b in zip(e[k], t[k]):
                _compare_state_dicts(a, b)
        elif isinstance(t[k], (int, float, str, bool, list, tuple, type(None))) and \
                not callable(t[k]):
            assert e[k] == t[k], (k, e[k], t[k])


@pytest.mark.parametrize("name,epochs", [
    ("StepLR", [0, 3, 4, 8, 2, 9, 12]),
    ("MultiStepLR", [1, 2, 5, 6, 10, 3]),
    ("ConstantLR", [0, 2, 4, 6, 1]),
    ("LinearLR", [0, 1, 3, 6, 9]),
    ("ExponentialLR", [0, 1, 5, 2]),
    ("PolynomialLR", [0, 3, 8, 10]),
    ("CosineAnnealingLR", [0, 2, 5, 7, 11]),
    ("CosineAnnealingWarmRestarts", [0.5, 1.25, 2.5, 3.0, 7.5, 20.0, 1.0]),
    ("CosineAnnealingWarmRestarts-1", [0, 1.5, 4, 9.75]),
])
def test_step_with_epoch_uses_closed_form(name, epochs):
    e, _ = trace(ember, SCHEDULERS[name], steps=len(epochs), epochs=epochs)
    t, _ = trace(torch, SCHEDULERS[name], steps=len(epochs), epochs=epochs)
    assert e == t


METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5,
           0.5, 0.5, 0.5, 0.5]


@pytest.mark.parametrize("kw", [
    dict(patience=2),
    dict(mode="max", factor=0.5, patience=1, threshold=0.05),
    dict(threshold_mode="abs", threshold=0.02, patience=1, cooldown=2),
    dict(mode="max", threshold_mode="abs", patience=0, min_lr=[0.05, 0.2]),
    dict(patience=0, factor=0.5, min_lr=0.09, eps=1e-3),
])
def test_reduce_lr_on_plateau(kw):
    build = lambda m, o: m.ReduceLROnPlateau(o, **kw)  # noqa: E731
    e, es = trace(ember, build, steps=len(METRICS), metrics=METRICS)
    t, ts = trace(torch, build, steps=len(METRICS), metrics=METRICS)
    assert e == t
    _compare_state_dicts(es.state_dict(), ts.state_dict())


def test_state_dict_round_trip_continues_identically():
    for name in ["CosineAnnealingLR", "OneCycleLR-cos", "CyclicLR-triangular2", "SequentialLR",
                 "ChainedScheduler", "CosineAnnealingWarmRestarts"]:
        o = make_opt(ember)
        s = SCHEDULERS[name](ember.optim.lr_scheduler, o)
        for _ in range(7):
            o.step()
            s.step()
        sd = s.state_dict()
        ref = [s.get_last_lr()]
        for _ in range(5):
            o.step()
            s.step()
            ref.append(s.get_last_lr())
        o2 = make_opt(ember)
        s2 = SCHEDULERS[name](ember.optim.lr_scheduler, o2)
        s2.load_state_dict(sd)
        for g, lr in zip(o2.param_groups, ref[0]):
            g["lr"] = lr
        got = [s2.get_last_lr()]
        for _ in range(5):
            o2.step()
            s2.step()
            got.append(s2.get_last_lr())
        assert got == ref, name


def test_lambda_state_dict_keeps_callable_objects():
    class Fn:
        def __init__(self):
            self.k = 0.5

        def __call__(self, e):
            return self.k ** e
    o = make_opt(ember)
    s = ember.optim.lr_scheduler.LambdaLR(o, [Fn(), lambda e: 1.0])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"k": 0.5}, None]
    sd["lr_lambdas"][0]["k"] = 0.25
    s.load_state_dict(sd)
    assert s.lr_lambdas[0].k == 0.25


def test_warning_when_scheduler_steps_before_optimizer():
    o = make_opt(ember)
    s = ember.optim.lr_scheduler.StepLR(o, 2)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before"):
        s.step()
    o = make_opt(ember)
    s = ember.optim.lr_scheduler.StepLR(o, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o.step()
        s.step()
    o = make_opt(ember)
    s = ember.optim.lr_scheduler.StepLR(o, 2)
    o.step = lambda closure=None: None
    with pytest.warns(UserWarning, match="has been overridden after learning rate scheduler"):
        s.step()


def test_get_lr_outside_step_warns_and_epoch_deprecation():
    o = make_opt(ember)
    s = ember.optim.lr_scheduler.ExponentialLR(o, 0.5)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()
    o.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`"):
        s.step(3)
    assert s.get_last_lr() == [0.1 * 0.5 ** 3, 0.5 * 0.5 ** 3]


def test_tensor_lr_is_updated_in_place():
    p = ember.zeros(2, requires_grad=True)
    lr = ember.tensor(0.1)
    o = ember.optim.SGD([p], lr=lr)
    s = ember.optim.lr_scheduler.StepLR(o, 1, gamma=0.5)
    o.step()
    s.step()
    assert o.param_groups[0]["lr"] is lr
    assert math.isclose(float(lr), 0.05, rel_tol=1e-6)


def _errors(fn):
    out = []
    for lib in (ember, torch):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(lr_sched(lib), make_opt(lib))
            out.append(None)
        except Exception as e:
            out.append((type(e), str(e)))
    return out


@pytest.mark.parametrize("fn", [
    lambda m, o: m.StepLR(o, 2, last_epoch=3),
    lambda m, o: m.StepLR(object(), 2),
    lambda m, o: m.ConstantLR(o, factor=2.0),
    lambda m, o: m.LinearLR(o, start_factor=0),
    lambda m, o: m.LinearLR(o, end_factor=1.5),
    lambda m, o: m.LambdaLR(o, [lambda e: 1.0]),
    lambda m, o: m.MultiplicativeLR(o, 0.5),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="a"),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2).step(-1),
    lambda m, o: m.CyclicLR(o, 0.1, 1.0, mode="foo"),
    lambda m, o: m.CyclicLR(o, [0.1], 1.0),
    lambda m, o: m.OneCycleLR(o, 1.0),
    lambda m, o: m.OneCycleLR(o, 1.0, total_steps=0),
    lambda m, o: m.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=2),
    lambda m, o: m.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=-1),
    lambda m, o: m.OneCycleLR(o, 1.0, total_steps=10, pct_start=1),
    lambda m, o: m.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="exp"),
    lambda m, o: (lambda s: [s.step() for _ in range(3)])(m.OneCycleLR(o, 1.0, total_steps=2)),
    lambda m, o: m.ReduceLROnPlateau(o, factor=1.0),
    lambda m, o: m.ReduceLROnPlateau(o, mode="avg"),
    lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="pct"),
    lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1]),
    lambda m, o: m.SequentialLR(o, [], []),
    lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2)], [1]),
    lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2), m.ReduceLROnPlateau(o)], [1]),
    lambda m, o: m.ChainedScheduler([]),
    lambda m, o: m.ChainedScheduler([m.StepLR(o, 2), m.StepLR(make_opt(
        ember if m is ember.optim.lr_scheduler else torch), 2)]),
])
def test_errors_match_torch(fn):
    e, t = _errors(fn)
    assert t is not None
    if t[0] is ValueError and "which is different from" in t[1]:
        assert e[0] is ValueError and "which is different from" in e[1]
    else:
        assert e == t


def test_cyclic_lr_needs_momentum_option():
    for lib in (ember, torch):
        p = lib.zeros(2, requires_grad=True)
        o = lib.optim.Rprop([p])
        with pytest.raises(ValueError, match="optimizer must support momentum"):
            lr_sched(lib).CyclicLR(o, 0.1, 1.0)
