//! One training step of several trials taken together (packed trials, see
//! `crate::pack`): every member's next window, one forward and backward
//! pass of their models run as one ([`PackedCharRnn`]), then each
//! member's own clipping and optimizer step. The loop's bookkeeping stays
//! each member's [`Trainer`]'s.
use anyhow::{Context, Result};
use tch::{Kind, Tensor};

use super::{named_variables, Batch, StepOut, Trainer};
use crate::model::pack::{stack_params, PackedCharRnn};
use crate::model::{loss_and_correct, RecurrentState, IGNORE};

/// A member's next training window, not yet run through its model.
pub struct PackWindow {
    /// Token ids `[batch, time]`.
    pub input: Tensor,
    /// Targets `[batch, time]` ([`IGNORE`] where not scored).
    pub target: Tensor,
    /// The state the window starts from.
    pub state: RecurrentState,
}

/// Step `step` (0-based) of every trainer in `members`, whose models are
/// the members of `model`. Each member's loss, gradients, clipping and
/// optimizer step are its own: the pack's loss is the sum of the
/// members' mean losses, whose gradient with respect to a member's
/// parameters is that of its own mean loss.
pub fn step(members: &mut [&mut Trainer], model: &PackedCharRnn, step: usize) -> Result<Vec<StepOut>> {
    let mut windows = Vec::with_capacity(members.len());
    for m in members.iter_mut() {
        m.seed_step(step);
        windows.push(m.objective_mut().pack_window().context("this task's objective cannot be packed")?);
    }
    let named: Vec<Vec<(String, Tensor)>> = members.iter().map(|m| named_variables(m.var_store())).collect();
    let refs: Vec<&[(String, Tensor)]> = named.iter().map(|n| n.as_slice()).collect();
    let params = stack_params(&refs);
    let ids = Tensor::stack(&windows.iter().map(|w| &w.input).collect::<Vec<_>>(), 0);
    let states: Vec<RecurrentState> = windows.iter().map(|w| w.state.detach()).collect();
    let (logits, finals) = model.forward(&params, &ids, &states);
    let batches: Vec<Batch> = windows
        .iter()
        .enumerate()
        .map(|(k, w)| {
            let (loss_sum, _) = loss_and_correct(&logits.get(k as i64), &w.target);
            let scored = w.target.ne(IGNORE).sum(Kind::Float);
            Batch { loss_sum, scored, tokens: w.input.numel() }
        })
        .collect();
    for m in members.iter_mut() {
        m.zero_grad();
    }
    let means: Vec<Tensor> = batches.iter().map(Batch::mean_loss).collect();
    Tensor::stack(&means, 0).sum(Kind::Float).backward();
    let mut outs = Vec::with_capacity(members.len());
    for ((m, batch), state) in members.iter_mut().zip(batches).zip(finals) {
        // Truncated BPTT: the next window starts from these values only.
        m.objective_mut().pack_done(state.detach());
        outs.push(m.apply(step, batch));
    }
    Ok(outs)
}
