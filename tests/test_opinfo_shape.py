"""PyTorch's own OpInfo samples for the shape/joining, indexing and sorting ops,
run on ember and torch: forward in float32, forward + gradients in float64.

Samples are drawn once per op with a fixed torch seed (so an xfail names one
sample) and capped at ``MAX_SAMPLES`` per op to keep the suite fast."""
import os

import pytest
import torch
from reference import check, opinfo

# EMBER_OPINFO_MAX=0 runs every sample.
MAX_SAMPLES = int(os.environ.get("EMBER_OPINFO_MAX", 24)) or None


def _fn(name):
    return lambda m, x, *a, **k: getattr(m, name)(x, *a, **k)


def _method(name):
    return lambda m, x, *a, **k: getattr(x, name)(*a, **k)


def _topk(m, x, *a, **k):
    # sorted=False leaves the order unspecified: compare in sorted order.
    r = x.topk(*a, **k)
    srt = a[3] if len(a) > 3 else k.get("sorted", True)
    if srt:
        return r
    d = a[1] if len(a) > 1 else k.get("dim", -1)
    if r.values.dim() == 0:
        return r
    v, i = r.values.sort(d)
    return v, r.indices.gather(d, i)


# OpInfo name (or (name, variant)) -> how to call it (default: ember.<name>(input, ...)).
OPS = {
    # shape and joining
    "hstack": None, "vstack": None, "dstack": None, "column_stack": None,
    "atleast_1d": None, "atleast_2d": None, "atleast_3d": None, "fliplr": None, "flipud": None,
    "roll": None, "rot90": None, "repeat": _method("repeat"), "tile": None,
    "repeat_interleave": None, "broadcast_tensors": None,
    ("meshgrid", "variadic_tensors"): None, ("meshgrid", "list_of_tensors"): None,
    "tril": None, "triu": None, "diag": None, "diag_embed": None, "diagflat": None,
    "block_diag": None, "cartesian_prod": None, "combinations": None, "kron": None,
    "trace": None, "narrow_copy": None, "expand_copy": None, "diagonal_copy": None,
    "alias_copy": None, "as_strided_copy": None, "view_copy": None, "permute_copy": None,
    "split_with_sizes_copy": None, "unbind_copy": None, "unfold_copy": None,
    "squeeze_copy": None, "unsqueeze_copy": None, "transpose_copy": None, "t_copy": None,
    "flip": None, "cat": None, "stack": None, "broadcast_to": None, "movedim": None,
    "ravel": None,
    # indexing
    "gather": None, "scatter": None, "scatter_add": None,
    ("scatter_reduce", "sum"): None, ("scatter_reduce", "prod"): None,
    ("scatter_reduce", "mean"): None, ("scatter_reduce", "amax"): None,
    ("scatter_reduce", "amin"): None,
    "index_select": None, "index_add": None, "index_copy": None, "index_fill": None,
    ("index_reduce", "prod"): None, ("index_reduce", "mean"): None,
    ("index_reduce", "amax"): None, ("index_reduce", "amin"): None,
    "index_put": None, "masked_select": None, "masked_scatter": None, "take": None,
    "take_along_dim": None, "put": None, "nonzero": None, "argwhere": None,
    "select_scatter": None, "slice_scatter": None, "diagonal_scatter": None,
    # torch 2.13's gradient of as_strided_scatter wrt input is wrong (it fails
    # torch's own gradcheck): compare values and the src gradient only;
    # test_ops_index.py gradchecks ember's input gradient.
    "as_strided_scatter": lambda m, x, *a, **k: m.as_strided_scatter(x.detach(), *a, **k),
    "unravel_index": None,
    "__getitem__": lambda m, x, *a, **k: x[a[0]],
    # sorting and searching
    "sort": None, "argsort": None, "msort": None, "topk": _topk, "searchsorted": None,
    "bucketize": None, "unique": None, "unique_consecutive": None,
}

# (op, variant, float dtype, sample index) -> reason. Kept in sync with the note.
XFAIL = {}

_CACHE = {}


def _samples(name, variant, dtype):
    key = (name, variant, dtype)
    if key not in _CACHE:
        op = opinfo(name, variant)
        torch.manual_seed(0)
        grad = dtype == torch.float64 and op.supports_autograd
        if dtype not in op.supported_dtypes("cpu"):  # integer-only ops (unravel_index)
            _CACHE[key] = ([], False) if grad or dtype == torch.float64 else \
                _samples(name, variant, torch.int64)
            return _CACHE[key]
        out = []
        for s in op.sample_inputs("cpu", dtype, requires_grad=grad):
            out.append((s.input, tuple(s.args), dict(s.kwargs)))
            if len(out) == MAX_SAMPLES:
                break
        _CACHE[key] = (out, op.supports_autograd)
    return _CACHE[key]


def _params():
    out = []
    for spec, call in OPS.items():
        name, variant = spec if isinstance(spec, tuple) else (spec, "")
        for dtype in (torch.float32, torch.float64):
            samples, grad = _samples(name, variant, dtype)
            if dtype == torch.float64 and not grad:
                continue
            for i in range(len(samples)):
                tag = f"{name}{'.' + variant if variant else ''}-{str(dtype)[6:]}-{i}"
                marks = ()
                reason = XFAIL.get((name, variant, str(dtype)[6:], i))
                if reason:
                    marks = (pytest.mark.xfail(reason=reason, strict=True),)
                out.append(pytest.param(name, variant, dtype, i, id=tag, marks=marks))
    return out


@pytest.mark.filterwarnings("ignore::UserWarning")   # deprecations both libraries emit
@pytest.mark.parametrize("name,variant,dtype,i", _params())
def test_opinfo(name, variant, dtype, i):
    samples, _ = _samples(name, variant, dtype)
    inp, args, kw = samples[i]
    spec = (name, variant) if variant else name
    call = OPS[spec] or _fn(name)
    check(lambda m, x, a, k: call(m, x, *a, **k), inp, args, kw,
          grad=dtype == torch.float64)
