"""The autograd graph: nodes, saved tensors and the backward engine.

Every differentiable op records one ``Node`` subclass named as in PyTorch
(``MulBackward0``). A node is also the op's ``ctx``: it holds the saved tensors
(version-checked), op-specific attributes and ``next_functions``. Backward
rules are written with ember ops, so running the engine with grad mode on
(``create_graph=True``) records the backward itself and higher-order gradients
come for free.
"""
import sys

import numpy as np

from .anomaly_mode import _enabled as _anomaly
from .grad_mode import STATE

__all__ = ["Node", "saved_tensors_hooks", "save_on_cpu", "register_multi_grad_hook"]

_saved_hooks = []  # stack of (pack, unpack) from saved_tensors_hooks


class SavedTensor:
    """A tensor saved through ``saved_tensors_hooks`` (packed by the hook).
    Without hooks a saved entry is the plain tuple ``(tensor, version,
    is_output)``: cheaper to make on every recorded op."""
    __slots__ = ("version", "packed", "unpack", "is_output")

    def __init__(self, t, is_output=False):
        self.version = t._version[0]
        self.is_output = is_output
        pack, self.unpack = _saved_hooks[-1]
        self.packed = pack(t)


def save(t, is_output=False):
    """The saved-tensor entry for ``t`` (see SavedTensor)."""
    if _saved_hooks:
        return SavedTensor(t, is_output)
    return (t, t._version[0], is_output)


def saved_tensor(s):
    """The tensor a saved entry holds (None for a packed one)."""
    return s[0] if type(s) is tuple else None


class Node:
    """Base of every grad_fn. Subclasses define ``backward(ctx, *grads)``."""

    __slots__ = ("next_functions", "needs_input_grad", "__dict__", "__weakref__")
    # Rarely changed state defaults to these class attributes (kept off the
    # per-node hot path; an instance that sets one gets it in its __dict__).
    _saved = ()
    _freed = False
    _pre_hooks = _hooks = _tensor_hooks = _retain = None
    # False once any hook or retain_grad is attached: the engine takes the
    # general path for this node only then.
    _plain = True
    materialize_grads = True
    _meta = None
    _out_meta = None
    # Optional ``rule(ctx, *grad_arrays)``: the backward on raw arrays when no
    # graph is built; returns gradient arrays, or None to use ``backward``.
    _array_backward = None

    # -- introspection, as torch.autograd.graph.Node --------------------------
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    @property
    def metadata(self):
        return self.__dict__.setdefault("_metadata", {})

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` after this node runs; may return new
        grad_inputs."""
        if self._hooks is None:
            self._hooks = []
            self._plain = False
        self._hooks.append(fn)
        return _Handle(self._hooks, fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` before this node runs; may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = []
            self._plain = False
        self._pre_hooks.append(fn)
        return _Handle(self._pre_hooks, fn)

    # -- saved tensors ---------------------------------------------------------
    def save_for_backward(self, *tensors):
        self._saved = tuple(None if t is None else save(t) for t in tensors)

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access "
                "saved tensors after they have already been freed). Saved intermediate "
                "values of the graph are freed when you call .backward() or "
                "autograd.grad(). Specify retain_graph=True if you need to backward through "
                "the graph a second time or if you need to access saved tensors after "
                "calling backward.")
        out = []
        for s in self._saved:
            if type(s) is tuple:
                t = s[0]
                if t._version[0] != s[1]:
                    raise _modified(self, t, s[1], s[2])
                out.append(t)
            elif s is None:
                out.append(None)
            else:
                out.append(s.unpack(s.packed))
        return tuple(out)

    saved_variables = saved_tensors

    def _free(self):
        # Only nodes that saved something can fail a second backward (as PyTorch).
        if self._saved:
            self._freed = True
            self._saved = ()

    # -- running ---------------------------------------------------------------
    def apply(self, *grads):
        """Runs the backward rule on ``grads`` (one per output)."""
        res = type(self).backward(self, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        return res


def _modified(node, t, version, is_output):
    name = type(node).__name__
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{t.type()} {list(t.shape)}], which is "
        f"{'output 0 of ' if is_output else 'an input of '}{name}, is at version "
        f"{t._version[0]}; expected version {version} instead. Hint: the operation that "
        f"failed to compute its gradient was {name}.")


class _Handle:
    """RemovableHandle for hooks kept in a list."""

    def __init__(self, lst, item):
        self._lst, self._item = lst, item

    def remove(self):
        try:
            self._lst.remove(self._item)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.remove()


class AccumulateGrad(Node):
    """Sink node of a leaf: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def accumulate(self, grad, create_graph):
        v = self.variable
        # An array rule's result (already of v's shape and dtype) may be shared
        # with other buffers: kept as a copy, never stolen.
        shared = type(grad) is _nd
        if shared:
            grad = _wrap(grad, v._dtype)
        if v._hooks:
            for h in list(v._hooks.values()):
                r = h(grad)
                if r is not None:
                    grad, shared = r, False
        old = v._grad
        if old is None:
            if not create_graph:
                # Like PyTorch, steal the gradient's buffer only when nothing else
                # can see it (a temporary of the engine); a gradient the user
                # passed in, or one sent to two leaves, or a view, is copied.
                # The thresholds are the reference counts of an unshared engine
                # temporary; anything above them means another holder.
                a = grad._data
                steal = not shared and (type(a) is not np.ndarray or (
                    a.flags.owndata and sys.getrefcount(grad) <= 5 and
                    sys.getrefcount(a) <= 2))
                # (the copy is grad.detach().clone(), made directly)
                grad = grad.detach() if steal else _wrap(a.copy(), grad._dtype)
            v._grad = grad
        elif create_graph or STATE.enabled:
            v._grad = old + grad
        else:
            old._data += grad._data.astype(old._data.dtype, copy=False) \
                if old._data.shape == grad._data.shape else grad._data
            old._version[0] += 1
        if v._post_hooks:
            for h in list(v._post_hooks.values()):
                h(v)


def _new_node_class(name, backward):
    return type(name, (Node,), {"__slots__": (), "backward": staticmethod(backward)})


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------

def _grad_edge(t):
    """(node, output_nr) that gradients for tensor ``t`` flow into."""
    fn = t.grad_fn
    if fn is not None:
        return fn, t._output_nr
    if t._requires_grad:
        return t._accumulator(), 0
    return None, 0


def _zeros_for(meta):
    from .._tensor import _zeros_meta
    return _zeros_meta(meta)


def _validate(node, i, g):
    """Cast/reduce gradient ``g`` to the shape and dtype of ``node``'s input ``i``."""
    meta = node._meta[i] if node._meta is not None else None
    if meta is None or g is None:
        return g
    shape, dt = meta
    if g.shape != shape:
        from .._ops._core import sum_to
        try:
            g = sum_to(g, shape)
        except RuntimeError:
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {i} - got "
                f"{list(g.shape)} but expected shape compatible with {list(shape)}") from None
    if g.dtype is not dt:
        if dt.is_floating_point or dt.is_complex:
            g = g.real if (g.dtype.is_complex and not dt.is_complex) else g
            g = g.to(dt) if g.dtype is not dt else g
    return g


def run_backward(roots, grad_roots, retain_graph, create_graph, inputs=None,
                 allow_unused=True, accumulate=True):
    """Back-propagates ``grad_roots`` from the tensors ``roots``.

    With ``accumulate`` leaf gradients go into ``.grad`` (restricted to
    ``inputs`` when given); otherwise the gradients w.r.t. ``inputs`` are
    returned (``autograd.grad``).
    """
    prev = STATE.enabled
    STATE.enabled = create_graph
    try:
        return _run(roots, grad_roots, retain_graph, create_graph, inputs, allow_unused,
                    accumulate)
    finally:
        STATE.enabled = prev


def _run(roots, grad_roots, retain_graph, create_graph, inputs, allow_unused, accumulate):
    # Edges that gradient flows into from the roots.
    root_edges = []
    for t, g in zip(roots, grad_roots):
        node, nr = _grad_edge(t)
        if node is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        root_edges.append((node, nr, g))

    # Targets: for autograd.grad (or backward(inputs=...)), the edges to capture.
    targets = None
    if inputs is not None:
        targets = {}
        for k, t in enumerate(inputs):
            node, nr = _grad_edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault((node, nr), []).append(k)

    # Dependency count of every node reachable from the roots (a node enters
    # ``deps`` when first reached; roots are walked from the start).
    deps = {}
    order = []
    root_nodes = [root_edges[0][0]] if len(root_edges) == 1 else \
        list(dict.fromkeys(n for n, _, _ in root_edges))
    stack = list(root_nodes)
    rootset = set(root_nodes) if len(root_nodes) > 1 else ()
    keep_order = targets is not None
    while stack:
        n = stack.pop()
        if keep_order:
            order.append(n)
        for nxt, _ in n.next_functions:
            if nxt is not None:
                if nxt in deps:
                    deps[nxt] += 1
                else:
                    deps[nxt] = 1
                    if nxt not in rootset:
                        stack.append(nxt)

    # With targets, only nodes that lead to a target need to run.
    needed = None
    if targets is not None:
        target_nodes = {n for n, _ in targets}
        needed = set()
        # Reverse topological pass: a node is needed if it is a target or any child is.
        for n in reversed(_topo_list(order)):
            if n in target_nodes or any(c in needed for c, _ in n.next_functions
                                        if c is not None):
                needed.add(n)

    buffers = {}
    for node, nr, g in root_edges:
        buf = buffers.setdefault(node, [None] * _n_out(node))
        buf[nr] = g if buf[nr] is None else buf[nr] + g

    captured = [None] * (len(inputs) if inputs is not None else 0)
    # Ready nodes (all their consumers done) in LIFO order: any order that
    # respects the dependency counts is a valid backward schedule.
    ready = [n for n in root_nodes if n not in deps]
    pop, push = ready.pop, ready.append
    capture = targets is not None and not accumulate
    anomaly = _anomaly[0]
    # Without create_graph, nodes with an array rule (``_array_backward``) run
    # on raw arrays and pass arrays on: no Tensor per intermediate gradient.
    # Gradients become Tensors wherever anything else sees them (hooks,
    # captured results, other nodes' rules, .grad).
    arrays = not create_graph
    while ready:
        node = pop()
        grads = buffers.pop(node, None)
        if grads is None:
            grads = [None] * _n_out(node)
        if needed is not None and node not in needed:
            continue
        plain = node._plain
        if not plain or capture or type(node) is AccumulateGrad:
            ntype = type(node)
            if not plain or capture:
                grads = _tensors(grads)
                if not plain and (node._tensor_hooks is not None or node._retain is not None):
                    _tensor_hooks(node, grads, create_graph)
            if capture:
                hit = False
                for nr in range(len(grads)):
                    ks = targets.get((node, nr))
                    if ks is not None:
                        hit = True
                        g = grads[nr]
                        if g is not None and ntype is AccumulateGrad and node.variable._hooks:
                            for h in list(node.variable._hooks.values()):
                                r = h(g)
                                if r is not None:
                                    g = r
                        for k in ks:
                            captured[k] = g
                if ntype is AccumulateGrad or (hit and not _leads_further(node, needed)):
                    if not retain_graph and ntype is not AccumulateGrad:
                        node._free()
                    continue
            if ntype is AccumulateGrad:
                if grads[0] is not None and (targets is None or (node, 0) in targets):
                    node.accumulate(grads[0], create_graph)
                continue
            if not plain and node._pre_hooks is not None:
                for h in node._pre_hooks:
                    r = h(tuple(grads))
                    if r is not None:
                        grads = list(r)
        if len(grads) == 1:
            g0 = grads[0]
            if g0 is None and node.materialize_grads and node._out_meta[0] is not None:
                g0 = _zeros_for(node._out_meta[0])
            out = None
            if arrays and g0 is not None:
                fa = node._array_backward
                if fa is not None:
                    out = fa(node, g0 if type(g0) is _nd else g0._data)
            if out is None:
                out = node.backward(node, _wrap(g0) if type(g0) is _nd else g0)
                if type(out) is not tuple or len(out) < len(node.next_functions):
                    out = _outputs(node, out)
        else:
            grads = _tensors(grads)
            if node.materialize_grads and _has_none(grads):
                grads = [_zeros_for(m) if g is None and m is not None else g
                         for g, m in zip(grads, node._out_meta)]
            out = _outputs(node, node.backward(node, *grads))
        if anomaly:
            _check_nan(node, out)
        if not plain and node._hooks is not None:
            out = tuple(_tensors(out))
            for h in node._hooks:
                r = h(out, tuple(grads))
                if r is not None:
                    out = _outputs(node, tuple(r))
        if not retain_graph and node._saved:
            node._free()
        nf = node.next_functions
        metas = node._meta or (None,) * len(nf)
        i = -1
        for nxt, nr in nf:
            i += 1
            if nxt is None:
                continue
            g = out[i]
            if g is not None:
                m = metas[i]
                if m is not None:
                    if type(g) is _nd:
                        if g.shape != m[0] or g.dtype is not m[1].np:
                            g = _validate(node, i, _wrap(g))
                    elif g._data.shape != m[0] or g._dtype is not m[1]:
                        g = _validate(node, i, g)
                buf = buffers.get(nxt)
                if buf is None:
                    om = nxt._out_meta
                    buf = buffers[nxt] = [None] if om is None or len(om) == 1 else \
                        [None] * len(om)
                old = buf[nr]
                buf[nr] = g if old is None else _add(old, g)
            d = deps[nxt] - 1
            deps[nxt] = d
            if d == 0:
                push(nxt)
    if not accumulate:
        for k, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
        return captured
    return None


_nd = np.ndarray


def _wrap(a, dt=None):
    # ember._tensor imports this module: its constructor is bound on first use.
    global _wrap
    from .._tensor import _wrap
    return _wrap(a, dt)


def _tensors(grads):
    """``grads`` with the raw arrays of array rules made Tensors."""
    return [_wrap(g) if type(g) is _nd else g for g in grads]


def _add(a, b):
    if type(a) is _nd and type(b) is _nd:
        r = a + b
        return r if type(r) is _nd else np.asarray(r)  # 0-dim operands give a scalar
    return (_wrap(a) if type(a) is _nd else a) + (_wrap(b) if type(b) is _nd else b)


def _outputs(node, out):
    """A backward rule's result as a tuple with a gradient per input."""
    if type(out) is not tuple:
        out = tuple(out) if isinstance(out, list) else (out,)
    if len(out) < len(node.next_functions):
        raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                           f"gradients (expected {len(node.next_functions)}, got {len(out)})")
    return out


def _has_none(grads):
    for g in grads:
        if g is None:
            return True
    return False


def _tensor_hooks(node, grads, create_graph):
    """Runs hooks registered on (and retain_grad of) this node's output tensors."""
    if node._tensor_hooks:
        for nr, hooks in node._tensor_hooks.items():
            if grads[nr] is None:
                continue
            for h in list(hooks.values()):
                r = h(grads[nr])
                if r is not None:
                    grads[nr] = r
    if node._retain:
        for nr, ref in node._retain.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr] if create_graph else grads[nr].detach()
                t._grad = g.clone() if t._grad is None else t._grad + g


def _check_nan(node, out):
    for i, g in enumerate(out):
        a = None if g is None else g if type(g) is _nd else g._data
        if a is not None and a.dtype.kind in "fc" and bool(a.size) and \
                not bool(_isfinite_or_inf(a)):
            tb = node.metadata.get("traceback_")
            where = ("\nTraceback of forward call that caused the error:\n" + "".join(tb)) \
                if tb else ""
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               f"output.{where}")


def _isfinite_or_inf(a):
    from .._backend import xp_of
    return ~xp_of(a).isnan(a).any()


def _leads_further(node, needed):
    return any(c in needed for c, _ in node.next_functions if c is not None)


def _topo_list(order):
    """Nodes ordered so that every node comes before the nodes it feeds into
    (i.e. parents before children along next_functions)."""
    # Kahn over next_functions restricted to ``order``.
    indeg = {n: 0 for n in order}
    for n in order:
        for c, _ in n.next_functions:
            if c is not None and c in indeg:
                indeg[c] += 1
    out = []
    q = [n for n in order if indeg[n] == 0]
    while q:
        n = q.pop()
        out.append(n)
        for c, _ in n.next_functions:
            if c is not None and c in indeg:
                indeg[c] -= 1
                if indeg[c] == 0:
                    q.append(c)
    return out


def _n_out(node):
    m = node._out_meta
    return 1 if m is None else len(m)


# ---------------------------------------------------------------------------
# Saved-tensor hooks
# ---------------------------------------------------------------------------

class saved_tensors_hooks:
    """Context manager: tensors saved for backward go through ``pack_hook`` and
    come back through ``unpack_hook``."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        _saved_hooks.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *a):
        _saved_hooks.pop()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are moved to the CPU and back to their device in backward."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(t):
            return (t.device, t.detach().cpu())

        def unpack(p):
            dev, t = p
            return t.to(dev)
        super().__init__(pack, unpack)


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Calls ``fn(grads)`` once the gradients of all ``tensors`` are computed
    (mode='all') or with the first one computed (mode='any')."""
    tensors = tuple(tensors)
    state = {"grads": [None] * len(tensors), "count": 0, "fired": False}
    handles = []

    def make(i):
        def hook(g):
            if mode == "any":
                if not state["fired"]:
                    state["fired"] = True
                    fn(g)
                return None
            state["grads"][i] = g
            state["count"] += 1
            if state["count"] == sum(t.requires_grad for t in tensors):
                fn(tuple(state["grads"]))
                state["grads"] = [None] * len(tensors)
                state["count"] = 0
            return None
        return hook
    for i, t in enumerate(tensors):
        if t.requires_grad:
            handles.append(t.register_hook(make(i)))

    class _Multi:
        def remove(self):
            for h in handles:
                h.remove()
    return _Multi()
