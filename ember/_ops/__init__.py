"""ember's op library: every tensor operation is defined once in a module of
this package (see ``_core`` for how) and registered into ``FUNCTIONS``
(``ember.<name>``) and ``METHODS`` (``Tensor.<name>``). Modules are found and
imported automatically, so adding an op file needs no edit here."""
import importlib
import pkgutil

from ._core import FUNCTIONS, METHODS

for _m in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if not _m.startswith("_"):
        importlib.import_module(f"{__name__}.{_m}")

from ._core import wrap_cuda_fp32_ops  # noqa: E402

wrap_cuda_fp32_ops()


def install(tensor_cls):
    """Installs the registered methods on ``tensor_cls``; what ``_tensor.py``
    defines itself (identity, metadata, conversions) is left as is."""
    for name, fn in METHODS.items():
        if name not in tensor_cls.__dict__:
            setattr(tensor_cls, name, fn)
