//! The LSTM of Greff et al. ("LSTM: A Search Space Odyssey", 2015) and its
//! eight variants, written from the paper's equations:
//!
//! ```text
//! z_t = g(W_z x_t + R_z y_{t-1} + b_z)                    block input
//! i_t = σ(W_i x_t + R_i y_{t-1} + p_i ⊙ c_{t-1} + b_i)    input gate
//! f_t = σ(W_f x_t + R_f y_{t-1} + p_f ⊙ c_{t-1} + b_f)    forget gate
//! c_t = z_t ⊙ i_t + c_{t-1} ⊙ f_t                         cell
//! o_t = σ(W_o x_t + R_o y_{t-1} + p_o ⊙ c_t + b_o)        output gate
//! y_t = h(c_t) ⊙ o_t                                      output
//! ```
//!
//! with g = h = tanh. NIG/NFG/NOG fix a gate to 1 (and drop its weights),
//! NIAF/NOAF make g/h the identity, NP drops the peepholes p, CIFG sets
//! f_t = 1 − i_t, and FGR feeds the previous step's i, f, o activations into
//! all gates through one more recurrent matrix.
//!
//! Weights are laid out as PyTorch's LSTM (`weight_ih` `[G·H, in]`,
//! `weight_hh` `[G·H, H]`, gate blocks in the order i, f, z, o, absent gates
//! left out), so NP with the same weights computes exactly what libtorch's
//! fused `lstm` does. Peepholes are `weight_peep` `[n, H]` (rows i, f, o of
//! the gates present); FGR's matrix is `weight_gg` `[n·H, n·H]`.
use tch::nn;
use tch::Tensor;

use super::custom::{init, CellLayer};
use crate::spec::Cell;

/// Which parts of the vanilla LSTM a variant keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub input_gate: bool,
    pub forget_gate: bool,
    pub output_gate: bool,
    pub input_activation: bool,
    pub output_activation: bool,
    pub peepholes: bool,
    /// f = 1 − i (CIFG); the forget gate has no weights of its own.
    pub coupled: bool,
    pub full_gate_recurrence: bool,
}

impl Variant {
    pub const VANILLA: Variant = Variant {
        input_gate: true,
        forget_gate: true,
        output_gate: true,
        input_activation: true,
        output_activation: true,
        peepholes: true,
        coupled: false,
        full_gate_recurrence: false,
    };

    /// The variant a hand-written LSTM cell name stands for.
    pub fn of(cell: Cell) -> Option<Variant> {
        let v = Variant::VANILLA;
        Some(match cell {
            Cell::LstmVanilla => v,
            Cell::LstmNig => Variant { input_gate: false, ..v },
            Cell::LstmNfg => Variant { forget_gate: false, ..v },
            Cell::LstmNog => Variant { output_gate: false, ..v },
            Cell::LstmNiaf => Variant { input_activation: false, ..v },
            Cell::LstmNoaf => Variant { output_activation: false, ..v },
            Cell::LstmNp => Variant { peepholes: false, ..v },
            Cell::LstmCifg => Variant { forget_gate: false, coupled: true, ..v },
            Cell::LstmFgr => Variant { full_gate_recurrence: true, ..v },
            _ => return None,
        })
    }

    /// Sigmoid gates with weights of their own, in block order (i, f, o).
    fn sigmoid_gates(self) -> usize {
        usize::from(self.input_gate) + usize::from(self.forget_gate) + usize::from(self.output_gate)
    }

    /// Weight blocks in `weight_ih`/`weight_hh`: the sigmoid gates and z.
    pub fn blocks(self) -> i64 {
        self.sigmoid_gates() as i64 + 1
    }

    /// Scalar parameters of one layer-direction with `input` inputs.
    pub fn parameter_count(self, input: i64, hidden: i64) -> i64 {
        let g = self.blocks() * hidden;
        let n = self.sigmoid_gates() as i64;
        let mut count = g * input + g * hidden + 2 * g;
        if self.peepholes {
            count += n * hidden;
        }
        if self.full_gate_recurrence {
            count += (n * hidden) * (n * hidden);
        }
        count
    }
}

#[derive(Debug)]
pub struct LstmLayer {
    v: Variant,
    hidden: i64,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    peep: Option<Tensor>,
    w_gg: Option<Tensor>,
}

impl LstmLayer {
    pub fn new(vs: &nn::Path, v: Variant, input: i64, hidden: i64, sfx: &str, forget_bias: Option<f64>) -> LstmLayer {
        let g = v.blocks() * hidden;
        let n = v.sigmoid_gates() as i64;
        let w = init(hidden);
        let b_ih = vs.var(&format!("bias_ih_{sfx}"), &[g], w);
        let b_hh = vs.var(&format!("bias_hh_{sfx}"), &[g], w);
        if let (Some(fb), true) = (forget_bias, v.forget_gate) {
            let f = i64::from(v.input_gate);
            tch::no_grad(|| {
                let _ = b_ih.narrow(0, f * hidden, hidden).fill_(fb);
                let _ = b_hh.narrow(0, f * hidden, hidden).fill_(0.0);
            });
        }
        LstmLayer {
            v,
            hidden,
            w_ih: vs.var(&format!("weight_ih_{sfx}"), &[g, input], w),
            w_hh: vs.var(&format!("weight_hh_{sfx}"), &[g, hidden], w),
            b_ih,
            b_hh,
            peep: v.peepholes.then(|| vs.var(&format!("weight_peep_{sfx}"), &[n, hidden], w)),
            w_gg: v.full_gate_recurrence.then(|| vs.var(&format!("weight_gg_{sfx}"), &[n * hidden, n * hidden], w)),
        }
    }
}

impl CellLayer for LstmLayer {
    fn project_input(&self, x: &Tensor) -> Tensor {
        x.linear(&self.w_ih, Some(&self.b_ih))
    }

    /// State: `[y, c]`, plus the previous sigmoid-gate activations for FGR.
    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor> {
        let (y, c) = (&state[0], &state[1]);
        let v = self.v;
        let h = self.hidden;
        let mut a = xp + y.linear(&self.w_hh, Some(&self.b_hh));
        if let Some(w_gg) = &self.w_gg {
            let n = v.sigmoid_gates() as i64;
            // The gate blocks come first in the order i, f, (z), o; FGR adds to i, f, o.
            let rec = state[2].linear::<Tensor>(w_gg, None);
            let mut parts = a.split(h, 1);
            let mut r = rec.split(h, 1).into_iter();
            let z_block = n as usize - usize::from(v.output_gate);
            for (k, part) in parts.iter_mut().enumerate() {
                if k != z_block {
                    *part = &*part + r.next().expect("one recurrent block per gate");
                }
            }
            a = Tensor::cat(&parts, 1);
        }
        let mut blocks = a.split(h, 1).into_iter();
        let peep = |k: i64| self.peep.as_ref().map(|p| p.get(k));
        let mut pk = 0;
        let with_peep = |pre: Tensor, cell: &Tensor, pk: &mut i64| -> Tensor {
            let out = match peep(*pk) {
                Some(p) => pre + cell * p,
                None => pre,
            };
            *pk += 1;
            out.sigmoid()
        };
        let i = v.input_gate.then(|| with_peep(blocks.next().expect("i block"), c, &mut pk));
        let f = v.forget_gate.then(|| with_peep(blocks.next().expect("f block"), c, &mut pk));
        let z_pre = blocks.next().expect("z block");
        let z = if v.input_activation { z_pre.tanh() } else { z_pre };
        let c_new = match (&i, &f) {
            (Some(i), Some(f)) => f * c + i * &z,
            (Some(i), None) if v.coupled => (1.0 - i) * c + i * &z,
            (Some(i), None) => c + i * &z,
            (None, Some(f)) => f * c + &z,
            (None, None) => c + &z,
        };
        let o = v.output_gate.then(|| with_peep(blocks.next().expect("o block"), &c_new, &mut pk));
        let act = if v.output_activation { c_new.tanh() } else { c_new.shallow_clone() };
        let y_new = match &o {
            Some(o) => o * act,
            None => act,
        };
        let mut out = vec![y_new, c_new];
        if v.full_gate_recurrence {
            let gates: Vec<&Tensor> = [&i, &f, &o].into_iter().flatten().collect();
            out.push(Tensor::cat(&gates, 1));
        }
        out
    }

    fn state_sizes(&self) -> Vec<i64> {
        let mut sizes = vec![self.hidden, self.hidden];
        if self.v.full_gate_recurrence {
            sizes.push(self.v.sigmoid_gates() as i64 * self.hidden);
        }
        sizes
    }
}
