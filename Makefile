# The two commands: `make study` and `make test`. Both set up .venv on first use and reuse it afterwards.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: study test lab docs export clean-nbs check-sync nbtest pytest quick-study help

help:
	@echo "make study   install into .venv (once) and run the synthetic study (ecgnb study)"
	@echo "make test    install into .venv (once) and run the whole test suite"
	@echo "make lab     start JupyterLab in the same environment"
	@echo "make docs    build the docs site into _docs/ (Quarto when present, offline fallback otherwise)"

# Reinstall only when the project metadata changed (make compares the stamp's time with these files).
$(STAMP): settings.ini setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip check
	@touch $(STAMP)

install: $(STAMP)

study: $(STAMP)
	$(BIN)/ecgnb study $(STUDY_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=. $(LAB_ARGS)

docs: $(STAMP)
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev_docs; else $(BIN)/python -m ecgnb.docs --execute; fi

export: $(STAMP)
	$(BIN)/nbdev_export

# Fails when the exported library or a notebook is out of step with what nbdev would write.
check-sync: $(STAMP)
	$(BIN)/python .ci/check_sync.py

nbtest: $(STAMP)
	$(BIN)/nbdev_test --n_workers 2 --timing $(NBTEST_ARGS)

pytest: $(STAMP)
	@bash .ci/ensure_chromium || true
	$(BIN)/python -m pytest -q -n 2 tests $(PYTEST_ARGS)

test: check-sync nbtest pytest
