# The two commands of the README: `make book` and `make test`. Both create .venv when missing and install
# the project into it (torch/torchvision resolve to the releases pip finds: 2.14.1 / 0.29.1 on the project
# machines), so a fresh machine needs only Python 3.11, git and make.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install results book test chromium clean

help:
	@echo "make book   - install, run the default experiment, build the book to book/_build/html"
	@echo "make test   - install, run the whole test suite"
	@echo "make clean  - remove the built book (keeps .venv, data and caches)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the declared dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.1"
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	@touch $@

install: $(STAMP)

# The default (smallest) experiment: original and retrained model on digits → data/results/quickstart/.
results: $(STAMP)
	$(BIN)/python -m cu_core quickstart

book: results
	$(BIN)/jupyter-book build book --all -W -n --keep-going

# tests/test_browser.py opens the built book in headless Chromium: install Debian's package when it is missing
# and we are root (as on CI); otherwise say so and go on (that test then skips, naming the reason).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get) for tests/test_browser.py"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: apt-get could not install chromium: tests/test_browser.py will skip"; \
	  else echo "note: chromium not found and not root: tests/test_browser.py will skip (apt-get install chromium)"; fi; }

test: $(STAMP) chromium
	$(BIN)/python -m pytest

clean:
	rm -rf book/_build
