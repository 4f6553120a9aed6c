# Two set-up commands for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench notebook docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/climaflow demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/hooks
	$(BIN)/ruff format --check src tests benchmarks docs/hooks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/asv machine --yes
	$(BIN)/asv run --python=same --quick

# The docs site (API reference, guides, gallery drawn at build time); warnings are errors.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# Re-run the quickstart notebook and save it with its outputs (maps included).
notebook: $(STAMP)
	$(BIN)/jupyter execute --inplace docs/examples/quickstart.ipynb

clean:
	rm -rf $(VENV) .asv build *.egg-info src/*.egg-info
