#!/usr/bin/env python3
"""Scale table of corpus loading (issue 16): generated UTF-8 corpora of
10 MB, 100 MB and 1 GB in a temporary directory, each

- encoded once (`rnnlab encode`, empty cache): MB/s of the first encode
  (timed inside the process, without its ~0.6 s libtorch start-up);
- opened again from the cache: seconds (hashing the source, checking the
  cache file whole, mapping it);
- trained on for a few steps (`rnnlab run --trial-index 0`, one process,
  hidden-64 LSTM): peak resident memory of that process, and the bytes per
  character beyond what the same run needs on a 100 kB corpus (the model,
  batches and libtorch itself);

and, as a reference, the same trial with another rnnlab binary (`--old`,
e.g. the main branch's, which reads the whole text into memory) where it
fits (`--old-max-mb`).

    python3 scripts/bench_corpus.py --bin target/release/rnnlab [--quick] [--old OTHER_BIN]

Wall-clock numbers depend on the machine's load; ratios from one run of
this script compare like with like.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they "
    "you were her she there one all we their can has been if more when will would who so no time could people "
    "state model network hidden layer gradient memory cell gate input output sequence recurrent train loss"
).split()

SPEC = """name: bench_corpus
data:
  source: {{kind: file, path: {path}}}
  split: {{train: 0.99, val: 0.01, test: 0.0}}
model: {{cell: lstm, hidden: 64, layers: 1}}
train:
  batch_size: 32
  bptt: 64
  steps: {steps}
  eval_every: {steps}
  log_every: {steps}
  eval_chars: 50000
device: cpu
"""


def write_corpus(path, size, seed=0):
    """`size` bytes of random English-like lines (with some non-ASCII), made of 8 shuffled 1 MiB blocks."""
    rng = random.Random(seed)
    blocks = []
    for _ in range(8):
        out, n = [], 0
        while n < 1 << 20:
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
            if rng.random() < 0.05:
                line += " — naïve café"
            line = line.capitalize() + ".\n"
            out.append(line)
            n += len(line.encode())
        blocks.append("".join(out).encode())
    with open(path, "wb") as f:
        written = 0
        while written < size:
            b = blocks[rng.randrange(8)][: size - written]
            # Never cut a character in two at the end.
            while b and (b[-1] & 0xC0) == 0x80 or (b and b[-1] >= 0xC0):
                b = b[:-1]
            f.write(b)
            written += len(b)
            if not b:
                break


def timed(cmd, env):
    """(seconds, peak RSS in kB of the command, stdout) via /usr/bin/time -v."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return seconds, rss, p.stdout


def trial(binary, spec, results, env):
    return timed([binary, "run", spec, "--trial-index", "0", "--threads", "1", "--results", results, "--rerun"], env)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/rnnlab")
    ap.add_argument("--old", help="another rnnlab binary to compare with (e.g. main's)")
    ap.add_argument("--old-max-mb", type=int, default=100, help="largest corpus to give --old")
    ap.add_argument("--quick", action="store_true", help="10 MB only")
    ap.add_argument("--sizes", default="10,100,1000", help="corpus sizes in MB")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", help="write the rows here as JSON too")
    args = ap.parse_args()
    sizes = [10] if args.quick else [int(s) for s in args.sizes.split(",")]
    binary = os.path.abspath(args.bin)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-corpus-") as tmp:
        env = dict(os.environ, OMP_NUM_THREADS="1", RNNLAB_CACHE=os.path.join(tmp, "cache"))

        def spec_for(name, size_bytes):
            path = os.path.join(tmp, f"{name}.txt")
            write_corpus(path, size_bytes)
            spec = os.path.join(tmp, f"{name}.yaml")
            with open(spec, "w") as f:
                f.write(SPEC.format(path=path, steps=args.steps))
            return spec, path

        # The constant: the same trial on a 100 kB corpus.
        small, _ = spec_for("small", 100_000)
        _, base_rss, _ = trial(binary, small, os.path.join(tmp, "res"), env)
        old_base = trial(os.path.abspath(args.old), small, os.path.join(tmp, "res-old"), env)[1] if args.old else None
        for mb in sizes:
            spec, path = spec_for(f"c{mb}", mb * 1_000_000)
            # Seconds inside the process (`rnnlab encode` times Corpus::load), not its start-up.
            _, rss_encode, out = timed([binary, "encode", spec], env)
            first = json.loads(out)
            chars, t_encode = first["chars"], first["seconds"]
            t_open = json.loads(timed([binary, "encode", spec], env)[2])["seconds"]
            t_trial, rss_trial, _ = trial(binary, spec, os.path.join(tmp, "res"), env)
            row = {
                "mb": mb,
                "chars": chars,
                "encode_s": round(t_encode, 3),
                "encode_mb_s": round(mb / t_encode, 1),
                "encode_peak_rss_mb": round(rss_encode / 1024),
                "cached_open_s": round(t_open, 3),
                "trial_s": round(t_trial, 1),
                "trial_peak_rss_mb": round(rss_trial / 1024),
                "trial_bytes_per_char": round((rss_trial - base_rss) * 1024 / chars, 3),
            }
            if args.old and mb <= args.old_max_mb:
                t_old, rss_old, _ = trial(os.path.abspath(args.old), spec, os.path.join(tmp, "res-old"), env)
                row["old_trial_s"] = round(t_old, 1)
                row["old_trial_peak_rss_mb"] = round(rss_old / 1024)
                row["old_bytes_per_char"] = round((rss_old - old_base) * 1024 / chars, 2)
            os.remove(path)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    cols = ["mb", "encode_mb_s", "cached_open_s", "trial_peak_rss_mb", "trial_bytes_per_char"]
    if args.old:
        cols += ["old_trial_peak_rss_mb", "old_bytes_per_char", "trial_s", "old_trial_s"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "—")) for c in cols) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
