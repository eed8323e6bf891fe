# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
# Every version pinned, with hashes: `make install` installs exactly these (see `make lock`).
LOCK := requirements.lock
LOCK_VENV := /tmp/clustermatch-lock-venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CODE := api workers embeddings frontend tests bench

.PHONY: install lock browser run test test-fast lint bench clean

install: $(STAMP)

# The lock pins torch to the local CPU build (2.13.0+cpu, found through pip's find-links), so
# sentence-transformers never pulls CUDA wheels; then the project itself, without resolving again;
# then the ONNX Runtime encoder's export of the bundled model, once per machine, into the user cache
# (~/.cache/clustermatch/models) that every data dir reuses (if it fails, the encoder runs on torch).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m embeddings.onnx_encoder || true
	touch $(STAMP)

# Re-resolve pyproject.toml's dependencies (and the test extra) into $(LOCK), with hashes, in a
# throwaway venv that holds pip-tools. Run it after changing a dependency, commit the lock.
# It keeps the pinned versions that still fit; `make lock LOCK_FLAGS=--upgrade` takes the newest.
LOCK_FLAGS ?=
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip-tools
	$(LOCK_VENV)/bin/pip-compile --quiet --extra test --generate-hashes --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links $(LOCK_FLAGS) --output-file $(LOCK) pyproject.toml
	rm -rf $(LOCK_VENV)

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

# Every benchmark, one table, var/bench.json (under 15 minutes here); `make bench BENCH_FLAGS=--quick`
# for smaller sizes, `BENCH_FLAGS="--only ingest"` for one row (see README, Performance).
BENCH_FLAGS ?=
bench: install
	$(PY) bench/run.py $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) var .pytest_cache
