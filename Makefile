# Two commands on a fresh machine: `make demo` and `make test` (each installs what it needs).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo dev test lint bench install

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alertbridge demo

dev: $(STAMP)
	$(BIN)/alertbridge dev

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check functions tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py
