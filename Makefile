# The three commands of the README. CI (.ci/run) and the Dockerfile call these same targets.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint test-fast bench

install:  ## Create the venv: CPU torch first (pinned: a looser pin pulls a CUDA build), then kb with dev extras
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@echo "Installed. Run: make run"

run:  ## Index the bundled articles if needed, then serve the API on http://127.0.0.1:8000
	HF_HUB_OFFLINE=1 $(BIN)/kb serve

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint  ## Lint, type-check, then every test (slow ones included)
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

test-fast:
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m "not slow"

bench:
	HF_HUB_OFFLINE=1 $(BIN)/python bench/search_latency.py
