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
    assert lines[0] == "each library alone in its own process (1 rounds)"
    assert lines[2].startswith("tiny_ops") and lines[2].endswith("x")
    assert "import" in lines[3] and "skipped" in lines[3] and "times itself" in lines[3]
    r = subprocess.run([sys.executable, "-m", "bench", "--alone", "nope"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "unknown workload 'nope'" in r.stderr
