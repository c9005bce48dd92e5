"""Normalization: batch/layer/group/instance/rms/local-response norm (functional
and layers) against PyTorch, running statistics, gradcheck/gradgradcheck."""
import numpy as np
import pytest
import torch
from layer_ref import cpu_vs_cuda, layer_check, sweep
from reference import (
    assert_close,
    check,
    check_raises,
    convert,
    gradcheck,
    opinfo_samples,
    rand,
    randn,
)

import ember


@pytest.mark.parametrize("name", ["layer_norm", "group_norm", "instance_norm", "rms_norm",
                                  "local_response_norm"])
def test_opinfo(name):
    assert sweep(f"nn.functional.{name}",
                 lambda m, x, *a, **k: getattr(m.nn.functional, name)(x, *a, **k)) >= 5


def test_opinfo_batch_norm():
    """Running statistics are buffers (no grad) and are compared after the call."""
    n = 0
    for inp, args, kw in opinfo_samples("nn.functional.batch_norm"):
        stats = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args[:2]]
        rest = args[2:]
        mine = {}

        def fn(m, x, *r):
            s = [convert(a, m) for a in stats]
            mine[m.__name__] = s
            return m.nn.functional.batch_norm(x, *s, *r, **kw)
        check(fn, inp, *rest)
        for e, t in zip(mine["ember"], mine["torch"]):
            if t is not None:
                assert_close(e, t, what="running stat")
        n += 1
    assert n >= 10


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 2)])
def test_batch_norm(training, shape):
    rm, rv = randn(3), rand(3) + 0.5
    stats = {}

    def fn(m, x, w, b):
        s = stats[m.__name__] = [convert(rm, m), convert(rv, m)]
        return m.nn.functional.batch_norm(x, *s, w, b, training, 0.3, 1e-3)
    check(fn, randn(*shape), randn(3), randn(3))
    for e, t in zip(stats["ember"], stats["torch"]):
        assert_close(e, t, what="running stat")
    # no running stats, no affine
    check(lambda m, x: m.nn.functional.batch_norm(x, None, None, training=True), randn(*shape))


def test_norm_dtypes():
    for dt in (torch.float16, torch.bfloat16):
        x = torch.randn(4, 3, 5).to(dt)
        check(lambda m, x: m.nn.functional.layer_norm(x, (5,)), x, grad=False)
        check(lambda m, x: m.nn.functional.group_norm(x, 3), x, grad=False)
        check(lambda m, x, w, b: m.nn.functional.batch_norm(x, None, None, w, b, True), x,
              randn(3), randn(3), grad=False)
    check(lambda m, x, w: m.nn.functional.rms_norm(x, (5,), w), randn(2, 4, 5, dtype=np.float64),
          randn(5, dtype=np.float64))


def test_instance_norm_running_stats():
    rm, rv = randn(4), rand(4) + 0.5
    for use_input_stats in (True, False):
        stats = {}

        def fn(m, x, w, b):
            s = stats[m.__name__] = [convert(rm, m), convert(rv, m)]
            return m.nn.functional.instance_norm(x, *s, w, b, use_input_stats, 0.2, 1e-4)
        check(fn, randn(3, 4, 6), randn(4), randn(4))
        for e, t in zip(stats["ember"], stats["torch"]):
            assert_close(e, t, what="running stat")


def test_layer_group_rms():
    check(lambda m, x, w, b: m.nn.functional.layer_norm(x, (4, 5), w, b, 1e-3),
          randn(3, 4, 5), randn(4, 5), randn(4, 5))
    check(lambda m, x, w: m.nn.functional.layer_norm(x, [5], w), randn(3, 4, 5), randn(5))
    check(lambda m, x, w, b: m.nn.functional.group_norm(x, 2, w, b), randn(3, 4, 5, 2),
          randn(4), randn(4))
    check(lambda m, x: m.nn.functional.group_norm(x, 1), randn(3, 4))
    check(lambda m, x, w: m.nn.functional.rms_norm(x, (4, 5), w, 1e-3), randn(3, 4, 5),
          randn(4, 5))
    check(lambda m, x: m.nn.functional.rms_norm(x, [5]), randn(3, 4, 5))


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm(size):
    check(lambda m, x: m.nn.functional.local_response_norm(x, size, 1e-2, 0.6, 1.5),
          randn(2, 5, 4))
    check(lambda m, x: m.nn.functional.local_response_norm(x, size), randn(2, 5, 3, 2, 2))


def test_errors():
    x = randn(2, 3, 4)
    cases = [
        lambda m, x: m.nn.functional.batch_norm(x, None, None, training=False),
        lambda m, x: m.nn.functional.batch_norm(x[:1, :, 0], m.zeros(3), m.ones(3),
                                                training=True),
        lambda m, x: m.nn.functional.batch_norm(x, m.zeros(4), m.ones(4)),
        lambda m, x: m.nn.functional.batch_norm(x, m.zeros(3), m.ones(3), m.ones(4)),
        lambda m, x: m.nn.functional.layer_norm(x, (3,)),
        lambda m, x: m.nn.functional.layer_norm(x, (4,), m.ones(3)),
        lambda m, x: m.nn.functional.group_norm(x, 2),
        lambda m, x: m.nn.functional.group_norm(x, 3, m.ones(4)),
        lambda m, x: m.nn.functional.instance_norm(x[:, :, :1]),
        lambda m, x: m.nn.functional.rms_norm(x, (3,)),
        lambda m, x: m.nn.functional.local_response_norm(x[0], 2),
        lambda m, x: m.nn.functional.layer_norm(x.double(), (4,), m.ones(4)),
        lambda m, x: m.nn.functional.batch_norm(x, m.zeros(3).requires_grad_(), m.ones(3),
                                                training=True),
    ]
    for fn in cases:
        check_raises(fn, x)


def test_grad_fn_names():
    x = ember.randn(2, 3, 4, requires_grad=True)
    F = ember.nn.functional
    assert F.batch_norm(x, None, None, training=True).grad_fn.name() == \
        "NativeBatchNormBackward0"
    assert F.layer_norm(x, (4,)).grad_fn.name() == "NativeLayerNormBackward0"
    assert F.group_norm(x, 3).grad_fn.name() == "NativeGroupNormBackward0"


# ---------------------------------------------------------------------------
# gradcheck / double backward (float64)
# ---------------------------------------------------------------------------

def _bn_eval(x, w, b):
    rm = ember.from_numpy(np.array([0.1, -0.2, 0.3]))
    rv = ember.from_numpy(np.array([1.5, 0.7, 1.1]))
    return ember.nn.functional.batch_norm(x, rm, rv, w, b, False)


NORM_FNS = [
    (lambda x, w, b: ember.nn.functional.batch_norm(x, None, None, w, b, True), (3, 3, 2)),
    (_bn_eval, (3, 3, 2)),
    (lambda x, w, b: ember.nn.functional.layer_norm(x, (3, 2), w.reshape(3, 1).expand(3, 2),
                                                    b.reshape(3, 1).expand(3, 2)), (2, 3, 2)),
    (lambda x, w, b: ember.nn.functional.group_norm(x, 3, w, b), (2, 3, 3)),
    (lambda x, w, b: ember.nn.functional.instance_norm(x, weight=w, bias=b), (2, 3, 3)),
    (lambda x, w, b: ember.nn.functional.rms_norm(x, (3, 2), w.reshape(3, 1) * b.reshape(1, 3)
                                                  [:, :2]), (2, 3, 2)),
]


@pytest.mark.parametrize("i", range(len(NORM_FNS)))
def test_gradcheck(i):
    fn, shape = NORM_FNS[i]
    assert gradcheck(fn, randn(*shape), randn(3), randn(3))


@pytest.mark.parametrize("i", range(len(NORM_FNS)))
def test_double_backward(i):
    fn, shape = NORM_FNS[i]
    ins = [ember.from_numpy(randn(*s, dtype=np.float64)).requires_grad_()
           for s in (shape, (3,), (3,))]
    assert ember.autograd.gradgradcheck(fn, tuple(ins), atol=1e-4)


def test_lrn_gradcheck():
    assert gradcheck(lambda x: ember.nn.functional.local_response_norm(x, 2), randn(2, 3, 2))


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

BN_LAYERS = [
    (lambda nn: nn.BatchNorm1d(3), (4, 3)),
    (lambda nn: nn.BatchNorm1d(3, momentum=None), (4, 3, 5)),
    (lambda nn: nn.BatchNorm2d(3, eps=1e-3, momentum=0.3, affine=False), (2, 3, 4, 5)),
    (lambda nn: nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 4, 5)),
    (lambda nn: nn.BatchNorm2d(3, bias=False), (2, 3, 4, 5)),
    (lambda nn: nn.BatchNorm3d(3, momentum=None), (2, 3, 2, 3, 2)),
    (lambda nn: nn.SyncBatchNorm(3), (2, 3, 4, 5)),
    (lambda nn: nn.InstanceNorm1d(3), (2, 3, 5)),
    (lambda nn: nn.InstanceNorm1d(3, affine=True, track_running_stats=True), (3, 5)),
    (lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=None),
     (2, 3, 4, 5)),
    (lambda nn: nn.InstanceNorm3d(3, affine=True), (2, 3, 2, 3, 2)),
    (lambda nn: nn.LayerNorm((4, 5)), (2, 3, 4, 5)),
    (lambda nn: nn.LayerNorm(5, elementwise_affine=False, eps=1e-3), (2, 3, 4, 5)),
    (lambda nn: nn.LayerNorm([5], bias=False), (2, 3, 4, 5)),
    (lambda nn: nn.GroupNorm(3, 6), (2, 6, 4)),
    (lambda nn: nn.GroupNorm(2, 6, affine=False), (2, 6, 2, 3)),
    (lambda nn: nn.LocalResponseNorm(3), (2, 6, 4)),
    (lambda nn: nn.LocalResponseNorm(4, 1e-2, 0.5, 2), (2, 6, 3, 3)),
    (lambda nn: nn.RMSNorm((4, 5)), (2, 3, 4, 5)),
    (lambda nn: nn.RMSNorm(5, eps=1e-3, elementwise_affine=False), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("make,shape", BN_LAYERS)
def test_layers(make, shape):
    layer_check(make, randn(*shape), steps=3)


def test_batchnorm_state_and_init():
    bn = ember.nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype is ember.int64
    np.testing.assert_array_equal(bn.weight.detach().numpy(), np.ones(4, np.float32))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(4, np.float32))
    bn(ember.randn(3, 4, 2, 2))
    assert int(bn.num_batches_tracked) == 1
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0 and not bn.running_mean.numpy().any()
    # old checkpoints without num_batches_tracked still load
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    sd._metadata[""]["version"] = 1
    bn.load_state_dict(sd)
    with pytest.raises(ValueError):
        bn(ember.randn(3, 4, 2))
    with pytest.raises(ValueError):
        ember.nn.GroupNorm(4, 6)


def test_lazy_batchnorm():
    for lazy, cls, shape in [(ember.nn.LazyBatchNorm1d(), ember.nn.BatchNorm1d, (4, 3)),
                             (ember.nn.LazyBatchNorm2d(), ember.nn.BatchNorm2d, (2, 3, 2, 2)),
                             (ember.nn.LazyBatchNorm3d(affine=False), ember.nn.BatchNorm3d,
                              (2, 3, 2, 2, 2)),
                             (ember.nn.LazyInstanceNorm2d(affine=True), ember.nn.InstanceNorm2d,
                              (2, 3, 2, 2))]:
        lazy(ember.randn(*shape))
        assert type(lazy) is cls
        assert tuple(lazy.state_dict()[next(iter(lazy.state_dict()))].shape) in ((3,), ())


def test_convert_sync_batchnorm():
    net = ember.nn.Sequential(ember.nn.Conv2d(3, 4, 1), ember.nn.BatchNorm2d(4))
    out = ember.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(out[1], ember.nn.SyncBatchNorm)
    assert out[1].weight is net[1].weight


def test_torch_level_functions():
    """``torch.batch_norm``/``torch.instance_norm`` take weight and bias first."""
    check(lambda m, x, w, b: m.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
          randn(2, 3, 4), randn(3), randn(3))
    check(lambda m, x, w, b: m.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
          randn(2, 3, 4), randn(3), randn(3))
    check(lambda m, x, w: m.group_norm(x, 3, w), randn(2, 3, 4), randn(3))
    check(lambda m, x: m.rms_norm(x, [4]), randn(2, 3, 4))


@pytest.mark.cuda
def test_cuda_matches_cpu():
    F = ember.nn.functional
    cpu_vs_cuda(lambda x, w, b: F.batch_norm(x, None, None, w, b, True), randn(4, 3, 5),
                 randn(3), randn(3))
    cpu_vs_cuda(lambda x, w, b: F.layer_norm(x, (5,), w, b), randn(4, 3, 5), randn(5),
                 randn(5))
    cpu_vs_cuda(lambda x, w, b: F.group_norm(x, 3, w, b), randn(4, 6, 5), randn(6), randn(6))
    cpu_vs_cuda(lambda x, w: F.rms_norm(x, (5,), w), randn(4, 3, 5), randn(5))
    bn = ember.nn.BatchNorm2d(3).cuda()
    bn(ember.randn(4, 3, 2, 2, device="cuda"))
    bn.eval()
    assert bn(ember.randn(4, 3, 2, 2, device="cuda")).is_cuda
