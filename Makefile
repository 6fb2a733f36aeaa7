# `make run` and `make test` create .venv from pyproject.toml when needed, so they work on a
# fresh clone with nothing installed by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_DOCS := $(VENV)/.installed-docs

.PHONY: run test test-slow bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

# the test environment compiles numba's kernels once after installing (cached beside the
# source): the tests then start warm; a first `make run` compiles what it uses and says so
$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m fieldsolve._jit_cache
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(PY) -m fieldsolve run configs/default.yaml --out runs/default --overwrite
	@echo "fieldsolve is installed in $(VENV)/bin: run '. $(VENV)/bin/activate' to put it on PATH"

test: $(STAMP_TEST)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP_TEST)
	$(PY) -m pytest -q

$(STAMP_DOCS): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $@ $(STAMP_RUN)

# the concept pages plus the API reference from the docstrings; any warning fails the build
docs: $(STAMP_DOCS)
	rm -rf docs/_build docs/api/generated
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "docs in docs/_build/html/index.html"

bench: $(STAMP_RUN)
	$(PY) benchmarks/bench_deposit.py --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache docs/_build docs/api/generated
