"""Higher-level differentiation: jacobian, hessian, vjp, jvp, hvp, vhp.

Built on reverse mode only: ``jvp`` uses the double-backward trick (a vjp of a
vjp), which works because backward rules are written in ember ops.
``vectorize=True`` is accepted and computes row by row.
"""
from .. import _ops
from .._tensor import Tensor
from . import grad as _grad
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tup(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _prep(inputs, create_graph):
    out = []
    for t in _tup(inputs):
        t = t if create_graph and t.requires_grad else t.detach()
        out.append(t.requires_grad_(True) if not t.requires_grad else t)
    return tuple(out)


def _fill_none(grads, like, strict, what):
    res = []
    for g, t in zip(grads, like):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {len(res)}. This is not allowed in strict mode{what}.")
            g = t.new_zeros(t.shape)
        res.append(g)
    return tuple(res)


def _maybe_detach(ts, create_graph):
    return tuple(t if create_graph else t.detach() for t in ts)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """Returns (func(inputs), v^T J)."""
    single = isinstance(inputs, Tensor)
    with enable_grad():
        ins = _prep(inputs, create_graph)
        out = func(*ins)
        outs = _tup(out)
        vs = _tup(v) if v is not None else tuple(o.new_ones(o.shape) for o in outs)
        if v is None and any(o.numel() != 1 for o in outs):
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        diff = [o for o in outs if o.requires_grad]
        if diff:
            gs = _grad([o for o in outs if o.requires_grad],
                       ins, [g for o, g in zip(outs, vs) if o.requires_grad],
                       create_graph=create_graph, allow_unused=True)
        else:
            gs = (None,) * len(ins)
    gs = _fill_none(gs, ins, strict, "")
    out = out.detach() if isinstance(out, Tensor) and not create_graph else \
        (tuple(o.detach() for o in out) if not create_graph else out)
    return out, (gs[0] if single else gs)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """Returns (func(inputs), J v), via two reverse passes."""
    with enable_grad():
        ins = _prep(inputs, create_graph)
        vs = _tup(v) if v is not None else tuple(t.new_ones(t.shape) for t in ins)
        out = func(*ins)
        outs = _tup(out)
        # u is a dummy cotangent; g(u) = J^T u is linear in u, so d<g(u), v>/du = J v.
        us = tuple(o.new_zeros(o.shape).requires_grad_(True) for o in outs)
        gs = _grad(outs, ins, us, create_graph=True, allow_unused=True)
        pairs = [(g, vv) for g, vv in zip(gs, vs) if g is not None]
        if pairs:
            jv = _grad([g for g, _ in pairs], us, [vv for _, vv in pairs],
                       create_graph=create_graph, allow_unused=True)
        else:
            jv = (None,) * len(us)
    jv = _fill_none(jv, outs, strict, "")
    outd = _maybe_detach(outs, create_graph)
    jv = _maybe_detach(jv, create_graph)
    single_out = isinstance(out, Tensor)
    return (outd[0] if single_out else outd), (jv[0] if single_out else jv)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """J[i][j] = d out_i / d in_j, shaped out_i.shape + in_j.shape."""
    single_in = isinstance(inputs, Tensor)
    with enable_grad():
        ins = _prep(inputs, create_graph)
        out = func(*ins)
        outs = _tup(out)
        rows = []
        for o in outs:
            per_in = [[] for _ in ins]
            flat = o.reshape(-1)
            for k in range(flat.numel()):
                if o.requires_grad:
                    gs = _grad(flat[k], ins, retain_graph=True, create_graph=create_graph,
                               allow_unused=True)
                else:
                    gs = (None,) * len(ins)
                for j, (g, t) in enumerate(zip(gs, ins)):
                    if g is None:
                        if strict:
                            raise RuntimeError("Output 0 of the user-provided function is "
                                               f"independent of input {j}. This is not allowed "
                                               "in strict mode.")
                        g = t.new_zeros(t.shape)
                    per_in[j].append(g if create_graph else g.detach())
            row = []
            for j, t in enumerate(ins):
                st = _ops.FUNCTIONS["stack"](per_in[j]) if per_in[j] else \
                    t.new_zeros((0,) + tuple(t.shape))
                row.append(st.reshape(tuple(o.shape) + tuple(t.shape)))
            rows.append(tuple(row))
    single_out = isinstance(out, Tensor)
    if single_out:
        return rows[0][0] if single_in else rows[0]
    return tuple(r[0] for r in rows) if single_in else tuple(rows)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """Hessian of a scalar function."""
    single_in = isinstance(inputs, Tensor)

    def jac_fn(*ins):
        with enable_grad():
            out = func(*ins)
            if not isinstance(out, Tensor) or out.numel() != 1:
                raise RuntimeError("The Tensor returned by the function given to hessian should "
                                   "contain a single element")
            gs = _grad(out.reshape(()), ins, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else t.new_zeros(t.shape) * t for g, t in
                     zip(gs, ins))
    res = jacobian(jac_fn, _tup(inputs), create_graph=create_graph, strict=strict)
    if single_in:
        return res[0][0]
    return res


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H)."""
    single = isinstance(inputs, Tensor)
    with enable_grad():
        ins = _prep(inputs, create_graph)
        out = func(*ins)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hvp should contain "
                               "a single element")
        gs = _grad(out.reshape(()), ins, create_graph=True, allow_unused=True)
        vs = _tup(v)
        pairs = [(g, vv) for g, vv in zip(gs, vs) if g is not None]
        hv = _grad([g for g, _ in pairs], ins, [vv for _, vv in pairs],
                   create_graph=create_graph, allow_unused=True) if pairs else (None,) * len(ins)
    hv = _maybe_detach(_fill_none(hv, ins, strict, ""), create_graph)
    o = out if create_graph else out.detach()
    return o, (hv[0] if single else hv)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v); the Hessian is symmetric so this equals vhp."""
    return vhp(func, inputs, v, create_graph, strict)
