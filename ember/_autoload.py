"""Re-export helper for packages assembled from many files (``ember.nn``,
``ember.nn.functional``): every non-underscore submodule is imported and its
``__all__`` names are lifted into the package, so adding a file needs no edit
of the package's ``__init__``."""
import importlib
import pkgutil


def lift(package_name, package_path, namespace):
    names = []
    for info in sorted(pkgutil.iter_modules(package_path), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{package_name}.{info.name}")
        for n in getattr(mod, "__all__", ()):
            namespace[n] = getattr(mod, n)
            names.append(n)
    return names
