# One entry point for people and CI. `make demo` and `make test` set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench up clean browser gpu-check

setup: $(VENV)/.installed

# llama.cpp is built for a portable x86-64 (AVX2), not for this CPU (-march=native): a native build
# segfaults where the CPU reports AMX that its VM does not enable, and a wheel pip cached on one
# machine may not run on the next. The portable wheel is cached under its own name, built once.
LLAMA := llama-cpp-python==0.3.36
LLAMA_FLAGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
WHEELS := $(HOME)/.cache/ma-journeys/wheels/llama-portable

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || CMAKE_ARGS="$(LLAMA_FLAGS)" \
		$(BIN)/pip wheel -q --disable-pip-version-check --no-deps --no-cache-dir -w $(WHEELS) $(LLAMA)
	$(BIN)/pip install -q --disable-pip-version-check --no-index --no-deps --force-reinstall --find-links $(WHEELS) $(LLAMA)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[cpu,dev]'
	touch $@

demo: setup
	$(BIN)/journeys demo

up: setup
	$(BIN)/journeys up

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/journeys validate

# The review console's browser test drives Debian's Chromium (as root, or through sudo).
CHROMIUM := /usr/bin/chromium
browser: $(CHROMIUM)
$(CHROMIUM):
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium'

# Two pytest workers, each with its own dev server and models: the suite spends much of its time
# waiting (servers starting, timers, subprocesses), so two fill two cores. PYTEST_WORKERS=0 runs it
# in one process; tests that share something outside their worker carry one xdist_group mark. The
# slowest 15 tests are listed at the end, to keep the suite inside its time.
PYTEST_WORKERS ?= 2
test: lint browser
	$(BIN)/journeys test journeys/
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15

bench: setup
	$(BIN)/journeys bench --json --readme README.md

# On a GPU machine: what it has (CUDA, torch, vLLM) and the vllm backend's test where vLLM is there.
gpu-check: setup
	$(BIN)/python -m journeys_app.devtools.gpu_check

clean:
	rm -rf $(VENV) state .pytest_cache .ruff_cache
