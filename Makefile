# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV      ?= .venv
PYTHON    ?= python3
PY        := $(VENV)/bin/python
QA        := $(VENV)/bin/qa
INDEX_DIR ?= data/index
HOST      ?= 127.0.0.1
PORT      ?= 8000
STAMP     := $(VENV)/.installed

.PHONY: install model index run serve test test-fast browser bench lint clean

# torch first and exactly pinned: it is a CPU wheel on this machine's disk; anything looser pulls a CUDA build.
# onnxruntime (the default QA_BACKEND=onnx) is a core dependency; torch stays: it exports the model once and
# is the QA_BACKEND=torch path.
# The ocr extra (RapidOCR, models inside the wheel) reads scanned PDF pages and images.
# constraints.txt: the versions the shipped models were tested with (a new upstream release changes nothing unseen).
# The ray and milvus extras: `qa build --ray` and QA_VECTOR_STORE=milvus, and their tests.
$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,onnx,ocr,ray,milvus]'
	touch $(STAMP)

install: $(STAMP)

model: install
	$(QA) prepare

index: model
	@if [ -f $(INDEX_DIR)/manifest.json ]; then echo "index present at $(INDEX_DIR) (rebuild with: $(QA) build --source seeds)"; \
	else $(QA) build --source seeds --index $(INDEX_DIR); fi

# the port and the index directory are checked first: a busy port fails in one line before the model loads
run: install
	@$(QA) serve --check --index $(INDEX_DIR) --host $(HOST) --port $(PORT)
	@$(MAKE) --no-print-directory index
	$(QA) serve --index $(INDEX_DIR) --host $(HOST) --port $(PORT)

serve: run

# The page tests drive Debian's Chromium; install it when missing (never Playwright's own browser download).
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy; } || { \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

# lint first: ruff is pinned exactly (pyproject's dev extra), so a new ruff release cannot turn CI red
test: install model browser
	$(VENV)/bin/ruff check qa embeddings tests bench
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

bench: install model
	$(PY) -m bench.run_all

lint: install
	$(VENV)/bin/ruff check qa embeddings tests bench

clean:
	rm -rf $(VENV) .cache data .pytest_cache .hypothesis
