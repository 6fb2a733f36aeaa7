# `make run` and `make test` create .venv from pyproject.toml when needed, so they work on a
# fresh clone with nothing installed by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test test-slow bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(PY) -m fieldsolve run configs/default.yaml --out runs/default --overwrite
	@echo "fieldsolve is installed in $(VENV)/bin: run '. $(VENV)/bin/activate' to put it on PATH"

test: $(STAMP_TEST)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP_TEST)
	$(PY) -m pytest -q

bench: $(STAMP_RUN)
	$(PY) benchmarks/bench_deposit.py --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
