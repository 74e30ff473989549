//! Optimizers, learning-rate schedules and gradient clipping.
use tch::nn::{self, OptimizerConfig};
use tch::Tensor;

use crate::spec::{LrSchedule, Optimizer, TrainSpec};

pub fn build(vs: &nn::VarStore, t: &TrainSpec) -> anyhow::Result<nn::Optimizer> {
    let momentum = t.momentum_or_default();
    let wd = t.weight_decay;
    let sgd = |momentum: f64, nesterov: bool| nn::Sgd { momentum, dampening: 0.0, wd, nesterov };
    let opt = match t.optimizer {
        Optimizer::Sgd => sgd(0.0, false).build(vs, t.lr)?,
        Optimizer::Momentum => sgd(momentum, false).build(vs, t.lr)?,
        Optimizer::Nesterov => sgd(momentum, true).build(vs, t.lr)?,
        Optimizer::Adam => nn::Adam { wd, ..Default::default() }.build(vs, t.lr)?,
        Optimizer::Rmsprop => nn::RmsProp { wd, momentum, ..Default::default() }.build(vs, t.lr)?,
    };
    Ok(opt)
}

/// Learning rate for the step about to be taken (`step` counts completed steps).
pub fn lr_at(t: &TrainSpec, step: usize, total: usize) -> f64 {
    match t.lr_schedule {
        LrSchedule::Constant => t.lr,
        LrSchedule::Step { every, gamma } => t.lr * gamma.powi((step / every) as i32),
        LrSchedule::Exponential { gamma } => t.lr * gamma.powf(step as f64),
        LrSchedule::Cosine { min_lr } => {
            let progress = step as f64 / total.max(1) as f64;
            min_lr + 0.5 * (t.lr - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    }
}

/// Global L2 norm of all gradients; if `max` is given and the norm exceeds
/// it, scales every gradient by `max / norm`. Stays on the device (no sync).
pub fn clip_grad_norm(vars: &[Tensor], max: Option<f64>) -> Tensor {
    let grads: Vec<Tensor> = vars.iter().map(|v| v.grad()).filter(|g| g.defined()).collect();
    let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
    let total = Tensor::stack(&norms, 0).norm();
    if let Some(max) = max {
        let coef = ((&total + 1e-6).reciprocal() * max).clamp_max(1.0);
        tch::no_grad(|| {
            for mut g in grads {
                let _ = g.g_mul_(&coef);
            }
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let mut t = TrainSpec { lr: 1.0, ..Default::default() };
        t.lr_schedule = LrSchedule::Step { every: 10, gamma: 0.5 };
        assert_eq!(lr_at(&t, 9, 100), 1.0);
        assert_eq!(lr_at(&t, 10, 100), 0.5);
        assert_eq!(lr_at(&t, 25, 100), 0.25);
        t.lr_schedule = LrSchedule::Exponential { gamma: 0.9 };
        assert!((lr_at(&t, 2, 100) - 0.81).abs() < 1e-12);
        t.lr_schedule = LrSchedule::Cosine { min_lr: 0.1 };
        assert!((lr_at(&t, 0, 100) - 1.0).abs() < 1e-12);
        assert!((lr_at(&t, 50, 100) - 0.55).abs() < 1e-12);
        assert!((lr_at(&t, 100, 100) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let a = vs.root().var("a", &[2], nn::Init::Const(0.0));
        let b = vs.root().var("b", &[1], nn::Init::Const(0.0));
        // d/da (3a0 + 0a1) and d/db 4b: gradients [3, 0] and [4], global norm 5.
        let loss = (&a * Tensor::from_slice(&[3.0f32, 0.0])).sum(tch::Kind::Float) + (&b * 4.0).sum(tch::Kind::Float);
        loss.backward();
        let vars = vec![a.shallow_clone(), b.shallow_clone()];
        let norm = clip_grad_norm(&vars, Some(1.0));
        assert!((f64::try_from(norm).unwrap() - 5.0).abs() < 1e-5);
        let clipped = clip_grad_norm(&vars, None);
        assert!((f64::try_from(clipped).unwrap() - 1.0).abs() < 1e-5);
        assert!((f64::try_from(a.grad().get(0)).unwrap() - 0.6).abs() < 1e-5);
    }
}
