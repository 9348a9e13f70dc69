# One entry point for people and CI. `make demo` and `make test` set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench up clean

setup: $(VENV)/.installed

# torch goes first, pinned to the CPU build: a plain resolve would pull several GB of CUDA wheels.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[cpu,dev]'
	touch $@

demo: setup
	$(BIN)/journeys demo

up: setup
	$(BIN)/journeys up

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/journeys validate

test: lint
	$(BIN)/pytest

bench: setup
	$(BIN)/journeys bench engine --json

clean:
	rm -rf $(VENV) state .pytest_cache .ruff_cache
