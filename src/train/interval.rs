//! The device-side sums of a logging interval.
use std::time::Instant;

use tch::{Device, Kind, Tensor};

use super::{Position, StepOut, TrainLog};

/// Device-side sums over a logging interval, fetched once at its end.
pub(super) struct Interval {
    pub(super) loss: Tensor,
    pub(super) scored: Tensor,
    pub(super) norm: Tensor,
    pub(super) steps: usize,
    pub(super) tokens: usize,
    started: Instant,
}

impl Interval {
    pub(super) fn new(device: Device) -> Interval {
        let zero = || Tensor::zeros([], (Kind::Float, device));
        Interval { loss: zero(), scored: zero(), norm: zero(), steps: 0, tokens: 0, started: Instant::now() }
    }

    /// Continues the interval a checkpoint was taken in.
    pub(super) fn resume(&mut self, p: &Position, device: Device) {
        let scalar = |v: f64| Tensor::from(v as f32).to_device(device);
        self.loss = scalar(p.interval_loss);
        self.scored = scalar(p.interval_scored);
        self.norm = scalar(p.interval_grad_norm);
        self.steps = p.interval_steps;
        self.tokens = p.interval_tokens;
    }

    pub(super) fn add(&mut self, out: &StepOut) {
        self.loss += &out.loss_sum;
        self.scored += &out.scored;
        self.norm += &out.grad_norm;
        self.steps += 1;
        self.tokens += out.tokens;
    }

    /// Syncs with the device and returns the interval's log and its duration.
    pub(super) fn finish(&self, step: usize, lr: f64, per_epoch: usize, run_start: Instant) -> (TrainLog, f64) {
        let scored = f64::try_from(&self.scored).unwrap_or(0.0).max(1.0);
        let loss = f64::try_from(&self.loss).unwrap_or(f64::NAN) / scored;
        let grad_norm = f64::try_from(&self.norm).unwrap_or(f64::NAN) / self.steps.max(1) as f64;
        let seconds = self.started.elapsed().as_secs_f64();
        let epoch = step as f64 / per_epoch.max(1) as f64;
        let log = TrainLog {
            step,
            epoch,
            loss,
            grad_norm,
            lr,
            tokens_per_s: self.tokens as f64 / seconds.max(1e-9),
            elapsed_s: run_start.elapsed().as_secs_f64(),
        };
        (log, seconds)
    }
}
