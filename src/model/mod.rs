//! The character model: input encoding → recurrent stack → linear read-out.
pub mod custom;
pub mod fused;
pub mod gru;
pub mod lstm;

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

pub use custom::CustomRnn;
pub use fused::FusedRnn;

use crate::spec::{Cell, InputEncoding, ModelSpec};

/// Recurrent state carried between windows: one tensor per state kind
/// (`[h]`, `[h, c]`, …), each `[layers·dirs, batch, size]`.
#[derive(Debug)]
pub struct State(pub Vec<Tensor>);

impl State {
    /// Cuts the graph so the next window backpropagates only through itself
    /// (truncated BPTT) while keeping the values.
    pub fn detach(&self) -> State {
        State(self.0.iter().map(|t| t.detach()).collect())
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
}

impl Stack {
    /// One direction, no dropout, default initialisation.
    pub fn new(cell: Cell, input: i64, hidden: i64, layers: i64) -> Stack {
        Stack { cell, input, hidden, layers, bidirectional: false, dropout: 0.0, forget_bias: None }
    }

    /// The stack a model spec asks for over `input` features.
    pub fn of(spec: &ModelSpec, input: i64) -> Stack {
        Stack {
            bidirectional: spec.bidirectional,
            dropout: spec.dropout,
            forget_bias: spec.forget_bias,
            ..Stack::new(spec.cell, input, spec.hidden as i64, spec.layers as i64)
        }
    }
}

/// A recurrent stack: libtorch's fused kernels or hand-written cells.
#[derive(Debug)]
pub enum Recurrent {
    Fused(FusedRnn),
    Custom(CustomRnn),
}

impl Recurrent {
    pub fn new(vs: &nn::Path, spec: &ModelSpec, input: i64) -> Recurrent {
        Recurrent::from_stack(vs, &Stack::of(spec, input))
    }

    /// A stack whose shape is not one model spec's (e.g. a seq2seq decoder).
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

    pub fn zero_state(&self, batch: i64, options: (Kind, tch::Device)) -> State {
        match self {
            Recurrent::Fused(r) => r.zero_state(batch),
            Recurrent::Custom(r) => r.zero_state(batch, options),
        }
    }

    pub fn forward(&self, input: &Tensor, state: &State, train: bool) -> (Tensor, State) {
        match self {
            Recurrent::Fused(r) => r.forward(input, state, train),
            Recurrent::Custom(r) => r.forward(input, state, train),
        }
    }
}

/// How token ids enter a recurrent stack: one-hot vectors, or a learned
/// embedding (parameter `<path>.weight`) with `input: embedding`.
#[derive(Debug)]
pub struct InputLayer {
    vocab: i64,
    pub embedding: Option<nn::Embedding>,
}

impl InputLayer {
    pub fn new(path: nn::Path, spec: &ModelSpec, vocab: i64) -> InputLayer {
        let embedding = (spec.input == InputEncoding::Embedding)
            .then(|| nn::embedding(path, vocab, spec.embedding_size as i64, Default::default()));
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
    /// Builds the model's parameters under `vs` (`embedding.*`, `rnn.*`, `head.*`).
    pub fn new(vs: &nn::Path, spec: &ModelSpec, vocab: usize) -> CharRnn {
        let vocab = vocab as i64;
        let input = InputLayer::new(vs / "embedding", spec, vocab);
        let rnn = Recurrent::new(&(vs / "rnn"), spec, input.features());
        let head = nn::linear(vs / "head", rnn.output_size(), vocab, Default::default());
        CharRnn { input, rnn, head, dropout: spec.dropout }
    }

    pub fn zero_state(&self, batch: i64) -> State {
        self.rnn.zero_state(batch, (self.head.ws.kind(), self.head.ws.device()))
    }

    /// `ids`: `[batch, time]` int64 → (logits `[batch, time, vocab]`, final state).
    pub fn forward(&self, ids: &Tensor, state: &State, train: bool) -> (Tensor, State) {
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

/// Parameters of a model built from `spec` over `vocab` symbols, computed
/// without building it (used to solve `param_budget` for a hidden size).
pub fn count_parameters(spec: &ModelSpec, vocab: usize) -> i64 {
    let (v, h) = (vocab as i64, spec.hidden as i64);
    let dirs = if spec.bidirectional { 2 } else { 1 };
    let input = match spec.input {
        InputEncoding::Onehot => v,
        InputEncoding::Embedding => spec.embedding_size as i64,
    };
    let embedding = if spec.input == InputEncoding::Embedding { v * input } else { 0 };
    let layer = |i: i64| -> i64 {
        match spec.cell {
            Cell::RnnTanh | Cell::RnnRelu => h * (i + h) + 2 * h,
            Cell::Lstm => 4 * h * (i + h) + 8 * h,
            Cell::Gru | Cell::GruLecture => 3 * h * (i + h) + 6 * h,
            Cell::Mut1 | Cell::Mut2 | Cell::Mut3 => gru::MutLayer::parameter_count(spec.cell, i, h),
            cell => lstm::Variant::of(cell).expect("an LSTM variant").parameter_count(i, h),
        }
    };
    let recurrent: i64 = (0..spec.layers as i64).map(|l| dirs * layer(if l == 0 { input } else { h * dirs })).sum();
    embedding + recurrent + (h * dirs) * v + v
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

/// The hidden size whose parameter count is closest to `budget` (ties go
/// to the smaller model), or an error if even hidden = 1 exceeds it.
pub fn solve_hidden(spec: &ModelSpec, vocab: usize, budget: usize) -> anyhow::Result<usize> {
    solve_hidden_by(budget, &format!("{:?} model with a vocabulary of {vocab}", spec.cell), |h| {
        count_parameters(&ModelSpec { hidden: h, ..spec.clone() }, vocab)
    })
}

/// The hidden size whose `count` is closest to `budget` (ties go to the
/// smaller model); `count` must grow with the hidden size.
pub fn solve_hidden_by(budget: usize, what: &str, count: impl Fn(usize) -> i64) -> anyhow::Result<usize> {
    let budget = budget as i64;
    if count(1) > budget {
        anyhow::bail!(
            "model.param_budget: {budget} parameters is below the smallest {what} ({} parameters at hidden 1)",
            count(1)
        );
    }
    // Largest h with count(h) <= budget, by bisection (count grows with h).
    let (mut lo, mut hi) = (1usize, 2usize);
    while count(hi) <= budget {
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

/// The model spec a trial trains: `hidden` solved from `param_budget` if given.
pub fn resolve(spec: &ModelSpec, vocab: usize) -> anyhow::Result<ModelSpec> {
    let mut m = spec.clone();
    if let Some(budget) = spec.param_budget {
        m.hidden = solve_hidden(spec, vocab, budget)?;
    }
    Ok(m)
}
