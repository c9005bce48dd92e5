"""The op dispatch core: exporting ops, operand preparation, recording nodes,
in-place semantics.

How to define an op (see elementwise.py for the table form):

    @export("exp", method=True)                 # ember.exp and Tensor.exp
    def exp(input):
        x = input._data
        out = wrap(xp_of(x).exp(x))
        record(ExpBackward0, (input,), out, saved_out=True)
        return out

``record`` does nothing unless grad mode is on and an input requires grad.
A backward rule is ``backward(ctx, *grad_outputs) -> grads per input`` written
with ember ops; it may return broadcast gradients (the engine sums them to the
input's shape and casts them to its dtype).
"""
import functools
import inspect
import numbers

import numpy as np

from .. import _dtype as D
from .._backend import CPU, device_of_array, xp_of
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import STATE
from ..autograd.graph import Node, _saved_hooks, save, saved_tensor

FUNCTIONS = {}   # name -> callable exposed as ember.<name>
METHODS = {}     # name -> callable installed as Tensor.<name>
wrap = _wrap
_ndarray = np.ndarray


def export(*names, method=True, function=True):
    """Registers the decorated op as ``ember.<name>`` and ``Tensor.<name>`` for
    each of ``names`` (the function's own name when none are given)."""
    def deco(fn):
        ns = names or (fn.__name__,)
        for n in ns:
            if function:
                FUNCTIONS[n] = fn
            if method:
                METHODS[n] = fn
        return fn
    return deco


def node(name, backward, arrays=None):
    """The Node subclass ``name`` (``'MulBackward0'``) whose rule is ``backward``;
    ``arrays`` is its optional rule on raw arrays (see Node._array_backward)."""
    ns = {"__slots__": (), "backward": staticmethod(backward)}
    if arrays is not None:
        ns["_array_backward"] = staticmethod(arrays)
    return type(name, (Node,), ns)


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------

def record(cls, inputs, outputs, saved=(), saved_out=False, **attrs):
    """Attach a ``cls`` node to ``outputs`` (a Tensor or tuple of Tensors) if any
    tensor in ``inputs`` requires grad. ``saved`` tensors are version-checked
    in backward; ``saved_out=True`` saves the (first) output as well, last.
    Returns the node or None."""
    if not STATE.enabled:
        return None
    k = len(inputs)
    if k == 1:  # the common unary and binary cases, without lists
        t = inputs[0]
        if not (isinstance(t, Tensor) and t._requires_grad):
            return None
        n = cls() if isinstance(cls, type) else cls
        n.next_functions = (_edge(t),)
        n._meta = ((t._data.shape, t._dtype),)
        n.needs_input_grad = _NEED1
    elif k == 2:
        a, b = inputs
        ra = isinstance(a, Tensor) and a._requires_grad
        rb = isinstance(b, Tensor) and b._requires_grad
        if not (ra or rb):
            return None
        n = cls() if isinstance(cls, type) else cls
        n.next_functions = (_edge(a) if ra else _NO_EDGE, _edge(b) if rb else _NO_EDGE)
        n._meta = ((a._data.shape, a._dtype) if ra else None,
                   (b._data.shape, b._dtype) if rb else None)
        n.needs_input_grad = (ra, rb)
    else:
        edges, meta, needs = [], [], []
        for t in inputs:
            if isinstance(t, Tensor) and t._requires_grad:
                edges.append(_edge(t))
                meta.append((t._data.shape, t._dtype))
                needs.append(True)
            else:
                edges.append(_NO_EDGE)
                meta.append(None)
                needs.append(False)
        if True not in needs:
            return None
        n = cls() if isinstance(cls, type) else cls
        n.next_functions = tuple(edges)
        n._meta = meta
        n.needs_input_grad = tuple(needs)
    if type(outputs) is Tensor:
        d = outputs._data
        n._out_meta = ((d.shape, outputs._dtype,
                        CPU if type(d) is _ndarray else device_of_array(d)),)
        if outputs._dtype._cat >= 2:
            outputs._grad_fn = n
            outputs._requires_grad = True
        first = outputs
    else:
        outs = outputs if type(outputs) is tuple else (outputs,)
        om = []
        for i, o in enumerate(outs):
            if o is None:
                om.append(None)
                continue
            d = o._data
            om.append((d.shape, o._dtype, CPU if type(d) is _ndarray else device_of_array(d)))
            if o._dtype._cat >= 2:
                o._grad_fn = n
                if i:
                    o._output_nr = i
                o._requires_grad = True
        n._out_meta = om
        first = outs[0]
    if saved or saved_out:
        # Saved entries are (tensor, version, is_output) tuples (see graph.save).
        if _saved_hooks:
            s = [None if t is None else save(t) for t in saved]
            if saved_out:
                s.append(save(first, True))
            n._saved = tuple(s)
        else:
            k = len(saved)
            if k == 0:
                s = ()
            elif k == 1:
                t = saved[0]
                s = ((t, t._version[0], False) if t is not None else None,)
            elif k == 2:
                t, u = saved
                s = ((t, t._version[0], False) if t is not None else None,
                     (u, u._version[0], False) if u is not None else None)
            else:
                s = tuple([None if t is None else (t, t._version[0], False) for t in saved])
            if saved_out:
                s += ((first, first._version[0], True),)
            n._saved = s
    if attrs:
        n.__dict__.update(attrs)
    return n


_NEED1 = (True,)


def _edge(t):
    """The (node, output_nr) that gradients for ``t`` (which requires grad) go to."""
    fn = t._grad_fn if t._base is None else t.grad_fn
    return (fn, t._output_nr) if fn is not None else (t._accumulator(), 0)


_NO_EDGE = (None, 0)


def sum_to(g, shape):
    """Sum ``g`` down to ``shape`` (the reverse of broadcasting), as an ember op."""
    gs = g.shape
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    if lead < 0:
        raise RuntimeError(f"size {list(gs)} can't be summed to {list(shape)}")
    dims = list(range(lead))
    for i, n in enumerate(shape):
        if n == 1 and gs[lead + i] != 1:
            dims.append(lead + i)
        elif n != gs[lead + i]:
            raise RuntimeError(f"size {list(gs)} can't be summed to {list(shape)}")
    if dims:
        g = g.sum(dim=tuple(dims), keepdim=True)
    if lead:
        g = g.reshape(shape)
    return g


# ---------------------------------------------------------------------------
# Operands
# ---------------------------------------------------------------------------

def _check_same_device(a, b):
    da, db = a.device, b.device
    if da != db and not (a._data.ndim == 0 and da.type == "cpu") and \
            not (b._data.ndim == 0 and db.type == "cpu"):
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least "
                           f"two devices, {db} and {da}!")


def scalar_array(v, dt, like):
    """A 0-dim array of Python scalar ``v`` with dtype ``dt`` on ``like``'s device."""
    if type(like) is _ndarray:
        try:
            return np.asarray(v, dtype=dt.np)
        except OverflowError:
            return np.asarray(v).astype(dt.np)
    from .._backend import xp_of
    return xp_of(like).asarray(v, dtype=dt.np)


def _scalar_operand(v, dt):
    """Python scalar ``v`` as a NumPy scalar of dtype ``dt``: CuPy passes it to the
    kernel as an argument (a 0-dim device array costs a host-to-device copy)."""
    try:
        return dt.np.type(v)
    except OverflowError:
        return np.asarray(v).astype(dt.np)[()]


def cast(a, dt):
    """Array ``a`` as dtype ``dt`` (no copy when already so)."""
    return a if a.dtype == dt.np else a.astype(dt.np)


def operands(a, b):
    """Arrays of binary-op operands ``a`` and ``b`` (tensors or Python scalars),
    cast to their PyTorch result dtype, and that dtype."""
    if isinstance(a, Tensor):
        x = a._data
        if isinstance(b, Tensor):
            y = b._data
            if type(x) is not type(y) or type(x) is not _ndarray:
                _check_same_device(a, b)
            if x.shape != y.shape:
                check_broadcast(x.shape, y.shape)
            da, db = a._dtype, b._dtype
            if da is db:
                return x, y, da
            dt = D.result_type_of((a, b))
            return cast(x, dt), cast(y, dt), dt
        dt = D.result_type_of((a, b)) if not isinstance(b, float) or \
            not a._dtype.is_floating_point else a._dtype
        if b is None or isinstance(b, (str, list, tuple)) or not _is_scalar(b):
            raise TypeError(f"unsupported operand type: {type(b).__name__}")
        return cast(x, dt), scalar_array(b, dt, x) if type(x) is _ndarray else \
            _scalar_operand(b, dt), dt
    if isinstance(b, Tensor):
        y, x, dt = operands(b, a)
        return x, y, dt
    raise TypeError("expected at least one Tensor operand")


def check_broadcast(sa, sb):
    """RuntimeError, worded as PyTorch's, if shapes ``sa`` and ``sb`` don't broadcast."""
    for i in range(1, min(len(sa), len(sb)) + 1):
        p, q = sa[-i], sb[-i]
        if p != q and p != 1 and q != 1:
            raise RuntimeError(f"The size of tensor a ({p}) must match the size of tensor b "
                               f"({q}) at non-singleton dimension {max(len(sa), len(sb)) - i}")


def _is_scalar(v):
    return type(v) in _PY_SCALARS or (isinstance(v, (numbers.Number, np.generic)) and
                                      not isinstance(v, Tensor))


_PY_SCALARS = frozenset((bool, int, float, complex))  # (skips the slow ABC check)


def as_tensor_like(v, like):
    """``v`` as a Tensor on ``like``'s device (Python scalars become 0-dim,
    keeping their PyTorch "wrapped number" dtype)."""
    if isinstance(v, Tensor):
        return v
    dt = D.scalar_dtype(v)
    ld = like._dtype if isinstance(like, Tensor) else None
    if ld is not None and dt._cat <= ld._cat and dt._cat >= 2:
        # A float scalar next to a float tensor takes the tensor's dtype anyway;
        # building it there directly keeps 0.1 as 0.1 in float64.
        dt = ld
    return _wrap(scalar_array(v, dt, like._data), dt)


def float_dtype(dt):
    """Result dtype of an int-to-float op (``exp`` of an int tensor is float)."""
    return dt if dt.is_floating_point or dt.is_complex else D.get_default_dtype()


# ---------------------------------------------------------------------------
# In-place ops
# ---------------------------------------------------------------------------

def check_inplace(t):
    """Errors PyTorch raises before an in-place change of ``t``."""
    if STATE.enabled:
        if t._requires_grad and t._grad_fn is None and t._base is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        b = t._base
        if b is not None and b._requires_grad and b._grad_fn is None and \
                t._view_fn is not None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")


def _check_cast(res_dt, self_dt):
    if not D.can_cast(res_dt, self_dt):
        raise RuntimeError(f"result type {_legacy_name(res_dt)} can't be cast to the desired "
                           f"output type {_legacy_name(self_dt)}")


_legacy_name = D.legacy_name


def inplace(self, fn, *args, **kwargs):
    """Runs out-of-place op ``fn(self, *args)`` and writes the result into
    ``self``, with PyTorch's autograd semantics for in-place ops (including
    in-place ops on views, which rewrite the base's history)."""
    check_inplace(self)
    track = STATE.enabled and (self._requires_grad or
                               any(isinstance(a, Tensor) and a._requires_grad
                                   for a in args) or
                               any(isinstance(a, Tensor) and a._requires_grad
                                   for a in kwargs.values()) or
                               (self._base is not None and self._base._requires_grad))
    if not track:
        prev = STATE.enabled
        STATE.enabled = False
        try:
            res = fn(self, *args, **kwargs)
        finally:
            STATE.enabled = prev
        write_into(self, res._data, res._dtype)
        return self
    res = fn(self, *args, **kwargs)
    if res._grad_fn is None:
        write_into(self, res._data, res._dtype)
        return self
    node = res._grad_fn
    if any(saved_tensor(s) is self for s in node._saved):
        # The op saved ``self``, which is about to be overwritten: it keeps a copy
        # of the old value instead (PyTorch's ``original_self``).
        old = _wrap(self._data.copy(), self._dtype)
        old._grad_fn, old._output_nr = self.grad_fn, self._output_nr
        old._requires_grad = self._requires_grad
        node._saved = tuple(save(old) if saved_tensor(s) is self else s
                            for s in node._saved)
    _check_cast(res._dtype, self._dtype)
    if res._dtype is not self._dtype:
        res = res.to(self._dtype)
    base = self._base
    if base is None or self._view_fn is None:
        write_into(self, res._data, res._dtype)
        _adopt(self, res)
        return self
    _rebase_view(self, res)
    return self


def write_into(self, arr, dt):
    """Copies array ``arr`` (dtype ``dt``) into ``self`` and bumps its version."""
    _check_cast(dt, self._dtype)
    d = self._data
    if d.shape != arr.shape:
        # In-place results may not broadcast to a bigger shape than self.
        try:
            bshape = np.broadcast_shapes(d.shape, arr.shape)
        except ValueError:
            bshape = None
        if bshape != d.shape:
            raise RuntimeError(f"output with shape {list(d.shape)} doesn't match the broadcast "
                               f"shape {list(bshape if bshape is not None else arr.shape)}")
    d[...] = arr
    self._version[0] += 1


def write_out(res, out):
    """Implements ``out=``: ``res`` is written into ``out``, which is resized
    (keeping its dtype) when the shapes differ, as PyTorch does. A tuple of
    results (``sort``'s values and indices) goes into a tuple of outs."""
    if out is None:
        return res
    if isinstance(res, tuple):
        for o, r in zip(out, res):
            write_out(r, o)
        return type(res)(*out) if hasattr(res, "_fields") else tuple(out)
    if out._data.shape != res._data.shape:
        out._data = xp_of(out._data).empty(res._data.shape, out._data.dtype)
    write_into(out, res._data, res._dtype)
    return out


def _adopt(self, res):
    """``self`` takes over ``res``'s place in the graph after an in-place op."""
    node = res._grad_fn
    self._grad_fn = node
    self._output_nr = res._output_nr
    self._requires_grad = True
    if node._saved:
        node._saved = tuple(_retarget(s, res, self) for s in node._saved)


def _retarget(s, old, new):
    if saved_tensor(s) is old:
        s = save(new, s[2])
    return s


class _CopySlicesBackward:
    """Backward of an in-place op applied through a view: the base's gradient
    passes unchanged outside the view; inside it goes through the op's rule."""

    @staticmethod
    def backward(ctx, grad):
        result = grad.clone()
        view_fn = ctx.view_fn
        grad_slice = view_fn(result)
        res = ctx.fn_node.apply(grad_slice.clone())
        res = [_validate_into(ctx.fn_node, i, g) for i, g in enumerate(res)]
        from ..autograd.grad_mode import no_grad
        if res[0] is None:
            with no_grad():
                grad_slice.zero_()
        elif STATE.enabled:
            result = _scatter_view(result, view_fn, res[0])
        else:
            grad_slice._data[...] = res[0]._data
        return (result,) + tuple(res[1:])


def _scatter_view(result, view_fn, value):
    """``result`` with its ``view_fn`` region replaced by ``value``, recorded so
    that double-backward through an in-place-on-view op works."""
    from .._backend import xp_of
    xp = xp_of(result._data)
    keep = _wrap(xp.ones(result.shape, dtype=bool))
    view_fn(keep)._data[...] = False
    return result * keep + _Place.apply(value, view_fn, result)


class _Place:
    """Zeros shaped like ``like`` with ``value`` written at the view region."""

    @staticmethod
    def apply(value, view_fn, like):
        out = _wrap(_zeros_array(like), like._dtype)
        view_fn(out)._data[...] = value._data
        record(PlaceBackward, (value,), out, view_fn=view_fn)
        return out


def _zeros_array(like):
    from .._backend import xp_of
    return xp_of(like._data).zeros(like._data.shape, like._data.dtype)


PlaceBackward = node("CopySlicesPlaceBackward", lambda ctx, g: ctx.view_fn(g))


def _validate_into(node, i, g):
    from ..autograd.graph import _validate
    return _validate(node, i, g)


CopySlices = node("CopySlices", _CopySlicesBackward.backward)


def _rebase_view(self, res):
    """In-place result ``res`` through view ``self`` of ``base``: rewrite the
    base's history with a CopySlices node (as PyTorch does)."""
    base = self._base
    fn_node = res._grad_fn
    write_into(self, res._data, res._dtype)
    old_edge = (base._grad_fn, base._output_nr) if base._grad_fn is not None else \
        ((base._accumulator(), 0) if base._requires_grad else (None, 0))
    n = CopySlices()
    n.next_functions = (old_edge,) + tuple(fn_node.next_functions[1:])
    n._meta = [(base._data.shape, base._dtype) if old_edge[0] is not None else None] + \
        list(fn_node._meta[1:])
    n.needs_input_grad = (old_edge[0] is not None,) + tuple(fn_node.needs_input_grad[1:])
    n._out_meta = [(base._data.shape, base._dtype, base.device)]
    n.view_fn = self._view_fn
    n.fn_node = fn_node
    # fn_node's first input edge (to the old view) is replaced by CopySlices.
    base._grad_fn = n
    base._output_nr = 0
    base._requires_grad = True
    from .._tensor import _refresh_view_grad_fn
    _refresh_view_grad_fn(self)


# ---------------------------------------------------------------------------
# Small shared helpers
# ---------------------------------------------------------------------------

def wrap_dim(dim, ndim):
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim + n if dim < 0 else dim


def dims_arg(dim, ndim):
    """Normalises ``dim`` (None, int or sequence) to a sorted tuple of
    non-negative axes; None means all."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        d = wrap_dim(int(dim), ndim)
        return (d,) if ndim else ()   # a 0-dim tensor accepts dim 0/-1 and has no axes
    out = tuple(sorted(wrap_dim(int(d), ndim) for d in dim))
    if not ndim:
        return ()
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out[0]} appears multiple times in the list of dims")
    return out


def shape_arg(size):
    """``(2, 3)``, ``[2, 3]``, ``ember.Size`` or varargs ``2, 3`` → tuple of ints."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    for s in size:
        if type(s) is not int:
            break
    else:  # all plain ints, the common case
        return tuple(size)
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"expected a sequence of integers or a single integer, got "
                            f"'{s}' of type {type(s).__name__}")
        out.append(int(s))
    return tuple(out)


def argnames(f):
    return tuple(inspect.signature(f).parameters)


__all__ = ["export", "node", "record", "operands", "wrap", "sum_to", "inplace",
           "write_into", "check_inplace", "cast", "scalar_array", "float_dtype", "wrap_dim",
           "dims_arg", "shape_arg", "as_tensor_like", "write_out", "FUNCTIONS", "METHODS",
           "autocast_op"]


# ---------------------------------------------------------------------------
# Autocast (ember.autocast / ember.amp.autocast)
# ---------------------------------------------------------------------------

AUTOCAST = {}   # device type -> low-precision dtype while an autocast region is active


def autocast_op(policy):
    """Decorates an op with an autocast policy, as PyTorch's op lists:
    'low' — floating tensor arguments run in the autocast dtype (matmul, conv);
    'fp32' — low-precision floating arguments run in float32 (softmax, losses);
    'fp32_cuda' — float32 under CUDA autocast only (exp, sum: see CUDA_FP32).
    Only positional tensor arguments are cast."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if AUTOCAST:
                args = _autocast_args(policy, args)
            return fn(*args, **kwargs)
        wrapper.__wrapped_op__ = fn
        return wrapper
    return deco


# Ops PyTorch's CUDA autocast runs in float32 beyond the lists both devices
# share (its CPU autocast leaves these in the input dtype). Most are generated
# by tables (elementwise, reductions), so they are wrapped by name once all op
# modules are loaded (``_ops/__init__.py``); layer_norm and group_norm carry the
# decorator where they are defined.
CUDA_FP32 = ("acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
             "reciprocal", "rsqrt", "sinh", "tan", "pow", "__pow__", "__rpow__", "sum", "prod",
             "cumsum", "cumprod", "logsumexp", "norm", "dist", "renorm", "cdist")


def wrap_cuda_fp32_ops():
    wrapped = {}
    for table in (FUNCTIONS, METHODS):
        for name in CUDA_FP32:
            fn = table.get(name)
            if fn is not None:
                if fn not in wrapped:
                    wrapped[fn] = autocast_op("fp32_cuda")(fn)
                table[name] = wrapped[fn]


def _autocast_args(policy, args):
    out = []
    for a in args:
        if isinstance(a, Tensor) and a._dtype._cat == 2:
            dev = "cpu" if type(a._data) is _ndarray else "cuda"
            low = AUTOCAST.get(dev)
            if low is not None:
                if policy == "low" and a._dtype is not low:
                    a = a.to(low)
                elif (policy == "fp32" or policy == "fp32_cuda" and dev == "cuda") and \
                        a._dtype in (D.float16, D.bfloat16):
                    a = a.to(D.float32)
        elif isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):
            a = type(a)(_autocast_args(policy, a))
        out.append(a)
    return tuple(out)
