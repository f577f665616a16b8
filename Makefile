# Two commands on a fresh clone: `make demo` and `make test`. Each creates .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MPLBACKEND := Agg

.PHONY: demo test sync-check study-check nbtest pytest install slow clean-venv

$(STAMP): settings.ini setup.py pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/forgetting demo

# CI gate: the notebooks are the source; exporting or cleaning them must change nothing.
sync-check: $(STAMP)
	@before=$$(cat nbs/*.ipynb forgetting/*.py | md5sum); \
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean; \
	after=$$(cat nbs/*.ipynb forgetting/*.py | md5sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev_export/nbdev_clean changed files: export and clean the notebooks, then commit."; \
	  git status --short -- nbs forgetting 2>/dev/null; exit 1; fi
	@echo "notebooks and library in sync"

# STUDY.md is written from the committed JSON: it must be current.
study-check: $(STAMP)
	$(BIN)/python benchmarks/study_md.py --check

nbtest: $(STAMP)
	$(BIN)/nbdev_test

pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests/

test: sync-check study-check nbtest pytest

# The real experiments (long): the notebooks' `#| slow` cells.
slow: $(STAMP)
	$(BIN)/nbdev_test --flags slow

clean-venv:
	rm -rf $(VENV)
