"""ember.utils.data against torch.utils.data: datasets, samplers, collation and
the multi-process DataLoader (ordering, seeding, errors, process hygiene,
shared-memory transport and worker memory)."""
import collections
import gc
import mmap
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tdata
from data_helpers import Big, Faulty, Indices, MemProbe, Sleepy

import ember
import ember.utils.data as edata
from ember.utils.data._utils import shared

Point = collections.namedtuple("Point", "x y")


# ----------------------------------------------------------------------------- helpers

def same(e, t):
    """ember result ``e`` has the structure, types, dtypes and values of torch's ``t``."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), type(e)
        assert str(e.dtype) == str(t.dtype) and tuple(e.shape) == tuple(t.shape)
        np.testing.assert_array_equal(e.numpy(), t.numpy())
    elif isinstance(t, dict):
        assert type(e) is type(t) and list(e) == list(t)
        for k in t:
            same(e[k], t[k])
    elif isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t), (type(e), type(t))
        for a, b in zip(e, t):
            same(a, b)
    elif isinstance(t, np.ndarray):
        assert type(e) is type(t) and e.dtype == t.dtype
        np.testing.assert_array_equal(e, t)
    else:
        assert type(e) is type(t) and e == t, (e, t)


def raises_like_torch(fn):
    """fn(lib) raises the same exception type under ember and torch."""
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(want.type):
        fn(ember)


def alive(pid):
    """True while ``pid`` exists (running or a zombie)."""
    return os.path.exists(f"/proc/{pid}")


def assert_reaped(pids):
    assert pids and not [p for p in pids if alive(p)]


def tolists(batches):
    return [b.tolist() for b in batches]


class Sample:
    """Library-neutral nested samples: NumPy arrays and scalars, Python numbers,
    strings, bytes, dicts, namedtuples, lists and tuples."""

    def __len__(self):
        return 11

    def __getitem__(self, i):
        return {"x": np.arange(3, dtype=np.float32) + i, "y": i, "f": i / 2, "ok": i % 2 == 0,
                "name": f"s{i}", "raw": bytes([i]), "pt": Point(np.int16(i), [i, -i]),
                "pair": (np.float64(i), np.full((2, 2), i, np.int32))}


# ----------------------------------------------------------------------------- datasets

def test_dataset_classes_match_torch():
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    et = edata.TensorDataset(ember.from_numpy(data), ember.arange(6))
    tt = tdata.TensorDataset(torch.from_numpy(data), torch.arange(6))
    assert len(et) == len(tt) == 6
    same(et[2], tt[2])
    same(et[1:4], tt[1:4])
    with pytest.raises(AssertionError):
        edata.TensorDataset(ember.zeros(3), ember.zeros(4))

    ec, tc = edata.ConcatDataset([et, Indices(3), et]), tdata.ConcatDataset([tt, Indices(3), tt])
    assert len(ec) == len(tc) == 15 and ec.cumulative_sizes == tc.cumulative_sizes
    for i in (0, 5, 6, 8, 9, 14, -1, -15):
        same(ec[i], tc[i])
    raises_like_torch(lambda m: (edata if m is ember else tdata).ConcatDataset(
        [Indices(2)])[-3])
    raises_like_torch(lambda m: (edata if m is ember else tdata).ConcatDataset([Indices(2)])[2])
    assert isinstance(et + et, edata.ConcatDataset) and len(et + et) == 12

    es, ts = edata.Subset(et, [5, 0, 3]), tdata.Subset(tt, [5, 0, 3])
    assert len(es) == 3
    same(es[0], ts[0])
    same(es.__getitems__([2, 1]), ts.__getitems__([2, 1]))

    e1, t1 = edata.StackDataset(et, Indices(6)), tdata.StackDataset(tt, Indices(6))
    same(e1[4], t1[4])
    same(e1.__getitems__([1, 3]), t1.__getitems__([1, 3]))
    e2, t2 = edata.StackDataset(a=et, b=Indices(6)), tdata.StackDataset(a=tt, b=Indices(6))
    same(e2[4], t2[4])
    same(e2.__getitems__([0, 5]), t2.__getitems__([0, 5]))
    for args, kw in [((), {}), ((Indices(2), Indices(3)), {}), ((Indices(2),), {"b": Indices(2)})]:
        raises_like_torch(lambda m: (edata if m is ember else tdata).StackDataset(*args, **kw))

    class ERange(edata.IterableDataset):
        def __init__(self, a, b):
            self.a, self.b = a, b

        def __iter__(self):
            return iter(range(self.a, self.b))

        def __len__(self):
            return self.b - self.a

    chain = ERange(0, 3) + ERange(5, 7)
    assert isinstance(chain, edata.ChainDataset)
    assert list(chain) == [0, 1, 2, 5, 6] and len(chain) == 5
    with pytest.raises(NotImplementedError):
        edata.Dataset()[0]


def test_random_split_matches_torch():
    for lengths in ([3, 7], [0.3, 0.3, 0.4], [0.5, 0.5], [1 / 3] * 3, [0.1, 0.9], [10, 0]):
        with warnings.catch_warnings(record=True) as ew:
            warnings.simplefilter("always")
            es = edata.random_split(range(10), lengths, generator=ember.Generator().manual_seed(0))
        with warnings.catch_warnings(record=True) as tw:
            warnings.simplefilter("always")
            ts = tdata.random_split(range(10), lengths, generator=torch.Generator().manual_seed(0))
        assert [len(s) for s in es] == [len(s) for s in ts]
        assert len(ew) == len(tw)
        assert sorted(i for s in es for i in s) == list(range(10))
    again = edata.random_split(range(10), [3, 7], generator=ember.Generator().manual_seed(0))
    first = edata.random_split(range(10), [3, 7], generator=ember.Generator().manual_seed(0))
    assert [list(s) for s in again] == [list(s) for s in first]
    assert isinstance(first[0], edata.Subset)
    ember.manual_seed(1)
    a = [list(s) for s in edata.random_split(range(10), [5, 5])]
    ember.manual_seed(1)
    assert a == [list(s) for s in edata.random_split(range(10), [5, 5])]
    for bad in ([3, 3], [0.5, 0.6], [1.5, -0.5]):
        raises_like_torch(lambda m: (edata if m is ember else tdata).random_split(range(10), bad))


def test_serialized_list():
    items = [{"path": f"img{i}.png", "box": (i, i + 1)} for i in range(50)] + [None, 3.5]
    s = edata.SerializedList(items)
    assert len(s) == 52 and list(s) == items
    assert s[-1] == 3.5 and s[3:6] == items[3:6] and s[0] is not s[0]
    with pytest.raises(IndexError):
        s[52]
    assert len(edata.SerializedList([])) == 0


# ----------------------------------------------------------------------------- samplers

def test_samplers_match_torch():
    ds = Indices(10)
    same_list = lambda e, t: list(e) == list(t) and len(e) == len(t)
    assert same_list(edata.SequentialSampler(ds), tdata.SequentialSampler(ds))
    for drop in (False, True):
        for bs in (1, 3, 5, 10, 12):
            e = edata.BatchSampler(edata.SequentialSampler(ds), bs, drop)
            t = tdata.BatchSampler(tdata.SequentialSampler(ds), bs, drop)
            assert same_list(e, t)
    for bad in ((0, False), (True, False), (2.0, False), (2, 1)):
        raises_like_torch(lambda m: (edata if m is ember else tdata).BatchSampler(ds, *bad))

    g = lambda: ember.Generator().manual_seed(3)
    perm = list(edata.RandomSampler(ds, generator=g()))
    assert sorted(perm) == list(range(10)) and perm == list(edata.RandomSampler(ds, generator=g()))
    assert perm != list(range(10))
    for kw in ({"num_samples": 25}, {"num_samples": 4}, {"replacement": True, "num_samples": 70}):
        e, t = edata.RandomSampler(ds, generator=g(), **kw), tdata.RandomSampler(ds, **kw)
        got = list(e)
        assert len(got) == len(e) == len(t) == len(list(t))
        assert set(got) <= set(range(10))
        if not kw.get("replacement"):  # each full pass is a permutation
            counts = collections.Counter(got)
            assert max(counts.values()) - min(counts.values()) <= 1
    ember.manual_seed(0)
    a = list(edata.RandomSampler(ds))
    ember.manual_seed(0)
    assert a == list(edata.RandomSampler(ds))
    for kw in ({"replacement": 1}, {"num_samples": 0}, {"num_samples": 2.5}):
        raises_like_torch(lambda m: (edata if m is ember else tdata).RandomSampler(ds, **kw))

    idx = [7, 2, 9, 4]
    e, t = edata.SubsetRandomSampler(idx, generator=g()), tdata.SubsetRandomSampler(idx)
    assert sorted(e) == sorted(t) and len(e) == len(t) == 4

    w = [0.0, 1.0, 0.0, 3.0, 2.0]
    e = edata.WeightedRandomSampler(w, 200, generator=g())
    got = list(e)
    assert len(got) == len(e) == len(tdata.WeightedRandomSampler(w, 200)) == 200
    assert set(got) == {1, 3, 4}
    nr = list(edata.WeightedRandomSampler(w, 3, replacement=False, generator=g()))
    assert sorted(nr) == [1, 3, 4]
    for args in (([1.0], 0), ([1.0], True), ([1.0], 2, 1), ([[1.0, 2.0]], 2)):
        raises_like_torch(lambda m: (edata if m is ember else tdata).WeightedRandomSampler(*args))


@pytest.mark.parametrize("n", [10, 11, 3])
def test_distributed_sampler_matches_torch(n):
    ds = Indices(n)
    for replicas in (1, 3, 4):
        for drop in (False, True):
            parts = []
            for rank in range(replicas):
                e = edata.DistributedSampler(ds, replicas, rank, shuffle=False, drop_last=drop)
                t = tdata.DistributedSampler(ds, replicas, rank, shuffle=False, drop_last=drop)
                assert list(e) == list(t) and len(e) == len(t)
                s = edata.DistributedSampler(ds, replicas, rank, shuffle=True, seed=5,
                                             drop_last=drop)
                assert len(list(s)) == len(t)
                parts.append(list(s))
            flat = [i for p in parts for i in p]
            if drop:
                assert len(set(flat)) == len(flat)      # disjoint, nothing repeated
            else:
                assert set(flat) == set(range(n))      # everything covered (with padding)
    s = edata.DistributedSampler(ds, 2, 0, seed=1)
    first = list(s)
    assert first == list(edata.DistributedSampler(ds, 2, 0, seed=1))
    s.set_epoch(1)
    assert list(s) != first or n < 4
    for rank in (-1, 2):
        raises_like_torch(lambda m: (edata if m is ember else tdata).DistributedSampler(
            ds, 2, rank))
    with pytest.raises(RuntimeError):  # no process group
        edata.DistributedSampler(ds)
    from ember.utils.data.distributed import DistributedSampler
    assert DistributedSampler is edata.DistributedSampler


# ----------------------------------------------------------------------------- collation

def test_default_collate_nested_matches_torch():
    batch = [Sample()[i] for i in range(3)]
    same(edata.default_collate(batch), tdata.default_collate(batch))
    tensors = lambda lib: [{"t": lib.full((2,), float(i)), "l": [lib.tensor(i), i]}
                           for i in range(3)]
    same(edata.default_collate(tensors(ember)), tdata.default_collate(tensors(torch)))
    for sample in ([np.bool_(True), np.bool_(False)], [np.float32(1.5), np.float32(2)],
                   [True, False], [1.0, 2.0], ["a", "b"], [b"a", b"b"], [(1, "a"), (2, "b")],
                   [Point(1, 2.0), Point(3, 4.0)], [np.zeros((0, 3)), np.zeros((0, 3))]):
        same(edata.default_collate(sample), tdata.default_collate(sample))
    for bad in ([[1, 2], [3]], [object(), object()], [np.array(["a"]), np.array(["b"])],
                [np.ones(2), np.ones(3)]):
        raises_like_torch(lambda m: (edata if m is ember else tdata).default_collate(bad))


def test_default_convert_matches_torch():
    for data in (Sample()[4], [np.ones(2), (np.int64(3), "s")], np.array(["a", "b"]), 3,
                 Point(np.zeros(1), 2)):
        same(edata.default_convert(data), tdata.default_convert(data))


# ----------------------------------------------------------------------------- DataLoader

def loader_kwargs():
    yield dict(batch_size=4)
    yield dict(batch_size=4, drop_last=True)
    yield dict(batch_size=None)
    yield dict(batch_sampler=[[3, 1], [0], [10, 2, 5]])
    yield dict(batch_size=3, sampler=[10, 0, 7, 7, 2])


@pytest.mark.parametrize("kw", list(loader_kwargs()), ids=str)
def test_batches_match_torch_for_any_num_workers(kw):
    want = list(tdata.DataLoader(Sample(), **kw))
    for nw in (0, 2):
        el = edata.DataLoader(Sample(), num_workers=nw, **kw)
        got = list(el)
        same(got, want)
        assert len(el) == len(tdata.DataLoader(Sample(), **kw)) == len(got)


def test_shuffle_is_the_same_for_any_num_workers():
    def epochs(nw, gen):
        dl = edata.DataLoader(Indices(23), batch_size=4, shuffle=True, num_workers=nw,
                              generator=gen)
        return [tolists(dl) for _ in range(2)]

    g0, g2 = ember.Generator().manual_seed(11), ember.Generator().manual_seed(11)
    a, b = epochs(0, g0), epochs(2, g2)
    assert a == b
    assert (g0.get_state().numpy() == g2.get_state().numpy()).all()  # same draws
    assert a[0] != a[1] and sorted(i for x in a[0] for i in x) == list(range(23))
    assert a != epochs(0, ember.Generator().manual_seed(12))
    ember.manual_seed(4)
    c = epochs(0, None)
    ember.manual_seed(4)
    assert c == epochs(2, None)


class _IterShards:
    """Numbers lo..hi-1, split between workers by get_worker_info()."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __len__(self):
        return self.hi - self.lo

    def __iter__(self):
        info = self.worker_info()
        wid, n = (info.id, info.num_workers) if info is not None else (0, 1)
        return iter(range(self.lo + wid, self.hi, n))


class EShards(_IterShards, edata.IterableDataset):
    worker_info = staticmethod(edata.get_worker_info)


class TShards(_IterShards, tdata.IterableDataset):
    worker_info = staticmethod(tdata.get_worker_info)


@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None)], ids=str)
def test_sharded_iterable_dataset_matches_torch(kw):
    for nw in (0, 2):
        got = list(edata.DataLoader(EShards(0, 11), num_workers=nw, **kw))
        want = list(tdata.DataLoader(TShards(0, 11), num_workers=nw, **kw))
        same(got, want)
        assert len(edata.DataLoader(EShards(0, 11), **kw)) == \
            len(tdata.DataLoader(TShards(0, 11), **kw))
    for bad in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError):
            edata.DataLoader(EShards(0, 3), **bad)


def test_loader_argument_errors_match_torch():
    def dl(m, **kw):
        return (edata if m is ember else tdata).DataLoader(Indices(4), **kw)

    for kw in (dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
               dict(num_workers=1, prefetch_factor=-1), dict(persistent_workers=True),
               dict(sampler=[0], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
               dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True),
               dict(multiprocessing_context="fork"),
               dict(num_workers=1, multiprocessing_context="nope"),
               dict(num_workers=1, multiprocessing_context=3)):
        raises_like_torch(lambda m: dl(m, **kw))
    raises_like_torch(lambda m: setattr(dl(m), "batch_size", 3))
    with pytest.raises(AssertionError):
        iter(edata.DataLoader(Indices(4), timeout=1))


def test_worker_seeds_and_init_fn():
    def run():
        dl = edata.DataLoader(SeedProbe(), batch_size=None, num_workers=2,
                              generator=ember.Generator().manual_seed(7),
                              worker_init_fn=lambda wid: random.seed(1000 + wid))
        return list(dl)

    got = run()
    assert got == run()  # deterministic for a seeded generator
    base = int(ember.empty((), dtype=ember.int64)
               .random_(generator=ember.Generator().manual_seed(7)).item())
    for item in got:
        wid = item["id"]
        assert item["seed"] == base + wid and item["workers"] == 2
        assert item["random"] == random.Random(1000 + wid).random()  # init_fn ran after seeding
        assert item["np"] == np.random.RandomState(
            np.random.SeedSequence([wid, base]).generate_state(4)).rand()
        assert item["ember"] == ember.Generator().manual_seed(base + wid)._rng.random(
            dtype=np.float32)
    assert got[0]["id"] == 0 and got[1]["id"] == 1 and got[0]["ember"] != got[1]["ember"]
    assert edata.get_worker_info() is None


class SeedProbe:
    def __len__(self):
        return 2

    def __getitem__(self, i):
        info = edata.get_worker_info()
        with pytest.raises(Exception):
            info.id = 5  # frozen
        return {"id": info.id, "workers": info.num_workers, "seed": info.seed,
                "random": random.random(), "np": float(np.random.rand()),
                "ember": float(ember.rand(1))}


def test_worker_exception_is_reraised_with_its_traceback():
    with pytest.raises(ValueError) as e:
        list(edata.DataLoader(Faulty(8, 5, ValueError), batch_size=2, num_workers=2))
    msg = str(e.value)
    assert "Caught ValueError in DataLoader worker process 0" in msg
    assert "Original Traceback" in msg and "bad item 5" in msg
    assert 'raise self.how(f"bad item {i}")' in msg  # the worker's source line

    it = iter(edata.DataLoader(Faulty(8, 2, KeyError), batch_size=2, num_workers=2))
    assert next(it).tolist() == [0, 1]
    with pytest.raises(KeyError) as e:
        next(it)
    assert "Caught KeyError in DataLoader worker process 1" in str(e.value)
    assert next(it).tolist() == [4, 5]  # the loader goes on, as PyTorch's
    pids = it._pool.pids
    del it, e  # the traceback held the iterator
    gc.collect()
    assert_reaped(pids)

    class Local(Exception):  # not importable in the main process by name
        pass

    class TwoArgs(Exception):
        def __init__(self, a, b):
            super().__init__(a, b)

    def init(wid):
        raise Local("init failed")

    with pytest.raises(RuntimeError, match="Caught Local"):
        list(edata.DataLoader(Indices(4), num_workers=1, worker_init_fn=init))

    def collate(batch):
        raise TwoArgs(1, 2)

    with pytest.raises(RuntimeError, match="Caught TwoArgs"):
        list(edata.DataLoader(Indices(4), num_workers=1, collate_fn=collate))


def test_killed_worker_raises_and_leaves_no_process():
    dl = edata.DataLoader(Faulty(40, 5, "kill"), batch_size=1, num_workers=2)
    it = iter(dl)
    pids = it._pool.pids
    with pytest.raises(RuntimeError, match=r"worker 1 \(pid \d+\).*SIGKILL"):
        for _ in it:
            pass
    assert_reaped(pids)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        next(it)


def test_no_worker_processes_survive():
    dl = edata.DataLoader(Indices(12), batch_size=2, num_workers=2)
    it = iter(dl)
    pids, shm_dir = it._pool.pids, it._pool.dir
    assert all(alive(p) for p in pids) and os.path.isdir(shm_dir)
    assert tolists(it) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
    assert_reaped(pids)                      # exhausted
    assert not os.path.exists(shm_dir)

    it = iter(dl)
    next(it)
    pids = it._pool.pids
    del it                                   # deleted mid-epoch
    assert_reaped(pids)

    before, seen = set(_children()), []
    with pytest.raises(KeyboardInterrupt):   # interrupted inside the loop body
        for i, _ in enumerate(edata.DataLoader(Sleepy(50, 0.01), num_workers=2)):
            if i == 0:
                seen = [p for p in _children() if p not in before]
            if i == 2:
                raise KeyboardInterrupt
    assert len(seen) == 2
    assert_reaped(seen)


def _children():
    me, out = os.getpid(), []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                        out.append(int(pid))
            except OSError:
                pass
    return out


def running(pid):
    """True while ``pid`` runs (a zombie, reaped or not, has stopped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("how", ["ctrl-c", "kill-main"])
def test_a_dying_main_process_leaves_no_worker_behind(how):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from data_helpers import Sleepy
        from ember.utils.data import DataLoader
        it = iter(DataLoader(Sleepy(10**6, 0.01), batch_size=4, num_workers=2))
        next(it)
        print(it._pool.dir, *it._pool.pids, flush=True)
        for _ in it:
            pass
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    shm_dir, *pids = p.stdout.readline().split()
    pids = [int(x) for x in pids]
    assert len(pids) == 2 and all(running(x) for x in pids) and os.path.isdir(shm_dir)
    if how == "ctrl-c":
        os.killpg(p.pid, signal.SIGINT)      # Ctrl-C reaches the whole process group
        _, err = p.communicate(timeout=30)
        assert "KeyboardInterrupt" in err and p.returncode != 0
        assert not any(running(x) for x in pids)     # reaped by the script itself
    else:
        os.kill(p.pid, signal.SIGKILL)       # no cleanup code runs: workers notice alone
        p.communicate(timeout=30)
        for _ in range(100):
            if not any(running(x) for x in pids):
                break
            time.sleep(0.1)
        assert not any(running(x) for x in pids)
    assert not os.path.exists(shm_dir)       # no shared memory left behind either


def test_persistent_workers_reuse_processes_and_restart_epochs():
    dl = edata.DataLoader(Indices(10), batch_size=3, num_workers=2, persistent_workers=True)
    want = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert tolists(dl) == want
    pool = dl._iterator._pool
    it = iter(dl)
    next(it)                                 # abandon this epoch early
    assert tolists(dl) == want               # stale batches are dropped
    assert dl._iterator._pool is pool and all(alive(p) for p in pool.pids)
    assert os.listdir(pool.dir) == []        # every batch's shared memory is released
    # an IterableDataset restarts each epoch
    loader = edata.DataLoader(EShards(0, 7), batch_size=2, num_workers=2, persistent_workers=True)
    first = tolists(loader)
    assert first == tolists(loader) and sorted(sum(first, [])) == list(range(7))
    pids = pool.pids + loader._iterator._pool.pids
    del dl, it, loader
    gc.collect()
    assert_reaped(pids)


def test_shared_memory_transport():
    it = iter(edata.DataLoader(Big(), batch_size=2, num_workers=2))
    batch = next(it)
    assert batch.shape == (2, 256, 256) and float(batch[1, 5, 5]) == 1.0
    root = batch._data
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    assert isinstance(root.obj, mmap.mmap)   # a view of shared memory
    batch[0] += 1                            # writable, as PyTorch's
    assert [float(b[0, 0, 0]) for b in it] == [2.0, 4.0, 6.0]

    # Array bytes never enter the pickle that crosses the socket.
    arr = np.arange(250_000, dtype=np.float64)
    obj = {"a": arr, "t": ember.from_numpy(arr[::2]), "bf": ember.ones(1000, dtype=ember.bfloat16),
           "g": ember.ones(3).requires_grad_(), "o": np.array([1, "x"], dtype=object),
           "e": np.zeros((0, 4)), "s": np.float32(3), "z": np.array(2.5)}
    d = os.path.join(shared.root(), f"ember-test-{os.getpid()}")
    os.mkdir(d)
    try:
        payload, path, spans = msg = shared.dumps(obj, d)
        assert len(payload) < 2000 and os.path.getsize(path) >= arr.nbytes * 1.5
        out = shared.loads(msg)
        assert not os.path.exists(path) and os.listdir(d) == []  # unlinked once mapped
    finally:
        os.rmdir(d)
    np.testing.assert_array_equal(out["a"], arr)
    assert out["t"].tolist() == arr[::2].tolist() and out["bf"].dtype is ember.bfloat16
    assert out["g"].requires_grad and out["o"].tolist() == [1, "x"]
    assert out["e"].shape == (0, 4) and out["z"] == 2.5 and out["s"] == 3


def test_worker_collate_stacks_into_shared_memory(monkeypatch, tmp_path):
    from ember.utils.data._utils import worker
    monkeypatch.setattr(worker, "_worker_info", worker.WorkerInfo(0, 1, 0, None))
    monkeypatch.setattr(shared, "_dir", str(tmp_path))
    batch = edata.default_collate([(ember.full((3,), 1.0), 1), (ember.full((3,), 2.0), 2)])
    payload, path, spans = shared.dumps(batch, str(tmp_path))
    assert len(os.listdir(tmp_path)) == 2   # the stacked tensor's file + one for the labels
    assert len(spans) == 1 and spans[0][1] == 16   # only the labels went out of band
    out = shared.loads((payload, path, spans))
    assert out[0].tolist() == [[1.0] * 3, [2.0] * 3] and out[1].tolist() == [1, 2]
    assert os.listdir(tmp_path) == []


def test_unsent_shared_memory_is_released():
    dl = edata.DataLoader(Big(), batch_size=2, num_workers=2, persistent_workers=True,
                          collate_fn=lambda b: float(edata.default_collate(b).sum()))
    assert len(list(dl)) == 4
    assert os.listdir(dl._iterator._pool.dir) == []


def test_other_options():
    with pytest.warns(UserWarning, match="pin_memory"):
        assert tolists(edata.DataLoader(Indices(4), batch_size=2, pin_memory=True,
                                        num_workers=1)) == [[0, 1], [2, 3]]
    got = tolists(edata.DataLoader(Sleepy(12, 0.2, at=0), batch_size=2, num_workers=2,
                                   in_order=False))
    assert sorted(got) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
    with pytest.raises(RuntimeError, match="timed out after 0.1 seconds"):
        list(edata.DataLoader(Sleepy(2, 0.5, at=0), num_workers=1, timeout=0.1))
    dl = edata.DataLoader(Indices(9), batch_size=3, num_workers=2, prefetch_factor=1,
                          collate_fn=lambda b: ("batch", b), multiprocessing_context="fork")
    assert list(dl) == [("batch", [0, 1, 2]), ("batch", [3, 4, 5]), ("batch", [6, 7, 8])]

    class Batched(Indices):
        def __getitems__(self, idx):
            return [10 * i for i in idx]

    assert tolists(edata.DataLoader(Batched(4), batch_size=2)) == [[0, 10], [20, 30]]
    assert list(edata.DataLoader(Indices(3), batch_size=None, num_workers=2)) == [0, 1, 2]


def test_forked_workers_do_not_copy_the_dataset_as_they_read_it():
    """Copy-on-read: reading a plain list of Python objects writes their reference
    counts, so a forked worker ends up with a private copy of every page it read
    (Private_Dirty grows; RSS from /proc/self/statm does not, since it counts
    shared pages already). NumPy arrays and SerializedList are read without writes."""
    values = [float(i) for i in range(300_000)]   # ~7 MB of float objects

    def growth(data):
        dl = edata.DataLoader(MemProbe(data), batch_size=None, num_workers=1,
                              sampler=["Private_Dirty", "read", "Private_Dirty"])
        before, total, after = list(dl)
        assert total == sum(values)
        return after - before

    assert growth(values) > 4000                     # KiB: the problem is real and measured
    assert growth(edata.SerializedList(values)) < 1500
    assert growth(np.array(values)) < 1500


def test_forked_workers_garbage_collector_leaves_the_parent_heap_alone(monkeypatch):
    """The parent's heap is frozen when workers fork, so a worker's full collection
    does not write to (and copy) the parent's container objects."""
    records = [(i, str(i)) for i in range(200_000)]   # ~11 MB of tuples and strings

    def growth():
        dl = edata.DataLoader(MemProbe(records), batch_size=None, num_workers=1,
                              sampler=["Private_Dirty", "gc", "Private_Dirty"])
        before, _, after = list(dl)
        return after - before

    assert growth() < 1500
    monkeypatch.setattr(gc, "freeze", lambda: None)  # control: without the freeze
    assert growth() > 4000


def test_spawned_workers_map_the_dataset_from_shared_memory():
    big = np.arange(8_000_000, dtype=np.float32)     # 32 MB
    dl = edata.DataLoader(MemProbe(big), batch_size=None, num_workers=1,
                          sampler=["RssAnon", "read", "RssAnon", "RssShmem"],
                          multiprocessing_context="spawn")
    anon_before, total, anon_after, shmem = list(dl)
    assert total == float(big.sum())
    assert shmem > 0.9 * big.nbytes / 1024         # the worker reads shared pages...
    assert anon_after - anon_before < 4000         # ...and has no private copy of them
