"""Finite-difference gradient checks (``gradcheck``/``gradgradcheck``)."""
import numpy as np

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    from .._tensor import Tensor
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _numerical_jacobian(fn, inputs, eps):
    """Columns: d(all outputs flattened)/d(input element), central differences."""
    from .._tensor import Tensor
    jac = []
    for t in inputs:
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        flat = t._data.reshape(-1)  # a view: same buffer
        cols = []
        for k in range(flat.size):
            orig = flat[k].copy()
            flat[k] = orig + eps
            plus = _flat_out(fn(*inputs))
            flat[k] = orig - eps
            minus = _flat_out(fn(*inputs))
            flat[k] = orig
            cols.append((plus - minus) / (2 * eps))
        jac.append(np.stack(cols, 1) if cols else np.zeros((0, 0)))
    return jac


def _flat_out(out):
    outs = _as_tuple(out)
    parts = [np.asarray(o.detach().cpu()._data, dtype=np.complex128 if o.is_complex()
                        else np.float64).reshape(-1)
             for o in outs if o.dtype.is_floating_point or o.dtype.is_complex]
    return np.concatenate(parts) if parts else np.zeros(0)


def _analytical_jacobian(fn, inputs):
    from . import grad
    outs = [o for o in _as_tuple(fn(*inputs)) if o.dtype.is_floating_point or
            o.dtype.is_complex]
    diff_in = [t for t in inputs if getattr(t, "requires_grad", False)]
    total = sum(o.numel() for o in outs)
    jac = [np.zeros((total, t.numel())) for t in diff_in]
    row = 0
    for o in outs:
        if not o.requires_grad:
            row += o.numel()
            continue
        for k in range(o.numel()):
            g = o.new_zeros(o.shape)
            g._data.reshape(-1)[k] = 1
            gs = grad(o, diff_in, g, retain_graph=True, allow_unused=True)
            for j, gi in enumerate(gs):
                if gi is not None:
                    jac[j][row] = np.asarray(gi.detach().cpu()._data).reshape(-1).real
            row += 1
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False, masked=None):
    """Compares autograd's gradients of ``func`` with central differences.
    Inputs that require grad should be float64 (real inputs only)."""
    inputs = _as_tuple(inputs)
    for t in inputs:
        if getattr(t, "requires_grad", False) and t.dtype.name not in ("float64", "complex128"):
            import warnings
            warnings.warn(f"Input #{inputs.index(t)} requires gradient and is not a double "
                          "precision floating point or complex. This check will likely fail if "
                          "all the inputs are not of double precision floating point or complex.",
                          UserWarning, stacklevel=2)
    num = _numerical_jacobian(func, inputs, eps)
    ana = _analytical_jacobian(func, inputs)
    for i, (n, a) in enumerate(zip(num, ana)):
        n = n.real if np.iscomplexobj(n) else n
        if n.size == 0 and a.size == 0:
            continue
        if n.shape != a.shape or not np.allclose(a, n, rtol=rtol, atol=atol):
            msg = (f"Jacobian mismatch for output 0 with respect to input {i},\n"
                   f"numerical:{n}\nanalytical:{a}\n")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, **kw):
    """gradcheck of the map (inputs, grad_outputs) -> gradients."""
    from .._tensor import Tensor
    from . import grad
    inputs = _as_tuple(inputs)
    outs = _as_tuple(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = []
        for o in outs:
            g = o.detach().clone()
            g._data[...] = rng.standard_normal(o.shape)
            grad_outputs.append(g.requires_grad_(True))
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def new_func(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _as_tuple(func(*ins)) if o.requires_grad]
        gs = grad(outs, [ins[i] for i in diff_idx], gos[:len(outs)], create_graph=True,
                  allow_unused=True)
        return tuple(g for g in gs if g is not None)
    return gradcheck(new_func, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
