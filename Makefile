# c360 — the two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test test-fast lint install install-dev system-deps bench schema clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "c360 needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian run 'apt-get install python3-venv' (as root), then retry"; rm -rf $(VENV); exit 1; }
	$(PIP) install --upgrade pip

# Re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: simulators with generated data, SQLite, initial match, gateway; prints the GraphiQL URL.
demo: install
	$(VENV)/bin/c360 demo

## System packages the suite needs (PostgreSQL, Redis, Chromium); installed as root when missing.
system-deps:
	@bash .ci/system-deps.sh

## Static checks: pyflakes rules and types.
lint: install-dev
	$(VENV)/bin/ruff check connectors gateway resolvers xref sandbox bench tests
	$(VENV)/bin/mypy connectors gateway resolvers xref sandbox bench

## make test: static checks, then the whole suite (slow fault/scale tests included).
test: system-deps install-dev lint
	$(PY) -m pytest

## While iterating: skip the slow fault/scale tests.
test-fast: install-dev
	$(PY) -m pytest -m "not slow"

schema: install
	$(VENV)/bin/c360 export-schema

bench: install-dev
	$(PY) -m bench.generate --customers 100000

clean:
	rm -rf $(VENV) .c360 .pytest_cache *.egg-info
