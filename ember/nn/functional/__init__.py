"""ember.nn.functional: each file here contributes functions listed in its
``__all__`` (activations, losses, conv, pooling, ...)."""
from ..._autoload import lift

__all__ = lift(__name__, __path__, globals())
