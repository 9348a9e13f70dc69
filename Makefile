# One entry point for people and CI. `make demo` and `make test` set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench up clean browser

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

# The review console's browser test drives Debian's Chromium (as root, or through sudo).
CHROMIUM := /usr/bin/chromium
browser: $(CHROMIUM)
$(CHROMIUM):
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium'

test: lint browser
	$(BIN)/pytest

bench: setup
	$(BIN)/journeys bench --json --readme README.md

clean:
	rm -rf $(VENV) state .pytest_cache .ruff_cache
