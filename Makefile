# Quanzi — one command to run the platform, one to test it.
# Everything installs from the lock file; uv itself comes from PyPI when missing.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
RUN := $(UV) run --frozen

.PHONY: install run test test-unit lint bench docs clean

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --all-packages --python $(PYTHON)

run: install  ## the whole platform on this machine: dev broker, SQLite, gateway on :8000
	$(RUN) quanzi-dev run

# One worker per core; a test file stays on one worker (its databases, broker and platform
# fixtures are set up once per worker and file). 18 to 21 minutes on 2 cores (2,354 tests).
# xdist's default order, most tests per file first, runs the few long end-to-end files
# last; running them first was tried: no faster (21 min 48 s against 21 min 14 s), and two
# platforms at once early in the run made one join of test_replicas answer 500 (its cause
# was not found).
test: install  ## unit, integration (SQLite and PostgreSQL, real broker), end to end
	$(RUN) pytest -q -n auto --dist loadfile --durations=15

test-unit: install
	$(RUN) pytest -q -m "not postgres and not broker and not e2e"

lint: install  ## ruff, mypy, import contracts, layout rules, contracts and docs freshness, deploy/
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports
	$(RUN) servicekit catalog --check docs/events.md
	$(RUN) python deploy/check_compose.py
	$(RUN) python deploy/check_k8s.py

bench: install  ## benchmarks: our figures as ratios to raw baselines in the same run
	$(RUN) python bench/pipeline.py
	$(RUN) python bench/gateway.py
	$(RUN) python bench/ledger.py
	$(RUN) python bench/onboarding.py
	$(RUN) python bench/content.py
	$(RUN) python bench/activities.py
	$(RUN) python bench/insights.py
	$(RUN) python bench/fairness.py
	$(RUN) python bench/webhooks.py

docs: install  ## regenerate the event catalog from contracts/
	$(RUN) servicekit catalog docs/events.md

clean:
	rm -rf var .venv $(TOOLS)
