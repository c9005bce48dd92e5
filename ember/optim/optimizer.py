"""The optimizer base class (``torch.optim.Optimizer``) and the helpers every
ember optimizer shares.

The update of each optimizer is written on the raw arrays (``p._data``,
``p.grad._data``) with in-place ufuncs (``out=``), one pass over the group's
parameters per step: no op dispatch, no autograd recording, a reused scratch
buffer instead of temporaries. The formulas and their order of operations
follow PyTorch's single-tensor implementation (the CPU default), so a
trajectory matches PyTorch's up to float rounding.

Differences from PyTorch: ``foreach``, ``fused`` and ``capturable`` are
accepted and stored but select nothing (there is one implementation);
``differentiable=True`` is accepted but the update is not recorded by autograd.
"""
import itertools
import threading
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy

import numpy as np

from .. import _dtype as D
from .._ops._parallel import alone, split
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import enable_grad
from ..utils.hooks import RemovableHandle

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Singleton marking a hyper-parameter without default."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """Registers ``hook(optimizer, args, kwargs)`` to run before every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """Registers ``hook(optimizer, args, kwargs)`` to run after every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    return handle


def _to_scalar(x):
    if isinstance(x, Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


def _get_scalar_dtype(is_fused=None):
    if is_fused:
        return D.float32
    return D.float64 if D.get_default_dtype() is D.float64 else D.float32


def _is_foreign_tensor(v):
    """A PyTorch tensor (or similar) inside a state dict handed to ``load_state_dict``."""
    return hasattr(v, "detach") and hasattr(v, "numpy") and hasattr(v, "dtype")


def _from_foreign(v):
    v = v.detach().cpu()
    if str(v.dtype) == "torch.bfloat16":
        import ml_dtypes
        a = v.float().numpy().astype(ml_dtypes.bfloat16)
    else:
        a = v.numpy().copy()
    return _wrap(np.asarray(a))


def _typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    return type(obj).__qualname__


class Optimizer:
    """Base class for all optimizers (``torch.optim.Optimizer``)."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._patch_step_function()

        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # ------------------------------------------------------------------ step hooks
    @staticmethod
    def profile_hook_step(func):
        """Wraps ``step`` so that it runs the step pre- and post-hooks."""
        def wrapper(*args, **kwargs):
            self = args[0]
            for pre_hook in itertools.chain(_global_optimizer_pre_hooks.values(),
                                            self._optimizer_step_pre_hooks.values()):
                result = pre_hook(self, args, kwargs)
                if result is not None:
                    if isinstance(result, tuple) and len(result) == 2:
                        args, kwargs = result
                    else:
                        raise RuntimeError(f"{func} must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
            out = func(*args, **kwargs)
            for post_hook in itertools.chain(self._optimizer_step_post_hooks.values(),
                                             _global_optimizer_post_hooks.values()):
                post_hook(self, args, kwargs)
            return out
        wrapper.__name__ = getattr(func, "__name__", "step")
        wrapper.__qualname__ = getattr(func, "__qualname__", "step")
        wrapper.__doc__ = func.__doc__
        wrapper.__wrapped__ = func
        return wrapper

    def _patch_step_function(self):
        self._zero_grad_profile_name = f"Optimizer.zero_grad#{self.__class__.__name__}.zero_grad"
        if not getattr(self.__class__.step, "hooked", None):
            self.__class__.step = self.profile_hook_step(self.__class__.step)
            self.__class__.step.hooked = True

    def _register(self, hooks, hook, prepend=False):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook):
        return self._register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        return self._register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``
        exactly as PyTorch packs it (state tensors are not copied)."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update({id(p): i for i, p in enumerate(group["params"], start_index)
                                   if id(p) not in param_mappings})
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups,
                                                 key=None):
        fused = capturable = False
        for pg in param_groups:
            if param_id in pg["params"]:
                fused = pg.get("fused", False)
                capturable = pg.get("capturable", False)
                break
        if key == "step":
            if capturable or fused:
                return value.to(dtype=D.float32, device=param.device)
            return value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)

    def load_state_dict(self, state_dict):
        """Loads a state dict made by :meth:`state_dict` (ember's or PyTorch's, once its
        tensors are ember tensors)."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                          itertools.chain.from_iterable(g["params"] for g in groups)))

        def _cast(param, value, param_id=None, param_groups=None, key=None):
            if not isinstance(value, Tensor) and _is_foreign_tensor(value):
                value = _from_foreign(value)
            if isinstance(value, Tensor):
                return Optimizer._process_value_according_to_param_policy(
                    param, value, param_id, param_groups, key)
            if isinstance(value, dict):
                return {k: _cast(param, v, param_id, param_groups, k) for k, v in value.items()}
            if isinstance(value, Iterable) and not isinstance(value, str):
                return type(value)(_cast(param, v, param_id, param_groups) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v, k, state_dict["param_groups"])
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if g._grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g._data.fill(0)
                    g._version[0] += 1

    def step(self, closure=None):
        raise NotImplementedError

    def add_param_group(self, param_group):
        """Adds a group of parameters (with its own options) to optimize."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and \
                    not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)


# ---------------------------------------------------------------------------
# The shared array-level driver
# ---------------------------------------------------------------------------

class _ArrayOptimizer(Optimizer):
    """An optimizer whose ``step`` hands, per group, the parameters that have a
    gradient to ``_update(group, params)``, which updates their arrays in place.
    The parameters' version counters are bumped afterwards."""

    def step(self, closure=None):
        """Performs a single optimization step; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p._grad is not None]
            if params:
                self._update(group, params)
                for p in params:
                    p._version[0] += 1
        return loss

    def _update(self, group, params):
        raise NotImplementedError

    def _scratch(self, like, slot):
        """A reused buffer shaped and typed like array ``like`` (one per ``slot``)."""
        cache = self.__dict__.get("_scratch_bufs")
        if cache is None:
            cache = self.__dict__["_scratch_bufs"] = {}
        return _cached(cache, like, slot, 1)


def _cached(cache, like, slot, least):
    """A scratch array like ``like`` from ``cache`` (one buffer per ``slot``, dtype
    and array type, of at least ``least`` elements, grown as needed)."""
    key = (slot, like.dtype, type(like))
    buf = cache.get(key)
    if buf is None or buf.size < like.size:
        buf = cache[key] = _xp(like).empty(max(like.size, least), like.dtype)
    return buf[:like.size].reshape(like.shape)


# Units: an update cut into pieces (big parameters in blocks, the rest whole)
# that the intra-op threads take in turn; ufuncs release the GIL.
_BLOCK = 1 << 16            # elements per block of a big parameter over the threads
_SERIAL_BLOCK = 1 << 20     # ... on the calling thread alone (bounds its scratch)
_thread_bufs = threading.local()


def _thread_scratch(like, slot):
    """A scratch array like ``like``, one per ``slot`` and thread (units of an
    update run side by side); kept for reuse up to ``_SERIAL_BLOCK`` elements."""
    if like.size > _SERIAL_BLOCK:
        return _xp(like).empty(like.shape, like.dtype)
    bufs = getattr(_thread_bufs, "bufs", None)
    if bufs is None:
        bufs = _thread_bufs.bufs = {}
    return _cached(bufs, like, slot, _BLOCK)


def _units(items, block):
    """The units of ``items``: a parameter of at least ``2 * block`` elements
    whose arrays are all contiguous in ``block``-element pieces, others whole."""
    for arrays, consts in items:
        n = arrays[0].size
        if n >= 2 * block and all(t is None or t.flags.c_contiguous for t in arrays):
            flat = [t.reshape(-1) if t is not None else None for t in arrays]
            for b in range(0, n, block):
                sl = slice(b, b + block)
                yield tuple(t[sl] if t is not None else None for t in flat) + consts
        else:
            yield tuple(arrays) + consts


def _run_units(unit, items):
    """Runs ``unit(*arrays, *consts)`` over each ``(arrays, consts)`` of ``items``
    (a NumPy parameter's arrays, its own first, None for an absent one) as units
    (``_units``) that the intra-op threads take in turn, as short work
    (``_parallel.split``'s ``short``). When it would run on this thread alone,
    the units are big pieces (mlp_train's SGD step: 97 us, 114 in 64K pieces)."""
    work = sum(arrays[0].size for arrays, _ in items)
    if alone(work, short=True):
        for u in _units(items, _SERIAL_BLOCK):
            unit(*u)
        return
    units = list(_units(items, _BLOCK))

    def run(i, j):
        for u in units[i:j]:
            unit(*u)
    split(run, len(units), work, np, 4, short=True)


def _xp(a):
    if type(a) is np.ndarray:
        return np
    from .._backend import xp_of
    return xp_of(a)


def _real(a):
    """Complex arrays as interleaved real arrays (``torch.view_as_real``): the
    optimizers treat real and imaginary parts as independent numbers."""
    if a.dtype.kind != "c":
        return a
    return a[..., None].view(a.real.dtype)


def _state_like(p, value=0):
    """A new state tensor shaped and typed like parameter ``p``, filled with ``value``
    (for complex parameters, both parts)."""
    a = _xp(p._data).zeros_like(p._data)
    if value:
        _real(a)[...] = value
    return _wrap(a, p._dtype)


def _step_tensor(value=0.0, is_fused=None):
    """PyTorch's ``state['step']``: a 0-dim float32 (float64 under a float64 default)
    CPU tensor."""
    dt = _get_scalar_dtype(is_fused)
    return _wrap(np.asarray(value, dtype=dt.np), dt)


def _init_state(state, p, *buffers, **scalars):
    """Fills a parameter's empty ``state`` in PyTorch's key order: ``step``, then the
    0-dim ``scalars`` (name=value), then the zero ``buffers`` shaped like ``p``."""
    state["step"] = _step_tensor()
    for k, v in scalars.items():
        state[k] = _step_tensor(v)
    for k in buffers:
        state[k] = _state_like(p)


def _bump_step(state):
    """``state['step'] += 1``; returns the new step as a Python float."""
    t = state["step"]
    if not isinstance(t, Tensor):
        t = state["step"] = _step_tensor(float(t))
    a = t._data
    a += 1
    t._version[0] += 1
    return float(a)


def _arrays(p, state, *keys):
    """The real-viewed arrays of parameter ``p``, its gradient and state entries ``keys``."""
    return (_real(p._data), _real(p._grad._data)) + tuple(_real(state[k]._data) for k in keys)


def _effective_grad(opt, a, g, maximize, weight_decay):
    """``-g`` if maximizing, plus ``weight_decay * a`` (coupled decay), in scratch slot 0
    (``opt``'s, or this thread's when ``opt`` is None); ``g`` itself when neither applies."""
    if not (weight_decay or maximize):
        return g
    out = opt._scratch(a, 0) if opt is not None else _thread_scratch(a, 0)
    if weight_decay:
        np.multiply(a, weight_decay, out=out)
        return (np.subtract if maximize else np.add)(out, g, out=out)
    return np.negative(g, out=out)


def _lerp_(a, end, weight, tmp):
    """``a.lerp_(end, weight)`` with PyTorch's two-branch formula; ``tmp`` is scratch."""
    np.subtract(end, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1 - weight
        np.subtract(end, tmp, out=a)


def _addcmul_sq_(a, g, value, tmp):
    """``a.addcmul_(g, g, value=value)``."""
    np.multiply(g, value, out=tmp)
    tmp *= g
    a += tmp


def _check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_nonneg(**values):
    """PyTorch's ``ValueError("Invalid <name> value: <v>")`` for the first of ``values``
    (name=value, in order) that is not ``>= 0``."""
    for name, v in values.items():
        if not 0.0 <= v:
            raise ValueError(f"Invalid {name} value: {v}")


def _check_fused(fused, foreach, differentiable):
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _setdefaults(opt, state, **defaults):
    """``__setstate__`` body shared by the optimizers: fill missing group options."""
    Optimizer.__setstate__(opt, state)
    for group in opt.param_groups:
        for k, v in defaults.items():
            group.setdefault(k, v)
