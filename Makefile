# Tallyhold. `make run` and `make test` install what is missing (into .venv/ and node_modules/ of this
# checkout, plus Debian packages when a command is absent) and then do their job. `make help` lists targets.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
PYTHON       ?= python3
VENV         := .venv
UV           := .tools/bin/uv
CHECKOV      := .tools/checkov/bin/checkov
BIN          := $(VENV)/bin
IMAGE_TOOLS  := podman=podman runc=runc catatonit=catatonit mmdebstrap=mmdebstrap newuidmap=uidmap
DEBIAN_TOOLS := promtool=prometheus prometheus=prometheus $(IMAGE_TOOLS) chromium=chromium
PYTEST_ARGS  ?=
PROJECT_SOURCES := services/tracker/src services/sandbox/src provisioner/src
# What the test run leaves for the secret scan: pytest's output and the services' logs (tests/fixtures/artefacts.py).
TEST_ARTEFACTS := .test-artefacts
# Generated files the secret scan reads after the tests, besides every tracked file. One line adds a folder or
# file, e.g.:  SECRET_SCAN_PATHS += build/rendered-manifests
SECRET_SCAN_PATHS := $(TEST_ARTEFACTS)

.DEFAULT_GOAL := help
.PHONY: help install run test scan-secrets lint format typecheck bench migrate migration contracts clean debian checkov image web-assets

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

install: $(VENV)/.installed node_modules/.installed ## Install Python (uv.lock) and Node (package-lock.json) dependencies
	@umask 022; $(BIN)/python -m compileall -q -j 0 $(PROJECT_SOURCES)
	@umask 022; $(BIN)/python -X no_debug_ranges -m compileall -q -j 0 -o 2 $(PROJECT_SOURCES)

$(UV): tools/uv-requirements.txt
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --require-hashes -r tools/uv-requirements.txt
	@touch $@

# With bytecode compiled, readable by all (umask 022): the local backend runs each customer's instance and egress
# worker as an OS user of its own, who cannot write __pycache__ into the venv or the checkout, so every start
# would otherwise compile its imports from source again (the worker's 1,600 modules: about 2 s of CPU per sync;
# README, "Customers per host"). uv compiles the whole site-packages; `install` then compiles the workspace's own
# sources (installed editable), which takes a fraction of a second when they are fresh. Instances run with
# `python -OO` and without column ranges (PYTHONOPTIMIZE=2, PYTHONNODEBUGRANGES=1: README, "Customers per host"),
# which read `.opt-2.pyc` files: those are compiled too, without column ranges.
$(VENV)/.installed: $(UV) uv.lock pyproject.toml services/tracker/pyproject.toml services/sandbox/pyproject.toml provisioner/pyproject.toml Makefile
	umask 022; $(UV) sync --frozen --all-packages --python $(PYTHON) --quiet --compile-bytecode
	umask 022; $(BIN)/python -X no_debug_ranges -m compileall -q -j 0 -o 2 \
		"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	@touch $@

# checkov (policy checks of the Terraform modules and the rendered Helm charts) in a venv of its own: it pins many libraries that would
# fight the project's lock. Pinned with hashes like uv above.
checkov: $(CHECKOV) ## Install checkov into .tools/checkov (the Terraform and chart tests run it)

$(CHECKOV): tools/checkov-requirements.txt
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet --require-hashes -r tools/checkov-requirements.txt
	@touch $@

# Not `npm ci`: anvil lists every platform's binary as an optional dependency, and `npm ci` insists on lock
# entries for all of them. `npm install --no-save` installs exactly the locked versions and never rewrites the lock.
node_modules/.installed: package.json package-lock.json
	npm install --no-save --no-audit --no-fund --loglevel=error
	@touch $@

debian: ## Install the Debian packages the tests use, when missing (prometheus, podman, runc, catatonit, mmdebstrap, uidmap, chromium)
	@tools/ensure-debian-packages $(DEBIAN_TOOLS)

# The tracker's image, localhost/tallyhold:<version>, on a base made from Debian's packages (kept between runs).
image: install ## Build the tracker's container image with podman (localhost/tallyhold:<version>)
	@tools/ensure-debian-packages $(IMAGE_TOOLS)
	$(BIN)/python -m tallyhold_provision.podman.image

run: install ## Start the whole local platform with a demo customer; prints `url:` and `token:`
	@if [ "$${TALLYHOLD_PROVISIONER_DEFAULT_BACKEND:-}" = podman ]; then tools/ensure-debian-packages $(IMAGE_TOOLS); fi
	@$(BIN)/python -m tallyhold_provision.devstack

test: install debian checkov ## Run the whole test suite against real services it starts itself, then the secret scan
	@mkdir -p $(TEST_ARTEFACTS)
	$(BIN)/pytest $(PYTEST_ARGS) 2>&1 | tee $(TEST_ARTEFACTS)/pytest-output.log
	@$(MAKE) --no-print-directory scan-secrets

scan-secrets: install ## Secret scan (detect-secrets) of every tracked file and of SECRET_SCAN_PATHS
	$(BIN)/python tools/secretscan/scan.py --repository $(SECRET_SCAN_PATHS)

lint: install ## ruff (lint and format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy, strict
	$(BIN)/mypy services/tracker/src services/sandbox/src provisioner/src tests bench tools

bench: install debian ## Print the benchmarks' figures (bench/)
	$(BIN)/python -m bench

migrate: install ## Migrate the schema named by TALLYHOLD_* settings (tallyhold migrate)
	$(BIN)/tallyhold migrate

migration: install ## Autogenerate a migration: make migration m="what changed" (needs a running dev stack)
	$(BIN)/python -m tallyhold_provision.devstack --new-migration "$(m)"

web-assets: node_modules/.installed ## Copy the web pages' chart library (npm uplot) into the package's static files
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css services/tracker/src/tallyhold/web/static/vendor/
	cp node_modules/uplot/LICENSE services/tracker/src/tallyhold/web/static/vendor/uPlot.LICENSE

contracts: node_modules/.installed ## Rebuild the Solidity test token with solc-js (reproducible)
	node tools/compile-contracts.mjs

clean: ## Remove installed dependencies (not the .tallyhold/ state)
	rm -rf $(VENV) .tools node_modules $(TEST_ARTEFACTS)
