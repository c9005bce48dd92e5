"""ember.save / ember.load against real PyTorch: byte-identical files, round trips in
both directions, safe loading, legacy format, mmap, safetensors, bad files."""
import copy
import gc
import io
import json
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from reference import assert_close, to_numpy

import ember
import ember.serialization as S


def payload(m):
    """The same mixed object built with torch or ember (``m``)."""
    x = m.arange(24, dtype=m.float32).reshape(4, 6)
    return {
        "x": x, "row": x[1], "t": x.t(), "sl": x[1:3, 2:5],
        "bf16": m.tensor([1.5, -2.0, 3.25], dtype=m.bfloat16),
        "f16": m.tensor([[0.5, 1.0], [2.0, -4.0]], dtype=m.float16),
        "f64": m.tensor([1.5, 2.5], dtype=m.float64),
        "bool": m.tensor([True, False, True]),
        "c64": m.tensor([1 + 2j, 3 - 1j], dtype=m.complex64),
        "c128": m.tensor([1 + 2j], dtype=m.complex128),
        "i8": m.tensor([-1, 2], dtype=m.int8), "u8": m.tensor([1, 255], dtype=m.uint8),
        "i16": m.tensor([3, -3], dtype=m.int16), "i32": m.tensor([4], dtype=m.int32),
        "i64": m.tensor([5, -6]), "u16": m.zeros(3, dtype=m.uint16),
        "scalar": m.tensor(3.5), "empty": m.zeros(0, 3),
        "nested": [1, 2.5, "text", (None, True), {"k": b"bytes", "deep": [x[0, :2]]}],
        "dtype": m.float16, "size": m.Size([2, 3]), "device": m.device("cpu"),
        "set": {1, 2}, "complex": 1 + 2j,
    }


def torch_bytes(obj, **kw):
    b = io.BytesIO()
    torch.save(obj, b, **kw)
    return b.getvalue()


def ember_bytes(obj, **kw):
    b = io.BytesIO()
    ember.save(obj, b, **kw)
    return b.getvalue()


def assert_same(e, t, what="obj"):
    """ember object ``e`` equals torch object ``t`` (recursively)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), what
        assert_close(e, t, 0, 0, what)
        assert e.requires_grad == t.requires_grad, what
    elif isinstance(t, dict):
        assert type(e) is type(t) and list(e) == list(t), what
        for k in t:
            assert_same(e[k], t[k], f"{what}[{k!r}]")
    elif isinstance(t, (list, tuple)) and not isinstance(t, torch.Size):
        assert type(e) is type(t) and len(e) == len(t), what
        for i, (a, b) in enumerate(zip(e, t)):
            assert_same(a, b, f"{what}[{i}]")
    elif isinstance(t, (torch.dtype, torch.device, torch.Size)):
        assert str(e) == str(t) and type(e).__name__ == type(t).__name__, what
    else:
        assert type(e) is type(t) and e == t, f"{what}: {e!r} != {t!r}"


# ---------------------------------------------------------------------------
# The file ember writes is the file torch writes
# ---------------------------------------------------------------------------

def test_save_is_byte_identical_to_torch(tmp_path):
    for proto in (2, 4):
        assert ember_bytes(payload(ember), pickle_protocol=proto) == \
            torch_bytes(payload(torch), pickle_protocol=proto)
    # Many records: the serialization id hashes names in libstdc++'s unordered_set order.
    for n in (1, 14, 70, 600):
        assert ember_bytes({str(i): ember.full((2,), float(i)) for i in range(n)}) == \
            torch_bytes({str(i): torch.full((2,), float(i)) for i in range(n)})
    # Paths: the archive folder is named after the file.
    (tmp_path / "t").mkdir()
    torch.save(payload(torch), tmp_path / "t" / "model.ckpt.pt")
    ember.save(payload(ember), str(tmp_path / "model.ckpt.pt"))
    data = (tmp_path / "model.ckpt.pt").read_bytes()
    assert data == (tmp_path / "t" / "model.ckpt.pt").read_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names[0] == "model.ckpt/data.pkl" and "model.ckpt/data/0" in names


def test_save_layout_is_aligned_and_shares_storages():
    x = ember.arange(10.0)
    data = ember_bytes({"x": x, "v": x[2:5], "w": x.view(2, 5).t(), "y": ember.ones(3)})
    z = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(n for n in z.namelist() if "/data/" in n) == ["archive/data/0",
                                                                "archive/data/1"]
    assert z.read("archive/byteorder") == b"little"
    assert z.read("archive/.format_version") == b"1"
    assert z.read("archive/.storage_alignment") == b"64"
    assert z.read("archive/version") == b"3\n"
    for info in z.infolist():  # every record's data starts on a 64-byte boundary
        h = data[info.header_offset:info.header_offset + 30]
        start = info.header_offset + 30 + struct.unpack("<H", h[26:28])[0] + \
            struct.unpack("<H", h[28:30])[0]
        assert start % 64 == 0, info.filename
    assert np.frombuffer(z.read("archive/data/0"), np.float32).tolist() == list(range(10))
    t = torch.load(io.BytesIO(data), weights_only=True)
    assert t["v"].storage_offset() == 2 and t["w"].stride() == (1, 5)
    assert t["v"].untyped_storage().data_ptr() == t["x"].untyped_storage().data_ptr()


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------

def test_torch_save_ember_load():
    t = payload(torch)
    e = ember.load(io.BytesIO(torch_bytes(t)))
    assert_same(e, t)
    for k in ("row", "t", "sl"):
        assert e[k].storage_offset() == t[k].storage_offset()
        assert e[k].stride() == t[k].stride()
        assert e[k].untyped_storage() is e["x"].untyped_storage()
    e["x"][1, 3] = 100.0  # writes through the loaded base show in the loaded views
    assert e["row"][3].item() == 100.0 and e["t"][3, 1].item() == 100.0
    assert e["sl"][0, 1].item() == 100.0
    assert e["nested"][4]["deep"][0].untyped_storage() is e["x"].untyped_storage()


def test_ember_save_torch_load_weights_only():
    e = payload(ember)
    t = torch.load(io.BytesIO(ember_bytes(e)), weights_only=True)
    assert_same(e, t)
    t["x"][1, 3] = 100.0
    assert t["row"][3].item() == 100.0 and t["t"][3, 1].item() == 100.0
    assert t["nested"][4]["deep"][0].untyped_storage().data_ptr() == \
        t["x"].untyped_storage().data_ptr()
    # and back again
    assert_same(ember.load(io.BytesIO(torch_bytes(t))), t)


def test_parameters_state_dicts_and_tensor_attributes():
    lin = torch.nn.Linear(3, 2)
    sd = lin.state_dict()
    p = torch.nn.Parameter(torch.arange(6.0))
    frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    tagged = torch.ones(2)
    tagged.note = "hi"
    obj = {"sd": sd, "p": p, "view": p[2:4].detach(), "frozen": frozen, "tagged": tagged}
    e = ember.load(io.BytesIO(torch_bytes(obj)))
    assert type(e["sd"]) is OrderedDict and e["sd"]._metadata == sd._metadata
    assert isinstance(e["p"], ember.nn.Parameter) and e["p"].requires_grad
    assert isinstance(e["frozen"], ember.nn.Parameter) and not e["frozen"].requires_grad
    assert e["tagged"].note == "hi"
    assert e["view"].untyped_storage() is e["p"].untyped_storage()
    assert_close(e["sd"]["weight"], sd["weight"], 0, 0)
    # ember -> torch writes what torch writes
    e["tagged"] = ember.ones(2)
    e["tagged"].note = "hi"
    e["p"] = ember.nn.Parameter(ember.arange(6.0))
    e["view"] = e["p"][2:4].detach()
    assert ember_bytes(e) == torch_bytes(obj)
    back = torch.load(io.BytesIO(ember_bytes(e)), weights_only=True)
    assert isinstance(back["p"], torch.nn.Parameter) and back["tagged"].note == "hi"
    assert back["sd"]._metadata == sd._metadata


def test_optimizer_state_dicts():
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    e = ember.load(io.BytesIO(torch_bytes(sd)))
    assert_same(e, sd)
    # An ember optimizer-shaped state dict, read by torch with weights_only=True.
    esd = {"state": {0: {"step": ember.tensor(3.0), "exp_avg": ember.randn(4, 3),
                         "exp_avg_sq": ember.rand(4, 3)}},
           "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8,
                             "weight_decay": 0, "amsgrad": False, "params": [0]}]}
    t = torch.load(io.BytesIO(ember_bytes(esd)), weights_only=True)
    assert_same(esd, t)
    torch_opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(4, 3))])
    torch_opt.load_state_dict(t)
    assert torch_opt.param_groups[0]["lr"] == 0.01


def test_ember_optimizer_round_trip():
    if not hasattr(ember, "optim") or not hasattr(ember.nn, "Linear"):
        pytest.skip("ember.optim / ember.nn.Linear not available")
    model = ember.nn.Linear(4, 3)
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    model(ember.randn(5, 4)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    t = torch.load(io.BytesIO(ember_bytes({"model": model.state_dict(), "opt": sd})),
                   weights_only=True)
    tmodel = torch.nn.Linear(4, 3)
    tmodel.load_state_dict(t["model"])
    topt = torch.optim.Adam(tmodel.parameters(), lr=1e-2)
    topt.load_state_dict(t["opt"])
    assert_same(ember.load(io.BytesIO(torch_bytes(topt.state_dict()))), topt.state_dict())


def test_legacy_format_both_ways():
    t = payload(torch)
    e = ember.load(io.BytesIO(torch_bytes(t, _use_new_zipfile_serialization=False)))
    assert_same(e, t)
    e["x"][0, 1] = -5.0
    assert e["t"][1, 0].item() == -5.0
    del e["u16"]  # torch's own legacy reader can't read uint16 storages
    back = torch.load(io.BytesIO(ember_bytes(e, _use_new_zipfile_serialization=False)),
                      weights_only=True)
    assert_same(e, back)
    back["x"][0, 2] = -7.0
    assert back["t"][2, 0].item() == -7.0


def test_paths_pathlike_and_file_objects(tmp_path):
    x = {"a": ember.arange(5)}
    ember.save(x, tmp_path / "p.pt")                        # PathLike
    ember.save(x, str(tmp_path / "s.pt"))                   # str
    with open(tmp_path / "f.pt", "wb") as fh:               # file object
        ember.save(x, fh)
    for name in ("p.pt", "s.pt", "f.pt"):
        for src in (tmp_path / name, str(tmp_path / name)):
            assert ember.load(src)["a"].tolist() == [0, 1, 2, 3, 4]
        with open(tmp_path / name, "rb") as fh:
            assert ember.load(fh)["a"].tolist() == [0, 1, 2, 3, 4]
        assert torch.load(tmp_path / name, weights_only=True)["a"].tolist() == [0, 1, 2, 3, 4]
    # a checkpoint that doesn't start the stream
    buf = io.BytesIO()
    buf.write(b"header")
    ember.save(x, buf)
    buf.seek(6)
    assert ember.load(buf)["a"].tolist() == [0, 1, 2, 3, 4]
    class Stream:  # not seekable (a pipe, a socket)
        def __init__(self, data):
            self.read = io.BytesIO(data).read

    assert ember.load(Stream(ember_bytes(x)))["a"].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError, match="does not exist"):
        ember.save(x, tmp_path / "missing" / "x.pt")
    with pytest.raises(AttributeError):
        ember.save(x, 42)


def _with_location(data, location):
    """A copy of the checkpoint ``data`` whose storages claim ``location``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            rec = src.read(info)
            if info.filename.endswith("/data.pkl"):
                rec = rec.replace(b"X\x03\x00\x00\x00cpu",
                                  b"X" + struct.pack("<I", len(location)) + location.encode())
            dst.writestr(info.filename, rec)
    return out.getvalue()


def test_map_location():
    data = ember_bytes({"a": ember.arange(3.0), "b": ember.ones(2)})
    for ml in ("cpu", ember.device("cpu"), {"cpu": "cpu"}, None):
        assert ember.load(io.BytesIO(data), map_location=ml)["a"].tolist() == [0, 1, 2]
    seen = []

    def fn(storage, location):
        seen.append((type(storage).__name__, location, storage.nbytes()))
        return storage

    assert ember.load(io.BytesIO(data), map_location=fn)["b"].tolist() == [1, 1]
    assert sorted(seen) == [("UntypedStorage", "cpu", 8), ("UntypedStorage", "cpu", 12)]
    gpu = _with_location(data, "cuda:0")
    for ml in ("cpu", {"cuda:0": "cpu"}, lambda s, loc: s):
        assert ember.load(io.BytesIO(gpu), map_location=ml)["a"].tolist() == [0, 1, 2]
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location"):
            ember.load(io.BytesIO(gpu))
    with pytest.raises(RuntimeError, match="tagged with xpu"):
        ember.load(io.BytesIO(_with_location(data, "xpu")))


def test_big_endian_checkpoint():
    """A checkpoint written on a big-endian machine is byte-swapped on load."""
    obj = {"f": ember.tensor([1.5, -2.0]), "i": ember.tensor([1, -300], dtype=ember.int16),
           "c": ember.tensor([1 + 2j], dtype=ember.complex64)}
    dtypes = {"0": np.float32, "1": np.int16, "2": np.complex64}

    def swap(name, rec):
        if name.endswith("byteorder"):
            return b"big"
        key = name.rpartition("/data/")[2]
        if "/data/" in name and key in dtypes:
            return np.frombuffer(rec, dtypes[key]).byteswap().tobytes()
        return rec

    e = ember.load(io.BytesIO(_rezip(ember_bytes(obj), swap)))
    assert e["f"].tolist() == [1.5, -2.0] and e["i"].tolist() == [1, -300]
    assert e["c"].tolist() == [1 + 2j]


# ---------------------------------------------------------------------------
# Safe loading
# ---------------------------------------------------------------------------

class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = {"w": torch.ones(2), "x": _Evil(marker)}
    files = {"zip": torch_bytes(evil),
             "legacy": torch_bytes(evil, _use_new_zipfile_serialization=False),
             "raw": pickle.dumps(_Evil(marker), protocol=2)}
    for kind, data in files.items():
        path = tmp_path / f"evil_{kind}.pt"
        path.write_bytes(data)
        with pytest.raises(pickle.UnpicklingError) as ei:
            ember.load(path)
        msg = str(ei.value)
        assert "system" in msg and "evil_" in msg and "weights_only=False" in msg, msg
        with pytest.raises(pickle.UnpicklingError):
            ember.load(io.BytesIO(data), weights_only=True)
        assert not marker.exists(), kind
    # The refusal is what stops it: a full load would run the command.
    ember.load(tmp_path / "evil_zip.pt", weights_only=False)
    assert marker.exists()


class Point:
    def __init__(self, x):
        self.x = x


def test_safe_globals_and_full_pickles(tmp_path):
    path = tmp_path / "point.pt"
    ember.save({"pt": Point(ember.arange(3)), "od": OrderedDict(a=1)}, path)
    with pytest.raises(pickle.UnpicklingError, match="test_serialization.Point"):
        ember.load(path)
    full = ember.load(path, weights_only=False)
    assert full["pt"].x.tolist() == [0, 1, 2]
    with S.safe_globals([Point]):
        assert ember.load(path)["pt"].x.tolist() == [0, 1, 2]
    assert S.get_safe_globals() == []
    S.add_safe_globals([Point])
    try:
        assert ember.load(path)["od"] == OrderedDict(a=1)
        assert torch.load(path, weights_only=False)["pt"].x.tolist() == [0, 1, 2]
    finally:
        S.clear_safe_globals()
    with pytest.raises(RuntimeError, match="pickle_module"):
        ember.load(path, pickle_module=pickle)


def test_full_pickles_of_modules():
    _need("Linear", "ReLU", "Sequential")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    data = torch_bytes(tm)
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.container.Sequential"):
        ember.load(io.BytesIO(data))
    em = ember.load(io.BytesIO(data), weights_only=False)  # torch.* classes -> ember.*
    assert isinstance(em, ember.nn.Sequential) and isinstance(em[0], ember.nn.Linear)
    x = np.ones((1, 3), np.float32)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(em(ember.from_numpy(x)).detach().numpy(), want, rtol=1e-6)
    again = ember.load(io.BytesIO(ember_bytes(em)), weights_only=False)
    np.testing.assert_allclose(again(ember.from_numpy(x)).detach().numpy(), want, rtol=1e-6)


def test_allowlist_unpickler_restricts_opcodes():
    load = S._WeightsUnpickler
    # APPEND on an allowed non-list object (bytearray.append) is refused
    with pytest.raises(pickle.UnpicklingError, match="APPEND"):
        load(io.BytesIO(b"\x80\x02c__builtin__\nbytearray\n)RK\x05a.")).load()
    # BUILD on an allowed object other than OrderedDict is refused
    with pytest.raises(pickle.UnpicklingError, match="BUILD"):
        load(io.BytesIO(b"\x80\x02c__builtin__\nbytearray\n)R}b.")).load()
    with pytest.raises(pickle.UnpicklingError, match="INST/OBJ/EXT"):
        load(io.BytesIO(b"\x80\x02\x82\x01.")).load()
    with pytest.raises(pickle.UnpicklingError, match="builtins.getattr"):
        load(io.BytesIO(b"\x80\x02c__builtin__\ngetattr\n.")).load()
    assert load(io.BytesIO(pickle.dumps([b"x", b"", {1}, 2j, bytearray(b"q")], 2))).load() == \
        [b"x", b"", {1}, 2j, bytearray(b"q")]


# ---------------------------------------------------------------------------
# Bad files
# ---------------------------------------------------------------------------

def _rezip(data, edit):
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info)))
    return out.getvalue()


def test_truncated_corrupt_and_foreign_files(tmp_path):
    data = ember_bytes({"w": ember.arange(100.0), "b": ember.ones(3)})
    cases = {
        "half.pt": data[:len(data) // 2], "minus1.pt": data[:-1], "head.pt": data[:10],
        "empty.pt": b"", "text.pt": b"hello, this is not a checkpoint\n",
        "zipjunk.pt": b"PK\x03\x04" + b"\x00" * 100,
        "plain.pt": pickle.dumps({"a": 1}, protocol=2),
        "legacy_cut.pt": torch_bytes({"w": torch.ones(100)},
                                     _use_new_zipfile_serialization=False)[:-50],
    }
    flipped = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("archive/data/0")
    flipped[info.header_offset + 200] ^= 0xFF  # inside the float data
    cases["flipped.pt"] = bytes(flipped)
    cases["bad_pkl.pt"] = _rezip(data, lambda n, r: r[:-5] if n.endswith("data.pkl") else r)
    # a tensor that claims more elements than its storage holds
    cases["oob.pt"] = _rezip(data, lambda n, r: r.replace(b"K\x00Kd\x85", b"K\x00M\x10\x27\x85")
                             if n.endswith("data.pkl") else r)
    cases["short_rec.pt"] = _rezip(data, lambda n, r: r[:-4] if n.endswith("data/1") else r)
    for name, blob in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises((RuntimeError, pickle.UnpicklingError)) as ei:
            ember.load(path)
        assert name in str(ei.value), (name, str(ei.value))
    assert "CRC" in _err(tmp_path / "flipped.pt")
    assert "out of bounds" in _err(tmp_path / "oob.pt")
    assert "truncated" in _err(tmp_path / "half.pt")
    assert "Invalid magic number" in _err(tmp_path / "plain.pt")


def _err(path):
    try:
        ember.load(path)
    except (RuntimeError, pickle.UnpicklingError) as e:
        return str(e)
    raise AssertionError(f"{path} loaded")


def test_save_errors_leave_files_alone(tmp_path):
    a = np.zeros(4, np.float32)
    with pytest.raises(RuntimeError, match="different types"):
        ember.save([ember.from_numpy(a), ember.from_numpy(a.view(np.int32))], io.BytesIO())
    with pytest.raises(RuntimeError, match="different types"):  # as torch does
        z = torch.zeros(4)
        torch.save([z, z.view(torch.int32)], io.BytesIO())
    path = tmp_path / "keep.pt"
    ember.save({"a": ember.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        ember.save({"f": lambda: 0}, path)
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------
# mmap
# ---------------------------------------------------------------------------

def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_mmap_load_does_not_read_the_data(tmp_path):
    path = tmp_path / "big.pt"
    n = 50_000_000  # 200 MB of float32
    w = ember.full((n,), 1.5)
    w[7] = 3.0
    ember.save({"w": w, "head": w[:4], "b": ember.arange(3)}, path)
    del w
    gc.collect()
    base = _rss()
    sd = ember.load(path, mmap=True)
    grown = _rss() - base
    assert grown < 20 * 2**20, f"RSS grew {grown / 2**20:.1f} MB before touching the data"
    assert sd["head"].tolist() == [1.5, 1.5, 1.5, 1.5] and sd["b"].tolist() == [0, 1, 2]
    assert sd["head"].untyped_storage() is sd["w"].untyped_storage()
    assert sd["w"].max().item() == 3.0 and sd["w"][7].item() == 3.0  # touching maps it in
    assert _rss() - base > 150 * 2**20
    sd["w"][0] = 9.0  # private mapping: writable, the file is not modified
    assert sd["head"][0].item() == 9.0
    del sd
    gc.collect()
    assert ember.load(path, mmap=True)["head"][0].item() == 1.5
    with pytest.raises(ValueError, match="file path"):
        ember.load(io.BytesIO(path.read_bytes()[:0] + ember_bytes({"a": ember.ones(1)})),
                   mmap=True)
    with pytest.raises(RuntimeError, match="mmap"):
        ember.load(io.BytesIO(ember_bytes({"a": ember.ones(1)},
                                          _use_new_zipfile_serialization=False)), mmap=True)


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

def _st_tensors():
    return {"w": ember.randn(3, 4), "b16": ember.tensor([1.0, -2.5], dtype=ember.bfloat16),
            "h": ember.tensor([0.5], dtype=ember.float16), "mask": ember.tensor([True, False]),
            "ids": ember.tensor([1, 2, 3]), "u8": ember.tensor([7], dtype=ember.uint8),
            "c": ember.tensor([1 + 1j], dtype=ember.complex64), "t": ember.randn(2, 3).t(),
            "empty": ember.zeros(0, 2), "scalar": ember.tensor(2.0, dtype=ember.float64)}


def test_safetensors_round_trip_and_layout(tmp_path):
    tensors = _st_tensors()
    path = tmp_path / "m.safetensors"
    S.save_safetensors(tensors, path, metadata={"format": "pt"})
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0 and raw[8:9] == b"{"
    header = json.loads(raw[8:8 + n])
    assert header.pop("__metadata__") == {"format": "pt"}
    # data laid out widest dtype first, then by name, with no gaps
    assert list(header) == ["ids", "scalar", "c", "empty", "t", "w", "b16", "h", "u8", "mask"]
    pos = 0
    for k, info in header.items():
        b, e = info["data_offsets"]
        assert b == pos and info["shape"] == list(tensors[k].shape)
        assert raw[8 + n + b:8 + n + e] == np.ascontiguousarray(tensors[k].numpy()).tobytes()
        pos = e
    assert 8 + n + pos == len(raw)
    for loaded in (S.load_safetensors(path), ember.load(path), ember.load(str(path), mmap=True),
                   S.load_safetensors(io.BytesIO(raw))):
        assert list(loaded) == sorted(tensors)
        for k, v in tensors.items():
            assert loaded[k].dtype is v.dtype and loaded[k].shape == v.shape
            np.testing.assert_array_equal(to_numpy(loaded[k]), to_numpy(v))
    with pytest.raises(ValueError, match="complex128"):
        S.save_safetensors({"z": ember.zeros(1, dtype=ember.complex128)}, tmp_path / "z.st")
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(raw[:-3])
    with pytest.raises(RuntimeError, match="cut.safetensors"):
        ember.load(bad)
    bad.write_bytes(raw[:8] + b"[" + raw[9:])
    with pytest.raises(RuntimeError, match="header"):
        S.load_safetensors(bad)


def test_safetensors_package_interop(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    tensors = {k: v for k, v in _st_tensors().items()
               if v.dtype not in (ember.bfloat16, ember.complex64)}  # not in every version
    S.save_safetensors(tensors, tmp_path / "e.safetensors")
    got = st.load_file(str(tmp_path / "e.safetensors"))
    for k, v in tensors.items():
        np.testing.assert_array_equal(got[k], v.numpy())
    st.save_file({k: np.ascontiguousarray(v.numpy()) for k, v in tensors.items()},
                 str(tmp_path / "p.safetensors"))
    assert (tmp_path / "p.safetensors").read_bytes() == (tmp_path / "e.safetensors").read_bytes()


# ---------------------------------------------------------------------------
# Storages and plain pickling
# ---------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_storages_and_plain_pickle():
    x = ember.arange(6.0)
    v = x[2:5]
    s = x.untyped_storage()
    assert v.untyped_storage() is s and s.nbytes() == 24 and v.storage_offset() == 2
    assert s.data_ptr() == x.data_ptr() and len(s) == 24
    typed = ember._storage.TypedStorage(wrap_storage=s, dtype=ember.float32)
    assert typed.tolist() == [0, 1, 2, 3, 4, 5] and typed.size() == 6
    x2, v2 = pickle.loads(pickle.dumps((x, v)))
    x2[3] = 30.0
    assert v2.tolist() == [2.0, 30.0, 4.0] and x[3].item() == 3.0
    c = copy.copy(x)
    c[0] = -1.0
    assert x[0].item() == -1.0  # copy.copy shares storage, as torch's
    p = ember.nn.Parameter(ember.ones(2))
    assert isinstance(pickle.loads(pickle.dumps(p)), ember.nn.Parameter)
    # storages themselves round-trip through ember.save
    t = torch.load(io.BytesIO(ember_bytes({"s": s})), weights_only=True)
    assert t["s"].nbytes() == 24  # (torch returns it wrapped in a uint8 TypedStorage)
    e = ember.load(io.BytesIO(torch_bytes({"s": torch.arange(3.0).untyped_storage()})))
    assert e["s"].nbytes() == 12


# ---------------------------------------------------------------------------
# Whole models (run once the ember layers exist)
# ---------------------------------------------------------------------------

def _need(*names):
    missing = [n for n in names if not hasattr(ember.nn, n)]
    if missing:
        pytest.skip(f"ember.nn lacks {', '.join(missing)}")


def _mlp(m):
    nn = m.nn
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def _cnn(m):
    nn = m.nn
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 6 * 6, 5))


def _lstm(m):
    return m.nn.LSTM(5, 7, num_layers=2, batch_first=True)


def _transformer(m):
    layer = m.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    return m.nn.TransformerEncoder(layer, 2)


MODELS = {
    "mlp": (_mlp, ("Linear", "ReLU", "Sequential"), (4, 6)),
    "cnn": (_cnn, ("Conv2d", "BatchNorm2d", "ReLU", "Flatten", "Linear", "Sequential"),
            (2, 3, 6, 6)),
    "lstm": (_lstm, ("LSTM",), (2, 4, 5)),
    "transformer": (_transformer, ("TransformerEncoderLayer", "TransformerEncoder"), (2, 5, 16)),
}


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", list(MODELS))
def test_model_state_dict_round_trip(name):
    build, layers, shape = MODELS[name]
    _need(*layers)
    torch.manual_seed(0)
    tmodel = build(torch)
    if name == "cnn":
        tmodel(torch.randn(*shape))  # move BatchNorm's running stats off their init
    tmodel.eval()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        want = _first(tmodel(torch.from_numpy(x))).numpy()
    emodel = build(ember)
    emodel.load_state_dict(ember.load(io.BytesIO(torch_bytes(tmodel.state_dict()))))
    emodel.eval()
    with ember.no_grad():
        got = _first(emodel(ember.from_numpy(x))).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # and back: ember's state dict into a fresh torch model
    fresh = build(torch)
    fresh.load_state_dict(torch.load(io.BytesIO(ember_bytes(emodel.state_dict())),
                                     weights_only=True))
    fresh.eval()
    with torch.no_grad():
        np.testing.assert_allclose(_first(fresh(torch.from_numpy(x))).numpy(), want,
                                   rtol=1e-6, atol=1e-6)
