# `make test` and `make demo` bootstrap everything they need: inside an active virtualenv
# they install there, otherwise into ./.venv (created on first use).
SYSTEM_PYTHON ?= python3
PYTEST_ARGS ?=

ifdef VIRTUAL_ENV
PYTHON := $(VIRTUAL_ENV)/bin/python
STAMP := $(VIRTUAL_ENV)/.albert_tf_installed
else
PYTHON := $(CURDIR)/.venv/bin/python
STAMP := $(CURDIR)/.venv/.albert_tf_installed
endif

.PHONY: test demo experiment install clean

install: $(STAMP)

$(STAMP): setup.py
	@if [ ! -x "$(PYTHON)" ]; then echo "creating virtualenv .venv"; $(SYSTEM_PYTHON) -m venv .venv; fi
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[test,demo]"
	@touch $@

# pytest exits 5 when it collects no test; that is not a failure of the suite itself.
test: $(STAMP)
	@$(PYTHON) -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

# DEMO_ARGS passes overrides, e.g. make demo DEMO_ARGS="--corpus=my.txt --pretrain_steps=3000"
DEMO_ARGS ?=
demo: $(STAMP)
	$(PYTHON) run_demo.py $(DEMO_ARGS)

# The ablation grid BENCHMARKS.md reports (8 short pretraining runs, about 80 minutes on 2
# CPU cores; re-running reuses finished cells). EXPERIMENT_ARGS passes overrides.
EXPERIMENT_ARGS ?=
experiment: $(STAMP)
	$(PYTHON) run_ablation.py $(EXPERIMENT_ARGS)

clean:
	rm -rf .venv build *.egg-info .pytest_cache demo_run ablation_run
