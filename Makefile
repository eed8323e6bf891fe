# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CODE := api workers embeddings frontend tests bench

.PHONY: install browser run test test-fast lint bench clean

install: $(STAMP)

# torch first, from the pinned local CPU build: otherwise sentence-transformers pulls CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The browser tests drive Debian's Chromium (never a browser a test tool downloads).
# --no-install-recommends: otherwise apt drags in and upgrades systemd.
CHROMIUM := /usr/bin/chromium
browser: $(CHROMIUM)
$(CHROMIUM):
	apt-get install -y --no-install-recommends chromium || \
		(apt-get update && apt-get install -y --no-install-recommends chromium)

run: install
	$(VENV)/bin/clustermatch run

test: install browser lint
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)

test-fast: install
	$(PY) -m pytest -q -m "not e2e"

bench: install
	$(PY) bench/pipeline_latency.py

clean:
	rm -rf $(VENV) var .pytest_cache
