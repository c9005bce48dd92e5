"""``python -m bench [workload ...]``: ember vs torch, one row per workload."""
import argparse
import os

from . import workloads  # noqa: F401  (registers workloads)
from .harness import THREADS, WORKLOADS, report, run_one


def blas_line(ember):
    """Which kernels NumPy's OpenBLAS runs: ``OPENBLAS_CORETYPE`` can force older
    ones than the CPU has (``make bench`` unsets it; see docs/performance.md)."""
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return (f"NumPy's BLAS kernels: {ember._blas.core() or 'not OpenBLAS'}"
            + (f" (forced by OPENBLAS_CORETYPE={forced})" if forced else ""))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("workloads", nargs="*", help=f"any of: {', '.join(WORKLOADS)}")
    p.add_argument("--memory", action="store_true",
                   help="peak RSS of training steps, one subprocess per library (bench/_memory.py)")
    p.add_argument("--alone", action="store_true",
                   help="time each library in its own processes (bench/_alone.py)")
    args = p.parse_args(argv)
    if args.alone or args.memory:
        bad = [n for n in args.workloads if n not in WORKLOADS]
        if bad:
            p.error(f"unknown workload {bad[0]!r}; choose from {', '.join(WORKLOADS)}")
    if args.alone:
        import ember  # only to name the kernels: each child imports its own library

        from ._alone import run
        print(blas_line(ember))
        return run(args.workloads or [n for n in WORKLOADS if not n.startswith(
            ("import", "dataloader"))])
    if args.memory:
        from ._memory import DEFAULT_WORKLOADS, run
        return run(args.workloads or DEFAULT_WORKLOADS)
    import torch

    import ember
    torch.set_num_threads(THREADS)
    print(blas_line(ember))
    libs = {"ember": ember, "torch": torch}
    names = args.workloads or list(WORKLOADS)
    results = {}
    for n in names:
        if n not in WORKLOADS:
            p.error(f"unknown workload {n!r}; choose from {', '.join(WORKLOADS)}")
        try:
            results[n] = run_one(n, libs)
        except Exception as e:  # a workload needing a part ember lacks yet
            results[n] = f"{type(e).__name__}: {e}"[:100]
    report(results)


if __name__ == "__main__":
    main()
