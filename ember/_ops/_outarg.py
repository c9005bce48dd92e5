"""``out=`` for ops that compute a fresh result: the result (or each result of
a tuple) is written into the given tensor(s), resized as PyTorch does."""
import functools

from ._core import write_out


def with_out(fn):
    @functools.wraps(fn)
    def f(*args, out=None, **kwargs):
        res = fn(*args, **kwargs)
        if out is None:
            return res
        if isinstance(res, tuple):
            for o, r in zip(out, res):
                write_out(r, o)
            return out
        return write_out(res, out)
    return f
