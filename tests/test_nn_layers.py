"""Every layer and loss built in PyTorch and in ember with the same weights
(state_dict copied): outputs, input gradients, parameter gradients and
buffers match, in train and eval mode."""
import warnings

import numpy as np
import pytest
import torch
from reference import assert_close, convert, rand, randint, randn

import ember


def check_layer(make, *inputs, modes=("train", "eval"), rtol=None, atol=None, grad=True,
                seed=0):
    """Builds ``make(nn)`` in both libraries, copies torch's state into ember and
    compares outputs and gradients (inputs, parameters) per mode. Inputs torch
    cannot differentiate (some loss targets) are left without grad."""
    try:
        _check_layer(make, inputs, modes, rtol, atol, grad, seed)
    except RuntimeError as ex:
        if "not differentiable with respect to" not in str(ex):
            raise
        _check_layer(make, inputs, modes, rtol, atol, grad, seed, only_first=True)


def _check_layer(make, inputs, modes, rtol, atol, grad, seed, only_first=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm, em = make(torch.nn), make(ember.nn)
        assert list(em.state_dict()) == list(tm.state_dict()), "state_dict keys"
        em.load_state_dict(tm.state_dict())
        assert repr(em) == repr(tm)
        for mode in modes:
            tm.train(mode == "train")
            em.train(mode == "train")
            t_leaves, e_leaves = [], []
            if only_first:
                t_in = (convert(inputs[0], torch, grad, t_leaves),) + convert(inputs[1:], torch)
                e_in = (convert(inputs[0], ember, grad, e_leaves),) + convert(inputs[1:], ember)
            else:
                t_in = convert(inputs, torch, grad, t_leaves)
                e_in = convert(inputs, ember, grad, e_leaves)
            t_out = tm(*t_in)
            e_out = em(*e_in)
            assert_close(e_out, t_out, rtol, atol, f"{mode} output")
            if grad and getattr(t_out, "requires_grad", False):
                g = np.random.default_rng(seed).standard_normal(tuple(t_out.shape))
                t_out.backward(torch.from_numpy(g).to(t_out.dtype))
                e_out.backward(ember.from_numpy(g).to(e_out.dtype))
                for i, (te, ee) in enumerate(zip(t_leaves, e_leaves)):
                    if te.requires_grad and te.grad is not None:
                        assert_close(ee.grad, te.grad, rtol and rtol * 10, atol and atol * 10,
                                     f"{mode} input grad {i}")
                tp = dict(tm.named_parameters())
                for name, ep in em.named_parameters():
                    if tp[name].grad is None:
                        assert ep.grad is None or not ep.grad.numpy().any(), name
                    else:
                        assert_close(ep.grad, tp[name].grad, rtol and rtol * 10,
                                     atol and atol * 10, f"{mode} grad of {name}")
                tm.zero_grad()
                em.zero_grad()
            tb = dict(tm.named_buffers())
            for name, eb in em.named_buffers():
                assert_close(eb, tb[name], what=f"buffer {name}")


ACTIVATIONS = [
    ("ReLU", lambda nn: nn.ReLU()), ("ReLU6", lambda nn: nn.ReLU6()),
    ("LeakyReLU", lambda nn: nn.LeakyReLU(0.2)), ("PReLU", lambda nn: nn.PReLU(3, init=0.1)),
    ("ELU", lambda nn: nn.ELU(alpha=0.7)), ("SELU", lambda nn: nn.SELU()),
    ("CELU", lambda nn: nn.CELU(alpha=1.3)), ("GELU", lambda nn: nn.GELU()),
    ("GELU-tanh", lambda nn: nn.GELU(approximate="tanh")), ("SiLU", lambda nn: nn.SiLU()),
    ("Mish", lambda nn: nn.Mish()), ("Sigmoid", lambda nn: nn.Sigmoid()),
    ("Tanh", lambda nn: nn.Tanh()), ("Hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.8)),
    ("Hardsigmoid", lambda nn: nn.Hardsigmoid()), ("Hardswish", lambda nn: nn.Hardswish()),
    ("Softplus", lambda nn: nn.Softplus(beta=2, threshold=3)),
    ("Softsign", lambda nn: nn.Softsign()),
    ("Softshrink", lambda nn: nn.Softshrink(0.3)), ("Hardshrink", lambda nn: nn.Hardshrink(0.4)),
    ("Tanhshrink", lambda nn: nn.Tanhshrink()), ("Threshold", lambda nn: nn.Threshold(0.1, -2.0)),
    ("LogSigmoid", lambda nn: nn.LogSigmoid()), ("Softmax", lambda nn: nn.Softmax(dim=1)),
    ("LogSoftmax", lambda nn: nn.LogSoftmax(dim=-1)), ("Softmin", lambda nn: nn.Softmin(dim=0)),
    ("Softmax2d", lambda nn: nn.Softmax2d()), ("GLU", lambda nn: nn.GLU(dim=1)),
    ("RReLU-eval", lambda nn: nn.RReLU(0.1, 0.3)),
]


@pytest.mark.parametrize("name,make", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_layers(name, make):
    x = randn(2, 4, 3, 5) * 3
    modes = ("eval",) if name == "RReLU-eval" else ("train", "eval")
    check_layer(lambda nn: make(nn) if name != "PReLU" else nn.PReLU(4, init=0.1), x,
                modes=modes)


INPLACE = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "SiLU", "Mish", "Hardtanh",
           "Hardsigmoid", "Hardswish"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_activation_after_linear(name):
    def make(nn):
        return nn.Sequential(nn.Linear(5, 6), getattr(nn, name)(inplace=True), nn.Linear(6, 2))
    check_layer(make, randn(4, 5) * 2)


def test_activation_dtypes_low_precision():
    for dt in (np.float64,):
        x = randn(3, 4).astype(dt)
        check_layer(lambda nn: nn.GELU(), x)
        check_layer(lambda nn: nn.Softmax(1), x)
    xt = torch.randn(3, 4).to(torch.bfloat16)
    assert_close(ember.nn.functional.gelu(convert(xt, ember)), torch.nn.functional.gelu(xt))
    assert_close(ember.softmax(convert(xt, ember), 1), torch.softmax(xt, 1))


LINEAR = [
    ("Linear", lambda nn: nn.Linear(5, 3), (randn(4, 5),)),
    ("Linear-nobias-3d", lambda nn: nn.Linear(5, 3, bias=False), (randn(2, 4, 5),)),
    ("Linear-1d", lambda nn: nn.Linear(5, 3), (randn(5),)),
    ("Bilinear", lambda nn: nn.Bilinear(3, 4, 2), (randn(5, 3), randn(5, 4))),
    ("Bilinear-nobias", lambda nn: nn.Bilinear(3, 4, 2, bias=False), (randn(2, 5, 3),
                                                                      randn(2, 5, 4))),
    ("Identity", lambda nn: nn.Identity(3, foo=1), (randn(2, 3),)),
    ("Flatten", lambda nn: nn.Flatten(), (randn(2, 3, 4, 5),)),
    ("Flatten-mid", lambda nn: nn.Flatten(0, 1), (randn(2, 3, 4),)),
    ("Unflatten", lambda nn: nn.Unflatten(1, (2, 3)), (randn(4, 6, 2),)),
    ("PixelShuffle", lambda nn: nn.PixelShuffle(2), (randn(2, 8, 3, 3),)),
    ("PixelUnshuffle", lambda nn: nn.PixelUnshuffle(2), (randn(2, 2, 4, 6),)),
    ("ChannelShuffle", lambda nn: nn.ChannelShuffle(3), (randn(2, 6, 2, 2),)),
    ("CosineSimilarity", lambda nn: nn.CosineSimilarity(dim=1), (randn(3, 5), randn(3, 5))),
    ("PairwiseDistance", lambda nn: nn.PairwiseDistance(p=3, keepdim=True),
     (randn(3, 5), randn(3, 5))),
    ("ZeroPad2d", lambda nn: nn.ZeroPad2d((1, 2, 0, 1)), (randn(2, 3, 4, 4),)),
    ("ConstantPad1d", lambda nn: nn.ConstantPad1d(2, 1.5), (randn(2, 3, 4),)),
    ("ConstantPad3d", lambda nn: nn.ConstantPad3d((1, 0, -1, 1, 0, 2), -1.0),
     (randn(1, 2, 3, 3, 3),)),
    ("ReflectionPad1d", lambda nn: nn.ReflectionPad1d((2, 1)), (randn(2, 3, 5),)),
    ("ReflectionPad2d", lambda nn: nn.ReflectionPad2d(2), (randn(2, 3, 4, 4),)),
    ("ReflectionPad3d", lambda nn: nn.ReflectionPad3d(1), (randn(1, 2, 3, 3, 3),)),
    ("ReplicationPad1d", lambda nn: nn.ReplicationPad1d(3), (randn(3, 5),)),
    ("ReplicationPad2d", lambda nn: nn.ReplicationPad2d((1, 2, 3, 0)), (randn(2, 3, 4, 4),)),
    ("ReplicationPad3d", lambda nn: nn.ReplicationPad3d(2), (randn(1, 2, 3, 3, 3),)),
    ("CircularPad1d", lambda nn: nn.CircularPad1d(2), (randn(2, 3, 4),)),
    ("CircularPad2d", lambda nn: nn.CircularPad2d((1, 2, 2, 1)), (randn(2, 3, 4, 4),)),
    ("CircularPad3d", lambda nn: nn.CircularPad3d(1), (randn(1, 2, 3, 3, 3),)),
    ("Upsample-nearest", lambda nn: nn.Upsample(scale_factor=2), (randn(2, 3, 4, 5),)),
    ("Upsample-bilinear", lambda nn: nn.Upsample(size=(7, 3), mode="bilinear"),
     (randn(2, 3, 4, 5),)),
    ("Upsample-bicubic-ac", lambda nn: nn.Upsample(scale_factor=1.7, mode="bicubic",
                                                   align_corners=True), (randn(1, 2, 4, 5),)),
    ("Upsample-linear", lambda nn: nn.Upsample(scale_factor=2.5, mode="linear"),
     (randn(2, 3, 4),)),
    ("Upsample-trilinear", lambda nn: nn.Upsample(scale_factor=(1.5, 2, 0.5), mode="trilinear"),
     (randn(1, 2, 3, 4, 4),)),
    ("Upsample-nearest-exact", lambda nn: nn.Upsample(size=7, mode="nearest-exact"),
     (randn(1, 2, 5),)),
    ("UpsamplingNearest2d", lambda nn: nn.UpsamplingNearest2d(scale_factor=3),
     (randn(1, 2, 2, 3),)),
    ("UpsamplingBilinear2d", lambda nn: nn.UpsamplingBilinear2d(size=(5, 6)),
     (randn(1, 2, 3, 3),)),
    ("Fold", lambda nn: nn.Fold((5, 6), (2, 3), padding=1, stride=(2, 1)),
     (randn(2, 18, 18),)),
    ("Unfold", lambda nn: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2),
     (randn(2, 3, 6, 7),)),
    ("Dropout-eval", lambda nn: nn.Dropout(0.3), (randn(4, 5),)),
    ("Sequential-mlp", lambda nn: nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Dropout(0.0),
                                                nn.Linear(8, 8), nn.LayerNorm(8),
                                                nn.Tanh(), nn.Linear(8, 3), nn.LogSoftmax(-1)),
     (randn(5, 6),)),
]


@pytest.mark.parametrize("name,make,inputs", LINEAR, ids=[a[0] for a in LINEAR])
def test_layers(name, make, inputs):
    modes = ("eval",) if name == "Dropout-eval" else ("train", "eval")
    check_layer(make, *inputs, modes=modes)


def test_lazy_linear_matches_after_materialize():
    tm, em = torch.nn.LazyLinear(3), ember.nn.LazyLinear(3)
    x = randn(2, 5)
    tm(torch.from_numpy(x))
    em(ember.from_numpy(x))
    em.load_state_dict(tm.state_dict())
    check = convert(x, ember)
    assert_close(em(check), tm(torch.from_numpy(x)))


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------

def _ce_inputs():
    return randn(6, 5), randint(0, 5, 6)


def _probs(*shape):
    p = rand(*shape) + 0.1
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


W5 = rand(5, low=0.5, high=2.0)
LOSSES = [
    ("L1Loss", lambda nn, r: nn.L1Loss(reduction=r), (randn(3, 4), randn(3, 4))),
    ("MSELoss", lambda nn, r: nn.MSELoss(reduction=r), (randn(3, 4), randn(3, 4))),
    ("CrossEntropyLoss", lambda nn, r: nn.CrossEntropyLoss(reduction=r), _ce_inputs()),
    ("CrossEntropyLoss-weight-ignore", lambda nn, r: nn.CrossEntropyLoss(
        weight=_t(nn, W5), ignore_index=2, reduction=r), _ce_inputs()),
    ("CrossEntropyLoss-smooth", lambda nn, r: nn.CrossEntropyLoss(
        weight=_t(nn, W5), label_smoothing=0.2, ignore_index=1, reduction=r), _ce_inputs()),
    ("CrossEntropyLoss-kdim", lambda nn, r: nn.CrossEntropyLoss(label_smoothing=0.1,
                                                                reduction=r),
     (randn(2, 5, 3, 4), randint(0, 5, 2, 3, 4))),
    ("CrossEntropyLoss-probs", lambda nn, r: nn.CrossEntropyLoss(
        weight=_t(nn, W5), label_smoothing=0.3, reduction=r), (randn(4, 5), _probs(4, 5))),
    ("CrossEntropyLoss-probs-kdim", lambda nn, r: nn.CrossEntropyLoss(reduction=r),
     (randn(2, 5, 3), _probs(2, 5, 3))),
    ("CrossEntropyLoss-unbatched", lambda nn, r: nn.CrossEntropyLoss(reduction=r),
     (randn(5), np.array(3))),
    ("NLLLoss", lambda nn, r: nn.NLLLoss(weight=_t(nn, W5), ignore_index=0, reduction=r),
     (randn(6, 5), randint(0, 5, 6))),
    ("NLLLoss-kdim", lambda nn, r: nn.NLLLoss(reduction=r), (randn(2, 5, 3), randint(0, 5, 2, 3))),
    ("BCELoss", lambda nn, r: nn.BCELoss(weight=_t(nn, rand(4)), reduction=r),
     (rand(3, 4, low=0.05, high=0.95), rand(3, 4))),
    ("BCEWithLogitsLoss", lambda nn, r: nn.BCEWithLogitsLoss(
        weight=_t(nn, rand(4)), pos_weight=_t(nn, rand(4) + 0.5), reduction=r),
     (randn(3, 4) * 3, rand(3, 4))),
    ("KLDivLoss", lambda nn, r: nn.KLDivLoss(reduction=r if r != "mean" else "batchmean"),
     (randn(3, 4), rand(3, 4))),
    ("KLDivLoss-log", lambda nn, r: nn.KLDivLoss(reduction=r, log_target=True),
     (randn(3, 4), randn(3, 4))),
    ("SmoothL1Loss", lambda nn, r: nn.SmoothL1Loss(reduction=r, beta=0.5),
     (randn(3, 4), randn(3, 4))),
    ("HuberLoss", lambda nn, r: nn.HuberLoss(reduction=r, delta=0.7), (randn(3, 4), randn(3, 4))),
    ("SoftMarginLoss", lambda nn, r: nn.SoftMarginLoss(reduction=r),
     (randn(3, 4), np.sign(randn(3, 4)))),
    ("MultiLabelSoftMarginLoss", lambda nn, r: nn.MultiLabelSoftMarginLoss(
        weight=_t(nn, rand(4)), reduction=r),
     (randn(3, 4), randint(0, 2, 3, 4).astype(np.float32))),
    ("MultiLabelMarginLoss", lambda nn, r: nn.MultiLabelMarginLoss(reduction=r),
     (randn(3, 4), np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0]]))),
    ("MultiMarginLoss", lambda nn, r: nn.MultiMarginLoss(p=2, margin=0.8,
                                                         weight=_t(nn, rand(4)), reduction=r),
     (randn(3, 4), randint(0, 4, 3))),
    ("MarginRankingLoss", lambda nn, r: nn.MarginRankingLoss(0.3, reduction=r),
     (randn(5), randn(5), np.sign(randn(5)))),
    ("HingeEmbeddingLoss", lambda nn, r: nn.HingeEmbeddingLoss(0.6, reduction=r),
     (randn(3, 4), np.sign(randn(3, 4)))),
    ("CosineEmbeddingLoss", lambda nn, r: nn.CosineEmbeddingLoss(0.2, reduction=r),
     (randn(4, 5), randn(4, 5), np.sign(randn(4)))),
    ("TripletMarginLoss", lambda nn, r: nn.TripletMarginLoss(margin=2.0, p=1.5, swap=True,
                                                             reduction=r),
     (randn(4, 5), randn(4, 5), randn(4, 5))),
    ("TripletMarginWithDistanceLoss", lambda nn, r: nn.TripletMarginWithDistanceLoss(
        distance_function=nn.CosineSimilarity(), margin=0.5, reduction=r),
     (randn(4, 5), randn(4, 5), randn(4, 5))),
    ("PoissonNLLLoss", lambda nn, r: nn.PoissonNLLLoss(reduction=r), (randn(3, 4), rand(3, 4) * 3)),
    ("PoissonNLLLoss-full", lambda nn, r: nn.PoissonNLLLoss(log_input=False, full=True,
                                                            reduction=r),
     (rand(3, 4) + 0.1, rand(3, 4) * 4)),
    ("GaussianNLLLoss", lambda nn, r: nn.GaussianNLLLoss(full=True, reduction=r),
     (randn(3, 4), randn(3, 4), rand(3, 1) + 0.1)),
    ("CTCLoss", lambda nn, r: nn.CTCLoss(blank=0, reduction=r), None),
]


def _t(nn, a):
    lib = torch if nn is torch.nn else ember
    return lib.from_numpy(np.asarray(a))


def _ctc_inputs():
    T, N, C, S = 8, 3, 5, 4
    lp = torch.randn(T, N, C, generator=torch.Generator().manual_seed(0)).log_softmax(2)
    return (lp.numpy(), randint(1, C, N, S), np.array([8, 7, 6]), np.array([4, 2, 3]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,make,inputs", LOSSES, ids=[a[0] for a in LOSSES])
def test_losses(name, make, inputs, reduction):
    if inputs is None:
        inputs = _ctc_inputs()
    check_layer(lambda nn: make(nn, reduction), *inputs, modes=("train",),
                rtol=1e-4, atol=1e-5)


def test_mlp_training_step_matches():
    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4))
    tm, em = build(torch), build(ember)
    em.load_state_dict(tm.state_dict())
    x, y = randn(8, 10), randint(0, 4, 8)
    for m, lib in ((tm, torch), (em, ember)):
        loss = lib.nn.CrossEntropyLoss()(m(lib.from_numpy(x)), lib.from_numpy(y))
        loss.backward()
        with lib.no_grad():
            for p in m.parameters():
                p -= 0.1 * p.grad
    for (n, te), (_, ee) in zip(tm.state_dict().items(), em.state_dict().items()):
        assert_close(ee, te, rtol=1e-5, atol=1e-6, what=n)


@pytest.mark.parametrize("name", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
                                  "AlphaDropout", "FeatureAlphaDropout"])
def test_dropout_train_statistics(name):
    shape = {"Dropout": (200, 100), "Dropout1d": (50, 40, 10), "Dropout2d": (40, 50, 4, 4),
             "Dropout3d": (20, 40, 3, 3, 3), "AlphaDropout": (200, 100),
             "FeatureAlphaDropout": (40, 50, 4, 4)}[name]
    m = getattr(ember.nn, name)(p=0.3)
    ember.manual_seed(0)
    x = ember.randn(*shape, requires_grad=True)
    y = m(x)
    assert y.shape == x.shape
    ya, xa = y.detach().numpy(), x.detach().numpy()
    if "Alpha" in name:
        assert abs(ya.mean() - xa.mean()) < 0.05 and abs(ya.std() - xa.std()) < 0.05
    else:
        kept = ya != 0
        assert abs(kept.mean() - 0.7) < 0.03
        np.testing.assert_allclose(ya[kept], xa[kept] / 0.7, rtol=1e-5)
        if name != "Dropout":  # whole channels dropped together
            per_channel = kept.reshape(shape[0], shape[1], -1)
            assert (per_channel.all(-1) | ~per_channel.any(-1)).all()
    y.sum().backward()
    if "Alpha" not in name:
        np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)
    m.eval()
    assert m(x) is x or np.array_equal(m(x).detach().numpy(), xa)


def test_rrelu_train_slopes_in_range():
    m = ember.nn.RReLU(0.1, 0.3)
    x = (-ember.rand(1000) - 0.1).requires_grad_()
    y = m(x)
    slope = (y / x).detach().numpy()
    assert slope.min() >= 0.1 and slope.max() <= 0.3 and slope.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slope, rtol=1e-5)


def test_loss_errors_match():
    def same(fn):
        errs = []
        for lib in (torch, ember):
            try:
                fn(lib)
                errs.append(None)
            except Exception as ex:  # noqa: BLE001
                errs.append(type(ex).__name__)
        assert errs[0] is not None and errs == [errs[0], errs[0]], errs
    F = "nn.functional"
    cases = [
        lambda lib: lib.nn.functional.cross_entropy(lib.zeros(3, 4), lib.tensor([0, 1, 4])),
        lambda lib: lib.nn.functional.cross_entropy(lib.zeros(3, 4), lib.tensor([0, 1])),
        lambda lib: lib.nn.functional.nll_loss(lib.zeros(3, 4), lib.tensor([0, 1, -2])),
        lambda lib: lib.nn.functional.cross_entropy(lib.zeros(3, 4), lib.zeros(3, 4),
                                                    reduction="avg"),
        lambda lib: lib.nn.functional.cross_entropy(lib.zeros(3, 4), lib.tensor([0, 1, 2]),
                                                    weight=lib.ones(3)),
        lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) * 2, lib.ones(3)),
        lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) / 2, lib.ones(2)),
        lambda lib: lib.nn.functional.gaussian_nll_loss(lib.ones(3), lib.ones(3), -1.0),
        lambda lib: lib.nn.functional.multi_margin_loss(lib.ones(2, 3), lib.tensor([0, 1]),
                                                        p=3),
        lambda lib: lib.nn.functional.triplet_margin_loss(lib.ones(2, 3), lib.ones(3),
                                                          lib.ones(2, 3)),
        lambda lib: lib.nn.MultiMarginLoss(p=3),
        lambda lib: lib.nn.TripletMarginLoss(margin=-1),
        lambda lib: lib.nn.functional.pad(lib.ones(1, 2, 3), (4, 4), mode="reflect"),
        lambda lib: lib.nn.functional.pad(lib.ones(1, 2, 3), (1,)),
        lambda lib: lib.nn.functional.pixel_shuffle(lib.ones(1, 3, 2, 2), 2),
        lambda lib: lib.nn.functional.channel_shuffle(lib.ones(1, 3, 2, 2), 2),
        lambda lib: lib.nn.functional.one_hot(lib.tensor([1, 5]), 3),
        lambda lib: lib.nn.functional.interpolate(lib.ones(1, 1, 2, 2), scale_factor=2,
                                                  mode="linear"),
        lambda lib: lib.nn.functional.interpolate(lib.ones(1, 1, 2, 2), size=3,
                                                  scale_factor=2),
        lambda lib: lib.nn.functional.interpolate(lib.ones(1, 1, 2, 2), size=3,
                                                  align_corners=True),
        lambda lib: lib.nn.functional.dropout(lib.ones(2), p=1.5),
        lambda lib: lib.nn.functional.gelu(lib.ones(2), approximate="fast"),
        lambda lib: lib.nn.functional.glu(lib.ones(3)),
        lambda lib: lib.nn.functional.softmax(lib.ones(2, 2), dim=3),
        lambda lib: lib.nn.functional.prelu(lib.ones(2, 3), lib.ones(2)),
        lambda lib: lib.nn.functional.fold(lib.ones(1, 5, 4), (3, 3), 2),
        lambda lib: lib.nn.functional.affine_grid(lib.ones(1, 3, 3), (1, 1, 2, 2),
                                                  align_corners=False),
    ]
    assert F
    for c in cases:
        same(c)
