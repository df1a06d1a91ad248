# Two commands for a newcomer: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres fault-test image-check lint openapi openapi-check openapi-lint client-check client-check-lock docs lock bench bench-quick bench-tools clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Serve on 127.0.0.1:8000 with the embedded SQLite database (./goodwill.db).
run: $(STAMP)
	$(BIN)/goodwill migrate
	$(BIN)/goodwill serve

## The whole suite; on PostgreSQL when GOODWILL_TEST_DATABASE_URL is set. One pytest-xdist
## worker per core, each with a database of its own (tests/conftest.py): on 2 cores about a
## third faster on SQLite than one process. Ad-hoc `pytest` runs stay in one process.
PYTEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test-postgres: $(STAMP)
	GOODWILL_TEST_DATABASE_URL=$${GOODWILL_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} $(BIN)/pytest -n $(PYTEST_WORKERS)

## PostgreSQL restarted under a write load on `goodwill serve --workers 2`: no acknowledged
## write lost, none written twice, only 2xx and 503 answered (tests/fault/postgres_restart.py).
## Makes, restarts and removes a throwaway cluster of its own (PostgreSQL 15's binaries; run as
## root or as a user who can run initdb), never the one the tests use. About half a minute.
fault-test: $(STAMP)
	$(BIN)/python -m tests.fault.postgres_restart

## The production image built and run for real with Debian's podman (docker/image-check.sh): on
## a stand-in base debootstrapped from Debian's python3, started on a volume, /readyz, an owner
## made inside it, one authenticated request, non-root and the database on the volume checked;
## prints the image's size. Root, deb.debian.org and PyPI needed; about six minutes the first
## time on a machine (half of it debootstrap), under a minute once podman's store has the base.
image-check:
	docker/image-check.sh

lint: $(STAMP)
	$(BIN)/ruff check app tests migrations $(wildcard bench)
	$(BIN)/ruff format --check app tests $(wildcard bench)

## Regenerate openapi/openapi.json from the app.
openapi: $(STAMP)
	$(BIN)/goodwill openapi --output openapi/openapi.json

## Fail when the committed OpenAPI document differs from the app's.
openapi-check: $(STAMP)
	$(BIN)/goodwill openapi --output $(VENV)/openapi.json
	diff -u openapi/openapi.json $(VENV)/openapi.json

## Lint openapi/openapi.json with Spectral: spectral:oas and the OWASP API Security ruleset, as
## openapi/.spectral.yaml sets them (the rules turned off, each with its reason). Fails on an
## error; prints the warnings. Spectral is pinned by openapi/package-lock.json and installed
## with `npm ci` when openapi/node_modules is missing or older than the lock (needs npm).
SPECTRAL_STAMP := openapi/node_modules/.installed
$(SPECTRAL_STAMP): openapi/package.json openapi/package-lock.json
	cd openapi && npm ci --no-audit --no-fund --loglevel=error
	touch $(SPECTRAL_STAMP)

openapi-lint: $(SPECTRAL_STAMP)
	cd openapi && npx --no-install spectral lint --ruleset .spectral.yaml --fail-severity error \
		openapi.json

## A client generated from openapi/openapi.json (openapi-python-client, in a virtualenv of its
## own: openapi/client-check/.venv) calls a live server on a temporary SQLite database:
## idempotent create and its replay, If-None-Match, If-Match, paging by cursor, the feed.
client-check: $(STAMP)
	openapi/client-check/run.sh

## Re-pin openapi/client-check/requirements.txt (with hashes) from requirements.in.
client-check-lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile --quiet openapi/client-check/requirements.in --generate-hashes \
		--python-version 3.11 -o openapi/client-check/requirements.txt

## Regenerate docs/configuration.md from the settings (app/core/config.py); tests/test_docs.py
## fails when the committed file is stale.
docs: $(STAMP)
	$(BIN)/python -m app.core.config_docs --output docs/configuration.md

## Re-resolve the lock files (development, and runtime-only for the image) after changing pyproject.toml (needs network to PyPI).
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile --quiet pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 -o requirements.lock
	$(PYTHON) -m uv pip compile --quiet pyproject.toml --generate-hashes \
		--python-version 3.11 -o requirements-runtime.lock

## Goodwill against its own ceilings in one run (bench/README.md): seeds a fresh database on
## the local PostgreSQL (GOODWILL_BENCH_DATABASE_URL), loads every endpoint with wrk next to a
## hello-world app, prints one table. About 12 minutes; never part of `make test`.
bench: $(STAMP) bench-tools
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## The same in about a minute: a small seed, 1 s per row, one round (CI runs it last).
bench-quick: $(STAMP) bench-tools
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)

## Debian's wrk, installed when missing (needs root, as on the project's machines and in CI).
bench-tools:
	@command -v wrk >/dev/null || { \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends wrk; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis openapi/node_modules openapi/client-check/.venv
