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
use crate::layout::{METRICS_FILE, STATUS_FILE, TRIAL_FILE};
use crate::metrics::{bits, MetricsLog};
use crate::spec::sweep::Trial;
use crate::spec::{ModelSpec, Task};
use crate::train::{Data, Eval, Observer, Outcome, Snapshot, TrainLog, Trainer, Which};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Running,
    Finished,
    Diverged,
    Failed,
}

impl State {
    /// Finished and diverged trials are results; others are rerun.
    pub fn is_done(self) -> bool {
        matches!(self, State::Finished | State::Diverged)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Finished => "finished",
            State::Diverged => "diverged",
            State::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
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
            state: State::Running,
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
}

/// The resolved spec of a trial directory.
pub fn read_trial(dir: &Path) -> Result<Trial> {
    let path = dir.join(TRIAL_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("{} is not a valid trial spec", path.display()))
}

/// Creates the trial directory and writes its resolved spec.
pub fn write_spec(dir: &Path, trial: &Trial) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic(&dir.join(TRIAL_FILE), serde_yaml::to_string(trial)?.as_bytes())
}

/// Hooks for live progress (the sweep runner's progress bars).
pub trait Progress {
    fn update(&mut self, step: usize, total: usize, loss: f64);
}

impl Progress for () {
    fn update(&mut self, _: usize, _: usize, _: f64) {}
}

/// Runs `trial` (the `trial.yaml` of `dir`, see [`write_spec`]) into `dir`
/// on `device`, resuming from `checkpoint-last/` if an earlier attempt left
/// one without ending. Errors inside training
/// are recorded in `status.json` as `failed` and returned; a diverged run
/// is a result. `abort_after` (a test hook) aborts the process once the
/// training log of that step is written, like a kill would.
pub fn run(
    trial: &Trial,
    dir: &Path,
    device: tch::Device,
    threads: usize,
    progress: &mut dyn Progress,
    abort_after: Option<usize>,
) -> Result<Status> {
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
    let outcome = train_into(trial, dir, device, &mut status, progress, resume.as_deref(), abort_after);
    status.elapsed_s = clock.elapsed().as_secs_f64();
    if let Err(e) = &outcome {
        status.state = State::Failed;
        status.message = Some(format!("{e:#}"));
    }
    status.write(dir)?;
    outcome.map(|()| status)
}

fn train_into(
    trial: &Trial,
    dir: &Path,
    device: tch::Device,
    status: &mut Status,
    progress: &mut dyn Progress,
    resume: Option<&Path>,
    abort_after: Option<usize>,
) -> Result<()> {
    let data = Data::load(&trial.spec)?;
    let mut trainer = Trainer::new(&trial.spec, &data, device)?;
    status.total_steps = trainer.total_steps();
    status.params = trainer.parameter_count();
    status.hidden = trainer.hidden();
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
                trainer = Trainer::new(&trial.spec, &data, device)?;
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
    status.write(dir)?;
    let model = ModelSpec { hidden: trainer.hidden(), ..trial.spec.model.clone() };
    let mut sink = Sink { log, progress, total: trainer.total_steps(), dir, trial, data: &data, model, abort_after };
    let report = trainer.run(&mut sink)?;
    status.steps = report.steps;
    // JSON has no NaN: a metric that is not finite is simply absent.
    let mut r = Finite(&mut status.result);
    let lm = trial.spec.task == Task::CharLm;
    if let Some(t) = report.last_train {
        r.insert("train_loss".into(), t.loss);
        if lm {
            r.insert("train_bpc".into(), bits(t.loss));
        }
    }
    for (prefix, eval) in [("val", &report.val), ("test", &report.test)] {
        for (name, v) in eval.iter().flat_map(|e| e.metrics()) {
            r.insert(format!("{prefix}_{name}"), v);
        }
    }
    if let Some((step, best)) = &report.best_val {
        r.insert("best_val_loss".into(), best.loss);
        if lm {
            r.insert("best_val_bpc".into(), bits(best.loss));
        }
        r.insert("best_step".into(), *step as f64);
    }
    r.insert("tokens_per_s".into(), report.tokens_per_s);
    match report.outcome {
        Outcome::Finished => status.state = State::Finished,
        Outcome::Diverged { step, what } => {
            status.state = State::Diverged;
            status.message = Some(format!("diverged at step {step}: {what}"));
        }
    }
    Ok(())
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

struct Sink<'p> {
    log: MetricsLog,
    progress: &'p mut dyn Progress,
    total: usize,
    dir: &'p Path,
    trial: &'p Trial,
    data: &'p Data,
    /// The model as trained (hidden solved from a budget), for checkpoints.
    model: ModelSpec,
    abort_after: Option<usize>,
}

impl Observer for Sink<'_> {
    fn train(&mut self, log: &TrainLog) -> Result<()> {
        let mut metrics = log.metrics().to_vec();
        if self.trial.spec.task != Task::CharLm {
            // Bits per character mean nothing for labels, tags or target tokens.
            metrics.retain(|(name, _)| *name != "bpc");
        }
        self.log.write(log.step, "train", &metrics)?;
        self.progress.update(log.step, self.total, log.loss);
        if self.abort_after.is_some_and(|k| log.step >= k) {
            std::process::abort();
        }
        Ok(())
    }

    fn eval(&mut self, step: usize, split: &str, eval: &Eval) -> Result<()> {
        self.log.write(step, split, &eval.metrics())
    }

    fn checkpoint(&mut self, which: Which, snapshot: &Snapshot) -> Result<()> {
        checkpoint::write(self.dir, which, snapshot, self.log.rows(), self.trial, self.data, &self.model)?;
        Ok(())
    }
}
