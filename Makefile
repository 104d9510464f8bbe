# livetally: `make run` brings the carnival demo up, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_SPEED ?= 10
DEMO_SCALE ?= 0.05
# SECURE=1: the local Kafka gets SASL_SSL, one user per service and ACLs (docs/deploy.md)
SECURE ?=

.PHONY: install run down test test-unit test-integration test-reliability lint typecheck bench kafka

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

kafka: install  ## download Apache Kafka with Maven (once per machine)
	$(PY) -m livetally kafka fetch

run: install  ## start Kafka, the worker, ingest, the dashboard and the carnival replay
	$(PY) -m livetally demo --speed $(DEMO_SPEED) --scale $(DEMO_SCALE) $(if $(SECURE),--secure)

down: install
	$(PY) -m livetally down

test: install  ## the whole suite; starts its own Apache Kafka broker
	$(PY) -m pytest

test-unit: install
	$(PY) -m pytest -m "not integration and not browser and not reliability"

test-integration: install
	$(PY) -m pytest -m integration

test-reliability: install
	$(PY) -m pytest -m reliability

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) -m livetally bench
