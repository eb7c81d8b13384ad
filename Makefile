# Quick start: `make demo` runs the tiny cascade; `make test` runs the test suite.
# Both create .venv if it is missing and install the project into it first.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test system-deps clean

$(PY):
	python3 -m venv $(VENV)

# torch first, pinned: on this machine that takes the CPU wheel on disk, no CUDA download.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# bubblewrap isolates model-written code in the code verifier.
system-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "bubblewrap (bwrap) is missing: install the Debian package 'bubblewrap'" >&2; exit 1; fi; }

setup: $(STAMP) system-deps

demo: setup
	$(VENV)/bin/cascade run configs/tiny.yaml

test: setup
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf runs .pytest_cache
