"""Datasets for tests/test_data.py that worker processes must import by name
(spawn); kept free of torch so spawned workers start fast."""
import gc
import os
import signal
import time

import numpy as np

import ember


def kib(field):
    """A memory figure of this process in KiB: Private_Dirty (from smaps_rollup)
    or RssAnon/RssShmem (from status)."""
    src = "/proc/self/smaps_rollup" if field == "Private_Dirty" else "/proc/self/status"
    with open(src) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class MemProbe:
    """Map-style, used with batch_size=None: index "read" reads every element of
    ``data``, "gc" runs a full garbage collection; any other index names a
    memory figure to report."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return 1

    def __getitem__(self, key):
        if key == "gc":
            return gc.collect()
        if key == "read":
            if isinstance(self.data, np.ndarray):
                return float(self.data.sum())
            total = 0.0
            for x in self.data:
                total += x
            return total
        return kib(key)


class Indices:
    """Sample i is i."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


class Faulty(Indices):
    """Raises, or kills its own worker, at index ``at``."""

    def __init__(self, n, at, how):
        super().__init__(n)
        self.at, self.how = at, how

    def __getitem__(self, i):
        if i == self.at:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise self.how(f"bad item {i}")
        return i


class Sleepy(Indices):
    """Sleeps ``delay`` seconds at index ``at`` (every index if ``at`` is None)."""

    def __init__(self, n, delay, at=None):
        super().__init__(n)
        self.delay, self.at = delay, at

    def __getitem__(self, i):
        if self.at is None or i == self.at:
            time.sleep(self.delay)
        return i


class Big:
    """Sample i is a 256 KiB float32 tensor filled with i."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return ember.full((256, 256), float(i))
