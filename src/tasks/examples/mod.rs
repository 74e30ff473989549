//! What the example tasks (classification, tagging, seq2seq) share: data
//! as labelled examples (`crate::data::examples`), bucketed batches, the
//! evaluation loop and its tallies, `rnnlab decode`, their plots and the
//! report's answered examples. A task adds its model's forward pass,
//! scoring and answer ([`ExampleModel`]) through [`ExampleTask`].
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
//! **Metrics** per split: `loss` (mean cross-entropy in nats per scored
//! target; it picks the best checkpoint), then what the task declares. The
//! final evaluation also breaks the task's tallies down by source length:
//! `len{N}_examples` and `len{N}_<metric>`.
mod decode;
pub mod readout;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{nn, Device, Kind, Tensor};

use super::{BestTrial, PlotSpec, TaskData, TaskInfo, TaskKind};
use crate::data::examples::{Dataset, Example, Symbols};
use crate::spec::{ModelSpec, Shape, Spec};
use crate::train::{Batch, Eval, EvalSplit, Objective};

pub use decode::{DecodeOptions, Decoder};

/// An example task: a task whose data are examples and whose model an
/// [`ExampleModel`] wraps. Every example task is a [`TaskKind`] through
/// the implementation below, which supplies what they share (loading,
/// plots, the report's answered examples).
pub trait ExampleTask: Sync {
    /// Its declarations (see [`TaskKind::info`]).
    fn info(&self) -> &'static TaskInfo;
    /// See [`TaskKind::check`].
    fn check(&self, _spec: &Spec) -> Result<(), (String, String)> {
        Ok(())
    }
    /// See [`TaskKind::own_options`].
    fn own_options(&self, _spec: &Spec) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Builds the model for `data` under `vs`.
    fn build(&self, vs: &nn::Path, model: &ModelSpec, data: &Dataset) -> Result<Box<dyn ExampleModel>>;
    /// The tally with one count per example (its `len{N}_examples`).
    fn per_example(&self) -> &'static str;
    /// Whether the targets are aligned with the source tokens, so that
    /// `reverse_input` reverses them too (tags).
    fn aligned(&self) -> bool {
        false
    }
}

impl<T: ExampleTask + 'static> TaskKind for T {
    fn info(&self) -> &'static TaskInfo {
        ExampleTask::info(self)
    }

    fn check(&self, spec: &Spec) -> Result<(), (String, String)> {
        ExampleTask::check(self, spec)
    }

    fn own_options(&self, spec: &Spec) -> Vec<(&'static str, String)> {
        ExampleTask::own_options(self, spec)
    }

    fn load(&'static self, spec: &Spec) -> Result<Box<dyn TaskData>> {
        Ok(Box::new(ExampleData { task: self, data: crate::data::examples::load(spec)? }))
    }

    fn plots(&self) -> Vec<PlotSpec> {
        plots(self)
    }

    fn report_examples(&self, best: &[BestTrial<'_>]) -> Option<String> {
        report_examples(best)
    }

    fn as_examples(&self) -> Option<&dyn ExampleTask> {
        Some(self)
    }
}

/// A trained or training example-task model.
pub trait ExampleModel: std::fmt::Debug {
    /// One forward pass over a batch, with the graph when `train`.
    fn pass(&self, batch: &ExampleBatch, train: bool) -> Pass;
    /// Scores an evaluation pass's predictions; `last` marks the final
    /// evaluation, which may score more (beam search).
    fn score(&self, batch: &ExampleBatch, pass: &Pass, last: bool, tallies: &mut Tallies) -> Result<()>;
    /// The answer to one input for `rnnlab decode`: `ids` as the model
    /// reads them (reversed with `reverse_input`), `source` their `[1, len]`
    /// tensor, `data` for the vocabularies.
    fn answer(&self, ids: &[i64], source: &Tensor, data: &Dataset, spec: &Spec, o: &DecodeOptions) -> Result<String>;
}

/// A batch of examples of equal source length, as a model reads it.
pub struct ExampleBatch<'e> {
    pub examples: Vec<&'e Example>,
    /// Sources `[batch, length]`.
    pub source: Tensor,
    pub spec: &'e Spec,
    pub device: Device,
}

impl ExampleBatch<'_> {
    pub fn len(&self) -> i64 {
        self.examples.len() as i64
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// Source length of every example.
    pub fn source_len(&self) -> usize {
        self.examples[0].source.len()
    }

    /// Targets (labels or tags) as a tensor of the given shape.
    pub fn targets(&self, shape: &[i64]) -> Tensor {
        let flat: Vec<i64> = self.examples.iter().flat_map(|e| e.target.iter().copied()).collect();
        Tensor::from_slice(&flat).view(shape).to_device(self.device)
    }

    /// A count as a scalar tensor on the batch's device.
    pub fn count(&self, n: i64) -> Tensor {
        Tensor::from(n as f32).to_device(self.device)
    }
}

/// What one forward pass over a batch gives.
pub struct Pass {
    /// Labels `[batch, classes]`, tags `[batch, time, tags]`, or teacher-forced
    /// target tokens `[batch, T+1, vocab]`.
    pub logits: Tensor,
    /// Summed cross-entropy (nats) over the scored targets.
    pub loss: Tensor,
    pub scored: Tensor,
    /// Tokens read, for throughput.
    pub tokens: usize,
}

/// Sums of one kind of correctness, overall and by source length.
#[derive(Default)]
pub struct Tally {
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

/// The tallies of one evaluation, by metric name.
#[derive(Default)]
pub struct Tallies(BTreeMap<&'static str, Tally>);

impl Tallies {
    /// Adds `correct` out of `total` to metric `name` for a source of `length` tokens.
    pub fn add(&mut self, name: &'static str, length: usize, correct: f64, total: f64) {
        self.0.entry(name).or_default().add(length, correct, total);
    }

    /// The metrics of one evaluation: `loss`, what the task declares, and
    /// in the final evaluation (`last`) the breakdown by source length.
    fn metrics(&self, task: &dyn ExampleTask, loss: f64, last: bool) -> Vec<(String, f64)> {
        let rates: Vec<(&str, f64)> = self.0.iter().map(|(&n, t)| (n, t.rate())).collect();
        let mut named = crate::metrics::complete(task.info().metrics, loss, &rates);
        let Some(per_example) = self.0.get(task.per_example()).filter(|_| last) else {
            return named;
        };
        for (&len, &(_, count)) in &per_example.by_length {
            named.push((format!("len{len}_examples"), count));
            for m in task.info().metrics {
                if let Some(&(c, total)) = self.0.get(m.name).and_then(|t| t.by_length.get(&len)) {
                    named.push((format!("len{len}_{}", m.name), c / total.max(1.0)));
                }
            }
        }
        named
    }
}

/// Example data of one task.
struct ExampleData {
    task: &'static dyn ExampleTask,
    data: Dataset,
}

/// The model spec a trial of `task` trains on `data`: `hidden` solved from
/// `param_budget` if given, by counting the parameters of models built
/// (and initialised) for candidate sizes. Those builds draw from libtorch's
/// generator after the trial seeded it, before its model is built: the
/// committed results of the example tasks were produced that way.
pub fn resolve_model(task: &dyn ExampleTask, spec: &Spec, data: &Dataset) -> Result<ModelSpec> {
    let mut m = spec.model.clone();
    if m.param_budget.is_some() {
        let what = format!("{:?} {} model for this data", m.cell, task.info().name);
        let count = |hidden: usize| -> i64 {
            let vs = nn::VarStore::new(Device::Cpu);
            match task.build(&vs.root(), &ModelSpec { hidden, ..m.clone() }, data) {
                Ok(_) => crate::model::parameter_count(&vs),
                Err(_) => i64::MAX,
            }
        };
        m.hidden = crate::model::solve_hidden_by(m.param_budget.unwrap_or(0), &what, count)?;
    }
    Ok(m)
}

impl TaskData for ExampleData {
    fn resolve_model(&self, spec: &Spec) -> Result<ModelSpec> {
        resolve_model(self.task, spec, &self.data)
    }

    fn objective<'a>(&'a self, spec: &'a Spec, vs: &nn::VarStore) -> Result<(Box<dyn Objective + 'a>, ModelSpec)> {
        let model_spec = self.resolve_model(spec)?;
        let model = self.task.build(&vs.root(), &model_spec, &self.data)?;
        Ok((Box::new(ExampleObjective::new(self.task, spec, &self.data, model, vs.device())), model_spec))
    }

    fn checkpoint_files(&self) -> Result<Vec<(&'static str, String)>> {
        let d = &self.data;
        let symbols = crate::checkpoint::Symbols {
            task: self.task.info().name.to_string(),
            joiner: d.joiner.to_string(),
            source: d.source.tokens().to_vec(),
            target: d.target.tokens().to_vec(),
        };
        Ok(vec![(crate::layout::SYMBOLS_FILE, serde_json::to_string(&symbols)?)])
    }
}

/// The vocabularies of a checkpoint as an empty dataset (for decoding).
pub fn vocabularies(task: &dyn ExampleTask, s: crate::checkpoint::Symbols) -> Dataset {
    Dataset {
        shape: task.info().shape,
        source: Symbols::new(s.source),
        target: Symbols::new(s.target),
        joiner: if s.joiner.is_empty() { "" } else { " " },
        train: vec![],
        val: vec![],
        test: vec![],
        description: String::new(),
    }
}

struct ExampleObjective<'a> {
    task: &'static dyn ExampleTask,
    spec: &'a Spec,
    device: Device,
    model: Box<dyn ExampleModel>,
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

impl<'a> ExampleObjective<'a> {
    fn new(
        task: &'static dyn ExampleTask,
        spec: &'a Spec,
        data: &Dataset,
        model: Box<dyn ExampleModel>,
        device: Device,
    ) -> ExampleObjective<'a> {
        let prepare = |split: &[Example]| -> Vec<Example> {
            split.iter().map(|e| prepare(e, task.aligned(), spec.model.reverse_input)).collect()
        };
        let train = prepare(&data.train);
        let mut by_length: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, e) in train.iter().enumerate() {
            by_length.entry(e.source.len()).or_default().push(i);
        }
        let buckets: Vec<Vec<usize>> = by_length.into_values().collect();
        let batch = spec.train.batch_size;
        let per_epoch = buckets.iter().map(|b| b.len().div_ceil(batch)).sum();
        let mut objective = ExampleObjective {
            task,
            spec,
            device,
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
        objective
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

    /// A batch of examples of equal source length, its sources on the device.
    fn batch<'e>(&'e self, examples: Vec<&'e Example>) -> ExampleBatch<'e> {
        let len = examples[0].source.len() as i64;
        let flat: Vec<i64> = examples.iter().flat_map(|e| e.source.iter().copied()).collect();
        let source = Tensor::from_slice(&flat).view([examples.len() as i64, len]).to_device(self.device);
        ExampleBatch { examples, source, spec: self.spec, device: self.device }
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

/// An example as the model reads it: with `reverse_input` the source is
/// fed back to front (and aligned targets with it, so they stay aligned).
fn prepare(e: &Example, aligned: bool, reverse: bool) -> Example {
    let mut e = e.clone();
    if reverse {
        e.source.reverse();
        if aligned {
            e.target.reverse();
        }
    }
    e
}

impl Objective for ExampleObjective<'_> {
    fn train_batch(&mut self, _step: usize) -> Batch {
        if self.offset >= self.plan.len() {
            self.epoch += 1;
            self.offset = 0;
            self.plan = self.plan_epoch(self.epoch);
        }
        let examples: Vec<&Example> = self.plan[self.offset].iter().map(|&i| &self.train[i]).collect();
        self.offset += 1;
        let Pass { loss, scored, tokens, .. } = self.model.pass(&self.batch(examples), true);
        Batch { loss_sum: loss, scored, tokens }
    }

    fn evaluate(&self, split: EvalSplit, last: bool) -> Eval {
        let zero = || Tensor::zeros([], (Kind::Float, self.device));
        let (mut loss, mut scored) = (zero(), zero());
        let mut tallies = Tallies::default();
        for examples in self.eval_batches(self.split(split)) {
            let batch = self.batch(examples);
            let pass = self.model.pass(&batch, false);
            loss += &pass.loss;
            scored += &pass.scored;
            // Validation already checked the options; a failure here is a bug.
            self.model.score(&batch, &pass, last, &mut tallies).expect("decoding options are validated with the spec");
        }
        let n = f64::try_from(&scored).unwrap_or(0.0).max(1.0);
        let loss = f64::try_from(&loss).unwrap_or(f64::NAN) / n;
        Eval { loss, scored: n as usize, metrics: tallies.metrics(self.task, loss, last) }
    }

    fn has_test(&self) -> bool {
        !self.test.is_empty()
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

/// The plots every example task draws: loss curves, the curve and final
/// value of its default metric, and its metrics by source length.
pub fn plots(task: &dyn TaskKind) -> Vec<PlotSpec> {
    let metric = task.default_metric();
    let loss = |file: &str, split: &'static str, title: &str| PlotSpec::Curves {
        file: file.into(),
        split,
        metric: "loss".into(),
        title: title.into(),
        y_label: "cross-entropy (nats per target)".into(),
        baselines: false,
    };
    let mut plots = vec![
        loss("val_loss", "val", "Validation loss (mean over seeds, band = min–max)"),
        loss("train_loss", "train", "Training loss (mean over seeds, band = min–max)"),
        PlotSpec::Curves {
            file: format!("val_{metric}"),
            split: "val",
            metric: metric.into(),
            title: format!("Validation {} (mean over seeds, band = min–max)", metric.replace('_', " ")),
            y_label: metric.into(),
            baselines: false,
        },
        PlotSpec::Final { column: format!("val_{metric}"), y_label: format!("final val {}", metric.replace('_', " ")) },
    ];
    plots.extend(task.by_length().iter().map(|m| PlotSpec::ByLength { metric: m.to_string() }));
    plots
}

/// The shortest, the median and the longest test example, as each
/// variant's best trial answers them (greedy, from its best checkpoint).
pub fn report_examples(best: &[BestTrial]) -> Option<String> {
    let options = DecodeOptions { beam: None, length_norm: 1.0, max_length: None };
    let mut table = Vec::new();
    // Variants usually share their data: read (or generate) it once.
    let mut datasets: BTreeMap<String, Dataset> = BTreeMap::new();
    for b in best {
        let Ok((decoder, _)) = Decoder::open(&b.dir) else { continue };
        let key = serde_json::to_string(&b.trial.spec.data).unwrap_or_default();
        if !datasets.contains_key(&key) {
            let Ok(data) = crate::data::examples::load(&b.trial.spec) else { continue };
            datasets.insert(key.clone(), data);
        }
        let data = &datasets[&key];
        let mut test: Vec<&Example> = data.test.iter().collect();
        test.sort_by_key(|e| e.source.len());
        let Some(last) = test.len().checked_sub(1) else { continue };
        let mut picks = vec![0, last / 2, last];
        picks.dedup();
        for i in picks {
            let e = test[i];
            let source = data.source_text(&e.source);
            let reference = match data.shape {
                Shape::Tags => {
                    let tags = data.target.decode(&e.target);
                    let tokens = data.source.decode(&e.source);
                    tokens.iter().zip(tags).map(|(w, t)| format!("{w}/{t}")).collect::<Vec<_>>().join(" ")
                }
                _ => data.target_text(&e.target),
            };
            let Ok(output) = decoder.decode(&source, &options) else { continue };
            let output = output.split('\t').next().unwrap_or_default().to_string();
            let mark = if output == reference { "✓" } else { "✗" };
            table.push(format!("| {} | `{source}` | `{reference}` | `{output}` | {mark} |", b.variant));
        }
    }
    if table.is_empty() {
        return None;
    }
    let mut md = String::from(
        "### Examples\n\nThe shortest, median and longest test example, answered greedily by each variant's best \
         trial (best checkpoint).\n\n| variant | input | reference | output | |\n|---|---|---|---|---|\n",
    );
    for line in table {
        let _ = writeln!(md, "{line}");
    }
    md.push('\n');
    Some(md)
}
