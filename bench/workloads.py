"""The benchmark workloads. Each ``build(lib)`` gets the ember or torch module
and returns a zero-argument step. Later issues add workloads here."""
import subprocess
import sys

import numpy as np

from .harness import DEVICE, workload


def _data(lib, *shape, seed=0):
    """Standard-normal float32 data of ``shape`` on the bench device."""
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return lib.from_numpy(a).to(DEVICE)


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
    y = lib.from_numpy(np.random.default_rng(1).integers(0, 10, 64)).to(DEVICE)
    model.to(DEVICE)
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
    # Installed packages import from bytecode; make sure ours has it even when
    # PYTHONDONTWRITEBYTECODE is set (otherwise this would time the compiler).
    if name == "ember":
        import compileall
        import os
        compileall.compile_dir(os.path.dirname(lib.__file__), quiet=1)

    def direct():
        out = []
        for _ in range(5):
            r = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); "
                                f"import {name}; print(time.perf_counter() - t)"],
                               capture_output=True, text=True, check=True)
            out.append(float(r.stdout.strip()))
        return out
    return _Direct(direct)


class _SlowDataset:
    """128 samples, each costing ~5 ms of pure-Python work (a decode/augment stand-in)."""

    def __len__(self):
        return 128

    def __getitem__(self, i):
        s = i
        for k in range(137000):  # ~5 ms of CPU time
            s = (s * 31 + k) % 1000003
        return np.full(64, s, np.float32), i


def _dataloader(num_workers):
    def build(lib):
        """One epoch of a DataLoader over _SlowDataset, batch 8: samples/s = 128 / time."""
        loader = lib.utils.data.DataLoader(_SlowDataset(), batch_size=8, num_workers=num_workers)

        def step():
            for _ in loader:
                pass
        return step
    return build


workload("dataloader_w0", reps=5)(_dataloader(0))
workload("dataloader_w2", reps=5)(_dataloader(2))


@workload("optim_step", reps=7, inner=3)
def optim_step(lib):
    """Adam.step over 200 float32 parameters of mixed sizes (~5M elements), grads preset."""
    rng = np.random.default_rng(0)
    shapes = []
    for _ in range(50):  # 50 "layers": weight, bias, norm weight, norm bias
        r, c = int(rng.choice([128, 256, 384, 512])), int(rng.choice([96, 192, 288]))
        shapes += [(r, c), (r,), (c, r // 2), (c,)]
    params = []
    for i, s in enumerate(shapes):
        p = _data(lib, *s, seed=i).requires_grad_(True)
        p.grad = _data(lib, *s, seed=1000 + i)
        params.append(p)
    opt = lib.optim.Adam(params, lr=1e-3, weight_decay=1e-4)

    def step():
        opt.step()
    return step


@workload("matmul", reps=9, inner=3)
def matmul(lib):
    """1024x1024 @ 1024x1024 float32, forward."""
    a = _data(lib, 1024, 1024)
    b = _data(lib, 1024, 1024, seed=1)

    def step():
        return a @ b
    return step


@workload("attention_bmm", reps=9, inner=20)
def attention_bmm(lib):
    """Attention-shaped batched products over 16 heads of 64x64: scores by
    einsum, weighted values by bmm, forward + backward."""
    q = _data(lib, 16, 64, 64).requires_grad_(True)
    k = _data(lib, 16, 64, 64, seed=1).requires_grad_(True)
    v = _data(lib, 16, 64, 64, seed=2).requires_grad_(True)

    def step():
        s = lib.einsum("bqd,bkd->bqk", q, k)
        lib.bmm(s, v).sum().backward()
        q.grad = k.grad = v.grad = None
    return step


@workload("reductions", reps=9, inner=10)
def reductions(lib):
    """Reduction chains over a 256x1024 float32 tensor, forward: a hand-written
    softmax (amax, exp, sum, divide), mean/var/std over rows, max with indices,
    logsumexp, full sums and a normalisation by the row norm."""
    x = _data(lib, 256, 1024)

    def step():
        e = (x - x.amax(1, keepdim=True)).exp()
        p = e / e.sum(1, keepdim=True)
        m, v = x.mean(1), x.var(1)
        vals, idx = x.max(dim=1)
        z = (x - m[:, None]) / x.std(1, keepdim=True)
        n = x / x.norm(dim=1, keepdim=True)
        return p.sum() + v.mean() + vals.sum() + x.logsumexp(1).sum() + z.abs().mean() + \
            n.sum(0).max() + idx.sum()
    return step


@workload("lstm_train", reps=7, inner=2)
def lstm_train(lib):
    """LSTM 64->256 over seq 32, batch 32, + Linear head to 64 classes, Adam, one step."""
    nn = lib.nn
    lib.manual_seed(0)
    lstm, head = nn.LSTM(64, 256), nn.Linear(256, 64)
    lstm.to(DEVICE)
    head.to(DEVICE)
    opt = lib.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    x = _data(lib, 32, 32, 64)
    y = lib.from_numpy(np.random.default_rng(1).integers(0, 64, 32 * 32)).to(DEVICE)

    def step():
        opt.zero_grad()
        out, _ = lstm(x)
        loss = nn.functional.cross_entropy(head(out).reshape(-1, 64), y)
        loss.backward()
        opt.step()
    return step


@workload("cnn_train", reps=7)
def cnn_train(lib):
    """MNIST-style CNN (conv 1->32->64 3x3, relu, maxpool 2, fc 9216->128->10), batch 64,
    Adam, one training step."""
    nn = lib.nn
    F = nn.functional
    lib.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    model.to(DEVICE)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = _data(lib, 64, 1, 28, 28)
    y = lib.from_numpy(np.random.default_rng(1).integers(0, 10, 64)).to(DEVICE)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


@workload("resblock_infer", reps=9, inner=2)
def resblock_infer(lib):
    """Residual block (two 3x3 conv 64ch + BatchNorm, relu) on 32x32, batch 32, eval,
    no_grad."""
    nn = lib.nn
    lib.manual_seed(0)
    c1, c2 = nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.Conv2d(64, 64, 3, padding=1,
                                                                     bias=False)
    b1, b2 = nn.BatchNorm2d(64), nn.BatchNorm2d(64)
    block = nn.ModuleList([c1, b1, c2, b2])
    block.to(DEVICE)
    block.eval()
    x = _data(lib, 32, 64, 32, 32)

    def step():
        with lib.no_grad():
            h = nn.functional.relu(b1(c1(x)))
            return nn.functional.relu(b2(c2(h)) + x)
    return step


@workload("transformer_train", reps=7, inner=2)
def transformer_train(lib):
    """TransformerEncoderLayer d=256, 4 heads, ff 1024, seq 64, batch 16, AdamW, one step."""
    nn = lib.nn
    lib.manual_seed(0)
    layer = nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.1, batch_first=True)
    layer.to(DEVICE)
    opt = lib.optim.AdamW(layer.parameters(), lr=1e-4)
    x = _data(lib, 16, 64, 256)

    def step():
        opt.zero_grad()
        loss = layer(x).square().mean()
        loss.backward()
        opt.step()
    return step


@workload("indexing", reps=7, inner=3)
def indexing(lib):
    """Embedding-style lookups into a 10000x128 table with 4096 indices: index_select,
    gather and scatter_add, forward + backward."""
    table = _data(lib, 10000, 128).requires_grad_(True)
    src = _data(lib, 4096, 128, seed=1).requires_grad_(True)
    idx = lib.from_numpy(np.random.default_rng(2).integers(0, 10000, 4096)).to(DEVICE)
    gidx = idx.unsqueeze(1).expand(4096, 128).contiguous()
    zeros = lib.zeros(10000, 128, device=DEVICE)

    def step():
        rows = table.index_select(0, idx)
        picked = table.gather(0, gidx)
        pooled = zeros.scatter_add(0, gidx, src * rows)
        (picked.sum() + pooled.square().sum()).backward()
        table.grad = src.grad = None
    return step
