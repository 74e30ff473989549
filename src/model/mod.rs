//! Recurrent models, the lowest layer above libtorch: the cells (one
//! registry entry and one file each, see [`cells`]), the stacks that run
//! them (fused or hand-written), the input encoding and the character model
//! (input encoding → recurrent stack → linear read-out).
//!
//! Nothing here reads the experiment spec: everything is built from
//! model-level values such as [`Stack`]; `crate::spec::build` turns a
//! `ModelSpec` into them.
pub mod cells;
pub mod custom;
pub mod fused;
pub mod gru;
pub mod lstm;
#[cfg(test)]
mod mgu;
pub mod pack;

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

pub use cells::Cell;
pub use custom::CustomRnn;
pub use fused::FusedRnn;

/// Recurrent state carried between windows: one tensor per state kind
/// (`[h]`, `[h, c]`, …), each `[layers·dirs, batch, size]`.
#[derive(Debug)]
pub struct RecurrentState(pub Vec<Tensor>);

impl RecurrentState {
    /// Cuts the graph so the next window backpropagates only through itself
    /// (truncated BPTT) while keeping the values.
    pub fn detach(&self) -> RecurrentState {
        RecurrentState(self.0.iter().map(|t| t.detach()).collect())
    }
}

/// The shape of a recurrent stack, fused or hand-written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stack {
    pub cell: Cell,
    /// Features of the first layer's input.
    pub input: i64,
    pub hidden: i64,
    pub layers: i64,
    pub bidirectional: bool,
    /// Dropout between layers (training only).
    pub dropout: f64,
    /// Initial LSTM forget-gate bias, if set.
    pub forget_bias: Option<f64>,
    /// Every parameter zero instead of PyTorch's random initialisation: for
    /// a model built only to be counted, which then draws nothing from
    /// libtorch's global generator (see [`count_without_drawing`]).
    pub zero_init: bool,
}

impl Stack {
    /// One direction, no dropout, default initialisation.
    pub fn new(cell: Cell, input: i64, hidden: i64, layers: i64) -> Stack {
        Stack { cell, input, hidden, layers, bidirectional: false, dropout: 0.0, forget_bias: None, zero_init: false }
    }
}

/// A recurrent stack: libtorch's fused kernels or hand-written cells.
#[derive(Debug)]
pub enum Recurrent {
    Fused(FusedRnn),
    Custom(CustomRnn),
}

impl Recurrent {
    /// The stack on the kernel or the layers its cell's registry entry names.
    pub fn from_stack(vs: &nn::Path, stack: &Stack) -> Recurrent {
        if stack.cell.is_fused() {
            Recurrent::Fused(FusedRnn::new(vs, stack))
        } else {
            Recurrent::Custom(CustomRnn::new(vs, stack))
        }
    }

    pub fn output_size(&self) -> i64 {
        match self {
            Recurrent::Fused(r) => r.output_size(),
            Recurrent::Custom(r) => r.output_size(),
        }
    }

    pub fn zero_state(&self, batch: i64, options: (Kind, tch::Device)) -> RecurrentState {
        match self {
            Recurrent::Fused(r) => r.zero_state(batch),
            Recurrent::Custom(r) => r.zero_state(batch, options),
        }
    }

    pub fn forward(&self, input: &Tensor, state: &RecurrentState, train: bool) -> (Tensor, RecurrentState) {
        match self {
            Recurrent::Fused(r) => r.forward(input, state, train),
            Recurrent::Custom(r) => r.forward(input, state, train),
        }
    }
}

/// How token ids enter a recurrent stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputEncoding {
    #[default]
    Onehot,
    Embedding,
}

/// How token ids enter a recurrent stack: one-hot vectors, or a learned
/// embedding (parameter `<path>.weight`) with `input: embedding`.
#[derive(Debug)]
pub struct InputLayer {
    vocab: i64,
    pub embedding: Option<nn::Embedding>,
}

impl InputLayer {
    /// `embedding_size` counts only with [`InputEncoding::Embedding`];
    /// `zero_init` as in [`Stack::zero_init`].
    pub fn with_encoding(
        path: nn::Path,
        encoding: InputEncoding,
        embedding_size: i64,
        vocab: i64,
        zero_init: bool,
    ) -> InputLayer {
        let config = if zero_init {
            nn::EmbeddingConfig { ws_init: nn::Init::Const(0.0), ..Default::default() }
        } else {
            Default::default()
        };
        let embedding =
            (encoding == InputEncoding::Embedding).then(|| nn::embedding(path, vocab, embedding_size, config));
        InputLayer { vocab, embedding }
    }

    /// Features per token.
    pub fn features(&self) -> i64 {
        self.embedding.as_ref().map(|e| e.ws.size()[1]).unwrap_or(self.vocab)
    }

    /// `ids` `[batch, time]` → `[batch, time, features]`.
    pub fn forward(&self, ids: &Tensor, kind: Kind) -> Tensor {
        match &self.embedding {
            Some(e) => e.forward(ids),
            None => ids.one_hot(self.vocab).to_kind(kind),
        }
    }
}

#[derive(Debug)]
pub struct CharRnn {
    input: InputLayer,
    rnn: Recurrent,
    head: nn::Linear,
    dropout: f64,
}

impl CharRnn {
    /// Builds the model's parameters under `vs` (`embedding.*`, `rnn.*`,
    /// `head.*`, in that order): `stack` reads what the input layer gives
    /// (its `input` is set from it), and its dropout also applies before the
    /// read-out over `vocab` symbols.
    pub fn with_stack(
        vs: &nn::Path,
        encoding: InputEncoding,
        embedding_size: i64,
        stack: Stack,
        vocab: i64,
    ) -> CharRnn {
        let input = InputLayer::with_encoding(vs / "embedding", encoding, embedding_size, vocab, stack.zero_init);
        let rnn = Recurrent::from_stack(&(vs / "rnn"), &Stack { input: input.features(), ..stack });
        let config = if stack.zero_init {
            nn::LinearConfig { ws_init: nn::Init::Const(0.0), bs_init: Some(nn::Init::Const(0.0)), bias: true }
        } else {
            Default::default()
        };
        let head = nn::linear(vs / "head", rnn.output_size(), vocab, config);
        CharRnn { input, rnn, head, dropout: stack.dropout }
    }

    pub fn zero_state(&self, batch: i64) -> RecurrentState {
        self.rnn.zero_state(batch, (self.head.ws.kind(), self.head.ws.device()))
    }

    /// `ids`: `[batch, time]` int64 → (logits `[batch, time, vocab]`, final state).
    pub fn forward(&self, ids: &Tensor, state: &RecurrentState, train: bool) -> (Tensor, RecurrentState) {
        let x = self.input.forward(ids, self.head.ws.kind());
        let (out, state) = self.rnn.forward(&x, state, train);
        let out = out.dropout(self.dropout, train);
        (self.head.forward(&out), state)
    }
}

/// Number of scalar parameters in a var store.
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}

/// Sum of token cross-entropies (nats) and of correct argmax predictions
/// over the targets that count (targets of -100 are ignored).
pub fn loss_and_correct(logits: &Tensor, target: &Tensor) -> (Tensor, Tensor) {
    let v = logits.size()[2];
    let flat = logits.view([-1, v]);
    let target = target.reshape([-1]);
    let loss = flat.cross_entropy_loss::<Tensor>(&target, None, tch::Reduction::Sum, IGNORE, 0.0);
    let correct = flat.argmax(-1, false).eq_tensor(&target).to_kind(Kind::Float).sum(Kind::Float);
    (loss, correct)
}

/// Target id of positions that are read but not scored.
pub const IGNORE: i64 = -100;

/// The largest hidden size the budget bisection tries. Every cell has at
/// least a hidden × hidden recurrent matrix, so hidden 2^20 is 2^40
/// parameters, 16 TiB in training (weights, gradients, two moments in f32):
/// more than any machine holds. The spec check refuses a budget beyond this
/// machine's memory first (`model.param_budget`); this bound keeps the
/// doubling from running on (and allocating ever larger models) even where
/// memory cannot be read, or where `count` stops growing.
pub const MAX_HIDDEN: usize = 1 << 20;

/// The hidden size whose `count` is closest to `budget` (ties go to the
/// smaller model); `count` must grow with the hidden size.
pub fn solve_hidden_by(budget: usize, what: &str, count: impl Fn(usize) -> i64) -> anyhow::Result<usize> {
    let budget = i64::try_from(budget).unwrap_or(i64::MAX);
    if count(1) > budget {
        anyhow::bail!(
            "model.param_budget: {budget} parameters is below the smallest {what} ({} parameters at hidden 1)",
            count(1)
        );
    }
    // Largest h with count(h) <= budget, by bisection (count grows with h).
    let (mut lo, mut hi) = (1usize, 2usize);
    while count(hi) <= budget {
        if hi >= MAX_HIDDEN {
            anyhow::bail!(
                "model.param_budget: {budget} parameters would need a {what} with hidden size above {MAX_HIDDEN}, \
                 the largest the budget solver tries (2^40 recurrent parameters, more than any machine holds)"
            );
        }
        lo = hi;
        hi *= 2;
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if count(mid) <= budget {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(if (count(hi) - budget).abs() < (budget - count(lo)).abs() { hi } else { lo })
}

#[cfg(test)]
mod budget_bound_tests {
    #[test]
    fn a_budget_beyond_any_machine_stops_the_doubling() {
        // Mutation check: without the MAX_HIDDEN bail the doubling runs on
        // and returns hidden 2^40 (with a real model, allocating ever larger ones).
        let err = super::solve_hidden_by(1 << 40, "toy", |h| h as i64).unwrap_err().to_string();
        assert!(err.starts_with("model.param_budget") && err.contains("1048576"), "{err}");
        assert_eq!(super::solve_hidden_by(1000, "toy", |h| (h * h) as i64).unwrap(), 32);
    }
}
