"""Tensor printing, following PyTorch's ``torch/_tensor_str.py`` rules (fixed
or scientific notation chosen from the value range, integer-valued floats
printed as ``1.``, summarisation past ``threshold`` elements)."""
import math
from dataclasses import dataclass

import numpy as np

from . import _dtype as D
from ._backend import to_host


@dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: object = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    if profile == "default":
        PRINT_OPTS.__init__()
    elif profile == "short":
        PRINT_OPTS.__init__(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        PRINT_OPTS.__init__(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            setattr(PRINT_OPTS, k, v)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    return dict(vars(PRINT_OPTS))


class _Formatter:
    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        p = PRINT_OPTS.precision
        if not floating:
            for v in values:
                self.max_width = max(self.max_width, len(str(v)))
            return
        nz = [v for v in values if math.isfinite(v) and v != 0]
        if not nz:
            return
        absv = [abs(v) for v in nz]
        lo, hi = min(absv), max(absv)
        for v in nz:
            if v != math.ceil(v):
                self.int_mode = False
                break
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1e8:
                self.sci_mode = True
                for v in nz:
                    self.max_width = max(self.max_width, len(f"{v:.{p}e}"))
            else:
                for v in nz:
                    self.max_width = max(self.max_width, len(f"{v:.0f}") + 1)
        else:
            if hi / lo > 1000.0 or hi > 1e8 or lo < 1e-4:
                self.sci_mode = True
                for v in nz:
                    self.max_width = max(self.max_width, len(f"{v:.{p}e}"))
            else:
                for v in nz:
                    self.max_width = max(self.max_width, len(f"{v:.{p}f}"))
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def width(self):
        return self.max_width

    def format(self, v):
        p = PRINT_OPTS.precision
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.max_width}.{p}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{p}f}"
        else:
            s = str(v)
        return (self.max_width - len(s)) * " " + s


def _host(t):
    a = to_host(t._data)
    if t._dtype in (D.float16, D.bfloat16):
        a = a.astype(np.float32)
    return a


def _summarize(a, edge):
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * edge:
        a = np.concatenate([a[:edge], a[-edge:]])
    if a.ndim == 1:
        return a
    return np.stack([_summarize(x, edge) for x in a]) if len(a) else a


def _fmt_val(v, f1, f2):
    if f2 is None:
        return f1.format(v)
    re_s = f1.format(v.real)
    im_s = f2.format(v.imag).lstrip()
    sign = "" if im_s.startswith("-") else "+"
    return f"{re_s}{sign}{im_s}j"


def _vector(a, indent, summarize, f1, f2):
    el_len = f1.width() + 2 + (f2.width() + 2 if f2 is not None else 0)
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / el_len)))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * edge:
        data = [_fmt_val(v, f1, f2) for v in a[:edge].tolist()] + [" ..."] + \
            [_fmt_val(v, f1, f2) for v in a[-edge:].tolist()]
    else:
        data = [_fmt_val(v, f1, f2) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str(a, indent, summarize, f1, f2):
    if a.ndim == 0:
        return _fmt_val(a.item(), f1, f2)
    if a.ndim == 1:
        return _vector(a, indent, summarize, f1, f2)
    edge = PRINT_OPTS.edgeitems
    if summarize and a.shape[0] > 2 * edge:
        slices = [_tensor_str(a[i], indent + 1, summarize, f1, f2) for i in range(edge)] + \
            ["..."] + [_tensor_str(a[i], indent + 1, summarize, f1, f2)
                       for i in range(len(a) - edge, len(a))]
    else:
        slices = [_tensor_str(a[i], indent + 1, summarize, f1, f2) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _body(t, indent):
    a = _host(t)
    summarize = a.size > PRINT_OPTS.threshold
    vals = _summarize(a, PRINT_OPTS.edgeitems) if summarize else a
    flat = vals.reshape(-1)
    if t._dtype.is_complex:
        f1 = _Formatter(flat.real.tolist(), True)
        f2 = _Formatter(flat.imag.tolist(), True)
    else:
        f1 = _Formatter(flat.tolist(), t._dtype.is_floating_point)
        f2 = None
    return _tensor_str(a, indent, summarize, f1, f2)


def tensor_repr(t, prefix="tensor("):
    indent = len(prefix)
    suffixes = []
    dev = t.device
    if dev.type != "cpu":
        suffixes.append(f"device='{dev}'")
    default = (D.get_default_dtype(), D.default_complex(), D.int64, D.bool)
    if t._data.size == 0:
        if t._data.ndim != 1:
            suffixes.append(f"size={tuple(t._data.shape)}")
        if t._dtype is not D.get_default_dtype():
            suffixes.append(f"dtype={t._dtype!r}")
        body = "[]"
    else:
        if t._dtype not in default:
            suffixes.append(f"dtype={t._dtype!r}")
        body = _body(t, indent)
    if t._is_param:
        prefix = "Parameter containing:\n" + prefix
    fn = t.grad_fn
    if fn is not None:
        suffixes.append(f"grad_fn=<{type(fn).__name__}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)


def _add_suffixes(s, suffixes, indent):
    out = [s]
    last = len(s) - s.rfind("\n") + 1
    for suf in suffixes:
        if last + len(suf) + 2 > PRINT_OPTS.linewidth:
            out.append(",\n" + " " * indent + suf)
            last = indent + len(suf)
        else:
            out.append(", " + suf)
            last += len(suf) + 2
    out.append(")")
    return "".join(out)
