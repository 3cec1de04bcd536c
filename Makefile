# Two commands on a fresh machine: `make dev` runs the whole destination locally; `make test` checks it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
WEB_STAMP := tests/web/node_modules/.installed
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-$(shell cat requirements/sam.lock | cksum | cut -d' ' -f1)

.PHONY: install sam lock browser dev replay unpark forget backfill actions-check preview test lint unit bench soak clean

# Installs exactly the hashed lock: the same packages on every machine, or a refusal. An older Python is
# named first, in one line (pip would answer with a wall of resolver errors).
CHECK_PYTHON = @$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	echo "make: Python 3.11 or newer is needed; $(PYTHON) is $$($(PYTHON) --version 2>&1 || echo missing). Run with PYTHON=python3.13 (or any 3.11+)" >&2; exit 2; }

$(STAMP): pyproject.toml $(LOCK)
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The SAM CLI pins pydantic apart from our runtime, so it lives in a venv of its own, from its own lock.
$(SAM_STAMP): requirements/sam.lock
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/sam.lock
	rm -f $(SAM_VENV)/.installed-*
	touch $(SAM_STAMP)

sam: $(SAM_STAMP)

COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links --strip-extras

# The layer leaves out botocore and its own dependencies: the Lambda runtime has them (X-Ray's SDK asks for botocore).
lock: install  ## regenerate the hashed locks from pyproject.toml, the layer's requirements and requirements/sam.in
	$(COMPILE) --allow-unsafe --extra dev --output-file $(LOCK) pyproject.toml
	$(COMPILE) --unsafe-package botocore --unsafe-package python-dateutil --unsafe-package six \
		--output-file layers/shared/requirements.lock layers/shared/requirements.txt
	$(COMPILE) --allow-unsafe --output-file requirements/sam.lock requirements/sam.in

# Web mode's tests: the real @segment/analytics-next from npm, and Debian's Chromium (no browser download).
# Each missing tool is named in one line, with how to get it.
$(WEB_STAMP): tests/web/package.json tests/web/package-lock.json
	@command -v npm >/dev/null || { echo "make: the browser tests need npm 7 or newer (Node.js): install it (apt-get install npm, or nodejs.org) and run make test again" >&2; exit 2; }
	npm ci --prefix tests/web --no-audit --no-fund --silent
	touch $(WEB_STAMP)

browser: $(WEB_STAMP)
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; }; } || { \
		echo "make: the browser tests need Chromium on the PATH as chromium: install it (sudo apt-get install chromium; any recent Chromium will do) and run make test again" >&2; exit 2; }

dev: install  ## run the destination, an Intercom sandbox and SQS locally (PORT, WRITE_KEY, ACTIONS_FILE, INTERCOM_API_BASE)
	PYTHONUNBUFFERED=1 $(BIN)/python -m local.dev

replay: install  ## with `make dev` running: replay the dead-letter queue once and print a summary
	$(BIN)/python -m local.replay

unpark: install  ## with `make dev` running: move parked messages back to the dead-letter queue
	$(BIN)/python -m local.replay --unpark

forget: install  ## with `make dev` running: USER_ID=u-1 and/or EMAIL=...: delete the person everywhere, print what went
	$(BIN)/python -m local.forget

actions-check: install  ## validate the actions file (ACTIONS_FILE, else the layer's default) and list its actions
	$(BIN)/python -m local.actions check

backfill: install  ## with `make dev` running: FILE=<archive file or folder> [DRY_RUN=1] [SHARE=0.5] [RUN=name]: history into Intercom, resumable
	$(BIN)/python -m local.backfill $(FILE) $(if $(DRY_RUN),--dry-run) $(if $(SHARE),--share $(SHARE)) $(if $(RUN),--run $(RUN)) $(if $(STATUS),--status $(STATUS))

preview: install  ## EVENT=events/track.json (or - for stdin): the actions it fires and the Intercom requests; none sent
	@test -n "$(EVENT)" || (echo "usage: make preview EVENT=events/track.json   (or EVENT=- to read stdin)" && exit 2)
	$(BIN)/python -m local.actions preview $(EVENT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

test: lint browser sam  ## lint, types, then unit, integration, contract, end-to-end, browser and build tests
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

bench: install  ## every benchmark, as tables, each written into docs/benchmarks.md (benchmarks/record.py lists them)
	$(BIN)/python -m benchmarks.record

soak: install  ## 1,000 events with 20 % of Intercom calls failing, replayed until every event is in exactly once
	$(BIN)/python -m benchmarks.record soak

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
