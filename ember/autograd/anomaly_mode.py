"""Anomaly detection: NaNs produced in backward raise, naming the op and where
in the forward pass it was created."""
_enabled = [False]

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled():
    return _enabled[0]


class detect_anomaly:
    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = _enabled[0]
        _enabled[0] = self.check_nan
        import warnings
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", UserWarning, stacklevel=2)

    def __exit__(self, *a):
        _enabled[0] = self.prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def w(*a, **k):
            with detect_anomaly(self.check_nan):
                return fn(*a, **k)
        return w


class set_detect_anomaly:
    def __init__(self, mode, check_nan=True):
        self.prev = _enabled[0]
        _enabled[0] = bool(mode)

    def __enter__(self):
        pass

    def __exit__(self, *a):
        _enabled[0] = self.prev
