# Every target creates .venv when it is missing and installs what it needs, so a fresh machine
# with only Python 3.11, pip and make can run `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test bench lint gradcheck clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps record what was installed; they are rebuilt when pyproject.toml changes.
$(VENV)/.base: pyproject.toml | $(PY)
	$(PIP) -e '.[plot]'
	@touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PIP) -e '.[plot,torch,safetensors,onnx,dev]'
	@touch $@ $(VENV)/.base

demo: $(VENV)/.base
	$(VENV)/bin/scratchrnn demo

# ruff first: a lint error fails the test run as a failing test does; the tests run on every core
# (pytest-xdist), each file's tests shared out among the workers
test: $(VENV)/.dev
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m pytest -W error -q -n auto

bench: $(VENV)/.dev
	$(PY) benchmarks/run_all.py

gradcheck: $(VENV)/.base
	$(VENV)/bin/scratchrnn gradcheck

lint: $(VENV)/.dev
	$(PY) -m ruff check src tests benchmarks examples

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
