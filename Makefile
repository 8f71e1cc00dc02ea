# Two commands on a fresh machine: `make demo` and `make test` (each installs what it needs).
# Dependencies come from the locks (exact versions + hashes), resolved by uv, which is itself
# pinned in requirements-dev.lock and installed into .venv: `make lock` after editing the
# dependency lists in pyproject.toml (it rewrites requirements.lock, requirements-dev.lock and
# functions/requirements.txt); CI fails when they disagree (scripts/lock.py --check).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo dev test lint bench install lock lock-check

$(STAMP): requirements-dev.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

lock: $(STAMP)
	$(BIN)/python scripts/lock.py

lock-check: $(STAMP)
	$(BIN)/python scripts/lock.py --check

demo: $(STAMP)
	$(BIN)/alertbridge demo

dev: $(STAMP)
	$(BIN)/alertbridge dev

test: $(STAMP)
	$(BIN)/pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check functions devtools tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py --runs 5
