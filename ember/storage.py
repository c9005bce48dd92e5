"""``ember.storage`` (as ``torch.storage``): the storage classes behind tensors."""
from ._storage import TypedStorage, UntypedStorage

__all__ = ["TypedStorage", "UntypedStorage"]
