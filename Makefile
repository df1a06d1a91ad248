# Two commands for a newcomer: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres lint openapi openapi-check lock bench clean

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

## The whole suite; on PostgreSQL when GOODWILL_TEST_DATABASE_URL is set.
test: $(STAMP)
	$(BIN)/pytest

test-postgres: $(STAMP)
	GOODWILL_TEST_DATABASE_URL=$${GOODWILL_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} $(BIN)/pytest

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

## Re-resolve the lock files (development, and runtime-only for the image) after changing pyproject.toml (needs network to PyPI).
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile --quiet pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 -o requirements.lock
	$(PYTHON) -m uv pip compile --quiet pyproject.toml --generate-hashes \
		--python-version 3.11 -o requirements-runtime.lock

## Reciprocity read latency at 10, 10,000 and 100,000 ledger entries on the local PostgreSQL
## (GOODWILL_BENCH_DATABASE_URL; BENCH_ARGS=--quick for a smoke run). Not part of `make test`.
bench: $(STAMP)
	$(BIN)/python bench/reciprocity.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
