# Two commands on a fresh machine: `make dev` runs the whole destination locally; `make test` checks it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
WEB_STAMP := tests/web/node_modules/.installed

.PHONY: install lock browser dev replay unpark test lint unit bench soak clean

# Installs exactly the hashed lock: the same packages on every machine, or a refusal.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

lock: install  ## regenerate the hashed locks from pyproject.toml and the layer's requirements
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links --strip-extras \
		--extra dev --output-file $(LOCK) pyproject.toml
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links --strip-extras \
		--output-file layers/shared/requirements.lock layers/shared/requirements.txt

# Web mode's tests: the real @segment/analytics-next from npm, and Debian's Chromium (no browser download).
$(WEB_STAMP): tests/web/package.json tests/web/package-lock.json
	npm ci --prefix tests/web --no-audit --no-fund --silent
	touch $(WEB_STAMP)

browser: $(WEB_STAMP)
	@command -v chromium >/dev/null || apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)

dev: install  ## run the destination, an Intercom sandbox and SQS locally (PORT, WRITE_KEY, INTERCOM_API_BASE)
	PYTHONUNBUFFERED=1 $(BIN)/python -m local.dev

replay: install  ## with `make dev` running: replay the dead-letter queue once and print a summary
	$(BIN)/python -m local.replay

unpark: install  ## with `make dev` running: move parked messages back to the dead-letter queue
	$(BIN)/python -m local.replay --unpark

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

test: lint browser  ## lint, types, then unit, integration, contract, end-to-end and browser tests
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

bench: install  ## Intercom calls per event, latency, and answer times under a slow or down Intercom, as tables
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.budget

soak: install  ## 1,000 events with 20 % of Intercom calls failing, replayed until every event is in exactly once
	$(BIN)/python -m benchmarks.soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
