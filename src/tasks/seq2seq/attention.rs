//! Attention of the decoder over the encoder's outputs (the memory).
//!
//! No source mask: every batch holds sources of one length, so no memory
//! position is padding.
use tch::nn::{self, Module};
use tch::Tensor;

/// The encoder's outputs `[batch, S, D]` (D = dirs·hidden) and their
/// projection for the attention scores, computed once per source.
#[derive(Debug)]
pub(super) struct Memory {
    pub values: Tensor,
    /// `[batch, S, A]`: `W_a m_s` (Luong) or `U m_s` (Bahdanau); none without attention.
    pub keys: Option<Tensor>,
}

impl Memory {
    /// The memory of rows `index` (int64 `[rows]`) of the batch.
    pub fn rows(&self, index: &Tensor) -> Memory {
        Memory {
            values: self.values.index_select(0, index),
            keys: self.keys.as_ref().map(|k| k.index_select(0, index)),
        }
    }

    fn keys(&self) -> &Tensor {
        self.keys.as_ref().expect("attention keys are computed when the memory is built")
    }
}

/// Luong et al.'s (2015) "general" attention, without input feeding:
/// `score(h_t, m_s) = h_t · W_a m_s`, `c_t = Σ_s softmax_s(score) m_s`,
/// `h̃_t = tanh(W_c [c_t; h_t])`, which the output layer reads.
#[derive(Debug)]
pub(super) struct Luong {
    /// `W_a`: D → hidden, no bias (`attention.w_a`).
    w_a: nn::Linear,
    /// `W_c`: D + hidden → hidden, no bias (`attention.w_c`).
    w_c: nn::Linear,
}

impl Luong {
    pub fn new(vs: &nn::Path, memory: i64, hidden: i64) -> Luong {
        let cfg = nn::LinearConfig { bias: false, ..Default::default() };
        Luong {
            w_a: nn::linear(vs / "w_a", memory, hidden, cfg),
            w_c: nn::linear(vs / "w_c", memory + hidden, hidden, cfg),
        }
    }

    pub fn keys(&self, values: &Tensor) -> Tensor {
        self.w_a.forward(values)
    }

    /// Decoder outputs `h` `[batch, T, hidden]` → attentional states
    /// `h̃` `[batch, T, hidden]`, all time steps at once.
    pub fn attend(&self, h: &Tensor, memory: &Memory) -> Tensor {
        let scores = h.bmm(&memory.keys().transpose(1, 2));
        let weights = scores.softmax(-1, h.kind());
        let context = weights.bmm(&memory.values);
        self.w_c.forward(&Tensor::cat(&[&context, h], 2)).tanh()
    }
}

/// Bahdanau et al.'s (2015) additive attention from the decoder's previous
/// top-layer state: `e_ts = v · tanh(W s_{t−1} + U m_s)`,
/// `c_t = Σ_s softmax_s(e_ts) m_s`.
#[derive(Debug)]
pub(super) struct Bahdanau {
    /// `W`: hidden → hidden, no bias (`attention.w`).
    w: nn::Linear,
    /// `U`: D → hidden, with the score's bias (`attention.u`).
    u: nn::Linear,
    /// `v`: hidden → 1 (`attention.v`).
    v: nn::Linear,
}

impl Bahdanau {
    pub fn new(vs: &nn::Path, memory: i64, hidden: i64) -> Bahdanau {
        let no_bias = nn::LinearConfig { bias: false, ..Default::default() };
        Bahdanau {
            w: nn::linear(vs / "w", hidden, hidden, no_bias),
            u: nn::linear(vs / "u", memory, hidden, Default::default()),
            v: nn::linear(vs / "v", hidden, 1, no_bias),
        }
    }

    pub fn keys(&self, values: &Tensor) -> Tensor {
        self.u.forward(values)
    }

    /// Previous top-layer decoder state `[batch, hidden]` → context `[batch, 1, D]`.
    pub fn context(&self, previous: &Tensor, memory: &Memory) -> Tensor {
        let energy = self.v.forward(&(self.w.forward(previous).unsqueeze(1) + memory.keys()).tanh());
        let weights = energy.squeeze_dim(2).softmax(-1, previous.kind());
        weights.unsqueeze(1).bmm(&memory.values)
    }
}
