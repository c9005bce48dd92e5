# ember's set-up commands. Each creates .venv on first use.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.stamp-test
STAMP_DEMO := $(VENV)/.stamp-demo

.PHONY: demo test lint bench clean

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

$(STAMP_DEMO): pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[demo]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[test,demo]'
	touch $@ $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(VPY) -m ember.examples.digits

lint: $(STAMP_TEST)
	$(VPY) -m ruff check ember tests bench examples

test: lint
	$(VPY) -m pytest -q -n 2 -p no:cacheprovider tests

# Some machines set OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for old OpenBLAS builds;
# they force NumPy's current OpenBLAS onto slower kernels than the CPU has, so
# the bench runs without them (tests and CI keep them).
bench: $(STAMP_TEST)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(VPY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
