# rnnlab: every target does its own setup (venv with the pinned PyTorch wheel, release build).
#
# The venv lives in a per-user cache so a second clone reuses it instead of
# downloading ~4.6 GB again; override with `make VENV=/path/to/venv ...`.
TORCH_VERSION := 2.11.0
VENV ?= $(HOME)/.cache/rnnlab/venv-torch-$(TORCH_VERSION)
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rnnlab-ready
NB_STAMP := $(VENV)/.rnnlab-notebooks
BIN := target/release/rnnlab
SPEC ?= experiments/default.yaml
ARGS ?=

export LIBTORCH_USE_PYTORCH := 1
export VIRTUAL_ENV := $(VENV)
export PATH := $(VENV)/bin:$(PATH)

.PHONY: all venv build run test test-slurm bench bench-corpus plot report notebooks lint fmt clean data

all: build

venv: $(STAMP)

$(STAMP): requirements.txt
	@echo ">> creating venv $(VENV) with torch==$(TORCH_VERSION) (first time: ~1-2 min, ~4.6 GB)"
	@mkdir -p $(dir $(VENV))
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -c "import torch, sys; v = torch.__version__.split('+')[0]; sys.exit(0 if v == '$(TORCH_VERSION)' else 'torch ' + v + ' != $(TORCH_VERSION)')"
	@touch $(STAMP)

# The analysis notebook's packages (pandas, matplotlib, SciPy, Jupyter's
# headless runner), in the same venv; the test suite executes the notebook.
$(NB_STAMP): $(STAMP) requirements-notebooks.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-notebooks.txt
	@touch $(NB_STAMP)

build: $(STAMP)
	cargo build --release --locked

run: build
	$(BIN) run $(SPEC) $(ARGS)

# One libtorch thread per in-process test: two test threads each running
# tiny ops on a multi-threaded pool oversubscribe the cores and stall.
# (Trial processes the tests start set their own thread count.)
test: $(STAMP) $(NB_STAMP)
	OMP_NUM_THREADS=1 cargo test --release --locked -- --test-threads=2

# The Slurm end-to-end tests on a real one-node Slurm (installed with
# apt-get and started by scripts/slurm-local.sh; exit 77 = skipped where
# that cannot be done).
test-slurm: $(STAMP)
	scripts/test-slurm.sh

# Larger real corpora under data/ (gitignored): the Linux kernel C corpus
# from Debian's linux-source package (~140 MB download, ~30 s).
data: build
	$(BIN) data linux

# Then packed vs unpacked trials (scripts/bench_pack.py): K in 1,2,4,8,16 at
# hidden 32-256 for lstm and lstm_vanilla; QUICK=1 measures K 1,4,8 at hidden 32,128.
bench: build
	$(PY) scripts/bench.py --bin $(BIN) --tasks char_lm,seq2seq
	$(PY) scripts/bench_pack.py --bin $(BIN) $(if $(QUICK),--hiddens 32,128 --packs 1,4,8)

# Corpus loading at scale (generated 10 MB, 100 MB, 1 GB texts in a temp
# dir): first-encode MB/s, cached open, a trial's resident memory per
# character; QUICK=1 for 10 MB only. OLD=path/to/other/rnnlab compares.
bench-corpus: build
	$(PY) scripts/bench_corpus.py --bin $(BIN) $(if $(QUICK),--quick) $(if $(OLD),--old $(OLD))

plot: build
	$(BIN) plot results/$(basename $(notdir $(SPEC)))

report: build
	$(BIN) report results/$(basename $(notdir $(SPEC)))

# Executes notebooks/variants.ipynb on an experiment's results (default: greff_variants).
EXP ?= results/greff_variants
notebooks: $(NB_STAMP)
	$(PY) scripts/run_notebook.py notebooks/variants.ipynb $(EXP)

lint: $(STAMP)
	cargo fmt --check
	cargo clippy --release --all-targets --locked -- -D warnings

fmt:
	cargo fmt

clean:
	cargo clean
