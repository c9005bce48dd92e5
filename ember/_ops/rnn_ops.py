"""Recurrent layers as coarse ops: one op per layer and direction runs the
whole time loop on arrays, feature-major (each step's states are ``(features,
batch)`` blocks), with the input projection in each step's product (or, with
the helper thread, done ahead and overlapped with the loop), and its backward
through time is hand-written on arrays (one GEMM each for the input,
input-weight and hidden-weight gradients after the loop; for LSTM, which has
the biggest ones, a helper thread computes them chunk by chunk of finished
steps while the loop runs).

``rnn_layer`` is the kernel; ``rnn`` stacks layers and directions (dropout
between layers, as PyTorch); ``lstm``/``gru``/``rnn_tanh``/``rnn_relu`` and the
``*_cell`` functions are PyTorch's ``torch.lstm``-style doors.

Inputs are time-major ``(T, B, F)``, batch-first ``(B, T, F)`` or packed
``(N, F)`` data with ``batch_sizes`` (one decreasing batch size per step, as
``PackedSequence``). Gate order and formulas are PyTorch's: LSTM ``i, f, g,
o``; GRU ``r, z, n`` with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

Internally the sigmoid gates are computed as ``0.5 * tanh(z / 2) + 0.5`` with
the halving folded into (copies of) the weights, so each step is one GEMM and
one ``tanh`` over all gates. Double backward (``create_graph=True``) recomputes
the layer with fine-grained ember ops and differentiates that graph.
"""
import os
import weakref

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._blas import gemm_threads, in_threaded_region
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from . import _parallel
from ._core import FUNCTIONS, export, node, record, wrap
from .blas import linear, ones_sum

_LOW = (D.float16, D.bfloat16)


def _arr(t, dt):
    if t is None:
        return None
    a = t._data
    return a if a.dtype == dt else a.astype(dt)


def _steps(shape, batch_sizes, batch_first, reverse):
    """The (index, batch size) of every step in processing order."""
    if batch_sizes is None:
        if batch_first:
            b, t = shape[0], shape[1]
            steps = [((slice(None), k), b) for k in range(t)]
        else:
            t, b = shape[0], shape[1]
            steps = [((k,), b) for k in range(t)]
    else:
        steps, o = [], 0
        for b in batch_sizes:
            b = int(b)
            steps.append(((slice(o, o + b),), b))
            o += b
    return steps[::-1] if reverse else steps


# Workspace: the big arrays that never leave an op (gate activations, cell
# states, gradient buffers) are recycled through a small pool, so a training
# loop does not hand megabytes back to the OS and fault them in again each step.
# The pool keeps at most _POOL_BYTES, dropping the least recently used shapes.
_POOL = {}            # (shape, dtype) -> [arrays], in order of last use
_POOL_BYTES = 64 << 20
_pool_size = [0]


def _take(xp, shape, dt):
    if xp is np:
        lst = _POOL.get((shape, dt))
        if lst:
            a = lst.pop()
            _pool_size[0] -= a.nbytes
            return a
    return xp.empty(shape, dt)


def _give(*arrays):
    for a in arrays:
        if type(a) is not np.ndarray or a.base is not None or a.nbytes > _POOL_BYTES // 4:
            continue
        key = (a.shape, a.dtype)
        lst = _POOL.pop(key, [])
        _POOL[key] = lst                      # most recently used last
        if len(lst) >= 3:
            continue
        lst.append(a)
        _pool_size[0] += a.nbytes
        while _pool_size[0] > _POOL_BYTES:
            old = next(iter(_POOL))
            for b in _POOL.pop(old):
                _pool_size[0] -= b.nbytes


# A helper thread overlaps big GEMMs with the time loops: the input projection
# of the later steps with the first forward steps (every mode), and the LSTM's
# weight-gradient GEMMs of the steps already processed with the rest of its
# backward loop (each product single-threaded, so a busy core costs waiting,
# never spinning). Used when ember may use more than one thread
# (``ember.set_num_threads``) and the layer pass does not run with OpenBLAS's
# threads: when they may take the other cores (``_blas.threads_free``), the
# whole pass runs with threaded products instead (``_layer_threads``), which is
# faster, as the time loops' own products then use all cores too.
_worker = None


def _helper():
    global _worker
    if _parallel.num_threads() < 2 or in_threaded_region():
        return None
    if _worker is None:
        from concurrent.futures import ThreadPoolExecutor
        _worker = ThreadPoolExecutor(1, thread_name_prefix="ember-rnn")
    return _worker


def _after_fork():
    global _worker
    _worker = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _row_range(idx, b):
    """Rows of the flattened ``(N, F)`` data that step ``idx`` covers, or None."""
    if len(idx) != 1:
        return None                                  # batch-first: strided rows
    k = idx[0]
    if isinstance(k, slice):
        return k.start, k.stop
    return k * b, (k + 1) * b


def _perm_lstm(h):
    """Row order i, f, o, g (sigmoid gates first) from PyTorch's i, f, g, o."""
    return np.concatenate([np.arange(2 * h), np.arange(3 * h, 4 * h), np.arange(2 * h, 3 * h)])


def _scale(xp, n_sig, n, dt, v):
    """Column vector: ``v`` for the first ``n_sig`` (sigmoid) gate rows, 1 after."""
    s = xp.ones((n, 1), dt)
    s[:n_sig] = v
    return s


def _stack_prev(xp, out, init, steps):
    """Every step's previous state, batch-major like the output ``out`` (for
    the hidden-weight gradient): the step before's output, or the initial
    state ``init`` (B, H) for sequences that start at this step."""
    hp = _take(xp, out.shape[:-1] + init.shape[-1:], out.dtype)
    prev = None
    for idx, bs in steps:
        dst = hp[idx]
        m = 0 if prev is None else min(bs, prev[1])
        if m:
            dst[:m] = out[prev[0]][:m]
        if m < bs:
            dst[m:] = init[m:bs]
        prev = idx, bs
    return hp


def _layer_threads(w_hh, steps):
    """BLAS threads for a whole layer pass (``_blas.gemm_threads``, decided by
    the size of one step's recurrent product)."""
    return gemm_threads(steps[0][1] * w_hh.shape[0] * w_hh.shape[1])


def _big(a, b):
    """``a @ b`` for the after-the-loop GEMMs (``_blas.gemm_threads``)."""
    with gemm_threads(a.shape[0] * a.shape[1] * b.shape[1]):
        return a @ b


# ---------------------------------------------------------------------------
# Forward kernels: (out, h_n, c_n, saved arrays). Sigmoid gates are
# ``0.5 * tanh(z / 2) + 0.5``: the halving is folded into the weights, the raw
# tanh values stay in the gate array ``t`` and the sigmoids go to ``s``.
#
# The kernels work feature-major: each step's gates, states and gradients are
# ``(features, batch)`` blocks, so the step's products are ``W @ h`` with the
# weight as BLAS's first operand (a 1024x256 weight times a 256x32 state: 47 us
# on two threads here against 94 for ``h @ W.T``, with OpenBLAS's AVX-512
# kernels), and each gate is a contiguous row block.
# ---------------------------------------------------------------------------

def _blocks(xp, f, steps, dt):
    """One contiguous ``(f, bs)`` block per step, all in one pooled buffer:
    returns (buffer, blocks)."""
    buf = _take(xp, (f * sum(bs for _, bs in steps),), dt)
    blocks, o = [], 0
    for _, bs in steps:
        blocks.append(buf[o:o + f * bs].reshape(f, bs))
        o += f * bs
    return buf, blocks


def _prev_block(xp, blocks, init, j, bs):
    """The state before step ``j`` as an ``(f, bs)`` block: the step before's, or
    the initial state ``init`` (f, B)."""
    if j == 0:
        return init[:, :bs]
    p = blocks[j - 1]
    if p.shape[1] >= bs:
        return p[:, :bs]
    return xp.concatenate([p, init[:, p.shape[1]:bs]], axis=1)   # reverse of a packed batch


def _final_blocks(blocks, init):
    """Each sequence's state after its last step, batch-major like ``init`` (B, f)."""
    out = init.copy()
    for k, blk in enumerate(blocks):
        bs = blk.shape[1]
        nbs = blocks[k + 1].shape[1] if k + 1 < len(blocks) else 0
        if nbs < bs:
            out[nbs:bs] = blk[:, nbs:bs].T
    return out


def _cols(a, idx):
    """The columns of a feature-major ``(f, *lead)`` array that step ``idx`` covers."""
    return a[(slice(None),) + idx]


def _ahead_pool(xp, steps):
    """The helper thread when it overlaps the input projection with the time
    loop (NumPy data, at least 8 steps), else None."""
    return _helper() if xp is np and len(steps) >= 8 else None


def _in_proj(xp, x, w, b, steps, g):
    """Each step's input projection ``w @ x[idx].T (+ b)`` into its gate block.
    With the helper thread (``_ahead_pool``), it does the later three quarters
    while the loop starts: returns None or (first step not yet projected, wait
    function)."""
    def part(a, z):
        for j in range(a, z):
            xp.matmul(w, x[steps[j][0]].T, out=g[j])
            if b is not None:
                g[j] += b
    n = len(steps)
    k0 = n // 4
    pool = _ahead_pool(xp, steps)
    if pool is None:
        part(0, n)
        return None
    f = pool.submit(part, k0, n)
    part(0, k0)

    def wait():
        if f.cancel():                 # the helper has not started: do it here
            part(k0, n)
        else:
            f.result()
    return k0, wait


def _inputs(xp, x, w_hh, w_ih, b, steps, g, scale=None):
    """How the steps' pre-activations get their input side (every weight row
    times ``scale``, a column, if given). With the helper thread: projected
    ahead into the gate blocks ``g``, overlapped with the time loop
    (``_in_proj``); else in one joint product per step (``_joint``). Returns
    (w, kbuf, ks, rest) for ``_step_gates`` and ``_give``."""
    if _ahead_pool(xp, steps) is not None:
        if b is not None:
            b = b[:, None]
        if scale is not None:
            w_hh, w_ih, b = w_hh * scale, w_ih * scale, b * scale if b is not None else None
        return w_hh, None, None, _in_proj(xp, x, w_ih, b, steps, g)
    return _joint(xp, x, w_hh, w_ih, b, steps, scale) + (None,)


def _joint(xp, x, w_hh, w_ih, b, steps, scale=None):
    """The joint weight ``[w_hh | w_ih | b]`` (rows times ``scale``) and, per
    step, the ``[h_prev; x_t; 1]`` block it multiplies, the state rows left to
    fill: returns (weight, buffer, blocks). A step's gates are then one product,
    with no separate input projection or adds: lstm_train's step 2-6% faster
    (in one process, against the projections done ahead, products threaded)."""
    p, f = w_hh.shape[1], w_ih.shape[1]
    w = xp.empty((w_hh.shape[0], p + f + (b is not None)), w_hh.dtype)
    parts = ((w[:, :p], w_hh), (w[:, p:p + f], w_ih)) + \
        (((w[:, p + f:], b[:, None]),) if b is not None else ())
    for dst, src in parts:
        if scale is None:
            dst[...] = src
        else:
            xp.multiply(src, scale, out=dst)
    kbuf, ks = _blocks(xp, w.shape[1], steps, x.dtype)
    for (idx, _), k in zip(steps, ks):
        k[p:p + f] = x[idx].T
        if b is not None:
            k[p + f] = 1
    return w, kbuf, ks


def _step_gates(xp, a, j, prev, w, ks, rest):
    """Step ``j``'s pre-activations into its gate block ``a``: the joint product
    (``ks`` given) or the recurrent product added to the projected input
    (``w`` is then w_hh; ``prev`` None when the state is known to be zero)."""
    if ks is not None:
        k = ks[j]
        k[:prev.shape[0]] = prev
        xp.matmul(w, k, out=a)
        return
    if rest is not None and j == rest[0]:
        rest[1]()
    if prev is not None:
        a += w @ prev


def _lstm_fwd(xp, x, h0, c0, w_ih, w_hh, b, w_hr, steps):
    hs = w_hh.shape[0] // 4
    s3 = 3 * hs
    dt = x.dtype
    perm = _perm_lstm(hs)
    half = _scale(xp, s3, 4 * hs, dt, 0.5)
    wih_p, whh_p = w_ih[perm], w_hh[perm]
    gbuf, g = _blocks(xp, 4 * hs, steps, dt)
    w, kbuf, ks, rest = _inputs(xp, x, whh_p, wih_p, b[perm] if b is not None else None,
                                steps, g, half)
    sbuf, s = _blocks(xp, s3, steps, dt)
    cbuf, c = _blocks(xp, hs, steps, dt)
    tbuf, tcs = _blocks(xp, hs, steps, dt)
    hbuf, h = _blocks(xp, h0.shape[-1], steps, dt)
    out = xp.empty(x.shape[:-1] + (h0.shape[-1],), dt)
    hf = None
    if w_hr is not None:               # the unprojected states, feature-major (for w_hr's grad)
        hf = _take(xp, (hs,) + x.shape[:-1], dt)
    h0c, c0c = h0.T, c0.T
    h0_zero = not h0.any()             # the first step's recurrent product is 0
    for j, (idx, bs) in enumerate(steps):
        a = g[j]
        prev = _prev_block(xp, h, h0c, j, bs) if j or not h0_zero or ks is not None else None
        _step_gates(xp, a, j, prev, w, ks, rest)
        xp.tanh(a, out=a)
        st = s[j]
        xp.multiply(a[:s3], 0.5, out=st)
        st += 0.5
        ct = c[j]
        xp.multiply(st[hs:2 * hs], _prev_block(xp, c, c0c, j, bs), out=ct)
        ct += st[:hs] * a[s3:]
        tc = tcs[j]
        xp.tanh(ct, out=tc)
        if w_hr is None:
            xp.multiply(tc, st[2 * hs:], out=h[j])
        else:
            hft = _cols(hf, idx)
            xp.multiply(tc, st[2 * hs:], out=hft)
            xp.matmul(w_hr, hft, out=h[j])
        out[idx] = h[j].T
    hn = _final_blocks(h, h0)
    _give(hbuf, kbuf)
    saved = dict(t=g, s=s, c=c, tc=tcs, hf=hf, perm=perm, wih_p=wih_p, whh_p=whh_p,
                 bufs=(gbuf, sbuf, cbuf, tbuf, hf))
    return out, hn, _final_blocks(c, c0), saved


def _gru_fwd(xp, x, h0, w_ih, w_hh, b_ih, b_hh, steps):
    hs = w_hh.shape[0] // 3
    s2 = 2 * hs
    dt = x.dtype
    half = _scale(xp, s2, 3 * hs, dt, 0.5)
    gbuf, g = _blocks(xp, 3 * hs, steps, dt)
    rest = _in_proj(xp, x, w_ih * half, b_ih[:, None] * half if b_ih is not None else None,
                    steps, g)
    whh_s = w_hh * half
    bhh_s = b_hh[:, None] * half if b_hh is not None else None
    sbuf, s = _blocks(xp, s2, steps, dt)
    nbuf, hns = _blocks(xp, hs, steps, dt)
    hbuf, h = _blocks(xp, hs, steps, dt)
    out = xp.empty(x.shape[:-1] + (hs,), dt)
    h0c = h0.T
    for j, (idx, bs) in enumerate(steps):
        if rest is not None and j == rest[0]:
            rest[1]()
        a = g[j]
        hp = _prev_block(xp, h, h0c, j, bs)
        gh = whh_s @ hp
        if bhh_s is not None:
            gh += bhh_s
        rz = a[:s2]
        rz += gh[:s2]
        xp.tanh(rz, out=rz)
        st = s[j]
        xp.multiply(rz, 0.5, out=st)
        st += 0.5
        hn = hns[j]
        hn[...] = gh[s2:]
        n = a[s2:]
        n += st[:hs] * hn
        xp.tanh(n, out=n)
        o = h[j]                           # h' = n + z * (h - n)
        xp.subtract(hp, n, out=o)
        o *= st[hs:]
        o += n
        out[idx] = o.T
    return out, _final_blocks(h, h0), None, dict(t=g, s=s, hn=hns, h=h,
                                                 bufs=(gbuf, sbuf, nbuf, hbuf))


def _rnn_fwd(xp, x, h0, w_ih, w_hh, b, steps, relu):
    dt = x.dtype
    gbuf, g = _blocks(xp, w_hh.shape[0], steps, dt)   # the activations are the states
    w, kbuf, ks, rest = _inputs(xp, x, w_hh, w_ih, b, steps, g)
    out = xp.empty(x.shape[:-1] + (w_hh.shape[0],), dt)
    h0c = h0.T
    for j, (idx, bs) in enumerate(steps):
        a = g[j]
        _step_gates(xp, a, j, _prev_block(xp, g, h0c, j, bs), w, ks, rest)
        if relu:
            xp.maximum(a, 0, out=a)
        else:
            xp.tanh(a, out=a)
        out[idx] = a.T
    _give(kbuf)
    return out, _final_blocks(g, h0), None, dict(t=g, bufs=(gbuf,))


# ---------------------------------------------------------------------------
# Backward kernels: the pre-activation gradients of all steps go into one
# array ``z`` (sigmoid columns short of their constant factor 1/4, which is
# folded into the weights and the final GEMMs), so the input and weight
# gradients are single GEMMs after the loop.
# ---------------------------------------------------------------------------

def _lstm_bwd(xp, sv, dout, dh, dc, c0, w_hr, steps, z_all, need_h0=True, over=None):
    """Backward through time, feature-major: ``dh`` (P, B) and ``dc`` (H, B) are
    updated in place; each step's pre-activation gradients go to its columns of
    ``z_all`` (4H, *lead). Returns the projected states' gradients (P, *lead) when
    ``w_hr`` is given, else None."""
    t, s, c, tcs = sv["t"], sv["s"], sv["c"], sv["tc"]
    hs = c[0].shape[0]
    s3 = 3 * hs
    dt = t[0].dtype
    dhp = _take(xp, (dh.shape[0],) + z_all.shape[1:], dt) if w_hr is not None else None
    # a transposed view: as fast as a copy on two threads, and the copy costs 0.3 ms
    whh_q = (sv["whh_p"] * _scale(xp, s3, 4 * hs, dt, 0.25)).T
    zbuf = _take(xp, (4 * hs * dh.shape[1],), dt)
    c0c = c0.T
    last = len(steps) - 1
    for k, j in enumerate(range(last, -1, -1)):
        idx, bs = steps[j]
        d = dh[:, :bs]
        if dout is not None:
            d += dout[idx].T
        if w_hr is not None:
            _cols(dhp, idx)[...] = d
            d = w_hr.T @ d
        a, st, tc = t[j], s[j], tcs[j]
        z = zbuf[:4 * hs * bs].reshape(4 * hs, bs)
        xp.multiply(d, tc, out=z[2 * hs:s3])                     # d o
        dct = tc * tc
        xp.subtract(1, dct, out=dct)
        dct *= st[2 * hs:]
        dct *= d
        dct += dc[:, :bs]                                        # d c
        xp.multiply(dct, a[s3:], out=z[:hs])                     # d i = dc * g
        xp.multiply(dct, _prev_block(xp, c, c0c, j, bs), out=z[hs:2 * hs])
        xp.multiply(dct, st[:hs], out=z[s3:])                    # d g = dc * i
        xp.multiply(dct, st[hs:2 * hs], out=dc[:, :bs])          # d c_prev = dc * f
        der = a * a
        xp.subtract(1, der, out=der)
        z *= der
        _cols(z_all, idx)[...] = z
        if k < last or need_h0:                # the last product only feeds h0's gradient
            xp.matmul(whh_q, z, out=dh[:, :bs])
        if over is not None:
            over.flush(idx, bs, k == last)
    _give(zbuf)
    return dhp


def _gru_bwd(xp, sv, h0, dout, dh, w_hh, steps, zx_all, zh_all):
    """Backward through time (feature-major, like ``_lstm_bwd``): the input-side
    and hidden-side pre-activation gradients go to the step's columns of
    ``zx_all`` and ``zh_all`` (3H, *lead); ``dh`` (H, B) is updated in place."""
    t, s, hns, h = sv["t"], sv["s"], sv["hn"], sv["h"]
    hs = hns[0].shape[0]
    s2 = 2 * hs
    dt = t[0].dtype
    whh_q = (w_hh * _scale(xp, s2, 3 * hs, dt, 0.25)).T
    zbuf = _take(xp, (6 * hs * dh.shape[1],), dt)
    h0c = h0.T
    for j in range(len(steps) - 1, -1, -1):
        idx, bs = steps[j]
        d = dh[:, :bs]
        if dout is not None:
            d += dout[idx].T
        a, st, hn = t[j], s[j], hns[j]
        r, zg, n = st[:hs], st[hs:], a[s2:]
        zx = zbuf[:3 * hs * bs].reshape(3 * hs, bs)
        zh = zbuf[3 * hs * bs:6 * hs * bs].reshape(3 * hs, bs)
        dn = zx[s2:]
        xp.multiply(d, 1 - zg, out=dn)
        dn *= 1 - n * n                                          # d n pre-activation
        xp.multiply(dn, hn, out=zx[:hs])                         # d r
        xp.subtract(_prev_block(xp, h, h0c, j, bs), n, out=zx[hs:s2])
        zx[hs:s2] *= d                                           # d z
        der = a[:s2] * a[:s2]
        xp.subtract(1, der, out=der)
        zx[:s2] *= der
        zh[:s2] = zx[:s2]
        xp.multiply(dn, r, out=zh[s2:])
        _cols(zx_all, idx)[...] = zx
        _cols(zh_all, idx)[...] = zh
        dprev = d * zg
        dprev += whh_q @ zh
        dh[:, :bs] = dprev
    _give(zbuf)


def _rnn_bwd(xp, sv, dout, dh, w_hh, steps, relu, z_all):
    """Backward through time of a plain RNN (feature-major): the pre-activation
    gradients go to the step's columns of ``z_all`` (H, *lead)."""
    g = sv["t"]
    zbuf = _take(xp, (w_hh.shape[0] * dh.shape[1],), g[0].dtype)
    for j in range(len(steps) - 1, -1, -1):
        idx, bs = steps[j]
        d = dh[:, :bs]
        if dout is not None:
            d += dout[idx].T
        a = g[j]
        z = zbuf[:a.size].reshape(a.shape)
        if relu:
            xp.multiply(d, a > 0, out=z)
        else:
            der = a * a
            xp.subtract(1, der, out=der)
            xp.multiply(d, der, out=z)
        _cols(z_all, idx)[...] = z
        xp.matmul(w_hh.T, z, out=dh[:, :bs])
    _give(zbuf)


class _Overlap:
    """The input, input-weight, hidden-weight and bias gradients of an LSTM
    layer, accumulated on the helper thread chunk by chunk of finished steps."""

    def __init__(self, pool, z, x2, hp, wih, need, chunk):
        self.pool, self.x2, self.hp, self.wih = pool, x2, hp, wih
        z2 = self.z2 = z.reshape(z.shape[0], -1).T    # z is feature-major: (N, 4H) view
        self.need, self.chunk = need, chunk
        self.lo = self.hi = None
        self.n = 0
        self.futs = []
        self.gx = np.empty((z2.shape[0], wih.shape[1]), z2.dtype) if need[0] else None
        self.gw = [None, None, None]     # input weight, hidden weight, bias

    def flush(self, idx, bs, last):
        lo, hi = _row_range(idx, bs)
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)
        self.n += 1
        if last:            # the main thread does the last chunk while the helper finishes
            self.tail = [None, None, None]
            self._job(self.lo, self.hi, self.tail)
        elif self.n >= self.chunk:
            self.futs.append(self.pool.submit(self._job, self.lo, self.hi, self.gw))
            self.lo = self.hi = None
            self.n = 0

    def _job(self, lo, hi, acc):
        zr, need = self.z2[lo:hi], self.need
        if need[0]:
            np.matmul(zr, self.wih, out=self.gx[lo:hi])
        parts = ((0, need[3], self.x2), (1, need[4], self.hp), (2, need[5] or need[6], None))
        for k, go, b in parts:
            if go:
                a = ones_sum(zr.T) if b is None else zr.T @ b[lo:hi]
                if acc[k] is None:
                    acc[k] = a
                else:
                    acc[k] += a

    def result(self):
        for f in self.futs:
            f.result()
        for k, a in enumerate(self.tail):       # summed in a fixed order: deterministic
            if a is not None:
                if self.gw[k] is None:
                    self.gw[k] = a
                else:
                    self.gw[k] += a
        _give(self.hp.base if self.hp is not None else None)
        return (self.gx,) + tuple(self.gw)


def _lstm_overlap(xp, z, x, out, h0, steps, need, wih):
    """An ``_Overlap`` for the gradients ``z`` (4H, *lead) when the helper thread
    applies (NumPy data whose steps are contiguous row blocks), else None."""
    if xp is not np or _row_range(*steps[0]) is None:
        return None
    pool = _helper()
    if pool is None:
        return None
    hp = _stack_prev(xp, out, h0, steps) if need[4] else None
    hp2 = hp.reshape(-1, hp.shape[-1]) if hp is not None else None
    chunk = max(1, 128 // max(1, steps[0][1]))
    return _Overlap(pool, z, x.reshape(-1, x.shape[-1]), hp2, wih, need, chunk)


# ---------------------------------------------------------------------------
# The op
# ---------------------------------------------------------------------------

def _rnn_layer_backward(ctx, gout, ghn, gcn):
    if STATE.enabled:
        return _backward_graph(ctx, gout, ghn, gcn)
    saved = ctx.saved_tensors
    with _layer_threads(saved[4]._data, ctx.steps):
        return _backward_arrays(ctx, saved, gout, ghn, gcn)


def _backward_arrays(ctx, saved, gout, ghn, gcn):
    x_t, h0_t, c0_t, w_ih_t, w_hh_t, w_hr_t, _ = saved
    need = ctx.needs_input_grad
    mode, steps, sv, dt, out = ctx.mode, ctx.steps, ctx.s, ctx.cdt, ctx.out
    x = _arr(x_t, dt)
    xp = xp_of(x)
    h0 = _arr(h0_t, dt)
    dout = _arr(gout, dt) if gout is not None else None
    # the kernels run feature-major: dh is (H, B)
    dh = xp.ascontiguousarray(_arr(ghn, dt).T) if ghn is not None else \
        xp.zeros(h0.shape[::-1], dt)
    w_hh = _arr(w_hh_t, dt)
    w_hr = _arr(w_hr_t, dt)
    x2 = x.reshape(-1, x.shape[-1])
    lead = x.shape[:-1]
    dhp = hp = done = None
    gc0 = gwhr = None
    if mode == "LSTM":
        c0 = _arr(c0_t, dt)
        hs = c0.shape[-1]
        dc = xp.ascontiguousarray(_arr(gcn, dt).T) if gcn is not None else \
            xp.zeros(c0.shape[::-1], dt)
        q = _scale(xp, 3 * hs, 4 * hs, dt, 0.25)
        inv = np.argsort(sv["perm"])
        wih = sv["wih_p"]
        z = _take(xp, (4 * hs,) + lead, dt)
        over = _lstm_overlap(xp, z, x, out, h0, steps, need, wih * q)
        dhp = _lstm_bwd(xp, sv, dout, dh, dc, c0, w_hr, steps, z, need[1], over)
        if over is not None:   # (before any threaded product below)
            done = over.result()
        gc0 = xp.ascontiguousarray(dc.T)
        zx = zh = z.reshape(4 * hs, -1).T                # (N, 4H) views
        if w_hr is not None and need[7]:
            gwhr = _big(dhp.reshape(dhp.shape[0], -1), sv["hf"].reshape(hs, -1).T)
    elif mode == "GRU":
        g3 = w_hh.shape[0]
        zx, zh = _take(xp, (g3,) + lead, dt), _take(xp, (g3,) + lead, dt)
        _gru_bwd(xp, sv, h0, dout, dh, w_hh, steps, zx, zh)
        q = _scale(xp, 2 * w_hh.shape[-1], g3, dt, 0.25)
        zx, zh = zx.reshape(g3, -1).T, zh.reshape(g3, -1).T
        inv, wih = None, _arr(w_ih_t, dt)
    else:
        z = _take(xp, (w_hh.shape[0],) + lead, dt)
        _rnn_bwd(xp, sv, dout, dh, w_hh, steps, mode == "RNN_RELU", z)
        zx = zh = z.reshape(w_hh.shape[0], -1).T
        q, inv, wih = None, None, _arr(w_ih_t, dt)
    dh = xp.ascontiguousarray(dh.T)
    if done is not None:      # the helper thread's products (LSTM: zh is zx)
        gx, gwih, gwhh, sx = done
        gx = gx.reshape(x.shape) if gx is not None else None
        sh = sx
    else:
        gx = _big(zx, wih * q if q is not None else wih).reshape(x.shape) if need[0] else None
        gwih = _big(zx.T, x2) if need[3] else None
        gwhh = None
        if need[4]:
            hp = _stack_prev(xp, out, h0, steps)
            gwhh = _big(zh.T, hp.reshape(-1, hp.shape[-1]))
        # (the bias gradients: column sums as matrix-vector products)
        sx = ones_sum(zx.T) if need[5] or (need[6] and zh is zx) else None
        sh = sx if zh is zx else ones_sum(zh.T) if need[6] else None

    def fix(g):  # apply the folded gate scale and undo the gate permutation
        if g is None:
            return None
        if q is not None:
            g = g * (q if g.ndim == 2 else q[:, 0])
        return g[inv] if inv is not None else g
    gbih = fix(sx) if need[5] else None
    gbhh = (gbih.copy() if need[5] and sh is sx else fix(sh)) if need[6] else None
    grads = (gx, dh, gc0, fix(gwih), fix(gwhh), gbih, gbhh, gwhr)
    _give(zx.base, zh.base if zh is not zx else None, hp, dhp)
    return _cast_grads(ctx, grads)


def _cast_grads(ctx, grads):
    dts, need = ctx.dtypes, ctx.needs_input_grad
    return tuple(None if g is None or not need[i] else
                 wrap(g.astype(dts[i].np, copy=False), dts[i]) for i, g in enumerate(grads))


RnnLayerBackward = node("RnnLayerBackward0", _rnn_layer_backward)
RnnLayerBackward.materialize_grads = False


def rnn_layer(mode, input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None,
              batch_sizes=None, batch_first=False, reverse=False):
    """One layer, one direction of ``mode`` (``'LSTM'``, ``'GRU'``,
    ``'RNN_TANH'``, ``'RNN_RELU'``) over a whole sequence. ``hx``/``cx`` are
    ``(B, H)``; returns ``(output, h_n, c_n)`` (``c_n`` None unless LSTM)."""
    dt = input._dtype
    cdt = np.dtype(np.float32) if dt in _LOW else np.dtype(dt.np)
    x = _arr(input, cdt)
    xp = xp_of(x)
    h0, c0 = _arr(hx, cdt), _arr(cx, cdt)
    wih, whh, whr = _arr(w_ih, cdt), _arr(w_hh, cdt), _arr(w_hr, cdt)
    bih, bhh = _arr(b_ih, cdt), _arr(b_hh, cdt)
    steps = _steps(x.shape, batch_sizes, batch_first, reverse)
    with _layer_threads(whh, steps):
        if mode == "LSTM":
            b = bih + bhh if bih is not None else None
            out, hn, cn, s = _lstm_fwd(xp, x, h0, c0, wih, whh, b, whr, steps)
        elif mode == "GRU":
            out, hn, cn, s = _gru_fwd(xp, x, h0, wih, whh, bih, bhh, steps)
        else:
            b = bih + bhh if bih is not None else None
            out, hn, cn, s = _rnn_fwd(xp, x, h0, wih, whh, b, steps, mode == "RNN_RELU")
    res = (wrap(out.astype(dt.np, copy=False), dt), wrap(hn.astype(dt.np, copy=False), dt),
           wrap(cn.astype(dt.np, copy=False), dt) if cn is not None else None)
    tensors = (input, hx, cx, w_ih, w_hh, b_ih, b_hh, w_hr)
    n = None
    if STATE.enabled:
        # the output is saved too: backward reads the states from it
        n = record(RnnLayerBackward, tensors, res, saved=(input, hx, cx, w_ih, w_hh, w_hr),
                   saved_out=True, mode=mode, steps=steps, s=s, out=out, cdt=cdt,
                   dtypes=tuple(t._dtype if isinstance(t, Tensor) else None for t in tensors),
                   biases=(b_ih, b_hh))
    work = s["bufs"]
    if n is None:
        _give(*work)
    else:
        weakref.finalize(n, _give, *work)
    return res


# ---------------------------------------------------------------------------
# Double backward: the same layer as fine-grained ember ops
# ---------------------------------------------------------------------------

def _layer_graph(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, steps):
    """``rnn_layer`` composed of ember ops (differentiable to any order)."""
    cat, stack = FUNCTIONS["cat"], FUNCTIONS["stack"]
    h, c = h0, c0
    outs = []
    for idx, bs in steps:
        xt = x[idx]
        hb = h[:bs]
        gi = linear(xt, w_ih, b_ih)
        gh = linear(hb, w_hh, b_hh)
        if mode == "LSTM":
            i, f, g, o = (gi + gh).chunk(4, 1)
            cn = f.sigmoid() * c[:bs] + i.sigmoid() * g.tanh()
            hn = o.sigmoid() * cn.tanh()
            if w_hr is not None:
                hn = linear(hn, w_hr)
            c = cat([cn, c[bs:]]) if bs < c.shape[0] else cn
        elif mode == "GRU":
            ir, iz, inn = gi.chunk(3, 1)
            hr, hz, hnn = gh.chunk(3, 1)
            r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
            n = (inn + r * hnn).tanh()
            hn = n + z * (hb - n)
        else:
            pre = gi + gh
            hn = pre.relu() if mode == "RNN_RELU" else pre.tanh()
        h = cat([hn, h[bs:]]) if bs < h.shape[0] else hn
        outs.append((_key(idx), hn))
    ys = [y for _, y in sorted(outs, key=lambda kv: kv[0])]
    first = steps[0][0]
    if isinstance(first[0], slice) and len(first) == 1:   # packed rows
        out = cat(ys)
    else:
        out = stack(ys, 1 if len(first) == 2 else 0)
    return out, h, c


def _key(idx):
    k = idx[-1] if len(idx) == 2 else idx[0]
    return k.start if isinstance(k, slice) else k


def _backward_graph(ctx, gout, ghn, gcn):
    from ..autograd import grad as _grad
    x, h0, c0, w_ih, w_hh, w_hr, _ = ctx.saved_tensors
    b_ih, b_hh = ctx.biases
    out, hn, cn = _layer_graph(ctx.mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, ctx.steps)
    ins = (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
    need = [i for i, t in enumerate(ins) if ctx.needs_input_grad[i]]
    outs, gos = [], []
    for o, g in ((out, gout), (hn, ghn), (cn, gcn)):
        if o is not None and g is not None:
            outs.append(o)
            gos.append(g)
    gs = _grad(outs, [ins[i] for i in need], gos, create_graph=True, allow_unused=True)
    res = [None] * 8
    for i, g in zip(need, gs):
        res[i] = g
    return tuple(res)


# ---------------------------------------------------------------------------
# Multi-layer driver and PyTorch's functional doors
# ---------------------------------------------------------------------------

def rnn(mode, input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
        batch_first, batch_sizes=None):
    """Stacked (and bidirectional) layers as ``torch._VF.lstm`` & co. ``hx`` is
    ``(h0, c0)`` for LSTM, else ``h0``, each ``(layers * dirs, B, H)``;
    ``params`` PyTorch's flat list (``w_ih, w_hh[, b_ih, b_hh][, w_hr]`` per
    layer and direction). Returns ``(output, h_n[, c_n])``."""
    lstm = mode == "LSTM"
    h0, c0 = (hx[0], hx[1]) if lstm else (hx, None)
    dirs = 2 if bidirectional else 1
    per = len(params) // (num_layers * dirs)
    proj = per in (3, 5)
    if proj and not lstm:
        raise RuntimeError("proj_size is only supported for LSTM")
    if batch_sizes is not None and isinstance(batch_sizes, Tensor):
        batch_sizes = batch_sizes._data.tolist()
    x = input
    hns, cns = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            p = params[k * per:(k + 1) * per]
            w_ih, w_hh = p[0], p[1]
            b_ih, b_hh = (p[2], p[3]) if has_biases else (None, None)
            w_hr = p[-1] if proj else None
            o, hn, cn = rnn_layer(mode, x, h0[k], c0[k] if lstm else None, w_ih, w_hh, b_ih,
                                  b_hh, w_hr, batch_sizes, batch_first, reverse=d == 1)
            outs.append(o)
            hns.append(hn)
            cns.append(cn)
        x = outs[0] if dirs == 1 else FUNCTIONS["cat"](outs, -1)
        if dropout and train and layer < num_layers - 1:
            from ..nn.functional.dropout import dropout as _dropout
            x = _dropout(x, dropout, True)
    stack = FUNCTIONS["stack"]
    hn = stack(hns)
    if lstm:
        return x, hn, stack(cns)
    return x, hn


def _door(mode):
    def fn(input, *args):
        # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
        #  batch_first) or the packed form (data, batch_sizes, hx, params, has_biases,
        #  num_layers, dropout, train, bidirectional)
        if isinstance(args[0], Tensor) and args[0]._dtype in (D.int64, D.int32):
            batch_sizes, hx, params, has_b, nl, dp, train, bidir = args
            return rnn(mode, input, hx, params, has_b, nl, dp, train, bidir, False, batch_sizes)
        hx, params, has_b, nl, dp, train, bidir, bf = args
        return rnn(mode, input, hx, params, has_b, nl, dp, train, bidir, bf)
    fn.__name__ = fn.__qualname__ = mode.lower()
    return fn


for _m in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
    FUNCTIONS[_m.lower()] = _door(_m)


def _cell(mode, input, hx, cx, w_ih, w_hh, b_ih, b_hh):
    x = input.unsqueeze(0)
    _, hn, cn = rnn_layer(mode, x, hx, cx, w_ih, w_hh, b_ih, b_hh)
    return (hn, cn) if mode == "LSTM" else hn


@export(method=False)
def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _cell("LSTM", input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)


@export(method=False)
def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _cell("GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)


@export(method=False)
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _cell("RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)


@export(method=False)
def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _cell("RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)
