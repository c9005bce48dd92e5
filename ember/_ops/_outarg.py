"""``out=`` for ops that compute a fresh result: the result (or each result of
a tuple) is written into the given tensor(s), resized as PyTorch does."""
import functools


def with_out(fn):
    @functools.wraps(fn)
    def f(*args, out=None, **kwargs):
        res = fn(*args, **kwargs)
        if out is None:
            return res
        from .elementwise import _out
        if isinstance(res, tuple):
            for o, r in zip(out, res):
                _out(r, o)
            return out
        return _out(res, out)
    return f
