//! One trial, run in this process, into its own self-contained directory
//! (laid out as [`crate::layout`] shows): the resolved `trial.yaml` is
//! written first and is all a trial needs to run (`rnnlab run-trial DIR`),
//! then `status.json`, `metrics.csv` and the checkpoints.
//!
//! A trial that did not end (killed, failed) and has a `checkpoint-last/`
//! is resumed from it; one that finished or diverged is rerun from scratch.
//!
//! Summaries and plots are rebuilt from these directories alone.
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::fsutil::write_atomic;
use crate::layout::{METRICS_FILE, STATUS_FILE};
use crate::metrics::{Metric, MetricsLog};
use crate::spec::sweep::Trial;
use crate::spec::ModelSpec;
use crate::tasks::TaskData;
use crate::tensorboard::{End, EventWriter, HParam};
use crate::train::{Eval, Observer, Outcome, Report, Snapshot, StepOut, TrainLog, Trainer, Which};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    Running,
    Finished,
    Diverged,
    Failed,
}

impl TrialState {
    /// Finished and diverged trials are results; others are rerun.
    pub fn is_done(self) -> bool {
        matches!(self, TrialState::Finished | TrialState::Diverged)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Running => "running",
            TrialState::Finished => "finished",
            TrialState::Diverged => "diverged",
            TrialState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub state: TrialState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub device: String,
    pub threads: usize,
    /// Unix seconds.
    pub started: u64,
    pub elapsed_s: f64,
    pub steps: usize,
    pub total_steps: usize,
    pub params: i64,
    /// Hidden size trained (differs from the spec's when solved from `param_budget`).
    #[serde(default)]
    pub hidden: usize,
    /// Final metrics: `val_bpc`, `best_val_bpc`, `test_bpc`, … (absent when not reached).
    #[serde(default)]
    pub result: IndexMap<String, f64>,
}

impl Status {
    /// The status of a trial starting now.
    pub fn running(device: String, threads: usize) -> Status {
        Status {
            state: TrialState::Running,
            message: None,
            device,
            threads,
            started: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            elapsed_s: 0.0,
            steps: 0,
            total_steps: 0,
            params: 0,
            hidden: 0,
            result: IndexMap::new(),
        }
    }

    pub fn read(dir: &Path) -> Result<Status> {
        let path = dir.join(STATUS_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a valid status", path.display()))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join(STATUS_FILE), serde_json::to_string_pretty(self)?.as_bytes())
    }

    /// A run that returned still `running` was stopped on request (the
    /// warning signal) after writing `checkpoint-last/`: its next run resumes.
    pub fn stopped(&self) -> bool {
        self.state == TrialState::Running
    }
}

/// Hooks for live progress (the sweep runner's progress bars).
pub trait Progress {
    /// `shown` is the training loss as the task shows it, e.g. `2.345 bits/char`.
    fn update(&mut self, step: usize, total: usize, shown: &str);
}

impl Progress for () {
    fn update(&mut self, _: usize, _: usize, _: &str) {}
}

/// The training loss as a progress line shows it: in the unit of the
/// task's default metric when that is a function of the loss (bits per
/// character), else in nats.
pub fn progress_value(defs: &[Metric], loss: f64) -> String {
    let shown = defs.iter().find(|m| m.default && m.train).or_else(|| defs.iter().find(|m| m.name == "loss"));
    match shown.and_then(|m| Some((m.unit, (m.of_loss?)(loss)))) {
        Some((unit, v)) => format!("{v:.3} {unit}"),
        None => format!("{loss:.3} nats"),
    }
}

/// A test hook: where to abort the trial process, as a kill would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortAt {
    /// Once the training log of the first logged step at or after this one is written.
    Train(usize),
    /// Once the `checkpoint-last/` of this step is written (before any log after it).
    Checkpoint(usize),
}

impl AbortAt {
    /// `train:STEP` or `checkpoint:STEP`.
    pub fn parse(s: &str) -> Option<AbortAt> {
        let (kind, step) = s.split_once(':')?;
        let step = step.trim().parse().ok()?;
        match kind.trim() {
            "train" => Some(AbortAt::Train(step)),
            "checkpoint" => Some(AbortAt::Checkpoint(step)),
            _ => None,
        }
    }
}

/// The thread count an earlier attempt of the trial in `dir` ran with, if
/// this run will resume it: a resumed trial keeps it, since libtorch's
/// results can depend on it.
pub fn resumed_threads(dir: &Path) -> Option<usize> {
    let s = Status::read(dir).ok()?;
    (!s.state.is_done() && s.threads > 0 && checkpoint::find(dir, Which::Last).is_some()).then_some(s.threads)
}

/// Runs `trial` (the `trial.yaml` of `dir`, see [`Trial::write`]) into `dir`
/// on `device`, resuming from `checkpoint-last/` if an earlier attempt left
/// one without ending. Errors inside training
/// are recorded in `status.json` as `failed` and returned; a diverged run
/// is a result. `abort` (a test hook) aborts the process at a step, like a
/// kill would. The caller holds the trial's lock ([`crate::lock`]).
pub fn run(
    trial: &Trial,
    dir: &Path,
    device: tch::Device,
    threads: usize,
    progress: &mut dyn Progress,
    abort: Option<AbortAt>,
) -> Result<Status> {
    let data = crate::tasks::of(&trial.spec).and_then(|task| task.load(&trial.spec));
    let started = Member::start(trial, dir, data.as_deref(), device, threads, progress, abort)?;
    let (member, outcome) = match started {
        Ok(mut member) => {
            let (trainer, sink) = (&mut member.trainer, &mut member.sink);
            let report = trainer.run(sink).and_then(|r| sink.end_session(&r).map(|()| r));
            (member.into_ended(), report)
        }
        Err((status, e)) => (status, Err(e)),
    };
    member.end(dir, outcome)
}

/// A trial in training (alone, or as a member of a pack): its trainer,
/// the observer that writes its directory, its status.
pub struct Member<'a> {
    pub trainer: Trainer<'a>,
    sink: Sink<'a>,
    ended: Ended,
}

/// What a trial's end is written from: its status and when it started.
#[derive(Clone)]
pub struct Ended {
    status: Status,
    clock: Instant,
    defs: &'static [Metric],
}

impl<'a> Member<'a> {
    /// Sets `trial` up in `dir` (its status `running`, resumed from
    /// `checkpoint-last/` or started over) on `data` (loaded by the
    /// caller). The outer error is one writing the directory; the inner
    /// one a failure to set up, to be recorded by [`Ended::end`].
    pub fn start(
        trial: &'a Trial,
        dir: &'a Path,
        data: Result<&'a dyn TaskData, &anyhow::Error>,
        device: tch::Device,
        threads: usize,
        progress: &'a mut dyn Progress,
        abort: Option<AbortAt>,
    ) -> Result<std::result::Result<Member<'a>, (Ended, anyhow::Error)>> {
        // Left by a process killed while writing a checkpoint.
        checkpoint::remove_temporaries(dir)?;
        let resume = match Status::read(dir) {
            Ok(s) if s.state.is_done() => {
                checkpoint::remove_all(dir)?;
                None
            }
            _ => checkpoint::find(dir, Which::Last),
        };
        let mut status = Status::running(crate::device::name(device), threads);
        status.write(dir)?;
        let clock = Instant::now();
        let defs = crate::tasks::of(&trial.spec).map(|t| t.metrics()).unwrap_or(&[]);
        let data = match data {
            Ok(d) => d,
            Err(e) => return Ok(Err((Ended { status, clock, defs }, anyhow::anyhow!("{e:#}")))),
        };
        match prepare(trial, dir, data, device, &mut status, progress, resume.as_deref(), abort) {
            Ok((trainer, sink)) => Ok(Ok(Member { trainer, sink, ended: Ended { status, clock, defs } })),
            Err(e) => Ok(Err((Ended { status, clock, defs }, e))),
        }
    }

    /// [`Trainer::after_step`] with this trial's observer.
    pub fn after_step(&mut self, run: &mut crate::train::Run, step: usize, out: &StepOut) -> Result<bool> {
        self.trainer.after_step(run, step, out, &mut self.sink)
    }

    /// [`Trainer::finish`] with this trial's observer.
    pub fn finish(&mut self, run: crate::train::Run) -> Result<Report> {
        let report = self.trainer.finish(run, &mut self.sink)?;
        self.sink.end_session(&report)?;
        Ok(report)
    }

    /// The model as trained (its hidden size solved from a budget).
    pub fn model(&self) -> &ModelSpec {
        &self.sink.model
    }

    /// Records the end of a member of a pack (see [`Ended::end`]), which
    /// then takes no further part.
    pub fn end_in_place(&mut self, dir: &Path, outcome: Result<Report>) -> Result<Status> {
        self.ended.clone().end(dir, outcome)
    }

    /// What is left to write the end from, once training is over.
    pub fn into_ended(self) -> Ended {
        self.ended
    }
}

impl Ended {
    /// Records how training went in `status.json`: the final results of
    /// a report, or `failed` with the error (which is returned).
    pub fn end(mut self, dir: &Path, outcome: Result<Report>) -> Result<Status> {
        let status = &mut self.status;
        let outcome = outcome.map(|report| conclude(report, self.defs, status));
        status.elapsed_s = self.clock.elapsed().as_secs_f64();
        if let Err(e) = &outcome {
            status.state = TrialState::Failed;
            status.message = Some(format!("{e:#}"));
        }
        status.write(dir)?;
        outcome.map(|()| self.status)
    }
}

/// The trainer of `trial` on `data`, restored from `resume` if it can be,
/// and the observer that writes `dir`.
#[allow(clippy::too_many_arguments)]
fn prepare<'a>(
    trial: &'a Trial,
    dir: &'a Path,
    data: &'a dyn TaskData,
    device: tch::Device,
    status: &mut Status,
    progress: &'a mut dyn Progress,
    resume: Option<&Path>,
    abort: Option<AbortAt>,
) -> Result<(Trainer<'a>, Sink<'a>)> {
    let task = crate::tasks::of(&trial.spec)?;
    let mut model = None;
    let mut trainer = new_trainer(trial, data, device, &mut model)?;
    status.total_steps = trainer.total_steps();
    status.params = trainer.parameter_count();
    let metrics = dir.join(METRICS_FILE);
    let resumed = match resume {
        Some(ckpt) => match resume_from(&mut trainer, ckpt, &metrics, &trial.id) {
            Ok((log, step)) => {
                eprintln!("{}: resuming from {} (step {step})", trial.id, ckpt.display());
                status.message = Some(format!("resumed from step {step}"));
                Some(log)
            }
            Err(e) => {
                // A checkpoint that cannot be used is no reason to fail
                // forever: start over (with a fresh model, since restoring
                // may have got half way).
                eprintln!("{}: cannot resume from {}: {e:#}; starting over", trial.id, ckpt.display());
                trainer = new_trainer(trial, data, device, &mut model)?;
                None
            }
        },
        None => None,
    };
    let log = match resumed {
        Some(log) => log,
        None => {
            checkpoint::remove_all(dir)?;
            MetricsLog::create(&metrics, &trial.id)?
        }
    };
    let model = model.expect("the trainer built the model");
    status.hidden = model.hidden;
    status.write(dir)?;
    let defs = task.metrics();
    let files = data.checkpoint_files()?;
    let tb = EventWriter::create(dir, &hparams(trial, &model), &trial.variant, &crate::metrics::read(&metrics)?)?;
    let sink = Sink { log, tb, defs, progress, total: trainer.total_steps(), dir, trial, files, model, abort };
    Ok((trainer, sink))
}

/// The final results of `report` into `status`.
fn conclude(report: Report, defs: &'static [Metric], status: &mut Status) {
    status.steps = report.steps;
    // JSON has no NaN: a metric that is not finite is simply absent.
    let mut r = Finite(&mut status.result);
    if let Some(t) = report.last_train {
        for (name, v) in crate::metrics::of_loss(defs, t.loss) {
            r.insert(format!("train_{name}"), v);
        }
    }
    for (prefix, eval) in [("val", &report.val), ("test", &report.test)] {
        for (name, v) in eval.iter().flat_map(|e| e.metrics.iter()) {
            r.insert(format!("{prefix}_{name}"), *v);
        }
    }
    if let Some((step, best)) = &report.best_val {
        for (name, v) in crate::metrics::of_loss(defs, best.loss) {
            r.insert(format!("best_val_{name}"), v);
        }
        r.insert("best_step".into(), *step as f64);
    }
    r.insert("tokens_per_s".into(), report.tokens_per_s);
    match report.outcome {
        Outcome::Finished => status.state = TrialState::Finished,
        Outcome::Diverged { step, what } => {
            status.state = TrialState::Diverged;
            status.message = Some(format!("diverged at step {step}: {what}"));
        }
        Outcome::Stopped { step } => {
            status.message = Some(format!("stopped at step {step} by the warning signal; checkpoint-last/ resumes it"))
        }
    }
}

/// The trial's hyperparameters as TensorBoard's HParams tab shows them:
/// its swept and drawn values, and the hidden size trained.
fn hparams(trial: &Trial, model: &ModelSpec) -> Vec<(String, HParam)> {
    let mut out: Vec<(String, HParam)> =
        trial.params.iter().chain(&trial.sampled).map(|(k, v)| (k.clone(), HParam::of_yaml(v))).collect();
    out.push(("variant".into(), HParam::Text(trial.variant.clone())));
    if !out.iter().any(|(k, _)| k == "model.hidden") {
        out.push(("model.hidden".into(), HParam::Number(model.hidden as f64)));
    }
    out
}

/// A trainer for `trial` on `data`; `model` receives the model as built
/// (its hidden size solved from a parameter budget).
fn new_trainer<'a>(
    trial: &'a Trial,
    data: &'a dyn TaskData,
    device: tch::Device,
    model: &mut Option<ModelSpec>,
) -> Result<Trainer<'a>> {
    Trainer::new(&trial.spec.train, device, |vs| {
        let (objective, built) = data.objective(&trial.spec, vs)?;
        *model = Some(built);
        Ok(objective)
    })
}

/// Restores `trainer` from a checkpoint and continues its `metrics.csv`;
/// returns the log and the checkpoint's step.
fn resume_from(trainer: &mut Trainer, ckpt: &Path, metrics: &Path, id: &str) -> Result<(MetricsLog, usize)> {
    let (snapshot, rows) = checkpoint::read(ckpt)?;
    let step = snapshot.position.step;
    trainer.restore(snapshot)?;
    Ok((MetricsLog::resume(metrics, id, rows)?, step))
}

struct Finite<'a>(&'a mut IndexMap<String, f64>);

impl Finite<'_> {
    fn insert(&mut self, key: String, value: f64) {
        if value.is_finite() {
            self.0.insert(key, value);
        }
    }
}

pub struct Sink<'p> {
    log: MetricsLog,
    /// The same metrics as TensorBoard scalars.
    tb: EventWriter,
    /// The task's metrics (those of the loss go into each training log).
    defs: &'static [Metric],
    progress: &'p mut dyn Progress,
    total: usize,
    dir: &'p Path,
    trial: &'p Trial,
    /// The task's files a checkpoint holds beside the weights (vocabularies).
    files: Vec<(&'static str, String)>,
    /// The model as trained (hidden solved from a budget), for checkpoints.
    model: ModelSpec,
    abort: Option<AbortAt>,
}

impl Sink<'_> {
    /// Ends the trial's TensorBoard session with its outcome. A stopped
    /// trial's session goes on when it resumes (its event file is
    /// rewritten then).
    fn end_session(&mut self, report: &Report) -> Result<()> {
        match report.outcome {
            Outcome::Finished => self.tb.end(report.steps, End::Success),
            Outcome::Diverged { .. } => self.tb.end(report.steps, End::Failure),
            Outcome::Stopped { .. } => Ok(()),
        }
    }
}

impl Observer for Sink<'_> {
    fn train(&mut self, log: &TrainLog) -> Result<()> {
        let metrics = log.metrics(self.defs);
        self.log.write(log.step, "train", &metrics)?;
        self.tb.scalars(log.step, "train", metrics.iter().map(|(k, v)| (k.as_str(), *v)))?;
        self.progress.update(log.step, self.total, &progress_value(self.defs, log.loss));
        if matches!(self.abort, Some(AbortAt::Train(k)) if log.step >= k) {
            std::process::abort();
        }
        Ok(())
    }

    fn eval(&mut self, step: usize, split: &str, eval: &Eval) -> Result<()> {
        self.log.write(step, split, &eval.metrics)?;
        self.tb.scalars(step, split, eval.metrics.iter().map(|(k, v)| (k.as_str(), *v)))
    }

    fn checkpoint(&mut self, which: Which, snapshot: &Snapshot) -> Result<()> {
        checkpoint::write(self.dir, which, snapshot, self.log.rows(), self.trial, &self.files, &self.model)?;
        if which == Which::Last && self.abort == Some(AbortAt::Checkpoint(snapshot.position.step)) {
            std::process::abort();
        }
        Ok(())
    }

    fn checkpoint_requested(&mut self) -> bool {
        crate::signal::requested()
    }
}
