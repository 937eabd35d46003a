# `make demo` and `make test` each build .venv on first use (Python 3.11+).
PYTHON ?= python3
VENV := .venv
# test processes (pytest-xdist; each file stays on one worker so module fixtures compile once; files go
# out in collection order, the `long_file` modules first: tests/conftest.py)
PYTEST_WORKERS ?= 2
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/activate

demo: $(BIN)/activate
	$(BIN)/tumorjax run te-kuznetsov --out out/demo --x64
	@echo "wrote out/demo/timeseries.csv, out/demo/summary.json, out/demo/figure.png"

test: $(BIN)/activate
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(BIN)/activate
	$(BIN)/python benchmarks/bench_ensemble_ode.py
	$(BIN)/python benchmarks/bench_dde_tau_sweep.py

clean:
	rm -rf $(VENV) out
