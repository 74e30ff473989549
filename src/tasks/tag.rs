//! Tagging (many-to-many, aligned): one tag per token, read from every
//! step of the recurrent stack (a BiLSTM tagger sees both sides).
//!
//! Metrics: `loss` and `perplexity` per tag, `accuracy` per tag (the
//! default) and `exact_accuracy` (sentences tagged without an error).
use anyhow::Result;
use tch::{nn, Tensor};

use super::examples::readout::Readout;
use super::examples::{DecodeOptions, ExampleBatch, ExampleModel, ExampleTask, Pass, Tallies};
use super::TaskInfo;
use crate::data::examples::Dataset;
use crate::metrics::{Direction, Metric};
use crate::spec::{ModelSpec, Shape, Spec};

pub struct Tag;

static INFO: TaskInfo = TaskInfo {
    name: "tag",
    shape: Shape::Tags,
    metrics: &[
        Metric::LOSS,
        Metric::PERPLEXITY,
        Metric::measured("accuracy", "tag accuracy", Direction::Higher).with_default(),
        Metric::measured("exact_accuracy", "sentence accuracy", Direction::Higher),
    ],
    table: &[
        ("val_loss", "val loss", 3),
        ("val_accuracy", "val tag acc", 3),
        ("val_exact_accuracy", "val sentence acc", 3),
        ("test_accuracy", "test tag acc", 3),
    ],
    units: "loss = cross-entropy in nats per label or tag",
    by_length: &["accuracy"],
};

impl ExampleTask for Tag {
    fn info(&self) -> &'static TaskInfo {
        &INFO
    }

    fn build(&self, vs: &nn::Path, model: &ModelSpec, data: &Dataset) -> Result<Box<dyn ExampleModel>> {
        Ok(Box::new(Tagger(Readout::new(vs, model, data.source.len(), data.target.len()))))
    }

    fn per_example(&self) -> &'static str {
        "exact_accuracy"
    }

    fn aligned(&self) -> bool {
        true
    }
}

/// A read-out of every step.
#[derive(Debug)]
struct Tagger(Readout);

impl ExampleModel for Tagger {
    fn pass(&self, batch: &ExampleBatch, train: bool) -> Pass {
        let (b, s) = (batch.len(), batch.source.size()[1]);
        let logits = self.0.tag(&batch.source, train);
        let (loss, _) = crate::model::loss_and_correct(&logits, &batch.targets(&[b, s]));
        Pass { logits, loss, scored: batch.count(b * s), tokens: (2 * b * s) as usize }
    }

    fn score(&self, batch: &ExampleBatch, pass: &Pass, _last: bool, tallies: &mut Tallies) -> Result<()> {
        let length = batch.source_len();
        let predicted = Vec::<Vec<i64>>::try_from(pass.logits.argmax(-1, false)).unwrap_or_default();
        for (e, p) in batch.examples.iter().zip(predicted) {
            let right = e.target.iter().zip(&p).filter(|(a, b)| a == b).count();
            tallies.add("accuracy", length, right as f64, e.target.len() as f64);
            tallies.add("exact_accuracy", length, f64::from(u8::from(right == e.target.len())), 1.0);
        }
        Ok(())
    }

    /// `token/tag` pairs in reading order.
    fn answer(&self, ids: &[i64], source: &Tensor, data: &Dataset, spec: &Spec, _o: &DecodeOptions) -> Result<String> {
        let mut tags = Vec::<i64>::try_from(self.0.tag(source, false).argmax(-1, false).get(0))?;
        let mut ids = ids.to_vec();
        if spec.model.reverse_input {
            tags.reverse();
            ids.reverse();
        }
        let pairs: Vec<String> = ids
            .iter()
            .zip(&tags)
            .map(|(&t, &g)| format!("{}/{}", data.source.token(t), data.target.token(g)))
            .collect();
        Ok(pairs.join(" "))
    }
}
