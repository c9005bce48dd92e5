"""Random numbers: ``Generator``, the default generator, samplers and the
in-place ``*_`` samplers.

Streams come from NumPy's PCG64; they are deterministic for a seed but not
bit-identical to PyTorch's Mersenne Twister (see DESIGN.md §3). As in PyTorch,
CUDA has its own stream, seeded by ``manual_seed`` (or ``ember.cuda.manual_seed``):
``rand``/``randn``/``randint`` and the ``uniform_``/``normal_``/``bernoulli_``/
``random_`` samplers (dropout, init) draw on the GPU with CuPy's generator. The
rarer samplers, and any draw given an explicit ``generator``, sample on the host
and copy.
"""
import pickle

import numpy as np

from .. import _dtype as D
from .._backend import canonical, cupy, to_device, to_host, xp_of
from .._tensor import Tensor, _wrap
from ._core import FUNCTIONS, METHODS, export, shape_arg, write_into
from .creation import _finish as _out  # array -> tensor on device, requires_grad set


class Generator:
    """``ember.Generator(device='cpu')`` with ``manual_seed``, ``seed``,
    ``initial_seed``, ``get_state``/``set_state``."""

    def __init__(self, device="cpu"):
        self.device = canonical(device) if str(device) != "cuda" else device
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        b = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return _wrap(np.frombuffer(b, dtype=np.uint8).copy(), D.uint8)

    def set_state(self, new_state):
        if not isinstance(new_state, Tensor) or new_state.dtype is not D.uint8:
            raise TypeError("expected a torch.ByteTensor, but got "
                            f"{type(new_state).__name__}")
        self._seed, st = pickle.loads(new_state._data.tobytes())
        self._rng = np.random.Generator(np.random.PCG64())
        self._rng.bit_generator.state = st
        return self

    def __getstate__(self):
        return {"device": str(self.device), "state": self.get_state()._data}

    def __setstate__(self, d):
        self.__init__(d["device"])
        self.set_state(_wrap(d["state"], D.uint8))


default_generator = Generator()
FUNCTIONS["Generator"] = Generator
FUNCTIONS["default_generator"] = default_generator


def _rng(generator):
    return (generator or default_generator)._rng


_CUDA = {"seed": None, "rng": None}  # the CUDA stream: its seed, and CuPy's generator


def cuda_manual_seed(seed):
    _CUDA["seed"], _CUDA["rng"] = int(seed) & 0xFFFF_FFFF_FFFF_FFFF, None


def _rng_on(generator, device):
    """The generator for a draw on ``device``: CuPy's for CUDA (unless the caller
    passed one), else the host's."""
    if generator is not None or device is None or device.type != "cuda":
        return _rng(generator)
    rng = _CUDA["rng"]
    if rng is None:
        seed = _CUDA["seed"]
        rng = _CUDA["rng"] = cupy().random.default_rng(
            default_generator.initial_seed() if seed is None else seed)
    return rng


@export(method=False)
def manual_seed(seed):
    default_generator.manual_seed(seed)
    cuda_manual_seed(seed)
    return default_generator


@export(method=False)
def seed():
    return default_generator.seed()


@export(method=False)
def initial_seed():
    return default_generator.initial_seed()


@export(method=False)
def get_rng_state():
    return default_generator.get_state()


@export(method=False)
def set_rng_state(new_state):
    default_generator.set_state(new_state)


def _float_dt(dtype):
    dt = dtype or D.get_default_dtype()
    return dt


def _sampler(fill):
    def f(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False):
        dt = _float_dt(dtype)
        if not (dt.is_floating_point or dt.is_complex):
            raise RuntimeError(f"\"check_uniform_bounds\" not implemented for "
                               f"'{dt.name.capitalize()}'")
        shape = shape_arg(size)
        dev = canonical(device)
        return _out(fill(_rng_on(generator, dev), shape, dt), dt, dev, requires_grad)
    return f


def _normal_arr(rng, shape, dt):
    if dt.is_complex:
        r = rng.standard_normal((2,) + shape) * np.sqrt(0.5)
        return (r[0] + 1j * r[1]).astype(dt.np)
    return rng.standard_normal(shape, dtype=np.float64 if dt is D.float64 else
                               np.float32).astype(dt.np, copy=False)


def _uniform_arr(rng, shape, dt):
    if dt.is_complex:
        return (rng.random(shape) + 1j * rng.random(shape)).astype(dt.np)
    return rng.random(shape, dtype=np.float64 if dt is D.float64 else np.float32).astype(
        dt.np, copy=False)


FUNCTIONS["rand"] = _sampler(_uniform_arr)
FUNCTIONS["randn"] = _sampler(_normal_arr)


@export(method=False)
def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None,
            device=None, requires_grad=False):
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    dt = dtype or D.int64
    dev = canonical(device)
    arr = _rng_on(generator, dev).integers(low, high, size=tuple(size)).astype(dt.np)
    return _out(arr, dt, dev, requires_grad)


@export(method=False)
def randperm(n, *, generator=None, out=None, dtype=D.int64, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    return _out(_rng(generator).permutation(n).astype(dtype.np), dtype, device, requires_grad)


def _like(name):
    def f(input, *args, dtype=None, layout=None, device=None, requires_grad=False,
          memory_format=None, generator=None):
        fn = FUNCTIONS[name]
        kw = dict(dtype=dtype or input._dtype, device=device or input.device,
                  requires_grad=requires_grad)
        if name == "randint":
            if len(args) == 1:
                return fn(0, args[0], tuple(input.shape), **kw)
            return fn(args[0], args[1], tuple(input.shape), **kw)
        return fn(*input.shape, **kw)
    return f


for _n in ("rand", "randn", "randint"):
    FUNCTIONS[_n + "_like"] = _like(_n)


@export(method=False)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad=False):
    rng = _rng(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        if isinstance(std, Tensor) and (np.asarray(s) < 0).any():
            raise RuntimeError("normal expects all elements of std >= 0.0")
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        z = _normal_arr(rng, shape, ref._dtype)
        return _out((m + s * z).astype(ref._dtype.np), ref._dtype, ref.device, False)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    dt = _float_dt(dtype)
    return _out((mean + std * _normal_arr(rng, tuple(size), dt)).astype(dt.np), dt, device,
                requires_grad)


@export()
def bernoulli(input, p=None, *, generator=None, out=None):
    rng = _rng(generator)
    probs = input._data if p is None else np.broadcast_to(p, input._data.shape)
    probs = to_host(probs)
    if (probs < 0).any() or (probs > 1).any():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    arr = (rng.random(probs.shape) < probs).astype(input._dtype.np)
    return _out(arr, input._dtype, input.device, False)


@export()
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    p = to_host(input._data)
    p = p.astype(np.float64)
    if p.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if (p < 0).any() or not np.isfinite(p).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    p2 = p.reshape(-1, p.shape[-1])
    if not replacement and num_samples > p2.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    rng = _rng(generator)
    rows = []
    for row in p2:
        s = row.sum()
        if s <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and (row > 0).sum() < num_samples:
            raise RuntimeError("invalid multinomial distribution (with replacement=False, not "
                               "enough non-negative category to sample)")
        rows.append(rng.choice(len(row), size=num_samples, replace=replacement, p=row / s))
    arr = np.stack(rows).reshape(p.shape[:-1] + (num_samples,)).astype(np.int64)
    return _out(arr, D.int64, input.device, False)


@export()
def poisson(input, generator=None):
    lam = to_host(input._data)
    return _out(_rng(generator).poisson(lam).astype(input._dtype.np), input._dtype,
                input.device, False)


# In-place samplers -------------------------------------------------------------

def _inplace_sampler(name, draw, on_device=False):
    def f(self, *args, generator=None, **kwargs):
        dev = self.device
        rng = _rng_on(generator, dev) if on_device else _rng(generator)
        arr = draw(rng, self._data.shape, self._dtype, *args, **kwargs)
        if dev.type != "cpu" and xp_of(arr) is np:
            arr = to_device(np.asarray(arr), dev)
        write_into(self, arr.astype(self._dtype.np, copy=False), self._dtype)
        return self
    f.__name__ = name
    METHODS[name] = f


_inplace_sampler("uniform_", lambda rng, s, dt, a=0.0, b=1.0, **k:
                 a + (b - a) * _uniform_arr(rng, s, D.float64), on_device=True)
_inplace_sampler("normal_", lambda rng, s, dt, mean=0.0, std=1.0, **k:
                 mean + std * _normal_arr(rng, s, D.float64 if dt is D.float64 else D.float32),
                 on_device=True)
_inplace_sampler("exponential_", lambda rng, s, dt, lambd=1.0, **k:
                 rng.exponential(1.0 / lambd, s))
_inplace_sampler("cauchy_", lambda rng, s, dt, median=0.0, sigma=1.0, **k:
                 median + sigma * rng.standard_cauchy(s))
_inplace_sampler("log_normal_", lambda rng, s, dt, mean=1.0, std=2.0, **k:
                 rng.lognormal(mean, std, s))
_inplace_sampler("geometric_", lambda rng, s, dt, p, **k: rng.geometric(p, s))
_inplace_sampler("bernoulli_", lambda rng, s, dt, p=0.5, **k:
                 rng.random(s, dtype=np.float32) < (p._data if isinstance(p, Tensor) else p),
                 on_device=True)


def _random_draw(rng, s, dt, low=None, high=None, **k):
    if low is None:
        low, high = 0, (2 ** (24 if dt is D.float32 else 53 if dt is D.float64 else
                              11 if dt is D.float16 else 8 if dt is D.bfloat16 else
                              dt.itemsize * 8 - 1) if dt is not D.bool else 2)
    elif high is None:
        low, high = 0, low
    return rng.integers(low, high, size=s)


_inplace_sampler("random_", _random_draw, on_device=True)
