"""``ember.utils.data.distributed``: PyTorch's import path for DistributedSampler."""
from .sampler import DistributedSampler

__all__ = ["DistributedSampler"]
