# dfimx developer commands.  `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dfimx-installed
PYTEST_ARGS ?=
DEMO_DIR ?= dfimx-demo

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dfimx demo -o $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/ruff check dfimx tests bench
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check dfimx tests bench

$(VENV)/.dfimx-bench: pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(VENV)/.dfimx-bench

bench: $(STAMP) $(VENV)/.dfimx-bench
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
