"""``python -m bench --memory``: the per-library subprocess and the report."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import _memory  # noqa: E402


def test_child_reports_step_memory():
    r = subprocess.run([sys.executable, "-m", "bench._memory", "ember", "mlp_train", "2"],
                       capture_output=True, text=True, cwd=ROOT, check=True)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["lib"] == "ember" and res["workload"] == "mlp_train" and res["steps"] == 2
    assert res["peak_kb"] >= res["base_kb"] > 0
    assert res["delta_kb"] == res["peak_kb"] - res["base_kb"]
    # params + grads + momentum of the 784-256-256-10 MLP are ~3 MiB
    assert res["delta_kb"] > 1024


def test_report_rows_and_geometric_mean(monkeypatch):
    fake = {("ember", "a"): 100, ("torch", "a"): 400, ("ember", "b"): 900, ("torch", "b"): 900}

    def run_child(lib, name, steps):
        return {"delta_kb": fake[lib, name] * 1024, "base_kb": 10**7}
    monkeypatch.setattr(_memory, "run_child", run_child)
    lines = []
    rows = _memory.run(["a", "b"], steps=1, out=lines.append)
    assert set(rows) == {"a", "b"}
    assert "0.25x" in lines[2] and "1.00x" in lines[3]
    assert lines[-1].startswith("geometric mean") and "0.50x" in lines[-1]


def test_failed_child_is_skipped(monkeypatch):
    def run_child(lib, name, steps):
        raise RuntimeError("boom")
    monkeypatch.setattr(_memory, "run_child", run_child)
    lines = []
    assert _memory.run(["a"], steps=1, out=lines.append) == {}
    assert "skipped" in lines[-1]


if __name__ == "__main__":
    pytest.main([__file__])
