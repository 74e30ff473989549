//! The models a [`ModelSpec`] describes, and its parameter budget solved:
//! the spec owns the construction of what it describes (as burn's configs
//! do), while `crate::model` builds from model-level values ([`Stack`],
//! [`crate::model::InputEncoding`]) and knows no spec.
use tch::{nn, Device};

use super::ModelSpec;
use crate::model::{parameter_count, solve_hidden_by, CharRnn, InputLayer, Recurrent, Stack};

impl Stack {
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

impl Recurrent {
    pub fn new(vs: &nn::Path, spec: &ModelSpec, input: i64) -> Recurrent {
        Recurrent::from_stack(vs, &Stack::of(spec, input))
    }
}

impl InputLayer {
    pub fn new(path: nn::Path, spec: &ModelSpec, vocab: i64) -> InputLayer {
        InputLayer::with_encoding(path, spec.input, spec.embedding_size as i64, vocab, false)
    }
}

impl CharRnn {
    /// Builds the model's parameters under `vs` (`embedding.*`, `rnn.*`, `head.*`).
    pub fn new(vs: &nn::Path, spec: &ModelSpec, vocab: usize) -> CharRnn {
        char_rnn(vs, spec, vocab, false)
    }
}

fn char_rnn(vs: &nn::Path, spec: &ModelSpec, vocab: usize, zero_init: bool) -> CharRnn {
    let stack = Stack { zero_init, ..Stack::of(spec, 0) };
    CharRnn::with_stack(vs, spec.input, spec.embedding_size as i64, stack, vocab as i64)
}

/// Parameters of the character model `spec` describes over `vocab`
/// symbols, counted by building it on the CPU, for every cell alike.
///
/// Trainers seed libtorch and then resolve the budget and build the model,
/// so counting must not move libtorch's global generator, or the trained
/// model's initial weights would depend on the counting. tch 0.24 can seed
/// that generator but not save or restore its state, so the counted model
/// is built with every parameter zero ([`Stack::zero_init`]), which draws
/// nothing; it has the same parameters as the model trained.
pub fn count_without_drawing(spec: &ModelSpec, vocab: usize) -> i64 {
    let vs = nn::VarStore::new(Device::Cpu);
    char_rnn(&vs.root(), spec, vocab, true);
    parameter_count(&vs)
}

/// The hidden size whose parameter count is closest to `budget` (ties go
/// to the smaller model), or an error if even hidden = 1 exceeds it.
pub fn solve_hidden(spec: &ModelSpec, vocab: usize, budget: usize) -> anyhow::Result<usize> {
    solve_hidden_by(budget, &format!("{:?} model with a vocabulary of {vocab}", spec.cell), |h| {
        count_without_drawing(&ModelSpec { hidden: h, ..spec.clone() }, vocab)
    })
}

/// The model spec a trial trains: `hidden` solved from `param_budget` if given.
pub fn resolve(spec: &ModelSpec, vocab: usize) -> anyhow::Result<ModelSpec> {
    let mut m = spec.clone();
    if let Some(budget) = spec.param_budget {
        m.hidden = solve_hidden(spec, vocab, budget)?;
    }
    Ok(m)
}
