# Both targets build their own virtual environment from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: venv demo test test-quick bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,spark]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	@set -e; dir="$${DEMO_DIR:-$$(mktemp -d -t assetflow-demo-XXXXXX)}"; \
	echo "==> creating a project from the built-in template in $$dir/shop"; \
	$(VENV)/bin/assetflow init "$$dir/shop"; \
	echo "==> materializing it"; \
	$(VENV)/bin/assetflow --project "$$dir/shop" materialize; \
	$(VENV)/bin/assetflow --project "$$dir/shop" status; \
	echo "==> DuckDB file: $$dir/shop/warehouse.duckdb"

# The whole suite (slow and fault tests included), on every core; then the Spark tests marked
# `cluster` again, on a standalone master and worker started from the pyspark package
# (tests/spark/cluster.py; exit 5 = nothing collected, when pyspark or java is missing).
test: venv
	$(PY) -m pytest -n $${TEST_WORKERS:-auto} --dist loadgroup
	SPARK_TEST_MASTER=standalone $(PY) -m pytest -p no:xdist -m cluster tests/spark || [ $$? -eq 5 ]

# The inner loop: unit tests and end-to-end tests, without the fault and slow tests.
test-quick: venv
	$(PY) -m pytest -n $${TEST_WORKERS:-auto} --dist loadgroup tests/unit tests/e2e -m "not slow"

# `make bench DUCKDB_VERSION=1.5.6` runs the benchmarks against that DuckDB, in a venv of its own
# (benchmarks/.cache/venv-duckdb-VERSION, assetflow installed editable), and writes
# benchmarks/.cache/duckdb-VERSION.md; without it, the project venv and docs/benchmarks.md.
DUCKDB_VERSION ?=
BENCH_VENV      = benchmarks/.cache/venv-duckdb-$(DUCKDB_VERSION)
BENCH_ARGS     ?=

ifeq ($(DUCKDB_VERSION),)
bench: venv
	$(PY) benchmarks/run.py $(BENCH_ARGS)
else
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e . 'duckdb==$(DUCKDB_VERSION)'
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/run.py --output benchmarks/.cache/duckdb-$(DUCKDB_VERSION).md $(BENCH_ARGS)
endif

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
