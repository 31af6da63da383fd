# The two commands a newcomer needs: `make run` and `make test` (README.md). Everything else is optional.
# Both install what they need into local virtual environments first (.venv, and .venv-sam for SAM CLI).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run seed test pytest lint format typecheck validate build bench clean venv sam browser openapi sso-demo

$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt layers/center/requirements.txt layers/passkeys/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	@touch $@

# The browser tests: headless Chromium and a CJK font (Debian's packages; root, or sudo) and the npm
# packages of tests/browser (openid-client, playwright-core), pinned by its package-lock.json.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BROWSER := tests/browser/node_modules/.installed
$(BROWSER): tests/browser/package.json tests/browser/package-lock.json
	@dpkg -s chromium fonts-wqy-zenhei >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-wqy-zenhei >/dev/null; }
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

venv: $(VENV)/.installed
sam: $(SAM_VENV)/.installed
browser: $(BROWSER)

## Serve the whole API on http://127.0.0.1:$${PORT:-3000} with an embedded DynamoDB.
run: venv
	$(PY) -m localdev

## Load N users (default 1000) into local mode: a running `make run`, or else the snapshot in .local/.
## They sign in as seed000000 ... with the password seed-password (localdev/seed.py).
N ?= 1000
seed: venv
	$(PY) -m localdev.seed $(N)

## Two business systems on http://127.0.0.1:8001 and :8002 that sign in through a running `make run`
## (examples/sso-demo: single sign-on and single logout; ADMIN_USERNAME/ADMIN_PASSWORD as for make run).
sso-demo: venv
	$(PY) examples/sso-demo/demo.py

## Everything CI runs: lint, types, template checks, sam build, unit/handler/e2e tests.
test: venv sam browser lint typecheck pytest

pytest: venv sam browser
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check shared functions localdev buildtools tests bench scripts sdk examples
	$(VENV)/bin/ruff format --check shared functions localdev buildtools tests bench scripts sdk examples

format: venv
	$(VENV)/bin/ruff format shared functions localdev buildtools tests bench scripts sdk examples
	$(VENV)/bin/ruff check --fix shared functions localdev buildtools tests bench scripts sdk examples

typecheck: venv
	$(VENV)/bin/mypy

validate: venv sam
	$(SAM) validate --lint
	$(VENV)/bin/cfn-lint template.yaml

build: venv sam
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM) build

## The API's OpenAPI document (docs/openapi.json), generated from every function's routes.
openapi: venv
	$(PY) -m buildtools.openapi document > docs/openapi.json

## Round trips, cold starts, authorizer latency, package sizes, bcrypt cost (DESIGN.md "Quality bars").
bench: build
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m bench

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
