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
	$(PY) -m pip install -q --upgrade pip 'setuptools>=70.1'  # builds the wheel in tests (bdist_wheel built in)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# The code verifier runs model-written programs with Debian's python3 inside bubblewrap.
system-deps:
	@if ! command -v bwrap >/dev/null 2>&1 || [ ! -x /usr/bin/python3 ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap python3 >/dev/null; \
	  else echo "install the Debian packages 'bubblewrap' and 'python3' (the code sandbox needs them)" >&2; exit 1; fi; \
	fi

setup: $(STAMP) system-deps

demo: setup
	$(VENV)/bin/cascade run configs/tiny.yaml

# Two pytest-xdist workers, one test file each at a time (module fixtures such as the tiny cascade
# run once): the Ray and subprocess tests leave a core idle about half the time on 2 cores.
test: setup
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --durations=15

clean:
	rm -rf runs .pytest_cache
