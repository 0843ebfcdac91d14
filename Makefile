# The two commands of the README: `make book` and `make test`. Both create .venv when missing and install
# the project into it (torch/torchvision resolve to the releases pip finds: 2.14.1 / 0.29.1 on the project
# machines), so a fresh machine needs only Python 3.11, 3.12 or 3.13 (pyproject.toml says why), git and make.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3.12 2>/dev/null || \
                  command -v python3.13 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Where pip gets torch and torchvision (installed first; the project's own install then finds them present):
#   TORCH_INDEX=pypi  (default) pip's own configuration (PyPI): the CUDA build on Linux x86-64, several GB with its
#                     nvidia-* wheels. The default, because the project machines (and CI) reach PyPI only and a
#                     default must never contact another host
#   TORCH_INDEX=auto  PyTorch's CPU-only wheel index when this machine has no NVIDIA GPU (no nvidia-smi) and that
#                     index answers within 5 s; otherwise as pypi
#   TORCH_INDEX=cpu   PyTorch's CPU-only wheel index (TORCH_CPU_INDEX, a few hundred MB)
#   TORCH_INDEX=URL   any other index (http:// or https://), e.g. https://download.pytorch.org/whl/cu126
# The choice applies when torch is not installed yet: to switch an existing .venv, delete it first.
TORCH_INDEX ?= pypi
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_REQS := "torch>=2.2" "torchvision>=0.17"
# prints the index that TORCH_INDEX resolves to ("pypi" for pip's own configuration); fails on a bad value
define choose_torch_index
index='$(TORCH_INDEX)'; \
if [ "$$index" = auto ]; then \
  if command -v nvidia-smi >/dev/null 2>&1; then index=pypi; \
  elif '$(PYTHON)' -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=5)' \
       '$(TORCH_CPU_INDEX)' >/dev/null 2>&1; then index=cpu; \
  else index=pypi; fi; \
fi; \
case "$$index" in \
  pypi) echo pypi ;; \
  cpu) echo '$(TORCH_CPU_INDEX)' ;; \
  http://*|https://*) echo "$$index" ;; \
  *) echo "TORCH_INDEX=$$index is not allowed: expected auto, pypi, cpu or an http(s):// index URL" >&2; exit 2 ;; \
esac
endef

.PHONY: help install torch-index results book test chromium clean

help:
	@echo "make book   - install, run the default experiment, build the book to book/_build/html"
	@echo "make test   - install, run the whole test suite"
	@echo "make clean  - remove the built book (keeps .venv, data and caches)"
	@echo "make install TORCH_INDEX=cpu - install with CPU-only PyTorch (default: pypi; auto picks; see the Makefile)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the declared dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.1"
	@index="$$($(choose_torch_index))" || exit 2; \
	if [ "$$index" = pypi ]; then echo "torch, torchvision: from pip's configured index (TORCH_INDEX=$(TORCH_INDEX))"; \
	else echo "torch, torchvision: from $$index (TORCH_INDEX=$(TORCH_INDEX))"; \
	  $(BIN)/python -m pip install --quiet --index-url "$$index" $(TORCH_REQS) || exit 1; fi
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	@touch $@

install: $(STAMP)

torch-index:
	@$(choose_torch_index)

# The default (smallest) experiment: original and retrained model on digits, written to an ignored folder
# (book/_build/quickstart-results/quickstart/) so that `make book` rewrites no tracked file; the book's quickstart
# page reads it through CU_QUICKSTART_RESULTS_DIR (a bare `jupyter-book build` reads data/results/quickstart/).
QUICKSTART_RESULTS := book/_build/quickstart-results
results: $(STAMP)
	$(BIN)/python -m cu_core quickstart --results-dir $(QUICKSTART_RESULTS)

book: results
	CU_QUICKSTART_RESULTS_DIR=$(CURDIR)/$(QUICKSTART_RESULTS) $(BIN)/jupyter-book build book --all -W -n --keep-going

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
