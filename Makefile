# Regie: the two commands a new user needs are `make run` and `make test`.
# Everything else here supports them.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export REGIE_DATA_DIR ?= $(CURDIR)/var

.PHONY: run run-postgres test lint typecheck check demo clean system-deps lock

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed (looked for $(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project definition changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

## make run: create the venv, migrate, create the keyring on first run, serve on 127.0.0.1:$(PORT)
## (the API and the resident app: open http://localhost:$(PORT) in a browser)
run: $(VENV)/.installed
	REGIE_MODE=$${REGIE_MODE:-development} \
	REGIE_PUBLIC_URL=$${REGIE_PUBLIC_URL:-http://localhost:$(PORT)} \
	$(BIN)/regie migrate
	REGIE_MODE=$${REGIE_MODE:-development} \
	REGIE_PUBLIC_URL=$${REGIE_PUBLIC_URL:-http://localhost:$(PORT)} \
	$(BIN)/regie serve --port $(PORT)

## make run-postgres: the same on PostgreSQL with several workers, as in production; the database
## (REGIE_DATABASE_URL, default the local server's `regie`) is created if it does not exist
WORKERS ?= 2
run-postgres: $(VENV)/.installed
	REGIE_MODE=$${REGIE_MODE:-development} \
	REGIE_PUBLIC_URL=$${REGIE_PUBLIC_URL:-http://localhost:$(PORT)} \
	REGIE_DATABASE_URL=$${REGIE_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/regie} \
	$(BIN)/regie migrate --create-database
	REGIE_MODE=$${REGIE_MODE:-development} \
	REGIE_PUBLIC_URL=$${REGIE_PUBLIC_URL:-http://localhost:$(PORT)} \
	REGIE_DATABASE_URL=$${REGIE_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/regie} \
	$(BIN)/regie serve --port $(PORT) --workers $(WORKERS)

## make demo: the mission's story, end to end, on a temporary vault of its own (docs/demo.md)
demo: $(VENV)/.installed
	$(BIN)/regie demo

## system-deps: Debian packages the tests need (SoftHSM2 for the PKCS#11 backend, Chromium
## for the resident app's browser tests; Playwright drives Debian's /usr/bin/chromium; Go and
## golang.org/x/mod for the Go verifier of the audit log, tests/e2e/test_go_verifier.py; libfaketime
## for the clock-skew fault test, tests/e2e/test_clock_skew.py)
system-deps:
	@if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null 2>&1; then \
		echo "installing softhsm2"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq softhsm2; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi
	@if [ ! -e /usr/lib/$$(uname -m)-linux-gnu/faketime/libfaketime.so.1 ]; then \
		echo "installing faketime"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq faketime; \
	fi
	@if ! command -v go >/dev/null 2>&1 || [ ! -d /usr/share/gocode/src/golang.org/x/mod/sumdb ]; then \
		echo "installing golang-go and golang-golang-x-mod-dev"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq golang-go golang-golang-x-mod-dev; \
	fi

## make test: install what the tests need and run the whole suite (SQLite and PostgreSQL)
test: $(VENV)/.installed-dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit --quiet --recursive vault keys api clients

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

## make lock: regenerate requirements.lock (exact versions + hashes, what the Docker image installs)
## from pyproject.toml; run it after changing a dependency (tests/unit/test_lock_file.py checks it)
lock: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml
