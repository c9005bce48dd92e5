"""``ember.nn.factory_kwargs`` (PyTorch's ``torch.nn.factory_kwargs``)."""

__all__ = ["factory_kwargs"]


def factory_kwargs(kwargs):
    """Canonicalises ``{"device", "dtype", "memory_format", "factory_kwargs"}``
    keyword arguments into one dict for factory functions (``ember.empty``...);
    unexpected keys or a key given twice raise ``TypeError``."""
    if kwargs is None:
        return {}
    simple_keys = {"device", "dtype", "memory_format"}
    expected_keys = simple_keys | {"factory_kwargs"}
    if not kwargs.keys() <= expected_keys:
        raise TypeError(f"unexpected kwargs {kwargs.keys() - expected_keys}")
    r = dict(kwargs.get("factory_kwargs", {}))
    for k in simple_keys:
        if k in kwargs:
            if k in r:
                raise TypeError(f"{k} specified twice, in **kwargs and in factory_kwargs")
            r[k] = kwargs[k]
    return r
