"""``python -m bench.profile``: cProfile of a workload's ember steps."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
