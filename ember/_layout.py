"""Memory formats (``ember.contiguous_format``, ``channels_last`` ...): the
order in which a tensor's elements are laid out, as PyTorch's
``torch.memory_format``. NumPy arrays take any strides, so channels-last is a
real layout here: an NHWC-ordered array seen through NCHW strides."""

__all__ = ["memory_format", "contiguous_format", "preserve_format", "channels_last",
           "channels_last_3d"]


class memory_format:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
_ALL = {f.name: f for f in (contiguous_format, preserve_format, channels_last,
                            channels_last_3d)}
# the dimension order of each channels-last format's storage
_ORDER = {"channels_last": (0, 2, 3, 1), "channels_last_3d": (0, 2, 3, 4, 1)}


def _by_name(name):
    return _ALL[name]


def order(fmt, ndim):
    """The storage order of ``fmt`` for an ``ndim``-dim tensor, or None for plain
    C order; RuntimeError for a channels-last format of the wrong rank."""
    perm = _ORDER.get(getattr(fmt, "name", None))
    if perm is not None and len(perm) != ndim:
        raise RuntimeError(f"required rank {len(perm)} tensor to use {fmt.name} format")
    return perm


def applies(fmt, ndim):
    """Whether ``Module.to(memory_format=fmt)`` converts an ``ndim``-dim tensor
    (channels-last formats only their own rank, as PyTorch)."""
    perm = _ORDER.get(getattr(fmt, "name", None))
    return perm is None or len(perm) == ndim


def copy_as(a, xp, fmt):
    """A copy of array ``a`` laid out in memory format ``fmt`` (C order for
    contiguous/preserve/None)."""
    perm = order(fmt, a.ndim)
    if perm is None:
        return a.copy()
    inv = tuple(perm.index(i) for i in range(len(perm)))
    return xp.ascontiguousarray(a.transpose(perm)).transpose(inv)
