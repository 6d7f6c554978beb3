# Both targets build their own virtual environment from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
DEMO_DIR ?= $(shell mktemp -d -t assetflow-demo-XXXXXX)

.PHONY: venv demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	@echo "==> creating a project from project_template in $(DEMO_DIR)/shop"
	$(VENV)/bin/assetflow init $(DEMO_DIR)/shop
	$(VENV)/bin/assetflow --project $(DEMO_DIR)/shop materialize
	$(VENV)/bin/assetflow --project $(DEMO_DIR)/shop status
	@echo "==> DuckDB file: $(DEMO_DIR)/shop/warehouse.duckdb"

test: venv
	$(PY) -m pytest

bench: venv
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
