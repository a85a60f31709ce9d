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

# Runtime dependencies only: what `make run` needs.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Runtime plus test and lint tools.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	@test -f $(CONFIG) || $(BIN)/fediverse-ai --config $(CONFIG) init
	$(BIN)/fediverse-ai --config $(CONFIG) run

# Debian packages the end-to-end tests need (nginx for TLS, openssl for the test CA).
test-deps:
	bash scripts/install-test-deps.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check fediverse_ai tests
	$(BIN)/ruff format --check fediverse_ai tests
	$(BIN)/mypy

test: $(VENV)/.installed-test test-deps lint
	$(BIN)/python -m pytest

# Inner loop: everything but the multi-process end-to-end tests.
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not e2e" -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
