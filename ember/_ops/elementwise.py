"""Elementwise ops, declared as a table: forward on the array module and the
gradient rule in ember ops, side by side.

A gradient rule is a lambda whose argument names say what it needs:
``g`` the incoming gradient, ``x``/``a``/``b`` the inputs, ``y`` the output.
Only what a rule names is saved for backward.
"""
import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._core import (
    FUNCTIONS,
    METHODS,
    argnames,
    as_tensor_like,
    float_dtype,
    inplace,
    node,
    operands,
    record,
    wrap,
)


def cj(t):
    """Complex conjugate for complex tensors, the tensor itself otherwise
    (PyTorch's gradient convention for complex inputs is conj(df/dz) * g)."""
    return t.conj() if t._dtype.is_complex else t


_LOW = (D.float16, D.bfloat16)


def _unary(name, fwd, grad=None, *, kind="float", method=True, inplace_=True, alias=()):
    """Defines unary op ``name``.

    kind: 'float' — integer inputs give the default float dtype (``exp``);
          'same'  — result keeps the input dtype (``neg``, ``abs``);
          'bool'  — a predicate returning bool (``isnan``), not differentiable.
    """
    uses = argnames(grad)[1:] if grad is not None else ()
    cls = node(_node_name(name), _unary_backward(grad, uses)) if grad is not None else None

    def op(input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        x = input._data
        dt = input._dtype
        xp = np if type(x) is np.ndarray else xp_of(x)
        if kind == "float":
            odt = float_dtype(dt)
            if odt is not dt:
                x = x.astype(odt.np)
            if odt in _LOW:  # compute in float32 as PyTorch's CPU kernels do
                out = wrap(fwd(xp, x.astype(np.float32)).astype(odt.np), odt)
            else:
                out = wrap(fwd(xp, x), odt)
        elif kind == "bool":
            return wrap(fwd(xp, x), D.bool)
        else:
            out = wrap(fwd(xp, x), dt)
        if cls is not None and input._requires_grad:
            record(cls, (input,), out, saved=(input,) if "x" in uses else (),
                   saved_out="y" in uses)
        return out
    op.__name__ = op.__qualname__ = name
    _register(name, op, method, inplace_, alias)
    return op


def _unary_backward(grad, uses):
    if uses == ("x",):
        return lambda ctx, g: grad(g, ctx.saved_tensors[0])
    if uses == ("y",):
        return lambda ctx, g: grad(g, ctx.saved_tensors[0])
    if uses == ("x", "y"):
        return lambda ctx, g: grad(g, *ctx.saved_tensors)
    return lambda ctx, g: grad(g)


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
_unary("neg", lambda xp, x: -x, lambda g: -g, kind="same", alias=("negative",))
_unary("positive", lambda xp, x: x, None, kind="same", inplace_=False)
_unary("abs", lambda xp, x: xp.abs(x), lambda g, x: g * x.sgn(), kind="same",
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
_unary("square", lambda xp, x: x * x, lambda g, x: g * 2 * cj(x), kind="same")
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
_unary("deg2rad", lambda xp, x: xp.deg2rad(x), lambda g: g * 0.017453292519943295)
_unary("rad2deg", lambda xp, x: xp.rad2deg(x), lambda g: g * 57.29577951308232)
_unary("sign", lambda xp, x: xp.sign(x), lambda g: g * 0, kind="same")
_unary("sgn", lambda xp, x: _sgn(xp, x), lambda g, x: _sgn_grad(g, x), kind="same")
_unary("ceil", lambda xp, x: xp.ceil(x) if x.dtype.kind in "fc" else x, lambda g: g * 0,
       kind="same")
_unary("floor", lambda xp, x: xp.floor(x) if x.dtype.kind in "fc" else x, lambda g: g * 0,
       kind="same")
_unary("trunc", lambda xp, x: xp.trunc(x) if x.dtype.kind in "fc" else x, lambda g: g * 0,
       kind="same", alias=("fix",))
_unary("frac", lambda xp, x: x - xp.trunc(x), lambda g: g, kind="same")
_unary("relu", lambda xp, x: xp.maximum(x, 0).astype(x.dtype, copy=False),
       lambda g, y: g * (y > 0), kind="same")
_unary("isnan", lambda xp, x: xp.isnan(x), kind="bool", inplace_=False)
_unary("isinf", lambda xp, x: xp.isinf(x), kind="bool", inplace_=False)
_unary("isfinite", lambda xp, x: xp.isfinite(x), kind="bool", inplace_=False)
_unary("isposinf", lambda xp, x: xp.isposinf(x) if x.dtype.kind == "f" else
       xp.zeros(x.shape, bool), kind="bool", inplace_=False)
_unary("isneginf", lambda xp, x: xp.isneginf(x) if x.dtype.kind == "f" else
       xp.zeros(x.shape, bool), kind="bool", inplace_=False)
_unary("signbit", lambda xp, x: xp.signbit(x), kind="bool", inplace_=False)
_unary("logical_not", lambda xp, x: xp.logical_not(x), kind="bool")
_unary("conj_physical", lambda xp, x: xp.conj(x), lambda g: cj(g), kind="same")


def _sigmoid(xp, x):
    # numerically stable for large |x|
    if x.dtype.kind == "c":
        return 1 / (1 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _sgn(xp, x):
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

def _binary(name, fwd, grad=None, *, kind="promote", method=True, inplace_=True, alias=()):
    """Defines binary op ``name(input, other)`` with PyTorch's type promotion.

    kind: 'promote' — result is the promoted dtype; 'float' — integers promote
          to the default float (true division); 'bool' — comparison.
    grad: a pair of rules, one per input (``lambda g, b: g * b``), whose
          argument names (``a``, ``b``, ``y``) say what they need; only what
          the inputs requiring grad need is saved.
    """
    cls = uses = None
    if grad is not None:
        uses = tuple(argnames(f)[1:] if f is not None else () for f in grad)
        cls = node(_node_name(name), _binary_backward(grad, uses))
        # What to save, by which inputs require grad: {(ra, rb): (a?, b?, y?)}
        saves = {}
        for ra in (False, True):
            for rb in (False, True):
                need = set(uses[0] if ra else ()) | set(uses[1] if rb else ())
                saves[ra, rb] = ("a" in need, "b" in need, "y" in need)

    def op(input, other):
        x, y, dt = operands(input, other)
        xp = np if type(x) is np.ndarray else xp_of(x)
        if kind == "float" and not (dt.is_floating_point or dt.is_complex):
            dt = D.get_default_dtype()
            x, y = x.astype(dt.np), y.astype(dt.np)
        if kind == "bool":
            return wrap(fwd(xp, x, y), D.bool)
        if dt in _LOW:
            out = wrap(fwd(xp, x.astype(np.float32), y.astype(np.float32)).astype(dt.np), dt)
        else:
            r = fwd(xp, x, y)
            out = wrap(r if r.dtype == dt.np else r.astype(dt.np), dt)
        if cls is not None and STATE.enabled:
            ra = input._requires_grad if isinstance(input, Tensor) else False
            rb = other._requires_grad if isinstance(other, Tensor) else False
            if ra or rb:
                a = input if isinstance(input, Tensor) else as_tensor_like(input, other)
                b = other if isinstance(other, Tensor) else as_tensor_like(other, input)
                sa, sb, sy = saves[ra, rb]
                record(cls, (a, b), out, saved=(a if sa else None, b if sb else None),
                       saved_out=sy)
        return out
    op.__name__ = op.__qualname__ = name
    _register(name, op, method, inplace_, alias)
    return op


def _binary_backward(grad, uses):
    def bw(ctx, g):
        saved = ctx.saved_tensors
        env = {"a": saved[0], "b": saved[1], "y": saved[2] if len(saved) > 2 else None} \
            if saved else {}
        out = []
        for f, u, need in zip(grad, uses, ctx.needs_input_grad):
            out.append(f(g, *[env[k] for k in u]) if need and f is not None else None)
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
_binary("pow", _pow_fwd, (lambda g, a, b: g * cj(b * a ** (b - 1)), _pow_grad_exp))
_binary("atan2", lambda xp, x, y: xp.arctan2(x, y),
        (lambda g, a, b: g * b / (a * a + b * b), lambda g, a, b: -g * a / (a * a + b * b)),
        kind="float",
        alias=("arctan2",))
_binary("hypot", lambda xp, x, y: xp.hypot(x, y),
        (lambda g, a, y: g * a / y, lambda g, b, y: g * b / y))
_binary("maximum", lambda xp, x, y: xp.maximum(x, y),
        (lambda g, a, b: g * _tie(a, b, a > b), lambda g, a, b: g * _tie(a, b, b > a)),
        inplace_=False)
_binary("minimum", lambda xp, x, y: xp.minimum(x, y),
        (lambda g, a, b: g * _tie(a, b, a < b), lambda g, a, b: g * _tie(a, b, b < a)),
        inplace_=False)
_binary("fmax", lambda xp, x, y: xp.fmax(x, y),
        (lambda g, a, b: g * ((a >= b) | b.isnan()), lambda g, a, b: g * ((b > a) | a.isnan())),
        inplace_=False)
_binary("fmin", lambda xp, x, y: xp.fmin(x, y),
        (lambda g, a, b: g * ((a <= b) | b.isnan()), lambda g, a, b: g * ((b < a) | a.isnan())),
        inplace_=False)
_binary("remainder", lambda xp, x, y: _remainder(xp, x, y),
        (lambda g: g, lambda g, a, b: -g * (a / b).floor()))
_binary("fmod", lambda xp, x, y: xp.fmod(x, y), (lambda g: g, lambda g, a, b: -g * (a / b).trunc()))
_binary("copysign", lambda xp, x, y: xp.copysign(x, y),
        (lambda g, a, y: g * (y / a).masked_fill(a == 0, 0), lambda g: g * 0), kind="float")
_binary("logaddexp", lambda xp, x, y: xp.logaddexp(x, y),
        (lambda g, a, y: g * (a - y).exp(), lambda g, b, y: g * (b - y).exp()), kind="float",
        inplace_=False)
_binary("logaddexp2", lambda xp, x, y: xp.logaddexp2(x, y),
        (lambda g, a, y: g * (a - y).exp2(), lambda g, b, y: g * (b - y).exp2()), kind="float",
        inplace_=False)
_binary("xlogy", lambda xp, x, y: _xlogy(xp, x, y),
        (lambda g, a, b: g * b.log().masked_fill((a == 0) & ~b.isnan(), 0),
         lambda g, a, b: g * a / b), kind="float")
_binary("nextafter", lambda xp, x, y: xp.nextafter(x, y), None)
_binary("ldexp", lambda xp, x, y: x * xp.exp2(y.astype(x.dtype)),
        (lambda g, b: g * 2.0 ** b, lambda g, y: g * y * 0.6931471805599453), kind="float")
_binary("eq", lambda xp, x, y: x == y, kind="bool", inplace_=False)
_binary("ne", lambda xp, x, y: x != y, kind="bool", inplace_=False, alias=("not_equal",))
_binary("lt", lambda xp, x, y: x < y, kind="bool", inplace_=False, alias=("less",))
_binary("le", lambda xp, x, y: x <= y, kind="bool", inplace_=False, alias=("less_equal",))
_binary("gt", lambda xp, x, y: x > y, kind="bool", inplace_=False, alias=("greater",))
_binary("ge", lambda xp, x, y: x >= y, kind="bool", inplace_=False, alias=("greater_equal",))
_binary("logical_and", lambda xp, x, y: xp.logical_and(x, y), kind="bool")
_binary("logical_or", lambda xp, x, y: xp.logical_or(x, y), kind="bool")
_binary("logical_xor", lambda xp, x, y: xp.logical_xor(x, y), kind="bool")


def _int_only(fn, name):
    def f(xp, x, y):
        if x.dtype.kind not in "iub":
            raise RuntimeError(f'"{name}_cpu" not implemented for '
                               f"'{D._FROM_NP[x.dtype].name.capitalize()}'")
        return fn(xp, x, y)
    return f


_binary("bitwise_and", _int_only(lambda xp, x, y: x & y, "bitwise_and"))
_binary("bitwise_or", _int_only(lambda xp, x, y: x | y, "bitwise_or"))
_binary("bitwise_xor", _int_only(lambda xp, x, y: x ^ y, "bitwise_xor"))
_binary("bitwise_left_shift", _int_only(lambda xp, x, y: xp.left_shift(x, y), "lshift"))
_binary("bitwise_right_shift", _int_only(lambda xp, x, y: xp.right_shift(x, y), "rshift"))
_binary("gcd", _int_only(lambda xp, x, y: xp.gcd(x, y), "gcd"))
_binary("lcm", _int_only(lambda xp, x, y: xp.lcm(x, y), "lcm"))


def _tie(a, b, strict):
    # PyTorch splits the gradient evenly between equal inputs of max/min.
    return strict + (a == b) * 0.5


def _remainder(xp, x, y):
    if x.dtype.kind in "iu" and (y == 0).any():
        raise RuntimeError("ZeroDivisionError")
    return xp.remainder(x, y)


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
    return _out(_add(input, other), out)


def sub(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = other * alpha
    return _out(_sub(input, other), out)


def rsub(input, other, *, alpha=1):
    return sub(other, input, alpha=alpha) if isinstance(other, Tensor) else \
        _sub(as_tensor_like(other, input), input * alpha if alpha != 1 else input)


def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        return _out(_div(input, other), out)
    if rounding_mode == "trunc":
        return _out(_trunc_div(input, other), out)
    if rounding_mode == "floor":
        return _out(floor_divide(input, other), out)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def _int_div_check(xp, x, y):
    if x.dtype.kind in "iub" and (y == 0).any():
        raise RuntimeError("ZeroDivisionError")


_trunc_div = _binary("_trunc_divide", lambda xp, x, y: (
    _int_div_check(xp, x, y) or (xp.trunc(x / y) if x.dtype.kind in "fc" else
                                 (xp.sign(x) * xp.sign(y) * (xp.abs(x) // xp.abs(y))))),
    (lambda g: g * 0, lambda g: g * 0), method=False, inplace_=False)
floor_divide = _binary("floor_divide", lambda xp, x, y: (
    _int_div_check(xp, x, y) or xp.floor_divide(x, y)), (lambda g: g * 0, lambda g: g * 0))


def _out(res, out):
    """Implements ``out=``: writes into ``out`` (resizing like PyTorch)."""
    if out is None:
        return res
    if out.shape != res.shape:
        out._data = xp_of(out._data).empty(res.shape, out._data.dtype)
    from ._core import write_into
    write_into(out, res._data, res._dtype)
    return out


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
    out = input
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if min is not None:
            out = _clamp_t(out, min, True)
        if max is not None:
            out = _clamp_t(out, max, False)
        return out
    x = input._data
    xp = xp_of(x)
    dt = D.result_type_of([input] + [v for v in (min, max) if v is not None])
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
    bound = bound if isinstance(bound, Tensor) else as_tensor_like(bound, x)
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

def _rev(op):
    return lambda self, other: op(as_tensor_like(other, self) if not isinstance(other, Tensor)
                                  else other, self)


def _ipow(self, other):
    return inplace(self, FUNCTIONS["pow"], other)


_OPERATORS = {
    "__add__": lambda s, o: _add(s, o), "__radd__": lambda s, o: _add(o, s),
    "__sub__": lambda s, o: _sub(s, o), "__rsub__": lambda s, o: _sub(as_tensor_like(o, s), s),
    "__mul__": FUNCTIONS["mul"], "__rmul__": lambda s, o: FUNCTIONS["mul"](o, s),
    "__truediv__": _div, "__rtruediv__": lambda s, o: _div(as_tensor_like(o, s), s),
    "__floordiv__": floor_divide,
    "__rfloordiv__": lambda s, o: floor_divide(as_tensor_like(o, s), s),
    "__mod__": FUNCTIONS["remainder"],
    "__rmod__": lambda s, o: FUNCTIONS["remainder"](as_tensor_like(o, s), s),
    "__pow__": FUNCTIONS["pow"],
    "__rpow__": lambda s, o: FUNCTIONS["pow"](as_tensor_like(o, s), s),
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
        raise RuntimeError(f"\"bitwise_not_cpu\" not implemented for "
                           f"'{input._dtype.name.capitalize()}'")
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
