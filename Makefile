# The two commands a newcomer needs: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench chromium nginx clean

# Python keeps compiled modules (__pycache__, git-ignored) even where the environment says not to write them
# (PYTHONDONTWRITEBYTECODE=1 on this project's build machines): every process the suite and `make run` start (the
# test workers, gunicorn's workers, the tracker, each CLI) otherwise compiled all of its modules afresh: importing
# the app took 1.7 s of CPU instead of 1.1 s, and each test worker's collection 19 s instead of 6 (pytest keeps
# its rewritten test modules there too).
export PYTHONDONTWRITEBYTECODE :=
SOURCES := core portal lightapps positioning fingerprints bench tests conftest.py wsgi.py

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(VENV)/bin/pybabel -q compile -d translations
	touch $(STAMP)

run: $(STAMP)
	DEMO=$${DEMO-1} $(PY) -m portal serve  # DEMO=1: /demo and the radio simulator (README: Security)

chromium:
	@$(PY) -m portal.tools.ensure_chromium

nginx:
	@$(PY) -m portal.tools.ensure_nginx

test: $(STAMP) chromium nginx
	$(VENV)/bin/ruff check .
	$(PY) -m compileall -q -j 0 $(SOURCES)  # once, on both cores, before three workers import the same modules
	$(PY) -m pytest -n 3 --dist loadfile --no-loadscope-reorder  # longest files first: tests/schedule.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/positioning.py
	$(PY) bench/ingest.py
	$(PY) bench/portal.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
