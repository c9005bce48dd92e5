"""Peak-memory benchmark: ``python -m bench --memory [workload ...]``.

Each (library, workload) pair runs in a fresh interpreter that imports only
that library: ``python -m bench._memory ember cnn_train 5`` imports ember,
builds the workload (model, optimizer, data), records the resident set size
right then (``VmRSS``), runs the step N times and reports the peak resident
set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) minus that baseline,
i.e. the extra memory the training steps needed (activations, saved tensors,
gradients, optimizer state, scratch buffers, allocator slack).

The parent (``run``) only imports NumPy and the workload definitions, so its
own footprint (which Linux may fold into a child's ``ru_maxrss`` when the child
is started with vfork) stays far below any child's post-import baseline.
"""
import json
import math
import os
import resource
import sys

DEFAULT_WORKLOADS = ("mlp_train", "lstm_train", "cnn_train", "transformer_train")
STEPS = int(os.environ.get("BENCH_MEMORY_STEPS", 5))


def _rss_kb(field="VmRSS"):
    """Current resident set size (or another ``/proc/self/status`` field) in KiB;
    falls back to ru_maxrss off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return _maxrss_kb()


def _maxrss_kb():
    m = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return m // 1024 if sys.platform == "darwin" else m  # macOS reports bytes


def measure(lib_name, workload, steps=STEPS):
    """Runs in the child: returns a dict of KiB figures for one library/workload."""
    import importlib

    lib = importlib.import_module(lib_name)
    from . import workloads  # noqa: F401  (registers workloads; imports NumPy only)
    from .harness import THREADS, WORKLOADS
    if lib_name == "torch":  # same intra-op threads as ``python -m bench``
        lib.set_num_threads(THREADS)

    build = WORKLOADS[workload][0]
    step = build(lib)
    if callable(getattr(step, "direct", None)):
        raise ValueError(f"{workload} times itself; it has no step to measure")
    base = _rss_kb()
    max_before = _maxrss_kb()  # peak of import + setup, for reference
    for _ in range(steps):
        step()
    # ru_maxrss is max(high-water mark, current RSS); the current-RSS counters are
    # synced lazily, so take the larger of the two readings.
    peak = max(_maxrss_kb(), _rss_kb())
    return {"lib": lib_name, "workload": workload, "steps": steps, "base_kb": base,
            "setup_peak_kb": max_before, "peak_kb": peak, "hwm_kb": _rss_kb("VmHWM"),
            "end_kb": _rss_kb(),
            "delta_kb": peak - base}


def run_child(lib_name, workload, steps=STEPS):
    """Runs ``python -m bench._memory LIB WORKLOAD STEPS`` and parses its JSON line."""
    from .harness import child_json
    return child_json("bench._memory", lib_name, workload, steps)


def run(names, steps=STEPS, out=print):
    """Measures each workload for ember and torch; prints one row each and the
    geometric mean of the ember / torch ratios of the step deltas."""
    out(f"peak RSS above post-setup RSS over {steps} steps, MiB (fresh process per library)")
    out(f"{'workload':<20}{'ember MiB':>11}{'torch MiB':>11}{'ratio':>9}"
        f"{'ember base':>12}{'torch base':>12}")
    ratios, rows = [], {}
    for n in names:
        try:
            res = {lib: run_child(lib, n, steps) for lib in ("ember", "torch")}
        except Exception as e:
            out(f"{n:<20}  skipped: {type(e).__name__}: {e}"[:120])
            continue
        rows[n] = res
        mine = _maxrss_kb()
        if any(mine >= r["base_kb"] for r in res.values()):  # see the module docstring
            out(f"warning: this process's peak RSS ({mine // 1024} MiB) may be folded into "
                "the children's ru_maxrss")
        e, t = res["ember"]["delta_kb"], res["torch"]["delta_kb"]
        ratio = e / t if t > 0 else float("inf")
        if math.isfinite(ratio) and ratio > 0:
            ratios.append(ratio)
        out(f"{n:<20}{e / 1024:>11.1f}{t / 1024:>11.1f}{ratio:>8.2f}x"
            f"{res['ember']['base_kb'] / 1024:>12.1f}{res['torch']['base_kb'] / 1024:>12.1f}")
    if ratios:
        g = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        out(f"{'geometric mean':<42}{g:>8.2f}x")
    return rows


if __name__ == "__main__":
    lib_name, workload = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else STEPS
    print(json.dumps(measure(lib_name, workload, steps)))
