"""PyTorch's OpInfo samples for the nn.functional ops of ember.nn (activations,
losses, linear, dropout, padding, resampling, shuffles, distances), compared
value-, dtype- and gradient-wise against torch; plus gradcheck (float64) and
double-backward checks of the coarse ops."""
import warnings

import numpy as np
import pytest
import torch
from reference import check, convert, op_db, randint, randn

import ember

OPS = [
    "nn.functional.gelu", "nn.functional.elu", "nn.functional.celu", "nn.functional.selu",
    "nn.functional.silu", "nn.functional.mish", "nn.functional.leaky_relu",
    "nn.functional.hardtanh", "nn.functional.relu6", "nn.functional.relu",
    "nn.functional.softplus", "nn.functional.softshrink", "nn.functional.hardshrink",
    "nn.functional.hardsigmoid", "nn.functional.hardswish", "nn.functional.logsigmoid",
    "nn.functional.threshold", "nn.functional.glu", "nn.functional.prelu",
    "nn.functional.softsign", "nn.functional.tanhshrink", "nn.functional.softmin", "softmax",
    "log_softmax", "nn.functional.rrelu", "nn.functional.binary_cross_entropy",
    "nn.functional.binary_cross_entropy_with_logits", "nn.functional.cosine_embedding_loss",
    "nn.functional.cosine_similarity", "nn.functional.cross_entropy", "nn.functional.ctc_loss",
    "nn.functional.gaussian_nll_loss", "nn.functional.hinge_embedding_loss",
    "nn.functional.huber_loss", "nn.functional.kl_div", "nn.functional.l1_loss",
    "nn.functional.margin_ranking_loss", "nn.functional.mse_loss",
    "nn.functional.multi_margin_loss", "nn.functional.multilabel_margin_loss",
    "nn.functional.multilabel_soft_margin_loss", "nn.functional.nll_loss",
    "nn.functional.normalize", "nn.functional.pairwise_distance", "nn.functional.pdist",
    "nn.functional.poisson_nll_loss", "nn.functional.smooth_l1_loss",
    "nn.functional.soft_margin_loss", "nn.functional.triplet_margin_loss",
    "nn.functional.triplet_margin_with_distance_loss", "nn.functional.bilinear",
    "nn.functional.linear", "nn.functional.dropout", "nn.functional.dropout2d",
    "nn.functional.dropout3d", "nn.functional.alpha_dropout",
    "nn.functional.feature_alpha_dropout", "nn.functional.pad", "nn.functional.one_hot",
    "nn.functional.pixel_shuffle", "nn.functional.pixel_unshuffle",
    "nn.functional.channel_shuffle", "nn.functional.unfold", "nn.functional.interpolate",
    "nn.functional.upsample_bilinear", "nn.functional.upsample_nearest",
    "nn.functional.grid_sample",
]
# Random ops: values are compared with training=False (train mode is tested
# statistically in test_nn_layers.py).
RANDOM = {"nn.functional.dropout", "nn.functional.dropout2d", "nn.functional.dropout3d",
          "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout",
          "nn.functional.rrelu"}


def _entries():
    names = set(OPS)
    return [(o.name, o.variant_test_name) for o in op_db() if o.name in names]


def _fn(name):
    if name in ("softmax", "log_softmax"):
        return lambda m, x, *a, **k: getattr(m, name)(x, *a, **k)
    short = name.split(".")[-1]
    return lambda m, x, *a, **k: getattr(m.nn.functional, short)(x, *a, **k)


def _lib_kwargs(kw, m):
    """kwargs for library ``m``: tensors/dtypes converted, torch modules rebuilt."""
    out = {}
    for k, v in kw.items():
        if isinstance(v, torch.nn.Module):
            v = getattr(m.nn, type(v).__name__)() if m is ember else v
        else:
            v = convert(v, m)
        out[k] = v
    return out


def _run(name, variant):
    op = next(o for o in op_db() if o.name == name and o.variant_test_name == variant)
    dtype = torch.float32 if torch.float32 in op.dtypes else sorted(op.dtypes, key=str)[0]
    f = _fn(name)
    fails = []
    n = 0
    for s in op.sample_inputs("cpu", dtype, requires_grad=False):
        n += 1
        kw = dict(s.kwargs)
        if name in RANDOM:
            kw["training"] = False

        def call(m, x, a, _kw=kw):
            return f(m, x, *a, **_lib_kwargs(_kw, m))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    check(call, s.input, list(s.args))
                except RuntimeError as ex:
                    if "not differentiable with respect to" in str(ex):
                        # torch can't differentiate some args (targets): grad on input only
                        check(lambda m, x, a: f(m, x, *convert(list(a), m),
                                                **_lib_kwargs(kw, m)),
                              s.input, _NoGrad(list(s.args)))
                    elif "does not support automatic differentiation" in str(ex):
                        check(call, s.input, list(s.args), grad=False)
                    else:
                        raise
        except Exception as ex:  # noqa: BLE001
            fails.append(f"{type(ex).__name__}: {str(ex)[:200]}")
    return n, fails


class _NoGrad:
    """Wraps args so reference.check leaves them as torch tensors (no grad);
    they are converted per library inside the call."""

    def __init__(self, v):
        self.v = v

    def __iter__(self):
        return iter(self.v)


@pytest.mark.parametrize("name,variant", _entries(), ids=lambda v: v or "-")
def test_opinfo_samples(name, variant):
    n, fails = _run(name, variant)
    assert n > 0
    assert not fails, f"{len(fails)}/{n} samples failed: {fails[:3]}"


# ---------------------------------------------------------------------------
# gradcheck / double backward of the coarse ops (float64)
# ---------------------------------------------------------------------------

F = ember.nn.functional


def _g(fn, *arrays, gradgrad=True):
    ins = [ember.from_numpy(a.astype("float64")).requires_grad_() for a in arrays]
    assert ember.autograd.gradcheck(fn, ins, eps=1e-6, atol=1e-5)
    if gradgrad:
        assert ember.autograd.gradgradcheck(fn, ins, eps=1e-6, atol=1e-4)


@pytest.mark.parametrize("fn", [
    lambda x: F.gelu(x), lambda x: F.gelu(x, approximate="tanh"), lambda x: F.silu(x),
    lambda x: F.mish(x), lambda x: F.elu(x, 0.7), lambda x: F.selu(x), lambda x: F.celu(x, 1.2),
    lambda x: F.leaky_relu(x, 0.1), lambda x: F.softplus(x, 2, 1), lambda x: F.logsigmoid(x),
    lambda x: F.hardswish(x), lambda x: F.softmax(x, 1), lambda x: F.log_softmax(x, 0),
    lambda x: F.hardtanh(x, -0.5, 0.5), lambda x: F.softshrink(x, 0.2),
], ids=["gelu", "gelu_tanh", "silu", "mish", "elu", "selu", "celu", "leaky", "softplus",
        "logsigmoid", "hardswish", "softmax", "log_softmax", "hardtanh", "softshrink"])
def test_activation_gradcheck(fn):
    _g(fn, randn(3, 4) * 2)


T6 = randint(0, 4, 6)


@pytest.mark.parametrize("fn", [
    lambda x: F.cross_entropy(x, ember.from_numpy(T6)),
    lambda x: F.cross_entropy(x, ember.from_numpy(T6), reduction="none", label_smoothing=0.2,
                              weight=ember.tensor([1.0, 2.0, 0.5, 1.5], dtype=ember.float64),
                              ignore_index=1),
    lambda x: F.nll_loss(x, ember.from_numpy(T6), reduction="sum"),
    lambda x: F.cross_entropy(x.reshape(2, 4, 3), ember.from_numpy(T6.reshape(2, 3))),
    lambda x: F.cross_entropy(x, ember.from_numpy(T6), reduction="sum"),
    lambda x: F.cross_entropy(x, ember.from_numpy(T6), ignore_index=int(T6[0])),
], ids=["ce", "ce_smooth_weight", "nll", "ce_kdim", "ce_sum", "ce_ignored"])
def test_loss_gradcheck(fn):
    _g(lambda x: fn(x.reshape(6, 4)), randn(6, 4))


def test_ce_probability_target_gradcheck():
    _g(lambda x, t: F.cross_entropy(x, t.softmax(1), label_smoothing=0.1), randn(3, 4),
       randn(3, 4))


def test_misc_gradcheck():
    _g(lambda x: F.pad(x, (1, 2, -1, 1)), randn(1, 2, 3, 3))
    _g(lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), randn(1, 2, 3, 3), gradgrad=False)
    _g(lambda x: F.unfold(x, 2, padding=1, stride=2), randn(1, 2, 4, 4))
    _g(lambda x: F.fold(x, (4, 4), 2, stride=2), randn(1, 8, 4))
    _g(lambda x: F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=False),
       randn(1, 1, 3, 3), gradgrad=False)
    _g(lambda x, g: F.grid_sample(x, g.tanh(), align_corners=False), randn(1, 2, 3, 3),
       randn(1, 2, 2, 2), gradgrad=False)
    _g(lambda a, b: F.pairwise_distance(a, b), randn(3, 4), randn(3, 4))
    _g(lambda x: F.normalize(x, dim=0), randn(3, 4))
    _g(lambda x: F.ctc_loss(x.log_softmax(2), ember.tensor([[1, 2], [2, 2]]),
                            ember.tensor([4, 3]), ember.tensor([2, 1])),
       randn(4, 2, 3), gradgrad=False)


def test_affine_grid_and_gumbel():
    theta = randn(2, 2, 3)
    check(lambda m, t: m.nn.functional.affine_grid(t, (2, 3, 4, 5), align_corners=False),
          theta)
    check(lambda m, t: m.nn.functional.affine_grid(t, (2, 3, 2, 4, 5), align_corners=True),
          randn(2, 3, 4))
    ember.manual_seed(0)
    x = ember.randn(5, 7, requires_grad=True)
    y = F.gumbel_softmax(x, tau=0.5, hard=True)
    assert (y.sum(-1).detach().numpy() == 1).all() and set(y.detach().numpy().ravel()) <= {0, 1}
    y.sum().backward()
    assert x.grad is not None


@pytest.mark.parametrize("fn, target, kw", [
    ("cross_entropy", [0, 4, 1], {}), ("cross_entropy", [0, -1, 1], {}),
    ("cross_entropy", [0, 1], {}), ("cross_entropy", [0, 1, 2, 3], {}),
    ("cross_entropy", [0, 1, 1], dict(ignore_index=1)),
    ("cross_entropy", [2, 2, 2], dict(ignore_index=2)),
    ("cross_entropy", [2, 2, 2], dict(ignore_index=2, label_smoothing=0.1)),
    ("cross_entropy", [1, 1, 1], dict(weight=[1.0, 0.0, 1.0, 1.0])),
    ("cross_entropy", [0, 3, 1], dict(reduction="sum")),
    ("cross_entropy", [0, -100, 1], dict(reduction="sum")),
    ("nll_loss", [2, 2, 2], dict(ignore_index=2)),
    ("nll_loss", [1, 1, 0], dict(weight=[1.0, 0.0, 1.0, 1.0])),
])
def test_class_targets_match_torch(fn, target, kw):
    """cross_entropy's whole-array path for valid int64 class targets and the
    general path it falls back to (ignored, zero-weight or bad targets), and
    nll_loss: same values, gradients (NaN where torch has NaN, 0 for ignored
    samples even when none counts) and exception types as torch."""
    x = randn(3, 4).astype("float32")
    out = []
    for lib in (ember, torch):
        args = {k: lib.tensor(v) if k == "weight" else v for k, v in kw.items()}
        xt = lib.from_numpy(x.copy()).requires_grad_()
        try:
            loss = getattr(lib.nn.functional, fn)(xt, lib.tensor(target), **args)
        except Exception as e:
            out.append(type(e))
            continue
        loss.backward()
        out.append((loss.detach().numpy(), xt.grad.numpy()))
    e, t = out
    if isinstance(t, type):
        assert e is t
    else:
        np.testing.assert_allclose(e[0], t[0], rtol=1e-6, atol=1e-7, equal_nan=True)
        np.testing.assert_allclose(e[1], t[1], rtol=1e-6, atol=1e-7, equal_nan=True)
