# Wuye — two commands: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test test-sqlite test-pg bench lint lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

## Set up (venv, install, migrate, seed, demo logins) and serve at http://127.0.0.1:8000/
demo: $(STAMP)
	$(BIN)/wuye demo

## The whole suite: on SQLite, then on PostgreSQL when a server is reachable (see scripts/test.sh)
test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/test.sh

test-sqlite: $(STAMP)
	$(BIN)/pytest

test-pg: $(STAMP)
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/wuye} $(BIN)/pytest

## Benchmarks (figures go to bench/results/)
bench: $(STAMP)
	$(BIN)/python bench/bench_seed.py --units 100000
	$(BIN)/python bench/bench_import.py --rows 10000

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	WUYE_DATA_DIR=$$(mktemp -d) $(BIN)/wuye makemigrations --check --dry-run

## Regenerate requirements.lock from pyproject.toml (needs network)
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv && .lockvenv/bin/pip install -q ".[dev]" \
	  && (echo "# Locked, fully pinned dependency set (runtime + dev). Regenerate with: make lock"; \
	      .lockvenv/bin/pip freeze --exclude wuye) > requirements.lock && rm -rf .lockvenv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
