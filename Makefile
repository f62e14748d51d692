# dfimx developer commands.  `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dfimx-installed
TEST_STAMP := $(VENV)/.dfimx-test-installed
PYTEST_ARGS ?=
DEMO_DIR ?= dfimx-demo

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the package and what it needs to run (the demo); the test tools only for test/lint/bench
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dfimx demo -o $(DEMO_DIR)

test: $(TEST_STAMP)
	$(BIN)/ruff check dfimx tests bench
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check dfimx tests bench

# the PyTorch peers of `make bench` (tangermeme, captum): torch's CPU build, pinned so that
# pip takes the CPU wheel where one is provided and never pulls a CUDA build by itself
$(VENV)/.dfimx-bench: pyproject.toml | $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(VENV)/.dfimx-bench

bench: $(TEST_STAMP) $(VENV)/.dfimx-bench
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
