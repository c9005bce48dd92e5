"""``out=`` for ops that compute a fresh result: the result (or each result of
a tuple) is written into the given tensor(s), resized as PyTorch does."""
import functools

from ._core import write_out


def with_out(fn):
    @functools.wraps(fn)
    def f(*args, out=None, **kwargs):
        return write_out(fn(*args, **kwargs), out)
    return f
