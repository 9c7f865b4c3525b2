# Moldau — set-up, run and test. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TSTAMP := $(VENV)/.test-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
BSTAMP := $(VENV)/.bench-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DATA   ?= ./moldau-data
LISTEN ?= PLAINTEXT://127.0.0.1:9092

.PHONY: install bytecode run test lint typecheck system-deps bench clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $@

# Byte-compile the (editable) source tree, as pip does for an installed wheel: where
# PYTHONDONTWRITEBYTECODE is set nothing else writes the caches, and every start of the
# broker would compile each module again (about 100 ms). Only changed files are redone.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q src >/dev/null

install: $(STAMP) bytecode

$(TSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# System packages the tests drive: Debian's kcat (librdkafka 2.0.x, the old client we support).
system-deps:
	@command -v kcat >/dev/null 2>&1 || { \
	  echo "installing Debian package kcat"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq kcat; }

run: install
	$(BIN)/moldau serve --data-dir $(DATA) --listeners $(LISTEN)

lint: $(TSTAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(TSTAMP)
	$(BIN)/mypy

test: $(TSTAMP) bytecode system-deps lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

$(BSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

# Moldau and Tansu side by side (docs/performance.md); BENCH_QUICK=1 for a short sanity run.
bench: $(BSTAMP) bytecode
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
