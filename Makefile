# Two commands on a fresh machine: `make run` (set up, simulate the demo dataset, calibrate it)
# and `make test` (set up, run the test suite). Everything installs into .venv from PyPI.

PYTHON ?= python3
VENV ?= .venv
CORES ?= all
BIN := $(VENV)/bin

.PHONY: setup run test test-all mutations test-config lint format dag clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable '.[dev]'
	touch $@

# SLURM_CONF=/dev/null: a local run needs no cluster, and it spares the SLURM executor plugin's
# `scontrol show config` probe at start-up, which waits ~10 s wherever a SLURM client is
# installed but no controller answers (see docs/slurm.md).
run: setup
	SLURM_CONF=/dev/null $(BIN)/snakemake --cores $(CORES)

test: setup
	$(BIN)/python -m pytest

test-all: setup
	$(BIN)/python -m pytest -m ''

# Deliberate defects applied one at a time to a throwaway copy: every one must make a test fail.
mutations: setup
	SLURM_CONF=/dev/null $(BIN)/python tests/mutations.py

# The tiny .test/ configuration through the real workflow, in a scratch directory (~1-2 min).
test-config: setup
	SLURM_CONF=/dev/null $(BIN)/snakemake --snakefile $(CURDIR)/Snakefile --directory "$$(mktemp -d)" \
		--configfile $(CURDIR)/config.yaml $(CURDIR)/.test/config.yaml --cores 2 --quiet

lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/snakefmt Snakefile rules
	$(BIN)/ruff format .

dag: setup
	$(BIN)/snakemake --rulegraph | dot -Tsvg > rulegraph.svg

clean:
	rm -rf results logs benchmarks .snakemake
