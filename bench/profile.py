"""``python -m bench.profile WORKLOAD [...]``: where ember's time goes in a
bench workload (cProfile over repeated steps, top functions by own time).
Honours ``BENCH_DEVICE`` like the bench itself (on CUDA the steps end with a
synchronize, so kernel time shows up in the function that waits)."""
import argparse
import cProfile
import pstats

from . import workloads  # noqa: F401  (registers workloads)
from .harness import DEVICE, WORKLOADS, warm_up


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("workloads", nargs="+", help=f"any of: {', '.join(WORKLOADS)}")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--callers", metavar="REGEX",
                   help="also print who calls the functions matching REGEX")
    args = p.parse_args(argv)
    import ember
    sync = ember.cuda.synchronize if DEVICE == "cuda" else None
    for name in args.workloads:
        if name not in WORKLOADS:
            p.error(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
        step = WORKLOADS[name][0](ember)
        warm_up(step, sync, 0, least=3)  # (CuPy compiles its kernels on first use)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.steps):
            step()
        if sync is not None:
            sync()
        prof.disable()
        print(f"== {name} on {DEVICE}: {args.steps} steps")
        stats = pstats.Stats(prof).sort_stats("tottime")
        stats.print_stats(args.top)
        if args.callers:
            stats.print_callers(args.callers)


if __name__ == "__main__":
    main()
