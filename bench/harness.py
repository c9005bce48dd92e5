"""Benchmark harness: each workload builds a step function for ember and for
torch; the harness warms both up, then alternates timed runs (A B A B ...) in
one process and reports medians and the median of per-pair ratios.

Warm-up runs each step for ``BENCH_WARMUP`` seconds (default 1, at least 2
steps): torch's first steps of a convolutional workload are up to 1.7x slower
than its steady state here, which a 2-step warm-up left in the medians.

Both libraries leave threads spinning after a step (torch's OpenMP workers,
OpenBLAS's threads under ember) for up to ~0.1 s, taking cores from the other
library's next steps (mlp_train took 2.4 ms per step in both libraries instead
of 0.65). So each timed run follows ``BENCH_SWITCH`` seconds (default 0.15;
0 for back to back) of untimed steps of the same library. (Sleeping instead
slowed the next steps of both libraries: an idle virtual CPU wakes slowly.)"""
import json
import math
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = {}
# Device the workloads run on ("cpu", or "cuda" from scripts/gpu-check).
DEVICE = os.environ.get("BENCH_DEVICE", "cpu")
# torch gets the machine's cores (2 here) for its intra-op pool in every bench
# process; ember's BLAS thread policy is its own default (see ember/_blas.py).
THREADS = int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1))
WARMUP = float(os.environ.get("BENCH_WARMUP", 1.0))
SWITCH = float(os.environ.get("BENCH_SWITCH", 0.15))


def workload(name, reps=7, inner=1):
    """Registers ``build(lib) -> step`` as a workload. ``lib`` is the ember or
    torch module; ``step()`` runs one timed iteration. ``inner`` repeats step
    per timed sample (for very short steps)."""
    def deco(build):
        WORKLOADS[name] = (build, reps, inner)
        return build
    return deco


def warm_up(step, sync=None, seconds=None, least=2):
    """Runs ``step`` for ``seconds`` (default ``WARMUP``), at least ``least`` times."""
    end = time.perf_counter() + (WARMUP if seconds is None else seconds)
    n = 0
    while n < least or time.perf_counter() < end:
        step()
        n += 1
    if sync is not None:
        sync()


def _time(step, inner, sync):
    t0 = time.perf_counter()
    for _ in range(inner):
        step()
    if sync is not None:
        sync()
    return (time.perf_counter() - t0) / inner


def run_one(name, libs):
    build, reps, inner = WORKLOADS[name]
    steps = {}
    for lname, lib in libs.items():
        steps[lname] = build(lib)
    if any(callable(getattr(s, "direct", None)) for s in steps.values()):
        # Workloads that measure themselves (import time) return timings directly.
        return {k: s.direct() for k, s in steps.items()}
    syncs = {k: (libs[k].cuda.synchronize if DEVICE == "cuda" else None) for k in steps}
    for k, s in steps.items():
        warm_up(s, syncs[k])
    times = {k: [] for k in steps}
    for _ in range(reps):
        for k, s in steps.items():
            if SWITCH:
                warm_up(s, syncs[k], SWITCH, least=0)
            times[k].append(_time(s, inner, syncs[k]))
    return times


def report(results, out=print):
    """Prints one row per workload (ember ms, torch ms, median ratio) and the
    geometric mean of the ratios."""
    out(f"{'workload':<20}{'ember ms':>12}{'torch ms':>12}{'ratio':>9}")
    ratios = []
    for name, times in results.items():
        if isinstance(times, str):
            out(f"{name:<20}  skipped: {times}")
            continue
        e, t = times["ember"], times["torch"]
        ratio = statistics.median(a / b for a, b in zip(e, t))
        ratios.append(ratio)
        out(f"{name:<20}{statistics.median(e) * 1e3:>12.3f}{statistics.median(t) * 1e3:>12.3f}"
            f"{ratio:>8.2f}x")
    if ratios:
        g = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        out(f"{'geometric mean':<44}{g:>8.2f}x")
    return ratios


def child_json(module, *args):
    """Runs ``python -m <module> ARGS`` in a fresh interpreter from the repository
    root and returns the JSON its last output line holds; RuntimeError with the
    child's last error line if it fails (bench._memory, bench._alone)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-m", module, *map(str, args)],
                       capture_output=True, text=True, cwd=root)
    if r.returncode != 0:
        raise RuntimeError((r.stderr.strip().splitlines() or ["failed"])[-1][:100])
    return json.loads(r.stdout.strip().splitlines()[-1])
