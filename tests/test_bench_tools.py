"""``python -m bench.profile`` (cProfile of a workload's ember steps) and
``python -m bench --alone`` (each library timed in its own processes)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = {**os.environ, "BENCH_WARMUP": "0"}   # warm-up: the minimum of 2 steps


def test_profile_names_the_hot_functions():
    r = subprocess.run([sys.executable, "-m", "bench.profile", "tiny_ops", "--steps", "3",
                        "--top", "40", "--callers", "record"],
                       capture_output=True, text=True, cwd=ROOT, check=True)
    assert "== tiny_ops on cpu: 3 steps" in r.stdout
    assert "ember/_ops/_core.py" in r.stdout and "(record)" in r.stdout
    assert "was called by" in r.stdout


def test_profile_rejects_unknown_workload():
    r = subprocess.run([sys.executable, "-m", "bench.profile", "nope"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "unknown workload 'nope'" in r.stderr


def test_alone_child_reports_rep_times():
    r = subprocess.run([sys.executable, "-m", "bench._alone", "ember", "tiny_ops"],
                       capture_output=True, text=True, cwd=ROOT, check=True, env=QUICK)
    times = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(times) == 9 and all(0 < t < 1 for t in times)  # tiny_ops: 9 reps


def test_alone_table_and_errors():
    r = subprocess.run([sys.executable, "-m", "bench", "--alone", "tiny_ops", "import"],
                       capture_output=True, text=True, cwd=ROOT, check=True,
                       env={**QUICK, "BENCH_ALONE_ROUNDS": "1"})
    lines = r.stdout.splitlines()
    assert lines[0].startswith("NumPy's BLAS kernels: ")
    assert lines[1] == "each library alone in its own process (1 rounds)"
    assert lines[3].startswith("tiny_ops") and lines[3].endswith("x")
    assert "import" in lines[4] and "skipped" in lines[4] and "times itself" in lines[4]
    r = subprocess.run([sys.executable, "-m", "bench", "--alone", "nope"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "unknown workload 'nope'" in r.stderr


def test_bench_names_numpys_blas_kernels():
    """The table's header says which OpenBLAS kernels ran, and whether
    OPENBLAS_CORETYPE forced them (``make bench`` runs without it)."""
    code = ("import json, ember, threadpoolctl; from bench.__main__ import blas_line; "
            "print(blas_line(ember)); print(json.dumps([i.get('architecture') for i in "
            "threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']))")
    for forced in ("Haswell", None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
        if forced:
            env["OPENBLAS_CORETYPE"] = forced
        line, arch = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, cwd=ROOT, check=True, env=env).stdout.splitlines()
        core = (json.loads(arch) or [None])[0]
        assert line.startswith(f"NumPy's BLAS kernels: {core or 'not OpenBLAS'}")
        assert ("forced by OPENBLAS_CORETYPE=Haswell" in line) == bool(forced)
        if forced and core:
            assert core == "Haswell"
