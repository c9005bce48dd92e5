"""Elementwise ops, declared as a table: forward on the array module and the
gradient rule in ember ops, side by side.

A gradient rule is a lambda whose argument names say what it needs:
``g`` the incoming gradient, ``x``/``a``/``b`` the inputs, ``y`` the output.
Only what a rule names is saved for backward.
"""
import collections

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._core import (
    FUNCTIONS,
    METHODS,
    _legacy_name,
    argnames,
    as_tensor_like,
    float_dtype,
    inplace,
    node,
    operands,
    record,
    scalar_array,
    wrap,
    write_out,
)
from ._parallel import _MIN_WORK, split


def cj(t):
    """Complex conjugate for complex tensors, the tensor itself otherwise
    (PyTorch's gradient convention for complex inputs is conj(df/dz) * g).
    Works on raw arrays too (see ``_on_arrays``)."""
    if type(t) is np.ndarray:
        return t.conj() if t.dtype.kind == "c" else t
    return t.conj() if t._dtype.is_complex else t


# Backward rules written only with operators (``g * (1 - y ** 2)``) also run on
# raw NumPy arrays. When no graph is being built (no create_graph) and every
# tensor is a real float32/float64 CPU array, a rule is evaluated that way: one
# NumPy expression instead of a chain of dispatched ember ops. Rules that call
# tensor methods (``x.cos()``) fail on arrays the first time and are then
# always run on tensors.
_FAST_DT = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_ARRAY_OK = {}


def _on_arrays(rule, tensors):
    """``rule(*arrays)`` as a Tensor, or None when the array path doesn't apply."""
    if STATE.enabled or _ARRAY_OK.get(rule) is False:
        return None
    arrs = [t._data for t in tensors]
    for a in arrs:
        if type(a) is not np.ndarray or a.dtype not in _FAST_DT:
            return _fused(rule, arrs) if tensors[0].is_cuda else None
    try:
        r = rule(*arrs)
    except (AttributeError, TypeError):
        _ARRAY_OK[rule] = False
        return None
    _ARRAY_OK[rule] = True
    return wrap(r) if type(r) is np.ndarray else None


# On CUDA the same rules are compiled by ``cupy.fuse`` into one kernel each
# (instead of one kernel per operator); rules fuse can't compile run as ops.
_FUSED = {}


def _fused(rule, arrs):
    f = _FUSED.get(rule)
    if f is False or any(a.dtype not in _FAST_DT for a in arrs):
        return None
    try:
        if f is None:
            f = _FUSED[rule] = xp_of(arrs[0]).fuse()(rule)
        r = f(*arrs)
    except Exception:  # noqa: BLE001 - anything fuse can't compile: use the ember ops
        _FUSED[rule] = False
        return None
    return wrap(r) if getattr(r, "shape", None) is not None and not isinstance(
        r, np.generic) else None


# The engine runs the same rules on arrays itself (``Node._array_backward``),
# passing array gradients from node to node: no Tensor per intermediate
# gradient. ``_on_arrays`` then serves the other callers (``Node.apply``, CUDA).
_nd = np.ndarray


def _array_result(r):
    """A rule's result as an array, or None (then the Tensor rule runs)."""
    if type(r) is _nd:
        return r
    if isinstance(r, np.generic) and r.dtype in _FAST_DT:  # 0-dim operands give scalars
        return np.asarray(r)
    return None


def _unary_arrays(grad):
    """The array form of unary rule ``grad(g, *saved)``."""
    ok = [True]

    def rule(ctx, g):
        if type(g) is not _nd or g.dtype not in _FAST_DT or not ok[0]:
            return None
        args = [g]
        for t in ctx.saved_tensors:
            a = t._data
            if type(a) is not _nd or a.dtype not in _FAST_DT:
                return None
            args.append(a)
        try:
            r = grad(*args)
        except (AttributeError, TypeError):
            ok[0] = False
            return None
        if type(r) is not _nd:
            r = _array_result(r)
            if r is None:
                return None
        return (r,)
    return rule


# A binary rule naming some of ``a``, ``b``, ``y`` as a function of all three.
_PICK = {(): lambda f: lambda g, a, b, y: f(g),
         ("a",): lambda f: lambda g, a, b, y: f(g, a),
         ("b",): lambda f: lambda g, a, b, y: f(g, b),
         ("y",): lambda f: lambda g, a, b, y: f(g, y),
         ("a", "b"): lambda f: lambda g, a, b, y: f(g, a, b),
         ("a", "y"): lambda f: lambda g, a, b, y: f(g, a, y),
         ("b", "y"): lambda f: lambda g, a, b, y: f(g, b, y),
         ("a", "b", "y"): lambda f: lambda g, a, b, y: f(g, a, b, y)}


def _binary_arrays(grad, uses):
    """The array form of a binary op's pair of rules (see ``_binary``)."""
    if any(f is not None and u not in _PICK for f, u in zip(grad, uses)):
        return None
    fa, fb = (None if f is None else _PICK[u](f) for f, u in zip(grad, uses))
    ok = [True]

    def rule(ctx, g):
        if type(g) is not _nd or g.dtype not in _FAST_DT or not ok[0]:
            return None
        arrs = [None, None, None]  # a, b, y: those saved
        i = 0
        for t in ctx.saved_tensors:
            if t is not None:
                x = t._data
                if type(x) is not _nd or x.dtype not in _FAST_DT:
                    return None
                arrs[i] = x
            i += 1
        a, b, y = arrs
        na, nb = ctx.needs_input_grad
        try:
            ra = fa(g, a, b, y) if na and fa is not None else None
            rb = fb(g, a, b, y) if nb and fb is not None else None
        except (AttributeError, TypeError):
            ok[0] = False
            return None
        if ra is not None and type(ra) is not _nd:
            ra = _array_result(ra)
            if ra is None:
                return None
        if rb is not None and type(rb) is not _nd:
            rb = _array_result(rb)
            if rb is None:
                return None
        return ra, rb
    return rule


_LOW = (D.float16, D.bfloat16)
_CATS = {"b": (D.bool,), "i": (D.uint8, D.int8, D.int16, D.int32, D.int64, D.uint16, D.uint32,
                               D.uint64),
         "f": (D.float16, D.bfloat16, D.float32, D.float64), "c": (D.complex64, D.complex128)}


def supported(cats):
    """The set of dtypes in categories ``cats`` ('b'ool, 'i'nteger, 'f'loat,
    'c'omplex), or None for all."""
    return None if cats is None else frozenset(d for c in cats for d in _CATS[c])


def unsupported(name, dt):
    """PyTorch's error for a dtype an op's kernel lacks."""
    return NotImplementedError(f'"{name}" not implemented for \'{_legacy_name(dt)}\'')


_ZEROS = {}          # dtype -> a block of zeros for _relu
_ZBLOCK = 1 << 14


def _relu(xp, x):
    """``max(x, 0)``. NumPy's maximum against a scalar skips its SIMD loop (2M
    float32: 0.61 ms, against a block of zeros 0.18 ms; 64x256: 5.6 us vs 1.7),
    so contiguous float arrays are compared with a reused zeros block, row by
    row of a ``(-1, _ZBLOCK)`` view (same values, NaN and -0.0 included); big
    ones split over the intra-op threads as short work."""
    if xp is not np or x.dtype.kind != "f" or not x.flags.c_contiguous:
        return xp.maximum(x, 0).astype(x.dtype, copy=False)
    z = _ZEROS.get(x.dtype)
    if z is None:
        z = _ZEROS[x.dtype] = np.zeros(_ZBLOCK, x.dtype)
    out = np.empty_like(x)
    f, o = x.reshape(-1), out.reshape(-1)
    n = f.size
    m = n - n % _ZBLOCK
    if m:
        f2, o2 = f[:m].reshape(-1, _ZBLOCK), o[:m].reshape(-1, _ZBLOCK)
        if m < _MIN_WORK:
            np.maximum(f2, z, out=o2)
        else:
            def rows(i, j):
                np.maximum(f2[i:j], z, out=o2[i:j])
            split(rows, f2.shape[0], m, np, 2, short=True)
    if n > m:
        np.maximum(f[m:], z[:n - m], out=o[m:])
    return out


def _unary(name, fwd, grad=None, *, kind="float", method=True, inplace_=True, alias=(),
           params=(), register=True, dtypes=None):
    """Defines unary op ``name``.

    kind: 'float' — integer inputs give the default float dtype (``exp``);
          'real'  — as 'float', and complex inputs give their real dtype (``angle``);
          'same'  — result keeps the input dtype (``neg``);
          'same_real' — as 'same', and complex inputs give their real dtype (``abs``);
          'bool'  — a predicate returning bool (``isnan``), not differentiable.
    dtypes: input dtype categories the op supports (see ``supported``).
    params: ``(name, default)`` pairs of extra arguments after ``input``
          (``logit(input, eps=None)``); ``fwd`` gets them as keywords, and a
          gradient rule names the ones it needs.
    float16/bfloat16 inputs compute in float32 and round once, as PyTorch's
    CPU kernels do.
    """
    uses = argnames(grad)[1:] if grad is not None else ()
    cls = node(_node_name(name), _unary_backward(grad, uses),
               _unary_arrays(grad) if _simple(uses) else None) if grad is not None else None
    save_x, save_y = "x" in uses, "y" in uses
    pnames = tuple(p for p, _ in params)
    defaults = dict(params)
    allowed = supported(dtypes)

    def run(input, kw):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        x = input._data
        dt = input._dtype
        if allowed is not None and dt not in allowed:
            raise unsupported(name + "_cpu", dt)
        xp = np if type(x) is np.ndarray else xp_of(x)
        if kind == "bool":
            return wrap(fwd(xp, x, **kw), D.bool)
        cdt = float_dtype(dt) if kind == "float" or kind == "real" else dt
        odt = cdt.to_real() if kind == "real" or kind == "same_real" else cdt
        if cdt is not dt:
            x = x.astype(cdt.np)
        if cdt in _LOW:  # compute in float32 as PyTorch's CPU kernels do
            out = wrap(fwd(xp, x.astype(np.float32), **kw).astype(odt.np), odt)
        else:
            r = fwd(xp, x, **kw)
            out = wrap(r if r.dtype == odt.np else r.astype(odt.np), odt)
        if cls is not None and input._requires_grad:
            n = record(cls, (input,), out, (input,) if save_x else (), save_y)
            if kw and n is not None:
                n.params = kw
        return out

    if params:
        def op(input, *args, **kwargs):
            kw = dict(defaults)
            if len(args) > len(pnames):
                raise TypeError(f"{name}() takes at most {len(pnames) + 1} arguments "
                                f"({len(args) + 1} given)")
            kw.update(zip(pnames, args))
            for k, v in kwargs.items():
                if k not in defaults:
                    raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
                kw[k] = v
            return run(input, kw)
    else:
        def op(input):
            return run(input, _NO_KW)
    op.__name__ = op.__qualname__ = name
    if register:
        _register(name, op, method, inplace_, alias)
    return op


_NO_KW = {}


def _simple(uses):
    """Whether a unary rule takes just its saved tensors (no op parameters)."""
    return uses == ("x",) or uses == ("y",) or uses == ("x", "y") or not uses


def _unary_backward(grad, uses):
    if _simple(uses):
        def bw(ctx, g):
            saved = ctx.saved_tensors
            r = _on_arrays(grad, (g,) + saved)
            return r if r is not None else grad(g, *saved)
        return bw

    def bw(ctx, g):
        saved = list(ctx.saved_tensors)
        env = dict(ctx.params)
        if "x" in uses:
            env["x"] = saved.pop(0)
        if "y" in uses:
            env["y"] = saved.pop(0)
        return grad(g, *(env[u] for u in uses))
    return bw


def _register(name, op, method, inplace_, alias=()):
    for n in (name,) + tuple(alias):
        FUNCTIONS[n] = op
        if method:
            METHODS[n] = op
        if inplace_:
            ip = _make_inplace(op, n + "_")
            METHODS[n + "_"] = ip
            FUNCTIONS[n + "_"] = ip


def _make_inplace(op, name):
    def ip(self, *args, **kwargs):
        return inplace(self, op, *args, **kwargs)
    ip.__name__ = ip.__qualname__ = name
    return ip


def _node_name(name):
    return "".join(p.capitalize() for p in name.split("_")) + "Backward0"


# ---------------------------------------------------------------------------
# Unary table
# ---------------------------------------------------------------------------
_unary("neg", lambda xp, x: -x, lambda g: -g, kind="same", alias=("negative",), dtypes="ifc")
_unary("abs", lambda xp, x: xp.abs(x), lambda g, x: g * x.sgn(), kind="same_real", dtypes="ifc",
       alias=("absolute",))
_unary("exp", lambda xp, x: xp.exp(x), lambda g, y: g * cj(y))
_unary("exp2", lambda xp, x: xp.exp2(x), lambda g, y: g * cj(y) * 0.6931471805599453)
_unary("expm1", lambda xp, x: xp.expm1(x), lambda g, y: g * (cj(y) + 1))
_unary("log", lambda xp, x: xp.log(x), lambda g, x: g / cj(x))
_unary("log2", lambda xp, x: xp.log2(x), lambda g, x: g / (cj(x) * 0.6931471805599453))
_unary("log10", lambda xp, x: xp.log10(x), lambda g, x: g / (cj(x) * 2.302585092994046))
_unary("log1p", lambda xp, x: xp.log1p(x), lambda g, x: g / (cj(x) + 1))
_unary("sqrt", lambda xp, x: xp.sqrt(x), lambda g, y: g / (2 * cj(y)))
_unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda g, y: g * (-0.5) * cj(y) ** 3)
_unary("reciprocal", lambda xp, x: 1 / x, lambda g, y: -g * cj(y * y))
_unary("sin", lambda xp, x: xp.sin(x), lambda g, x: g * cj(x.cos()))
_unary("cos", lambda xp, x: xp.cos(x), lambda g, x: -g * cj(x.sin()))
_unary("tan", lambda xp, x: xp.tan(x), lambda g, y: g * (1 + cj(y) ** 2))
_unary("asin", lambda xp, x: xp.arcsin(x), lambda g, x: g / cj((1 - x * x).sqrt()),
       alias=("arcsin",))
_unary("acos", lambda xp, x: xp.arccos(x), lambda g, x: -g / cj((1 - x * x).sqrt()),
       alias=("arccos",))
_unary("atan", lambda xp, x: xp.arctan(x), lambda g, x: g / cj(1 + x * x), alias=("arctan",))
_unary("sinh", lambda xp, x: xp.sinh(x), lambda g, x: g * cj(x.cosh()))
_unary("cosh", lambda xp, x: xp.cosh(x), lambda g, x: g * cj(x.sinh()))
_unary("tanh", lambda xp, x: xp.tanh(x), lambda g, y: g * (1 - cj(y) ** 2))
_unary("asinh", lambda xp, x: xp.arcsinh(x), lambda g, x: g / cj((x * x + 1).sqrt()),
       alias=("arcsinh",))
_unary("acosh", lambda xp, x: xp.arccosh(x), lambda g, x: g / cj((x * x - 1).sqrt()),
       alias=("arccosh",))
_unary("atanh", lambda xp, x: xp.arctanh(x), lambda g, x: g / cj(1 - x * x),
       alias=("arctanh",))
_unary("sigmoid", lambda xp, x: _sigmoid(xp, x), lambda g, y: g * cj(y * (1 - y)))
_unary("deg2rad", lambda xp, x: xp.deg2rad(x), lambda g: g * 0.017453292519943295,
       dtypes="bif")
_unary("rad2deg", lambda xp, x: xp.rad2deg(x), lambda g: g * 57.29577951308232, dtypes="bif")
_unary("sign", lambda xp, x: _sgn(xp, x), lambda g: g * 0, kind="same", dtypes="bif")
_unary("sgn", lambda xp, x: _sgn(xp, x), lambda g, x: _sgn_grad(g, x), kind="same")
_unary("ceil", lambda xp, x: xp.ceil(x) if x.dtype.kind == "f" else x.copy(), lambda g: g * 0,
       kind="same", dtypes="if")
_unary("floor", lambda xp, x: xp.floor(x) if x.dtype.kind == "f" else x.copy(), lambda g: g * 0,
       kind="same", dtypes="if")
_unary("trunc", lambda xp, x: xp.trunc(x) if x.dtype.kind == "f" else x.copy(),
       lambda g: g * 0, kind="same", alias=("fix",), dtypes="if")
_unary("frac", lambda xp, x: x - xp.trunc(x), lambda g: g, kind="same", dtypes="f")
_unary("relu", lambda xp, x: _relu(xp, x),
       lambda g, y: g * (y > 0), kind="same")
_unary("isnan", lambda xp, x: xp.isnan(x), kind="bool", inplace_=False)
_unary("isinf", lambda xp, x: xp.isinf(x), kind="bool", inplace_=False)
_unary("isfinite", lambda xp, x: xp.isfinite(x), kind="bool", inplace_=False)
_unary("isposinf", lambda xp, x: xp.isposinf(x) if x.dtype.kind == "f" else
       xp.zeros(x.shape, bool), kind="bool", inplace_=False, dtypes="bif")
_unary("isneginf", lambda xp, x: xp.isneginf(x) if x.dtype.kind == "f" else
       xp.zeros(x.shape, bool), kind="bool", inplace_=False, dtypes="bif")
_unary("signbit", lambda xp, x: xp.signbit(x) if x.dtype.kind != "b" else
       xp.zeros(x.shape, bool), kind="bool", inplace_=False, dtypes="bif")
_unary("logical_not", lambda xp, x: xp.logical_not(x), kind="bool")
_unary("conj_physical", lambda xp, x: xp.conj(x), lambda g: cj(g), kind="same")
_unary("angle", lambda xp, x: _angle(xp, x), lambda g, x: _angle_grad(g, x), kind="real",
       inplace_=False)
_unary("round", lambda xp, x, decimals=None: _round(xp, x, decimals), lambda g: g * 0,
       kind="same", params=(("decimals", None),), dtypes="bif")
_nan_to_num = _unary("nan_to_num", lambda xp, x, nan=0.0, posinf=None, neginf=None:
                     _nan_to_num_fwd(xp, x, nan, posinf, neginf),
                     lambda g, x: g * x.isfinite(), kind="same",
                     params=(("nan", 0.0), ("posinf", None), ("neginf", None)), register=False)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    if input._dtype.is_floating_point or input._dtype.is_complex:
        fi = D.finfo(input._dtype)
        posinf = fi.max if posinf is None else posinf
        neginf = fi.min if neginf is None else neginf
    return write_out(_nan_to_num(input, nan, posinf, neginf), out)


def square(input):
    # As PyTorch: pow(input, 2), so bool squares to int64.
    return FUNCTIONS["pow"](input, 2)


def positive(input):
    if input._dtype is D.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


_register("nan_to_num", nan_to_num, True, True)
_register("positive", positive, True, False)
_register("square", square, True, True)


def _nan_to_num_fwd(xp, x, nan, posinf, neginf):
    if x.dtype.kind == "c":
        return _nan_to_num_fwd(xp, x.real, nan, posinf, neginf) + \
            1j * _nan_to_num_fwd(xp, x.imag, nan, posinf, neginf)
    if x.dtype.kind != "f":
        return x.copy()
    r = xp.where(x == np.inf, posinf, xp.where(x == -np.inf, neginf, x))
    return xp.where(xp.isnan(x), nan, r).astype(x.dtype, copy=False)


def _round(xp, x, decimals):
    if x.dtype.kind in "iub":
        if decimals is not None or x.dtype.kind == "b":
            raise NotImplementedError(f'"round_cpu" not implemented for '
                                      f"'{_legacy_name(D._FROM_NP[x.dtype])}'")
        return x.copy()
    if not decimals:
        return xp.rint(x)
    # PyTorch's kernel: scale by 10**|decimals| (rounded to the dtype), round half to even.
    p = x.dtype.type(10.0 ** abs(decimals))
    return xp.rint(x / p) * p if decimals < 0 else xp.rint(x * p) / p


def _angle(xp, x):
    if x.dtype.kind == "c":
        return xp.angle(x)
    return xp.where(x < 0, np.pi, xp.where(xp.isnan(x), x, 0)).astype(x.dtype, copy=False)


def _angle_grad(g, x):
    if not x._dtype.is_complex:
        return FUNCTIONS["zeros_like"](x)
    return _where(x == 0, 0, g * x / (x.abs() ** 2) * 1j)


def _where(cond, a, b):
    return FUNCTIONS["where"](cond, a, b)


def _sigmoid(xp, x):
    if x.dtype.kind == "c":
        return 1 / (1 + xp.exp(-x))
    # PyTorch's kernel, 1 / (1 + exp(-x)), in place: exp overflows to inf for
    # very negative x, which gives the right 0.
    with np.errstate(over="ignore"):
        if not x.ndim:  # (0-dim operands give scalars, which can't be written into)
            return 1 / (1 + xp.exp(-x))
        t = xp.negative(x)
        xp.exp(t, out=t)
        t += 1
        return xp.reciprocal(t, out=t)


def _sgn(xp, x):
    if x.dtype.kind == "b":
        return x.copy()
    if x.dtype.kind != "c":
        return xp.sign(x)
    a = xp.abs(x)
    return xp.where(a == 0, 0, x / xp.where(a == 0, 1, a)).astype(x.dtype)


def _sgn_grad(g, x):
    if not x._dtype.is_complex:
        return g * 0
    a = x.abs()
    s = x / a
    return ((g - (g * s.conj()).real * s) / a).masked_fill(a == 0, 0)


# ---------------------------------------------------------------------------
# Binary ops
# ---------------------------------------------------------------------------

def not_implemented(name):
    """A gradient rule for an op PyTorch has no derivative for: recording
    keeps ``requires_grad`` as PyTorch does, and backward raises as it does."""
    def rule(g):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")
    return rule


def _binary(name, fwd, grad=None, *, kind="promote", method=True, inplace_=True, alias=(),
            register=True, dtypes=None):
    """Defines binary op ``name(input, other)`` with PyTorch's type promotion.

    kind: 'promote' — result is the promoted dtype; 'float' — integers promote
          to the default float (true division); 'bool' — comparison.
    dtypes: promoted dtype categories the op supports (see ``supported``).
    grad: a pair of rules, one per input (``lambda g, b: g * b``), whose
          argument names (``a``, ``b``, ``y``) say what they need; only what
          the inputs requiring grad need is saved.
    """
    cls = uses = None
    if grad is not None:
        uses = tuple(argnames(f)[1:] if f is not None else () for f in grad)
        cls = node(_node_name(name), _binary_backward(grad, uses),
                   _binary_arrays(grad, uses))
        # What to save, by which inputs require grad: {(ra, rb): (a?, b?, y?)}
        saves = {}
        for ra in (False, True):
            for rb in (False, True):
                need = set(uses[0] if ra else ()) | set(uses[1] if rb else ())
                saves[ra, rb] = ("a" in need, "b" in need, "y" in need)

    allowed = supported(dtypes)
    to_float, to_bool = kind == "float", kind == "bool"
    _nd = np.ndarray

    def op(input, other):
        # fast path: two plain CPU tensors of one dtype and shape
        if type(input) is Tensor and type(other) is Tensor and \
                input._dtype is other._dtype and type(x := input._data) is _nd and \
                type(y := other._data) is _nd and x.shape == y.shape:
            dt = input._dtype
        else:
            x, y, dt = operands(input, other)
        if allowed is not None and dt not in allowed:
            raise unsupported(name + "_cpu", dt)
        xp = np if type(x) is _nd else xp_of(x)
        if to_float and dt._cat < 2:
            dt = D.get_default_dtype()
            x, y = x.astype(dt.np), y.astype(dt.np)
        if to_bool:
            return wrap(fwd(xp, x, y), D.bool)
        if dt in _LOW:
            out = wrap(fwd(xp, x.astype(np.float32), y.astype(np.float32)).astype(dt.np), dt)
        else:
            r = fwd(xp, x, y)
            out = wrap(r if r.dtype == dt.np else r.astype(dt.np), dt)
        if cls is not None and STATE.enabled:
            ta, tb = isinstance(input, Tensor), isinstance(other, Tensor)
            ra = ta and input._requires_grad
            rb = tb and other._requires_grad
            if ra or rb:
                # a Python scalar operand is saved as its 0-dim array from
                # operands() (on CUDA that is a NumPy scalar: made anew)
                a = input if ta else \
                    wrap(x, dt) if type(x) is _nd else _scalar(input, dt, other)
                b = other if tb else \
                    wrap(y, dt) if type(y) is _nd else _scalar(other, dt, input)
                sa, sb, sy = saves[ra, rb]
                record(cls, (a, b), out, saved=(a if sa else None, b if sb else None),
                       saved_out=sy)
        return out
    op.__name__ = op.__qualname__ = name
    if register:
        _register(name, op, method, inplace_, alias)
    return op


def _scalar(v, dt, like):
    """Python scalar ``v`` as a 0-dim tensor of the op's dtype ``dt``, keeping
    its precision (``as_tensor_like`` stores a float in the default dtype)."""
    return wrap(scalar_array(v, dt, like._data), dt)


def _binary_backward(grad, uses):
    def bw(ctx, g):
        saved = ctx.saved_tensors
        env = {"a": saved[0], "b": saved[1], "y": saved[2] if len(saved) > 2 else None} \
            if saved else {}
        out = []
        for f, u, need in zip(grad, uses, ctx.needs_input_grad):
            if not need or f is None:
                out.append(None)
                continue
            args = [env[k] for k in u]
            r = _on_arrays(f, [g] + args)
            out.append(r if r is not None else f(g, *args))
        return tuple(out)
    return bw


def _pow_fwd(xp, x, y):
    if x.dtype.kind in "iub" and y.dtype.kind in "iu" and (y < 0).any():
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return xp.power(x, y)


def _pow_grad_exp(g, a, b, y):
    gb = g * cj(y * a.log())
    return gb.masked_fill((a == 0) & ((b.real if b.is_complex() else b) >= 0), 0)


def _bool_check(fn, name):
    def f(xp, x, y):
        if x.dtype == np.bool_:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        return fn(xp, x, y)
    return f


_add = _binary("add", lambda xp, x, y: x + y, (lambda g: g, lambda g: g), inplace_=False)
_sub = _binary("sub", _bool_check(lambda xp, x, y: x - y, "sub"), (lambda g: g, lambda g: -g),
               inplace_=False, alias=())
_binary("mul", lambda xp, x, y: x * y, (lambda g, b: g * cj(b), lambda g, a: g * cj(a)),
        alias=("multiply",))
_div = _binary("true_divide", lambda xp, x, y: x / y,
               (lambda g, b: g / cj(b), lambda g, b, y: -g * cj(y) / cj(b)), kind="float")
_binary("pow", _pow_fwd, (lambda g, a, b: g * cj(b * a ** (b - 1)), _pow_grad_exp),
        dtypes="ifc")
_binary("atan2", lambda xp, x, y: xp.arctan2(x, y),
        (lambda g, a, b: g * b / (a * a + b * b), lambda g, a, b: -g * a / (a * a + b * b)),
        kind="float", alias=("arctan2",), dtypes="bif")
_binary("hypot", lambda xp, x, y: xp.hypot(x, y),
        (lambda g, a, y: g * a / y, lambda g, b, y: g * b / y), dtypes="f")
_binary("maximum", lambda xp, x, y: xp.maximum(x, y),
        (lambda g, a, b: g * _tie(a, b, a > b), lambda g, a, b: g * _tie(a, b, b > a)),
        inplace_=False, dtypes="bif")
_binary("minimum", lambda xp, x, y: xp.minimum(x, y),
        (lambda g, a, b: g * _tie(a, b, a < b), lambda g, a, b: g * _tie(a, b, b < a)),
        inplace_=False, dtypes="bif")
_binary("fmax", lambda xp, x, y: xp.fmax(x, y),
        (lambda g, a, b: g * ((a >= b) | b.isnan()), lambda g, a, b: g * ((b > a) | a.isnan())),
        inplace_=False, dtypes="bif")
_binary("fmin", lambda xp, x, y: xp.fmin(x, y),
        (lambda g, a, b: g * ((a <= b) | b.isnan()), lambda g, a, b: g * ((b < a) | a.isnan())),
        inplace_=False, dtypes="bif")
_binary("remainder", lambda xp, x, y: _remainder(xp, x, y),
        (lambda g: g, lambda g, a, b: -g * (a / b).floor()), dtypes="if")
_binary("fmod", lambda xp, x, y: xp.fmod(x, y), (lambda g: g, lambda g, a, b: -g * (a / b).trunc()),
        dtypes="if")
_binary("copysign", lambda xp, x, y: xp.copysign(x, y),
        (lambda g, a, y: g * _where(a == 0, 0, y / a), lambda g: g * 0), kind="float",
        dtypes="bif")
_binary("logaddexp", lambda xp, x, y: _logaddexp(xp, x, y),
        (lambda g, a, y: g * cj((a - y).exp()), lambda g, b, y: g * cj((b - y).exp())),
        kind="float", inplace_=False, dtypes="fc")
_binary("logaddexp2", lambda xp, x, y: xp.logaddexp2(x, y),
        (lambda g, a, y: g * (a - y).exp2(), lambda g, b, y: g * (b - y).exp2()), kind="float",
        inplace_=False, dtypes="f")
_binary("xlogy", lambda xp, x, y: _xlogy(xp, x, y),
        (lambda g, a, b: g * _where((a == 0) & ~b.isnan(), 0, b.log()),
         lambda g, a, b: g * a / b), kind="float", dtypes="bif")
_binary("nextafter", lambda xp, x, y: xp.nextafter(x, y), (lambda g: g, lambda g: g * 0),
        dtypes="f")
_binary("ldexp", lambda xp, x, y: x * xp.exp2(y.astype(x.dtype)),
        (lambda g, b: g * 2.0 ** b, lambda g, y: g * y * 0.6931471805599453), kind="float")
_binary("eq", lambda xp, x, y: x == y, kind="bool", inplace_=False)
_binary("ne", lambda xp, x, y: x != y, kind="bool", inplace_=False, alias=("not_equal",))
_binary("lt", lambda xp, x, y: x < y, kind="bool", inplace_=False, alias=("less",),
        dtypes="bif")
_binary("le", lambda xp, x, y: x <= y, kind="bool", inplace_=False, alias=("less_equal",),
        dtypes="bif")
_binary("gt", lambda xp, x, y: x > y, kind="bool", inplace_=False, alias=("greater",),
        dtypes="bif")
_binary("ge", lambda xp, x, y: x >= y, kind="bool", inplace_=False, alias=("greater_equal",),
        dtypes="bif")
_binary("logical_and", lambda xp, x, y: xp.logical_and(x, y), kind="bool")
_binary("logical_or", lambda xp, x, y: xp.logical_or(x, y), kind="bool")
_binary("logical_xor", lambda xp, x, y: xp.logical_xor(x, y), kind="bool")


_binary("bitwise_and", lambda xp, x, y: x & y, dtypes="bi")
_binary("bitwise_or", lambda xp, x, y: x | y, dtypes="bi")
_binary("bitwise_xor", lambda xp, x, y: x ^ y, dtypes="bi")
_binary("bitwise_left_shift", lambda xp, x, y: _shift(xp, x, y, True), dtypes="i")
_binary("bitwise_right_shift", lambda xp, x, y: _shift(xp, x, y, False), dtypes="i")
_binary("gcd", lambda xp, x, y: xp.gcd(x, y), dtypes="i")
_binary("lcm", lambda xp, x, y: xp.lcm(x, y), dtypes="i")


def _shift(xp, x, y, left):
    # PyTorch: shifting by the bit width or more (or by a negative amount) gives
    # 0 (or -1 for a right shift of a negative number).
    bits = x.dtype.itemsize * 8
    over = (y < 0) | (y >= bits)
    yc = xp.where(over, 0, y).astype(x.dtype)
    r = xp.left_shift(x, yc) if left else xp.right_shift(x, yc)
    if over.any():
        fill = 0 if left or x.dtype.kind == "u" else xp.where(x < 0, -1, 0)
        r = xp.where(over, fill, r).astype(x.dtype, copy=False)
    return r


def _tie(a, b, strict):
    # PyTorch splits the gradient evenly between equal inputs of max/min.
    return strict + (a == b) * 0.5


def _remainder(xp, x, y):
    if x.dtype.kind in "iu" and (y == 0).any():
        raise RuntimeError("ZeroDivisionError")
    return xp.remainder(x, y)


def _logaddexp(xp, x, y):
    if x.dtype.kind != "c":
        return xp.logaddexp(x, y)
    # complex: the larger real part first, as PyTorch's kernel
    big = xp.where(x.real >= y.real, x, y)
    small = xp.where(x.real >= y.real, y, x)
    return big + xp.log1p(xp.exp(small - big))


def _xlogy(xp, x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = x * xp.log(y)
    return xp.where((x == 0) & ~xp.isnan(y), 0, r).astype(r.dtype, copy=False)


# ---------------------------------------------------------------------------
# Ops with extra arguments
# ---------------------------------------------------------------------------

def add(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = other * alpha
    return write_out(_add(input, other), out)


def sub(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = other * alpha
    return write_out(_sub(input, other), out)


def rsub(input, other, *, alpha=1):
    return sub(other, input, alpha=alpha) if isinstance(other, Tensor) else \
        _sub(other, input * alpha if alpha != 1 else input)


def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        return write_out(_div(input, other), out)
    if rounding_mode == "trunc":
        if _is_low(input) or _is_low(other):
            # PyTorch rounds the quotient to float16/bfloat16 before truncating
            return write_out(_div(input, other).trunc(), out)
        return write_out(_trunc_div(input, other), out)
    if rounding_mode == "floor":
        return write_out(_floor_div(input, other), out)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def _is_low(v):
    return isinstance(v, Tensor) and v._dtype in _LOW


def _int_div_check(xp, x, y):
    if x.dtype.kind in "iub" and (y == 0).any():
        raise RuntimeError("ZeroDivisionError")


_trunc_div = _binary("div_trunc", lambda xp, x, y: (
    _int_div_check(xp, x, y) or (xp.trunc(x / y) if x.dtype.kind in "fc" else
                                 (xp.sign(x) * xp.sign(y) * (xp.abs(x) // xp.abs(y))))),
    (lambda g: g * 0, lambda g: g * 0), register=False, dtypes="if")
_floor_div = _binary("div_floor", lambda xp, x, y: (
    _int_div_check(xp, x, y) or xp.floor_divide(x, y)), (lambda g: g * 0, lambda g: g * 0),
    register=False, dtypes="if")
floor_divide = _binary("floor_divide", lambda xp, x, y: (
    _int_div_check(xp, x, y) or xp.floor_divide(x, y)),
    (not_implemented("floor_divide"), not_implemented("floor_divide")), dtypes="if")


def _div_inplace(self, other, *, rounding_mode=None):
    return inplace(self, div, other, rounding_mode=rounding_mode)


for _n, _f in (("add", add), ("sub", sub), ("subtract", sub), ("div", div), ("divide", div)):
    FUNCTIONS[_n] = METHODS[_n] = _f
    FUNCTIONS[_n + "_"] = METHODS[_n + "_"] = _make_inplace(_f, _n + "_")
FUNCTIONS["rsub"] = rsub
METHODS["true_divide"] = _div


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    bounds = [v for v in (min, max) if v is not None]
    dt = D.result_type_of([input] + bounds)
    # bool works only as maximum/minimum with one tensor bound (as PyTorch)
    if dt.is_complex or (dt is D.bool and not (len(bounds) == 1 and
                                               isinstance(bounds[0], Tensor))):
        raise unsupported("clamp_cpu", dt)
    out = input
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if min is not None:
            out = _clamp_t(out, min, True)
        if max is not None:
            out = _clamp_t(out, max, False)
        return out
    x = input._data
    xp = xp_of(x)
    if dt is not input._dtype:
        x = x.astype(dt.np)
    r = xp.clip(x, min, max) if dt not in _LOW else \
        xp.clip(x.astype(np.float32), min, max).astype(dt.np)
    res = wrap(r if r.dtype == dt.np else r.astype(dt.np), dt)
    if input._requires_grad:
        record(ClampBackward1, (input,), res, saved=(input,), lo=min, hi=max)
    return res


def _clamp_backward(ctx, g):
    (x,) = ctx.saved_tensors
    m = None
    if ctx.lo is not None:
        m = x >= ctx.lo
    if ctx.hi is not None:
        m = (x <= ctx.hi) if m is None else m & (x <= ctx.hi)
    return g * m


ClampBackward1 = node("ClampBackward1", _clamp_backward)


def _clamp_t(x, bound, is_min):
    from . import FUNCTIONS as F
    if not isinstance(bound, Tensor):
        bound = _scalar(bound, D.result_type_of((x, bound)), x)
    keep = (x >= bound) if is_min else (x <= bound)
    # nan in x propagates; nan bound propagates
    return F["where"](keep | x.isnan(), x, bound)


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


for _n, _f in (("clamp", clamp), ("clip", clamp), ("clamp_min", clamp_min),
               ("clamp_max", clamp_max)):
    FUNCTIONS[_n] = METHODS[_n] = _f
    FUNCTIONS[_n + "_"] = METHODS[_n + "_"] = _make_inplace(_f, _n + "_")


# Operators ------------------------------------------------------------------

def _ipow(self, other):
    return inplace(self, FUNCTIONS["pow"], other)


_OPERATORS = {
    "__add__": lambda s, o: _add(s, o), "__radd__": lambda s, o: _add(o, s),
    "__sub__": lambda s, o: _sub(s, o), "__rsub__": lambda s, o: _sub(o, s),
    "__mul__": FUNCTIONS["mul"], "__rmul__": lambda s, o: FUNCTIONS["mul"](o, s),
    "__truediv__": _div, "__rtruediv__": lambda s, o: _div(o, s),
    "__floordiv__": floor_divide,
    "__rfloordiv__": lambda s, o: floor_divide(o, s),
    "__mod__": FUNCTIONS["remainder"],
    "__rmod__": lambda s, o: FUNCTIONS["remainder"](o, s),
    "__pow__": FUNCTIONS["pow"],
    "__rpow__": lambda s, o: FUNCTIONS["pow"](o, s),
    "__neg__": FUNCTIONS["neg"], "__pos__": FUNCTIONS["positive"], "__abs__": FUNCTIONS["abs"],
    "__eq__": FUNCTIONS["eq"], "__ne__": FUNCTIONS["ne"], "__lt__": FUNCTIONS["lt"],
    "__le__": FUNCTIONS["le"], "__gt__": FUNCTIONS["gt"], "__ge__": FUNCTIONS["ge"],
    "__and__": lambda s, o: _bitwise_or_logical("and", s, o),
    "__or__": lambda s, o: _bitwise_or_logical("or", s, o),
    "__xor__": lambda s, o: _bitwise_or_logical("xor", s, o),
    "__rand__": lambda s, o: _bitwise_or_logical("and", s, o),
    "__ror__": lambda s, o: _bitwise_or_logical("or", s, o),
    "__rxor__": lambda s, o: _bitwise_or_logical("xor", s, o),
    "__invert__": lambda s: bitwise_not(s),
    "__lshift__": FUNCTIONS["bitwise_left_shift"],
    "__rshift__": FUNCTIONS["bitwise_right_shift"],
    "__iadd__": lambda s, o: inplace(s, _add, o), "__isub__": lambda s, o: inplace(s, _sub, o),
    "__imul__": lambda s, o: inplace(s, FUNCTIONS["mul"], o),
    "__itruediv__": lambda s, o: inplace(s, _div, o),
    "__ifloordiv__": lambda s, o: inplace(s, floor_divide, o),
    "__imod__": lambda s, o: inplace(s, FUNCTIONS["remainder"], o), "__ipow__": _ipow,
    "__iand__": lambda s, o: inplace(s, lambda a, b: _bitwise_or_logical("and", a, b), o),
    "__ior__": lambda s, o: inplace(s, lambda a, b: _bitwise_or_logical("or", a, b), o),
    "__ixor__": lambda s, o: inplace(s, lambda a, b: _bitwise_or_logical("xor", a, b), o),
}
METHODS.update(_OPERATORS)


def _bitwise_or_logical(kind, a, b):
    return FUNCTIONS["bitwise_" + kind](a, b)


def bitwise_not(input):
    x = input._data
    if x.dtype.kind not in "iub":
        raise unsupported("bitwise_not_cpu", input._dtype)
    return wrap(~x, input._dtype)


_register("bitwise_not", bitwise_not, True, True)


# ---------------------------------------------------------------------------
# Complex parts. ember has no lazy conjugate bit: conj() of a complex tensor
# is a copy (PyTorch returns a lazy view); of a real tensor it is the tensor.
# ---------------------------------------------------------------------------

ConjBackward0 = node("ConjBackward0", lambda ctx, g: g.conj())


def conj(input):
    if not input._dtype.is_complex:
        return input
    out = wrap(xp_of(input._data).conj(input._data), input._dtype)
    record(ConjBackward0, (input,), out)
    return out


def _part_view(input, which):
    from .shape import make_view
    a = input._data
    out = make_view(input, a.real if which == "real" else a.imag,
                    lambda t: _part_view(t, which))
    out._dtype = input._dtype.to_real()
    record(RealBackward0 if which == "real" else ImagBackward0, (input,), out)
    return out


RealBackward0 = node("RealBackward0", lambda ctx, g: g.to(_complex_of(g)))
ImagBackward0 = node("ImagBackward0", lambda ctx, g: g.to(_complex_of(g)) * 1j)


def _complex_of(g):
    return g._dtype.to_complex()


def real(input):
    if not input._dtype.is_complex:
        return input
    return _part_view(input, "real")


def imag(input):
    if not input._dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _part_view(input, "imag")


for _n, _f in (("conj", conj), ("resolve_conj", lambda x: x), ("resolve_neg", lambda x: x),
               ("real", real), ("imag", imag)):
    FUNCTIONS[_n] = _f
    METHODS[_n] = _f
METHODS["real"] = property(real, lambda self, v: real(self).copy_(_as_t(v, self)))
METHODS["imag"] = property(imag, lambda self, v: imag(self).copy_(_as_t(v, self)))


def _as_t(v, like):
    return v if isinstance(v, Tensor) else as_tensor_like(v, like)
METHODS["is_conj"] = lambda self: False
METHODS["is_neg"] = lambda self: False
FUNCTIONS["is_conj"] = METHODS["is_conj"]


# ---------------------------------------------------------------------------
# float_power, heaviside, lerp, addcmul/addcdiv, frexp
# ---------------------------------------------------------------------------

def _is_complex(v):
    return v._dtype.is_complex if isinstance(v, Tensor) else isinstance(v, complex)


def float_power(input, exponent):
    dt = D.complex128 if _is_complex(input) or _is_complex(exponent) else D.float64
    if not isinstance(input, Tensor):
        input = _scalar(input, dt, exponent)
    if isinstance(exponent, Tensor) and exponent._dtype is not dt:
        exponent = exponent.to(dt)
    return FUNCTIONS["pow"](input.to(dt) if input._dtype is not dt else input, exponent)


def _float_power_(self, exponent):
    dt = D.complex128 if _is_complex(self) or _is_complex(exponent) else D.float64
    if self._dtype is not dt:
        raise RuntimeError(f"the base given to float_power_ has dtype {_legacy_name(self._dtype)} "
                           f"but the operation's result requires dtype {_legacy_name(dt)}")
    return inplace(self, float_power, exponent)


FUNCTIONS["float_power"] = METHODS["float_power"] = float_power
METHODS["float_power_"] = _float_power_

_heaviside = _binary("heaviside", lambda xp, x, y: xp.where(x == 0, y, x > 0),
                     (not_implemented("heaviside"), not_implemented("heaviside")),
                     register=False)


def heaviside(input, values):
    if isinstance(values, Tensor) and values._dtype is not input._dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    if input._dtype.is_complex:
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    return _heaviside(input, values)


_register("heaviside", heaviside, True, True)


def _lerp_backward(ctx, g):
    a, b, w = ctx.saved_tensors
    w = ctx.weight if w is None else w
    need = ctx.needs_input_grad
    return (g * _cjv(1 - w) if need[0] else None, g * _cjv(w) if need[1] else None,
            g * cj(b - a) if need[2] else None)


def _cjv(v):
    return cj(v) if isinstance(v, Tensor) else v.conjugate()


LerpBackward = node("LerpBackward0", _lerp_backward)


def _dtype_word(dt):
    return {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "complex64": "c10::complex<float>",
            "complex128": "c10::complex<double>"}.get(dt.name, dt.name)


def lerp(input, end, weight):
    dt = input._dtype
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' (position 2) must be Tensor, not "
                        f"{type(end).__name__}")
    if end._dtype is not dt:
        raise RuntimeError(f"expected dtype {_dtype_word(dt)} for `end` but got dtype "
                           f"{_dtype_word(end._dtype)}")
    wt = isinstance(weight, Tensor)
    if wt and weight._dtype is not dt and weight._data.ndim:
        raise RuntimeError(f"expected dtype {_dtype_word(dt)} for `weight` but got dtype "
                           f"{_dtype_word(weight._dtype)}")
    if not (dt.is_floating_point or dt.is_complex):
        raise NotImplementedError(f'"lerp_kernel_scalar" not implemented for '
                                  f"'{_legacy_name(dt)}'")
    if not wt and isinstance(weight, complex) and not dt.is_complex:
        raise RuntimeError(f"value cannot be converted to type {_dtype_word(dt)} without "
                           "overflow")
    x, y = input._data, end._data
    if type(x) is not type(y):
        from ._core import _check_same_device
        _check_same_device(input, end)
    _check_shapes(input, end, weight)
    xp = xp_of(x)
    w = weight._data if wt else weight
    cdt = np.float32 if dt in _LOW else dt.np
    x32, y32 = x.astype(cdt, copy=False), y.astype(cdt, copy=False)
    w32 = w.astype(cdt, copy=False) if wt else weight
    small = xp.abs(w32) < 0.5
    r = xp.where(small, x32 + w32 * (y32 - x32), y32 - (y32 - x32) * (1 - w32))
    out = wrap(r.astype(dt.np, copy=False), dt)
    if STATE.enabled and (input._requires_grad or end._requires_grad or
                          (wt and weight._requires_grad)):
        need_w = wt and weight._requires_grad
        record(LerpBackward, (input, end, weight if wt else None), out,
               saved=(input if need_w else None, end if need_w else None,
                      weight if wt else None), weight=None if wt else weight)
    return out


_register("lerp", lerp, True, True)


def _check_shapes(*ts):
    """PyTorch's error when tensors ``ts`` don't broadcast together."""
    from ._core import check_broadcast
    shape = ()
    for t in ts:
        if isinstance(t, Tensor) and t._data.shape != shape:
            check_broadcast(shape, t._data.shape)
            shape = np.broadcast_shapes(shape, t._data.shape)


def _addc_prep(name, input, t1, t2):
    _check_shapes(input, t1, t2)
    dt = D.result_type_of((input, t1, t2))
    arrs = [t._data if t._dtype is dt else t._data.astype(dt.np) for t in (input, t1, t2)]
    return arrs, dt, xp_of(arrs[0])


def _addcmul_backward(ctx, g):
    t1, t2 = ctx.saved_tensors
    v = ctx.value
    need = ctx.needs_input_grad
    return (g, g * cj(t2 * v) if need[1] else None, g * cj(t1 * v) if need[2] else None)


def _addcdiv_backward(ctx, g):
    t1, t2 = ctx.saved_tensors
    v = ctx.value
    need = ctx.needs_input_grad
    return (g, g * cj(v / t2) if need[1] else None,
            -g * cj(v * t1 / (t2 * t2)) if need[2] else None)


AddcmulBackward = node("AddcmulBackward0", _addcmul_backward)
AddcdivBackward = node("AddcdivBackward0", _addcdiv_backward)


def _addc(name, input, tensor1, tensor2, value, cls, fwd):
    (x, a, b), dt, xp = _addc_prep(name, input, tensor1, tensor2)
    if dt is D.bool:
        raise unsupported(name + "_cpu_out", dt)
    v = value if dt.is_floating_point or dt.is_complex else int(value)
    if dt in _LOW:
        r = fwd(x.astype(np.float32), a.astype(np.float32), b.astype(np.float32), v)
    else:
        r = fwd(x, a, b, v)
    out = wrap(r.astype(dt.np, copy=False), dt)
    if STATE.enabled and (input._requires_grad or tensor1._requires_grad or
                          tensor2._requires_grad):
        record(cls, (input, tensor1, tensor2), out, saved=(tensor1, tensor2), value=value)
    return out


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    return write_out(_addc("addcmul", input, tensor1, tensor2, value, AddcmulBackward,
                      lambda x, a, b, v: x + v * a * b), out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    if not (tensor1._dtype.is_floating_point or tensor1._dtype.is_complex or
            tensor2._dtype.is_floating_point or tensor2._dtype.is_complex):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 and "
                           "tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
                           "for integer inputs and as (input + value * tensor1 / tensor2) for "
                           "float inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    return write_out(_addc("addcdiv", input, tensor1, tensor2, value, AddcdivBackward,
                      lambda x, a, b, v: x + v * a / b), out)


_register("addcmul", addcmul, True, True)
_register("addcdiv", addcdiv, True, True)


def _frexp_backward(ctx, g, _ge=None):
    (e,) = ctx.saved_tensors
    return g / e.exp2()


FrexpBackward = node("FrexpBackward0", _frexp_backward)


_frexp_result = collections.namedtuple("frexp", ["mantissa", "exponent"])


def frexp(input):
    dt = input._dtype
    if not dt.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    x = input._data
    xp = xp_of(x)
    m, e = xp.frexp(x.astype(np.float32) if dt in _LOW else x)
    mant = wrap(m.astype(dt.np, copy=False), dt)
    ex = wrap(e.astype(np.int32, copy=False), D.int32)
    if input._requires_grad:
        record(FrexpBackward, (input,), (mant, ex), saved=(ex,))
    return _frexp_result(mant, ex)


FUNCTIONS["frexp"] = METHODS["frexp"] = frexp


# ---------------------------------------------------------------------------
# Closeness and membership
# ---------------------------------------------------------------------------

def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if not isinstance(other, Tensor):
        raise TypeError(f"isclose(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    dt = input._dtype
    if other._dtype is not dt:
        raise RuntimeError(f"{_legacy_name(dt)} did not match {_legacy_name(other._dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    x, y = input._data, other._data
    xp = xp_of(x)
    close = x == y
    if equal_nan and (dt.is_floating_point or dt.is_complex):
        close = close | (xp.isnan(x) & xp.isnan(y))
    if rtol == 0 and atol == 0:
        return wrap(close, D.bool)
    if x.dtype.kind not in "fc":  # integers and bool compare in the default float dtype
        x, y = x.astype(D.get_default_dtype().np), y.astype(D.get_default_dtype().np)
    allowed = (x.real.dtype.type(atol)) + xp.abs(rtol * y)
    with np.errstate(over="ignore", invalid="ignore"):
        actual = xp.abs(x - y)
        close = close | (xp.isfinite(actual) & (actual <= allowed))
    return wrap(xp.asarray(close), D.bool)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other):
    if input._data.shape != other._data.shape:
        return False
    x, y, _ = operands(input, other)
    return bool((x == y).all())


def isreal(input):
    x = input._data
    xp = xp_of(x)
    return wrap(x.imag == 0 if x.dtype.kind == "c" else xp.ones(x.shape, dtype=bool), D.bool)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: at least one of "
                        "'elements' and 'test_elements' must be a Tensor")
    ref = elements if isinstance(elements, Tensor) else test_elements
    for t in (elements, test_elements):
        if isinstance(t, Tensor) and (t._dtype is D.bool or t._dtype.is_complex):
            raise RuntimeError(f"Unsupported input type encountered for isin(): "
                               f"{_legacy_name(t._dtype)}")
    e = elements._data if isinstance(elements, Tensor) else elements
    t = test_elements._data if isinstance(test_elements, Tensor) else test_elements
    xp = xp_of(ref._data)
    r = xp.isin(e, t, assume_unique=assume_unique, invert=invert)
    return wrap(xp.asarray(r), D.bool)


for _n, _f in (("isclose", isclose), ("allclose", allclose), ("equal", equal),
               ("isreal", isreal)):
    FUNCTIONS[_n] = METHODS[_n] = _f
FUNCTIONS["isin"] = isin
