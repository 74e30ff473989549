"""Load an rnnlab checkpoint into plain PyTorch modules and continue a prime.

    python scripts/checkpoint_to_torch.py results/default/trials/lstm-2-s1-8e7716/checkpoint-best "    def forward(self, input"

Reads model.safetensors with a few lines of standard-library parsing (the
format is an 8-byte header length, a JSON header, then raw tensors), so the
`safetensors` package is not needed; with it, `safetensors.torch.load_file`
gives the same dict. Prints the most probable next character and its log
probability: `rnnlab sample DIR --prime TEXT --beam 1 --length 1` prints the same.
Supports one-hot or embedding input, rnn_tanh/rnn_relu/lstm/gru, unidirectional.
"""
import json
import struct
import sys
from pathlib import Path

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def load_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


class CharRnn(torch.nn.Module):
    def __init__(self, model, vocab):
        super().__init__()
        self.vocab = vocab
        size = len(vocab)
        if model["input"] == "embedding":
            self.embedding = torch.nn.Embedding(size, model["embedding_size"])
            features = model["embedding_size"]
        else:
            self.embedding = None
            features = size
        cell = model["cell"]
        kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(cell, torch.nn.RNN)
        extra = {"nonlinearity": cell[4:]} if cell.startswith("rnn_") else {}
        self.rnn = kind(features, model["hidden"], model["layers"], batch_first=True, **extra)
        self.head = torch.nn.Linear(model["hidden"], size)

    def forward(self, ids):
        x = self.embedding(ids) if self.embedding is not None else (
            torch.nn.functional.one_hot(ids, len(self.vocab)).float())
        out, _ = self.rnn(x)
        return self.head(out)


def main(ckpt, prime):
    ckpt = Path(ckpt)
    spec = json.loads((ckpt / "model.json").read_text())
    if spec["bidirectional"] or spec["reverse_input"]:
        sys.exit("this script reads unidirectional, forward models only")
    vocab = json.loads((ckpt / "vocab.json").read_text())
    model = CharRnn(spec, vocab)
    print(model.load_state_dict(load_safetensors(ckpt / "model.safetensors")))
    ids = torch.tensor([[vocab.index(c) for c in prime]])
    with torch.no_grad():
        logp = model(ids)[0, -1].log_softmax(-1)
    best = int(logp.argmax())
    print(f"next {vocab[best]!r}: ln P = {float(logp[best]):.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
