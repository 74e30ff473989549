#!/usr/bin/env python3
"""Packed trials against the same trials unpacked: aggregate training
throughput (trial-tokens/s, summed over the trials) of one pack of K
character-model trials (`rnnlab run-pack`) against the same K trials run one
after another (`rnnlab run --trial-index I`), both with the same threads, side by
side in one script.

Each trial is a char_lm run of the given cell and hidden size on synthetic
XML text, seeds 1..K; evaluation and checkpoints come only after the timed
steps, and throughput is read from each trial's status.json (training time
only). Prints a markdown table to stdout, progress to stderr.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

SPEC = """name: bp
data:
  source: {{kind: xml, chars: 400000, seed: 0, max_depth: 8}}
model: {{cell: {cell}, hidden: {hidden}, layers: 1}}
train: {{optimizer: adam, lr: 0.002, batch_size: {batch}, bptt: {bptt}, steps: {steps}, eval_every: {steps}, log_every: {steps}, checkpoint_every: {steps}, eval_chars: 2000}}
device: cpu
sweep:
  seeds: [{seeds}]
"""


def run(cmd, env):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"bench_pack: {cmd[1]} failed with exit status {proc.returncode}")


def tokens_per_s(dirs):
    return [json.load(open(os.path.join(d, "status.json")))["result"]["tokens_per_s"] for d in dirs]


def measure(binary, cell, hidden, k, args, env, root):
    spec = os.path.join(root, "bp.yaml")
    with open(spec, "w") as f:
        f.write(SPEC.format(cell=cell, hidden=hidden, batch=args.batch, bptt=args.bptt, steps=args.steps,
                            seeds=", ".join(str(s) for s in range(1, k + 1))))
    results = os.path.join(root, "unpacked")
    for i in range(k):
        # One trial per process, in turn, with the pack's threads.
        run([binary, "run", spec, "--trial-index", str(i), "--threads", str(args.threads), "--results", results], env)
    trials = os.path.join(results, "bp", "trials")
    dirs = sorted(os.path.join(trials, d) for d in os.listdir(trials))
    # One after another: K trials' tokens over the sum of their times.
    unpacked = k / sum(1.0 / t for t in tokens_per_s(dirs))
    packed_dirs = []
    for d in dirs:
        to = os.path.join(root, "packed", os.path.basename(d))
        os.makedirs(to)
        shutil.copy(os.path.join(d, "trial.yaml"), to)
        packed_dirs.append(to)
    run([binary, "run-pack", "--threads", str(args.threads)] + packed_dirs, env)
    # Together: every member's tokens over the pack's time.
    packed = sum(tokens_per_s(packed_dirs))
    print(f"  {cell} h{hidden} K={k}: unpacked {unpacked:,.0f}, packed {packed:,.0f} trial-tok/s", file=sys.stderr)
    return {"cell": cell, "hidden": hidden, "k": k, "unpacked": unpacked, "packed": packed}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="path to the rnnlab binary")
    ap.add_argument("--cells", default="lstm,lstm_vanilla")
    ap.add_argument("--hiddens", default="32,64,128,256")
    ap.add_argument("--packs", default="1,2,4,8,16", help="pack sizes K")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", help="write the raw results to this JSON file")
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    rows = []
    for cell in args.cells.split(","):
        for hidden in (int(h) for h in args.hiddens.split(",")):
            for k in (int(k) for k in args.packs.split(",")):
                with tempfile.TemporaryDirectory() as root:
                    rows.append(measure(os.path.abspath(args.bin), cell, hidden, k, args, env, root))
    print(f"Packed vs unpacked, {args.threads} thread(s), batch {args.batch} x bptt {args.bptt}, {args.steps} steps "
          "(aggregate trial-tokens/s)\n")
    print("| cell | hidden | K | unpacked | packed | packed/unpacked |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['cell']} | {r['hidden']} | {r['k']} | {r['unpacked']:,.0f} | {r['packed']:,.0f} | "
              f"{r['packed'] / r['unpacked']:.2f}x |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
