#!/usr/bin/env python3
"""Training throughput and peak memory of `rnnlab bench` against the PyTorch
reference (scripts/torch_reference.py) on the same character-level LSTM.

Every measurement runs in its own process, so peak RSS is per run. For each
hidden size the pair runs twice, rnnlab first and then in reverse order
(rnnlab, PyTorch, PyTorch, rnnlab), and each implementation is credited with
its best tokens/s, which evens out warm caches and background noise.

Prints a markdown table to stdout (progress goes to stderr); --out also writes
every raw result as JSON.
"""
import argparse
import json
import os
import subprocess
import sys

import torch

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_reference.py")


def run_json(cmd, impl):
    """Runs one measurement; returns the last JSON line of its stdout, or exits on failure."""
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"bench: {impl} failed with exit status {proc.returncode}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    try:
        result = json.loads(lines[-1])
        if result["impl"] != impl:
            raise ValueError(f'"impl" is {result["impl"]!r}, expected {impl!r}')
        for key in ("tokens_per_s", "peak_rss_mb"):
            float(result[key])  # must be numbers
    except (IndexError, ValueError, KeyError, TypeError) as e:
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"bench: no valid JSON result line from {impl} ({type(e).__name__}: {e})")
    print(f"  {result['tokens_per_s']:,.0f} tok/s, peak RSS {result['peak_rss_mb']:,.0f} MB", file=sys.stderr, flush=True)
    return result


def best(runs):
    """Best tokens/s and largest peak RSS / GPU memory over one implementation's runs."""
    gpu = [r["peak_gpu_mb"] for r in runs if r.get("peak_gpu_mb") is not None]
    return {
        "tokens_per_s": max(r["tokens_per_s"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "peak_gpu_mb": max(gpu) if gpu else None,
    }


def mb(x):
    return "n/a" if x is None else f"{x:,.0f}"


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="path to the rnnlab binary")
    ap.add_argument("--hiddens", default="128,512", help="comma-separated hidden sizes (default 128,512)")
    ap.add_argument("--steps", type=int, default=50, help="timed steps per run (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before them (default 5)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads for both (default: CPU count)")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=64)
    ap.add_argument("--out", help="write all raw results to this JSON file")
    args = ap.parse_args()
    try:
        hiddens = [int(h) for h in args.hiddens.split(",")]
    except ValueError:
        ap.error(f"--hiddens must be comma-separated integers, not {args.hiddens!r}")
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        ap.error(f"--bin {args.bin}: not an executable file")

    common = ["--layers", args.layers, "--batch", args.batch, "--bptt", args.bptt, "--steps", args.steps,
              "--warmup", args.warmup, "--device", args.device, "--threads", args.threads]
    commands = {"rnnlab": [args.bin, "bench"], "pytorch": [sys.executable, REFERENCE]}
    runs, rows = [], []
    for hidden in hiddens:
        by_impl = {"rnnlab": [], "pytorch": []}
        for impl in ["rnnlab", "pytorch", "pytorch", "rnnlab"]:
            cmd = commands[impl] + [str(a) for a in ["--hidden", hidden] + common]
            result = run_json(cmd, impl)
            by_impl[impl].append(result)
            runs.append(result)
        rows.append({"hidden": hidden, **{impl: best(rs) for impl, rs in by_impl.items()}})

    print(f"device: {args.device}, torch {torch.__version__}, threads: {args.threads}, layers: {args.layers}, "
          f"batch: {args.batch}, bptt: {args.bptt}, steps: {args.steps} (+{args.warmup} warm-up)")
    print("tok/s: best of 2 runs per implementation (order rnnlab, PyTorch, PyTorch, rnnlab); "
          "peak memory: largest of the 2 runs")
    print()
    gpu = args.device == "cuda"
    header = ["hidden", "rnnlab tok/s", "PyTorch tok/s", "ratio (rnnlab/PyTorch)",
              "rnnlab peak RSS MB", "PyTorch peak RSS MB", "RSS ratio"]
    if gpu:
        header += ["rnnlab peak GPU MB", "PyTorch peak GPU MB", "GPU mem ratio"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    for row in rows:
        r, p = row["rnnlab"], row["pytorch"]
        cells = [str(row["hidden"]), f"{r['tokens_per_s']:,.0f}", f"{p['tokens_per_s']:,.0f}",
                 ratio(r["tokens_per_s"], p["tokens_per_s"]),
                 mb(r["peak_rss_mb"]), mb(p["peak_rss_mb"]), ratio(r["peak_rss_mb"], p["peak_rss_mb"])]
        if gpu:
            cells += [mb(r["peak_gpu_mb"]), mb(p["peak_gpu_mb"]), ratio(r["peak_gpu_mb"], p["peak_gpu_mb"])]
        print("| " + " | ".join(cells) + " |")

    if args.out:
        config = {k: v for k, v in vars(args).items() if k != "out"}
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump({"torch": torch.__version__, "config": config, "summary": rows, "runs": runs}, f, indent=2)
            f.write("\n")
        print(f"\nraw results: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
