"""ember.utils: data loading, checkpointing and small helpers."""
import importlib as _importlib


def __getattr__(name):
    if name in ("data", "checkpoint", "hooks", "benchmark", "tensorboard"):
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'ember.utils' has no attribute '{name}'")
