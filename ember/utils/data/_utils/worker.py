"""Worker processes: the loop each one runs, and the main process's end of them.

Each worker talks to the main process over its own socket pair. The main side is
non-blocking and waits on all sockets plus every process's sentinel at once, so
it needs no helper threads, never deadlocks on a full pipe, notices a dead
worker the moment it dies, and spends no time polling. Array data does not go
through the sockets: see ``shared``.
"""
import collections
import dataclasses
import gc
import os
import pickle
import random
import select
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

import numpy as np

import ember

from . import shared
from .fetch import create_fetcher

MP_STATUS_CHECK_INTERVAL = 5.0   # how often an idle worker checks that its parent lives
_SHUTDOWN_GRACE = 2.0            # seconds workers get to exit before they are terminated


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker."""
    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info = None


def get_worker_info():
    """This worker's ``WorkerInfo`` (id, num_workers, seed, dataset), or None in the
    main process. Lets an IterableDataset give each worker its own shard."""
    return _worker_info


class KeyErrorMessage(str):
    """str whose repr is itself: KeyError would otherwise quote the traceback."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception's type and formatted traceback, to re-raise in another process."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_name = self.exc_type.__name__
        try:
            pickle.dumps(self.exc_type)
        except Exception:  # a type the main process could not import
            self.exc_type = RuntimeError
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_name} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # the type needs other constructor arguments
            raise RuntimeError(msg) from None
        raise exc


# ---------------------------------------------------------------------- worker side

def _wait(sock, write, parent_pid):
    """Blocks until ``sock`` is ready; False if the main process died meanwhile."""
    poller = select.poll()
    poller.register(sock, select.POLLOUT if write else select.POLLIN)
    while not poller.poll(MP_STATUS_CHECK_INTERVAL * 1000):
        if os.getppid() != parent_pid:
            return False
    return True


def _recv_exact(sock, n, parent_pid):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        if not _wait(sock, False, parent_pid):
            return None
        k = sock.recv_into(view[got:])
        if k == 0:
            return None
        got += k
    return buf


def _recv(sock, parent_pid):
    head = _recv_exact(sock, 8, parent_pid)
    body = head and _recv_exact(sock, int.from_bytes(head, "little"), parent_pid)
    return None if body is None else pickle.loads(body)


def _send(sock, obj, parent_pid):
    data = pickle.dumps(obj, protocol=5)
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        if not _wait(sock, True, parent_pid):
            raise BrokenPipeError("the DataLoader's main process is gone")
        try:
            view = view[sock.send(view, socket.MSG_DONTWAIT):]
        except BlockingIOError:
            pass


def _seed_worker(base_seed, worker_id):
    seed = base_seed + worker_id
    random.seed(seed)
    ember.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def _worker_loop(sock, close_fds, job, shipped, base_seed, worker_id, num_workers, iterable,
                 auto_collation, drop_last, shm_dir, parent_pid):
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    for fd in close_fds:  # the main process's socket ends, inherited through fork
        try:
            os.close(fd)
        except OSError:
            pass
    seed = _seed_worker(base_seed, worker_id)
    shared.set_dir(shm_dir)
    where = f"in DataLoader worker process {worker_id}"
    init_error = fetcher = None
    try:
        dataset, collate_fn, init_fn = shared.loads(job, unlink=False) if shipped else job
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
    except Exception:
        init_error = ExceptionWrapper(where=where)
    ended = False
    try:
        while True:
            msg = _recv(sock, parent_pid)
            if msg is None:  # the main process died: clean up after it
                break
            if msg[0] == "stop":
                return
            if msg[0] == "reset":  # a new epoch of persistent workers
                if init_error is None:
                    try:
                        fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn,
                                                 drop_last)
                    except Exception:
                        init_error = ExceptionWrapper(where=where)
                ended = False
                _send(sock, ("ack", None, None), parent_pid)
                continue
            _, idx, index = msg
            if init_error is not None:
                reply = ("err", idx, init_error)
            elif ended:
                reply = ("end", idx, None)
            else:
                try:
                    reply = ("ok", idx, shared.dumps(fetcher.fetch(index), shm_dir))
                except Exception as e:
                    shared.discard()
                    if iterable and isinstance(e, StopIteration):
                        ended, reply = True, ("end", idx, None)
                    else:
                        reply = ("err", idx, ExceptionWrapper(where=where))
            _send(sock, reply, parent_pid)
            del reply
    except OSError:  # the main process died, or closed its end while shutting down
        pass
    shutil.rmtree(shm_dir, ignore_errors=True)


# ------------------------------------------------------------------------ main side

def _frame(obj):
    data = pickle.dumps(obj, protocol=5)
    return len(data).to_bytes(8, "little") + data


class WorkerPool:
    """Starts ``num_workers`` processes running ``_worker_loop`` on ``job`` =
    (dataset, collate_fn, worker_init_fn); ``send``/``recv`` messages, ``shutdown``
    stops and reaps them and removes their shared-memory directory."""

    def __init__(self, ctx, num_workers, job, base_seed, iterable, auto_collation, drop_last):
        self.pid = os.getpid()
        self.closed, self.error = False, None
        self.procs, self.pids, self.ready = [], [], collections.deque()
        self.dir = tempfile.mkdtemp(prefix="ember-data-", dir=shared.root())
        self.sel = selectors.DefaultSelector()
        pairs = [socket.socketpair() for _ in range(num_workers)]
        self.socks = [mine for mine, _ in pairs]
        self.inbox = [bytearray() for _ in pairs]
        self.outbox = [bytearray() for _ in pairs]
        self.events = [None] * num_workers
        fork = ctx.get_start_method() == "fork"
        try:
            if not fork:  # the dataset's arrays go to shared memory once, for all workers
                job = shared.dumps(job, self.dir)
            # Forked workers must not touch the parent's objects: a frozen heap is never
            # traversed by their garbage collector (which would copy its pages).
            freeze = fork and gc.get_freeze_count() == 0
            if freeze:
                gc.freeze()
            try:
                for i, (_, theirs) in enumerate(pairs):
                    close = [s.fileno() for p in pairs for s in p if s is not theirs] if fork \
                        else []
                    p = ctx.Process(target=_worker_loop, daemon=True,
                                    name=f"ember DataLoader worker {i}",
                                    args=(theirs, close, job, not fork, base_seed, i, num_workers,
                                          iterable, auto_collation, drop_last, self.dir,
                                          self.pid))
                    p.start()
                    self.procs.append(p)
                    self.pids.append(p.pid)
            finally:
                if freeze:
                    gc.unfreeze()
        except BaseException:
            self.shutdown()
            raise
        finally:
            for _, theirs in pairs:
                theirs.close()
        for i, (sock, p) in enumerate(zip(self.socks, self.procs)):
            sock.setblocking(False)
            self.events[i] = selectors.EVENT_READ
            self.sel.register(sock, selectors.EVENT_READ, (i, False))
            self.sel.register(p.sentinel, selectors.EVENT_READ, (i, True))

    def send(self, i, obj):
        self.outbox[i] += _frame(obj)
        self._flush(i)

    def recv(self, timeout=None):
        """The next ``(worker_id, message)``; None after ``timeout`` seconds.
        Raises RuntimeError (after shutting every worker down) if one died."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ready:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return None
            dead = []
            for key, mask in self.sel.select(wait):
                i, is_sentinel = key.data
                if is_sentinel:
                    dead.append(i)
                    continue
                if mask & selectors.EVENT_WRITE:
                    self._flush(i)
                if mask & selectors.EVENT_READ:
                    self._read(i)
            if dead and not self.ready:
                self._died(dead)
        return self.ready.popleft()

    def _flush(self, i):
        box = self.outbox[i]
        if box:
            try:
                del box[:self.socks[i].send(box)]
            except BlockingIOError:
                pass
            except OSError:  # the worker is gone; its sentinel will say so
                box.clear()
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if box else 0)
        if self.events[i] is not None and self.events[i] != want:
            self.sel.modify(self.socks[i], want, (i, False))
            self.events[i] = want

    def _read(self, i):
        sock = self.socks[i]
        try:
            chunk = sock.recv(1 << 18)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.sel.unregister(sock)
            self.events[i] = None
            return
        box = self.inbox[i]
        box += chunk
        while len(box) >= 8:
            n = int.from_bytes(box[:8], "little")
            if len(box) < 8 + n:
                break
            self.ready.append((i, pickle.loads(box[8:8 + n])))
            del box[:8 + n]

    def _died(self, dead):
        reasons = []
        for i in dead:
            p = self.procs[i]
            p.join(1)
            code = p.exitcode
            if code is not None and code < 0:
                sig = signal.Signals(-code)
                why = f"killed by signal {sig.name}"
                why += {signal.SIGKILL: " (the out-of-memory killer sends it, too)",
                        signal.SIGBUS: " (out of shared memory? /dev/shm may be too small)"
                        }.get(sig, "")
            else:
                why = f"exit code {code}"
            reasons.append(f"worker {i} (pid {p.pid}): {why}")
        self.shutdown()
        self.error = (f"DataLoader worker exited unexpectedly: {'; '.join(reasons)}. "
                      "Its batches are lost, so this iterator is closed.")
        raise RuntimeError(self.error)

    def shutdown(self):
        """Stops, reaps and forgets every worker; idempotent."""
        if self.closed or os.getpid() != self.pid:
            return
        self.closed = True
        stop = _frame(("stop",))
        for sock, box in zip(self.socks, self.outbox):
            try:
                if not box:
                    sock.send(stop)
            except OSError:
                pass
            sock.close()
        self.sel.close()
        deadline = time.monotonic() + _SHUTDOWN_GRACE
        for p in self.procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.procs:
            if p.exitcode is None:
                p.terminate()
                p.join(1)
            if p.exitcode is None:
                p.kill()
                p.join()
            p.close()
        shutil.rmtree(self.dir, ignore_errors=True)
