"""Grad modes: ``no_grad``, ``enable_grad``, ``inference_mode``, ``set_grad_enabled``.

The state is thread-local, as in PyTorch. Every op reads ``STATE.enabled`` once
to decide whether to record a node.
"""
import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "is_inference_mode_enabled"]


class _State(threading.local):
    enabled = True
    inference = False


STATE = _State()


def is_grad_enabled():
    return STATE.enabled


def is_inference_mode_enabled():
    return STATE.inference


class _GradMode:
    """Base for the grad-mode context managers; also usable as decorators."""

    def __call__(self, fn):
        if isinstance(fn, type):
            raise TypeError(f"{type(self).__name__} cannot decorate a class")
        mode = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with mode.clone():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return type(self)()

    def __enter__(self):
        self._prev = STATE.enabled, STATE.inference
        self._apply()

    def __exit__(self, *exc):
        STATE.enabled, STATE.inference = self._prev
        return False


class no_grad(_GradMode):
    def __init__(self, orig_func=None):
        # Allow the ``@no_grad`` spelling without parentheses too.
        self._fn = orig_func

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None and callable(orig_func):
            self.__init__()
            return self(orig_func)
        return self

    def _apply(self):
        STATE.enabled = False


class enable_grad(_GradMode):
    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None and callable(orig_func):
            return self(orig_func)
        return self

    def __init__(self, orig_func=None):
        pass

    def _apply(self):
        STATE.enabled = True


class set_grad_enabled(_GradMode):
    """Sets grad mode at construction (as PyTorch), restores it on exit."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = STATE.enabled, STATE.inference
        STATE.enabled = self.mode

    def clone(self):
        return type(self)(self.mode)

    def __enter__(self):
        STATE.enabled = self.mode

    def __call__(self, fn):
        STATE.enabled = self._prev[0]  # decorator use: don't change the mode now
        return super().__call__(fn)


class inference_mode(_GradMode):
    """Like ``no_grad``; ember has no separate inference tensors, so tensors made
    here are ordinary tensors that don't require grad."""

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):
            self.mode = True
            return self(mode)
        return self

    def __init__(self, mode=True):
        self.mode = bool(mode) if not callable(mode) else True

    def clone(self):
        return type(self)(self.mode)

    def _apply(self):
        if self.mode:
            STATE.enabled = False
            STATE.inference = True
