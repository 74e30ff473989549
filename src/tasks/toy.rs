//! A task that exists only in the tests, to show what adding one takes:
//! this file and its line in [`super::REGISTRY`]. It reads labelled
//! sequences (e.g. `parity`), ignores their labels and predicts each
//! sequence's first token from the recurrent stack's summary: a memory
//! test, many-to-one.
use anyhow::Result;
use tch::{nn, Tensor};

use super::examples::readout::Readout;
use super::examples::{DecodeOptions, ExampleBatch, ExampleModel, ExampleTask, Pass, Tallies};
use super::TaskInfo;
use crate::data::examples::Dataset;
use crate::metrics::{Direction, Metric};
use crate::model::IGNORE;
use crate::spec::{ModelSpec, Shape, Spec};

pub struct FirstToken;

static INFO: TaskInfo = TaskInfo {
    name: "first_token",
    shape: Shape::Labels,
    metrics: &[Metric::LOSS, Metric::measured("recall", "first-token accuracy", Direction::Higher).with_default()],
    table: &[("val_recall", "val recall", 3)],
    units: "recall = share of sequences whose first token is named right",
    by_length: &[],
};

impl ExampleTask for FirstToken {
    fn info(&self) -> &'static TaskInfo {
        &INFO
    }

    fn build(&self, vs: &nn::Path, model: &ModelSpec, data: &Dataset) -> Result<Box<dyn ExampleModel>> {
        Ok(Box::new(Recall(Readout::new(vs, model, data.source.len(), data.source.len()))))
    }

    fn per_example(&self) -> &'static str {
        "recall"
    }
}

#[derive(Debug)]
struct Recall(Readout);

impl ExampleModel for Recall {
    fn pass(&self, batch: &ExampleBatch, train: bool) -> Pass {
        let (b, s) = (batch.len(), batch.source.size()[1]);
        let logits = self.0.classify(&batch.source, train);
        let first = batch.source.select(1, 0);
        let loss = logits.cross_entropy_loss::<Tensor>(&first, None, tch::Reduction::Sum, IGNORE, 0.0);
        Pass { logits, loss, scored: batch.count(b), tokens: (b * s) as usize }
    }

    fn score(&self, batch: &ExampleBatch, pass: &Pass, _last: bool, tallies: &mut Tallies) -> Result<()> {
        let predicted = Vec::<i64>::try_from(pass.logits.argmax(-1, false))?;
        for (e, p) in batch.examples.iter().zip(predicted) {
            tallies.add("recall", batch.source_len(), f64::from(u8::from(e.source[0] == p)), 1.0);
        }
        Ok(())
    }

    fn answer(
        &self,
        _ids: &[i64],
        source: &Tensor,
        data: &Dataset,
        _spec: &Spec,
        _o: &DecodeOptions,
    ) -> Result<String> {
        let best = i64::try_from(self.0.classify(source, false).argmax(-1, false).get(0))?;
        Ok(data.source.token(best).to_string())
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::parse;

    /// The toy task goes through the same validation, trial directory,
    /// training loop, metrics and summary as the built-in ones.
    #[test]
    fn a_registered_task_trains_through_the_whole_pipeline() {
        let yaml = "task: first_token\n\
                    data:\n  source: {kind: parity, examples: 400, min_length: 3, max_length: 10}\n\
                    model: {cell: gru, hidden: 16}\n\
                    train: {steps: 150, lr: 0.02, eval_every: 50, log_every: 25, batch_size: 16}\n";
        let loaded = parse(yaml, "toy.yaml", "toy").unwrap();
        let trials = crate::tasks::expand(&loaded).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let trial_dir = dir.path().join("trials").join(&trials[0].id);
        trials[0].write(&trial_dir).unwrap();
        let status = crate::trial::run(&trials[0], &trial_dir, tch::Device::Cpu, 1, &mut (), None).unwrap();
        // Bits are 0 or 1 (ids 2 and 3): chance is one half.
        let recall = status.result["val_recall"];
        assert!(recall > 0.9, "val recall {recall}");
        assert!(status.result.contains_key("best_val_loss") && status.result.contains_key("test_recall"));
        let records = crate::summary::collect(dir.path()).unwrap();
        let columns = crate::summary::result_columns(&records);
        assert!(columns.contains(&"val_recall".to_string()), "{columns:?}");
        // Another task's option is refused, naming the field.
        let bad = parse(&format!("{yaml}decode: {{beam: 3}}\n"), "toy.yaml", "toy").unwrap();
        let err = crate::tasks::expand(&bad).unwrap_err();
        assert_eq!(err.field, "decode");
        assert!(err.message.contains("only a seq2seq model has this (task is first_token)"), "{err}");
    }
}
