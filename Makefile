# The two commands: `make study` and `make test`. Both set up .venv on first use and reuse it afterwards.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install study quick-study test newcomer-test lab docs figures export clean-nbs check-sync nbtest pytest

help:
	@echo "make study        install into .venv (once) and run every report (ecgnb study)"
	@echo "make quick-study  the same with small data and few epochs (ecgnb study --quick)"
	@echo "make test         install into .venv (once) and run the whole test suite"
	@echo "make newcomer-test  the tests that depend on where samples come from, as a fresh clone runs them (data/samples only)"
	@echo "make install      only install into .venv (again when settings.ini or setup.py changed)"
	@echo "make lab          start JupyterLab in the same environment"
	@echo "make docs         build the docs site into _docs/ (Quarto when present, offline fallback otherwise)"
	@echo "make figures      run the notebooks and save the pictures of their figure cells"
	@echo "make export       write the library from the notebooks (nbdev_export)"
	@echo "make clean-nbs    strip notebook metadata and execution counts (nbdev_clean), as make test expects"
	@echo "make check-sync   fail when library, notebooks or README are out of step; print the notebook measures"
	@echo "make nbtest       run the notebooks' tests only"
	@echo "make pytest       run tests/ only"

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

quick-study: $(STAMP)
	$(BIN)/ecgnb study --quick $(STUDY_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=. $(LAB_ARGS)

docs: $(STAMP)
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev_docs; else $(BIN)/python -m ecgnb.docs; fi

# Run the notebooks and save the pictures of their cells tagged 'figure' (the docs show them without running anything).
figures: $(STAMP)
	$(BIN)/python -m ecgnb.docs --figures && $(BIN)/nbdev_clean

export: $(STAMP)
	$(BIN)/nbdev_export

clean-nbs: $(STAMP)
	$(BIN)/nbdev_clean && $(BIN)/nbdev_clean --fname reports

# Fails when the exported library or a notebook is out of step with what nbdev would write; then prints how the
# notebooks read (cell and function sizes, examples after functions, saved figures: issue 16's measures).
check-sync: $(STAMP)
	$(BIN)/python .ci/check_sync.py
	$(BIN)/python .ci/nb_measures.py --check

nbtest: $(STAMP)
	$(BIN)/nbdev_test --n_workers 2 --timing $(NBTEST_ARGS)

# --dist loadscope: each test module on one worker, so a module's fixtures (models trained for its tests) are built once.
pytest: $(STAMP)
	@bash .ci/ensure_chromium || true
	$(BIN)/python -m pytest -q -rs -n 2 --dist loadscope tests $(PYTEST_ARGS)

test: check-sync nbtest pytest

# What a clone with nothing beside it sees: the sample lookup ignores ../shared and $$ECGNB_SAMPLES (.ci/newcomer says how).
newcomer-test: $(STAMP)
	@bash .ci/ensure_chromium || true
	bash .ci/newcomer
