"""``DataLoader``: batches from a dataset, in the main process or in worker processes.

With ``num_workers > 0`` each worker is a real process (``multiprocessing``,
the platform's default start method unless ``multiprocessing_context`` says
otherwise). What differs from PyTorch:

* batches come back through shared memory that ``default_collate`` stacks into
  directly in the worker; other arrays travel as pickle protocol-5 out-of-band
  buffers written to shared memory. Only small pickles cross the sockets.
* the main process waits on the workers' sockets *and* their process sentinels,
  so a killed worker raises ``RuntimeError`` at once (no 5-second polls) and no
  helper threads run in the main process.
* a worker exception is re-raised with its type and the worker's traceback in
  the message, as in PyTorch.
* workers are reaped (no zombies) when the iterator is exhausted, deleted,
  garbage-collected, interrupted (workers ignore SIGINT; the main process's
  ``KeyboardInterrupt`` unwinds and shuts them down) or at interpreter exit.
* ``pin_memory`` only matters with CUDA: NumPy memory needs no pinning.
* shuffles come from ember's generators: deterministic for a seed and the same
  for any ``num_workers``, but not PyTorch's order.
See ``dataset.py`` for how workers avoid copy-on-read memory growth.
"""
import multiprocessing
import os
import warnings
import weakref

import ember

from . import _utils
from ._utils import shared
from ._utils.worker import WorkerPool
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]

get_worker_info = _utils.worker.get_worker_info
default_collate = _utils.collate.default_collate
default_convert = _utils.collate.default_convert


class _DatasetKind:
    Map = 0
    Iterable = 1


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: None forever (the dataset decides)."""

    def __iter__(self):
        while True:
            yield None


def _cuda_available():
    try:
        return ember.cuda.is_available()
    except Exception:
        return False


def _pin(data):
    if hasattr(data, "pin_memory"):  # tensors, and user batch types that define it
        return data.pin_memory()
    if isinstance(data, dict):
        return {k: _pin(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_pin(v) for v in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_pin(v) for v in data)
    return data


class DataLoader:
    """Combines a dataset and a sampler and iterates over batches; see PyTorch's
    ``torch.utils.data.DataLoader`` for the options (all supported) and the module
    docstring for what differs."""

    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; "
                             "use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called = None
        self._iterator = None
        self._initialized = True
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self):
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, ctx):
        if ctx is not None:
            if self.num_workers <= 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 "loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(ctx, str):
                methods = multiprocessing.get_all_start_methods()
                if ctx not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={ctx!r}")
                ctx = multiprocessing.get_context(ctx)
            if not isinstance(ctx, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={ctx}")
        self._multiprocessing_context = ctx

    def __setattr__(self, attr, val):
        if self._initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                          "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._pool.closed:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._dataset_kind == _DatasetKind.Iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else \
                    -(-length // self.batch_size)
            return length
        return len(self._index_sampler)

    def check_worker_number_rationality(self):
        if self.num_workers <= 1:
            return
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            os.cpu_count()
        if cpus and self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. Our suggested max number of worker in current system is "
                          f"{cpus}, which is smaller than what this DataLoader is going to "
                          "create. Please be aware that excessive worker creation might get "
                          "DataLoader running slow or even freeze, lower the worker number to "
                          "avoid potential slowness/freeze if necessary.", stacklevel=2)


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        if loader.pin_memory and not _cuda_available():
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=3)
        self._pin_memory = loader.pin_memory and _cuda_available()
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        # Drawn for any num_workers, so the generator advances identically either way.
        self._base_seed = int(ember.empty((), dtype=ember.int64)
                              .random_(generator=loader.generator).item())
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        if self._dataset_kind == _DatasetKind.Iterable and \
                self._IterableDataset_len_called is not None and \
                self._num_yielded > self._IterableDataset_len_called:
            msg = (f"Length of IterableDataset {self._dataset} was reported to be "
                   f"{self._IterableDataset_len_called}(when accessing len(dataloader)), but "
                   f"{self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly "
                        "configuring the IterableDataset replica at each worker.")
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        assert self._timeout == 0, "_SingleProcessDataLoaderIter requires timeout == 0"
        self._fetcher = _utils.fetch.create_fetcher(
            self._dataset_kind == _DatasetKind.Iterable, self._dataset, self._auto_collation,
            self._collate_fn, self._drop_last)

    def _next_data(self):
        data = self._fetcher.fetch(self._next_index())
        return _pin(data) if self._pin_memory else data


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Keeps ``prefetch_factor * num_workers`` batches in flight, handing indices to
    the workers round-robin, and yields them in sampler order (or as they arrive
    with ``in_order=False``)."""

    def __init__(self, loader):
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._pool = WorkerPool(ctx, self._num_workers,
                                (self._dataset, self._collate_fn, loader.worker_init_fn),
                                self._base_seed, self._dataset_kind == _DatasetKind.Iterable,
                                self._auto_collation, self._drop_last)
        self._finalizer = weakref.finalize(self, self._pool.shutdown)
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        if not first_iter:  # persistent workers: drop what is left of the last epoch
            for w in range(self._num_workers):
                self._pool.send(w, ("reset",))
            acks = 0
            while acks < self._num_workers:
                _, (kind, _, data) = self._get()
                if kind == "ack":
                    acks += 1
                elif kind == "ok":
                    shared.loads(data)  # frees its shared memory
        self._send_idx = 0
        self._pending = {}   # task index -> worker, for tasks sent and not answered
        self._results = {}   # task index -> (kind, data), answered and not yet yielded
        self._active = [True] * self._num_workers   # False once its IterableDataset ended
        self._next_worker = 0
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        n = self._num_workers
        for _ in range(n):
            w = self._next_worker
            self._next_worker = (w + 1) % n
            if self._active[w]:
                break
        else:
            return
        try:
            index = self._next_index()
        except StopIteration:
            return
        self._pool.send(w, ("task", self._send_idx, index))
        self._pending[self._send_idx] = w
        self._send_idx += 1

    def _get(self):
        msg = self._pool.recv(self._timeout or None)
        if msg is None:
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        return msg

    def _next_data(self):
        if self._pool.closed:
            if self._pool.error:
                raise RuntimeError(self._pool.error)
            raise StopIteration
        while True:
            if self._results:
                idx = min(self._results)
                if not (self._in_order and self._pending and min(self._pending) < idx):
                    kind, data = self._results.pop(idx)
                    self._try_put_index()
                    if kind == "err":
                        data.reraise()
                    return _pin(data) if self._pin_memory else data
            elif not self._pending:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            w, (kind, idx, data) = self._get()
            del self._pending[idx]
            if kind == "end":
                self._active[w] = False
                self._try_put_index()
            else:
                self._results[idx] = (kind, shared.loads(data) if kind == "ok" else data)

    def _shutdown_workers(self):
        self._finalizer()  # also runs when the iterator is collected, or at exit
