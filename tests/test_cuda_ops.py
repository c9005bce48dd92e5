"""ember on CUDA against ember on the CPU, for every op of PyTorch's OpInfo
database that ember has, plus the CUDA runtime API, autocast float16 and the
bench models' training losses. All tests carry the `cuda` marker: they run
through scripts/gpu-check on a GPU machine and are skipped elsewhere."""
import numpy as np
import pytest
import torch
from reference import RANDOM_OPS, ember_op, ember_opinfo_names, flatten, op_db, sample_to_ember

import ember

pytestmark = pytest.mark.cuda

MAX_SAMPLES = 3
# Random ops draw different numbers on each device (test_random_on_cuda covers them).
RANDOM = RANDOM_OPS | {"randint_like", "randn", "randint", "rand", "empty", "empty_like",
                       "empty_strided", "new_empty", "new_empty_strided",
                       "nn.functional.fractional_max_pool2d",
                       "nn.functional.fractional_max_pool3d"}
# float32 backward rules sensitive to rounding (exp/log of running sums): looser rtol.
LOOSE = {"logcumsumexp": 2e-2}
# Eigenvectors are unique only up to sign/phase: only the eigenvalues are compared.
VECTORS_AMBIGUOUS = {"linalg.eig", "linalg.eigh"}


def _ops():
    if not ember.cuda.is_available():  # collection on CPU machines stays cheap
        return ["(no cuda)"]
    return ember_opinfo_names(skip=RANDOM)


def _run(fn, sample, dev, grad):
    leaves = []
    inp = sample_to_ember(sample.input, leaves, dev)
    args = sample_to_ember(tuple(sample.args), leaves, dev)
    kwargs = sample_to_ember(dict(sample.kwargs), leaves, dev)
    if "device" in kwargs:  # creation ops: the sample names the CPU
        kwargs["device"] = dev
    outs = flatten(fn(inp, *args, **kwargs))
    for o in outs:
        if isinstance(o, ember.Tensor):
            assert o.device.type == dev, f"output on {o.device}, expected {dev}"
    vals = [o.detach().cpu().numpy() if isinstance(o, ember.Tensor) else o for o in outs]
    grads = []
    diff = [o for o in outs if isinstance(o, ember.Tensor) and o.grad_fn is not None]
    if grad and leaves and diff:
        loss = 0
        for o in diff:
            w = np.cos(np.arange(o.numel())).reshape(o.shape).astype(np.float32)
            w = ember.from_numpy(w).to(dev).to(o.dtype if o.is_floating_point() else
                                                ember.float32)
            loss = loss + (o * w).sum().real if o.is_complex() else loss + (o * w).sum()
        gs = ember.autograd.grad(loss, leaves, allow_unused=True)
        grads = [None if g is None else g.cpu().numpy() for g in gs]
    return vals, grads


def _close(c, g, what, rtol=2e-3):
    if isinstance(c, np.ndarray):
        assert isinstance(g, np.ndarray) and c.dtype == g.dtype and c.shape == g.shape, \
            f"{what}: cpu {c.dtype}{c.shape} vs cuda {getattr(g, 'dtype', type(g))}" \
            f"{getattr(g, 'shape', '')}"
        if c.dtype.kind in "fc":
            scale = max(1.0, float(np.nanmax(np.abs(c))) if c.size and
                        np.isfinite(c).any() else 1.0)
            np.testing.assert_allclose(g, c, rtol=rtol, atol=rtol / 10 * scale, equal_nan=True,
                                       err_msg=what)
        else:
            np.testing.assert_array_equal(g, c, err_msg=what)
    else:
        assert c == g or (c != c and g != g), f"{what}: {c} vs {g}"


@pytest.mark.parametrize("name", _ops())
def test_op_cuda_matches_cpu(name):
    if name == "(no cuda)":
        pytest.skip("no CUDA")
    fn = ember_op(name)
    if fn is None:
        pytest.skip(f"ember has no {name}")
    op = next(o for o in op_db() if o.name == name and not o.variant_test_name)
    dtypes = op.supported_dtypes("cpu")
    dtype = next((d for d in (torch.float32, torch.int64, torch.bool) if d in dtypes), None)
    if dtype is None:
        pytest.skip("no float32/int64/bool sample")
    grad = op.supports_autograd and dtype == torch.float32 and name not in VECTORS_AMBIGUOUS
    n = 0
    for s in op.sample_inputs("cpu", dtype, requires_grad=grad):
        if n == MAX_SAMPLES:
            break
        if s.kwargs.get("dropout_p", 0) > 0:  # random: each device draws its own mask
            continue
        try:
            op.op(s.input, *s.args, **s.kwargs)
            cpu = _run(fn, s, "cpu", grad)
        except Exception:  # not valid in PyTorch or unsupported on ember's CPU: not our case
            continue
        n += 1
        gpu = _run(fn, s, "cuda", grad)
        for i, (c, g) in enumerate(zip(cpu[0], gpu[0])):
            if i == 0 or name not in VECTORS_AMBIGUOUS:
                _close(c, g, f"{name} output {i}")
        for i, (c, g) in enumerate(zip(cpu[1], gpu[1])):
            if c is None or g is None:
                assert c is None and g is None, f"{name} grad {i}: one side is None"
            else:
                _close(c, g, f"{name} grad {i}", LOOSE.get(name, 2e-3))
    if n == 0:
        pytest.skip("no sample runs on ember's CPU")


# ---------------------------------------------------------------------------
# The runtime API
# ---------------------------------------------------------------------------

def test_device_api():
    assert ember.cuda.is_available() and ember.cuda.device_count() >= 1
    assert ember.cuda.current_device() == 0
    props = ember.cuda.get_device_properties(0)
    assert props.total_memory > 2**30 and props.name == ember.cuda.get_device_name()
    assert ember.cuda.get_device_capability() == (props.major, props.minor)
    assert ember.cuda.get_device_name() == torch.cuda.get_device_name()
    with ember.cuda.device(0):
        assert ember.zeros(2, device="cuda").device == ember.device("cuda", 0)
    free, total = ember.cuda.mem_get_info()
    assert 0 < free <= total
    ember.cuda.synchronize()
    assert str(ember.ones(1).cuda().device) == "cuda:0"


def test_memory_stats():
    ember.cuda.empty_cache()
    base = ember.cuda.memory_allocated()
    x = ember.empty(1024, 1024, device="cuda")  # 4 MiB
    assert ember.cuda.memory_allocated() - base >= 4 * 2**20
    ember.cuda.reset_peak_memory_stats()
    y = ember.empty(4096, 1024, device="cuda")
    peak = ember.cuda.max_memory_allocated()
    del y
    assert ember.cuda.max_memory_allocated() == peak >= base + 20 * 2**20
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    del x
    ember.cuda.empty_cache()


def test_out_of_memory_names_size():
    with pytest.raises(ember.cuda.OutOfMemoryError, match=r"Tried to allocate 1024\.00 GiB"):
        ember.empty(2**38, device="cuda")
    assert issubclass(ember.cuda.OutOfMemoryError, RuntimeError)
    assert ember.OutOfMemoryError is ember.cuda.OutOfMemoryError
    ember.zeros(4, device="cuda")  # the device still works afterwards


def test_streams_and_events():
    s = ember.cuda.Stream()
    start, end = ember.cuda.Event(enable_timing=True), ember.cuda.Event(enable_timing=True)
    with ember.cuda.stream(s):
        start.record()
        x = ember.ones(512, 512, device="cuda")
        y = x @ x
        end.record()
    end.synchronize()
    assert start.elapsed_time(end) >= 0
    ember.cuda.current_stream().wait_stream(s)
    assert float(y[0, 0]) == 512.0
    assert s.query() is True


def test_host_device_copies():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = ember.from_numpy(a).pin_memory()
    assert p.is_pinned()
    g = p.to("cuda", non_blocking=True)
    ember.cuda.synchronize()
    np.testing.assert_array_equal(g.cpu().numpy(), a)
    back = g.to("cpu", non_blocking=True)
    ember.cuda.synchronize()
    np.testing.assert_array_equal(back.numpy(), a)
    with pytest.raises(TypeError, match="cuda"):
        g.numpy()
    assert g.double().cpu().dtype == ember.float64
    assert g.tolist() == a.tolist() and g[1, 2].item() == 6.0
    ds = ember.utils.data.TensorDataset(ember.from_numpy(a))
    (batch,) = next(iter(ember.utils.data.DataLoader(ds, batch_size=3, pin_memory=True)))
    assert batch.is_pinned()


def test_module_cuda_and_checkpoint(tmp_path):
    m = ember.nn.Linear(3, 2).cuda()
    assert all(p.is_cuda for p in m.parameters())
    ember.save(m.state_dict(), tmp_path / "m.pt")
    sd = ember.load(tmp_path / "m.pt")
    assert sd["weight"].is_cuda
    sd = ember.load(tmp_path / "m.pt", map_location="cpu")
    assert not sd["weight"].is_cuda
    t = torch.load(tmp_path / "m.pt", map_location="cpu", weights_only=True)
    np.testing.assert_array_equal(t["weight"].numpy(), sd["weight"].numpy())


def test_random_on_cuda():
    ember.manual_seed(0)
    a = ember.randn(1000, device="cuda")
    ember.manual_seed(0)
    b = ember.randn(1000, device="cuda")
    assert a.is_cuda and bool((a == b).all())
    assert abs(float(a.mean())) < 0.2 and 0.8 < float(a.std()) < 1.2
    d = ember.nn.functional.dropout(ember.ones(1000, device="cuda"), 0.5)
    assert d.is_cuda and 300 < int((d == 0).sum()) < 700


# ---------------------------------------------------------------------------
# Mixed precision
# ---------------------------------------------------------------------------

def test_autocast_float16_dtypes_match_torch():
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((8, 8)).astype(np.float32) for _ in range(2))
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    cases = [lambda m, a, b: m.mm(a, b), lambda m, a, b: m.matmul(a, b) + a,
             lambda m, a, b: m.nn.functional.linear(a, b), lambda m, a, b: m.softmax(a, 1),
             lambda m, a, b: m.exp(m.mm(a, b)), lambda m, a, b: m.mm(a, b).sum(),
             lambda m, a, b: m.nn.functional.layer_norm(m.mm(a, b), (8,)),
             lambda m, a, b: m.nn.functional.cross_entropy(m.mm(a, b),
                                                           m.arange(8, device=a.device))]
    for i, f in enumerate(cases):
        with torch.autocast("cuda", dtype=torch.float16):
            t = f(torch, torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda())
        with ember.autocast("cuda", dtype=ember.float16):
            e = f(ember, ember.from_numpy(a).cuda(), ember.from_numpy(b).cuda())
        assert str(e.dtype) == str(t.dtype), f"case {i}"
        np.testing.assert_allclose(e.float().cpu().numpy(), t.float().cpu().numpy(),
                                   rtol=2e-2, atol=2e-2)
    with ember.autocast("cuda"):
        y = ember.nn.functional.conv2d(ember.from_numpy(x).cuda(), ember.from_numpy(w).cuda())
    assert y.dtype == ember.float16


def test_grad_scaler_float16_training_matches_torch():
    """float16 autocast + GradScaler on CUDA, with an injected overflow at step 3:
    the same losses, skipped step and scale sequence as torch-cuda."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    y = rng.integers(0, 4, 64)
    ws = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in ((32, 16), (32,), (4, 32),
                                                                      (4,))]
    runs = {}
    for lib in (ember, torch):
        model = lib.nn.Sequential(lib.nn.Linear(16, 32), lib.nn.ReLU(), lib.nn.Linear(32, 4))
        with lib.no_grad():
            for p, w in zip(model.parameters(), ws):
                p.copy_(lib.from_numpy(w))
        model.cuda()
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        scaler = lib.amp.GradScaler("cuda", init_scale=2.0**16, growth_interval=4)
        xs, ys = lib.from_numpy(x).cuda(), lib.from_numpy(y).cuda()
        losses, scales = [], []
        for step in range(12):
            opt.zero_grad()
            with lib.autocast("cuda", dtype=lib.float16):
                loss = lib.nn.functional.cross_entropy(model(xs), ys)
            scaler.scale(loss).backward()
            if step == 3:
                model[0].weight.grad.fill_(float("inf"))
            scaler.step(opt)
            scaler.update()
            losses.append(float(loss))
            scales.append(scaler.get_scale())
        runs[lib.__name__] = (losses, scales, model[2].weight.detach().cpu().numpy())
    e, t = runs["ember"], runs["torch"]
    np.testing.assert_allclose(e[0], t[0], rtol=5e-3)
    assert e[1] == t[1]
    np.testing.assert_allclose(e[2], t[2], rtol=1e-2, atol=1e-3)
    assert e[0][-1] < e[0][0]


# ---------------------------------------------------------------------------
# Training the bench models gives the CPU's losses
# ---------------------------------------------------------------------------

def _mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), (16, 784)


def _cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 12 * 12, 10)), \
        (16, 1, 28, 28)


def _transformer(nn):
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    return nn.Sequential(layer, nn.Flatten(), nn.Linear(8 * 32, 10)), (16, 8, 32)


@pytest.mark.parametrize("build", [_mlp, _cnn, _transformer], ids=["mlp", "cnn", "transformer"])
def test_training_losses_match_cpu(build):
    losses = {}
    for dev in ("cpu", "cuda"):
        ember.manual_seed(0)
        model, shape = build(ember.nn)
        model.to(dev)
        opt = ember.optim.Adam(model.parameters(), lr=1e-3)
        data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        x = ember.from_numpy(data).to(dev)
        y = ember.from_numpy(np.arange(shape[0]) % 10).to(dev)
        losses[dev] = []
        for _ in range(5):
            opt.zero_grad()
            loss = ember.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses[dev].append(float(loss))
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-4)
    assert losses["cpu"][-1] < losses["cpu"][0]
