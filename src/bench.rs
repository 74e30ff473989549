//! `rnnlab bench`: training throughput of one configuration, in the same
//! format as `scripts/torch_reference.py` (char LM) and
//! `scripts/torch_seq2seq_reference.py` (seq2seq), so `make bench` can put
//! each pair side by side. It times the harness's own training step
//! ([`Trainer::step`]), batch assembly included.
//!
//! **Tokens** are what [`crate::train::StepOut::tokens`] counts:
//! - char LM: the characters of each window, `batch · bptt` per step;
//! - seq2seq: the source tokens read by the encoder plus the decoder's
//!   output positions (the target and its `<EOS>`), `B·L + B·(L+1)` per
//!   step with sources and targets of length `L`.
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::spec::{Attention, Cell, DataSpec, InputEncoding, ModelSpec, Source, Spec, Strings, TrainSpec};
use crate::tasks::{char_lm::CharLm, seq2seq::Seq2seqTask, TaskKind};
use crate::train::Trainer;

/// Symbols of the seq2seq benchmark's cipher (letters `a`…`t`).
pub const SEQ2SEQ_SYMBOLS: usize = 20;
/// Embedding size of the seq2seq benchmark's encoder and decoder inputs.
pub const SEQ2SEQ_EMBEDDING: usize = 32;

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub steps: usize,
    pub warmup: usize,
    pub device: tch::Device,
    pub workload: Workload,
}

/// What is trained.
#[derive(Debug, Clone)]
pub enum Workload {
    /// A char-LSTM language model (one-hot input) on the built-in corpus or
    /// a text file, in `bptt`-long windows.
    Text { bptt: usize, corpus: Option<std::path::PathBuf> },
    /// An LSTM encoder–decoder (embedding input) on a letter cipher whose
    /// sources and targets all have `length` tokens, under full teacher forcing.
    Cipher { length: usize, attention: Attention },
}

#[derive(Debug, Serialize)]
pub struct BenchResult {
    #[serde(rename = "impl")]
    pub implementation: &'static str,
    pub task: &'static str,
    pub device: String,
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bptt: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<Attention>,
    pub steps: usize,
    pub tokens_per_s: f64,
    pub peak_rss_mb: Option<f64>,
    pub peak_gpu_mb: Option<f64>,
    pub final_loss: f64,
}

/// The spec the benchmark trains: Adam 2e-3, clip 5 (the defaults), one
/// LSTM stack of `hidden` × `layers`, `batch` sequences per step.
pub fn spec(c: &BenchConfig) -> Spec {
    let train = TrainSpec { batch_size: c.batch, steps: Some(c.warmup + c.steps), ..Default::default() };
    let model = ModelSpec { cell: Cell::LSTM, hidden: c.hidden, layers: c.layers, ..Default::default() };
    let (task, source, model, train) = match &c.workload {
        Workload::Text { bptt, corpus } => {
            let source = match corpus {
                Some(path) => Source::File { path: path.clone() },
                None => Source::Builtin { name: crate::data::builtin::DEFAULT.into() },
            };
            (CharLm.name(), source, model, TrainSpec { bptt: *bptt, ..train })
        }
        Workload::Cipher { length, attention } => {
            let strings = Strings {
                examples: seq2seq_examples(c),
                min_length: *length,
                max_length: *length,
                symbols: SEQ2SEQ_SYMBOLS,
                seed: 0,
            };
            let model = ModelSpec {
                input: InputEncoding::Embedding,
                embedding_size: SEQ2SEQ_EMBEDDING,
                attention: *attention,
                ..model
            };
            (Seq2seqTask.name(), Source::Cipher(strings), model, train)
        }
    };
    Spec {
        name: "bench".into(),
        description: String::new(),
        task: task.to_string(),
        data: DataSpec {
            source,
            split: Default::default(),
            max_chars: None,
            max_examples: None,
            tokens: Default::default(),
            min_count: None,
            max_vocab: None,
        },
        model,
        train,
        decode: Default::default(),
        device: Default::default(),
        sweep: Default::default(),
        baselines: Vec::new(),
        report: None,
        executor: None,
    }
}

/// Examples to generate: `10 · batch · m`, so the 0.9 train split holds
/// exactly `9m` full batches, and `9m` covers every warm-up and timed
/// step. Each step then reads a full, distinct batch of the same shape.
fn seq2seq_examples(c: &BenchConfig) -> usize {
    10 * c.batch * (c.warmup + c.steps).div_ceil(9).max(1)
}

pub fn run(c: &BenchConfig) -> Result<BenchResult> {
    let spec = spec(c);
    let data = crate::tasks::of(&spec)?.load(&spec)?;
    let mut trainer = Trainer::new(&spec.train, c.device, |vs| Ok(data.objective(&spec, vs)?.0))?;
    for step in 0..c.warmup {
        let _ = trainer.step(step);
    }
    sync(c.device);
    let start = Instant::now();
    let mut tokens = 0;
    let mut last = None;
    for step in c.warmup..c.warmup + c.steps {
        let out = trainer.step(step);
        tokens += out.tokens;
        last = Some(out);
    }
    sync(c.device);
    let seconds = start.elapsed().as_secs_f64();
    let final_loss = last
        .map(|o| f64::try_from(o.loss_sum).unwrap_or(f64::NAN) / f64::try_from(o.scored).unwrap_or(f64::NAN))
        .unwrap_or(f64::NAN);
    let (bptt, length, attention) = match &c.workload {
        Workload::Text { bptt, .. } => (Some(*bptt), None, None),
        Workload::Cipher { length, attention } => (None, Some(*length), Some(*attention)),
    };
    Ok(BenchResult {
        implementation: "rnnlab",
        task: crate::tasks::of(&spec)?.name(),
        device: crate::device::name(c.device),
        hidden: c.hidden,
        layers: c.layers,
        batch: c.batch,
        bptt,
        length,
        attention,
        steps: c.steps,
        tokens_per_s: tokens as f64 / seconds,
        peak_rss_mb: peak_rss_mb(),
        peak_gpu_mb: None,
        final_loss,
    })
}

fn sync(device: tch::Device) {
    if let tch::Device::Cuda(n) = device {
        tch::Cuda::synchronize(n as i64);
    }
}

/// Peak resident set size of this process (Linux `VmHWM`).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq2seq(warmup: usize, steps: usize) -> BenchConfig {
        BenchConfig {
            hidden: 8,
            layers: 1,
            batch: 4,
            steps,
            warmup,
            device: tch::Device::Cpu,
            workload: Workload::Cipher { length: 5, attention: Attention::None },
        }
    }

    #[test]
    fn seq2seq_train_split_is_whole_batches_covering_every_step() {
        for (warmup, steps) in [(0, 1), (1, 2), (5, 50), (4, 5), (0, 9), (0, 10)] {
            let c = seq2seq(warmup, steps);
            let data = crate::data::examples::load(&spec(&c)).unwrap();
            assert_eq!(data.train.len() % c.batch, 0, "warmup {warmup}, steps {steps}");
            assert!(data.train.len() / c.batch >= warmup + steps, "warmup {warmup}, steps {steps}");
            assert!(data.train.iter().all(|e| e.source.len() == 5 && e.target.len() == 5));
        }
    }

    #[test]
    fn seq2seq_vocabularies_are_the_cipher_letters_and_reserved_ids() {
        // scripts/torch_seq2seq_reference.py hard-codes these sizes.
        let data = crate::data::examples::load(&spec(&seq2seq(0, 1))).unwrap();
        assert_eq!(data.source.len(), SEQ2SEQ_SYMBOLS + 2);
        assert_eq!(data.target.len(), SEQ2SEQ_SYMBOLS + 3);
    }
}
