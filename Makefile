# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Prefect state stays in the project; no telemetry (this machine has no internet);
# a cold ephemeral Prefect server can need more than the default 20 s to start on 2 busy cores.
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export PYTHONUNBUFFERED := 1

.PHONY: install demo lint test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[dev]'
	touch $@

demo: install
	$(BIN)/seedance demo --out out/demo

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# Two workers (pytest-xdist), each taking whole files in collection order, `long` modules first.
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# The benchmarks against the alternatives, one Markdown table on stdout (7.5 min on 2 cores); never
# fails on a figure. BENCH_ARGS=--quick: small N everywhere. `make bench BIN=/some/venv/bin` runs in
# an environment that already exists instead of installing .venv.
bench: $(if $(filter command line,$(origin BIN)),,install)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .prefect out
