#!/usr/bin/env python3
"""Training throughput and peak memory of `rnnlab bench` against PyTorch
references on the same models: the character-level LSTM (task char_lm,
scripts/torch_reference.py) and the LSTM encoder-decoder on a letter cipher
(task seq2seq, scripts/torch_seq2seq_reference.py).

Every measurement runs in its own process, so peak RSS is per run. For each
task and hidden size the pair runs twice, rnnlab first and then in reverse
order (rnnlab, PyTorch, PyTorch, rnnlab), and each implementation is credited
with its best tokens/s, which evens out warm caches and background noise.

Prints one markdown table per task to stdout (progress goes to stderr); --out
also writes every raw result as JSON.
"""
import argparse
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCES = {
    "char_lm": os.path.join(HERE, "torch_reference.py"),
    "seq2seq": os.path.join(HERE, "torch_seq2seq_reference.py"),
}


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


def int_list(ap, flag, value):
    try:
        return [int(h) for h in value.split(",")]
    except ValueError:
        ap.error(f"{flag} must be comma-separated integers, not {value!r}")


def measure(commands, hiddens, options, runs):
    """Interleaved best-of-two per hidden size; appends every raw result to `runs`; returns the summary rows."""
    rows = []
    for hidden in hiddens:
        by_impl = {"rnnlab": [], "pytorch": []}
        for impl in ["rnnlab", "pytorch", "pytorch", "rnnlab"]:
            cmd = commands[impl] + [str(a) for a in ["--hidden", hidden] + options]
            result = run_json(cmd, impl)
            by_impl[impl].append(result)
            runs.append(result)
        rows.append({"hidden": hidden, **{impl: best(rs) for impl, rs in by_impl.items()}})
    return rows


def print_table(rows, gpu):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="path to the rnnlab binary")
    ap.add_argument("--tasks", default="char_lm",
                    help="comma-separated tasks to measure, of char_lm and seq2seq (default char_lm)")
    ap.add_argument("--hiddens", default="128,512", help="char_lm: comma-separated hidden sizes (default 128,512)")
    ap.add_argument("--steps", type=int, default=50, help="timed steps per run (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before them (default 5)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads for both (default: CPU count)")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=64, help="char_lm: window length (default 64)")
    ap.add_argument("--seq2seq-hiddens", default="128,512",
                    help="seq2seq: comma-separated hidden sizes (default 128,512)")
    ap.add_argument("--length", type=int, default=20, help="seq2seq: tokens of every source and target (default 20)")
    ap.add_argument("--attention", default="none", choices=["none", "luong"], help="seq2seq: attention (default none)")
    ap.add_argument("--out", help="write all raw results to this JSON file")
    args = ap.parse_args()
    tasks = args.tasks.split(",")
    if not tasks or any(t not in REFERENCES for t in tasks):
        ap.error(f"--tasks must be a comma-separated list of {', '.join(REFERENCES)}, not {args.tasks!r}")
    hiddens = {"char_lm": int_list(ap, "--hiddens", args.hiddens),
               "seq2seq": int_list(ap, "--seq2seq-hiddens", args.seq2seq_hiddens)}
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        ap.error(f"--bin {args.bin}: not an executable file")

    common = ["--layers", args.layers, "--batch", args.batch, "--steps", args.steps,
              "--warmup", args.warmup, "--device", args.device, "--threads", args.threads]
    options = {"char_lm": ["--bptt", args.bptt] + common,
               "seq2seq": ["--length", args.length, "--attention", args.attention] + common}
    shapes = {"char_lm": f"bptt: {args.bptt}",
              "seq2seq": f"LSTM encoder-decoder, embedding 32, cipher of length {args.length}, "
                         f"attention: {args.attention}, full teacher forcing"}
    runs, summary = [], []
    for task in tasks:
        commands = {"rnnlab": [args.bin, "bench"] + (["--task", task] if task != "char_lm" else []),
                    "pytorch": [sys.executable, REFERENCES[task]]}
        rows = measure(commands, hiddens[task], options[task], runs)
        summary += [{"task": task, **row} for row in rows]
        if task != tasks[0]:
            print()
        if len(tasks) > 1:
            print(f"### {task}")
            print()
        print(f"device: {args.device}, torch {torch.__version__}, threads: {args.threads}, layers: {args.layers}, "
              f"batch: {args.batch}, {shapes[task]}, steps: {args.steps} (+{args.warmup} warm-up)")
        print("tok/s: best of 2 runs per implementation (order rnnlab, PyTorch, PyTorch, rnnlab); "
              "peak memory: largest of the 2 runs")
        print()
        print_table(rows, args.device == "cuda")
        sys.stdout.flush()

    if args.out:
        config = {k: v for k, v in vars(args).items() if k != "out"}
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump({"torch": torch.__version__, "config": config, "summary": summary, "runs": runs}, f, indent=2)
            f.write("\n")
        print(f"\nraw results: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
