//! The training loop, shared by every task: optimizer steps with clipping
//! and a learning-rate schedule, evaluation without gradients and with
//! dropout off, divergence detection, best-validation tracking and
//! checkpoints. What a step reads and how a split is scored is an
//! [`Objective`], which a task builds (`crate::tasks`); the loop knows no
//! task. It knows nothing about files either: it reports to an
//! [`Observer`], including the [`Snapshot`]s a checkpoint is made of, and
//! continues from one exactly.
mod interval;
pub mod optim;
pub mod packed;
mod snapshot;

use std::time::Instant;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Tensor};

use crate::metrics::Metric;
use crate::spec::TrainSpec;

use interval::Interval;
pub use snapshot::{load_named, named_variables, state_tensors, step_seed, Position, Snapshot, Which};

/// Scores over a split: the loss (mean cross-entropy in nats per scored
/// target) that picks the best checkpoint, and every metric logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Eval {
    pub loss: f64,
    /// Scored targets (characters, tokens, tags or labels).
    pub scored: usize,
    /// The metrics written to `metrics.csv` (the loss among them), by name,
    /// in the order the task declares them.
    pub metrics: Vec<(String, f64)>,
}

/// A split a task is evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalSplit {
    Val,
    Test,
}

/// A training batch's loss, with its graph.
pub struct Batch {
    /// Summed cross-entropy (nats) over the scored targets.
    pub loss_sum: Tensor,
    /// Number of scored targets (a scalar tensor: the sum stays on the device).
    pub scored: Tensor,
    /// Tokens read, for throughput.
    pub tokens: usize,
}

/// What a task contributes to the loop: its batches, in an order that can
/// be saved and restored, and its evaluation.
pub trait Objective {
    /// The loss on the next training batch (dropout on). Randomness drawn
    /// here comes from libtorch's generator, seeded before every step.
    fn train_batch(&mut self, step: usize) -> Batch;
    /// Scores a split without gradients and with dropout off; `last` marks
    /// the evaluation at the end of training, which may compute more (beam
    /// search, accuracy by length).
    fn evaluate(&self, split: EvalSplit, last: bool) -> Eval;
    /// Training batches per pass over the training split.
    fn per_epoch(&self) -> usize;
    /// Whether there is a test split to score at the end (`data.split.test: 0` has none).
    fn has_test(&self) -> bool {
        true
    }
    /// Where the next batch comes from: (offset, passes done).
    fn position(&self) -> (i64, usize);
    fn seek(&mut self, offset: i64, epoch: usize);
    /// State carried between batches (a language model's hidden state).
    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn restore_state(&mut self, named: Vec<(String, Tensor)>) -> Result<()> {
        load_named(&[], named, "hidden state")
    }
    /// Packed training ([`packed::step`]): the next window, not run, or
    /// `None` where the objective cannot be packed; the pack hands back the
    /// state it ended in through [`Objective::pack_done`].
    fn pack_window(&mut self) -> Option<packed::PackWindow> {
        None
    }
    fn pack_done(&mut self, _state: crate::model::RecurrentState) {}
}

/// Training metrics averaged over one logging interval.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TrainLog {
    pub step: usize,
    pub epoch: f64,
    pub loss: f64,
    pub grad_norm: f64,
    pub lr: f64,
    pub tokens_per_s: f64,
    pub elapsed_s: f64,
}

impl TrainLog {
    /// The logged values: the task's training metrics (`loss_metrics`, each
    /// a function of the loss), then what every run logs.
    pub fn metrics(&self, loss_metrics: &[Metric]) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> =
            crate::metrics::of_loss(loss_metrics, self.loss).map(|(k, v)| (k.to_string(), v)).collect();
        out.extend(
            [
                ("grad_norm", self.grad_norm),
                ("lr", self.lr),
                ("epoch", self.epoch),
                ("tokens_per_s", self.tokens_per_s),
                ("elapsed_s", self.elapsed_s),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        out
    }
}

impl Batch {
    /// The mean loss per scored target, which a step backpropagates.
    pub fn mean_loss(&self) -> Tensor {
        &self.loss_sum / self.scored.clamp_min(1.0)
    }
}

/// The result of one training step, on the device.
pub struct StepOut {
    /// Summed cross-entropy (nats) over the scored targets.
    pub loss_sum: Tensor,
    /// Number of scored targets.
    pub scored: Tensor,
    pub grad_norm: Tensor,
    /// Characters read (scored or not), for throughput.
    pub tokens: usize,
}

/// What the loop reports as it goes; returning an error stops training.
pub trait Observer {
    fn train(&mut self, log: &TrainLog) -> Result<()>;
    fn eval(&mut self, step: usize, split: &str, eval: &Eval) -> Result<()>;
    /// A point the run can be continued from: every `checkpoint_every` steps
    /// and after the last step ([`Which::Last`]), and at each new best
    /// validation loss ([`Which::Best`]).
    fn checkpoint(&mut self, _which: Which, _snapshot: &Snapshot) -> Result<()> {
        Ok(())
    }
    /// Asked after every step: true stops the run there with a
    /// [`Which::Last`] checkpoint ([`Outcome::Stopped`]), e.g. on a cluster's
    /// warning that the job's time is up.
    fn checkpoint_requested(&mut self) -> bool {
        false
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Finished,
    /// The loss (or gradient norm) became NaN or infinite at this step.
    Diverged {
        step: usize,
        what: String,
    },
    /// The observer asked to stop here; `checkpoint-last` holds this step.
    Stopped {
        step: usize,
    },
}

/// Final numbers of a run.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    pub steps: usize,
    pub last_train: Option<TrainLog>,
    pub val: Option<Eval>,
    pub test: Option<Eval>,
    pub best_val: Option<(usize, Eval)>,
    /// Training throughput over the whole run, evaluation time excluded.
    pub tokens_per_s: f64,
}

pub struct Trainer<'a> {
    spec: &'a TrainSpec,
    device: Device,
    vs: nn::VarStore,
    objective: Box<dyn Objective + 'a>,
    opt: optim::Optimizer,
    vars: Vec<Tensor>,
    total_steps: usize,
    resume: Option<Position>,
}

impl<'a> Trainer<'a> {
    /// Seeds libtorch with `train.seed`, then lets `build` create the
    /// model's variables in a fresh var store on `device` and return the
    /// objective that trains them, and sets up the optimizer.
    pub fn new(
        train: &'a TrainSpec,
        device: Device,
        build: impl FnOnce(&nn::VarStore) -> Result<Box<dyn Objective + 'a>>,
    ) -> Result<Trainer<'a>> {
        tch::manual_seed(train.seed as i64);
        if device.is_cuda() {
            tch::Cuda::manual_seed_all(train.seed);
        }
        let vs = nn::VarStore::new(device);
        let objective = build(&vs)?;
        let params = named_variables(&vs);
        let vars = params.iter().map(|(_, t)| t.shallow_clone()).collect();
        let opt = optim::Optimizer::new(params, train);
        let total_steps = match (train.steps, train.epochs) {
            (Some(s), _) => s,
            (None, Some(e)) => ((e * objective.per_epoch() as f64).ceil() as usize).max(1),
            (None, None) => anyhow::bail!("train: no budget (train.steps or train.epochs)"),
        };
        Ok(Trainer { spec: train, device, vs, objective, opt, vars, total_steps, resume: None })
    }

    /// Continues from a snapshot (see [`Trainer::snapshot`]) on the next [`Trainer::run`].
    pub fn restore(&mut self, snapshot: Snapshot) -> Result<()> {
        let p = &snapshot.position;
        if p.total_steps != self.total_steps || p.step > self.total_steps {
            bail!("the checkpoint is at step {} of {}, this run has {} steps", p.step, p.total_steps, self.total_steps);
        }
        load_named(&named_variables(&self.vs), snapshot.model, "model")?;
        self.opt.load_state(snapshot.optimizer)?;
        self.objective.restore_state(snapshot.hidden)?;
        self.objective.seek(p.window_offset, p.epoch);
        self.resume = Some(snapshot.position);
        Ok(())
    }

    pub fn total_steps(&self) -> usize {
        self.total_steps
    }

    pub fn parameter_count(&self) -> i64 {
        crate::model::parameter_count(&self.vs)
    }

    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// One optimizer step on the next batch. Sums stay on the device (no
    /// host sync) so steps queue up on a GPU.
    pub fn step(&mut self, step: usize) -> StepOut {
        self.seed_step(step);
        let batch = self.objective.train_batch(step);
        self.zero_grad();
        batch.mean_loss().backward();
        self.apply(step, batch)
    }

    /// Seeds libtorch for step `step` (0-based), as every step starts.
    pub fn seed_step(&self, step: usize) {
        tch::manual_seed(step_seed(self.spec.seed, step));
    }

    pub fn zero_grad(&mut self) {
        self.opt.zero_grad();
    }

    /// The end of step `step` (0-based) once `batch`'s mean loss is
    /// backpropagated: clips the gradients and steps the optimizer.
    pub fn apply(&mut self, step: usize, batch: Batch) -> StepOut {
        let lr = optim::lr_at(self.spec, step, self.total_steps);
        let grad_norm = optim::clip_grad_norm(&self.vars, self.spec.clip_grad_norm);
        self.opt.step(lr);
        StepOut { loss_sum: batch.loss_sum.detach(), scored: batch.scored, grad_norm, tokens: batch.tokens }
    }

    /// The objective, for a pack that drives its batches.
    pub fn objective_mut(&mut self) -> &mut (dyn Objective + 'a) {
        self.objective.as_mut()
    }

    /// Scores a split without gradients and with dropout off (see [`Objective::evaluate`]).
    pub fn evaluate(&self, split: EvalSplit, last: bool) -> Eval {
        tch::no_grad(|| self.objective.evaluate(split, last))
    }

    /// Trains for the whole budget (or what is left of it after
    /// [`Trainer::restore`]), evaluating on validation every `eval_every`
    /// steps and on validation and test at the end (all validation passes
    /// use the same characters, so they compare). Offers checkpoints to the
    /// observer. Stops early, with [`Outcome::Diverged`], when the loss stops
    /// being finite.
    pub fn run(&mut self, observer: &mut dyn Observer) -> Result<Report> {
        let mut run = self.begin();
        for step in run.first..=self.total_steps {
            let out = self.step(step - 1);
            if !self.after_step(&mut run, step, &out, observer)? {
                break;
            }
        }
        self.finish(run, observer)
    }

    /// The bookkeeping of a run about to start (or continue after
    /// [`Trainer::restore`]). [`Trainer::run`] is `begin`, then
    /// [`Trainer::step`] and [`Trainer::after_step`] for each step from
    /// [`Run::first`] while `after_step` says to go on, then [`Trainer::finish`].
    pub fn begin(&mut self) -> Run {
        let mut interval = Interval::new(self.device);
        let mut report = Report {
            outcome: Outcome::Finished,
            steps: 0,
            last_train: None,
            val: None,
            test: None,
            best_val: None,
            tokens_per_s: 0.0,
        };
        let (train_time, train_tokens, first) = match self.resume.take() {
            Some(p) => {
                interval.resume(&p, self.device);
                report.steps = p.step;
                report.best_val = p.best_val;
                report.last_train = p.last_train;
                (p.train_time_s, p.train_tokens, p.step + 1)
            }
            None => (0.0, 0, 1),
        };
        Run { first, start: Instant::now(), interval, report, train_time, train_tokens }
    }

    /// Logs, evaluates and checkpoints after step `step` (1-based) gave
    /// `out`; returns whether to go on (false once the run diverged, or
    /// stopped because the observer asked for a checkpoint and a stop).
    pub fn after_step(
        &mut self,
        run: &mut Run,
        step: usize,
        out: &StepOut,
        observer: &mut dyn Observer,
    ) -> Result<bool> {
        let t = self.spec;
        let (log_every, eval_every, total) = (t.log_every, t.eval_every, self.total_steps);
        let checkpoint_every = t.checkpoint_every_or_default();
        let lr = optim::lr_at(t, step - 1, total);
        run.interval.add(out);
        run.report.steps = step;
        if step.is_multiple_of(log_every) || step == total {
            let (log, seconds) = run.interval.finish(step, lr, self.objective.per_epoch(), run.start);
            run.train_time += seconds;
            run.train_tokens += run.interval.tokens;
            run.interval = Interval::new(self.device);
            observer.train(&log)?;
            run.report.last_train = Some(log);
            if !log.loss.is_finite() || !log.grad_norm.is_finite() {
                let what = if log.loss.is_finite() { "gradient norm" } else { "training loss" };
                run.report.outcome =
                    Outcome::Diverged { step, what: format!("{what} became {}", log.loss.min(log.grad_norm)) };
                return Ok(false);
            }
        }
        let mut best = false;
        if step.is_multiple_of(eval_every) && step != total {
            let val = self.evaluate(EvalSplit::Val, false);
            observer.eval(step, "val", &val)?;
            best = track_best(&mut run.report.best_val, step, &val);
        }
        // The last step's checkpoint comes before the final evaluation,
        // so a run resumed from it redoes exactly that evaluation.
        let stop = observer.checkpoint_requested();
        let last = step.is_multiple_of(checkpoint_every) || step == total || stop;
        if last || best {
            let position = self.position(step, &run.report, &run.interval, run.train_time, run.train_tokens);
            if !(position.interval_loss.is_finite() && position.interval_grad_norm.is_finite()) {
                // Diverging since the last log: nothing worth resuming
                // (and JSON cannot hold NaN); the next log will say so.
                return Ok(true);
            }
            let snapshot = self.snapshot(position)?;
            if last {
                observer.checkpoint(Which::Last, &snapshot)?;
            }
            if best {
                observer.checkpoint(Which::Best, &snapshot)?;
            }
            if stop {
                run.report.outcome = Outcome::Stopped { step };
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The final evaluations of a run that ended (unless it diverged), and its report.
    pub fn finish(&mut self, run: Run, observer: &mut dyn Observer) -> Result<Report> {
        let Run { interval, mut report, train_time, train_tokens, .. } = run;
        report.tokens_per_s = if train_time > 0.0 { train_tokens as f64 / train_time } else { 0.0 };
        if matches!(report.outcome, Outcome::Finished) {
            let val = self.evaluate(EvalSplit::Val, true);
            observer.eval(report.steps, "val", &val)?;
            if track_best(&mut report.best_val, report.steps, &val) {
                let position = self.position(report.steps, &report, &interval, train_time, train_tokens);
                observer.checkpoint(Which::Best, &self.snapshot(position)?)?;
            }
            if self.objective.has_test() {
                let test = self.evaluate(EvalSplit::Test, true);
                observer.eval(report.steps, "test", &test)?;
                report.test = Some(test);
            }
            if !val.loss.is_finite() {
                report.outcome = Outcome::Diverged { step: report.steps, what: "validation loss is not finite".into() };
            }
            report.val = Some(val);
        }
        Ok(report)
    }

    fn position(
        &self,
        step: usize,
        report: &Report,
        interval: &Interval,
        train_time_s: f64,
        train_tokens: usize,
    ) -> Position {
        let (window_offset, epoch) = self.objective.position();
        Position {
            step,
            total_steps: self.total_steps,
            window_offset,
            epoch,
            best_val: report.best_val.clone(),
            last_train: report.last_train,
            interval_loss: f64::try_from(&interval.loss).unwrap_or(f64::NAN),
            interval_grad_norm: f64::try_from(&interval.norm).unwrap_or(f64::NAN),
            interval_scored: f64::try_from(&interval.scored).unwrap_or(0.0),
            interval_steps: interval.steps,
            interval_tokens: interval.tokens,
            train_time_s,
            train_tokens,
            seed: self.spec.seed,
        }
    }

    /// Copies of the tensors a checkpoint holds (on the CPU), with `position`.
    pub fn snapshot(&self, position: Position) -> Result<Snapshot> {
        let cpu = |named: Vec<(String, Tensor)>| -> Vec<(String, Tensor)> {
            named.into_iter().map(|(k, v)| (k, v.detach().to_device(Device::Cpu).copy())).collect()
        };
        Ok(Snapshot {
            model: cpu(named_variables(&self.vs)),
            optimizer: cpu(self.opt.state()),
            hidden: cpu(self.objective.state_tensors()),
            position,
        })
    }
}

/// A run in progress: what [`Trainer::begin`] sets up and
/// [`Trainer::after_step`] carries from step to step.
pub struct Run {
    /// The first step (1-based) still to take.
    pub first: usize,
    start: Instant,
    interval: Interval,
    report: Report,
    train_time: f64,
    train_tokens: usize,
}

/// Records a new best validation loss; returns whether it is one.
fn track_best(best: &mut Option<(usize, Eval)>, step: usize, eval: &Eval) -> bool {
    let better = eval.loss.is_finite() && best.as_ref().is_none_or(|(_, b)| eval.loss < b.loss);
    if better {
        *best = Some((step, eval.clone()));
    }
    better
}
