# Set-up and entry points. A second run skips the install in seconds (stamp file).
#   make demo   - install, then run the whole DAG at demo scale (digits, offline) and its HTML report
#   make test   - install, then the test suite (what CI runs)
#   make smoke  - the CI-sized DAG (digits + Fashion-MNIST subset)
#   make fmnist - the paper's experiment on real Fashion-MNIST at laptop scale, and its report
#   make fmnist-scalegmn - the same with ScaleGMN beside the GMN, in its own results folder
#   make fmnist-metanetworks - the same with every weight-space family (NFN, StatNN, flat MLP too)
#   make results-page - docs/results.md rewritten from the last `make fmnist`'s claims table
#   make check  - the tests without an end-to-end Snakemake run (times: docs/performance.md)
#   make lint   - ruff (format and lint), snakemake --lint and snakefmt --check
#   make gpu-check - on a machine with a CUDA GPU (and only torch, numpy, h5py, pyyaml, tqdm,
#                 scikit-learn): the GPU path checked against the CPU, its throughput, and the
#                 paper DAG's GPU-hours (bench/gpu_check.py; runs with that machine's python3)
#   make clean-demo - remove the demo's results and logs

PYTHON ?= python3
CORES ?= 2
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch goes in first, pinned, on its own: a loose torch requirement pulls GBs of CUDA wheels.
TORCH := $(shell grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')

.PHONY: install demo smoke fmnist fmnist-scalegmn fmnist-metanetworks results-page test check lint gpu-check clean-demo

install: $(STAMP)

# pip compiles the installed files to bytecode one at a time, half of a fresh install on 2 cores:
# compileall does it on every core instead, leaving out the packages' own test suites (a quarter of
# the files), which nothing here imports. Like pip, it skips files this Python cannot compile
# (one of torch's testing helpers is written for Python 3.12) and goes on; its exit status says so,
# ignored.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile '$(TORCH)'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 -x '/tests/' $(VENV)/lib > /dev/null || true
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile presets/demo.yaml
	$(BIN)/snakemake --configfile presets/demo.yaml --report results/demo/report.html

smoke: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile presets/smoke.yaml

fmnist: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile presets/fmnist.yaml
	$(BIN)/snakemake --configfile presets/fmnist.yaml --report results/fmnist/report.html

FMNIST_SCALEGMN = --configfile presets/fmnist.yaml presets/fmnist_scalegmn.yaml
fmnist-scalegmn: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(FMNIST_SCALEGMN)
	$(BIN)/snakemake $(FMNIST_SCALEGMN) --report results/fmnist_scalegmn/report.html

FMNIST_METANETWORKS = $(FMNIST_SCALEGMN) presets/fmnist_metanetworks.yaml
fmnist-metanetworks: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(FMNIST_METANETWORKS)
	$(BIN)/snakemake $(FMNIST_METANETWORKS) --report results/fmnist_metanetworks/report.html

# Maintainers: docs/results.md from the last `make fmnist` (a run itself changes no tracked file).
results-page: $(STAMP)
	$(BIN)/gmnrep findings results/fmnist/tables/claims.csv docs/results.md

# -n auto: one test worker per core (tests/conftest.py shares the smoke run between them);
# --durations: where a run's minutes went, in every CI log
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n auto --durations=25

gpu-check:
	$(PYTHON) bench/gpu_check.py

check: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n auto -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check .

clean-demo:
	rm -rf results/demo logs/demo
