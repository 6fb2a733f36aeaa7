# `make run` and `make test` create .venv from pyproject.toml when needed, so they work on a
# fresh clone with nothing installed by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_DOCS := $(VENV)/.installed-docs
STAMP_MPI  := $(VENV)/.installed-mpi
MPIEXEC    := $(VENV)/bin/mpiexec

.PHONY: run test test-slow test-mpi mpi bench docs clean

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

# the MPI tests run too (1, 2 and 3 ranks: 3 splits unevenly) once `make mpi` installed MPI
test: $(STAMP_TEST)
	$(PY) -m pytest -q -m "not slow"
	@if [ -f $(STAMP_MPI) ]; then $(MAKE) --no-print-directory test-mpi; \
	else echo "MPI tests skipped: run 'make mpi' first (installs the [mpi] extra)"; fi

test-mpi: $(STAMP_MPI)
	for n in 1 2 3; do timeout 900 $(MPIEXEC) -n $$n $(PY) -m pytest -q -p no:cacheprovider tests/mpi || exit 1; done

# MPI for distributed runs: mpi4py with the MPICH wheel (mpiexec lands in .venv/bin); no
# system MPI, compiler or root needed
mpi: $(STAMP_MPI)

$(STAMP_MPI): pyproject.toml | $(STAMP_TEST)
	$(PY) -m pip install --quiet -e ".[test,mpi]"
	touch $@

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
