"""The autograd graph: nodes, saved tensors and the backward engine.

Every differentiable op records one ``Node`` subclass named as in PyTorch
(``MulBackward0``). A node is also the op's ``ctx``: it holds the saved tensors
(version-checked), op-specific attributes and ``next_functions``. Backward
rules are written with ember ops, so running the engine with grad mode on
(``create_graph=True``) records the backward itself and higher-order gradients
come for free.
"""
import itertools
import sys

import numpy as np

from .anomaly_mode import _enabled as _anomaly
from .grad_mode import STATE

__all__ = ["Node", "saved_tensors_hooks", "save_on_cpu", "register_multi_grad_hook"]

_seq = itertools.count()
_saved_hooks = []  # stack of (pack, unpack) from saved_tensors_hooks


class SavedTensor:
    __slots__ = ("tensor", "version", "packed", "unpack", "is_output")

    def __init__(self, t, is_output=False):
        self.version = t._version[0]
        self.is_output = is_output
        if _saved_hooks:
            pack, self.unpack = _saved_hooks[-1]
            self.packed = pack(t)
            self.tensor = None
        else:
            self.tensor = t
            self.unpack = None


class Node:
    """Base of every grad_fn. Subclasses define ``backward(ctx, *grads)``."""

    __slots__ = ("next_functions", "_seq", "needs_input_grad", "__dict__", "__weakref__")
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

    def __init__(self):
        self._seq = next(_seq)

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
        self._saved = tuple(None if t is None else SavedTensor(t) for t in tensors)

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
            if s is None:
                out.append(None)
                continue
            t = s.tensor
            if s.unpack is not None:
                out.append(s.unpack(s.packed))
                continue
            if t._version[0] != s.version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{t.type()} {list(t.shape)}], which is "
                    f"{'output 0 of ' + type(self).__name__ if s.is_output else 'an input of ' + type(self).__name__}"  # noqa: E501
                    f", is at version {t._version[0]}; expected version {s.version} instead. "
                    "Hint: the operation that failed to compute its gradient was "
                    f"{type(self).__name__}.")
            out.append(t)
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
        super().__init__()
        self.variable = variable
        self.next_functions = ()

    def accumulate(self, grad, create_graph):
        v = self.variable
        if v._hooks:
            for h in list(v._hooks.values()):
                r = h(grad)
                if r is not None:
                    grad = r
        old = v._grad
        if old is None:
            if not create_graph:
                # Like PyTorch, steal the gradient's buffer only when nothing else
                # can see it (a temporary of the engine); a gradient the user
                # passed in, or one sent to two leaves, or a view, is copied.
                # The thresholds are the reference counts of an unshared engine
                # temporary; anything above them means another holder.
                a = grad._data
                steal = type(a) is not np.ndarray or (
                    a.flags.owndata and sys.getrefcount(grad) <= 5 and
                    sys.getrefcount(a) <= 2)
                grad = grad.detach() if steal else grad.detach().clone()
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

    # Dependency count of every node reachable from the roots.
    deps = {}
    order = []
    stack = list(dict.fromkeys(n for n, _, _ in root_edges))
    seen = set(stack)
    get = deps.get
    keep_order = targets is not None
    while stack:
        n = stack.pop()
        if keep_order:
            order.append(n)
        for nxt, _ in n.next_functions:
            if nxt is not None:
                deps[nxt] = get(nxt, 0) + 1
                if nxt not in seen:
                    seen.add(nxt)
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
    ready = [n for n in dict.fromkeys(n for n, _, _ in root_edges) if n not in deps]
    pop, push = ready.pop, ready.append
    capture = targets is not None and not accumulate
    anomaly = _anomaly[0]
    while ready:
        node = pop()
        grads = buffers.pop(node, None)
        if grads is None:
            grads = [None] * _n_out(node)
        if needed is not None and node not in needed:
            continue
        ntype = type(node)
        plain = node._plain
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
            out = node.backward(node, g0)
        else:
            if node.materialize_grads and _has_none(grads):
                grads = [_zeros_for(m) if g is None and m is not None else g
                         for g, m in zip(grads, node._out_meta)]
            out = node.backward(node, *grads)
        if type(out) is not tuple:
            out = tuple(out) if isinstance(out, list) else (out,)
        if anomaly:
            _check_nan(node, out)
        if not plain and node._hooks is not None:
            for h in node._hooks:
                r = h(out, tuple(grads))
                if r is not None:
                    out = tuple(r)
        if not retain_graph and node._saved:
            node._free()
        nf = node.next_functions
        if len(out) < len(nf):
            raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                               f"gradients (expected {len(nf)}, got {len(out)})")
        metas = node._meta
        i = -1
        for nxt, nr in nf:
            i += 1
            if nxt is None:
                continue
            g = out[i]
            if g is not None:
                m = metas[i] if metas is not None else None
                if m is not None and (g._data.shape != m[0] or g._dtype is not m[1]):
                    g = _validate(node, i, g)
                buf = buffers.get(nxt)
                if buf is None:
                    om = nxt._out_meta
                    buf = buffers[nxt] = [None] if om is None or len(om) == 1 else \
                        [None] * len(om)
                buf[nr] = g if buf[nr] is None else buf[nr] + g
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
        if g is not None and g._data.dtype.kind in "fc" and \
                bool(g._data.size) and not bool(_isfinite_or_inf(g._data)):
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
