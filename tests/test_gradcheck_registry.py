"""gradcheck (float64, finite differences) for every differentiable op ember
registers that PyTorch's OpInfo database also knows: the op list comes from
ember's registry, so new ops are covered automatically."""
import pytest
import torch
from reference import RANDOM_OPS, ember_op, ember_opinfo_names, op_db, sample_to_ember

import ember

MAX_ELEMS = 24      # keep finite differences cheap: only small samples
MAX_SAMPLES = 2

# Ops whose gradcheck fails for a known reason (name -> reason).
_UNPOOL = ("OpInfo samples scatter duplicate indices, so the function is not differentiable "
           "there (PyTorch's own OpInfo skips gradcheck for max_unpool too)")
KNOWN = {f"nn.functional.max_unpool{d}d": _UNPOOL for d in (1, 2, 3)}


def _registry_ops():
    return ember_opinfo_names(skip=RANDOM_OPS, autograd_only=True)


def _small(sample):
    ts = [sample.input] + list(sample.args) + list(sample.kwargs.values())
    flat = []
    for t in ts:
        if isinstance(t, (list, tuple)):
            flat.extend(t)
        else:
            flat.append(t)
    tens = [t for t in flat if isinstance(t, torch.Tensor)]
    return tens and all(t.numel() <= MAX_ELEMS for t in tens) and \
        any(t.requires_grad for t in tens)


@pytest.mark.parametrize("name", _registry_ops())
def test_gradcheck(name):
    if name in KNOWN:
        pytest.xfail(KNOWN[name])
    fn = ember_op(name)
    if fn is None:
        pytest.skip(f"ember has no {name}")
    op = next(o for o in op_db() if o.name == name and not o.variant_test_name)
    samples = [s for s in op.sample_inputs("cpu", torch.float64, requires_grad=True)
               if _small(s)][:MAX_SAMPLES]
    if not samples:
        pytest.skip("no small float64 sample")
    for s in samples:
        try:
            op.op(s.input, *s.args, **s.kwargs)
        except Exception:  # not a valid call in PyTorch either (e.g. imag of real)
            continue
        leaves = []
        inp = sample_to_ember(s.input, leaves)
        args = sample_to_ember(tuple(s.args), leaves)
        kwargs = sample_to_ember(dict(s.kwargs), leaves)
        if not leaves:
            continue

        def f(*ls):
            return fn(inp, *args, **kwargs)
        assert ember.autograd.gradcheck(f, tuple(leaves), atol=1e-5, rtol=1e-3), name


def test_registry_is_covered():
    """The parametrization above found a meaningful number of ops."""
    assert len(_registry_ops()) >= 30
