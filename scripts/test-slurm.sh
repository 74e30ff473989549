#!/usr/bin/env bash
# `make test-slurm`: the Slurm end-to-end tests (tests/slurm.rs) on a real
# one-node Slurm that scripts/slurm-local.sh starts here and stops after.
# Where Slurm cannot be installed it prints SKIPPED and exits 77: skipped,
# never passed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Makefile's environment, for when .ci/run calls this directly.
VENV=${VENV:-$HOME/.cache/rnnlab/venv-torch-2.11.0}
export LIBTORCH_USE_PYTORCH=1 VIRTUAL_ENV=${VIRTUAL_ENV:-$VENV}
export PATH="$VIRTUAL_ENV/bin:$PATH"
export RNNLAB_SLURM_DIR=${RNNLAB_SLURM_DIR:-$(mktemp -d /tmp/rnnlab-slurm.XXXXXX)}
rc=0
scripts/slurm-local.sh start || rc=$?
if [ "$rc" -ne 0 ]; then
    exit "$rc"
fi
trap 'scripts/slurm-local.sh stop' EXIT
eval "$(scripts/slurm-local.sh env)"
OMP_NUM_THREADS=1 cargo test --release --locked --test slurm -- --ignored --test-threads=1
