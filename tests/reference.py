"""Reference-test helper: run the same code on ember and on PyTorch and compare.

    from reference import check, check_raises, opinfo_samples

    check(lambda m, x, y: m.add(x, y, alpha=2), randn(3, 4), randn(4))
    check(lambda m, x: x.sum(dim=1), randn(3, 4))              # methods work too
    check_raises(lambda m, x: x.view(5), randn(3, 4))          # same exception type

``m`` is the module (``torch`` or ``ember``); array inputs (NumPy arrays or torch
tensors) are converted for each library. ``check`` compares values, shapes and
dtypes of every output, then back-propagates the same random upstream gradient
through both and compares the gradients of every floating input.
"""
import math

import numpy as np
import torch

import ember

RNG = np.random.default_rng(0)

# dtype-aware tolerances (rtol, atol) for values; gradients get 10x.
TOL = {
    "float16": (1e-2, 1e-2), "bfloat16": (3e-2, 3e-2), "float32": (1e-4, 2e-5),
    "float64": (1e-7, 1e-9), "complex64": (1e-4, 2e-5), "complex128": (1e-7, 1e-9),
}


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def rand(*shape, dtype=np.float32, low=0.0, high=1.0):
    return (low + (high - low) * RNG.random(shape)).astype(dtype)


def randint(low, high, *shape, dtype=np.int64):
    return RNG.integers(low, high, size=shape).astype(dtype)


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

def _np_from_torch(t):
    t = t.detach().cpu()
    if t._is_zerotensor():  # e.g. the gradient of sgn on a real tensor
        t = torch.zeros(t.shape, dtype=t.dtype)
    if t.dtype == torch.bfloat16:
        import ml_dtypes
        return t.float().numpy().astype(ml_dtypes.bfloat16)
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    return t.numpy().copy()


def to_ember(x, requires_grad=False):
    if isinstance(x, torch.Tensor):
        e = ember.from_numpy(_np_from_torch(x)).clone()
    elif isinstance(x, np.ndarray):
        e = ember.from_numpy(x.copy())
    else:
        return x
    if requires_grad and (e.is_floating_point() or e.is_complex()):
        e.requires_grad_(True)
    return e


def to_torch(x, requires_grad=False):
    if isinstance(x, torch.Tensor):
        t = x.detach().clone()
    elif isinstance(x, np.ndarray):
        import ml_dtypes
        if x.dtype == ml_dtypes.bfloat16:
            t = torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16)
        else:
            t = torch.from_numpy(x.copy())
    else:
        return x
    if requires_grad and (t.is_floating_point() or t.is_complex()):
        t.requires_grad_(True)
    return t


def convert(obj, lib, requires_grad=False, leaves=None):
    """Recursively converts arrays in ``obj`` (lists/tuples/dicts) for ``lib``."""
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        f = to_torch if lib is torch else to_ember
        t = f(obj, requires_grad)
        if leaves is not None:
            leaves.append(t)
        return t
    if isinstance(obj, ember.Tensor):
        return convert(obj.detach().numpy() if lib is torch else obj, lib, requires_grad, leaves)
    if isinstance(obj, (list, tuple)):
        out = [convert(o, lib, requires_grad, leaves) for o in obj]
        return type(obj)(out) if not hasattr(obj, "_fields") else type(obj)(*out)
    if isinstance(obj, dict):
        return {k: convert(v, lib, requires_grad, leaves) for k, v in obj.items()}
    if isinstance(obj, torch.dtype):
        return obj if lib is torch else getattr(ember, str(obj).split(".")[-1])
    if isinstance(obj, torch.device):
        return obj if lib is torch else ember.device(str(obj))
    return obj


def sample_to_ember(obj, leaves, device="cpu"):
    """An OpInfo sample's arguments (torch tensors inside lists/tuples/dicts) as
    ember objects on ``device``; tensors that require grad become ember leaves
    that require grad, appended to ``leaves``."""
    if isinstance(obj, torch.Tensor):
        e = ember.from_numpy(obj.detach().resolve_conj().numpy().copy()).to(device)
        if obj.requires_grad:
            e.requires_grad_(True)
            leaves.append(e)
        return e
    if isinstance(obj, (list, tuple)):
        return type(obj)(sample_to_ember(o, leaves, device) for o in obj)
    if isinstance(obj, dict):
        return {k: sample_to_ember(v, leaves, device) for k, v in obj.items()}
    if isinstance(obj, torch.dtype):
        return getattr(ember, str(obj).split(".")[-1])
    if isinstance(obj, torch.device):
        return ember.device(device)
    return obj


def to_numpy(x):
    if isinstance(x, torch.Tensor):
        a = _np_from_torch(x)
    elif isinstance(x, ember.Tensor):
        a = x.detach().cpu().numpy()
    else:
        return np.asarray(x)
    import ml_dtypes
    return a.astype(np.float32) if a.dtype == ml_dtypes.bfloat16 else a


def flatten(out):
    """The leaves of nested lists/tuples ``out`` as one list."""
    if isinstance(out, (list, tuple)):
        r = []
        for o in out:
            r.extend(flatten(o))
        return r
    return [out]


def dtype_name(d):
    return str(d).split(".")[-1]


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

def assert_close(e, t, rtol=None, atol=None, what="output", check_dtype=True):
    """Compares one ember value with one torch value."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), f"{what}: ember returned {type(e).__name__}, torch " \
                                            f"a Tensor"
        assert tuple(e.shape) == tuple(t.shape), \
            f"{what}: shape {tuple(e.shape)} != torch {tuple(t.shape)}"
        if check_dtype:
            assert dtype_name(e.dtype) == dtype_name(t.dtype), \
                f"{what}: dtype {e.dtype} != torch {t.dtype}"
        r, a = TOL.get(dtype_name(t.dtype), (0, 0))
        rtol = r if rtol is None else rtol
        atol = a if atol is None else atol
        ea, ta = to_numpy(e), to_numpy(t)
        if ta.dtype == np.bool_ or ta.dtype.kind in "iu":
            np.testing.assert_array_equal(ea, ta, err_msg=what)
        else:
            np.testing.assert_allclose(ea, ta, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=what)
    elif isinstance(t, (list, tuple)):
        assert isinstance(e, (list, tuple)) and len(e) == len(t), \
            f"{what}: {type(e).__name__} of {len(e) if hasattr(e, '__len__') else '?'} vs " \
            f"torch {type(t).__name__} of {len(t)}"
        for i, (a, b) in enumerate(zip(e, t)):
            assert_close(a, b, rtol, atol, f"{what}[{i}]", check_dtype)
    elif isinstance(t, float) and math.isnan(t):
        assert isinstance(e, float) and math.isnan(e), f"{what}: {e} != nan"
    elif isinstance(t, torch.Size):
        assert tuple(e) == tuple(t), f"{what}: {e} != {t}"
    elif isinstance(t, torch.dtype):
        assert dtype_name(e) == dtype_name(t), f"{what}: {e} != {t}"
    elif isinstance(t, float):
        assert math.isclose(e, t, rel_tol=rtol or 1e-6, abs_tol=atol or 1e-9), \
            f"{what}: {e} != {t}"
    else:
        assert e == t, f"{what}: {e!r} != torch {t!r}"


def check(fn, *inputs, grad=True, rtol=None, atol=None, grad_rtol=None, grad_atol=None,
          check_dtype=True, seed=0):
    """Runs ``fn(m, *inputs)`` with m=torch and m=ember and compares outputs and
    (with ``grad``) the gradients of every floating-point input. Returns the
    (ember, torch) outputs."""
    t_leaves, e_leaves = [], []
    t_in = convert(inputs, torch, grad, t_leaves)
    e_in = convert(inputs, ember, grad, e_leaves)
    t_out = fn(torch, *t_in)
    e_out = fn(ember, *e_in)
    assert_close(e_out, t_out, rtol, atol, "output", check_dtype)
    if not grad:
        return e_out, t_out
    t_outs = [o for o in flatten(t_out) if isinstance(o, torch.Tensor) and o.requires_grad]
    e_outs = [o for o in flatten(e_out) if isinstance(o, ember.Tensor) and o.requires_grad]
    t_flat_all = [o for o in flatten(t_out) if isinstance(o, torch.Tensor)]
    e_flat_all = [o for o in flatten(e_out) if isinstance(o, ember.Tensor)]
    # Outputs must agree on which ones carry a graph.
    for i, (eo, to) in enumerate(zip(e_flat_all, t_flat_all)):
        assert bool(eo.requires_grad) == bool(to.requires_grad), \
            f"output[{i}].requires_grad: ember {eo.requires_grad} != torch {to.requires_grad}"
    t_diff = [t for t in t_leaves if t.requires_grad]
    e_diff = [t for t in e_leaves if t.requires_grad]
    if not t_outs or not t_diff:
        return e_out, t_out
    rng = np.random.default_rng(seed)
    gos = [rng.standard_normal(tuple(o.shape)) for o in t_outs]
    t_go = [torch.from_numpy(g).to(o.dtype) for g, o in zip(gos, t_outs)]
    e_go = [ember.from_numpy(g).to(getattr(ember, dtype_name(o.dtype))) for g, o in
            zip(gos, t_outs)]
    t_g = torch.autograd.grad(t_outs, t_diff, t_go, allow_unused=True)
    e_g = ember.autograd.grad(e_outs, e_diff, e_go, allow_unused=True)
    for i, (eg, tg) in enumerate(zip(e_g, t_g)):
        if tg is None:
            assert eg is None or not np.any(to_numpy(eg)), f"grad[{i}]: torch None, ember not"
            continue
        if eg is None:
            assert not np.any(to_numpy(tg)), f"grad[{i}]: ember None, torch nonzero"
            continue
        r, a = TOL.get(dtype_name(tg.dtype), (1e-4, 1e-5))
        assert_close(eg, tg, grad_rtol or r * 10, grad_atol or a * 10, f"grad[{i}]",
                     check_dtype)
    return e_out, t_out


def check_raises(fn, *inputs, match=None):
    """Both libraries raise, with the same exception type."""
    t_in = convert(inputs, torch)
    e_in = convert(inputs, ember)
    t_exc = e_exc = None
    try:
        fn(torch, *t_in)
    except Exception as ex:  # noqa: BLE001
        t_exc = ex
    try:
        fn(ember, *e_in)
    except Exception as ex:  # noqa: BLE001
        e_exc = ex
    assert t_exc is not None, "torch did not raise"
    assert e_exc is not None, f"ember did not raise (torch raised {type(t_exc).__name__}: " \
                              f"{t_exc})"
    assert isinstance(e_exc, type(t_exc)) or type(t_exc) in type(e_exc).__mro__ or \
        _builtin_base(t_exc) is _builtin_base(e_exc), \
        f"ember raised {type(e_exc).__name__}: {e_exc}; torch {type(t_exc).__name__}: {t_exc}"
    if match is not None:
        import re
        assert re.search(match, str(e_exc)), f"message {str(e_exc)!r} lacks {match!r}"
    return e_exc, t_exc


def _builtin_base(exc):
    """The builtin exception class torch's (possibly custom) exception derives from."""
    for k in type(exc).__mro__:
        if k.__module__ == "builtins":
            return k
    return Exception


def gradcheck(fn, *inputs, **kw):
    """ember gradcheck (float64) of ``fn(*tensors)`` on numpy inputs."""
    e_in = [to_ember(np.asarray(x, dtype=np.float64) if isinstance(x, np.ndarray) and
                     x.dtype.kind == "f" else x, True) for x in inputs]
    return ember.autograd.gradcheck(fn, e_in, **kw)


# ---------------------------------------------------------------------------
# PyTorch's OpInfo samples
# ---------------------------------------------------------------------------

_OP_DB = None


def op_db():
    global _OP_DB
    if _OP_DB is None:
        from torch.testing._internal.common_methods_invocations import op_db as db
        _OP_DB = db
    return _OP_DB


def opinfo(name, variant=""):
    for op in op_db():
        if op.name == name and op.variant_test_name == variant:
            return op
    raise KeyError(name)


def opinfo_samples(name, dtype=torch.float32, requires_grad=False, variant=""):
    """Yields (input, args, kwargs) from PyTorch's OpInfo for op ``name``, with
    torch tensors (convert them with ``check``)."""
    op = opinfo(name, variant)
    for s in op.sample_inputs("cpu", dtype, requires_grad=requires_grad):
        yield s.input, tuple(s.args), dict(s.kwargs)


# Ops that draw random numbers: no deterministic function to compare or difference.
RANDOM_OPS = frozenset({
    "normal", "bernoulli", "nn.functional.rrelu", "nn.functional.dropout",
    "nn.functional.dropout2d", "nn.functional.dropout3d", "nn.functional.alpha_dropout",
    "nn.functional.feature_alpha_dropout", "rand_like", "randn_like", "multinomial",
    "nn.functional.gumbel_softmax", "uniform", "cauchy", "exponential", "geometric",
    "log_normal", "poisson",
    "nn.functional.multi_head_attention_forward"})  # its sample uses dropout


def ember_opinfo_names(skip=(), autograd_only=False):
    """Sorted names of the (base, not variant) OpInfo entries ember has: top-level
    ops it registers and the nn./linalg./special./fft. namespaces; ``skip`` and
    in-place variants left out."""
    names = set(ember._ops.FUNCTIONS)
    out = set()
    for op in op_db():
        if op.variant_test_name or op.name.endswith("_") or op.name in skip or \
                (autograd_only and not op.supports_autograd):
            continue
        if "." in op.name:
            if op.name.split(".")[0] not in ("nn", "linalg", "special", "fft"):
                continue
        elif op.name not in names:
            continue
        out.add(op.name)
    return sorted(out)


# OpInfo calls these as methods (self first), unlike ember's function form.
_METHOD_STYLE = {"where"}


def ember_op(name):
    """The ember callable for OpInfo entry ``name`` (``'nn.functional.relu'``),
    taking OpInfo's sample arguments; None when ember has no such op."""
    if name in _METHOD_STYLE:
        return lambda x, *a, **k: getattr(x, name)(*a, **k)
    if name == "einsum":  # OpInfo's wrapper takes (operands, equation)
        return lambda ops, eq: ember.einsum(eq, *ops)
    obj = ember
    for part in name.split("."):
        try:
            obj = getattr(obj, part, None)
        except ImportError:
            return None
        if obj is None:
            return None
    return obj
