#!/usr/bin/env bash
# Checks an already-built rnnlab binary on a GPU machine that has PyTorch 2.11
# in `python3` but no Rust toolchain: device info, a tiny CUDA sweep, and the
# rnnlab-vs-PyTorch benchmark on CUDA. Takes about 2-4 minutes.
#
# Usage: scripts/gpu-check.sh [BIN]   (default target/release/rnnlab)
# Outputs go under $OUT (default /tmp): gpu-results/ and bench-cuda.json.
set -euo pipefail

BIN="${1:-target/release/rnnlab}"
[[ -x "$BIN" ]] || { echo "gpu-check: $BIN is not an executable file" >&2; exit 1; }
# Absolute, so it still resolves after the cd to the repository root below.
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-/tmp}"

section() { echo; echo "=== $* (t=${SECONDS}s)"; }

section "torch"
TORCH_DIR="$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')"
# The binary links libtorch dynamically; use the Python package's copy, and
# read the built-in corpus from that package too.
export LD_LIBRARY_PATH="$TORCH_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RNNLAB_TORCH_DIR="$TORCH_DIR"
echo "TORCH_DIR=$TORCH_DIR"

section "GPU"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "sees", torch.cuda.get_device_name(0))'

section "rnnlab info"
"$BIN" info

section "tiny sweep on cuda"
timeout 120 "$BIN" run experiments/tiny.yaml --device cuda --results "$OUT_DIR/gpu-results" --jobs 2

section "benchmark on cuda"
timeout 180 python3 scripts/bench.py --bin "$BIN" --device cuda --hiddens 128,512 --steps 200 --warmup 20 \
    --out "$OUT_DIR/bench-cuda.json"

section "done"
