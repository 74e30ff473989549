//! The encoder–decoder of Sutskever, Vinyals & Le (2014), with optional
//! attention, teacher forcing and greedy and beam-search decoding.
use anyhow::Result;
use tch::{nn, Tensor};

use crate::spec::ModelSpec;

#[derive(Debug)]
pub struct Seq2Seq {}

impl Seq2Seq {
    /// Builds encoder (`encoder.*`), decoder (`decoder.*`), bridge,
    /// attention and output layer under `vs`.
    pub fn new(vs: &nn::Path, spec: &ModelSpec, source_vocab: i64, target_vocab: i64) -> Result<Seq2Seq> {
        let _ = (vs, spec, source_vocab, target_vocab);
        anyhow::bail!("seq2seq is not implemented yet")
    }

    /// Training forward pass. `source`: `[batch, S]` ids (already reversed
    /// when the spec says so); `target_in`: `[batch, T]` = `<BOS>` then the
    /// target tokens (padded with PAD). Each step after the first feeds the
    /// true previous token with probability `teacher_forcing`, else the
    /// model's own argmax. Returns logits `[batch, T, target_vocab]`.
    pub fn forward(&self, source: &Tensor, target_in: &Tensor, teacher_forcing: f64, train: bool) -> Tensor {
        let _ = (source, target_in, teacher_forcing, train);
        unimplemented!()
    }

    /// Greedy decoding of a batch of sources `[batch, S]`: per example the
    /// tokens before `<EOS>` (at most `max_len`).
    pub fn greedy(&self, source: &Tensor, max_len: usize) -> Vec<Vec<i64>> {
        let _ = (source, max_len);
        unimplemented!()
    }

    /// Beam search over a batch of sources `[batch, S]`: per example the
    /// best hypothesis by ln P / len^alpha (tokens before `<EOS>`).
    pub fn beam(&self, source: &Tensor, width: usize, alpha: f64, max_len: usize) -> Result<Vec<Vec<i64>>> {
        let _ = (source, width, alpha, max_len);
        unimplemented!()
    }
}
