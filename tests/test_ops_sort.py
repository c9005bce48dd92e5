"""Sorting and searching against PyTorch: sort/argsort/msort/topk (stable
ties, NaN, descending, dtypes), searchsorted/bucketize, unique and
unique_consecutive, errors and gradcheck."""
import numpy as np
import pytest
import torch
from reference import check, check_raises, gradcheck, randint, randn

import ember

NAN = float("nan")


def f64(*shape):
    return randn(*shape, dtype=np.float64)


TIES = np.array([[3, 1, 2, 1, 3, 0, 1], [2, 2, 2, 2, 1, 1, 1]], np.float32)
WITH_NAN = np.array([1.0, NAN, -2.0, NAN, 0.0, -0.0, np.inf, -np.inf], np.float32)


@pytest.mark.parametrize("descending", [False, True])
def test_sort(descending):
    check(lambda m, x: m.sort(x, descending=descending), f64(3, 5))
    check(lambda m, x: x.sort(0, descending), f64(3, 5))
    check(lambda m, x: m.sort(x, dim=-2, descending=descending, stable=True), f64(2, 3, 4))
    check(lambda m, x: x.sort(stable=True, descending=descending), TIES)      # stable ties
    check(lambda m, x: x.sort(descending=descending), WITH_NAN, grad=False)   # NaN is largest
    check(lambda m, x: x.sort(descending=descending), f64())
    check(lambda m, x: x.sort(descending=descending), np.zeros((2, 0), np.float32))
    r = ember.sort(ember.tensor([2.0, 1.0]))
    assert type(r).__name__ == "sort" and r.values.tolist() == [1.0, 2.0] and \
        r.indices.tolist() == [1, 0]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8, bool, np.float16])
def test_sort_dtypes(dtype):
    x = randint(-5, 5, 3, 6).astype(dtype) if dtype is not bool else randn(3, 6) > 0
    for desc in (False, True):
        check(lambda m, x: x.sort(descending=desc, stable=True), x)
        check(lambda m, x: x.argsort(descending=desc, stable=True), x)
    check(lambda m, x: x.sort(descending=True), x.astype(np.float32) if dtype is bool else x)


def test_sort_bfloat16():
    check(lambda m, x: x.to(m.bfloat16).sort(descending=True).values.float(), randn(10),
          grad=False)


def test_argsort_msort():
    check(lambda m, x: m.argsort(x, 0, True), f64(4, 3))
    check(lambda m, x: x.argsort(stable=True), TIES)
    check(lambda m, x: m.argsort(x), f64())
    check(lambda m, x: m.msort(x), f64(4, 3))
    check(lambda m, x: x.msort(), randint(0, 3, 5, 2))
    check_raises(lambda m, x: m.sort(x.to(m.complex64)), randn(3))
    check_raises(lambda m, x: m.sort(x, 2), randn(3, 2))


@pytest.mark.parametrize("largest", [True, False])
def test_topk(largest):
    check(lambda m, x: x.topk(3, largest=largest), f64(4, 6))
    check(lambda m, x: m.topk(x, 2, 0, largest, True), f64(4, 6))
    check(lambda m, x: x.topk(0, largest=largest), f64(4, 6))
    check(lambda m, x: x.topk(6, largest=largest), f64(4, 6))
    check(lambda m, x: x.topk(1, largest=largest), f64())
    check(lambda m, x: x.topk(2, largest=largest).values, WITH_NAN, grad=False)
    check(lambda m, x: x.topk(2, largest=largest), randint(-9, 9, 3, 8).astype(np.int32) * 1000
          + np.arange(8, dtype=np.int32))
    s = ember.topk(ember.tensor([5.0, 1.0, 3.0, 4.0]), 3, sorted=False)
    assert sorted(s.values.tolist()) == [3.0, 4.0, 5.0]
    assert type(s).__name__ == "topk"


def test_topk_ties_largest():
    # largest ties come out in index order, as PyTorch's CPU kernel does
    check(lambda m, x: x.topk(3), np.array([1.0, 3, 1, 3, 2, 1], np.float32), grad=False)


def test_topk_errors():
    check_raises(lambda m, x: x.topk(7), randn(6))
    check_raises(lambda m, x: x.topk(-1), randn(6))
    check_raises(lambda m, x: x.topk(2), randn())
    check_raises(lambda m, x: x.topk(1, 2), randn(3, 2))


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted(right):
    seq = np.array([0.0, 1.0, 1.0, 2.5, 4.0], np.float32)
    vals = np.array([[-1.0, 1.0, 2.0], [4.0, 5.0, 2.5]], np.float32)
    check(lambda m, s, v: m.searchsorted(s, v, right=right), seq, vals)
    check(lambda m, s, v: m.searchsorted(s, v, side="right" if right else "left"), seq, vals)
    check(lambda m, s, v: m.searchsorted(s, v, right=right, out_int32=True), seq, vals)
    check(lambda m, s: m.searchsorted(s, 1.0, right=right), seq)           # scalar value
    check(lambda m, s: m.searchsorted(s, 2, right=right), randint(0, 5, 4).cumsum())
    nd = np.sort(randn(2, 3, 5), -1)
    check(lambda m, s, v: m.searchsorted(s, v, right=right), nd, randn(2, 3, 4))
    perm = randn(6)
    check(lambda m, s, o, v: m.searchsorted(s, v, sorter=o, right=right), perm,
          np.argsort(perm), randn(3))
    check(lambda m, s, v: m.searchsorted(s, v, right=right), randint(0, 3, 6).cumsum(),
          randn(4) * 3)                                                     # int seq, float v
    check(lambda m, x, b: m.bucketize(x, b, right=right), randn(3, 4), np.sort(randn(5)))
    check(lambda m, x, b: m.bucketize(x, b, right=right, out_int32=True), randn(3),
          np.sort(randn(5)))
    check(lambda m, b: m.bucketize(0.5, b, right=right), np.sort(randn(5)))
    check(lambda m, x, b: m.bucketize(x, b, right=right), randint(0, 9, 5), np.array([2, 4, 4, 7]))


def test_searchsorted_errors():
    s = np.sort(randn(5))
    check_raises(lambda m, s, v: m.searchsorted(s, v, side="left", right=True), s, randn(2))
    check_raises(lambda m, s, v: m.searchsorted(s, v, side="middle"), s, randn(2))
    check_raises(lambda m, s, v: m.searchsorted(s, v), randn(2, 5), randn(3, 2))
    check_raises(lambda m, s, v, o: m.searchsorted(s, v, sorter=o.int()), s, randn(2),
                 np.arange(5))
    check_raises(lambda m, s, v, o: m.searchsorted(s, v, sorter=o), s, randn(2), np.arange(4))
    check_raises(lambda m, x, b: m.bucketize(x, b), randn(3), randn(2, 3))


UNIQUE_INPUTS = [
    np.array([3, 1, 2, 1, 3, 3, 0], np.int64), np.array([[2.0, 1.0], [2.0, 1.0], [0.5, 1.0]],
                                                         np.float32),
    np.array([True, False, True]), np.array(4.0), np.zeros((0,), np.float32),
    np.array([1.0, NAN, NAN, 1.0], np.float32), np.array([[1, 2], [1, 2]], np.int8),
    randint(0, 3, 4, 3, 2),
]


@pytest.mark.parametrize("k", range(len(UNIQUE_INPUTS)))
@pytest.mark.parametrize("inv,cnt", [(False, False), (True, False), (False, True), (True, True)])
def test_unique(k, inv, cnt):
    x = UNIQUE_INPUTS[k]
    for srt in (True, False):
        check(lambda m, x: m.unique(x, sorted=srt, return_inverse=inv, return_counts=cnt), x,
              grad=False)
    check(lambda m, x: x.unique_consecutive(return_inverse=inv, return_counts=cnt), x,
          grad=False)
    if np.isnan(x).any():
        return  # with dim=, PyTorch's NaN handling is an artifact of its sort
    for dim in range(x.ndim):
        check(lambda m, x: x.unique(return_inverse=inv, return_counts=cnt, dim=dim), x,
              grad=False)
        # (keywords: torch.unique_consecutive misreads positional flags)
        check(lambda m, x: m.unique_consecutive(x, return_inverse=inv, return_counts=cnt,
                                                dim=-1 - dim), x, grad=False)


def test_unique_autograd_and_errors():
    x = ember.tensor([1.0, 2.0, 1.0], requires_grad=True)
    u = x.unique()
    assert u.requires_grad and type(u.grad_fn).__name__ == "Unique2Backward0"
    with pytest.raises(RuntimeError, match="derivative for '_unique2' is not implemented"):
        u.sum().backward()
    check_raises(lambda m, x: m.unique(x, dim=2), randn(3, 2))


GRADCHECKS = [
    lambda x: x.sort(1, descending=True).values,
    lambda x: x.sort(0).values * 2,
    lambda x: x.msort(),
    lambda x: x.topk(2, 1).values,
    lambda x: x.topk(3, 0, largest=False).values,
]


@pytest.mark.parametrize("k", range(len(GRADCHECKS)))
def test_gradcheck(k):
    assert gradcheck(GRADCHECKS[k], f64(4, 3))


def test_sort_double_backward():
    def f(m, x):
        y = (x.sort(1).values ** 2).sum()
        (g,) = m.autograd.grad(y, x, create_graph=True)
        return g * x
    check(f, f64(3, 4))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision(dtype):
    for fn in (lambda m, x: x.sort(1, descending=True), lambda m, x: x.topk(2),
               lambda m, x: x.unique(return_counts=True),
               lambda m, x: m.searchsorted(x.sort().values, x)):
        check(lambda m, x: fn(m, x.to(getattr(m, dtype))), randn(3, 4), grad=False)


def test_sort_out_tuple():
    """``sort(..., out=(values, indices))`` fills and returns the given tensors."""
    for m in (ember, torch):
        v, i = m.zeros(0), m.zeros(0, dtype=m.int64)
        r = m.sort(m.tensor([3.0, 1.0, 2.0]), out=(v, i))
        assert r.values is v and r.indices is i
        assert v.tolist() == [1.0, 2.0, 3.0] and i.tolist() == [1, 2, 0]
