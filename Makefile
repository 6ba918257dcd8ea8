# Two commands do everything on a fresh machine with python3 and make:
#   make run    create .venv, install, run the baseline scenario, print where the report is
#   make test   same bootstrap, then the whole test suite
#   make validate  same bootstrap, then the baseline against 2015-2020, its responses, a backtest and the path
#                  to 2030; writes docs/validation.md's tables (python tools/validate.py; ~15 min on 2 cores)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench params docs validate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'setuptools>=68'  # the build requirement; a venv may bring an older one
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/freemium-sim run scenarios/baseline.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/step.py
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/memory.py

docs: $(STAMP)
	$(BIN)/python -m sim.docs

validate: $(STAMP)
	$(BIN)/python tools/validate.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
