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
use tch::Tensor;

use super::cells::{Build, BuildLayer, CellDef};
use super::custom::{affine, row, CellLayer, LayerShape};

/// Greff et al.'s vanilla LSTM: input, forget and output gates, peepholes.
pub static VANILLA: CellDef = cell("lstm_vanilla", &Variant::VANILLA);
/// Vanilla without the input gate (NIG).
pub static NIG: CellDef = cell("lstm_nig", &Variant { input_gate: false, ..Variant::VANILLA });
/// No forget gate (NFG).
pub static NFG: CellDef = cell("lstm_nfg", &Variant { forget_gate: false, ..Variant::VANILLA });
/// No output gate (NOG).
pub static NOG: CellDef = cell("lstm_nog", &Variant { output_gate: false, ..Variant::VANILLA });
/// No input activation function (NIAF).
pub static NIAF: CellDef = cell("lstm_niaf", &Variant { input_activation: false, ..Variant::VANILLA });
/// No output activation function (NOAF).
pub static NOAF: CellDef = cell("lstm_noaf", &Variant { output_activation: false, ..Variant::VANILLA });
/// No peepholes (NP): the same function as the fused `lstm`.
pub static NP: CellDef = cell("lstm_np", &Variant { peepholes: false, ..Variant::VANILLA });
/// Coupled input and forget gate, f = 1 − i (CIFG).
pub static CIFG: CellDef = cell("lstm_cifg", &Variant { forget_gate: false, coupled: true, ..Variant::VANILLA });
/// Full gate recurrence: gates also read the previous step's gates (FGR).
pub static FGR: CellDef = cell("lstm_fgr", &Variant { full_gate_recurrence: true, ..Variant::VANILLA });

/// The registry entry of a variant: state `[h, c]` (plus the previous
/// gate activations for FGR), a forget bias where it has a forget gate.
const fn cell(name: &'static str, v: &'static Variant) -> CellDef {
    CellDef {
        name,
        state: if v.full_gate_recurrence { &["h", "c", "gates"] } else { &["h", "c"] },
        gates: v.blocks(),
        forget_gate: v.forget_gate,
        input_is_hidden: false,
        build: Build::Layers(v),
    }
}

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

    /// Sigmoid gates with weights of their own, in block order (i, f, o).
    const fn sigmoid_gates(self) -> usize {
        self.input_gate as usize + self.forget_gate as usize + self.output_gate as usize
    }

    /// Weight blocks in `weight_ih`/`weight_hh`: the sigmoid gates and z.
    pub const fn blocks(self) -> i64 {
        self.sigmoid_gates() as i64 + 1
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

impl BuildLayer for Variant {
    fn build(&self, shape: &LayerShape) -> Box<dyn CellLayer> {
        Box::new(LstmLayer::new(shape, *self))
    }
}

impl LstmLayer {
    /// Parameters in the order `bias_ih`, `bias_hh`, `weight_ih`,
    /// `weight_hh`, `weight_peep`, `weight_gg` (the order their values are
    /// drawn in, so it is part of every trained result).
    pub fn new(shape: &LayerShape, v: Variant) -> LstmLayer {
        let (input, hidden) = (shape.input, shape.hidden);
        let g = v.blocks() * hidden;
        let n = v.sigmoid_gates() as i64;
        let b_ih = shape.param("bias_ih", &[g]);
        let b_hh = shape.param("bias_hh", &[g]);
        if let (Some(fb), true) = (shape.forget_bias, v.forget_gate) {
            let f = i64::from(v.input_gate);
            tch::no_grad(|| {
                let _ = b_ih.narrow(0, f * hidden, hidden).fill_(fb);
                let _ = b_hh.narrow(0, f * hidden, hidden).fill_(0.0);
            });
        }
        LstmLayer {
            v,
            hidden,
            w_ih: shape.param("weight_ih", &[g, input]),
            w_hh: shape.param("weight_hh", &[g, hidden]),
            b_ih,
            b_hh,
            peep: v.peepholes.then(|| shape.param("weight_peep", &[n, hidden])),
            w_gg: v.full_gate_recurrence.then(|| shape.param("weight_gg", &[n * hidden, n * hidden])),
        }
    }
}

impl CellLayer for LstmLayer {
    fn project_input(&self, x: &Tensor) -> Tensor {
        affine(x, &self.w_ih, Some(&self.b_ih))
    }

    /// State: `[y, c]`, plus the previous sigmoid-gate activations for FGR.
    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor> {
        let (y, c) = (&state[0], &state[1]);
        let v = self.v;
        let h = self.hidden;
        let mut a = xp + affine(y, &self.w_hh, Some(&self.b_hh));
        if let Some(w_gg) = &self.w_gg {
            let n = v.sigmoid_gates() as i64;
            // The gate blocks come first in the order i, f, (z), o; FGR adds to i, f, o.
            let rec = affine(&state[2], w_gg, None);
            let mut parts = a.split(h, -1);
            let mut r = rec.split(h, -1).into_iter();
            let z_block = n as usize - usize::from(v.output_gate);
            for (k, part) in parts.iter_mut().enumerate() {
                if k != z_block {
                    *part = &*part + r.next().expect("one recurrent block per gate");
                }
            }
            a = Tensor::cat(&parts, -1);
        }
        let mut blocks = a.split(h, -1).into_iter();
        let peep = |k: i64| self.peep.as_ref().map(|p| row(p, k));
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
            out.push(Tensor::cat(&gates, -1));
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
