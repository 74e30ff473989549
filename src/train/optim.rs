//! Optimizers, learning-rate schedules and gradient clipping.
//!
//! The optimizers are written here over tensors rather than taken from
//! `tch::nn::Optimizer`, because libtorch's C++ optimizers cannot export
//! their state, and an exactly resumable run needs it. The update formulas
//! and defaults are PyTorch's (`torch.optim.SGD`, `Adam`, `RMSprop` with
//! `foreach=False`), and a test checks the numbers against PyTorch.
use std::collections::HashMap;

use anyhow::{bail, Result};
use tch::Tensor;

use crate::spec::{LrSchedule, OptimizerKind as Kind_, TrainSpec};

const ADAM_BETAS: (f64, f64) = (0.9, 0.999);
const ADAM_EPS: f64 = 1e-8;
const RMSPROP_ALPHA: f64 = 0.99;
const RMSPROP_EPS: f64 = 1e-8;

/// A first-order optimizer over named parameters whose state is a list of
/// named tensors (`<param>.<buffer>`), so it can be checkpointed.
pub struct Optimizer {
    kind: Kind_,
    momentum: f64,
    weight_decay: f64,
    params: Vec<(String, Tensor)>,
    /// Per-parameter buffers, created on the first step as PyTorch does.
    state: HashMap<String, Tensor>,
    /// Completed steps (Adam's bias correction needs it).
    steps: i64,
}

impl Optimizer {
    /// `params`: the trainable variables with their names, in a fixed order.
    pub fn new(params: Vec<(String, Tensor)>, t: &TrainSpec) -> Optimizer {
        Optimizer {
            kind: t.optimizer,
            momentum: t.momentum_or_default(),
            weight_decay: t.weight_decay,
            params,
            state: HashMap::new(),
            steps: 0,
        }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_();
                let _ = g.zero_();
            }
        }
    }

    /// One update with learning rate `lr`; parameters without a gradient are skipped.
    pub fn step(&mut self, lr: f64) {
        self.steps += 1;
        let t = self.steps;
        tch::no_grad(|| {
            for (name, p) in &self.params {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                // Weight decay as PyTorch applies it: L2, added to the gradient.
                let g = if self.weight_decay != 0.0 { &grad + p * self.weight_decay } else { grad.shallow_clone() };
                let update = match self.kind {
                    Kind_::Sgd => g,
                    Kind_::Momentum | Kind_::Nesterov => {
                        // PyTorch starts the buffer at the first gradient itself.
                        let key = format!("{name}.momentum_buffer");
                        let existed = self.state.contains_key(&key);
                        let buf = buffer(&mut self.state, name, "momentum_buffer", || g.copy());
                        if existed {
                            let _ = buf.shallow_clone().g_mul_scalar_(self.momentum).g_add_(&g);
                        }
                        if self.kind == Kind_::Nesterov {
                            &g + &buf * self.momentum
                        } else {
                            buf
                        }
                    }
                    Kind_::Adam => {
                        let (b1, b2) = ADAM_BETAS;
                        let m = buffer(&mut self.state, name, "exp_avg", || g.zeros_like());
                        let v = buffer(&mut self.state, name, "exp_avg_sq", || g.zeros_like());
                        let _ = m.shallow_clone().lerp_(&g, 1.0 - b1);
                        let _ = v.shallow_clone().g_mul_scalar_(b2).addcmul_(&g, &(&g * (1.0 - b2)));
                        let bc1 = 1.0 - b1.powi(t as i32);
                        let bc2 = 1.0 - b2.powi(t as i32);
                        let denom = v.sqrt() / bc2.sqrt() + ADAM_EPS;
                        m / denom / bc1
                    }
                    Kind_::Rmsprop => {
                        let sq = buffer(&mut self.state, name, "square_avg", || g.zeros_like());
                        let _ =
                            sq.shallow_clone().g_mul_scalar_(RMSPROP_ALPHA).addcmul_(&g, &(&g * (1.0 - RMSPROP_ALPHA)));
                        let scaled = &g / (sq.sqrt() + RMSPROP_EPS);
                        if self.momentum > 0.0 {
                            let buf = buffer(&mut self.state, name, "momentum_buffer", || scaled.zeros_like());
                            let _ = buf.shallow_clone().g_mul_scalar_(self.momentum).g_add_(&scaled);
                            buf
                        } else {
                            scaled
                        }
                    }
                };
                let _ = p.shallow_clone().g_sub_(&(update * lr));
            }
        });
    }

    /// The optimizer state as named tensors: `<param>.<buffer>` and `step`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = self.state.iter().map(|(k, v)| (k.clone(), v.shallow_clone())).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.push(("step".into(), Tensor::from(self.steps)));
        out
    }

    /// Restores a state written by [`Optimizer::state`] for the same parameters.
    pub fn load_state(&mut self, named: Vec<(String, Tensor)>) -> Result<()> {
        self.state.clear();
        for (name, tensor) in named {
            if name == "step" {
                self.steps = tensor.int64_value(&[]);
                continue;
            }
            let Some((_, param)) = self
                .params
                .iter()
                .find(|(p, _)| name.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('.')))
            else {
                bail!("optimizer state '{name}' names no parameter of this model");
            };
            if tensor.size() != param.size() {
                bail!("optimizer state '{name}' has shape {:?}, the parameter {:?}", tensor.size(), param.size());
            }
            let t = tensor.to_kind(param.kind()).to_device(param.device());
            self.state.insert(name, t);
        }
        Ok(())
    }
}

/// The buffer `<param>.<what>`, created by `init` on first use.
fn buffer(state: &mut HashMap<String, Tensor>, param: &str, what: &str, init: impl FnOnce() -> Tensor) -> Tensor {
    state.entry(format!("{param}.{what}")).or_insert_with(init).shallow_clone()
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
    use tch::nn;

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

    /// The tiny problem of the golden test: loss = ‖W x − y‖² + 0.1 Σ W³.
    fn golden_run(spec: &TrainSpec, steps: usize, resume_after: Option<usize>) -> Vec<f32> {
        let w = Tensor::from_slice(&[0.5f32, -1.0, 2.0, 0.25]).view([2, 2]).set_requires_grad(true);
        let x = Tensor::from_slice(&[1.0f32, -2.0]);
        let y = Tensor::from_slice(&[0.5f32, 1.5]);
        let mut opt = Optimizer::new(vec![("w".into(), w.shallow_clone())], spec);
        for i in 0..steps {
            if resume_after == Some(i) {
                // Round-trip the state through a fresh optimizer, as a resume does.
                let saved: Vec<(String, Tensor)> = opt.state().into_iter().map(|(k, v)| (k, v.copy())).collect();
                opt = Optimizer::new(vec![("w".into(), w.shallow_clone())], spec);
                opt.load_state(saved).unwrap();
            }
            opt.zero_grad();
            let r = w.mv(&x) - &y;
            let loss = (&r * &r).sum(tch::Kind::Float) + (&w * &w * &w).sum(tch::Kind::Float) * 0.1;
            loss.backward();
            opt.step(spec.lr);
        }
        Vec::<f32>::try_from(w.detach().flatten(0, -1)).unwrap()
    }

    /// Golden values from PyTorch 2.11.0, three steps of:
    ///
    /// ```python
    /// w = torch.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    /// x = torch.tensor([1.0, -2.0]); y = torch.tensor([0.5, 1.5])
    /// opt = make([w])   # e.g. torch.optim.Adam([w], lr=0.1, weight_decay=0.01, foreach=False)
    /// for _ in range(3):
    ///     opt.zero_grad()
    ///     loss = ((w @ x - y) ** 2).sum() + (w ** 3).sum() * 0.1
    ///     loss.backward(); opt.step()
    /// print(w.detach().flatten().tolist())
    /// ```
    #[test]
    fn matches_pytorch_and_resumes_exactly() {
        // (optimizer, lr, momentum, weight decay, expected weights)
        type Case = (Kind_, f64, Option<f64>, f64, [f32; 4]);
        let cases: [Case; 6] = [
            (Kind_::Sgd, 0.05, None, 0.01, [0.1392134, -0.3128808, 1.841607, 0.2182153]),
            (Kind_::Momentum, 0.05, Some(0.9), 0.01, [-0.2147986, 0.352842, 1.699356, 0.194262]),
            (Kind_::Nesterov, 0.05, Some(0.9), 0.0, [-0.0942927, 0.1065925, 1.619603, 0.1260544]),
            (Kind_::Adam, 0.1, None, 0.01, [0.2030824, -0.7029269, 1.704396, 0.198181]),
            (Kind_::Rmsprop, 0.01, None, 0.01, [0.285389, -0.7848506, 1.791302, 0.1621505]),
            (Kind_::Rmsprop, 0.01, Some(0.5), 0.0, [0.1819428, -0.6812037, 1.677889, 0.1458807]),
        ];
        for (optimizer, lr, momentum, weight_decay, expected) in cases {
            let spec = TrainSpec { optimizer, lr, momentum, weight_decay, ..Default::default() };
            let got = golden_run(&spec, 3, None);
            for (g, e) in got.iter().zip(expected) {
                assert!((g - e).abs() < 2e-6, "{optimizer:?} {momentum:?}: {got:?} vs {expected:?}");
            }
            for cut in 1..3 {
                assert_eq!(golden_run(&spec, 3, Some(cut)), got, "{optimizer:?} resumed at {cut}");
            }
        }
    }
}
