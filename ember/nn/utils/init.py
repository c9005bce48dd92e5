"""skip_init."""
import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """Builds ``module_cls`` without running its parameter initialisation (the
    parameters hold whatever ``reset_parameters`` would overwrite: zeros here)."""
    from ..modules.module import Module
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    reset = getattr(module_cls, "reset_parameters", None)
    if reset is None:
        return module_cls(*args, **kwargs)
    module_cls.reset_parameters = lambda self: None
    try:
        return module_cls(*args, **kwargs)
    finally:
        module_cls.reset_parameters = reset
