#!/usr/bin/env python3
"""PyTorch reference for `rnnlab bench --task seq2seq`: the same LSTM
encoder-decoder training step, written directly against PyTorch, so
throughput and memory can be compared with the Rust harness.

Model, as rnnlab builds it for `cell: lstm, input: embedding,
embedding_size: 32` (src/tasks/seq2seq.rs): nn.Embedding(22, 32) ->
nn.LSTM(32, H, layers) encoder; its final (h, c) starts the decoder
nn.Embedding(23, 32) -> nn.LSTM(32, H, layers) directly (same depth and
sizes, so rnnlab copies the state without a bridge); nn.Linear(H, 23). With
`--attention luong`, Luong's "general" attention without input feeding:
scores h_t . W_a m_s, context c_t, and the output layer reads
tanh(W_c [c_t; h_t]).

Vocabularies: 20 cipher letters plus rnnlab's reserved ids, <pad> <unk> on
the source side (22) and <pad> <eos> <bos> on the target side (23).

Training step: full teacher forcing, one decoder call over <BOS> + target;
cross-entropy summed over the target and its <EOS> and divided by their
count; Adam(lr=2e-3) with global gradient-norm clipping at 5.

Data: random letter strings of `length` tokens and their substitution-cipher
images (a fixed permutation without fixed points), drawn up front on the
host; each step moves its batch to the device, as rnnlab assembles each
batch on the host. Tokens per step, counted as rnnlab does: the B*L source
tokens plus the B*(L+1) decoder output positions.

Prints exactly one JSON line to stdout, in the format of `rnnlab bench`.
"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

LR = 2e-3
CLIP = 5.0
SYMBOLS = 20
EMBEDDING = 32
# rnnlab's reserved ids (src/tasks/data/mod.rs): letters follow them.
SOURCE_RESERVED = 2  # <pad>, <unk>
TARGET_RESERVED = 3  # <pad>, <eos>, <bos>
EOS, BOS = 1, 2


class LuongAttention(nn.Module):
    """h [B, T, H], memory [B, S, H] -> tanh(W_c [c; h]) [B, T, H]."""

    def __init__(self, hidden):
        super().__init__()
        self.w_a = nn.Linear(hidden, hidden, bias=False)
        self.w_c = nn.Linear(2 * hidden, hidden, bias=False)

    def forward(self, h, memory):
        weights = torch.softmax(h @ self.w_a(memory).transpose(1, 2), dim=-1)
        return torch.tanh(self.w_c(torch.cat([weights @ memory, h], dim=2)))


class Seq2Seq(nn.Module):
    def __init__(self, hidden, layers, attention):
        super().__init__()
        self.source_embedding = nn.Embedding(SYMBOLS + SOURCE_RESERVED, EMBEDDING)
        self.encoder = nn.LSTM(EMBEDDING, hidden, layers, batch_first=True)
        self.target_embedding = nn.Embedding(SYMBOLS + TARGET_RESERVED, EMBEDDING)
        self.decoder = nn.LSTM(EMBEDDING, hidden, layers, batch_first=True)
        self.attention = LuongAttention(hidden) if attention == "luong" else None
        self.out = nn.Linear(hidden, SYMBOLS + TARGET_RESERVED)

    def forward(self, source, target_in):
        """source [B, S], target_in [B, T] -> logits [B, T, target vocab]."""
        memory, state = self.encoder(self.source_embedding(source))
        h, _ = self.decoder(self.target_embedding(target_in), state)
        if self.attention is not None:
            h = self.attention(h, memory)
        return self.out(h)


def cipher_batches(n, batch, length, seed):
    """n batches of (source [B, L], decoder input [B, L+1], decoder output [B, L+1]) on the host."""
    g = torch.Generator().manual_seed(seed)
    key = torch.randperm(SYMBOLS, generator=g)
    while (key == torch.arange(SYMBOLS)).any():  # no letter stands for itself, as in rnnlab
        key = torch.randperm(SYMBOLS, generator=g)
    plain = torch.randint(0, SYMBOLS, (n, batch, length), generator=g)
    target = key[plain] + TARGET_RESERVED
    bos = torch.full((n, batch, 1), BOS, dtype=torch.int64)
    eos = torch.full((n, batch, 1), EOS, dtype=torch.int64)
    return plain + SOURCE_RESERVED, torch.cat([bos, target], 2), torch.cat([target, eos], 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=20, help="tokens of every source and target")
    ap.add_argument("--attention", choices=["none", "luong"], default="none")
    ap.add_argument("--steps", type=int, default=30, help="timed training steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before the timed ones")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: PyTorch's choice)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for name in ("hidden", "layers", "batch", "length", "steps"):
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

    sources, inputs, outputs = cipher_batches(args.warmup + args.steps, args.batch, args.length, args.seed)
    model = Seq2Seq(args.hidden, args.layers, args.attention).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    vocab = SYMBOLS + TARGET_RESERVED

    def step(i):
        """One optimizer step on batch i; returns (mean loss tensor, tokens read)."""
        source, target_in, target_out = (t[i].to(device) for t in (sources, inputs, outputs))
        logits = model(source, target_in)
        loss = F.cross_entropy(logits.reshape(-1, vocab), target_out.reshape(-1), reduction="sum") / target_out.numel()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        return loss.detach(), source.numel() + target_out.numel()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for i in range(args.warmup):
        step(i)
    sync()
    tokens = 0
    start = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        # No host sync inside the loop (the loss stays on the device), as in rnnlab.
        loss, n = step(i)
        tokens += n
    sync()
    seconds = time.perf_counter() - start

    print(json.dumps({
        "impl": "pytorch",
        "task": "seq2seq",
        "device": args.device,
        "hidden": args.hidden,
        "layers": args.layers,
        "batch": args.batch,
        "length": args.length,
        "attention": args.attention,
        "steps": args.steps,
        "tokens_per_s": tokens / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # ru_maxrss is KiB on Linux
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
        "final_loss": loss.item(),
    }))


if __name__ == "__main__":
    main()
