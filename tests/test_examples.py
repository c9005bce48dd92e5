"""The demo (``python -m ember.examples.digits``) and the examples/ scripts."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "ember", "examples", "digits.py")
pytest.importorskip("sklearn")


def _run(args, **kw):
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, cwd=ROOT,
                          timeout=300, **kw)


def _final_accuracy(out):
    return float(re.search(r"test accuracy: ([\d.]+)%", out).group(1))


def test_demo_trains_checkpoints_and_plots(tmp_path):
    r = _run(["-m", "ember.examples.digits", "--epochs", "4", "--out", str(tmp_path)])
    assert r.returncode == 0, r.stderr[-2000:]
    assert _final_accuracy(r.stdout) >= 95.0
    assert "predictions identical = True" in r.stdout
    assert "confusion matrix" in r.stdout and "per-class accuracy" in r.stdout
    assert (tmp_path / "digits_cnn.pt").stat().st_size > 10_000
    png = tmp_path / "training.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_is_deterministic(tmp_path):
    from ember.examples import digits
    a = digits.main(["--epochs", "1", "--out", str(tmp_path / "a"), "--seed", "3"])
    b = digits.main(["--epochs", "1", "--out", str(tmp_path / "b"), "--seed", "3"])
    assert a == b


def test_same_script_runs_on_pytorch(tmp_path):
    """Only the imports change; final accuracies agree within a few points."""
    src = open(DEMO).read()
    torch_src = src.replace("import ember as torch", "import torch") \
        .replace("import ember.nn as nn", "import torch.nn as nn") \
        .replace("import ember.nn.functional as F", "import torch.nn.functional as F") \
        .replace("from ember.utils.data import", "from torch.utils.data import")
    assert torch_src.count("ember") == src.count("ember") - 4
    script = tmp_path / "digits_torch.py"
    script.write_text(torch_src)
    t = _run([str(script), "--epochs", "4", "--out", str(tmp_path / "t")])
    assert t.returncode == 0, t.stderr[-2000:]
    e = _run(["-m", "ember.examples.digits", "--epochs", "4", "--out", str(tmp_path / "e")])
    assert e.returncode == 0, e.stderr[-2000:]
    assert abs(_final_accuracy(t.stdout) - _final_accuracy(e.stdout)) <= 4.0


@pytest.mark.parametrize("args,msg", [
    (["--epochs", "-1"], "--epochs must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--out", "/proc/no-such-dir/x"], "not a writable directory"),
])
def test_demo_bad_flags(args, msg):
    r = _run(["-m", "ember.examples.digits"] + args)
    assert r.returncode != 0
    assert msg in r.stderr and "Traceback" not in r.stderr


def test_demo_help():
    r = _run(["-m", "ember.examples.digits", "--help"])
    assert r.returncode == 0
    for flag in ("--epochs", "--batch-size", "--lr", "--device", "--out", "--seed"):
        assert flag in r.stdout


def test_diabetes_regression_example():
    r = _run([os.path.join("examples", "diabetes_regression.py"), "--epochs", "40"])
    assert r.returncode == 0, r.stderr[-2000:]
    r2 = float(re.search(r"held-out R\^2: (-?[\d.]+)", r.stdout).group(1))
    assert r2 > 0.3


def test_char_lm_example():
    r = _run([os.path.join("examples", "char_lm.py"), "--steps", "40"])
    assert r.returncode == 0, r.stderr[-2000:]
    losses = [float(x) for x in re.findall(r"loss ([\d.]+)", r.stdout)]
    assert losses[-1] < losses[0] - 0.5
    assert "sample:" in r.stdout


def test_readme_example_runs():
    """The 15-line example in README.md trains to a perfect fit on its toy data."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    code = readme.split("```python\n")[1].split("```")[0]
    r = _run(["-c", code])
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(re.search(r"accuracy ([\d.]+)", r.stdout).group(1)) >= 0.95
