"""The benchmark workloads. Each ``build(lib)`` gets the ember or torch module
and returns a zero-argument step. Later issues add workloads here."""
import subprocess
import sys

import numpy as np

from .harness import workload


def _data(lib, *shape, seed=0):
    return lib.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


@workload("tiny_ops", reps=9, inner=200)
def tiny_ops(lib):
    """A chain of 6 elementwise ops on 8x8 tensors, forward + backward."""
    a = _data(lib, 8, 8).requires_grad_(True)
    b = _data(lib, 8, 8, seed=1)

    def step():
        y = ((a * b + a).tanh() - b).exp() * 0.5
        y = y.sigmoid().sum()
        y.backward()
        a.grad = None
    return step


@workload("mlp_train", reps=9, inner=5)
def mlp_train(lib):
    """784-256-256-10 MLP, batch 64, SGD with momentum, one training step."""
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = _data(lib, 64, 784)
    y = lib.from_numpy(np.random.default_rng(1).integers(0, 10, 64))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return step


class _Direct:
    """A workload that times itself (returns per-rep seconds from ``direct``)."""

    def __init__(self, fn):
        self.direct = fn

    def __call__(self):
        pass


@workload("import")
def import_time(lib):
    """``python -c 'import <lib>'`` in a fresh interpreter, 5 runs."""
    name = lib.__name__

    def direct():
        out = []
        for _ in range(5):
            r = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); "
                                f"import {name}; print(time.perf_counter() - t)"],
                               capture_output=True, text=True, check=True)
            out.append(float(r.stdout.strip()))
        return out
    return _Direct(direct)
