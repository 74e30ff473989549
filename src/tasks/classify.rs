//! Sequence classification (many-to-one): one label per sequence, read
//! from the recurrent stack's summary of the whole sequence (the forward
//! direction's last step, and the backward direction's first).
//!
//! Metrics: `loss` (nats per label) and `accuracy` (the default).
use anyhow::Result;
use tch::{nn, Tensor};

use super::examples::readout::Readout;
use super::examples::{DecodeOptions, ExampleBatch, ExampleModel, ExampleTask, Pass, Tallies};
use super::TaskInfo;
use crate::data::examples::Dataset;
use crate::metrics::{Direction, Metric};
use crate::model::IGNORE;
use crate::spec::{ModelSpec, Shape, Spec};

pub struct Classify;

static INFO: TaskInfo = TaskInfo {
    name: "classify",
    shape: Shape::Labels,
    metrics: &[Metric::LOSS, Metric::measured("accuracy", "accuracy", Direction::Higher).with_default()],
    table: &[
        ("val_loss", "val loss", 3),
        ("val_accuracy", "val acc", 3),
        ("best_val_loss", "best val loss", 3),
        ("test_accuracy", "test acc", 3),
    ],
    units: "loss = cross-entropy in nats per label or tag",
    by_length: &["accuracy"],
};

impl ExampleTask for Classify {
    fn info(&self) -> &'static TaskInfo {
        &INFO
    }

    fn build(&self, vs: &nn::Path, model: &ModelSpec, data: &Dataset) -> Result<Box<dyn ExampleModel>> {
        Ok(Box::new(Classifier(Readout::new(vs, model, data.source.len(), data.target.len()))))
    }

    fn per_example(&self) -> &'static str {
        "accuracy"
    }
}

/// A read-out of the whole sequence's summary.
#[derive(Debug)]
struct Classifier(Readout);

impl ExampleModel for Classifier {
    fn pass(&self, batch: &ExampleBatch, train: bool) -> Pass {
        let (b, s) = (batch.len(), batch.source.size()[1]);
        let logits = self.0.classify(&batch.source, train);
        let target = batch.targets(&[b]);
        let loss = logits.cross_entropy_loss::<Tensor>(&target, None, tch::Reduction::Sum, IGNORE, 0.0);
        Pass { logits, loss, scored: batch.count(b), tokens: (b * s) as usize }
    }

    fn score(&self, batch: &ExampleBatch, pass: &Pass, _last: bool, tallies: &mut Tallies) -> Result<()> {
        let length = batch.source_len();
        let predicted = Vec::<i64>::try_from(pass.logits.argmax(-1, false)).unwrap_or_default();
        for (e, p) in batch.examples.iter().zip(predicted) {
            tallies.add("accuracy", length, f64::from(u8::from(e.target[0] == p)), 1.0);
        }
        Ok(())
    }

    /// The label and its probability, tab-separated.
    fn answer(
        &self,
        _ids: &[i64],
        source: &Tensor,
        data: &Dataset,
        _spec: &Spec,
        _o: &DecodeOptions,
    ) -> Result<String> {
        let probs = self.0.classify(source, false).softmax(-1, tch::Kind::Float);
        let best = i64::try_from(probs.argmax(-1, false).get(0))?;
        let p = f64::try_from(probs.get(0).get(best))?;
        Ok(format!("{}\t{p:.3}", data.target.token(best)))
    }
}
