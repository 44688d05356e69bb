# The two commands of the README:
#   make book   set everything up and build the executed book into _build/html
#   make test   set everything up, then lint, run the unit tests, build the book strictly
#               and check every built page in headless Chromium
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# The locks are made for CPython 3.11 on x86_64 Linux (see `lock`).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# -W: any Sphinx warning fails the build; -n: so does a broken reference;
# --keep-going: report every warning before failing. Cell errors fail it through
# execute.raise_on_error in _config.yml.
JB_FLAGS := --warningiserror --nitpick --keep-going
FASHION_DEB_DIR := /usr/share/datasets/fashion-mnist
FORTUNE_DIR := /usr/share/games/fortunes
# What .venv installs: every package, transitive ones included, pinned with its sha256
# hashes (written by `make lock`). The default holds torch's CPU build; the GPU workflow
# sets LOCK=requirements-cuda-lock.txt, the same pins with torch's CUDA build.
LOCK ?= requirements-lock.txt

.PHONY: book test setup lock data node browser lint unit build site twins bench clean

book: setup data build

test: setup data node browser lint unit build site

setup: $(VENV)/.installed

# The stamp names the lock installed: another LOCK than last time installs again.
ifneq ($(shell cat $(VENV)/.installed 2>/dev/null),$(LOCK))
.PHONY: $(VENV)/.installed
endif

# --require-hashes: pip installs exactly the lock's files (pip included) or stops.
# dlcv cannot be hashed: it comes after, without dependencies (the lock holds them all)
# and built with the lock's setuptools.
$(VENV)/.installed: $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import platform as p, sys; v = (sys.implementation.name, \
	  sys.version_info[:2], sys.platform, p.machine()); sys.exit(None if v == ("cpython", \
	  (3, 11), "linux", "x86_64") else f"$(LOCK) is for CPython 3.11 on x86_64 Linux, " \
	  f"but $(PYTHON) is {p.python_implementation()} {p.python_version()} on " \
	  f"{p.machine()} {sys.platform}")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	echo $(LOCK) > $@

# Regenerate both locks from requirements.txt and pyproject.toml (dlcv's dependencies
# and its test extra) with uv, installed at a fixed version into a throwaway venv. They
# are for CPython 3.11 on x86_64 Linux (manylinux_2_28) and also pin pip. LOCK_DATE: the
# resolver sees only releases uploaded before it, so the same command writes the same
# files; move it forward to take newer transitive releases. The CPU lock takes torch's
# CPU build (2.13.0+cpu) from TORCH_CPU_WHEELS, pip's find-links where set (/opt/wheels
# on the CI machines), else PyTorch's CPU wheel page; the CUDA lock takes PyPI's torch,
# the CUDA build on Linux, with its nvidia-* libraries.
UV_VERSION := 0.13.9
LOCK_DATE ?= 2026-11-30T00:00:00Z
TORCH_CPU_WHEELS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
UV_COMPILE = pip compile requirements.txt pyproject.toml - --extra test --upgrade \
  --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --exclude-newer $(LOCK_DATE) --no-config --custom-compile-command "make lock" --quiet

lock:
	tool="$$(mktemp -d)" && trap 'rm -rf "$$tool"' EXIT \
	  && $(PYTHON) -m venv "$$tool" \
	  && "$$tool/bin/python" -m pip install --quiet uv==$(UV_VERSION) \
	  && echo pip | "$$tool/bin/uv" $(UV_COMPILE) \
	    $(addprefix --find-links ,$(TORCH_CPU_WHEELS)) -o requirements-lock.txt \
	  && echo pip | "$$tool/bin/uv" $(UV_COMPILE) -o requirements-cuda-lock.txt

# Fashion-MNIST: Debian's package where we are root on Debian/Ubuntu, else the loader
# downloads the official files once into its cache and verifies them. The text corpus of
# the recurrent-network chapter, Debian's `fortunes` (fortune-mod, BSD licence), comes
# only from the package: as root it is installed here, elsewhere install it by hand.
DATA_DEBS = dataset-fashion-mnist fortunes
data: setup
	@if [ -d $(FASHION_DEB_DIR) ] && [ -f $(FORTUNE_DIR)/literature ]; then \
	  echo "Fashion-MNIST: $(FASHION_DEB_DIR); fortunes: $(FORTUNE_DIR)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DATA_DEBS) \
	    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DATA_DEBS); }; }; then \
	  echo "Installed Debian's $(DATA_DEBS)"; \
	else \
	  echo "Fashion-MNIST: no Debian package; the loader downloads the official files"; \
	  [ -f $(FORTUNE_DIR)/literature ] || echo "fortunes: missing; the RNN chapter needs Debian's fortunes (apt-get install fortunes)"; \
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
	$(BIN)/ruff check code benchmarks tools
	$(BIN)/ruff format --check code benchmarks tools
	$(BIN)/actionlint .github/workflows/*.yml

unit: setup
	$(BIN)/python -m pytest -m "not site"

# First the stale chapters execute, JOBS at a time (default: one per core; see
# dlcv/_book/parallel.py), into the cache; then the build renders them and executes
# nothing. A failed chapter stops here, after the others have finished.
JOBS ?=
THREADS ?=
build: setup
	$(BIN)/python -m dlcv._book.parallel $(if $(JOBS),--jobs $(JOBS)) \
	  $(if $(THREADS),--threads $(THREADS))
	$(BIN)/jupyter-book build . $(JB_FLAGS)

# Checks of the built site in headless Chromium (needs `make build` first).
site: setup node
	$(BIN)/python -m pytest -m site

# Regenerate the Colab/Binder notebook twins of the chapters (tests check they are in sync).
twins: setup
	$(BIN)/python -m dlcv._book.twins

bench: setup data
	$(BIN)/python benchmarks/bench_knn.py
	$(BIN)/python benchmarks/bench_conv.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_sequence.py
	$(BIN)/python benchmarks/bench_peers.py

clean:
	rm -rf _build
