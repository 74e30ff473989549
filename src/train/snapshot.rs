//! What a checkpoint holds: the run's [`Position`] and named tensors
//! ([`Snapshot`]), and the helpers that move tensors in and out of a model.
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::{Eval, TrainLog};
pub use crate::layout::Which;
use crate::model::RecurrentState;

/// Where a run stands, beyond its tensors: enough, with a [`Snapshot`]'s
/// tensors, to continue it and compute exactly what an uninterrupted run would.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Position {
    /// Completed optimizer steps.
    pub step: usize,
    pub total_steps: usize,
    /// The training window iterator: offset into the streams and passes done.
    pub window_offset: i64,
    pub epoch: usize,
    pub best_val: Option<(usize, Eval)>,
    /// The last training log written (what the final status reports).
    pub last_train: Option<TrainLog>,
    /// Sums of the logging interval in progress (`f32` device values, exact in `f64`).
    pub interval_loss: f64,
    pub interval_grad_norm: f64,
    /// Scored targets in the interval (the loss's denominator).
    pub interval_scored: f64,
    pub interval_steps: usize,
    /// Characters read in the interval, for its throughput.
    pub interval_tokens: usize,
    pub train_time_s: f64,
    pub train_tokens: usize,
    /// Dropout randomness: libtorch is reseeded before every step with
    /// [`step_seed`]`(seed, step)`, so no generator state needs saving.
    pub seed: u64,
}

/// A checkpoint's contents: named tensors plus the [`Position`].
pub struct Snapshot {
    /// Parameters under their PyTorch-style names (`rnn.weight_ih_l0`, `head.weight`).
    pub model: Vec<(String, Tensor)>,
    /// Optimizer buffers (`<param>.exp_avg`, …) and `step`.
    pub optimizer: Vec<(String, Tensor)>,
    /// The hidden state carried into the next training window (`h`, and `c` for an LSTM).
    pub hidden: Vec<(String, Tensor)>,
    pub position: Position,
}

/// The libtorch seed for training step `step` (0-based) of a run seeded `seed`.
pub fn step_seed(seed: u64, step: usize) -> i64 {
    // SplitMix64 finaliser: distinct, well-mixed seeds for neighbouring steps.
    let mut z = seed.wrapping_add((step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}

/// The var store's variables sorted by name (a stable order for the
/// optimizer and for checkpoints).
pub fn named_variables(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// The carried recurrent state as named tensors: `h`, then `c` for an
/// LSTM, then any further state of a hand-written cell (`s2`, …).
pub fn state_tensors(state: &RecurrentState) -> Vec<(String, Tensor)> {
    let name = |i: usize| match i {
        0 => "h".to_string(),
        1 => "c".to_string(),
        i => format!("s{i}"),
    };
    state.0.iter().enumerate().map(|(i, t)| (name(i), t.shallow_clone())).collect()
}

/// Copies `from` into the same-named, same-shaped tensors of `into`.
pub fn load_named(into: &[(String, Tensor)], from: Vec<(String, Tensor)>, what: &str) -> Result<()> {
    let mut from: std::collections::HashMap<String, Tensor> = from.into_iter().collect();
    for (name, target) in into {
        let src = from.remove(name).with_context(|| format!("the checkpoint's {what} has no tensor '{name}'"))?;
        if src.size() != target.size() {
            bail!("the checkpoint's {what} tensor '{name}' has shape {:?}, expected {:?}", src.size(), target.size());
        }
        tch::no_grad(|| {
            target.shallow_clone().copy_(&src.to_kind(target.kind()).to_device(target.device()));
        });
    }
    if let Some(extra) = from.keys().next() {
        bail!("the checkpoint's {what} has a tensor '{extra}' this model does not");
    }
    Ok(())
}
