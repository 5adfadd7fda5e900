# The two front-door commands (see README): `make run` and `make test`.
# Both set everything up first (scripts/setup.sh is idempotent).
# A test or a machine set up by hand may skip the set-up and name its interpreter:
#     make run PY=/path/to/python SETUP=: PORT=8899
VENV := .venv
PY := $(VENV)/bin/python
SETUP := bash scripts/setup.sh
PORT := 8888
HTML_DIR := build/html

.PHONY: setup setup-browser run demo html test lint bench clean

setup:
	$(SETUP)

setup-browser:
	$(SETUP) --browser

## The main job: JupyterLab on notebooks/, the quickstart open, the URL printed; Ctrl-C stops it.
run: setup
	$(PY) scripts/lab.py --port $(PORT)

## The terminal example: a pipeline with a live progress line and its summary.
demo: setup
	$(PY) examples/etl_pipeline.py

## Every notebook executed headless, an HTML copy of each written to $(HTML_DIR)/.
html: setup
	$(PY) scripts/export_html.py --out $(HTML_DIR)

## Every check CI runs: lint, types, and the whole test suite (browser test included).
test: setup-browser lint
	$(PY) -m pytest

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy dagron_nb

## Speed and scale figures, written to benchmarks/RESULTS.md (not part of the tests).
bench: setup
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache test-output
