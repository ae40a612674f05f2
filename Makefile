# The two commands promised in the README:
#   make repro   set up the virtual environment (if missing) and rebuild every report with DVC
#   make test    set up the virtual environment (if missing) and run the whole test suite
# Set-up needs only Python 3.11, pip, git and make: uv is bootstrapped from PyPI into the
# virtual environment (about 6 s for the stack, against 70-120 s for pip); pip is the fallback.
# Bytecode is compiled at install time: these machines set PYTHONDONTWRITEBYTECODE, and without
# .pyc files every stage recompiles pandas, scipy and statsmodels (a cold repro ran 46% longer).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.installed

.PHONY: setup repro test test-fast validate bench lock clean-venv lab

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@( $(BIN)/python -m pip install -q "uv==$(UV_VERSION)" \
	   && $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock \
	   && $(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e . ) \
	 || ( echo "uv set-up failed: falling back to pip" \
	   && $(BIN)/python -m pip install -q --compile -r requirements.lock \
	   && $(BIN)/python -m pip install -q --no-deps -e . )
	@touch $(STAMP)

repro: $(STAMP)
	$(BIN)/dvc repro

test: $(STAMP)
	$(BIN)/python -m pytest

# The fast tier: in-process tests only (no subprocess, no clone; tests/conftest.py refuses a
# process in any test not marked), without the long simulations. Target: under a minute
# (docs/adr/0170). The plugins it never uses are not loaded (nbval's import of jsonschema alone
# takes 2.5 s, hydra's and hypothesis's end-of-run summary 2 s more), and bytecode is written
# so that pytest's assertion rewrite of the test modules is cached between runs (2.5 s).
FAST_PLUGINS_OFF := -p no:nbval -p no:hydra_pytest -p no:hypothesispytest
test-fast: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest $(FAST_PLUGINS_OFF) \
	  -m "not integration and not subprocess and not slow"

validate: $(STAMP)
	$(BIN)/python -m pipeline validate

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# The evaluation notebook in JupyterLab, on the project's own kernel (the venv's ipykernel, the
# one papermill runs), for one intervention: `make lab INTERVENTION=smoking_advice`. The key
# reaches the notebook through PIPELINE_INTERVENTION, which its parameters cell reads (papermill
# overrides that cell when DVC runs it). The key is checked against params.yaml first.
INTERVENTION ?= thi_month
lab: $(STAMP)
	@$(BIN)/python -c "import sys; from pipeline import config; \
	  keys = config.load_params().get('interventions', {}); sys.argv[1] in keys or sys.exit( \
	  'make lab: no intervention ' + repr(sys.argv[1]) + ' in params.yaml; one of: ' \
	  + ', '.join(keys))" "$(INTERVENTION)"
	test -f data/processed/$(INTERVENTION)/series.parquet || $(BIN)/dvc repro prepare@$(INTERVENTION)
	PIPELINE_INTERVENTION=$(INTERVENTION) $(BIN)/jupyter lab $(LAB_ARGS) notebooks/evaluate.ipynb

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra test --extra engines --python-version 3.11 --generate-hashes --no-header -o requirements.lock
	$(BIN)/python bin/environment-from-lock

clean-venv:
	rm -rf $(VENV)
