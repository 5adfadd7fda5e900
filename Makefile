# The two front-door commands (see README): `make run` and `make test`.
# Both set everything up first (scripts/setup.sh is idempotent).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-browser run test lint bench clean

setup:
	bash scripts/setup.sh

setup-browser:
	bash scripts/setup.sh --browser

## The main job: an example pipeline with a live progress line and its summary.
run: setup
	$(PY) examples/etl_pipeline.py

## Every check CI runs: lint, types, and the whole test suite (browser test included).
test: setup-browser lint
	$(PY) -m pytest

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy dagron_nb

## Speed and scale figures, written to benchmarks/RESULTS.md (not part of the tests).
bench: setup
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache test-output
