"""Shape and joining ops against PyTorch: stacking, atleast_nd, flips, roll,
rot90, repeat/tile/repeat_interleave, broadcast_tensors, meshgrid, tril/triu,
diag family, block_diag, cartesian_prod, combinations, kron, trace, the
*_copy variants and in-place metadata ops; errors, int/bool dtypes, gradcheck."""
import numpy as np
import pytest
import torch
from reference import check, check_raises, gradcheck, randint, randn

import ember

pytestmark = pytest.mark.filterwarnings("ignore:torch.meshgrid:UserWarning")


def f64(*shape):
    return randn(*shape, dtype=np.float64)


DTYPES = [np.float64, np.int64, np.int32, np.uint8, bool]


def sample(dtype, *shape):
    if dtype is bool:
        return np.asarray(randn(*shape) > 0)
    if dtype is np.float64:
        return f64(*shape)
    return randint(0, 9, *shape).astype(dtype)


# ---------------------------------------------------------------------------
# stacking and atleast_nd
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_stacks(dtype):
    a, b, v, s = sample(dtype, 2, 3), sample(dtype, 2, 3), sample(dtype, 3), sample(dtype)
    for name in ("hstack", "vstack", "dstack", "column_stack", "row_stack"):
        check(lambda m, x, y: getattr(m, name)([x, y]), a, b)
        check(lambda m, x, y: getattr(m, name)((x, y)), v, v)
    check(lambda m, x, y: m.hstack([x, y]), s, v)
    check(lambda m, x, y: m.column_stack([x, y]), v[:2], a)
    check(lambda m, x, y: m.vstack([x, y]), v, a)
    check(lambda m, x, y, z: m.dstack([x, y, z]), v, v, s.reshape(1, 1, 1).repeat(3, 1))
    check(lambda m, x, y: m.hstack([x, y]), a, sample(np.float32, 2, 1))  # promotes


def test_stack_errors():
    check_raises(lambda m: m.hstack([]))
    check_raises(lambda m, x: m.hstack(x), randn(3))
    check_raises(lambda m, x, y: m.vstack([x, y]), randn(3), randn(4))
    check_raises(lambda m, x, y: m.column_stack([x, y]), randn(3, 4), randn(4))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_atleast(n):
    name = f"atleast_{n}d"
    for shape in [(), (3,), (2, 3), (2, 3, 4)]:
        check(lambda m, x: getattr(m, name)(x), f64(*shape))
    check(lambda m, x, y: getattr(m, name)(x, y), f64(), f64(3))
    check(lambda m, x, y: getattr(m, name)([x, y]), f64(2, 2), f64(3))
    check(lambda m, x: getattr(m, name)((x,)), sample(bool, 2))
    x = ember.randn(2, 3, 4)
    assert getattr(ember, name)(x) is x


# ---------------------------------------------------------------------------
# flips, roll, rot90
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_flips_roll_rot90(dtype):
    x = sample(dtype, 3, 4, 2)
    check(lambda m, x: m.fliplr(x), x)
    check(lambda m, x: x.flipud(), x)
    check(lambda m, x: m.roll(x, 2), x)
    check(lambda m, x: x.roll(-1, 1), x)
    check(lambda m, x: m.roll(x, (1, 5), (0, -1)), x)
    check(lambda m, x: m.roll(x, [7], [2]), x)
    for k in range(-2, 6):
        check(lambda m, x: m.rot90(x, k), x)
        check(lambda m, x: x.rot90(k, [2, 0]), x)
    check(lambda m, x: m.roll(x, 3), sample(dtype))
    check(lambda m, x: m.roll(x, 1), sample(dtype, 0, 3))


def test_flip_roll_rot90_errors():
    check_raises(lambda m, x: m.fliplr(x), randn(3))
    check_raises(lambda m, x: m.flipud(x), randn())
    check_raises(lambda m, x: m.roll(x, (1, 2)), randn(3, 4))
    check_raises(lambda m, x: m.roll(x, (1, 2), 0), randn(3, 4))
    check_raises(lambda m, x: m.roll(x, 1, 2), randn(3, 4))
    check_raises(lambda m, x: m.rot90(x, 1, (0,)), randn(3, 4))
    check_raises(lambda m, x: m.rot90(x, 1, (1, 1)), randn(3, 4))
    check_raises(lambda m, x: m.rot90(x), randn(3))


# ---------------------------------------------------------------------------
# repeat / tile / repeat_interleave
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_tile(dtype):
    x = sample(dtype, 2, 3)
    for reps in [(1, 1), (2, 3), (2, 1, 2), (0, 2), (3, 2, 1, 1)]:
        check(lambda m, x: x.repeat(*reps), x)
        check(lambda m, x: x.repeat(reps), x)
        check(lambda m, x: m.tile(x, reps), x)
    check(lambda m, x: m.tile(x, (2,)), x)
    check(lambda m, x: x.tile(3), x)
    check(lambda m, x: x.repeat(2, 2), sample(dtype))
    check(lambda m, x: x.repeat(()), sample(dtype))
    check_raises(lambda m, x: x.repeat(2), randn(2, 3))
    check_raises(lambda m, x: x.repeat(-1, 2), randn(2, 3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_interleave(dtype):
    x = sample(dtype, 3, 2)
    check(lambda m, x: m.repeat_interleave(x, 2), x)
    check(lambda m, x: x.repeat_interleave(3, dim=1), x)
    check(lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), 0), x)
    check(lambda m, x: x.repeat_interleave(m.tensor([2]), -1), x)
    check(lambda m, x: x.repeat_interleave(m.tensor(2), -1, output_size=4), x)
    check(lambda m, x: m.repeat_interleave(x, 2), sample(dtype))
    check(lambda m, r: m.repeat_interleave(r), np.array([1, 0, 3]))
    check_raises(lambda m, x: m.repeat_interleave(x, -1), randn(3))
    check_raises(lambda m, x: m.repeat_interleave(x, m.tensor([1, 2]), 0), randn(3, 2))
    check_raises(lambda m, x: m.repeat_interleave(x, m.tensor([[1, 2, 1]]), 0), randn(3, 2))
    check_raises(lambda m, x: m.repeat_interleave(x, m.tensor([1, -1, 1]), 0), randn(3, 2))


# ---------------------------------------------------------------------------
# broadcast_tensors, meshgrid, cartesian_prod, combinations
# ---------------------------------------------------------------------------

def test_broadcast_tensors():
    check(lambda m, x, y, z: m.broadcast_tensors(x, y, z), f64(3, 1), f64(4), f64(2, 1, 1))
    check(lambda m, x, y: m.broadcast_tensors(x, y), sample(bool, 2, 1), sample(np.int64, 3))
    check(lambda m, x: m.broadcast_tensors(x), f64(2))
    check_raises(lambda m, x, y: m.broadcast_tensors(x, y), randn(3, 4), randn(2))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    check(lambda m, x, y: m.meshgrid(x, y, indexing=indexing), f64(3), f64(4))
    check(lambda m, x, y, z: m.meshgrid([x, y, z], indexing=indexing), f64(3), f64(), f64(2))
    check(lambda m, x: m.meshgrid(x, indexing=indexing), f64(3))
    check(lambda m, x, y: m.meshgrid((x, y), indexing=indexing), sample(np.int64, 2),
          sample(np.int64, 3))
    check_raises(lambda m, x, y: m.meshgrid(x, y, indexing=indexing), randn(3), randn(2, 2))
    check_raises(lambda m, x, y: m.meshgrid(x, y.double(), indexing=indexing), randn(3),
                 randn(2))


def test_meshgrid_default_and_errors():
    with pytest.warns(UserWarning, match="indexing"):
        out = ember.meshgrid(ember.arange(3), ember.arange(2))
    assert tuple(out[0].shape) == (3, 2)
    check_raises(lambda m, x: m.meshgrid(x, indexing="ab"), randn(3))


def test_cartesian_prod_combinations():
    check(lambda m, x, y, z: m.cartesian_prod(x, y, z), f64(2), f64(3), f64(1))
    check(lambda m, x: m.cartesian_prod(x), f64(3))
    check(lambda m, x, y: m.cartesian_prod(x, y), sample(np.int64, 2), sample(np.int64, 2))
    for r in range(5):
        for rep in (False, True):
            check(lambda m, x: m.combinations(x, r, rep), f64(3))
            check(lambda m, x: m.combinations(x, r=r, with_replacement=rep), sample(bool, 3))
    check(lambda m, x: m.combinations(x), f64(0))
    check_raises(lambda m, x: m.cartesian_prod(x, x), randn(2, 2))
    check_raises(lambda m, x: m.combinations(x), randn(2, 2))
    check_raises(lambda m, x: m.combinations(x, -1), randn(3))


# ---------------------------------------------------------------------------
# tril / triu, diag family, trace, block_diag, kron
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_tril_triu(dtype):
    for k in (-5, -1, 0, 2, 6):
        check(lambda m, x: m.tril(x, k), sample(dtype, 3, 4))
        check(lambda m, x: x.triu(diagonal=k), sample(dtype, 2, 3, 4))
        check(lambda m, x: (x * 1).tril_(k), sample(dtype, 4, 3))
        check(lambda m, x: (x * 1).triu_(k), sample(dtype, 4, 3))
    check_raises(lambda m, x: m.tril(x), randn(3))
    check_raises(lambda m, x: m.triu(x), randn())


@pytest.mark.parametrize("dtype", DTYPES)
def test_diag_family(dtype):
    for k in (-2, 0, 1, 4):
        check(lambda m, x: m.diag(x, k), sample(dtype, 3))
        check(lambda m, x: x.diag(k), sample(dtype, 3, 4))
        check(lambda m, x: m.diagflat(x, k), sample(dtype, 2, 2))
        check(lambda m, x: m.diag_embed(x, k), sample(dtype, 2, 3))
        check(lambda m, x: x.diag_embed(k, 0, 2), sample(dtype, 2, 3))
        check(lambda m, x: x.diag_embed(offset=k, dim1=-1, dim2=1), sample(dtype, 2, 3))
    check(lambda m, x: m.diagflat(x), sample(dtype))
    check_raises(lambda m, x: m.diag_embed(x), randn())
    check_raises(lambda m, x: m.diag(x), randn(2, 2, 2))
    check_raises(lambda m, x: m.diag_embed(x, 0, 1, 1), randn(2, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.int32, np.uint8])
def test_trace(dtype):
    check(lambda m, x: m.trace(x), sample(dtype, 3, 4))
    check(lambda m, x: x.trace(), sample(dtype, 4, 2))
    check(lambda m, x: x.trace(), sample(dtype, 0, 2))


def test_trace_errors():
    check_raises(lambda m, x: m.trace(x), randn(2, 2, 2))
    check_raises(lambda m, x: m.trace(x), randn(3))
    check_raises(lambda m, x: m.trace(x), sample(bool, 2, 2))


def test_block_diag():
    check(lambda m, a, b, c, d: m.block_diag(a, b, c, d), f64(2, 3), f64(), f64(4), f64(1, 1))
    check(lambda m, a, b: m.block_diag(a, b), f64(0, 2), f64(2, 0))
    check(lambda m, a, b: m.block_diag(a, b), sample(np.int64, 2, 2), sample(bool, 3))
    check(lambda m, a, b: m.block_diag(a, b), sample(np.int64, 2, 2), sample(np.float32, 1))
    check(lambda m: m.block_diag())
    check_raises(lambda m, a: m.block_diag(a), randn(2, 2, 2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_kron(dtype):
    check(lambda m, a, b: m.kron(a, b), sample(dtype, 2, 3), sample(dtype, 3, 2))
    check(lambda m, a, b: a.kron(b), sample(dtype, 2, 3), sample(dtype, 2))
    check(lambda m, a, b: m.kron(a, b), sample(dtype), sample(dtype, 2, 1, 2))
    check(lambda m, a, b: m.kron(a, b), sample(dtype, 2), sample(np.float32, 3))


# ---------------------------------------------------------------------------
# *_copy variants and in-place metadata ops
# ---------------------------------------------------------------------------

COPIES = [
    lambda m, x: m.alias_copy(x), lambda m, x: m.as_strided_copy(x, (2, 2), (1, 3), 1),
    lambda m, x: m.detach_copy(x.detach()), lambda m, x: m.diagonal_copy(x, 1),
    lambda m, x: m.expand_copy(x[:1], (2, 3, 4)), lambda m, x: m.narrow_copy(x, 1, 1, 2),
    lambda m, x: x.narrow_copy(0, -2, 1), lambda m, x: m.permute_copy(x, (1, 0)),
    lambda m, x: m.select_copy(x, 1, -1), lambda m, x: m.slice_copy(x, 1, -3, None, 2),
    lambda m, x: m.slice_copy(x), lambda m, x: m.split_copy(x, 2, 1),
    lambda m, x: m.split_with_sizes_copy(x, [1, 3], 1), lambda m, x: m.squeeze_copy(x[:1]),
    lambda m, x: m.squeeze_copy(x[:1], 0), lambda m, x: m.t_copy(x),
    lambda m, x: m.transpose_copy(x, 0, 1), lambda m, x: m.unbind_copy(x, 1),
    lambda m, x: m.unfold_copy(x, 1, 2, 1), lambda m, x: m.unsqueeze_copy(x, -1),
    lambda m, x: m.view_copy(x, (4, 3)), lambda m, x: m.view_copy(x.t(), (-1,)),
]


@pytest.mark.parametrize("k", range(len(COPIES)))
def test_copy_variants(k):
    e, t = check(COPIES[k], f64(3, 4))
    outs = e if isinstance(e, tuple) else (e,)
    assert all(o._base is None for o in outs)   # copies, never views


def test_view_copy_dtype():
    check(lambda m, x: m.view_copy(x, m.int32), randn(2, 3), grad=False)


def test_inplace_metadata_ops():
    def f(m, x):
        y = x * 1
        y.t_()
        y.unsqueeze_(0)
        y.transpose_(0, 2)
        y.squeeze_(-1)
        y.swapaxes_(0, 1)
        y.swapdims_(1, 0)
        y.unsqueeze_(1).squeeze_()
        return y * 2
    check(f, f64(3, 4))

    def view(m, x):
        y = x * 1
        v = y[1:]
        v.t_()
        v.mul_(2)   # writes through the transposed view into y
        return y
    check(view, f64(3, 4))
    check(lambda m, x: (x * 1).as_strided_((2, 2), (1, 2)), f64(3, 4))
    check(lambda m, x: x.t_(), randn(3, 4), grad=False)
    x = ember.randn(3, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.t_()


# ---------------------------------------------------------------------------
# gradcheck (float64) of every differentiable op here
# ---------------------------------------------------------------------------

GRADCHECKS = [
    (lambda a, b: ember.hstack([a, b]), (f64(2, 2), f64(2, 1))),
    (lambda a, b: ember.vstack([a, b]), (f64(3), f64(2, 3))),
    (lambda a, b: ember.dstack([a, b]), (f64(2), f64(1, 2))),
    (lambda a, b: ember.column_stack([a, b]), (f64(2), f64(2, 2))),
    (lambda a: ember.atleast_3d(a), (f64(3),)),
    (lambda a: ember.fliplr(a) * ember.flipud(a), (f64(2, 3),)),
    (lambda a: ember.roll(a, (1, -2), (0, 1)), (f64(2, 3),)),
    (lambda a: ember.roll(a, 4), (f64(2, 3),)),
    (lambda a: ember.rot90(a, 1, (1, 0)), (f64(2, 3),)),
    (lambda a: a.repeat(2, 1, 3), (f64(2, 2),)),
    (lambda a: ember.tile(a, (2,)), (f64(2, 2),)),
    (lambda a: a.repeat_interleave(ember.tensor([2, 0, 1]), 0), (f64(3, 2),)),
    (lambda a: ember.repeat_interleave(a, 2), (f64(2, 2),)),
    (lambda a, b: ember.broadcast_tensors(a, b), (f64(2, 1), f64(3))),
    (lambda a, b: ember.meshgrid(a, b, indexing="xy"), (f64(2), f64(3))),
    (lambda a: ember.tril(a, -1) + ember.triu(a, 1), (f64(3, 4),)),
    (lambda a: ember.diag(a, 1), (f64(3),)),
    (lambda a: ember.diag(a, -1), (f64(3, 4),)),
    (lambda a: ember.diag_embed(a, 1, 0, 2), (f64(2, 3),)),
    (lambda a: ember.diagflat(a, -1), (f64(2, 2),)),
    (lambda a, b: ember.block_diag(a, b), (f64(2, 3), f64(2))),
    (lambda a, b: ember.cartesian_prod(a, b), (f64(2), f64(3))),
    (lambda a: ember.combinations(a, 2, True), (f64(3),)),
    (lambda a, b: ember.kron(a, b), (f64(2, 2), f64(3))),
    (lambda a: ember.trace(a), (f64(3, 4),)),
    (lambda a: ember.narrow_copy(a, 1, 1, 2), (f64(3, 4),)),
    (lambda a: ember.unbind_copy(a, 1), (f64(3, 2),)),
]


@pytest.mark.parametrize("k", range(len(GRADCHECKS)))
def test_gradcheck(k):
    fn, inputs = GRADCHECKS[k]
    assert gradcheck(fn, *inputs)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision(dtype):
    for fn in (lambda m, x: m.kron(x, x[:1]), lambda m, x: x.tril(), lambda m, x: x.trace(),
               lambda m, x: m.diag_embed(x), lambda m, x: m.block_diag(x, x),
               lambda m, x: x.roll(1, 0).repeat(2, 1).repeat_interleave(2, 0)):
        check(lambda m, x: fn(m, x.to(getattr(m, dtype))), randn(3, 4), grad=False)


@pytest.mark.parametrize("out_shape", [(0,), (5,), (2, 2)])
def test_out_argument_is_resized_and_returned(out_shape):
    """``out=`` keeps the out tensor's identity and dtype, resizing it as PyTorch."""
    for m in (ember, torch):
        out = m.zeros(out_shape)
        r = m.cat([m.ones(2), m.arange(3.0)], out=out)
        assert r is out and tuple(out.shape) == (5,) and out.tolist() == [1, 1, 0, 1, 2]
        out = m.zeros(out_shape)
        assert m.kron(m.ones(1), m.arange(5.0), out=out) is out
        assert out.tolist() == [0, 1, 2, 3, 4]
