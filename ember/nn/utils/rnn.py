"""Packed and padded sequences for the recurrent layers.

Packing and unpacking are single ``index_select`` gathers (with one padding
row appended where padding is written), so gradients flow through them.
Unlike PyTorch, ``pack_padded_sequence`` raises when a length exceeds the
padded length, and ``unpad_sequence`` does not transpose its input in place.
"""
from collections import namedtuple

import numpy as np

from ... import _dtype as D
from ..._ops import FUNCTIONS as _F
from ..._tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def _bind(t, fn):
    return None if t is None else fn(t)


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Holds the data and ``batch_sizes`` of a packed batch of sequences."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            if batch_sizes.device.type != "cpu":
                raise ValueError("batch_sizes should always be on CPU. Instances of "
                                 "PackedSequence should never be created manually. They should "
                                 "be instantiated by functions like pack_sequence and "
                                 "pack_padded_sequences in nn.utils.rnn. "
                                 "https://pytorch.org/docs/stable/nn.html"
                                 "#torch.nn.utils.rnn.pack_sequence")
        else:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        return type(self)(data, self.batch_sizes,
                          _bind(self.sorted_indices, lambda t: t.to(dev)),
                          _bind(self.unsorted_indices, lambda t: t.to(dev)))

    def cuda(self, device=None, non_blocking=False):
        return self.to("cuda" if device is None else device)

    def cpu(self):
        return self.to("cpu")

    def pin_memory(self):
        return self

    def double(self):
        return self.to(dtype=D.float64)

    def float(self):
        return self.to(dtype=D.float32)

    def half(self):
        return self.to(dtype=D.float16)

    def long(self):
        return self.to(dtype=D.int64)

    def int(self):
        return self.to(dtype=D.int32)

    def short(self):
        return self.to(dtype=D.int16)

    def char(self):
        return self.to(dtype=D.int8)

    def byte(self):
        return self.to(dtype=D.uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    if permutation is None:
        return None
    p = permutation.detach().cpu().numpy()
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=p.dtype)
    return _F["from_numpy"](inv).to(permutation.device)


def _cpu_lengths(lengths):
    if isinstance(lengths, Tensor):
        return lengths.detach().cpu().numpy().astype(np.int64)
    return np.asarray([int(v) for v in lengths], dtype=np.int64)


def _index(a, device):
    return _F["from_numpy"](np.ascontiguousarray(a, dtype=np.int64)).to(device)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    lens = _cpu_lengths(lengths)
    if enforce_sorted:
        if lens.size > 1 and bool((lens[1:] > lens[:-1]).any()):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                               "pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        order = None
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = _index(order, input.device)
    if lens.size and int(lens.min()) <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if input.dim() < 2:
        raise RuntimeError(f"pack_padded_sequence: expected input of at least 2 dimensions, got "
                           f"{input.dim()}")
    t_len = input.shape[1] if batch_first else input.shape[0]
    b = input.shape[0] if batch_first else input.shape[1]
    if lens.size != b:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.size} (batch_size={b})")
    if int(lens[0]) > t_len:
        raise RuntimeError(f"pack_padded_sequence: a length ({int(lens[0])}) exceeds the padded "
                           f"sequence length ({t_len})")
    steps = np.arange(int(lens[0]))
    batch_sizes = (lens[None, :] > steps[:, None]).sum(1)
    bidx = order if order is not None else np.arange(b)
    rows = []
    for t, bs in enumerate(batch_sizes):
        cols = bidx[:bs]
        rows.append(cols * t_len + t if batch_first else t * b + cols)
    flat = input.reshape((t_len * b,) + tuple(input.shape[2:]))
    data = flat.index_select(0, _index(np.concatenate(rows), input.device))
    return PackedSequence(data, _F["from_numpy"](batch_sizes.astype(np.int64)),
                          sorted_indices, None)


def _lengths_of(batch_sizes):
    bs = batch_sizes.numpy().astype(np.int64) if isinstance(batch_sizes, Tensor) else \
        np.asarray(batch_sizes, np.int64)
    return bs, (bs[:, None] > np.arange(int(bs[0]) if bs.size else 0)[None, :]).sum(0)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    data = sequence.data
    bs, lens = _lengths_of(sequence.batch_sizes)
    max_len = bs.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {max_len}")
        max_len = total_length
    b = int(bs[0]) if bs.size else 0
    n = int(bs.sum())
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]]).astype(np.int64)
    # map[t, j] = packed row of (step t, sorted batch position j), or n (padding)
    m = np.full((max_len, b), n, np.int64)
    for t, k in enumerate(bs):
        m[t, :k] = offsets[t] + np.arange(k)
    un = sequence.unsorted_indices
    if un is not None:
        perm = un.detach().cpu().numpy()
        m = m[:, perm]
        lens = lens[perm]
    if batch_first:
        m = m.T
    pad = _F["full"]((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
                     device=data.device)
    ext = _F["cat"]([data, pad])
    out = ext.index_select(0, _index(m.reshape(-1), data.device))
    out = out.reshape(m.shape + tuple(data.shape[1:]))
    return out, _F["from_numpy"](lens.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    try:
        sequences = tuple(sequences)
    except TypeError:
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg of "
                           f"type: {type(sequences)}") from None
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    lens = np.array([s.shape[0] for s in sequences], np.int64)
    t_len, b = int(lens.max()), len(sequences)
    n = int(lens.sum())
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    m = np.full((b, t_len), n, np.int64)
    for j, (s0, k) in enumerate(zip(starts, lens)):
        if padding_side == "right":
            m[j, :k] = s0 + np.arange(k)
        else:
            m[j, t_len - k:] = s0 + np.arange(k)
    if not batch_first:
        m = m.T
    first = sequences[0]
    trail = tuple(first.shape[1:])
    pad = _F["full"]((1,) + trail, padding_value, dtype=first.dtype, device=first.device)
    ext = _F["cat"](list(sequences) + [pad])
    return ext.index_select(0, _index(m.reshape(-1), first.device)).reshape(m.shape + trail)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(k)] for i, k in zip(range(x.shape[0]), _cpu_lengths(lengths), strict=True)]


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [v.size(0) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
