# The two commands a newcomer needs: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench chromium nginx clean

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
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder  # longest files first: tests/schedule.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/positioning.py
	$(PY) bench/ingest.py
	$(PY) bench/portal.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
