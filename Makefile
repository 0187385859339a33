# TX-Ray Explorer: `make run` serves the dashboard on the demo analysis, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: run test bench demo clean-venv

$(VENV)/.installed: requirements.txt requirements-app.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed  ## serve the dashboard (builds data/demo.duckdb first if absent)
	$(PY) app.py --host $(HOST) --port $(PORT)

demo: $(VENV)/.installed  ## (re)build the demo analysis only
	$(PY) -m precompute run --preset demo --force

test: $(VENV)/.installed  ## the whole test suite, browser tests included
	$(PY) -m pytest

bench: $(VENV)/.installed  ## performance benchmarks (print ratios against in-run baselines)
	$(PY) -m benchmarks.bench_core
	$(PY) -m benchmarks.bench_dashboard

clean-venv:
	rm -rf $(VENV)
