"""DataLoader internals: collation, fetching, the shared-memory transport and the
worker processes (mirrors ``torch.utils.data._utils``)."""
from . import collate, fetch, shared, worker

__all__ = ["collate", "fetch", "shared", "worker"]
