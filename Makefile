# The two commands of the README:
#   make book   set everything up and build the executed book into _build/html
#   make test   set everything up, then lint, run the unit tests, build the book strictly
#               and check every built page in headless Chromium
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# -W: any Sphinx warning fails the build; -n: so does a broken reference;
# --keep-going: report every warning before failing. Cell errors fail it through
# execute.raise_on_error in _config.yml.
JB_FLAGS := --warningiserror --nitpick --keep-going
FASHION_DEB_DIR := /usr/share/datasets/fashion-mnist

.PHONY: book test setup data node browser lint unit build site twins bench clean

book: setup data build

test: setup data node browser lint unit build site

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $@

# Fashion-MNIST: Debian's package where we are root on Debian/Ubuntu, else the loader
# downloads the official files once into its cache and verifies them.
data: setup
	@if [ -d $(FASHION_DEB_DIR) ]; then \
	  echo "Fashion-MNIST: $(FASHION_DEB_DIR)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist \
	    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist; }; }; then \
	  echo "Fashion-MNIST: installed Debian's dataset-fashion-mnist"; \
	else \
	  echo "Fashion-MNIST: no Debian package; the loader downloads the official files"; \
	fi
	$(BIN)/python -m dlcv.data --check

# Node packages pinned in package.json: a local MathJax for the site tests.
node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

# Debian's Chromium for the site tests, where we are root on Debian/Ubuntu.
browser:
	@if command -v chromium >/dev/null; then \
	  echo "Chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; \
	else \
	  echo "Chromium: not installed and not root; set CHROMIUM=/path/to/chromium for make site"; \
	fi

lint: setup
	$(BIN)/ruff check code benchmarks
	$(BIN)/ruff format --check code benchmarks
	$(BIN)/actionlint .github/workflows/*.yml

unit: setup
	$(BIN)/python -m pytest -m "not site"

build: setup
	$(BIN)/jupyter-book build . $(JB_FLAGS)

# Checks of the built site in headless Chromium (needs `make build` first).
site: setup node
	$(BIN)/python -m pytest -m site

# Regenerate the Colab/Binder notebook twins of the chapters (tests check they are in sync).
twins: setup
	$(BIN)/python -m dlcv.twins

bench: setup data
	$(BIN)/python benchmarks/bench_knn.py

clean:
	rm -rf _build
