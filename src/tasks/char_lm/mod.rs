//! The character language model: predict the next character of a text
//! (many-to-many), trained by truncated BPTT ([`objective`]). Its metrics
//! are per character: the loss in nats, bits per character (the default),
//! perplexity and next-character accuracy. The n-gram baselines
//! (`crate::ngram`) are scored with the same metrics. [`token`] is the
//! same model over word tokens (`token_lm`).
mod objective;
pub mod token;

use std::fmt::Write as _;

use anyhow::Result;
use tch::nn;

use super::{BestTrial, PlotSpec, TaskData, TaskInfo, TaskKind};
use crate::data::{Corpus, Split};
use crate::metrics::{bits, Direction, Metric};
use crate::model::pack::PackedCharRnn;
use crate::spec::{ModelSpec, Shape, Spec};
use crate::train::{Eval, Objective};

pub use objective::LmObjective;

pub struct CharLm;

/// Bits per character: the loss in base 2, the unit char-rnn results use.
const BPC: Metric = Metric {
    name: "bpc",
    unit: "bits/char",
    direction: Direction::Lower,
    default: true,
    of_loss: Some(bits),
    train: true,
    test_column: true,
};

pub const METRICS: &[Metric] =
    &[Metric::LOSS, BPC, Metric::PERPLEXITY, Metric::measured("accuracy", "accuracy", Direction::Higher)];

static INFO: TaskInfo = TaskInfo {
    name: "char_lm",
    shape: Shape::Text,
    metrics: METRICS,
    table: &[
        ("val_bpc", "val bits/char", 3),
        ("best_val_bpc", "best val bpc", 3),
        ("test_bpc", "test bits/char", 3),
        ("val_accuracy", "val acc", 3),
    ],
    units: "bits/char = nats/char ÷ ln 2",
    by_length: &[],
};

/// A language model's scores from its mean loss and next-character accuracy.
pub fn eval(loss: f64, accuracy: f64, scored: usize) -> Eval {
    Eval { loss, scored, metrics: crate::metrics::complete(METRICS, loss, &[("accuracy", accuracy)]) }
}

/// The metrics of `defs` of a model scored on `split` with a mean `loss`
/// per token: those of the loss, the accuracy, and, for a word-tokenized
/// split, the metrics of the whole text ([`token::text_metrics`]).
pub fn eval_on(defs: &[Metric], split: &Split, loss: f64, accuracy: f64, scored: usize) -> Eval {
    let mut measured = vec![("accuracy", accuracy)];
    if let Some(stats) = &split.stats {
        measured.extend(token::text_metrics(stats, loss));
    }
    Eval { loss, scored, metrics: crate::metrics::complete(defs, loss, &measured) }
}

/// A text corpus, ready for a language model with the metrics of its task.
struct Text {
    corpus: Corpus,
    metrics: &'static [Metric],
}

impl TaskKind for CharLm {
    fn info(&self) -> &'static TaskInfo {
        &INFO
    }
    fn packs(&self) -> bool {
        true
    }

    fn check(&self, spec: &Spec) -> Result<(), (String, String)> {
        if spec.data.tokens != crate::spec::Tokens::Chars {
            return Err((
                "data.tokens".into(),
                "char_lm predicts characters; a language model over word tokens is task token_lm".into(),
            ));
        }
        check_direction(spec)
    }

    fn own_options(&self, spec: &Spec) -> Vec<(&'static str, String)> {
        let mut own = Vec::new();
        if spec.train.eval_chars.is_some() {
            own.push((
                "train.eval_chars",
                "applies to a language model's validation text; example tasks validate on the whole split".into(),
            ));
        }
        own
    }

    fn load(&'static self, spec: &Spec) -> Result<Box<dyn TaskData>> {
        Ok(Box::new(Text { corpus: Corpus::load(spec)?, metrics: METRICS }))
    }

    /// The corpus depends on the batch size (streams) and the reading direction.
    fn data_key(&self, spec: &Spec) -> String {
        let data = serde_json::to_string(&spec.data).unwrap_or_default();
        format!("{data}/{}/{}", spec.train.batch_size, spec.model.reverse_input)
    }

    fn plots(&self) -> Vec<PlotSpec> {
        let curves = |file: &str, split: &'static str, title: &str, baselines: bool| PlotSpec::Curves {
            file: file.into(),
            split,
            metric: "bpc".into(),
            title: title.into(),
            y_label: "bits per character".into(),
            baselines,
        };
        vec![
            curves("val_bpc", "val", "Validation loss (mean over seeds, band = min–max)", true),
            curves("train_bpc", "train", "Training loss (mean over seeds, band = min–max)", false),
            PlotSpec::Final { column: "val_bpc".into(), y_label: "validation bits per character".into() },
        ]
    }

    /// A short sample from each variant's best trial, at a fixed
    /// temperature and seed, from its best checkpoint.
    fn report_examples(&self, best: &[BestTrial]) -> Option<String> {
        report_samples(best)
    }
}

/// A short sample from each variant's best trial, at a fixed temperature
/// and seed, from its best checkpoint.
fn report_samples(best: &[BestTrial]) -> Option<String> {
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for b in best {
        match crate::generate::sample_text(&b.dir, "", SAMPLE_CHARS, SAMPLE_TEMPERATURE, 0) {
            Ok(text) => {
                lines.push(format!("**{}** (`{}`):\n\n```text\n{}\n```\n", b.variant, b.trial.id, text.trim_end()))
            }
            Err(_) => missing.push(b.variant.clone()),
        }
    }
    if lines.is_empty() && missing.is_empty() {
        return None;
    }
    let mut md = format!(
        "### Samples\n\n{SAMPLE_CHARS} characters from each variant's best trial (best checkpoint), temperature {SAMPLE_TEMPERATURE}, seed 0.\n\n"
    );
    for l in lines {
        md.push_str(&l);
        md.push('\n');
    }
    if !missing.is_empty() {
        let _ = writeln!(md, "No checkpoint to sample from for: {}.\n", missing.join(", "));
    }
    Some(md)
}

/// A language model reads one direction only.
fn check_direction(spec: &Spec) -> Result<(), (String, String)> {
    if spec.model.bidirectional {
        return Err((
            "model.bidirectional".into(),
            "a bidirectional model cannot be trained on next-token prediction: its backward \
             direction reads the very character it must predict, so the loss would be \
             meaningless; use a one-directional model for language modelling"
                .into(),
        ));
    }
    Ok(())
}

const SAMPLE_CHARS: usize = 200;
const SAMPLE_TEMPERATURE: f64 = 0.8;

impl TaskData for Text {
    /// Solved by counting zero-initialised models, which draws nothing from
    /// libtorch's generator: the model is initialised from the freshly
    /// seeded one, as it was when budgets were solved by arithmetic.
    fn resolve_model(&self, spec: &Spec) -> Result<ModelSpec> {
        crate::spec::build::resolve(&spec.model, self.corpus.vocab.len())
    }

    fn objective<'a>(&'a self, spec: &'a Spec, vs: &nn::VarStore) -> Result<(Box<dyn Objective + 'a>, ModelSpec)> {
        let model = self.resolve_model(spec)?;
        let objective = LmObjective::new(spec, &model, &self.corpus, self.metrics, vs)?;
        Ok((Box::new(objective), model))
    }

    fn checkpoint_files(&self) -> Result<Vec<(&'static str, String)>> {
        Ok(vec![(crate::layout::VOCAB_FILE, crate::checkpoint::vocab_json(&self.corpus.vocab)?)])
    }

    fn packed_model(&self, model: &ModelSpec) -> Option<PackedCharRnn> {
        let stack = crate::model::Stack::of(model, 0);
        PackedCharRnn::new(model.input, model.embedding_size as i64, stack, self.corpus.vocab.len() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_derives_bits_and_perplexity_from_the_loss() {
        // ln 4 nats = 2 bits = perplexity 4.
        let e = eval(4f64.ln(), 0.25, 10);
        let names: Vec<&str> = e.metrics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["loss", "bpc", "perplexity", "accuracy"]);
        assert!((e.metrics[1].1 - 2.0).abs() < 1e-12);
        assert!((e.metrics[2].1 - 4.0).abs() < 1e-9);
        assert_eq!(e.metrics[3].1, 0.25);
    }
}
