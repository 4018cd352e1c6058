# The README's commands.  `make serve` installs and starts the service on the
# embedded defaults; `make test` installs everything and runs the whole suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_WORKERS ?= 2

.PHONY: install install-dev serve demo test lint typecheck unit fuzz services bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'

serve: install
	$(BIN)/triaged serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/triaged demo

services:
	bash scripts/ensure-services.sh

lint: install-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_sizes.py

typecheck: install-dev
	$(BIN)/mypy

unit: install-dev services
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15  # the slowest, for CI time

# schemathesis against the OpenAPI document on a fresh SQLite file (fixed seed, ~30 s)
fuzz: install-dev
	$(BIN)/python scripts/fuzz_api.py --examples 20 --seed 0

test: lint typecheck unit fuzz

bench: install-dev
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
