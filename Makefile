# paperlens: `make run` serves the bundled corpus on http://127.0.0.1:8000; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INDEX  ?= var/index
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The bundled corpus with the default model's vectors (data/README.md: how it is made from the sources),
# so that the first `make run` embeds nothing.
CORPUS := data/bundled-papers.parquet
EVAL   ?= ../shared/data/eval

.PHONY: run index test bench eval lint clean

run: $(VENV)/.installed $(INDEX)/CURRENT
	$(BIN)/paperlens serve --index $(INDEX) --host $(HOST) --port $(PORT)

index: $(INDEX)/CURRENT

$(INDEX)/CURRENT: $(CORPUS) | $(VENV)/.installed
	$(BIN)/paperlens index $(CORPUS) --index $(INDEX)

# torch is pinned first and alone: 2.13.0 is the CPU build on this disk, anything looser pulls CUDA.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The browser test drives Debian's Chromium (Playwright's own browser download cannot work offline).
# The PostgreSQL user-store tests start a throwaway server from Debian's postgresql package.
test: $(VENV)/.installed
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed: the web page test will be skipped"
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || \
	  echo "postgresql not installed: the PostgreSQL user-store tests will be skipped"
	[ -f node_modules/axe-core/axe.min.js ] || npm install --no-save --no-audit --no-fund axe-core@4 >/dev/null || \
	  echo "axe-core not installed: the accessibility test will be skipped"
	$(BIN)/python -m pytest tests

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/index_and_latency.py

lint: $(VENV)/.installed
	$(BIN)/python -m compileall -q models indexer service tests benchmarks

clean:
	rm -rf $(VENV) var

# Relevance of every mode against the baselines on the shared judged sets (read in place, not copied).
eval: $(VENV)/.installed
	$(BIN)/paperlens eval $(EVAL)/cacm --task search
	$(BIN)/paperlens eval $(EVAL)/csfcube --task similar
	$(BIN)/paperlens eval $(EVAL)/citeulike-dev --task recommend
