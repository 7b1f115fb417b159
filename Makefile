# CityHub: `make run` starts the platform, `make test` runs every test. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_BIN := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help install browser wrk run test test-fast lint format protos proto-drift bench clean

help: ## List every target with a one-line description
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

$(UV_BIN):
	@echo "installing uv (the Python package manager) for this user"
	@python3 -m pip install --quiet --user uv || python3 -m pip install --quiet --user --break-system-packages uv

$(VENV)/.synced: $(UV_BIN) uv.lock pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV_BIN) sync --all-packages --locked
	@touch $@

install: $(VENV)/.synced browser wrk ## Install every dependency, pinned by uv.lock, into .venv

# The browser tests drive Debian's chromium (Playwright never downloads a browser of its own).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: the browser tests need chromium: sudo apt-get install -y chromium"; fi; }

# `make bench` (and its smoke test) drive the gateway with Debian's wrk.
wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's wrk for make bench"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "note: make bench needs wrk: sudo apt-get install -y wrk"; fi; }

run: install ## Start the whole platform with a seeded demo city (Ctrl-C stops it)
	$(PY) scripts/run.py

test: install ## Run the whole test suite (real NATS, real databases, real gRPC servers)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: install ## Run the tests without the suites marked slow
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

lint: install proto-drift ## ruff, mypy, buf lint and the generated-code drift check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services/*/src
	cd protos && ../$(VENV)/bin/buf lint

format: install ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

protos: install ## Regenerate protos/gen/python from protos/cityhub
	PYTHON=$(PY) scripts/gen_protos.sh

proto-drift: install ## Fail when the committed generated code differs from the protos
	@PYTHON=$(PY) scripts/gen_protos.sh >/dev/null
	@git diff --exit-code --stat -- protos/gen || (echo "protos/gen is stale: run 'make protos' and commit" && exit 1)
	@test -z "$$(git status --porcelain -- protos/gen)" || (git status --porcelain -- protos/gen; echo "untracked generated files: run 'make protos' and commit" && exit 1)

bench: install ## Start the platform, load realistic data, measure every scenario: docs/benchmarks.{md,json}
	$(PY) scripts/bench.py $(BENCH)

clean: ## Remove the local run state (.run/) and caches
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
