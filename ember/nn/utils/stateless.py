"""functional_call: run a module with parameters/buffers swapped for given
tensors, restoring them afterwards."""
import contextlib

__all__ = ["functional_call"]


def _owner(module, name):
    prefix, _, attr = name.rpartition(".")
    return module.get_submodule(prefix), attr


def _swap(module, name, value):
    mod, attr = _owner(module, name)
    for store in ("_parameters", "_buffers"):
        d = mod.__dict__[store]
        if attr in d:
            old = d[attr]
            d[attr] = value
            return store, old
    old = getattr(mod, attr, None)
    object.__setattr__(mod, attr, value)
    return None, old


def _restore(module, name, where, old):
    mod, attr = _owner(module, name)
    if where is None:
        object.__setattr__(mod, attr, old)
    else:
        mod.__dict__[where][attr] = old


@contextlib.contextmanager
def _reparametrize_module(module, parameters_and_buffers, tie_weights=False, strict=False,
                          stack_weights=False):
    if tie_weights:
        # tied names (same tensor reachable under several names) follow the given one
        alias = {}
        for name, t in list(module.named_parameters(remove_duplicate=False)) + \
                list(module.named_buffers(remove_duplicate=False)):
            alias.setdefault(id(t), []).append(name)
        extra = {}
        for names in alias.values():
            given = [n for n in names if n in parameters_and_buffers]
            if len(given) > 1:
                first = parameters_and_buffers[given[0]]
                for n in given[1:]:
                    if parameters_and_buffers[n] is not first:
                        raise ValueError(f"functional_call got multiple values for keys "
                                         f"{given}, which are tied. Consider using "
                                         "tie_weights=False")
            if given:
                for n in names:
                    if n not in parameters_and_buffers:
                        extra[n] = parameters_and_buffers[given[0]]
        parameters_and_buffers = {**parameters_and_buffers, **extra}
    if strict:
        expected = {n for n, _ in module.named_parameters(remove_duplicate=False)} | \
            {n for n, _ in module.named_buffers(remove_duplicate=False)}
        missing = sorted(expected - set(parameters_and_buffers))
        unexpected = sorted(set(parameters_and_buffers) - expected)
        msgs = []
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(
                module._get_name(), "\n\t".join(msgs)))
    saved = []
    try:
        for name, value in parameters_and_buffers.items():
            saved.append((name,) + _swap(module, name, value))
        yield
    finally:
        for name, where, old in reversed(saved):
            _restore(module, name, where, old)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    if isinstance(parameter_and_buffer_dicts, dict):
        merged = parameter_and_buffer_dicts
    else:
        merged = {}
        for d in parameter_and_buffer_dicts:
            dup = set(d) & set(merged)
            if dup:
                raise ValueError(f"{sorted(dup)} appeared in multiple dictionaries; behavior of "
                                 "functional call is ambiguous")
            merged.update(d)
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize_module(module, merged, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)

