//! Batched beam search: every example keeps `width` rows of one
//! `[batch·width]` decoder batch, so each step is one decoder call.
//!
//! As in [`crate::generate::beam_search`], each step keeps per example the
//! `width` best extensions of its live prefixes by total log-probability;
//! an extension that ends in `<EOS>` is finished and gives up its row (the
//! example's beam narrows), so width 1 is exactly greedy decoding. Scores
//! are [`normalised`] with length = tokens + 1 for a finished hypothesis
//! (its `<EOS>` is a predicted token) and = tokens for one still live after
//! `max_len` steps. An example stops once its best finished score is at
//! least what any live prefix could still reach (ln P only falls, and no
//! hypothesis is longer than `max_len`), or when it has no live prefix.
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

use super::{to_vec_i64, Seq2Seq};
use crate::data::examples::{BOS, EOS, PAD};
use crate::generate::normalised;
use crate::model::RecurrentState;

/// A candidate answer: tokens and total ln P.
struct Hypothesis {
    tokens: Vec<i64>,
    log_prob: f64,
    finished: bool,
}

impl Hypothesis {
    fn score(&self, alpha: f64) -> f64 {
        normalised(self.log_prob, self.tokens.len() + usize::from(self.finished), alpha)
    }
}

impl Seq2Seq {
    /// Beam search over a batch of sources `[batch, S]`: per example the
    /// best hypothesis by ln P / len^alpha (tokens before `<EOS>`).
    pub fn beam(&self, source: &Tensor, width: usize, alpha: f64, max_len: usize) -> Result<Vec<Vec<i64>>> {
        if width == 0 {
            bail!("decode.beam: must be at least 1");
        }
        if max_len == 0 {
            bail!("decode.max_length: must be at least 1");
        }
        if !(alpha >= 0.0 && alpha.is_finite()) {
            bail!("decode.length_norm: must be a number >= 0, got {alpha}");
        }
        tch::no_grad(|| self.beam_search(source, width, alpha, max_len))
    }

    fn beam_search(&self, source: &Tensor, width: usize, alpha: f64, max_len: usize) -> Result<Vec<Vec<i64>>> {
        let device = source.device();
        let batch = source.size()[0] as usize;
        let (k, rows) = (width, batch * width);
        let (memory, state) = self.encode(source, false);
        // Row r holds a hypothesis of example r / k; its memory never moves.
        let example: Vec<i64> = (0..rows).map(|r| (r / k) as i64).collect();
        let example = Tensor::from_slice(&example).to_device(device);
        let memory = memory.rows(&example);
        let mut state = RecurrentState(state.0.iter().map(|s| s.index_select(1, &example)).collect());
        // All k copies start identical: only the first is live.
        let mut log_probs: Vec<f64> = (0..rows).map(|r| if r % k == 0 { 0.0 } else { f64::NEG_INFINITY }).collect();
        let mut prefixes: Vec<Vec<i64>> = vec![Vec::new(); rows];
        let mut finished: Vec<Vec<Hypothesis>> = (0..batch).map(|_| Vec::new()).collect();
        let mut previous = Tensor::full([rows as i64], BOS, (Kind::Int64, device));
        let reach = (max_len as f64).powf(alpha);
        for _ in 0..max_len {
            let (logits, next) = self.step(&previous, &state, &memory, false);
            let vocab = logits.size()[1];
            let totals =
                logits.log_softmax(-1, Kind::Double) + Tensor::from_slice(&log_probs).to_device(device).unsqueeze(1);
            let (best, index) = totals.view([batch as i64, k as i64 * vocab]).topk(k as i64, 1, true, true);
            let best: Vec<f64> = Vec::try_from(&best.view([-1]).to_device(Device::Cpu))?;
            let index = to_vec_i64(&index.view([-1]));
            let mut parents = Vec::with_capacity(rows);
            let mut tokens = Vec::with_capacity(rows);
            let mut next_prefixes = Vec::with_capacity(rows);
            for (r, (&lp, &i)) in best.iter().zip(&index).enumerate() {
                let parent = (r / k) * k + (i / vocab) as usize;
                let token = i % vocab;
                parents.push(parent as i64);
                let mut prefix = prefixes[parent].clone();
                if lp == f64::NEG_INFINITY {
                    log_probs[r] = lp;
                    tokens.push(PAD);
                } else if token == EOS {
                    finished[r / k].push(Hypothesis { tokens: prefix.clone(), log_prob: lp, finished: true });
                    log_probs[r] = f64::NEG_INFINITY;
                    tokens.push(PAD);
                } else {
                    prefix.push(token);
                    log_probs[r] = lp;
                    tokens.push(token);
                }
                next_prefixes.push(prefix);
            }
            prefixes = next_prefixes;
            for (e, done) in finished.iter().enumerate() {
                let Some(best_done) = done.iter().map(|h| h.score(alpha)).max_by(f64::total_cmp) else { continue };
                let live = &mut log_probs[e * k..(e + 1) * k];
                if live.iter().all(|&lp| lp / reach <= best_done) {
                    live.fill(f64::NEG_INFINITY);
                }
            }
            if log_probs.iter().all(|&lp| lp == f64::NEG_INFINITY) {
                break;
            }
            let parents = Tensor::from_slice(&parents).to_device(device);
            state = RecurrentState(next.0.iter().map(|s| s.index_select(1, &parents)).collect());
            previous = Tensor::from_slice(&tokens).to_device(device);
        }
        let answers = finished
            .into_iter()
            .enumerate()
            .map(|(e, done)| {
                let live = (e * k..(e + 1) * k).filter(|&r| log_probs[r] > f64::NEG_INFINITY).map(|r| Hypothesis {
                    tokens: prefixes[r].clone(),
                    log_prob: log_probs[r],
                    finished: false,
                });
                // The first of equal scores wins: finished before live, beam order.
                let mut best: Option<(f64, Hypothesis)> = None;
                for h in done.into_iter().chain(live) {
                    let score = h.score(alpha);
                    if best.as_ref().is_none_or(|(s, _)| score > *s) {
                        best = Some((score, h));
                    }
                }
                best.map(|(_, h)| h.tokens).unwrap_or_default()
            })
            .collect();
        Ok(answers)
    }
}
