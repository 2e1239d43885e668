# The entry points people type. `make run` and `make test` work from a fresh clone with only
# Python 3.11: they create .venv and install the locked dependencies first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock | cksum | cut -d' ' -f1)
export PYTHONPATH := $(CURDIR)

.PHONY: run test install lint typecheck test-deps test-sqlite test-postgres migrate bench clean

$(STAMP): requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing locked dependencies into $(VENV) ..."
	@($(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9 && \
	  $(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python \
	    --require-hashes requirements-dev.lock) || \
	 $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	$(BIN)/python scripts/run.py

# The two backends' runs are independent (each its own databases, folders and ports), so they
# go side by side: on two cores that halves the wait. Each run's output is printed whole when it
# ends (-O), and either failing fails `make test`.
test: install lint typecheck test-deps
	@echo "running the suite on SQLite and on PostgreSQL at once; each prints its output when it ends ..."
	@$(MAKE) --no-print-directory -j2 -O test-sqlite test-postgres

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy services shared scripts bench tests

test-deps: install
	@bash scripts/ensure_chromium.sh
	@bash scripts/ensure_postgres.sh

test-sqlite: test-deps
	$(BIN)/python -m pytest --db=sqlite

test-postgres: test-deps
	$(BIN)/python -m pytest --db=postgresql

# Not part of `make test`: minutes of load against PostgreSQL. BENCH_ARGS=--quick, --million,
# --scenario read,list (see docs/performance.md). The services run on an install of
# requirements.lock alone, as the image has (the dev tools' extras change what libraries load).
RUNTIME := .bench-runtime
RUNTIME_STAMP := $(RUNTIME)/.installed-$(shell cat requirements.lock | cksum | cut -d' ' -f1)

$(RUNTIME_STAMP): requirements.lock $(STAMP)
	@echo "installing requirements.lock alone into $(RUNTIME) for the services under bench ..."
	@test -x $(RUNTIME)/bin/python || $(PYTHON) -m venv $(RUNTIME)
	@($(BIN)/uv pip sync --quiet --compile-bytecode --python $(RUNTIME)/bin/python \
	    --require-hashes requirements.lock) || \
	 $(RUNTIME)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@rm -f $(RUNTIME)/.installed-* && touch $@

bench: install $(RUNTIME_STAMP)
	@bash bench/ensure_wrk.sh
	@bash scripts/ensure_postgres.sh
	$(BIN)/python -m bench.run --runtime $(RUNTIME)/bin/python $(BENCH_ARGS)

migrate: install
	$(BIN)/python -m shared.migrate

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
