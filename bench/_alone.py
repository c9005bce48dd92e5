"""Each library alone: ``python -m bench --alone [workload ...]``.

The default bench alternates ember and torch in one process, which cancels
machine noise but lets the libraries disturb each other: torch's OpenMP
workers spin for some milliseconds after each torch step (taking the core
ember's intra-op threads want), and process-wide settings such as ember's
malloc tuning (``ember/_blas.py``) speed torch up too. Here every timing runs
in a fresh interpreter that imports only one library, as a user's program
does: ``python -m bench._alone ember cnn_train`` prints the per-rep seconds.
The parent alternates the two libraries' processes ``ROUNDS`` times and
reports medians as ``python -m bench`` does."""
import json
import os
import sys

ROUNDS = int(os.environ.get("BENCH_ALONE_ROUNDS", 2))


def measure(lib_name, workload):
    """In the child: the workload's per-rep times (seconds) for one library."""
    import importlib

    lib = importlib.import_module(lib_name)
    from . import workloads  # noqa: F401  (registers workloads)
    from .harness import DEVICE, THREADS, WORKLOADS, _time, warm_up
    if lib_name == "torch":  # same intra-op threads as ``python -m bench``
        lib.set_num_threads(THREADS)

    build, reps, inner = WORKLOADS[workload]
    step = build(lib)
    if callable(getattr(step, "direct", None)):
        raise ValueError(f"{workload} times itself; run it with python -m bench")
    sync = lib.cuda.synchronize if DEVICE == "cuda" else None
    warm_up(step, sync)
    return [_time(step, inner, sync) for _ in range(reps)]


def run(names, out=print):
    """Times each workload per library in its own processes; prints the table."""
    from .harness import child_json, report
    results = {}
    for n in names:
        try:
            times = {"ember": [], "torch": []}
            for _ in range(ROUNDS):
                for lib in times:
                    times[lib] += child_json("bench._alone", lib, n)
            results[n] = times
        except Exception as e:  # a workload that cannot run alone (import time)
            results[n] = f"{type(e).__name__}: {e}"[:100]
    out(f"each library alone in its own process ({ROUNDS} rounds)")
    return report(results, out)


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
