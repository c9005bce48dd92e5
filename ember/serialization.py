"""``ember.save`` / ``ember.load``: PyTorch's checkpoint formats, safe loading, safetensors.

Writing. ``save`` produces the bytes ``torch.save`` produces for the same
objects: a zip archive laid out like PyTorch's miniz writer (stored records,
data 64-byte aligned through ``FB`` padding fields, data descriptors, zip64
end records) holding ``data.pkl`` -- a protocol-2 pickle whose tensors are
``torch._utils._rebuild_tensor_v2`` calls over persistent storages
``data/<key>`` -- and ``.format_version``, ``.storage_alignment``,
``byteorder``, ``version`` and ``.data/serialization_id`` (the id is computed
as PyTorch computes it). ember objects are written under PyTorch's global
names (``torch.float32``, ``torch.Size``, ``torch.device``,
``torch._utils._rebuild_parameter``), so ``torch.load(f, weights_only=True)``
reads ember's files; torch is never imported. A tensor and its views are
written as one storage with offsets and strides in elements.

Reading. ``load`` reads the zip format, the legacy (PyTorch < 1.6) pickle
stream and safetensors files. ``weights_only=True`` (the default) unpickles
with an allowlist: tensors, storages, containers, primitive types, dtypes,
``Size``, ``device``, ``OrderedDict`` and the rebuild functions (mapped to
ember's), plus whatever ``add_safe_globals`` adds. Any other global raises
``pickle.UnpicklingError`` naming it before anything is imported or called.
``weights_only=False`` unpickles anything (trusted files only); ``torch.*``
globals then map to their ``ember.*`` namesakes.

Differences from PyTorch: a tensor subclass other than Parameter is saved as
a plain tensor; sparse, quantized, nested and meta tensors, TorchScript
archives and the pre-0.4 tar format are rejected with a clear error; only the
standard ``pickle`` module is supported; zip records are CRC-checked on load
(except with ``mmap=True``, which never touches the data).
"""
import os
import pickle
import struct
import sys
import zlib
from collections import Counter, OrderedDict

import numpy as np

from . import _dtype as D
from ._backend import CPU, canonical, device, to_host
from ._storage import _STORAGE_NAMES, STORAGE_TYPES, StorageType, TypedStorage, UntypedStorage
from ._tensor import Size, Tensor, _contiguous_strides, _wrap

__all__ = ["save", "load", "add_safe_globals", "safe_globals", "get_safe_globals",
           "clear_safe_globals", "save_safetensors", "load_safetensors", "DEFAULT_PROTOCOL"]

DEFAULT_PROTOCOL = 2
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_ALIGN = 64
_V3_DTYPES = frozenset(("uint16", "uint32", "uint64"))  # no legacy typed storage: v3 rebuild


# ---------------------------------------------------------------------------
# A tensor's place in its storage
# ---------------------------------------------------------------------------

def _ptr(a):
    return a.__array_interface__["data"][0] if isinstance(a, np.ndarray) else a.data.ptr


def _layout(t):
    """``(storage, offset, strides)`` of ``t`` in elements of its dtype. A layout
    PyTorch can't express (negative or misaligned strides) is saved as a copy."""
    a, isz = t._data, t._dtype.itemsize
    st = UntypedStorage._of_root(t._root_array())
    if st is not None:
        d = _ptr(a) - st.data_ptr()
        if d >= 0 and d % isz == 0 and all(n <= 1 or (s >= 0 and s % isz == 0)
                                           for n, s in zip(a.shape, a.strides)):
            off = d // isz
            stride = t.stride() if a.size == 0 else tuple(
                s // isz if n > 1 else max(c, 0) for n, s, c in zip(a.shape, a.strides, t.stride()))
            last = off + sum((n - 1) * s for n, s in zip(a.shape, stride))
            if a.size == 0 or last < st.nbytes() // isz:
                return st, off, stride
    return UntypedStorage._of_root(a.copy()), 0, _contiguous_strides(a.shape)


def _obj_state(t):
    """User attributes of a tensor (PyTorch pickles them as its state)."""
    d = t.__dict__
    return {k: v for k, v in d.items() if not hasattr(Tensor, k)} if d else None


def _reduce_tensor(t):
    """``Tensor.__reduce_ex__`` outside ``ember.save`` (``pickle.dumps``, ``copy.copy``,
    multiprocessing): self-contained, and views pickled together keep sharing."""
    st, off, stride = _layout(t)
    args = (st, off, tuple(t._data.shape), stride, t._dtype, t._requires_grad)
    if type(t) is Tensor:
        return (_rebuild_pickled, args)
    return (_rebuild_pickled_as, (type(t),) + args)


def _rebuild_pickled(storage, offset, size, stride, dtype, requires_grad):
    t = _tensor_on(storage, dtype, offset, size, stride)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_pickled_as(cls, *args):
    return _retype(_rebuild_pickled(*args), cls)


# ---------------------------------------------------------------------------
# Pickling under PyTorch's names
# ---------------------------------------------------------------------------

class _Global:
    """A PyTorch global that ember writes by name (torch is never imported)."""

    __slots__ = ("module", "name", "c_type")

    def __init__(self, qualname):
        module, _, name = qualname.rpartition(".")
        # Interned, as Python's own names are, so protocol 4 memoizes them alike;
        # the name of a C type is a fresh string each time in PyTorch's pickles.
        self.module, self.name = sys.intern(module), sys.intern(name)
        self.c_type = qualname in ("torch.Size", "torch.device")

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.module}.{self.name} is only a name for pickling")

    def __repr__(self):
        return f"<global {self.module}.{self.name}>"


_GLOBALS = {}


def _g(qualname):
    g = _GLOBALS.get(qualname)
    if g is None:
        g = _GLOBALS[qualname] = _Global(qualname)
    return g


def _fresh(s):
    """A new str object equal to ``s``: PyTorch's pickles build these strings
    anew each time, so the pickle memo must not merge them with equal ones."""
    return s.encode().decode()


# PyTorch's dtypes name their module with a "torch" string object of their own,
# distinct from the classes' one (it matters to protocol 4's memo).
_DTYPE_MODULE = "".join(("tor", "ch"))


class _TorchPickler(pickle._Pickler):
    """Pickles ember tensors, dtypes, Size and device as PyTorch does. It is the
    pure-Python pickler because only it lets a global be written by name."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol, persistent_id):
        super().__init__(file, protocol)
        self.persistent_id = persistent_id

    def _write_global(self, module, name, obj):
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + module.encode("utf-8") + b"\n" + name.encode("utf-8")
                       + b"\n")
        self.memoize(obj)

    def _save_global(self, obj):
        self._write_global(obj.module, _fresh(obj.name) if obj.c_type else obj.name, obj)

    def _save_dtype(self, obj):
        self._write_global(_DTYPE_MODULE, _fresh(obj.name), obj)

    def _save_size(self, obj):
        self.save_reduce(_g("torch.Size"), (tuple(obj),), obj=obj)

    def _save_device(self, obj):
        kind = _fresh(obj.type)
        args = (kind,) if obj.index is None else (kind, obj.index)
        self.save_reduce(_g("torch.device"), args, obj=obj)

    dispatch[_Global] = _save_global
    dispatch[D.dtype] = _save_dtype
    dispatch[Size] = _save_size
    dispatch[device] = _save_device

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return _torch_reduce(obj)
        return NotImplemented


def _torch_reduce(t):
    """What PyTorch's ``Tensor.__reduce_ex__`` / ``Parameter.__reduce_ex__`` return."""
    state = _obj_state(t)
    if getattr(t, "_is_param", False):
        data = t.detach()
        if state:
            return (_g("torch._utils._rebuild_parameter_with_state"),
                    (data, t._requires_grad, OrderedDict(), state))
        return (_g("torch._utils._rebuild_parameter"), (data, t._requires_grad, OrderedDict()))
    st, off, stride = _layout(t)
    dt = t._dtype
    if dt.name in _V3_DTYPES:
        func = _g("torch._utils._rebuild_tensor_v3")
        args = (st, off, tuple(t._data.shape), stride, t._requires_grad, OrderedDict(), dt)
    else:
        func = _g("torch._utils._rebuild_tensor_v2")
        args = (TypedStorage(wrap_storage=st, dtype=dt), off, tuple(t._data.shape), stride,
                t._requires_grad, OrderedDict())
    if state:
        return (_g("torch._tensor._rebuild_from_type_v2"), (func, _g("torch.Tensor"), args, state))
    return (func, args)


class _StorageTable:
    """``persistent_id`` of ``torch.save``: storages become
    ``('storage', <type>, key, location, numel)`` and are written once each."""

    def __init__(self, legacy=False):
        self.keys = {}       # identity of the bytes -> key
        self.records = {}    # key -> (UntypedStorage, bytes to write, dtype)
        self.dtypes = {}     # identity of the bytes -> dtype seen first
        self.legacy = legacy

    def __call__(self, obj):
        if isinstance(obj, TypedStorage):
            u, dt = obj._untyped_storage, obj.dtype
        elif isinstance(obj, UntypedStorage):
            u, dt = obj, D.uint8
        else:
            return None
        name = _STORAGE_NAMES.get(dt.name) if isinstance(obj, TypedStorage) else None
        typ = _g("torch." + name) if name else _g("torch.storage.UntypedStorage")
        if typ.name == "UntypedStorage":
            dt = D.uint8
        ident = (id(u._root), u.data_ptr(), u.nbytes())
        seen = self.dtypes.setdefault(ident, dt)
        if seen is not dt and u.nbytes():
            raise RuntimeError("Cannot save multiple tensors or storages that view the same "
                               "data as different types")
        numel = u.nbytes() // dt.itemsize
        key = self.keys.get(ident)
        if key is None:
            key = self.keys[ident] = str(len(self.keys)) if not self.legacy else \
                str(0x10000000 + len(self.keys))
            self.records[key] = (u, numel * dt.itemsize, dt)
        dev = u.device
        location = "cpu" if dev.type == "cpu" else f"{dev.type}:{dev.index}"
        if self.legacy:
            return ("storage", typ, key, location, numel, None)
        return ("storage", typ, key, location, numel)


def _pickle_bytes(obj, protocol, table):
    import io
    buf = io.BytesIO()
    _TorchPickler(buf, protocol, table).dump(obj)
    return buf.getvalue()


def _storage_payload(u, nbytes):
    """The bytes of a storage as a buffer (host copy for cuda)."""
    b = u._host()
    return memoryview(b[:nbytes]) if nbytes else b""


# ---------------------------------------------------------------------------
# The zip container, written the way PyTorch's miniz writer writes it
# ---------------------------------------------------------------------------

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
_MUL = 0xC6A4A7935BD1E995
# Bucket counts libstdc++'s std::unordered_set steps through as it grows (from its
# prime table); the serialization id depends on that set's iteration order.
_BUCKETS = (13, 29, 59, 127, 257, 541, 1109, 2357, 5087, 10273, 20753, 42043, 85229, 172933,
            351061, 712697, 1447153, 2938679, 5967347, 12117689, 24607243, 49969847,
            101473717, 206062531, 418451333, 849749479, 1725587117)


def _hash_combine(seed, value):  # c10::hash_combine on a 64-bit size_t
    return seed ^ ((value + 0x9E3779B9 + (seed << 6) + (seed >> 2)) & _M64)


def _std_hash(s):
    """libstdc++'s ``std::hash<std::string>`` (``_Hash_bytes``, 64-bit)."""
    b = s.encode("utf-8")
    n = len(b)
    h = (0xC70F6907 ^ (n * _MUL)) & _M64
    full = n & ~7
    for i in range(0, full, 8):
        d = (int.from_bytes(b[i:i + 8], "little") * _MUL) & _M64
        h = ((h ^ (((d ^ (d >> 47)) * _MUL) & _M64)) * _MUL) & _M64
    if n & 7:
        h = ((h ^ int.from_bytes(b[full:], "little")) * _MUL) & _M64
    h = (((h ^ (h >> 47)) * _MUL) & _M64)
    return h ^ (h >> 47)


def _unordered_set_order(names):
    """Iteration order of a libstdc++ ``std::unordered_set<std::string>`` filled
    with ``names`` in order: a node goes to the front of the list when its bucket
    is empty, else right after its bucket's first node; a rehash relinks the
    list the same way. (PyTorch hashes its record names in this order.)"""
    codes = [_std_hash(n) for n in names]
    nxt, head, buckets, nb, level = {}, None, {}, 1, -1

    def link(i, b, bkts):
        nonlocal head
        before = bkts.get(b)
        if before is None or before == -1:
            nxt[i], head = head, i
            return before is None
        nxt[i], nxt[before] = nxt[before], i
        return False

    for i in range(len(names)):
        if i + 1 > (nb if level >= 0 else 0):  # grow: 13 buckets, then the next prime >= 2x
            level += 1
            nb = _BUCKETS[min(level, len(_BUCKETS) - 1)]
            p, head, buckets, first_bkt = head, None, {}, 0
            while p is not None:
                q, b = nxt[p], codes[p] % nb
                if link(p, b, buckets):
                    buckets[b] = -1
                    if nxt[p] is not None:
                        buckets[first_bkt] = p
                    first_bkt = b
                p = q
        b = codes[i] % nb
        if link(i, b, buckets):
            if nxt[i] is not None:
                buckets[codes[nxt[i]] % nb] = i
            buckets[b] = -1
    out, p = [], head
    while p is not None:
        out.append(names[p])
        p = nxt[p]
    return out


class _ZipWriter:
    def __init__(self, fh, archive_name):
        self.fh, self.prefix = fh, archive_name + "/"
        self.pos, self.entries, self.names, self.crcs = 0, [], [], 0

    def _write(self, data):
        self.fh.write(data)
        self.pos += len(data) if not isinstance(data, memoryview) else data.nbytes

    def record(self, name, data):
        full = (self.prefix + name).encode("utf-8")
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        ofs = self.pos
        z64 = [size, size] if size >= _M32 else []
        if ofs >= _M32:
            z64.append(ofs)
        z64 = struct.pack(f"<HH{len(z64)}Q", 1, 8 * len(z64), *z64) if z64 else b""
        pad = -(ofs + 30 + len(full) + 4 + len(z64)) % _ALIGN
        extra = z64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        flags = 0x0808 if size else 0x0800  # utf-8 names; data descriptor unless empty
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, flags, 0, 0, 0, 0, 0, 0,
                                len(full), len(extra)) + full + extra)
        crc = 0
        if size:
            self._write(data)
            crc = zlib.crc32(data)
            self._write(struct.pack("<IIQQ" if z64 else "<IIII", 0x08074B50, crc, size, size))
            self.crcs = _hash_combine(self.crcs, crc)
        self.entries.append((full, flags, crc, size, ofs, z64))
        self.names.append(name)

    def finish(self):
        ordered = _unordered_set_order(self.names)
        h = 0
        for n in ordered:
            h = _hash_combine(h, _std_hash(n))
        self.record(".data/serialization_id", f"{h:020d}{self.crcs:020d}".encode())
        cd_ofs = self.pos
        for full, flags, crc, size, ofs, z64 in self.entries:
            self._write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, flags, 0, 0, 0, crc,
                                    min(size, _M32), min(size, _M32), len(full), len(z64), 0,
                                    0, 0, 0, min(ofs, _M32)) + full + z64)
        n, cd_size, eocd64 = len(self.entries), self.pos - cd_ofs, self.pos
        self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x002D, 0, 0, n, n,
                                cd_size, cd_ofs))
        self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                                min(cd_size, _M32), min(cd_ofs, _M32), 0))


def _archive_name(path):
    """PyTorch's archive folder: the file's name without directory and last
    extension; ``archive`` for buffers and non-ASCII names."""
    if not path.isascii():
        return "archive"
    base = path[max(path.rfind("/"), path.rfind("\\")) + 1:]
    dot = base.rfind(".")
    return (base[:dot] if dot >= 0 else base) or "archive"


# ---------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------

def _fspath(f):
    if isinstance(f, (str, bytes, os.PathLike)):
        return os.fsdecode(os.fspath(f))
    return None


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL,
         _use_new_zipfile_serialization=True, _disable_byteorder_record=False):
    """Save ``obj`` to the path or binary file ``f`` in PyTorch's checkpoint format."""
    if pickle_module is not pickle:
        raise TypeError("ember.save supports only the standard pickle module")
    path = _fspath(f)
    if path is None and not callable(getattr(f, "write", None)):
        raise AttributeError(f"expected 'f' to be string, path, or a file-like object with a "
                             f"'write' attribute, got {type(f).__name__}")
    if path is not None:
        parent = os.path.dirname(path)
        if parent and not os.path.isdir(parent):
            raise RuntimeError(f"Parent directory {parent} does not exist.")
    # Pickle first, so a failure leaves an existing file untouched.
    table = _StorageTable(legacy=not _use_new_zipfile_serialization)
    data_pkl = _pickle_bytes(obj, pickle_protocol, table)
    if path is None:
        _write_checkpoint(f, "archive", data_pkl, table, _use_new_zipfile_serialization,
                          _disable_byteorder_record, pickle_protocol)
        if callable(getattr(f, "flush", None)):
            f.flush()
        return
    with open(path, "wb") as fh:
        _write_checkpoint(fh, _archive_name(path), data_pkl, table,
                          _use_new_zipfile_serialization, _disable_byteorder_record,
                          pickle_protocol)


def _write_checkpoint(fh, archive_name, data_pkl, table, zipped, no_byteorder, protocol):
    if not zipped:
        return _write_legacy(fh, data_pkl, table, protocol)
    z = _ZipWriter(fh, archive_name)
    z.record("data.pkl", data_pkl)
    z.record(".format_version", b"1")
    z.record(".storage_alignment", str(_ALIGN).encode())
    if not no_byteorder:
        z.record("byteorder", sys.byteorder.encode())
    for key, (u, nbytes, _) in table.records.items():
        z.record(f"data/{key}", _storage_payload(u, nbytes))
    z.record("version", b"3\n")
    if no_byteorder:
        z.record("byteorder", sys.byteorder.encode())  # miniz adds it at the end
    z.finish()


def _write_legacy(fh, data_pkl, table, protocol):
    sys_info = {"protocol_version": PROTOCOL_VERSION, "little_endian": sys.byteorder == "little",
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    for o in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info):
        pickle.dump(o, fh, protocol=protocol)
    fh.write(data_pkl)
    keys = sorted(table.records)
    pickle.dump(keys, fh, protocol=protocol)
    for key in keys:
        u, nbytes, dt = table.records[key]
        fh.write(struct.pack("<q", nbytes // dt.itemsize))
        fh.write(_storage_payload(u, nbytes))


# ---------------------------------------------------------------------------
# Rebuilding tensors (the functions PyTorch's pickles call, ember's versions)
# ---------------------------------------------------------------------------

def _int_tuple(v, what):
    v = tuple(v)
    if not all(type(x) is int and x >= 0 for x in v):
        raise RuntimeError(f"invalid tensor {what} {v!r} in checkpoint")
    return v


def _tensor_on(storage, dtype, offset, size, stride):
    """A tensor viewing ``storage`` (UntypedStorage) as ``dtype``, bounds-checked."""
    if isinstance(storage, TypedStorage):
        storage = storage._untyped_storage
    if not isinstance(storage, UntypedStorage) or not isinstance(dtype, D.dtype):
        raise TypeError(f"expected a storage and a dtype, got {type(storage).__name__} and "
                        f"{type(dtype).__name__}")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if type(offset) is not int or offset < 0 or len(size) != len(stride):
        raise RuntimeError(f"invalid tensor layout in checkpoint: offset {offset!r}, size "
                           f"{list(size)}, stride {list(stride)}")
    isz, nbytes = dtype.itemsize, storage.nbytes()
    need = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else offset
    if need * isz > nbytes:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset}, and itemsize {isz} requiring a storage size of "
                           f"{need * isz} are out of bounds for storage of size {nbytes}")
    b = storage._bytes
    strides = tuple(s * isz for s in stride)
    if isinstance(b, np.ndarray):
        arr = np.ndarray(size, dtype=dtype.np, buffer=b, offset=offset * isz, strides=strides)
    else:
        import cupy
        arr = cupy.ndarray(size, dtype=dtype.np, memptr=b.data + offset * isz, strides=strides)
    return _wrap(arr, dtype)


def _finish(t, requires_grad):
    if requires_grad:
        if type(requires_grad) is not bool:
            raise RuntimeError(f"invalid requires_grad {requires_grad!r} in checkpoint")
        t.requires_grad_(True)
    return t


def _rebuild_tensor(storage, storage_offset, size, stride):
    if not isinstance(storage, TypedStorage):
        raise TypeError(f"expected a TypedStorage, got {type(storage).__name__}")
    return _tensor_on(storage, storage.dtype, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
    return _finish(_rebuild_tensor(storage, storage_offset, size, stride), requires_grad)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    return _finish(_tensor_on(storage, dtype, storage_offset, size, stride), requires_grad)


def _parameter_class():
    try:
        from .nn.parameter import Parameter
        return Parameter
    except ImportError:  # ember.nn not importable: parameters load as plain tensors
        return None


def _make_parameter(data, requires_grad):
    if not isinstance(data, Tensor) or type(requires_grad) is not bool:
        raise TypeError("_rebuild_parameter expects a tensor and a bool")
    cls = _parameter_class()
    if cls is None:
        return data.requires_grad_(requires_grad)
    p = cls(data, requires_grad)
    p._data = data._data  # keep sharing the loaded storage
    return p


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return _make_parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_state(_make_parameter(data, requires_grad), state)


def _set_state(obj, state):
    """Restore user attributes; never ember's own tensor internals or dunders."""
    if not state:
        return obj
    if isinstance(state, tuple) and len(state) == 2:
        items = dict(state[0] or {}, **(state[1] or {}))
    elif isinstance(state, dict):
        items = state
    else:
        raise RuntimeError(f"invalid tensor state {type(state).__name__} in checkpoint")
    for k, v in items.items():
        if not isinstance(k, str) or k.startswith("__") or hasattr(Tensor, k):
            continue
        setattr(obj, k, v)
    return obj


def _retype(t, new_type):
    if type(t) is new_type or new_type is Tensor:
        return t
    if new_type is _ParameterMarker or getattr(new_type, "_is_param", False):
        return _make_parameter(t, t._requires_grad)
    if isinstance(new_type, type) and issubclass(new_type, Tensor):
        t.__class__ = new_type
        return t
    raise RuntimeError(f"can't rebuild a tensor as {new_type!r}")


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in _REBUILDERS:
        raise RuntimeError(f"_rebuild_from_type_v2: unexpected rebuild function {func!r}")
    return _set_state(_retype(func(*args), new_type), state)


def _rebuild_device_tensor_from_cpu_tensor(data, dtype, device, requires_grad):
    return _finish(data.to(device=device, dtype=dtype), requires_grad)


def _unsupported(what):
    def f(*args, **kwargs):
        raise RuntimeError(f"the checkpoint holds {what}, which ember does not support")
    f.__name__ = f"_rebuild_{what.replace(' ', '_')}"
    return f


class _ParameterMarker:
    """``torch.nn.Parameter`` when ember.nn can't be imported."""


_REBUILDERS = {_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
               _rebuild_parameter_with_state, _rebuild_device_tensor_from_cpu_tensor}


# ---------------------------------------------------------------------------
# The allowlist (weights_only=True)
# ---------------------------------------------------------------------------

def _encode(obj, encoding="utf-8", errors="strict"):
    """``_codecs.encode``, as protocol-2 pickles use it for bytes: str in, bytes out."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8",
                                                    "ascii"):
        raise pickle.UnpicklingError("_codecs.encode is allowed only to rebuild bytes")
    return obj.encode(encoding, errors)


def _bytes(*args):
    """``builtins.bytes`` as protocol-2 pickles use it: ``bytes()`` for b"" only."""
    if args:
        raise pickle.UnpicklingError("builtins.bytes is allowed only to rebuild b''")
    return b""


def _get_layout(name):
    if name != "torch.strided":
        raise RuntimeError(f"the checkpoint holds a {name} tensor, which ember does not support")
    return name


_SAFE = None          # "module.name" -> object, the built-in allowlist
_USER_SAFE = {}       # added by add_safe_globals


def _safe_table():
    global _SAFE
    if _SAFE is None:
        t = {
            "collections.OrderedDict": OrderedDict, "collections.Counter": Counter,
            "builtins.set": set, "builtins.bytearray": bytearray, "builtins.complex": complex,
            "builtins.bytes": _bytes, "_codecs.encode": _encode, "torch.Size": Size,
            "torch.device": device, "torch.Tensor": Tensor,
            "torch.serialization._get_layout": _get_layout,
            "torch.UntypedStorage": UntypedStorage, "torch.storage.UntypedStorage": UntypedStorage,
            "torch.storage.TypedStorage": TypedStorage, "torch.TypedStorage": TypedStorage,
            "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
            "torch.nn.parameter.Parameter": _parameter_class() or _ParameterMarker,
        }
        for f in _REBUILDERS:
            t["torch._utils." + f.__name__] = f
        for what in ("sparse tensor", "sparse csr tensor", "qtensor", "nested tensor",
                     "meta tensor no storage", "wrapper subclass",
                     "device tensor from numpy"):
            f = _unsupported(what)
            t["torch._utils." + f.__name__] = f
        for d in D.ALL:
            t["torch." + d.name] = d
        for name, st in STORAGE_TYPES.items():
            t["torch." + name] = t["torch.cuda." + name] = st
        _SAFE = t
    return _SAFE


_MISSING = object()
_SAFE_IDS = None


def _safe_ids():
    global _SAFE_IDS
    if _SAFE_IDS is None:
        _SAFE_IDS = frozenset(id(v) for v in _safe_table().values())
    return _SAFE_IDS


def _lookup_safe(key):
    obj = _USER_SAFE.get(key, _MISSING)
    return _safe_table().get(key, _MISSING) if obj is _MISSING else obj


def _global_name(obj):
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[1], str):
        return obj[1], obj[0]
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if mod is None or qual is None:
        raise TypeError(f"add_safe_globals: can't name {obj!r}; pass (obj, 'module.name')")
    return f"{mod}.{qual}", obj


def add_safe_globals(safe_globals):
    """Allow these functions/classes (or ``(obj, "module.name")`` pairs) in
    ``weights_only`` loads; instances of allowed classes may also be BUILT."""
    for g in safe_globals:
        name, obj = _global_name(g)
        _USER_SAFE[name] = obj


def get_safe_globals():
    return list(_USER_SAFE.values())


def clear_safe_globals():
    _USER_SAFE.clear()


class safe_globals:
    """Context manager: ``add_safe_globals`` for the duration of a ``with`` block."""

    def __init__(self, safe_globals):
        self.globals = safe_globals

    def __enter__(self):
        self._saved = dict(_USER_SAFE)
        add_safe_globals(self.globals)

    def __exit__(self, *exc):
        _USER_SAFE.clear()
        _USER_SAFE.update(self._saved)


class _BlockedGlobal(pickle.UnpicklingError):
    pass


def _compat_name(module, name, proto):
    if proto < 3:
        import _compat_pickle
        if (module, name) in _compat_pickle.NAME_MAPPING:
            return _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return module, name


class _PersistentIds:
    """Unpickler mixin: persistent ids are resolved by the ``persistent_load``
    callable given to ``__init__`` (none expected without one)."""

    def __init__(self, file, persistent_load=None, **kwargs):
        super().__init__(file, **kwargs)
        self._pl = persistent_load

    def persistent_load(self, pid):
        if self._pl is None:
            raise pickle.UnpicklingError("unexpected persistent id in this pickle")
        return self._pl(pid)


class _WeightsUnpickler(_PersistentIds, pickle._Unpickler):
    """The allowlist unpickler (pure Python, so every opcode that could call or
    mutate something is checked): globals only from the allowlist, REDUCE only on
    allowed callables, NEWOBJ only on allowed classes, BUILD only on OrderedDict,
    Counter and user-allowed classes; INST/OBJ/EXT are refused."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, persistent_load=None, encoding="utf-8"):
        super().__init__(file, persistent_load, encoding=encoding)

    def find_class(self, module, name):
        module, name = _compat_name(module, name, self.proto)
        obj = _lookup_safe(f"{module}.{name}")
        if obj is _MISSING:
            raise _BlockedGlobal(f"{module}.{name}")
        return obj

    @staticmethod
    def _allowed(obj):
        return id(obj) in _safe_ids() or any(v is obj for v in _USER_SAFE.values())

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if not self._allowed(func) or not isinstance(args, tuple):
            raise pickle.UnpicklingError(f"REDUCE on {func!r} is not allowed")
        self.stack[-1] = func(*args)

    def _new(self, cls, args, kwargs):
        if not isinstance(cls, type) or not self._allowed(cls) or not isinstance(args, tuple):
            raise pickle.UnpicklingError(f"NEWOBJ on {cls!r} is not allowed")
        self.append(cls.__new__(cls, *args, **kwargs))

    def load_newobj(self):
        args = self.stack.pop()
        self._new(self.stack.pop(), args, {})

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        self._new(self.stack.pop(), args, kwargs)

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        cls = type(inst)
        if cls in (OrderedDict, Counter):
            if state is None:
                return
            if not isinstance(state, dict) or not all(
                    isinstance(k, str) and not k.startswith("__") for k in state):
                raise pickle.UnpicklingError(f"invalid state for {cls.__name__}")
            inst.__dict__.update(state)
            return
        if not any(v is cls for v in _USER_SAFE.values()):
            raise pickle.UnpicklingError(f"BUILD on {cls.__module__}.{cls.__qualname__} "
                                         "is not allowed")
        setstate = getattr(inst, "__setstate__", None)
        if setstate is not None:
            setstate(state)
            return
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        if state:
            inst.__dict__.update(state)
        for k, v in (slots or {}).items():
            setattr(inst, k, v)

    def _refuse(self):
        raise pickle.UnpicklingError("pickle opcodes INST/OBJ/EXT are not allowed")

    # Container opcodes act only on real containers (never call another object's
    # append/__setitem__/add).
    def _container(self, kinds, obj, what):
        if not isinstance(obj, kinds):
            raise pickle.UnpicklingError(f"{what} on {type(obj).__name__} is not allowed")

    def _guarded(kinds, what, target, base):
        """Opcode handler ``base`` run only when ``target(self)`` (the object it would
        change) is one of ``kinds``."""
        def load(self):
            self._container(kinds, target(self), what)
            base(self)
        return load

    def _marked(self):   # the container below the MARK (APPENDS/SETITEMS/ADDITEMS)
        return self.metastack[-1][-1]

    load_append = _guarded(list, "APPEND", lambda u: u.stack[-2],
                           pickle._Unpickler.load_append)
    load_appends = _guarded(list, "APPENDS", _marked, pickle._Unpickler.load_appends)
    load_setitem = _guarded(dict, "SETITEM", lambda u: u.stack[-3],
                            pickle._Unpickler.load_setitem)
    load_setitems = _guarded(dict, "SETITEMS", _marked, pickle._Unpickler.load_setitems)
    load_additems = _guarded(set, "ADDITEMS", _marked, pickle._Unpickler.load_additems)
    del _guarded, _marked

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.APPEND[0]] = load_append
    dispatch[pickle.APPENDS[0]] = load_appends
    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.ADDITEMS[0]] = load_additems
    for _op in (pickle.INST, pickle.OBJ, pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_op[0]] = _refuse
    del _op


class _FullUnpickler(_PersistentIds, pickle.Unpickler):
    """``weights_only=False``: anything, with ``torch.*`` globals mapped to ember."""

    def find_class(self, module, name):
        obj = _lookup_safe(f"{module}.{name}")
        if obj is not _MISSING:
            return obj
        if module == "torch" or module.startswith("torch."):
            import importlib
            target = "ember" + module[5:]
            try:
                return getattr(importlib.import_module(target), name)
            except (ImportError, AttributeError):
                raise pickle.UnpicklingError(f"the checkpoint needs {module}.{name}, which has "
                                             f"no ember equivalent ({target}.{name})") from None
        return super().find_class(module, name)


def _unpickler(file, weights_only, persistent_load, load_args):
    if weights_only:
        return _WeightsUnpickler(file, persistent_load, load_args.get("encoding", "utf-8"))
    return _FullUnpickler(file, persistent_load, **load_args)


# ---------------------------------------------------------------------------
# Where loaded storages go (map_location)
# ---------------------------------------------------------------------------

def _default_restore(storage, location):
    loc = str(location)
    if loc.startswith("cpu"):
        return storage.cpu()
    if loc.startswith("cuda"):
        try:
            dev = canonical(device(loc))
        except RuntimeError as e:
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but CUDA is not available "
                "to ember. If you are running on a CPU-only machine, please use ember.load "
                f"with map_location=ember.device('cpu') to map your storages to the CPU. ({e})"
            ) from None
        return storage.to(device=dev)
    raise RuntimeError(f"don't know how to restore data location of {type(storage).__name__} "
                       f"(tagged with {loc})")


def _as_untyped(s):
    if isinstance(s, TypedStorage):
        return s._untyped_storage
    if isinstance(s, UntypedStorage):
        return s
    raise TypeError(f"map_location must return a storage or None, got {type(s).__name__}")


def _restorer(map_location):
    if map_location is None:
        return _default_restore
    if isinstance(map_location, (str, bytes, device)):
        loc = map_location.decode() if isinstance(map_location, bytes) else str(map_location)
        return lambda s, location: _default_restore(s, loc)
    if isinstance(map_location, dict):
        return lambda s, location: _default_restore(s, map_location.get(location, location))
    if callable(map_location):
        def restore(s, location):
            r = map_location(s, location)
            return _default_restore(s, location) if r is None else _as_untyped(r)
        return restore
    raise TypeError(f"map_location should be a str, device, dict or callable, got "
                    f"{type(map_location).__name__}")


def _device_of_map_location(map_location):
    if map_location is None:
        return "cpu"
    if isinstance(map_location, (str, device)):
        return str(map_location)
    raise RuntimeError("Loading a safetensors file with a dict or callable map_location is not "
                       "supported. Use a device string or ember.device instead.")


# ---------------------------------------------------------------------------
# Reading the zip container
# ---------------------------------------------------------------------------

class _ZipReader:
    def __init__(self, fh, source):
        import zipfile
        self.fh, self.source = fh, source
        fh.seek(0, os.SEEK_END)
        self.size = fh.tell()
        fh.seek(0)
        try:
            self.zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, ValueError, struct.error) as e:
            raise RuntimeError(f"{source} is truncated or corrupted: its zip directory can't "
                               f"be read ({e})") from None
        infos = self.zf.infolist()
        if not infos:
            raise RuntimeError(f"{source}: the zip archive contains no files")
        first = infos[0].filename
        if "/" not in first:
            raise RuntimeError(f"{source}: file in archive is not in a subdirectory: {first}")
        prefix = first[:first.index("/") + 1]
        self.info = {i.filename[len(prefix):]: i for i in infos if i.filename.startswith(prefix)}

    def has(self, name):
        return name in self.info

    def _data_offset(self, info):
        self.fh.seek(info.header_offset)
        h = self.fh.read(30)
        if len(h) < 30 or h[:4] != b"PK\x03\x04":
            raise RuntimeError(f"{self.source} is corrupted: bad local header for record "
                               f"{info.filename}")
        ofs = info.header_offset + 30 + int.from_bytes(h[26:28], "little") + \
            int.from_bytes(h[28:30], "little")
        if ofs + info.file_size > self.size:
            raise RuntimeError(f"{self.source} is truncated: record {info.filename} ends past "
                               "the end of the file")
        return ofs

    def read(self, name, nbytes=None, mm=None):
        """Record ``name`` as a fresh writable uint8 array (or a view of ``mm``)."""
        info = self.info.get(name)
        if info is None:
            raise RuntimeError(f"{self.source} is corrupted: record {name} is missing")
        if nbytes is not None and info.file_size != nbytes:
            raise RuntimeError(f"{self.source} is corrupted: record {name} holds "
                               f"{info.file_size} bytes, the checkpoint expects {nbytes}")
        if info.compress_type != 0:  # not written by PyTorch; read through zipfile
            if mm is not None:
                raise RuntimeError(f"{self.source}: can't mmap compressed record {name}")
            try:
                data = self.zf.open(info).read()
            except Exception as e:
                raise RuntimeError(f"{self.source} is corrupted: record {name}: {e}") from None
            return np.frombuffer(bytearray(data), np.uint8)
        ofs = self._data_offset(info)
        if info.file_size == 0:
            return np.empty(0, np.uint8)
        if mm is not None:
            return np.frombuffer(mm, np.uint8, count=info.file_size, offset=ofs)
        out = np.empty(info.file_size, np.uint8)
        view, got = memoryview(out), 0
        self.fh.seek(ofs)
        while got < info.file_size:
            n = self.fh.readinto(view[got:])
            if not n:
                raise RuntimeError(f"{self.source} is truncated in record {name}")
            got += n
        if zlib.crc32(out) != info.CRC:
            raise RuntimeError(f"{self.source} is corrupted: CRC-32 mismatch in record {name}")
        return out


def _load_zip(fh, source, restore, weights_only, mm, load_args):
    z = _ZipReader(fh, source)
    if not z.has("data.pkl"):
        if z.has("constants.pkl"):
            raise RuntimeError(f"{source} is a TorchScript archive (torch.jit.save); ember "
                               "can't load TorchScript programs")
        raise RuntimeError(f"{source} is a zip archive without data.pkl: not a PyTorch "
                           "checkpoint")
    swap = False
    if z.has("byteorder"):
        order = bytes(z.read("byteorder")).decode("ascii", "replace")
        if order not in ("little", "big"):
            raise ValueError(f"{source}: Unknown endianness type: {order}")
        swap = order != sys.byteorder
    loaded = {}

    def persistent_load(pid):
        typ, key, location, numel = _check_pid(pid, 5)
        dt = D.uint8 if typ is UntypedStorage else typ.dtype
        st = loaded.get(key)
        if st is None:
            u8 = z.read(f"data/{key}", numel * dt.itemsize, mm)
            u = UntypedStorage._wrap(u8)
            if swap:
                u.byteswap(dt)
            st = loaded[key] = TypedStorage(wrap_storage=restore(u, location), dtype=dt)
        elif st.dtype is not dt and st.nbytes():
            raise RuntimeError(f"storage {key} is read as two dtypes")
        return st

    import io
    data = io.BytesIO(bytes(z.read("data.pkl")))
    return _unpickler(data, weights_only, persistent_load, load_args).load()


def _check_pid(pid, n):
    """Validate a ``('storage', type, key, location, numel[, view])`` persistent id."""
    if not isinstance(pid, tuple) or len(pid) != n:
        raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
    tag = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
    if tag != "storage":
        raise pickle.UnpicklingError(f"Unknown typename for persistent_load, expected "
                                     f"'storage' but got {tag!r}")
    typ, key, location, numel = pid[1:5]
    location = location.decode("ascii") if isinstance(location, bytes) else location
    if not (typ is UntypedStorage or isinstance(typ, StorageType)) or not isinstance(key, str) \
            or not isinstance(location, str) or type(numel) is not int or numel < 0:
        raise pickle.UnpicklingError(f"invalid storage reference {pid!r}")
    return typ, key, location, numel


def _mmap_file(fh):
    import mmap
    try:
        fileno = fh.fileno()
    except (AttributeError, OSError):
        raise ValueError("f must be a file path in order to use the mmap argument") from None
    # Private (copy-on-write) mapping, as PyTorch's default MAP_PRIVATE.
    return mmap.mmap(fileno, 0, access=mmap.ACCESS_COPY)


# ---------------------------------------------------------------------------
# The legacy (pre-1.6) format: magic, protocol, sys_info, object, keys, storages
# ---------------------------------------------------------------------------

def _load_legacy(fh, source, restore, weights_only, load_args):
    def small():
        return _unpickler(fh, weights_only, None, load_args).load()

    try:
        magic = small()
    except _BlockedGlobal:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError, KeyError) as e:
        raise pickle.UnpicklingError(f"{source} is not a PyTorch checkpoint (it is neither a "
                                     f"zip archive, a safetensors file nor a legacy pickle: "
                                     f"{type(e).__name__}: {e})") from None
    if magic != MAGIC_NUMBER:
        raise RuntimeError(f"{source}: Invalid magic number; corrupt file or not a PyTorch "
                           "checkpoint")
    version = small()
    if version != PROTOCOL_VERSION:
        raise RuntimeError(f"{source}: Invalid protocol version: {version!r}")
    sys_info = small()
    swap = isinstance(sys_info, dict) and sys_info.get("little_endian", True) != (
        sys.byteorder == "little")
    storages = {}

    def persistent_load(pid):
        if isinstance(pid, tuple) and pid and pid[0] in ("module", b"module"):
            if weights_only:
                raise pickle.UnpicklingError("the checkpoint pickles a module class")
            return pid[1]
        typ, key, location, numel = _check_pid(pid[:5] if isinstance(pid, tuple) else pid, 5)
        view = pid[5] if len(pid) > 5 else None
        dt = D.uint8 if typ is UntypedStorage else typ.dtype
        if key not in storages:
            raw = UntypedStorage._wrap(np.empty(numel * dt.itemsize, np.uint8))
            storages[key] = TypedStorage(wrap_storage=restore(raw, location), dtype=dt)
        st = storages[key]
        if view is None:
            return st
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                and all(type(v) is int and v >= 0 for v in view[1:])):
            raise pickle.UnpicklingError(f"invalid storage view {view!r}")
        view_key, offset, size = view
        if view_key not in storages:
            a = offset * dt.itemsize
            storages[view_key] = TypedStorage(
                wrap_storage=st._untyped_storage[a:a + size * dt.itemsize], dtype=dt)
        return storages[view_key]

    result = _unpickler(fh, weights_only, persistent_load, load_args).load()
    keys = small()
    if not isinstance(keys, list):
        raise RuntimeError(f"{source} is corrupted: bad storage key list")
    for key in keys:
        st = storages.get(key)
        if st is None:
            raise RuntimeError(f"{source} is corrupted: storage {key!r} is not referenced")
        head = fh.read(8)
        if len(head) < 8:
            raise RuntimeError(f"{source} is truncated in the data of storage {key}")
        numel = int.from_bytes(head, sys.byteorder if not swap else
                               ("big" if sys.byteorder == "little" else "little"), signed=True)
        if numel != st.size():
            raise RuntimeError(f"{source} is corrupted: storage {key} has {numel} elements, "
                               f"expected {st.size()}")
        n, u = numel * st.dtype.itemsize, st._untyped_storage
        if u.nbytes() != n:
            raise RuntimeError(f"map_location returned a storage of {u.nbytes()} bytes for "
                               f"storage {key} of {n} bytes")
        on_host = isinstance(u._bytes, np.ndarray) and u._bytes.flags.c_contiguous
        host = u._bytes if on_host else np.empty(n, np.uint8)
        if n and fh.readinto(memoryview(host)) != n:
            raise RuntimeError(f"{source} is truncated in the data of storage {key}")
        if not on_host:
            u._write_host(host)
        if swap:
            u.byteswap(st.dtype)
    return result


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------

def _describe(f, path):
    if path is not None:
        return repr(path)
    name = getattr(f, "name", None)
    return repr(name) if isinstance(name, str) else f"<{type(f).__name__}>"


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None,
         **pickle_load_args):
    """Load a checkpoint written by ``torch.save`` / ``ember.save`` (zip or legacy
    format) or a safetensors file. See the module docstring for ``weights_only``."""
    if weights_only is None:
        weights_only = True
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is "
                           "specified")
    if pickle_module is not None and pickle_module is not pickle:
        raise TypeError("ember.load supports only the standard pickle module")
    pickle_load_args.setdefault("encoding", "utf-8")
    path = _fspath(f)
    source = _describe(f, path)
    if path is not None and path.endswith(".safetensors"):
        return load_safetensors(path, device=_device_of_map_location(map_location),
                                mmap=bool(mmap))
    restore = _restorer(map_location)
    if path is not None:
        with open(path, "rb") as fh:
            return _load_from(fh, path, source, restore, map_location, weights_only, mmap,
                              pickle_load_args)
    if not callable(getattr(f, "read", None)):
        raise AttributeError(f"expected 'f' to be string, path, or a file-like object with a "
                             f"'read' attribute, got {type(f).__name__}")
    if not (callable(getattr(f, "seekable", None)) and f.seekable()):
        import io
        f = io.BytesIO(f.read())  # pipes, sockets: read it all
    return _load_from(f, None, source, restore, map_location, weights_only, mmap,
                      pickle_load_args)


def _load_from(fh, path, source, restore, map_location, weights_only, mmap, load_args):
    start = fh.tell()
    head = fh.read(9)
    fh.seek(start)
    if not head:
        raise RuntimeError(f"{source} is empty: not a checkpoint")
    kind = "zip" if head[:4] == b"PK\x03\x04" else \
        "safetensors" if len(head) == 9 and head[8:9] == b"{" else "legacy"
    if kind == "safetensors":
        return load_safetensors(fh, device=_device_of_map_location(map_location),
                                mmap=bool(mmap))
    if kind == "legacy" and _is_tar(fh, start):
        raise RuntimeError(f"{source} is a pre-0.4 tar checkpoint, which ember can't read; "
                           "re-save it with a recent PyTorch")
    if mmap and kind != "zip":
        raise RuntimeError(f"{source}: mmap can only be used with files saved with "
                           "_use_new_zipfile_serialization=True (the zip format)")
    if kind == "zip" and start:  # archive embedded in a larger stream
        import io
        fh = io.BytesIO(fh.read())
    mm = _mmap_file(fh) if mmap else None
    try:
        if kind == "zip":
            return _load_zip(fh, source, restore, weights_only, mm, load_args)
        return _load_legacy(fh, source, restore, weights_only, load_args)
    except _BlockedGlobal as e:
        name = str(e)
        raise pickle.UnpicklingError(
            f"Weights only load failed for {source}: the pickle references the global "
            f"{name}, which is not on the allowlist, so nothing in it was run. If you trust "
            f"this file, load it with weights_only=False, or allow the global with "
            f"ember.serialization.add_safe_globals([{name.rpartition('.')[2]}]).") from None
    except pickle.UnpicklingError as e:
        msg = str(e)
        raise pickle.UnpicklingError(msg if source in msg else f"{source}: {msg}") from None
    except RuntimeError as e:
        msg = str(e)
        if source in msg:
            raise
        raise RuntimeError(f"{source}: {msg}") from e
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error,
            UnicodeDecodeError, OverflowError, RecursionError, MemoryError) as e:
        if not weights_only and not isinstance(e, EOFError):
            raise
        raise pickle.UnpicklingError(f"{source} is corrupted or not a checkpoint: "
                                     f"{type(e).__name__}: {e}") from None


def _is_tar(fh, start):
    fh.seek(start + 257)
    magic = fh.read(5)
    fh.seek(start)
    return magic == b"ustar"


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

_ST_DTYPES = {"BOOL": D.bool, "U8": D.uint8, "I8": D.int8, "I16": D.int16, "U16": D.uint16,
              "F16": D.float16, "BF16": D.bfloat16, "I32": D.int32, "U32": D.uint32,
              "F32": D.float32, "C64": D.complex64, "F64": D.float64, "I64": D.int64,
              "U64": D.uint64}
_ST_NAMES = {d.name: k for k, d in _ST_DTYPES.items()}
_ST_RANK = {k: i for i, k in enumerate(_ST_DTYPES)}  # safetensors' Dtype order
_ST_MAX_HEADER = 100_000_000


def save_safetensors(tensors, path, metadata=None):
    """Write ``{name: tensor}`` as a safetensors file (path or binary file object).
    Laid out as the safetensors library does: sorted by dtype (widest first) then
    name, header JSON padded with spaces to 8 bytes. Shared tensors are written
    once per name (no error as safetensors' torch helper gives)."""
    import json
    if not isinstance(tensors, dict):
        raise TypeError(f"save_safetensors expects a dict of tensors, got {type(tensors).__name__}")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError("safetensors metadata must be a dict of str to str")
    for k, t in tensors.items():
        if not isinstance(k, str) or not isinstance(t, Tensor):
            raise TypeError(f"save_safetensors: {k!r} must map a str to a Tensor")
        if t._dtype.name not in _ST_NAMES:
            raise ValueError(f"safetensors can't store {t._dtype} (tensor {k!r})")
    order = sorted(tensors, key=lambda k: (-_ST_RANK[_ST_NAMES[tensors[k]._dtype.name]], k))
    header = {"__metadata__": metadata} if metadata else {}
    pos = 0
    for k in order:
        t = tensors[k]
        header[k] = {"dtype": _ST_NAMES[t._dtype.name], "shape": list(t._data.shape),
                     "data_offsets": [pos, pos + t.nbytes]}
        pos += t.nbytes
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    p = _fspath(path)
    fh = open(p, "wb") if p is not None else path
    try:
        fh.write(struct.pack("<Q", len(hb)) + hb)
        for k in order:
            a = tensors[k]._data
            a = np.ascontiguousarray(to_host(a))
            if a.size:
                fh.write(memoryview(a.reshape(-1).view(np.uint8)))
    finally:
        if p is not None:
            fh.close()


def load_safetensors(path, device="cpu", *, mmap=False):
    """Read a safetensors file into ``{name: tensor}`` (names sorted, as safetensors'
    ``load_file``); ``mmap=True`` maps the data instead of reading it."""
    p = _fspath(path)
    source = _describe(path, p)
    if p is not None:
        with open(p, "rb") as fh:
            return _read_safetensors(fh, source, device, mmap)
    return _read_safetensors(path, source, device, mmap)


def _read_safetensors(fh, source, dev, mmap):
    import json
    start = fh.tell()
    fh.seek(0, os.SEEK_END)
    size = fh.tell() - start
    fh.seek(start)
    head = fh.read(8)
    if len(head) < 8:
        raise RuntimeError(f"{source} is not a safetensors file: too short")
    n = int.from_bytes(head, "little")
    if n > min(_ST_MAX_HEADER, size - 8):
        raise RuntimeError(f"{source} is truncated or not a safetensors file: header of {n} "
                           f"bytes in a file of {size} bytes")
    try:
        header = json.loads(fh.read(n).decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (ValueError, UnicodeDecodeError) as e:
        raise RuntimeError(f"{source}: invalid safetensors header ({e})") from None
    header.pop("__metadata__", None)
    data_start, data_len = start + 8 + n, size - 8 - n
    spans = []
    for name, info in header.items():
        try:
            dt = _ST_DTYPES[info["dtype"]]
            shape = tuple(info["shape"])
            b, e = info["data_offsets"]
            if not all(type(s) is int and s >= 0 for s in shape + (b, e)):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise RuntimeError(f"{source}: invalid safetensors entry for tensor {name!r}: "
                               f"{info!r}") from None
        if e - b != int(np.prod(shape, dtype=np.int64)) * dt.itemsize or b > e:
            raise RuntimeError(f"{source}: tensor {name!r} has shape {list(shape)} ({dt}) but "
                               f"{e - b} bytes")
        spans.append((b, e, name, dt, shape))
    spans.sort()
    pos = 0
    for b, e, name, _, _ in spans:
        if b != pos:
            raise RuntimeError(f"{source}: safetensors data offsets are not contiguous at "
                               f"tensor {name!r}")
        pos = e
    if pos != data_len:
        raise RuntimeError(f"{source} is truncated or corrupted: the header describes {pos} "
                           f"bytes of data, the file holds {data_len}")
    mm = _mmap_file(fh) if mmap and data_len else None
    target = canonical(dev)
    out = {}
    for b, e, name, dt, shape in sorted(spans, key=lambda s: s[2]):
        if mm is not None:
            u8 = np.frombuffer(mm, np.uint8, count=e - b, offset=data_start + b) if e > b else \
                np.empty(0, np.uint8)
        else:
            u8 = np.empty(e - b, np.uint8)
            fh.seek(data_start + b)
            if fh.readinto(memoryview(u8)) != e - b:
                raise RuntimeError(f"{source} is truncated in tensor {name!r}")
        t = _tensor_on(UntypedStorage._wrap(u8), dt, 0, shape, _contiguous_strides(shape))
        out[name] = t if target == CPU else t.to(target)
    return out
