# Two commands for a fresh machine: `make demo` and `make test`.
# Each builds .venv from the hash-pinned requirements.lock on first use; nothing else
# needs installing by hand. Regenerate the lock with `make lock` after editing pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test faults lint typecheck unit browser lock clean examples \
	example-payments example-claims example-banking-chat example-wrap-graph

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

demo: $(STAMP)
	$(BIN)/hitl demo

# Each example runs offline with a scripted model (a real one when OPENAI_API_KEY is set).
examples: example-payments example-claims example-banking-chat example-wrap-graph

example-payments: $(STAMP)
	$(BIN)/python -m examples.payments

example-claims: $(STAMP)
	$(BIN)/python -m examples.claims

example-banking-chat: $(STAMP)
	$(BIN)/python -m examples.banking_chat

example-wrap-graph: $(STAMP)
	$(BIN)/python -m examples.wrap_existing_graph

test: lint typecheck unit

# The fault runs at full size: two processes racing over one run (50 trials per adapter
# and store), a tool outliving the workers' lease, workers SIGKILLed mid-tool with
# PostgreSQL crashed once (1,000 runs; 200 on SQLite), and 1,000 runs over every adapter
# resumed by four workers. `make test` runs them all at small sizes.
faults: $(STAMP)
	HITL_FAULTS=full $(BIN)/pytest tests/faults tests/core/test_worker.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two pytest-xdist workers, one per core of the machines we test on: most tests wait on
# processes, servers and leases rather than the CPU. Each worker starts its own PostgreSQL.
PYTEST_WORKERS ?= 2
unit: $(STAMP) browser
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The inbox's browser test drives the distribution's Chromium; install it when missing.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lock:
	uv pip compile pyproject.toml --all-extras --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hitl
