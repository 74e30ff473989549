//! Training and evaluation of the example tasks.
//!
//! **Batches** group examples whose sources have the same length (buckets),
//! so no sequence is padded: every cell, both directions of a
//! bidirectional stack and the final states a classifier or an encoder
//! hands on are exactly those of the unpadded sequence. With widely spread
//! lengths a bucket's last batch can be smaller than `train.batch_size`.
//! Each epoch shuffles the examples within each bucket and the order of
//! the batches, from the trial's seed and the epoch number, so a run
//! resumed from a checkpoint sees the same batches.
//!
//! **Metrics** (per split; `loss` is the mean cross-entropy in nats per
//! scored target and picks the best checkpoint):
//! - classify: `loss`, `accuracy`;
//! - tag: `loss`, `perplexity`, `accuracy` (per tag), `exact_accuracy`
//!   (sentences tagged without an error);
//! - seq2seq: `loss` and `perplexity` under teacher forcing, and from greedy
//!   decoding `token_accuracy` (output position i equals target position i,
//!   over the target and its `<EOS>`) and `exact_accuracy` (the whole output
//!   equals the target); in the final evaluation with `decode.beam` > 1 also
//!   `beam_token_accuracy` and `beam_exact_accuracy`.
//!
//! The final evaluation also breaks accuracy down by source length:
//! `len{N}_examples` and `len{N}_accuracy` (classify, tag) or
//! `len{N}_exact_accuracy`, `len{N}_token_accuracy` (and the `beam_` ones).
use std::collections::BTreeMap;

use anyhow::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{nn, Device, Kind, Tensor};

use super::data::{Dataset, Example, BOS, EOS, PAD};
use super::models::{Classifier, Readout, Tagger};
use super::seq2seq::Seq2Seq;
use crate::model::{self, IGNORE};
use crate::spec::{ModelSpec, Spec, Task};
use crate::train::{Batch, Eval, EvalSplit, Objective};

/// The model of an example task.
#[derive(Debug)]
pub enum TaskModel {
    Classifier(Classifier),
    Tagger(Tagger),
    Seq2Seq(Box<Seq2Seq>),
}

impl TaskModel {
    /// Builds the model `spec.task` needs for `data` under `vs`.
    pub fn new(vs: &nn::Path, spec: &ModelSpec, task: Task, data: &Dataset) -> Result<TaskModel> {
        TaskModel::with_vocabularies(vs, spec, task, data.source.len(), data.target.len())
    }

    /// Builds the model for `sv` source and `tv` target symbols.
    pub fn with_vocabularies(vs: &nn::Path, spec: &ModelSpec, task: Task, sv: usize, tv: usize) -> Result<TaskModel> {
        Ok(match task {
            Task::Classify => TaskModel::Classifier(Readout::new(vs, spec, sv, tv)),
            Task::Tag => TaskModel::Tagger(Readout::new(vs, spec, sv, tv)),
            Task::Seq2seq => TaskModel::Seq2Seq(Box::new(Seq2Seq::new(vs, spec, sv as i64, tv as i64)?)),
            Task::CharLm => anyhow::bail!("the character language model is not an example task"),
        })
    }
}

/// Parameters of the model `spec` describes for `data`, counted by building
/// it on the CPU (used to solve `param_budget`).
pub fn parameter_count(spec: &ModelSpec, task: Task, data: &Dataset) -> Result<i64> {
    let vs = nn::VarStore::new(Device::Cpu);
    TaskModel::new(&vs.root(), spec, task, data)?;
    Ok(model::parameter_count(&vs))
}

/// The model spec a trial trains: `hidden` solved from `param_budget` if given.
pub fn resolve(spec: &Spec, data: &Dataset) -> Result<ModelSpec> {
    let mut m = spec.model.clone();
    if let Some(budget) = m.param_budget {
        let what = format!("{:?} {} model for this data", m.cell, spec.task.name());
        let count =
            |h: usize| parameter_count(&ModelSpec { hidden: h, ..m.clone() }, spec.task, data).unwrap_or(i64::MAX);
        m.hidden = model::solve_hidden_by(budget, &what, count)?;
    }
    Ok(m)
}

pub struct TaskObjective<'a> {
    spec: &'a Spec,
    device: Device,
    model: TaskModel,
    /// The splits as the model reads them (sources reversed with `reverse_input`).
    train: Vec<Example>,
    val: Vec<Example>,
    test: Vec<Example>,
    /// Training example indices grouped by source length.
    buckets: Vec<Vec<usize>>,
    per_epoch: usize,
    /// This epoch's batches (indices into `train`), the next one, and the epoch.
    plan: Vec<Vec<usize>>,
    offset: usize,
    epoch: usize,
}

impl<'a> TaskObjective<'a> {
    /// Builds the model under `vs`; returns the objective and the hidden size trained.
    pub fn new(spec: &'a Spec, data: &'a Dataset, vs: &nn::VarStore) -> Result<(TaskObjective<'a>, usize)> {
        let model_spec = resolve(spec, data)?;
        let model = TaskModel::new(&vs.root(), &model_spec, spec.task, data)?;
        let prepare = |split: &[Example]| -> Vec<Example> {
            split.iter().map(|e| prepare(e, spec.task, spec.model.reverse_input)).collect()
        };
        let train = prepare(&data.train);
        let mut by_length: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, e) in train.iter().enumerate() {
            by_length.entry(e.source.len()).or_default().push(i);
        }
        let buckets: Vec<Vec<usize>> = by_length.into_values().collect();
        let batch = spec.train.batch_size;
        let per_epoch = buckets.iter().map(|b| b.len().div_ceil(batch)).sum();
        let mut objective = TaskObjective {
            spec,
            device: vs.device(),
            model,
            val: prepare(&data.val),
            test: prepare(&data.test),
            train,
            buckets,
            per_epoch,
            plan: Vec::new(),
            offset: 0,
            epoch: 0,
        };
        objective.plan = objective.plan_epoch(0);
        Ok((objective, model_spec.hidden))
    }

    /// The batches of epoch `epoch`: each bucket shuffled and cut into
    /// batches, then the batches shuffled.
    fn plan_epoch(&self, epoch: usize) -> Vec<Vec<usize>> {
        let seed = self.spec.train.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut batches = Vec::with_capacity(self.per_epoch);
        for bucket in &self.buckets {
            let mut order = bucket.clone();
            order.shuffle(&mut rng);
            batches.extend(order.chunks(self.spec.train.batch_size).map(|c| c.to_vec()));
        }
        batches.shuffle(&mut rng);
        batches
    }

    fn split(&self, split: EvalSplit) -> &[Example] {
        match split {
            EvalSplit::Val => &self.val,
            EvalSplit::Test => &self.test,
        }
    }

    /// Sources `[batch, length]` of examples of equal source length.
    fn sources(&self, batch: &[&Example]) -> Tensor {
        let len = batch[0].source.len() as i64;
        let flat: Vec<i64> = batch.iter().flat_map(|e| e.source.iter().copied()).collect();
        Tensor::from_slice(&flat).view([batch.len() as i64, len]).to_device(self.device)
    }

    /// Seq2seq decoder input (`<BOS>` and the target, padded) and output
    /// (the target and `<EOS>`, padded with the ignored id), `[batch, T+1]`.
    fn decoder_io(&self, batch: &[&Example]) -> (Tensor, Tensor) {
        let t = batch.iter().map(|e| e.target.len()).max().unwrap_or(0) + 1;
        let (mut input, mut output) = (Vec::with_capacity(batch.len() * t), Vec::with_capacity(batch.len() * t));
        for e in batch {
            input.push(BOS);
            input.extend(&e.target);
            output.extend(&e.target);
            output.push(EOS);
            for _ in e.target.len() + 1..t {
                input.push(PAD);
                output.push(IGNORE);
            }
        }
        let shape = [batch.len() as i64, t as i64];
        (
            Tensor::from_slice(&input).view(shape).to_device(self.device),
            Tensor::from_slice(&output).view(shape).to_device(self.device),
        )
    }

    /// Tags or labels as a tensor of the given shape.
    fn targets(&self, batch: &[&Example], shape: &[i64]) -> Tensor {
        let flat: Vec<i64> = batch.iter().flat_map(|e| e.target.iter().copied()).collect();
        Tensor::from_slice(&flat).view(shape).to_device(self.device)
    }

    /// One forward pass over a batch (with the graph when training).
    fn pass(&self, batch: &[&Example], train: bool) -> Pass {
        let source = self.sources(batch);
        let (b, s) = (source.size()[0], source.size()[1]);
        let count = |n: i64| Tensor::from(n as f32).to_device(self.device);
        let (logits, loss, scored, tokens) = match &self.model {
            TaskModel::Classifier(m) => {
                let logits = m.classify(&source, train);
                let target = self.targets(batch, &[b]);
                let loss = logits.cross_entropy_loss::<Tensor>(&target, None, tch::Reduction::Sum, IGNORE, 0.0);
                (logits, loss, count(b), (b * s) as usize)
            }
            TaskModel::Tagger(m) => {
                let logits = m.tag(&source, train);
                let (loss, _) = model::loss_and_correct(&logits, &self.targets(batch, &[b, s]));
                (logits, loss, count(b * s), (2 * b * s) as usize)
            }
            TaskModel::Seq2Seq(m) => {
                let (input, output) = self.decoder_io(batch);
                let tf = if train { self.spec.train.teacher_forcing } else { 1.0 };
                let logits = m.forward(&source, &input, tf, train);
                let (loss, _) = model::loss_and_correct(&logits, &output);
                let scored = output.ne(IGNORE).sum(Kind::Float);
                (logits, loss, scored, (b * s) as usize + output.numel())
            }
        };
        Pass { source, logits, loss, scored, tokens }
    }

    /// Evaluation batches: examples of equal source length, in order.
    fn eval_batches<'e>(&self, examples: &'e [Example]) -> Vec<Vec<&'e Example>> {
        let mut by_length: BTreeMap<usize, Vec<&Example>> = BTreeMap::new();
        for e in examples {
            by_length.entry(e.source.len()).or_default().push(e);
        }
        let size = self.spec.train.batch_size.max(128);
        by_length.into_values().flat_map(|v| v.chunks(size).map(|c| c.to_vec()).collect::<Vec<_>>()).collect()
    }
}

/// What one forward pass over a batch gives.
struct Pass {
    /// The sources read, `[batch, length]`.
    source: Tensor,
    /// Labels `[batch, classes]`, tags `[batch, time, tags]`, or teacher-forced
    /// target tokens `[batch, T+1, vocab]`.
    logits: Tensor,
    /// Summed cross-entropy (nats) over the scored targets.
    loss: Tensor,
    scored: Tensor,
    /// Tokens read, for throughput.
    tokens: usize,
}

/// An example as the model reads it: with `reverse_input` the source is
/// fed back to front (and a tagger's tags with it, so they stay aligned).
fn prepare(e: &Example, task: Task, reverse: bool) -> Example {
    let mut e = e.clone();
    if reverse {
        e.source.reverse();
        if task == Task::Tag {
            e.target.reverse();
        }
    }
    e
}

/// Sums of one kind of correctness, overall and by source length.
#[derive(Default)]
struct Tally {
    correct: f64,
    total: f64,
    by_length: BTreeMap<usize, (f64, f64)>,
}

impl Tally {
    fn add(&mut self, length: usize, correct: f64, total: f64) {
        self.correct += correct;
        self.total += total;
        let e = self.by_length.entry(length).or_default();
        e.0 += correct;
        e.1 += total;
    }

    fn rate(&self) -> f64 {
        self.correct / self.total.max(1.0)
    }
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

impl Objective for TaskObjective<'_> {
    fn train_batch(&mut self, _step: usize) -> Batch {
        if self.offset >= self.plan.len() {
            self.epoch += 1;
            self.offset = 0;
            self.plan = self.plan_epoch(self.epoch);
        }
        let batch: Vec<&Example> = self.plan[self.offset].iter().map(|&i| &self.train[i]).collect();
        self.offset += 1;
        let Pass { loss, scored, tokens, .. } = self.pass(&batch, true);
        Batch { loss_sum: loss, scored, tokens }
    }

    fn evaluate(&self, split: EvalSplit, last: bool) -> Eval {
        let examples = self.split(split);
        let task = self.spec.task;
        let beam = self.spec.decode.beam;
        let zero = || Tensor::zeros([], (Kind::Float, self.device));
        let (mut loss, mut scored) = (zero(), zero());
        let (mut main, mut tokens, mut exact, mut beam_tokens, mut beam_exact) =
            (Tally::default(), Tally::default(), Tally::default(), Tally::default(), Tally::default());
        for batch in self.eval_batches(examples) {
            let pass = self.pass(&batch, false);
            loss += &pass.loss;
            scored += &pass.scored;
            let length = batch[0].source.len();
            let source = &pass.source;
            match &self.model {
                TaskModel::Classifier(_) => {
                    let predicted = Vec::<i64>::try_from(pass.logits.argmax(-1, false)).unwrap_or_default();
                    for (e, p) in batch.iter().zip(predicted) {
                        main.add(length, f64::from(u8::from(e.target[0] == p)), 1.0);
                    }
                }
                TaskModel::Tagger(_) => {
                    let predicted = Vec::<Vec<i64>>::try_from(pass.logits.argmax(-1, false)).unwrap_or_default();
                    for (e, p) in batch.iter().zip(predicted) {
                        let right = e.target.iter().zip(&p).filter(|(a, b)| a == b).count();
                        main.add(length, right as f64, e.target.len() as f64);
                        exact.add(length, f64::from(u8::from(right == e.target.len())), 1.0);
                    }
                }
                TaskModel::Seq2Seq(m) => {
                    let max_len = self.spec.decode.max_length_for(length);
                    for (e, out) in batch.iter().zip(m.greedy(source, max_len)) {
                        let (right, whole) = score_decoded(&out, &e.target);
                        tokens.add(length, right, (e.target.len() + 1) as f64);
                        exact.add(length, f64::from(u8::from(whole)), 1.0);
                    }
                    if last && beam > 1 {
                        // Validation already checked the options; a failure here is a bug.
                        let outs = m
                            .beam(source, beam, self.spec.decode.length_norm, max_len)
                            .expect("beam search options are validated with the spec");
                        for (e, out) in batch.iter().zip(outs) {
                            let (right, whole) = score_decoded(&out, &e.target);
                            beam_tokens.add(length, right, (e.target.len() + 1) as f64);
                            beam_exact.add(length, f64::from(u8::from(whole)), 1.0);
                        }
                    }
                }
            }
        }
        let n = f64::try_from(&scored).unwrap_or(0.0).max(1.0);
        let loss = f64::try_from(&loss).unwrap_or(f64::NAN) / n;
        let mut named: Vec<(String, f64)> = vec![("loss".into(), loss)];
        if task != Task::Classify {
            named.push(("perplexity".into(), loss.exp()));
        }
        let accuracy = match task {
            Task::Seq2seq => {
                named.push(("token_accuracy".into(), tokens.rate()));
                named.push(("exact_accuracy".into(), exact.rate()));
                if last && beam > 1 {
                    named.push(("beam_token_accuracy".into(), beam_tokens.rate()));
                    named.push(("beam_exact_accuracy".into(), beam_exact.rate()));
                }
                exact.rate()
            }
            Task::Tag => {
                named.push(("accuracy".into(), main.rate()));
                named.push(("exact_accuracy".into(), exact.rate()));
                main.rate()
            }
            _ => {
                named.push(("accuracy".into(), main.rate()));
                main.rate()
            }
        };
        if last {
            // One count per example: the sentence or sequence tally, or the labels'.
            let per_example = if task == Task::Classify { &main } else { &exact };
            for (&len, &(_, count)) in &per_example.by_length {
                named.push((format!("len{len}_examples"), count));
                let mut rate = |name: &str, t: &Tally| {
                    if let Some(&(c, total)) = t.by_length.get(&len) {
                        named.push((format!("len{len}_{name}"), c / total.max(1.0)));
                    }
                };
                match task {
                    Task::Seq2seq => {
                        rate("exact_accuracy", &exact);
                        rate("token_accuracy", &tokens);
                        rate("beam_exact_accuracy", &beam_exact);
                        rate("beam_token_accuracy", &beam_tokens);
                    }
                    Task::Tag => {
                        rate("accuracy", &main);
                        rate("exact_accuracy", &exact);
                    }
                    _ => rate("accuracy", &main),
                }
            }
        }
        Eval { loss, accuracy, chars: n as usize, named }
    }

    fn per_epoch(&self) -> usize {
        self.per_epoch
    }

    fn position(&self) -> (i64, usize) {
        (self.offset as i64, self.epoch)
    }

    fn seek(&mut self, offset: i64, epoch: usize) {
        self.epoch = epoch;
        self.offset = offset.max(0) as usize;
        self.plan = self.plan_epoch(epoch);
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
