PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help install browser run worker test lint fmt migrate bench chaos

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed ## create .venv and install requirements.txt

run: install ## start web, worker, beat and Flower (embedded PostgreSQL and Redis unless configured)
	$(PY) -m engine.stack run

worker: install ## start one more worker against DATABASE_URL / REDIS_URL
	$(PY) -m celery -A engine worker --concurrency $${WORKER_CONCURRENCY:-10} -l info

browser: ## install Debian's Chromium for the dashboard's browser test, if missing
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

test: install browser ## run the test suite against real PostgreSQL, Redis, Celery, daphne and Chromium
	$(PY) -m pytest

bench: install ## steady load, capacity, API, subscribers and history; figures go to BENCHMARKS.md
	@command -v wrk >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; }
	$(PY) -m bench $(SCENARIOS)

chaos: install ## place orders while workers, Redis, PostgreSQL and daphne die; figures go to CHAOS.md
	$(PY) -m chaos

lint: install ## ruff check and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: install ## format the code
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

migrate: install ## apply migrations to DATABASE_URL
	$(PY) manage.py migrate
