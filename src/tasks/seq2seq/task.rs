//! The seq2seq task: an encoder reads the source, a decoder writes the
//! target and `<EOS>` ([`super::Seq2Seq`]), trained under teacher forcing.
//!
//! Metrics: `loss` and `perplexity` under teacher forcing, and from greedy
//! decoding `token_accuracy` (output position i equals target position i,
//! over the target and its `<EOS>`) and `exact_accuracy` (the whole output
//! equals the target; the default); in the final evaluation with
//! `decode.beam` > 1 also `beam_token_accuracy` and `beam_exact_accuracy`.
use anyhow::Result;
use tch::{nn, Kind, Tensor};

use super::Seq2Seq;
use crate::data::examples::{Dataset, BOS, EOS, PAD};
use crate::metrics::{Direction, Metric};
use crate::model::IGNORE;
use crate::spec::{Attention, ModelSpec, Shape, Spec};
use crate::tasks::examples::{DecodeOptions, ExampleBatch, ExampleModel, ExampleTask, Pass, Tallies};
use crate::tasks::TaskInfo;

pub struct Seq2seqTask;

static INFO: TaskInfo = TaskInfo {
    name: "seq2seq",
    shape: Shape::Pairs,
    metrics: &[
        Metric::LOSS,
        Metric::PERPLEXITY,
        Metric::measured("token_accuracy", "token accuracy", Direction::Higher),
        Metric::measured("exact_accuracy", "exact match", Direction::Higher).with_default(),
        Metric::measured("beam_token_accuracy", "token accuracy (beam)", Direction::Higher),
        Metric::measured("beam_exact_accuracy", "exact match (beam)", Direction::Higher),
    ],
    table: &[
        ("val_loss", "val loss", 3),
        ("val_token_accuracy", "val token acc", 3),
        ("val_exact_accuracy", "val exact", 3),
        ("test_exact_accuracy", "test exact", 3),
        ("test_beam_exact_accuracy", "test exact (beam)", 3),
    ],
    units: "loss = cross-entropy in nats per target token under teacher forcing; \
            token and exact accuracy of greedy decoding, beam where shown",
    by_length: &["exact_accuracy", "beam_exact_accuracy"],
};

impl ExampleTask for Seq2seqTask {
    fn info(&self) -> &'static TaskInfo {
        &INFO
    }

    fn check(&self, spec: &Spec) -> Result<(), (String, String)> {
        let err = |field: &str, msg: String| Err((field.to_string(), msg));
        let m = &spec.model;
        if m.decoder_layers == Some(0) {
            return err("model.decoder_layers", "must be at least 1".into());
        }
        if m.decoder_cell.or(Some(m.cell)).is_some_and(|c| c.input_is_hidden) {
            return err(
                "model.decoder_cell",
                format!(
                    "{} tie their input size to hidden, which a decoder's input (embedding plus context) \
                     does not match; use them as the encoder only",
                    crate::spec::input_is_hidden_cells()
                ),
            );
        }
        if !(0.0..=1.0).contains(&spec.train.teacher_forcing) {
            return err("train.teacher_forcing", format!("must be in [0, 1], got {}", spec.train.teacher_forcing));
        }
        let d = &spec.decode;
        if d.beam == 0 {
            return err("decode.beam", "must be at least 1 (1 decodes greedily)".into());
        }
        if !(d.length_norm >= 0.0 && d.length_norm.is_finite()) {
            return err("decode.length_norm", format!("must be a number >= 0, got {}", d.length_norm));
        }
        if d.max_length == Some(0) {
            return err("decode.max_length", "must be at least 1 (or null for twice the source length plus 10)".into());
        }
        Ok(())
    }

    fn own_options(&self, spec: &Spec) -> Vec<(&'static str, String)> {
        let m = &spec.model;
        let set = [
            ("model.attention", m.attention != Attention::None),
            ("model.decoder_cell", m.decoder_cell.is_some()),
            ("model.decoder_layers", m.decoder_layers.is_some()),
            ("train.teacher_forcing", spec.train.teacher_forcing != 1.0),
            ("decode", !spec.decode.is_default()),
        ];
        set.into_iter()
            .filter(|(_, on)| *on)
            .map(|(field, _)| (field, "only a seq2seq model has this".into()))
            .collect()
    }

    fn build(&self, vs: &nn::Path, model: &ModelSpec, data: &Dataset) -> Result<Box<dyn ExampleModel>> {
        Ok(Box::new(Seq2Seq::new(vs, model, data.source.len() as i64, data.target.len() as i64)?))
    }

    fn per_example(&self) -> &'static str {
        "exact_accuracy"
    }
}

/// Decoder input (`<BOS>` and the target, padded) and output (the target
/// and `<EOS>`, padded with the ignored id), `[batch, T+1]`.
fn decoder_io(batch: &ExampleBatch) -> (Tensor, Tensor) {
    let t = batch.examples.iter().map(|e| e.target.len()).max().unwrap_or(0) + 1;
    let n = batch.examples.len();
    let (mut input, mut output) = (Vec::with_capacity(n * t), Vec::with_capacity(n * t));
    for e in &batch.examples {
        input.push(BOS);
        input.extend(&e.target);
        output.extend(&e.target);
        output.push(EOS);
        for _ in e.target.len() + 1..t {
            input.push(PAD);
            output.push(IGNORE);
        }
    }
    let shape = [n as i64, t as i64];
    (
        Tensor::from_slice(&input).view(shape).to_device(batch.device),
        Tensor::from_slice(&output).view(shape).to_device(batch.device),
    )
}

/// Compares a decoded output with the reference: (positions right out of
/// target length + 1, whole sequence right).
fn score_decoded(output: &[i64], target: &[i64]) -> (f64, bool) {
    let mut produced = output.to_vec();
    produced.push(EOS);
    let mut reference = target.to_vec();
    reference.push(EOS);
    let right = reference.iter().zip(&produced).filter(|(a, b)| a == b).count();
    (right as f64, output == target)
}

impl ExampleModel for Seq2Seq {
    fn pass(&self, batch: &ExampleBatch, train: bool) -> Pass {
        let (b, s) = (batch.len(), batch.source.size()[1]);
        let (input, output) = decoder_io(batch);
        let tf = if train { batch.spec.train.teacher_forcing } else { 1.0 };
        let logits = self.forward(&batch.source, &input, tf, train);
        let (loss, _) = crate::model::loss_and_correct(&logits, &output);
        let scored = output.ne(IGNORE).sum(Kind::Float);
        Pass { logits, loss, scored, tokens: (b * s) as usize + output.numel() }
    }

    fn score(&self, batch: &ExampleBatch, _pass: &Pass, last: bool, tallies: &mut Tallies) -> Result<()> {
        let length = batch.source_len();
        let decode = &batch.spec.decode;
        let max_len = decode.max_length_for(length);
        let mut add = |outs: Vec<Vec<i64>>, tokens: &'static str, exact: &'static str| {
            for (e, out) in batch.examples.iter().zip(outs) {
                let (right, whole) = score_decoded(&out, &e.target);
                tallies.add(tokens, length, right, (e.target.len() + 1) as f64);
                tallies.add(exact, length, f64::from(u8::from(whole)), 1.0);
            }
        };
        add(self.greedy(&batch.source, max_len), "token_accuracy", "exact_accuracy");
        if last && decode.beam > 1 {
            let outs = self.beam(&batch.source, decode.beam, decode.length_norm, max_len)?;
            add(outs, "beam_token_accuracy", "beam_exact_accuracy");
        }
        Ok(())
    }

    /// The decoded output, greedy or by beam search.
    fn answer(&self, ids: &[i64], source: &Tensor, data: &Dataset, spec: &Spec, o: &DecodeOptions) -> Result<String> {
        let max_len = o.max_length.unwrap_or_else(|| spec.decode.max_length_for(ids.len()));
        if max_len == 0 {
            anyhow::bail!("--max-length must be at least 1");
        }
        let out = match o.beam {
            Some(width) if width != 1 => self.beam(source, width, o.length_norm, max_len)?,
            _ => self.greedy(source, max_len),
        };
        Ok(data.target_text(&out[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_outputs_are_scored_by_position_and_whole() {
        assert_eq!(score_decoded(&[5, 6, 7], &[5, 6, 7]), (4.0, true));
        // One wrong token: 3 of 4 positions (the EOS still lines up).
        assert_eq!(score_decoded(&[5, 9, 7], &[5, 6, 7]), (3.0, false));
        // Stopped early: the EOS lands on a target token.
        assert_eq!(score_decoded(&[5], &[5, 6, 7]), (1.0, false));
        // Ran on: the target's EOS position holds a token.
        assert_eq!(score_decoded(&[5, 6, 7, 8], &[5, 6, 7]), (3.0, false));
    }
}
