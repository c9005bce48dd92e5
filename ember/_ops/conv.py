"""Convolution: conv1d/2d/3d, conv_transpose1d/2d/3d and ``convolution``.

A convolution is a bilinear map ``y = B(x, w)``. Its two adjoints are the only
other kernels needed: ``Bx^T(g; w)`` (the gradient w.r.t. the input, which is
also the transposed convolution) and ``Bw^T(x, g)`` (the gradient w.r.t. the
weight). Each of the three is an op whose backward is written with the other
two, so double (and higher) backward works without extra code.

Working layout (measured on this 2-core AVX-512 machine with OpenBLAS; the
alternatives are in the note of the change): im2col columns are built in
``(C·k…, N·out…)`` order straight from the NCHW input, a few samples at a time
into one reused buffer that stays in cache, each chunk followed by its GEMMs,
one per sample written straight into the NCHW output. The weight gradient
rebuilds the columns the same way instead of keeping them from forward (9x
less memory, and faster than one big im2col whose 40+ MB buffer runs at memory
speed). The input gradient of a stride-1 convolution (and the transposed
convolution) is a plain convolution of the padded gradient with the flipped
kernel; other strides use one GEMM plus col2im. Grouped convolutions build all
columns at once and batch one GEMM per group. This beat NHWC im2col (its
transpose back to NCHW costs more than it saves), ``einsum``/``tensordot`` over
the window view, and shifted GEMMs without im2col (NumPy has no accumulating
GEMM).

Stride-1 3x3 convolutions with at least 16 input and output channels in
float32/float64 use Winograd F(4x4, 3x3) instead: the forward, and its adjoints
for the input gradient (also the stride-1 transposed convolution) and the weight
gradient; a backward that needs both computes the transformed output-gradient
tiles once for the two. 4x fewer multiplies, 2-2.5x faster here. Its float32
error is a few times that of im2col (~1e-5 of the output's scale);
``_WINO_MIN_CH`` set very high turns it off.

Threads (NumPy arrays only; CuPy keeps one call per kernel): NumPy's GEMMs and
copies release the GIL, so the Winograd paths and big im2col convolutions split
their samples over the intra-op pool (``_parallel.split``) with BLAS itself on
one thread. Each thread works through its own cache-sized chunks and buffers;
per-range weight-gradient sums are added in range order, so results don't
depend on timing. With the other core busy a split costs little: pool threads
block rather than spin (as OpenBLAS's do), and the sample ranges are taken in
turn, so the caller does the share of a thread that gets no core.
"""
import math

import numpy as np

from .. import _dtype as D
from .._backend import xp_of
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ..autograd.graph import Node
from ._core import autocast_op, export, node, record, wrap
from ._parallel import num_threads, split
from .blas import ones_sum

_LOW = (D.float16, D.bfloat16)


# ---------------------------------------------------------------------------
# Array kernels (``lo``: padding before each spatial dim; windows start at
# ``o*stride - lo`` and taps are ``dilation`` apart)
# ---------------------------------------------------------------------------

def _as_strided(xp, a, shape, strides):
    if xp is np:
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(a, shape, strides)


def _pad_to(xp, a, lo, size, value=0):
    """``a`` (N, C, *S) placed at offset ``lo`` in an array of spatial ``size``
    filled with ``value`` (cropped where ``size`` is smaller)."""
    S = a.shape[2:]
    if all(p == 0 for p in lo) and tuple(size) == tuple(S):
        return a
    out = xp.full(a.shape[:2] + tuple(size), value, a.dtype) if value != 0 else \
        xp.zeros(a.shape[:2] + tuple(size), a.dtype)
    dst = (slice(None),) * 2 + tuple(slice(p, min(p + s, n)) for p, s, n in zip(lo, S, size))
    src = (slice(None),) * 2 + tuple(slice(0, min(s, n - p)) for p, s, n in zip(lo, S, size))
    out[dst] = a[src]
    return out


def _span(o, k, s, d):
    """Padded extent that ``o`` windows need."""
    return (o - 1) * s + d * (k - 1) + 1


def _windows(x, k, s, lo, d, osz):
    """Read-only strided view (C, *k, N, *osz) of the zero-padded ``x`` (N, C, *S):
    element [c, taps, n, out] is the input under tap ``taps`` of window ``out``."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    size = tuple(max(_span(o, kk, ss, dd), p + n) for o, kk, ss, dd, p, n in
                 zip(osz, k, s, d, lo, x.shape[2:]))
    xpad = _pad_to(xp, x, lo, size)
    st = xpad.strides
    nd = len(k)
    shape = (C,) + tuple(k) + (N,) + tuple(osz)
    strides = (st[1],) + tuple(st[2 + i] * d[i] for i in range(nd)) + (st[0],) + \
        tuple(st[2 + i] * s[i] for i in range(nd))
    return _as_strided(xp, xpad, shape, strides)


def unfold_cols(x, k, s, lo, d, osz, groups):
    """im2col: (G, Cg·prod(k), N·prod(osz)) columns of ``x`` (N, C, *S)."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    v = _windows(x, k, s, lo, d, osz)
    cols = xp.empty(v.shape, x.dtype)

    def copy(a, b):
        cols[a:b] = v[a:b]
    split(copy, C, cols.size, xp)
    return cols.reshape(groups, (C // groups) * math.prod(k), N * math.prod(osz))


_CHUNK = 1 << 20   # elements of im2col columns built at a time (4 MB in float32)


def _chunks(x, k, s, lo, d, osz, threads=True):
    """Yields ``(n0, m, cols)``: the im2col columns (C·prod(k), m, P) of samples
    ``n0 .. n0+m``, built a few samples at a time into one reused buffer that
    stays in cache for the GEMMs that follow (each copy split over the threads
    unless ``threads`` is False)."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    nd = len(k)
    P = math.prod(osz)
    ck = C * math.prod(k)
    v = _windows(x, k, s, lo, d, osz)
    nb = max(1, min(N, _CHUNK // max(1, ck * P)))
    buf = xp.empty(ck * nb * P, x.dtype)
    batch = (slice(None),) * (1 + nd)
    for n0 in range(0, N, nb):
        m = min(nb, N - n0)
        chunk = buf[:ck * m * P].reshape(v.shape[:1 + nd] + (m,) + tuple(osz))
        src = v[batch + (slice(n0, n0 + m),)]

        def copy(a, b):
            chunk[a:b] = src[a:b]
        if threads:
            split(copy, C, chunk.size, xp)
        else:
            copy(0, C)
        yield n0, m, chunk.reshape(ck, m, P)


def _by_samples(x, work):
    """Whether to split a streamed convolution over samples (one chunk loop per
    thread, GEMMs included) rather than only its im2col copies."""
    return x.shape[0] >= 2 * num_threads() and work >= _MIN_SPLIT


_BIG_PLANE = 256   # output pixels per sample from which one GEMM per sample pays
_MIN_SPLIT = 1 << 22   # multiply-adds from which a convolution is split over samples
_PIECES = 4   # ranges of samples per thread, taken in turn (``_parallel.split``)


def _conv_streamed(x, w, s, lo, d, osz, bias=None):
    """B(x, w) (+bias) for groups=1, GEMMs chunk by chunk, written straight into NCHW."""
    if _winograd_ok(x, w, w.shape[0], w.shape[2:], s, d):
        return _conv_winograd(x, w, lo, osz, bias)
    xp = xp_of(x)
    N, O, P = x.shape[0], w.shape[0], math.prod(osz)
    if xp is not np:  # GPU: one im2col and one GEMM for the whole batch (few, big kernels)
        cols = unfold_cols(x, w.shape[2:], s, lo, d, osz, 1)
        return _from_cn((w.reshape(1, O, -1) @ cols).reshape(O, -1), N, osz, bias)
    out = xp.empty((N, O, P), x.dtype)
    wm = w.reshape(O, -1)
    b = None if bias is None else bias.reshape(O, 1)

    def run(a, e, threads=False):   # samples a .. e-1
        for n0, m, c in _chunks(x[a:e], w.shape[2:], s, lo, d, osz, threads):
            dst = out[a + n0:a + n0 + m]
            if P >= _BIG_PLANE:
                xp.matmul(wm, c.swapaxes(0, 1), out=dst)
            else:
                dst[...] = (wm @ c.reshape(-1, m * P)).reshape(O, m, P).swapaxes(0, 1)
            if b is not None:
                dst += b
    if _by_samples(x, out.size * w[0].size):
        split(run, N, out.size, np, _PIECES)
    else:
        run(0, N, True)
    return out.reshape((N, O) + tuple(osz))


# Winograd F(4x4, 3x3) for stride-1 3x3 kernels: each 6x6 input tile (stride 4)
# is transformed (Bt d B), multiplied point-wise with the transformed kernel
# (G w Gt) -- one (O, C) @ (C, tiles) GEMM per each of the 36 points -- and
# transformed back (At m A) to a 4x4 output tile: 2.25x fewer multiplies than
# im2col, and the transforms are GEMMs too (Kronecker products of the 1-d
# matrices). Interpolation points 0, 1, -1, 2, -1/2 (and infinity): about 2.5x
# smaller float32 error than the usual 0, +-1, +-2. Measured on this machine
# for 32x64x32x32 -> 64 channels, one thread: 14 ms vs 39 ms for im2col.
_WINO = {}
_WINO_MIN_CH = 16   # channels (in and out) from which the GEMMs stay efficient
_WINO_CHUNK = 1 << 18   # elements of transformed tiles per chunk (1 MB in float32)
_WINO_THREADS = True


def _wino_mats(pts=(0.0, 1.0, -1.0, 2.0, -0.5), m=4, r=3):
    """1-d Winograd matrices Bt (a, a), G (a, r), At (m, a) for F(m, r)."""
    a = len(pts) + 1
    at = np.zeros((m, a))
    g = np.zeros((a, r))
    for j, p in enumerate(pts):
        at[:, j] = [p ** i for i in range(m)]
        f = math.prod(p - q for q in pts if q != p)
        g[j] = [p ** i / f for i in range(r)]
    at[m - 1, a - 1] = 1
    g[a - 1, r - 1] = 1
    # Bt from the identity  sum_j At[i, j] G[j, k] Bt[j, l] = [l == i + k]
    rows = np.array([at[i] * g[:, k] for i in range(m) for k in range(r)])
    rhs = np.array([[1.0 if col == i + k else 0.0 for col in range(a)]
                    for i in range(m) for k in range(r)])
    bt = np.linalg.lstsq(rows, rhs, rcond=None)[0]
    bt[np.abs(bt) < 1e-12] = 0
    return bt, g, at


def _wino(dt):
    """(Bt, G, At) in dtype ``dt`` (G in float64, for the kernel transform)."""
    r = _WINO.get(dt)
    if r is None:
        if "1d" not in _WINO:
            _WINO["1d"] = _wino_mats()
        bt, g, at = _WINO["1d"]
        r = _WINO[dt] = (bt.astype(dt), g, at.astype(dt))
    return r


def _winograd_ok(x, y, O, k, s, d):
    """Whether Winograd applies: 3x3 kernel, stride and dilation 1, float32/64 NumPy
    input ``x`` (N, C, ...) and weight or output gradient ``y`` of the same dtype,
    ``O`` output channels."""
    return (x.dtype in (np.float32, np.float64) and y.dtype == x.dtype and
            tuple(k) == (3, 3) and tuple(s) == (1, 1) and tuple(d) == (1, 1) and
            min(x.shape[1], O) >= _WINO_MIN_CH and xp_of(x) is np)


class _WinoInput:
    """Transformed input tiles Bt d B, (36, m·T, C) (tiles, then channels innermost),
    of ``x`` a chunk of samples at a time: each chunk is zero-padded into a small
    reused buffer (no padded copy of the whole input), its 6x6 tiles (stride 4)
    gathered and transformed by two small GEMMs (the 1-d transform along each axis;
    cheaper than one 36x36 GEMM). Channels innermost: the gather copies runs of
    channels and is ~1.7x faster here than with the tiles innermost."""

    def __init__(self, x, lo, TH, TW, nb):
        N, C, H, W = x.shape
        self.x, self.lo, self.TH, self.TW, self.C = x, lo, TH, TW, C
        dt = x.dtype
        self.bt = _wino(dt)[0]
        size = tuple(max(4 * t + 2, p + n) for t, p, n in zip((TH, TW), lo, (H, W)))
        self.pad = tuple(lo) != (0, 0) or size != (H, W)
        self.xb = None
        if self.pad:
            self.xb = np.zeros((nb, C) + size, dt)
        k = 36 * C * nb * TH * TW
        self.bd = np.empty(k, dt)
        self.bt1 = np.empty(k, dt)
        self.bv = np.empty(k, dt)

    def __call__(self, n0, m):
        x, C, TH, TW = self.x, self.C, self.TH, self.TW
        if self.pad:
            xc = self.xb[:m]
            (a, b), (H, W) = self.lo, x.shape[2:]
            xc[:, :, a:a + H, b:b + W] = x[n0:n0 + m]
        else:
            xc = x[n0:n0 + m]
        sN, sC, sH, sW = xc.strides
        v = _as_strided(np, xc, (6, 6, m, TH, TW, C), (sH, sW, sN, 4 * sH, 4 * sW, sC))
        k = 36 * C * m * TH * TW
        dd = self.bd[:k].reshape(v.shape)
        dd[...] = v
        t1 = self.bt1[:k].reshape(6, 6, -1)
        np.matmul(self.bt, dd.reshape(6, -1), out=t1.reshape(6, -1))
        vv = self.bv[:k].reshape(6, 6, -1)
        np.matmul(self.bt, t1, out=vv)
        return vv.reshape(36, m * TH * TW, C)


def _wino_kernel(w, dt):
    """Transformed kernel G w Gt of ``w`` (O, C, 3, 3) as (36, O, C) in ``dt``."""
    g = _wino(dt)[1]
    # two GEMMs (tensordot) rather than O·C tiny batched products: ~10x faster
    t = np.tensordot(g, w.astype(np.float64), axes=([1], [2]))     # (6, O, C, 3)
    u = np.tensordot(t, g, axes=([3], [1])).transpose(0, 3, 1, 2)   # (6, 6, O, C)
    return np.ascontiguousarray(u.reshape(36, w.shape[0], w.shape[1]), dtype=dt)


def _conv_winograd(x, w, lo, osz, bias=None):
    """B(x, w) (+ ``bias``) for a 3x3 stride-1 kernel (groups=1) by Winograd
    F(4x4, 3x3), a few samples at a time through reused buffers, split over the
    intra-op threads (NumPy's GEMMs and copies release the GIL). Each chunk is
    written (cropped to ``osz``, bias added) straight into the output while hot."""
    N, C = x.shape[:2]
    O = w.shape[0]
    OH, OW = osz
    TH, TW = -(-OH // 4), -(-OW // 4)
    T = TH * TW
    dt = x.dtype
    at = _wino(dt)[2]
    att = np.ascontiguousarray(at.T)
    unit = np.dtype((np.void, 4 * np.dtype(dt).itemsize))   # a 4-pixel run of a tile row
    ut = np.ascontiguousarray(_wino_kernel(w, dt).swapaxes(1, 2))     # (36, C, O)
    out = np.empty((N, O, OH, OW), dt)
    crop = (4 * TH, 4 * TW) != (OH, OW)
    b = None if bias is None else bias.reshape(O, 1, 1).astype(dt, copy=False)
    nb = max(1, min(N, _WINO_CHUNK // (36 * max(C, O) * T)))

    def work(c0, c1):   # chunks c0 .. c1-1, with this thread's buffers
        tiles = _WinoInput(x, lo, TH, TW, nb)
        bm = np.empty(36 * O * nb * T, dt)
        bt2 = np.empty(24 * O * nb * T, dt)
        by = np.empty(16 * O * nb * T, dt)
        bfull = np.empty(16 * O * nb * T, dt).reshape(
            nb, O, 4 * TH, 4 * TW) if crop else None
        for n0 in range(c0 * nb, min(N, c1 * nb), nb):
            m = min(nb, N - n0)
            vv = tiles(n0, m)
            mm = bm[:36 * O * m * T].reshape(36, m * T, O)
            np.matmul(vv, ut, out=mm)
            t2 = bt2[:24 * O * m * T].reshape(4, 6, -1)
            np.matmul(at, mm.reshape(6, -1), out=t2.reshape(4, -1))
            y = by[:16 * O * m * T].reshape(4, -1, 4)
            np.matmul(t2.swapaxes(1, 2), att, out=y)   # (4 rows, m·T·O, 4 columns)
            dst = bfull[:m] if crop else out[n0:n0 + m]
            # each tile row's 4 pixels moved as one item: ~3x faster than pixel by pixel
            dst.view(unit).reshape(m, O, TH, 4, TW)[...] = \
                y.view(unit).reshape(4, m, TH, TW, O).transpose(1, 4, 2, 0, 3)
            if crop:
                if b is None:
                    out[n0:n0 + m] = dst[:, :, :OH, :OW]
                else:
                    np.add(dst[:, :, :OH, :OW], b, out=out[n0:n0 + m])
            elif b is not None:
                dst += b
    if _WINO_THREADS:
        split(work, -(-N // nb), out.size, np, _PIECES)
    else:
        work(0, -(-N // nb))
    return out


def _wgrad_winograd(x, g, lo):
    """Bw^T(x, g) for a 3x3 stride-1 kernel: the adjoint of ``_conv_winograd``
    (``_wino_backward``)."""
    return _wino_backward(g, lo, x=x)[1]


def _tconv_winograd(g, w, lo, out_size):
    """Bx^T(g; w) for a 3x3 stride-1 kernel (groups=1), ``w`` (O, C, 3, 3): the
    adjoint of ``_conv_winograd`` with padding ``lo``, into an (N, C, *out_size)
    array (``_wino_backward``)."""
    return _wino_backward(g, lo, out_size, w=w)[0]


def _wino_backward(g, lo, out_size=None, w=None, x=None):
    """The adjoints of the Winograd forward for upstream ``g`` (N, O, OH, OW) and
    padding ``lo``: ``gx`` = Bx^T(g; w) (N, C, *out_size) when ``w`` (O, C, 3, 3) is
    given, ``gw`` = Bw^T(x, g) (O, C, 3, 3) when ``x`` is; both at once share the
    transformed gradient tiles. A chunk of samples at a time, split over the threads:

    - Gy = A gy At per output tile: (36, m·T, O).
    - gw: the gradient of the transformed kernel is one (O, tiles) @ (tiles, C) GEMM
      per point with the transformed input tiles V, summed over chunks (per thread,
      then in chunk order) and mapped back by Gt · G.
    - gx: one (tiles, O) @ (O, C) GEMM per point with the transformed kernel, the
      adjoint input transform B · Bt, and the 6x6 tiles (stride 4, overlapping by 2)
      summed in a channels-last buffer, then cropped and transposed into the output.
      Fewer tiles and no padded copy of ``g`` compared with the flipped-kernel full
      convolution (~1.5x faster here)."""
    N, O, OH, OW = g.shape
    TH, TW = -(-OH // 4), -(-OW // 4)
    T = TH * TW
    dt = g.dtype
    bt, gm, at = _wino(dt)
    gp = _pad_to(np, g, (0, 0), (4 * TH, 4 * TW)).reshape(N, O, TH, 4, TW, 4)
    C = (w if w is not None else x).shape[1]
    nb = max(1, min(N, _WINO_CHUNK // (36 * max(C, O) * T)))
    out = None
    if w is not None:
        btt = np.ascontiguousarray(bt.T)
        u = _wino_kernel(w, dt)                                       # (36, O, C)
        H, W = out_size
        out = np.empty((N, C, H, W), dt)
        PH, PW = 4 * TH + 2, 4 * TW + 2
        a, b = lo
    sums = {}

    def work(c0, c1):   # chunks c0 .. c1-1, with this thread's buffers (and sum)
        bufs = _gy_bufs(dt, at, O, nb, T)
        if x is not None:
            tiles = _WinoInput(x, lo, TH, TW, nb)
            du = np.zeros((36, O, C), dt)
            part = np.empty((36, O, C), dt)
        if w is not None:
            k = 36 * C * nb * T
            bm, b1 = np.empty(k, dt), np.empty(k, dt)
            b2 = np.empty(k, dt)
            acc = np.empty(nb * PH * PW * C, dt).reshape(nb, PH, PW, C)
        for n0 in range(c0 * nb, min(N, c1 * nb), nb):
            m = min(nb, N - n0)
            gy = _gy_tiles(gp, n0, m, bufs)
            if x is not None:
                np.matmul(gy.swapaxes(1, 2), tiles(n0, m), out=part)
                du += part
            if w is not None:
                km = 36 * C * m * T
                mm = bm[:km].reshape(36, m * T, C)
                np.matmul(gy, u, out=mm)
                t1 = b1[:km].reshape(6, 6, -1)
                np.matmul(btt, mm.reshape(6, -1), out=t1.reshape(6, -1))
                z = b2[:km].reshape(6, 6, -1)
                np.matmul(btt, t1, out=z)
                _overlap_add(acc[:m], z.reshape(6, 6, m, TH, TW, C), TH, TW)
                out[n0:n0 + m] = acc[:m, a:a + H, b:b + W].transpose(0, 3, 1, 2)
        if x is not None:
            sums[c0] = du
    if _WINO_THREADS:
        split(work, -(-N // nb), g.size * (2 if x is not None and w is not None else 1), np,
              _PIECES)
    else:
        work(0, -(-N // nb))
    gw = None
    if x is not None:
        du = _in_order(sums)
        t = np.tensordot(gm, du.reshape(6, 6, O, C).astype(np.float64), axes=([0], [0]))
        gw = np.tensordot(t, gm, axes=([1], [0])).transpose(1, 2, 0, 3)   # Gt du G
        gw = np.ascontiguousarray(gw, dtype=dt)
    return out, gw


def _in_order(sums):
    """The sum of the per-range parts ``sums`` (start -> array) in range order, so
    the rounding doesn't depend on which thread finished first."""
    parts = [sums[k] for k in sorted(sums)]
    return sum(parts[1:], parts[0])


def _wino_adjoint_fits(in_size, out_size, lo):
    """Whether an (N, ·, *out_size) result is the adjoint of a Winograd forward
    with padding ``lo`` from an ``in_size`` output: ``lo`` and the implied far
    side ``n + 2 - o - lo`` are >= 0."""
    return all(p >= 0 and n + 2 >= o + p for n, o, p in zip(in_size, out_size, lo))


def _overlap_add(B, z, TH, TW):
    """B (m, 4TH+2, 4TW+2, C) = the 6x6 tiles z (6, 6, m, TH, TW, C) placed at stride
    4 and summed where they overlap: one copy of the 4x4 cores, three adds of the
    overlapping borders (channels innermost, so every pass copies runs of C)."""
    m, _, _, C = B.shape
    sN, sH, sW, sC = B.strides
    zt = z.transpose(2, 3, 0, 4, 1, 5)      # (m, TH, 6, TW, 6, C)
    st = (sN, 4 * sH, sH, 4 * sW, sW, sC)

    def view(a, shape):
        return np.lib.stride_tricks.as_strided(a, shape, st)
    view(B, (m, TH, 4, TW, 4, C))[...] = zt[:, :, :4, :, :4]
    B[:, 4 * TH:] = 0
    B[:, :4 * TH, 4 * TW:] = 0
    v = view(B[:, 4:], (m, TH, 2, TW, 4, C))
    v += zt[:, :, 4:, :, :4]
    v = view(B[:, :, 4:], (m, TH, 4, TW, 2, C))
    v += zt[:, :, :4, :, 4:]
    v = view(B[:, 4:, 4:], (m, TH, 2, TW, 2, C))
    v += zt[:, :, 4:, :, 4:]


def _gy_tiles(gp, n0, m, bufs):
    """Transformed output-gradient tiles A gy At, (36, m·T, O), of ``gp`` (N, O, TH, 4,
    TW, 4) for samples ``n0 .. n0+m``."""
    a_, bg, bt2, bgy = bufs
    O, TH, TW = gp.shape[1], gp.shape[2], gp.shape[4]
    k = O * m * TH * TW
    gg = bg[:16 * k].reshape(4, 4, m, TH, TW, O)
    gg[...] = gp[n0:n0 + m].transpose(3, 5, 0, 2, 4, 1)
    t2 = bt2[:24 * k].reshape(6, 4, -1)
    np.matmul(a_, gg.reshape(4, -1), out=t2.reshape(6, -1))
    gy = bgy[:36 * k].reshape(6, 6, -1)
    np.matmul(a_, t2, out=gy)
    return gy.reshape(36, m * TH * TW, O)


def _gy_bufs(dt, at, O, nb, T):
    return (np.ascontiguousarray(at.T), np.empty(16 * O * nb * T, dt),
            np.empty(24 * O * nb * T, dt), np.empty(36 * O * nb * T, dt))


def _wgrad_streamed(x, g, k, s, lo, d):
    """Bw^T(x, g) for groups=1 from columns rebuilt chunk by chunk."""
    if _winograd_ok(x, g, g.shape[1], k, s, d):
        return _wgrad_winograd(x, g, lo)
    xp = xp_of(x)
    N, O = g.shape[:2]
    osz = g.shape[2:]
    if xp is not np:  # GPU: one im2col and one GEMM for the whole batch
        cols = unfold_cols(x, k, s, lo, d, osz, 1)
        return (_to_cn(g, 1) @ cols.swapaxes(1, 2)).reshape((O, x.shape[1]) + tuple(k))
    P = math.prod(osz)
    g3 = g.reshape(N, O, P)
    sums = {}

    def run(a, e, threads=False):   # samples a .. e-1, summed into this thread's part
        gw = None
        for n0, m, c in _chunks(x[a:e], k, s, lo, d, osz, threads):
            n0 += a
            if P >= _BIG_PLANE:   # one batched call (no Python loop), summed over samples
                part = xp.matmul(c.swapaxes(0, 1), g3[n0:n0 + m].swapaxes(1, 2)).sum(0)
            else:
                part = c.reshape(-1, m * P) @ g3[n0:n0 + m].transpose(0, 2, 1).reshape(m * P, O)
            if gw is None:
                gw = part
            else:
                gw += part
        if gw is not None:
            sums[a] = gw
    if _by_samples(x, g.size * x.shape[1] * math.prod(k)):
        split(run, N, g.size, np, _PIECES)
    else:
        run(0, N, True)
    if not sums:
        gw = xp.zeros((x.shape[1] * math.prod(k), O), x.dtype)
    else:
        gw = _in_order(sums)
    return xp.ascontiguousarray(gw.T).reshape((O, x.shape[1]) + tuple(k))


def fold_cols(gc, C, N, k, s, lo, d, isz, out_size):
    """col2im, the adjoint of ``unfold_cols``: sums columns (C·prod(k), N·prod(isz))
    back into an (N, C, *out_size) array."""
    xp = xp_of(gc)
    nd = len(k)
    full = tuple(max(_span(i, kk, ss, dd), p + o) for i, kk, ss, dd, p, o in
                 zip(isz, k, s, d, lo, out_size))
    gc = gc.reshape((C,) + tuple(k) + (N,) + tuple(isz))
    out = xp.empty((N, C) + tuple(out_size), gc.dtype)
    taps = [(kk, tuple(slice(kk[i] * d[i], kk[i] * d[i] + s[i] * (isz[i] - 1) + 1, s[i])
                       for i in range(nd))) for kk in np.ndindex(*k)]
    crop = tuple(slice(p, p + o) for p, o in zip(lo, out_size))

    def channels(a, b):
        buf = xp.zeros((b - a, N) + full, gc.dtype)
        for kk, win in taps:
            buf[(slice(None), slice(None)) + win] += gc[(slice(a, b),) + kk]
        out[:, a:b] = buf[(slice(None), slice(None)) + crop].swapaxes(0, 1)
    split(channels, C, gc.size, xp)
    return out


def _to_cn(a, groups):
    """(N, C, *S) -> (G, C/G, N·prod(S)), whole spatial planes moved."""
    xp = xp_of(a)
    N, C = a.shape[:2]
    P = math.prod(a.shape[2:])
    out = xp.empty((C, N, P), a.dtype)
    src = a.reshape(N, C, P)

    def copy(i, j):
        out[i:j] = src[:, i:j].swapaxes(0, 1)
    split(copy, C, out.size, xp)
    return out.reshape(groups, C // groups, N * P)


def _from_cn(y, N, osz, bias):
    """(C, N·P) GEMM result -> (N, C, *osz), adding ``bias`` on the way."""
    xp = xp_of(y)
    C = y.shape[0]
    P = math.prod(osz)
    out = xp.empty((N, C) + tuple(osz), y.dtype)
    dst = out.reshape(N, C, P)
    src = y.reshape(C, N, P).swapaxes(0, 1)
    b = None if bias is None else bias.reshape(C, 1)

    def copy(i, j):
        if b is None:
            dst[:, i:j] = src[:, i:j]
        else:
            xp.add(src[:, i:j], b[i:j], out=dst[:, i:j])
    split(copy, C, out.size, xp)
    return out


def conv_fwd(x, w, bias, s, lo, d, groups, osz, keep_cols=True):
    """B(x, w) (+bias), and for grouped convolutions the columns of ``x`` when
    ``keep_cols`` (groups=1 rebuilds them in backward: cheaper than keeping them)."""
    O, N = w.shape[0], x.shape[0]
    if groups == 1:
        return _conv_streamed(x, w, s, lo, d, osz, bias), None
    cols = unfold_cols(x, w.shape[2:], s, lo, d, osz, groups)
    y = (w.reshape(groups, O // groups, -1) @ cols).reshape(O, -1)
    return _from_cn(y, N, osz, bias), cols if keep_cols else None


def conv_tfwd(x, w, bias, s, lo, d, groups, out_size):
    """Bx^T(x; w) (+bias): the transposed convolution, ``w`` (Cin, Cout/G, *k)."""
    G = groups
    N = x.shape[0]
    k = w.shape[2:]
    nd = len(k)
    cout = w.shape[1] * G
    full = tuple(dd * (kk - 1) - p for kk, dd, p in zip(k, d, lo))
    if G == 1 and _winograd_ok(x, w, cout, k, s, d) and \
            _wino_adjoint_fits(x.shape[2:], out_size, lo):
        out = _tconv_winograd(x, w, lo, out_size)   # the adjoint of the Winograd forward
    elif G == 1 and all(ss == 1 for ss in s) and all(q >= 0 for q in full):
        # stride 1: a plain convolution of ``x`` padded to full size with the flipped,
        # transposed kernel; im2col streams through cache and no col2im is needed
        wf = xp_of(w).ascontiguousarray(
            w.swapaxes(0, 1)[(slice(None),) * 2 + (slice(None, None, -1),) * nd])
        out = _conv_streamed(x, wf, s, full, d, out_size)
    else:
        wm = w.reshape(G, w.shape[0] // G, -1)
        gc = wm.swapaxes(1, 2) @ _to_cn(x, G)
        out = fold_cols(gc, cout, N, k, s, lo, d, x.shape[2:], out_size)
    if bias is not None:
        out += bias.reshape((cout,) + (1,) * len(k))
    return out


def conv_wgrad(x, g, k, s, lo, d, groups, cols=None):
    """Bw^T(x, g): gradient w.r.t. the weight (O, C/G, *k) of B(x, ·) for upstream ``g``."""
    G = groups
    if G == 1:
        return _wgrad_streamed(x, g, k, s, lo, d)
    if cols is None:
        cols = unfold_cols(x, k, s, lo, d, g.shape[2:], G)
    gw = _to_cn(g, G) @ cols.swapaxes(1, 2)
    return gw.reshape((g.shape[1], x.shape[1] // G) + tuple(k))


# ---------------------------------------------------------------------------
# The three ops
# ---------------------------------------------------------------------------

def _compute(*arrs):
    """Arrays cast for computing (float16/bfloat16 in float32, as PyTorch's CPU)."""
    low = arrs[0].dtype not in (np.float32, np.float64) and \
        D._FROM_NP.get(arrs[0].dtype) in _LOW
    if low:
        return [None if a is None else a.astype(np.float32) for a in arrs], True
    return list(arrs), False


def _out(arr, dt, low):
    return wrap(arr.astype(dt.np) if low else arr, dt)


def _conv_backward(ctx, g):
    x, w = ctx.saved_tensors
    need = ctx.needs_input_grad
    gx = gw = gb = None
    p = ctx.p
    if need[0] and need[1]:
        gx, gw = _both_grads_winograd(x, w, g, p) or (None, None)
    if need[0] and gx is None:
        gx = _tconv(g, w, None, p[0], p[1], p[2], p[3], x.shape[2:])
    if need[1] and gw is None:
        gw = _wconv(x, g, w.shape[2:], *p, cols=ctx.cols)
    if len(need) > 2 and need[2]:
        gb = _bias_grad(g)
    return gx, gw, gb


def _bias_grad(g):
    """``g.sum((0, 2, ...))``; without a graph to build, over the spatial axes as
    one matrix-vector product (``blas.ones_sum``)."""
    if g._requires_grad or g.ndim < 3 or g._dtype not in (D.float32, D.float64):
        return g.sum((0,) + tuple(range(2, g.ndim)))
    ga = g._data
    N, C = ga.shape[:2]
    P = math.prod(ga.shape[2:])
    return wrap(ones_sum(ga.reshape(N * C, P)).reshape(N, C).sum(0), g._dtype)


def _both_grads_winograd(x, w, g, p):
    """Input and weight gradients of a Winograd-eligible convolution in one pass over
    the transformed output-gradient tiles (``_wino_backward``), each recorded as the
    op ``_tconv`` / ``_wconv`` would record it (so double backward is unchanged);
    None when the convolution doesn't qualify."""
    s, lo, d, groups = p
    (xa, wa, ga), low = _compute(x._data, w._data, g._data)
    S = xa.shape[2:]
    if groups != 1 or not (_winograd_ok(ga, wa, wa.shape[1], wa.shape[2:], s, d) and
                           _winograd_ok(xa, ga, ga.shape[1], wa.shape[2:], s, d)) or \
            not _wino_adjoint_fits(ga.shape[2:], S, lo):
        return None
    gxa, gwa = _wino_backward(ga, lo, S, w=wa, x=xa)
    gx = _out(gxa, g._dtype, low)
    record(ConvolutionTransposeBackward0, (g, w), gx, saved=(g, w), p=p)
    gw = _out(gwa, g._dtype, low)
    record(ConvolutionBackwardBackward0, (x, g), gw, saved=(x, g), p=p)
    return gx, gw


def _tconv_backward(ctx, g):
    x, w = ctx.saved_tensors
    need = ctx.needs_input_grad
    gx = gw = gb = None
    p = ctx.p
    if need[0]:
        gx = _bconv(g, w, None, *p, x.shape[2:])
    if need[1]:
        gw = _wconv(g, x, w.shape[2:], *p)
    if len(need) > 2 and need[2]:
        gb = g.sum((0,) + tuple(range(2, g.ndim)))
    return gx, gw, gb


def _wconv_backward(ctx, gg):
    x, g = ctx.saved_tensors
    need = ctx.needs_input_grad
    p = ctx.p
    dx = _tconv(g, gg, None, *p, x.shape[2:]) if need[0] else None
    dg = _bconv(x, gg, None, *p, g.shape[2:]) if need[1] else None
    return dx, dg


def node_freeing(name, backward, *attrs):
    """Like ``node`` but the array attributes ``attrs`` (e.g. im2col columns kept
    from forward) are dropped with the saved tensors once backward has run."""
    def _free(self):
        Node._free(self)
        for a in attrs:
            self.__dict__.pop(a, None)
    return type(name, (Node,), {"__slots__": (), "backward": staticmethod(backward),
                                "_free": _free})


ConvolutionBackward0 = node_freeing("ConvolutionBackward0", _conv_backward, "cols")
ConvolutionTransposeBackward0 = node("ConvolutionBackward0", _tconv_backward)
ConvolutionBackwardBackward0 = node("ConvolutionBackwardBackward0", _wconv_backward)


def _bconv(x, w, b, s, lo, d, groups, osz):
    (xa, wa, ba), low = _compute(x._data, w._data, None if b is None else b._data)
    y, cols = conv_fwd(xa, wa, ba, s, lo, d, groups, osz, STATE.enabled and w._requires_grad)
    out = _out(y, x._dtype, low)
    if w._requires_grad or x._requires_grad or (b is not None and b._requires_grad):
        inputs = (x, w) if b is None else (x, w, b)
        record(ConvolutionBackward0, inputs, out, saved=(x, w), p=(s, lo, d, groups),
               cols=cols if w._requires_grad else None)
    return out


def _tconv(x, w, b, s, lo, d, groups, out_size):
    (xa, wa, ba), low = _compute(x._data, w._data, None if b is None else b._data)
    out = _out(conv_tfwd(xa, wa, ba, s, lo, d, groups, out_size), x._dtype, low)
    inputs = (x, w) if b is None else (x, w, b)
    record(ConvolutionTransposeBackward0, inputs, out, saved=(x, w), p=(s, lo, d, groups))
    return out


def _wconv(x, g, k, s, lo, d, groups, cols=None):
    (xa, ga), low = _compute(x._data, g._data)
    out = _out(conv_wgrad(xa, ga, k, s, lo, d, groups, cols), g._dtype, low)
    record(ConvolutionBackwardBackward0, (x, g), out, saved=(x, g), p=(s, lo, d, groups))
    return out


# ---------------------------------------------------------------------------
# Argument checking and the public functions
# ---------------------------------------------------------------------------

def _tuple(v, n, name):
    if isinstance(v, (tuple, list)):
        v = tuple(int(a) for a in v)
        if len(v) == 1 and n > 1:
            v = v * n
        if len(v) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                               f"values to match the convolution dimensions, but got "
                               f"{name}={list(v)}")
        return v
    return (int(v),) * n


def _tname(t):
    return {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int"}.get(
                t._dtype.name, t._dtype.name)


def _check(input, weight, bias, nd, name, transposed, groups):
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{name}() expected Tensor arguments for input and weight, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(input.shape)}")
    if weight.ndim != nd + 2:
        raise RuntimeError("weight should have at least three dimensions" if weight.ndim < 3
                           else f"Expected {nd + 2}-dimensional weight for {nd + 2}-dimensional "
                                f"input, but got {weight.ndim}-dimensional weight of size "
                                f"{list(weight.shape)}")
    if input._dtype is not weight._dtype:
        raise RuntimeError(f"Input type ({_tname(input)}) and weight type ({_tname(weight)}) "
                           f"should be the same")
    if input.device != weight.device:
        raise RuntimeError(f"Input type ({input.device}) and weight type ({weight.device}) "
                           f"should be on the same device")
    if input._dtype is D.bool or input._dtype.is_complex:
        raise RuntimeError(f"\"{name}\" not implemented for '{input._dtype.name}'")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if bias is not None:
        if bias._dtype is not input._dtype:
            raise RuntimeError(f"Input type ({_tname(input)}) and bias type ({_tname(bias)}) "
                               f"should be the same")
        nout = weight.shape[1] * groups if transposed else weight.shape[0]
        if bias.ndim != 1 or bias.shape[0] != nout:
            raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                               f"1-dimensional with {nout} elements, but got bias of size "
                               f"{list(bias.shape)} instead")


def _batched(input, nd):
    return (input, False) if input.ndim == nd + 2 else (input.unsqueeze(0), True)


@autocast_op("low")
def _conv(input, weight, bias, stride, padding, dilation, groups, nd, name):
    groups = int(groups)
    _check(input, weight, bias, nd, name, False, groups)
    x, unb = _batched(input, nd)
    s = _tuple(stride, nd, "stride")
    d = _tuple(dilation, nd, "dilation")
    k = tuple(weight.shape[2:])
    if any(v <= 0 for v in s):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in d):
        raise RuntimeError("dilation should be greater than zero")
    S = tuple(x.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * nd
        elif padding == "same":
            if any(v != 1 for v in s):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            tot = tuple(dd * (kk - 1) for dd, kk in zip(d, k))
            lo = tuple(t // 2 for t in tot)
            hi = tuple(t - t // 2 for t in tot)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        lo = hi = _tuple(padding, nd, "padding")
        if any(v < 0 for v in lo):
            raise RuntimeError("negative padding is not supported")
    C = x.shape[1]
    O = weight.shape[0]
    if O % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{list(weight.shape)}] "
                           f"instead")
    if weight.shape[1] * groups != C:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(x.shape)} to have {weight.shape[1] * groups} "
                           f"channels, but got {C} channels instead")
    eff = tuple(dd * (kk - 1) + 1 for dd, kk in zip(d, k))
    padded = tuple(n + a + b for n, a, b in zip(S, lo, hi))
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                           f"actual input size")
    osz = tuple((p - e) // ss + 1 for p, e, ss in zip(padded, eff, s))
    out = _bconv(x, weight, bias, s, lo, d, groups, osz)
    return out.squeeze(0) if unb else out


@autocast_op("low")
def _conv_t(input, weight, bias, stride, padding, output_padding, groups, dilation, nd, name,
            output_size=None):
    groups = int(groups)
    _check(input, weight, bias, nd, name, True, groups)
    x, unb = _batched(input, nd)
    s = _tuple(stride, nd, "stride")
    d = _tuple(dilation, nd, "dilation")
    p = _tuple(padding, nd, "padding")
    op = _tuple(output_padding, nd, "output_padding")
    k = tuple(weight.shape[2:])
    if any(v <= 0 for v in s):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in d):
        raise RuntimeError("dilation should be greater than zero")
    if any(v < 0 for v in p):
        raise RuntimeError("negative padding is not supported")
    if any(v < 0 for v in op):
        raise RuntimeError("negative output_padding is not supported")
    if any(o >= ss and o >= dd for o, ss, dd in zip(op, s, d)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, "
                           f"but got output_padding={list(op)} stride={list(s)} "
                           f"dilation={list(d)}")
    C = x.shape[1]
    if weight.shape[0] != C:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(x.shape)} to have {weight.shape[0]} channels, but got "
                           f"{C} channels instead")
    if C % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{list(weight.shape)}] "
                           f"instead")
    S = tuple(x.shape[2:])
    out_size = tuple((n - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1
                     for n, ss, pp, dd, kk, o in zip(S, s, p, d, k, op))
    if any(o <= 0 for o in out_size):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, S))}). "
                           f"Calculated output size per channel: "
                           f"({' x '.join(map(str, out_size))}). Output size is too small")
    out = _tconv(x, weight, bias, s, p, d, groups, out_size)
    return out.squeeze(0) if unb else out


def _make(nd):
    def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return _conv(input, weight, bias, stride, padding, dilation, groups, nd, f"conv{nd}d")

    def conv_transpose(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                       groups=1, dilation=1):
        return _conv_t(input, weight, bias, stride, padding, output_padding, groups, dilation,
                       nd, f"conv_transpose{nd}d")
    conv.__name__ = conv.__qualname__ = f"conv{nd}d"
    conv_transpose.__name__ = conv_transpose.__qualname__ = f"conv_transpose{nd}d"
    export(method=False)(conv)
    export(method=False)(conv_transpose)
    return conv, conv_transpose


conv1d, conv_transpose1d = _make(1)
conv2d, conv_transpose2d = _make(2)
conv3d, conv_transpose3d = _make(3)


@export(method=False)
def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    nd = weight.ndim - 2
    if transposed:
        return _conv_t(input, weight, bias, stride, padding, output_padding, groups, dilation,
                       nd, "convolution")
    return _conv(input, weight, bias, stride, padding, dilation, groups, nd, "convolution")


@export(method=False)
def conv_tbc(input, weight, bias, pad=0):
    """1-d convolution over (time, batch, channel) input with a (k, C_in, C_out) weight."""
    if input.dim() != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.dim() != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, "
                           "out_channels.")
    if bias.dim() != 1:
        raise RuntimeError("Bias must be 1-D")
    out = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)
