"""All nn layers: each file here defines some and lists them in ``__all__``."""
from ..._autoload import lift

__all__ = lift(__name__, __path__, globals())
