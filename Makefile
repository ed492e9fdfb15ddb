# The README's two commands: `make run` and `make test`. Needs only Python >= 3.12.
# PYTHON may be set to any interpreter >= 3.12; otherwise the first suitable one found is used.
PYTHON ?= $(shell for p in python3.13 python3.12 python3 $$HOME/.pyenv/versions/3.13*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench bench-console profile-token soak faults clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "No Python >= 3.12 found. Install one, or run: make PYTHON=/path/to/python3.12 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet ".[test]"
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	DJANGO_DEBUG=true $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=true $(BIN)/python manage.py demo_data --url http://$(HOST):$(PORT)/
	@echo "Serving the console on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	DJANGO_DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The node OAuth clients some tests drive (tests/node: openid-client), installed with npm ci.
# Without node and npm those tests are skipped, except in CI (CI=true), where that is an error.
NODE_CLIENTS := tests/node/node_modules/.package-lock.json

$(NODE_CLIENTS): tests/node/package.json tests/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/node --no-audit --no-fund --loglevel=error; \
	elif [ -n "$$CI" ]; then \
		echo "CI needs node and npm for the tests in tests/node (openid-client)."; exit 1; \
	else \
		echo "npm not found: the node client tests (tests/node) will be skipped."; \
	fi

test: $(VENV)/.installed-test $(NODE_CLIENTS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The token endpoint benchmark (not part of `make test`): PostgreSQL on 127.0.0.1:5432 and wrk.
bench: $(VENV)/.installed-run
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Every console page at scale (seed_scale on a throwaway PostgreSQL database): SQL, p50/p95, bytes.
# BENCH_CONSOLE_DATABASE_URL picks the database; BENCH_CONSOLE_ARGS="--repeat 40 --keep" passes options
# (--reuse: an already seeded database; --only TEXT: the pages whose name contains it).
bench-console: $(VENV)/.installed-run
	$(BIN)/python bench/console.py $(BENCH_CONSOLE_ARGS)

# Where one token request spends its time: SQL statements, CPU per request, pyinstrument profile.
# PROFILE_ARGS="--target api" profiles the API's token check instead; --html FILE for the full tree.
profile-token: $(VENV)/.installed-test
	$(BIN)/python bench/profile_token.py $(PROFILE_ARGS)

# Faults and load (not part of `make test`): PostgreSQL on 127.0.0.1:5432 and Redis on 6379 here.
# faults: restarts PostgreSQL and Redis under load, two instances, malformed HTTP (about 1.5 min).
faults: $(VENV)/.installed-run
	$(BIN)/python bench/faults.py $(FAULTS_ARGS)

# soak: tokens and API calls for SOAK_SECONDS (default 180); errors must be 0, worker memory flat.
soak: $(VENV)/.installed-run
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache build *.egg-info tests/node/node_modules
