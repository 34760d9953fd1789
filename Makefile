# The README's two commands are `make rehearse` and `make test`; both work on a
# fresh machine (they create .venv and install everything first).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test typecheck unit rehearse bench bench-compare samples clean

$(STAMP): requirements.txt emulator/requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Everything CI runs: install, type-check the Pulumi program, all tests.
test: typecheck unit

# The main job, offline: validate the project's data, then rehearse the whole
# fine-tuning flow against the local emulator.
rehearse: $(STAMP)
	$(PY) -m jobs rehearse

# The sample outputs the docs quote, regenerated from real runs (offline).
samples: $(STAMP)
	$(PY) tools/samples.py

bench: $(STAMP)
	$(PY) bench/bench_validate.py

# compare against the emulator: wall time vs the rate/latency bound, vs a sequential loop, with faults (minutes)
bench-compare: $(STAMP)
	$(PY) bench/bench_compare.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis bench/out
