//! One trial, run in this process, into its own self-contained directory:
//!
//! ```text
//! results/<experiment>/trials/<id>/
//!   trial.yaml    the resolved spec that produced these results
//!   status.json   running | finished | diverged | failed, with final metrics
//!   metrics.csv   tidy metric rows (trial, step, split, metric, value)
//!   log.txt       what the trial printed (when run by `rnnlab run`)
//! ```
//!
//! Summaries and plots are rebuilt from these directories alone.
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::data::Corpus;
use crate::fsutil::write_atomic;
use crate::metrics::{bits, MetricsLog};
use crate::spec::sweep::Trial;
use crate::train::{Eval, Observer, Outcome, TrainLog, Trainer};

pub const SPEC_FILE: &str = "trial.yaml";
pub const STATUS_FILE: &str = "status.json";
pub const METRICS_FILE: &str = "metrics.csv";
pub const LOG_FILE: &str = "log.txt";

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
    pub fn read(dir: &Path) -> Result<Status> {
        let path = dir.join(STATUS_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a valid status", path.display()))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join(STATUS_FILE), serde_json::to_string_pretty(self)?.as_bytes())
    }
}

pub fn read_trial(dir: &Path) -> Result<Trial> {
    let path = dir.join(SPEC_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("{} is not a valid trial spec", path.display()))
}

/// Creates the trial directory and writes its resolved spec.
pub fn write_spec(dir: &Path, trial: &Trial) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic(&dir.join(SPEC_FILE), serde_yaml::to_string(trial)?.as_bytes())
}

pub fn trial_dir(experiment_dir: &Path, id: &str) -> PathBuf {
    experiment_dir.join("trials").join(id)
}

/// Hooks for live progress (the sweep runner's progress bars).
pub trait Progress {
    fn update(&mut self, step: usize, total: usize, loss: f64);
}

impl Progress for () {
    fn update(&mut self, _: usize, _: usize, _: f64) {}
}

/// Runs `trial` into `dir` on `device`. Errors inside training are recorded
/// in `status.json` as `failed` and returned; a diverged run is a result.
pub fn run(
    trial: &Trial,
    dir: &Path,
    device: tch::Device,
    threads: usize,
    progress: &mut dyn Progress,
) -> Result<Status> {
    write_spec(dir, trial)?;
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut status = Status {
        state: State::Running,
        message: None,
        device: crate::device::name(device),
        threads,
        started,
        elapsed_s: 0.0,
        steps: 0,
        total_steps: 0,
        params: 0,
        hidden: 0,
        result: IndexMap::new(),
    };
    status.write(dir)?;
    let clock = Instant::now();
    let outcome = train_into(trial, dir, device, &mut status, progress);
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
) -> Result<()> {
    let corpus = Corpus::load(&trial.spec)?;
    let mut trainer = Trainer::new(&trial.spec, &corpus, device)?;
    status.total_steps = trainer.total_steps();
    status.params = trainer.parameter_count();
    status.hidden = trainer.hidden();
    status.write(dir)?;
    let mut sink =
        Sink { log: MetricsLog::create(&dir.join(METRICS_FILE), &trial.id)?, progress, total: trainer.total_steps() };
    let report = trainer.run(&mut sink)?;
    status.steps = report.steps;
    // JSON has no NaN: a metric that is not finite is simply absent.
    let mut r = Finite(&mut status.result);
    if let Some(t) = report.last_train {
        r.insert("train_loss".into(), t.loss);
        r.insert("train_bpc".into(), bits(t.loss));
    }
    for (prefix, eval) in [("val", &report.val), ("test", &report.test)] {
        for (name, v) in eval.iter().flat_map(|e| e.metrics()) {
            r.insert(format!("{prefix}_{name}"), v);
        }
    }
    if let Some((step, best)) = &report.best_val {
        r.insert("best_val_bpc".into(), bits(best.loss));
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
}

impl Observer for Sink<'_> {
    fn train(&mut self, log: &TrainLog) -> Result<()> {
        self.log.write(log.step, "train", &log.metrics())?;
        self.progress.update(log.step, self.total, log.loss);
        Ok(())
    }

    fn eval(&mut self, step: usize, split: &str, eval: &Eval) -> Result<()> {
        self.log.write(step, split, &eval.metrics())
    }
}
