//! A toy cell that proves the registry: the minimal gated unit of Zhou et
//! al. (2016, "Minimal Gated Unit for Recurrent Neural Networks"), one gate
//! f doing the work of the GRU's reset and update gates:
//!
//! ```text
//! f  = σ(W_f x + U_f h + b_f)
//! h̃  = tanh(W_h x + U_h (f ⊙ h) + b_h)
//! h' = (1 − f) ⊙ h + f ⊙ h̃
//! ```
//!
//! Weights are laid out as PyTorch's recurrent layers (`weight_ih`
//! `[2H, in]`, `weight_hh` `[2H, H]`, blocks f, h; `bias_ih` `[2H]`).
//!
//! It is registered in unit tests only, and touches exactly what any new
//! cell touches: this file, `#[cfg(test)] mod mgu;` in `src/model/mod.rs`,
//! and the line `#[cfg(test)] &super::mgu::MGU,` in `src/model/cells.rs`.
use tch::Tensor;

use super::cells::{Build, BuildLayer, CellDef};
use super::custom::{CellLayer, LayerShape};

/// `model.cell: mgu`.
pub static MGU: CellDef = CellDef {
    name: "mgu",
    state: &["h"],
    gates: 2,
    forget_gate: false,
    input_is_hidden: false,
    build: Build::Layers(&Mgu),
};

/// The MGU's constructor (it has no options).
#[derive(Debug, Clone, Copy)]
pub struct Mgu;

impl BuildLayer for Mgu {
    fn build(&self, shape: &LayerShape) -> Box<dyn CellLayer> {
        let (input, hidden) = (shape.input, shape.hidden);
        Box::new(MguLayer {
            hidden,
            w_ih: shape.param("weight_ih", &[2 * hidden, input]),
            w_hh: shape.param("weight_hh", &[2 * hidden, hidden]),
            b_ih: shape.param("bias_ih", &[2 * hidden]),
        })
    }
}

#[derive(Debug)]
struct MguLayer {
    hidden: i64,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
}

impl CellLayer for MguLayer {
    fn project_input(&self, x: &Tensor) -> Tensor {
        super::custom::affine(x, &self.w_ih, Some(&self.b_ih))
    }

    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor> {
        let h = &state[0];
        let x = xp.split(self.hidden, -1);
        let u = self.w_hh.split(self.hidden, -2);
        let f = (&x[0] + super::custom::affine(h, &u[0], None)).sigmoid();
        let candidate = (&x[1] + super::custom::affine(&(&f * h), &u[1], None)).tanh();
        vec![(1.0 - &f) * h + f * candidate]
    }

    fn state_sizes(&self) -> Vec<i64> {
        vec![self.hidden]
    }
}

#[cfg(test)]
mod tests {
    use tch::nn::{self, OptimizerConfig};
    use tch::{Device, Kind, Tensor};

    use crate::model::{self, Cell, CharRnn, Recurrent, Stack};
    use crate::spec::ModelSpec;

    fn mgu() -> Cell {
        Cell::named("mgu").expect("registered in unit tests")
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f32>::try_from(t.flatten(0, -1)).unwrap().into_iter().map(f64::from).collect()
    }

    #[test]
    fn specs_name_it() {
        let spec: ModelSpec = serde_yaml::from_str("cell: mgu\nhidden: 8\n").unwrap();
        assert_eq!(spec.cell, mgu());
        assert!(serde_yaml::to_string(&spec).unwrap().starts_with("cell: mgu\n"));
        assert!(!spec.cell.is_fused() && !spec.cell.has_memory_cell());
    }

    /// One unit, hand-computed: f = σ(a_f), h̃ = tanh(a_h + u_h·f·h), h' = (1 − f)h + f·h̃.
    #[test]
    fn matches_its_equations() {
        let vs = nn::VarStore::new(Device::Cpu);
        let rnn = Recurrent::from_stack(&vs.root(), &Stack::new(mgu(), 1, 1, 1));
        let vars = vs.variables();
        let (wi, wh, b) = (values(&vars["weight_ih_l0"]), values(&vars["weight_hh_l0"]), values(&vars["bias_ih_l0"]));
        let xs = [0.7, -1.3, 0.4, 2.0];
        let input = Tensor::from_slice(&xs.map(|v| v as f32)).view([1, 4, 1]);
        let (out, _) = rnn.forward(&input, &rnn.zero_state(1, (Kind::Float, Device::Cpu)), false);
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let mut h = 0.0;
        for (t, (x, got)) in xs.iter().zip(values(&out)).enumerate() {
            let f = sig(wi[0] * x + wh[0] * h + b[0]);
            let candidate = (wi[1] * x + wh[1] * f * h + b[1]).tanh();
            h = (1.0 - f) * h + f * candidate;
            assert!((got - h).abs() < 1e-5, "step {t}: cell {got}, equations {h}");
        }
    }

    /// Deep and bidirectional through the shared stack, with gradients
    /// reaching every parameter.
    #[test]
    fn composes_with_depth_and_direction() {
        let vs = nn::VarStore::new(Device::Cpu);
        let stack = Stack { bidirectional: true, dropout: 0.2, ..Stack::new(mgu(), 3, 5, 2) };
        let rnn = Recurrent::from_stack(&vs.root(), &stack);
        let x = Tensor::randn([2, 6, 3], (Kind::Float, Device::Cpu));
        let (out, state) = rnn.forward(&x, &rnn.zero_state(2, (Kind::Float, Device::Cpu)), true);
        assert_eq!(out.size(), vec![2, 6, 10]);
        assert_eq!(state.0.len(), 1);
        assert_eq!(state.0[0].size(), vec![4, 2, 5]);
        out.sum(Kind::Float).backward();
        for (name, t) in vs.variables() {
            assert!(t.grad().defined(), "no gradient for {name}");
        }
        assert!(vs.variables().contains_key("weight_hh_l1_reverse"));
    }

    /// A budgeted language model: the solver counts it by building it, and a
    /// few Adam steps on a repeated text lower its loss.
    #[test]
    fn trains_as_a_budgeted_language_model() {
        let spec = ModelSpec { cell: mgu(), layers: 2, dropout: 0.1, param_budget: Some(3000), ..Default::default() };
        let vocab = 5;
        let resolved = crate::spec::build::resolve(&spec, vocab).unwrap();
        let count = |h| crate::spec::build::count_without_drawing(&ModelSpec { hidden: h, ..spec.clone() }, vocab);
        assert!((count(resolved.hidden) - 3000).abs() <= (count(resolved.hidden + 1) - 3000).abs());
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = CharRnn::new(&vs.root(), &resolved, vocab);
        assert_eq!(model::parameter_count(&vs), count(resolved.hidden));
        let text: Vec<i64> = (0..40).map(|i| i % vocab as i64).collect();
        let ids = Tensor::from_slice(&text[..39]).view([1, 39]);
        let targets = Tensor::from_slice(&text[1..]).view([1, 39]);
        let mut opt = nn::Adam::default().build(&vs, 0.02).unwrap();
        let mut losses = Vec::new();
        for _ in 0..30 {
            let (logits, _) = model.forward(&ids, &model.zero_state(1), true);
            let (loss, _) = model::loss_and_correct(&logits, &targets);
            opt.backward_step(&loss);
            losses.push(loss.double_value(&[]));
        }
        assert!(losses[29] < 0.5 * losses[0], "{losses:?}");
    }
}
