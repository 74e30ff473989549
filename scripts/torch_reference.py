#!/usr/bin/env python3
"""PyTorch reference for `rnnlab bench`: the same character-level LSTM
training loop, written directly against PyTorch, so throughput and memory can
be compared with the Rust harness.

It mirrors rnnlab's data pipeline and training step exactly: vocabulary =
sorted set of the text's characters; contiguous 0.9/0.05/0.05 split; the train
ids laid out as `batch` contiguous rows and read in `bptt`-long windows with
the hidden state carried (detached) across windows and reset at each new
epoch; one-hot input -> nn.LSTM -> nn.Linear; mean cross-entropy per target
character; Adam(lr=2e-3) with global gradient-norm clipping at 5.

Prints exactly one JSON line to stdout, in the format of `rnnlab bench`.
"""
import argparse
import hashlib
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

LR = 2e-3
CLIP = 5.0
SPLIT_TRAIN = 0.9
# SHA-256 of the built-in `torch-nn-modules` corpus of torch 2.11.0, pinned
# as in rnnlab (src/data/builtin.rs) so both read the same text.
TORCH_NN_MODULES_SHA256 = "614dbd6dae39f9c1db3b38c4d9c3a31533e2bab9e85bfd01ae5ae58daf6c1463"


def builtin_corpus():
    """Every *.py under torch/nn/modules/, sorted by relative path, concatenated."""
    root = os.path.join(os.path.dirname(torch.__file__), "nn", "modules")
    rels = []
    for dirpath, _, files in os.walk(root):
        rels += [os.path.relpath(os.path.join(dirpath, f), root) for f in files if f.endswith(".py")]
    # Python orders str by code point, which is the UTF-8 byte order rnnlab sorts by.
    rels.sort()
    # Read bytes and decode, so line endings are kept as they are.
    text = "".join(open(os.path.join(root, rel), "rb").read().decode("utf-8") for rel in rels)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if sha != TORCH_NN_MODULES_SHA256:
        sys.exit(f"the built-in corpus read from {root} has SHA-256 {sha}, not the pinned "
                 f"{TORCH_NN_MODULES_SHA256}; it comes from torch 2.11.0")
    return text


def train_streams(text, batch):
    """Train split as a [batch, len] int64 matrix of contiguous rows, and the vocabulary size."""
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    n_train = int(len(text) * SPLIT_TRAIN)
    ids = torch.tensor([index[c] for c in text[:n_train]], dtype=torch.int64)
    length = n_train // batch
    if length < 2:
        sys.exit(f"the train split has {n_train} characters, too few for batch {batch}")
    return ids[: batch * length].view(batch, length), len(vocab)


class CharLstm(nn.Module):
    def __init__(self, vocab, hidden, layers):
        super().__init__()
        self.vocab = vocab
        self.rnn = nn.LSTM(vocab, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids, state):
        out, state = self.rnn(F.one_hot(ids, self.vocab).float(), state)
        return self.head(out), state


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30, help="timed training steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before the timed ones")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: PyTorch's choice)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", help="UTF-8 text file (default: the built-in torch-nn-modules corpus)")
    args = ap.parse_args()
    for name in ("hidden", "layers", "batch", "bptt", "steps"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        ap.error("--warmup must be at least 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: CUDA is not available to this PyTorch")

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)

    text = open(args.corpus, "rb").read().decode("utf-8") if args.corpus else builtin_corpus()
    data, vocab = train_streams(text, args.batch)
    data = data.to(device)
    model = CharLstm(vocab, args.hidden, args.layers).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    usable = data.shape[1] - 1
    pos = 0
    state = None  # None = zeros, as at the start of every epoch

    def step():
        """One optimizer step on the next window; returns (mean loss tensor, target chars)."""
        nonlocal pos, state
        if pos == 0:
            state = None
        n = min(args.bptt, usable - pos)
        inputs, targets = data[:, pos : pos + n], data[:, pos + 1 : pos + 1 + n]
        pos = 0 if pos + n >= usable else pos + n
        logits, (h, c) = model(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), reduction="sum") / targets.numel()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        state = (h.detach(), c.detach())
        return loss.detach(), targets.numel()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    sync()
    tokens = 0
    start = time.perf_counter()
    for _ in range(args.steps):
        # No host sync inside the loop (the loss stays on the device), as in rnnlab.
        loss, chars = step()
        tokens += chars
    sync()
    seconds = time.perf_counter() - start

    print(json.dumps({
        "impl": "pytorch",
        "device": args.device,
        "hidden": args.hidden,
        "layers": args.layers,
        "batch": args.batch,
        "bptt": args.bptt,
        "steps": args.steps,
        "tokens_per_s": tokens / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # ru_maxrss is KiB on Linux
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
        "final_loss": loss.item(),
    }))


if __name__ == "__main__":
    main()
