//! Hand-written GRUs and Jozefowicz et al.'s (2015) MUT1–MUT3.
use tch::Tensor;

use super::cells::{Build, BuildLayer, CellDef};
use super::custom::{affine, CellLayer, LayerShape};

/// The GRU of the lecture and of Cho et al. (2014): the reset gate scales
/// the previous state before the recurrent product.
pub static GRU_LECTURE: CellDef = cell("gru_lecture", 3, false, &Gru { reset_after: false });
/// Jozefowicz et al.'s (2015) evolved architectures.
pub static MUT1: CellDef = cell("mut1", 2, true, &Mut::Mut1);
pub static MUT2: CellDef = cell("mut2", 2, true, &Mut::Mut2);
pub static MUT3: CellDef = cell("mut3", 3, false, &Mut::Mut3);

const fn cell(name: &'static str, gates: i64, input_is_hidden: bool, build: &'static dyn BuildLayer) -> CellDef {
    CellDef { name, state: &["h"], gates, forget_gate: false, input_is_hidden, build: Build::Layers(build) }
}

/// A hand-written GRU, in PyTorch's formulation (`reset_after`) or the lecture's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gru {
    pub reset_after: bool,
}

impl BuildLayer for Gru {
    fn build(&self, shape: &LayerShape) -> Box<dyn CellLayer> {
        Box::new(GruLayer::new(shape, self.reset_after))
    }
}

/// A GRU layer; weights laid out as PyTorch's (`[3H, ·]`, blocks r, z, n).
///
/// With `reset_after` (PyTorch's and cuDNN's formulation, checked against
/// libtorch's `gru` in the tests):
/// ```text
/// r = σ(W_r x + b_ir + U_r h + b_hr)      z = σ(W_z x + b_iz + U_z h + b_hz)
/// n = tanh(W_n x + b_in + r ⊙ (U_n h + b_hn))
/// h' = (1 − z) ⊙ n + z ⊙ h
/// ```
/// Without it, the lecture's GRU (Cho et al. 2014): the reset gate scales
/// the state before the product, and z weighs the new candidate:
/// ```text
/// h̃ = tanh(W_n x + b_in + U_n (r ⊙ h) + b_hn)      h' = (1 − z) ⊙ h + z ⊙ h̃
/// ```
#[derive(Debug)]
pub struct GruLayer {
    reset_after: bool,
    hidden: i64,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
}

impl GruLayer {
    pub fn new(shape: &LayerShape, reset_after: bool) -> GruLayer {
        let (input, hidden) = (shape.input, shape.hidden);
        GruLayer {
            reset_after,
            hidden,
            w_ih: shape.param("weight_ih", &[3 * hidden, input]),
            w_hh: shape.param("weight_hh", &[3 * hidden, hidden]),
            b_ih: shape.param("bias_ih", &[3 * hidden]),
            b_hh: shape.param("bias_hh", &[3 * hidden]),
        }
    }
}

impl CellLayer for GruLayer {
    fn project_input(&self, x: &Tensor) -> Tensor {
        affine(x, &self.w_ih, Some(&self.b_ih))
    }

    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor> {
        let h = &state[0];
        let n_ = self.hidden;
        let x = xp.split(n_, -1);
        if self.reset_after {
            let hp = affine(h, &self.w_hh, Some(&self.b_hh)).split(n_, -1);
            let r = (&x[0] + &hp[0]).sigmoid();
            let z = (&x[1] + &hp[1]).sigmoid();
            let n = (&x[2] + &r * &hp[2]).tanh();
            vec![(1.0 - &z) * n + z * h]
        } else {
            let w = self.w_hh.split(n_, -2);
            let b = self.b_hh.split(n_, -1);
            let r = (&x[0] + affine(h, &w[0], Some(&b[0]))).sigmoid();
            let z = (&x[1] + affine(h, &w[1], Some(&b[1]))).sigmoid();
            let candidate = (&x[2] + affine(&(r * h), &w[2], Some(&b[2]))).tanh();
            vec![(1.0 - &z) * h + z * candidate]
        }
    }

    fn state_sizes(&self) -> Vec<i64> {
        vec![self.hidden]
    }
}

/// MUT1–MUT3, the three best architectures of Jozefowicz et al.'s search:
/// ```text
/// MUT1: z = σ(W_xz x + b_z)              r = σ(W_xr x + W_hr h + b_r)
///       h' = tanh(W_hh (r ⊙ h) + tanh(x) + b_h) ⊙ z + h ⊙ (1 − z)
/// MUT2: z = σ(W_xz x + W_hz h + b_z)     r = σ(x + W_hr h + b_r)
///       h' = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 − z)
/// MUT3: z = σ(W_xz x + W_hz tanh(h) + b_z)   r = σ(W_xr x + W_hr h + b_r)
///       h' = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 − z)
/// ```
/// MUT1 and MUT2 add the raw input to hidden-size vectors, so their input
/// size must equal the hidden size (checked by the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mut {
    Mut1,
    Mut2,
    Mut3,
}

impl BuildLayer for Mut {
    fn build(&self, shape: &LayerShape) -> Box<dyn CellLayer> {
        Box::new(MutLayer::new(shape, *self))
    }
}

#[derive(Debug)]
pub struct MutLayer {
    mutant: Mut,
    hidden: i64,
    /// Input weights of the blocks that read x through a matrix, stacked.
    w_x: Tensor,
    b: Tensor,
    /// `[W_hr; W_hz]` as the variant needs (W_hz absent in MUT1).
    w_h: Tensor,
    w_hh: Tensor,
}

impl MutLayer {
    pub fn new(shape: &LayerShape, mutant: Mut) -> MutLayer {
        let (input, hidden) = (shape.input, shape.hidden);
        // Blocks of x-projections: MUT1 z, r; MUT2 z, h; MUT3 z, r, h.
        let x_blocks = if mutant == Mut::Mut3 { 3 } else { 2 };
        let h_blocks = if mutant == Mut::Mut1 { 1 } else { 2 };
        MutLayer {
            mutant,
            hidden,
            w_x: shape.param("weight_ih", &[x_blocks * hidden, input]),
            b: shape.param("bias", &[3 * hidden]),
            w_h: shape.param("weight_gates_hh", &[h_blocks * hidden, hidden]),
            w_hh: shape.param("weight_hh", &[hidden, hidden]),
        }
    }
}

impl CellLayer for MutLayer {
    /// `[x-projections…, x]`: the raw input rides along for MUT1/MUT2.
    fn project_input(&self, x: &Tensor) -> Tensor {
        let p = affine(x, &self.w_x, None);
        if self.mutant == Mut::Mut3 {
            p
        } else {
            Tensor::cat(&[p, x.shallow_clone()], -1)
        }
    }

    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor> {
        let h = &state[0];
        let n = self.hidden;
        let xs = xp.split(n, -1);
        // `[1, H]` blocks (`[K, 1, H]` in a pack) to broadcast over the batch.
        let b = self.b.unsqueeze(-2).split(n, -1);
        let wh = self.w_h.split(n, -2);
        let (z, r, x_cand) = match self.mutant {
            Mut::Mut1 => {
                let z = (&xs[0] + &b[0]).sigmoid();
                let r = (&xs[1] + affine(h, &wh[0], None) + &b[1]).sigmoid();
                (z, r, xs[2].tanh())
            }
            Mut::Mut2 => {
                let z = (&xs[0] + affine(h, &wh[1], None) + &b[0]).sigmoid();
                let r = (&xs[2] + affine(h, &wh[0], None) + &b[1]).sigmoid();
                (z, r, xs[1].shallow_clone())
            }
            Mut::Mut3 => {
                let z = (&xs[0] + affine(&h.tanh(), &wh[1], None) + &b[0]).sigmoid();
                let r = (&xs[1] + affine(h, &wh[0], None) + &b[1]).sigmoid();
                (z, r, xs[2].shallow_clone())
            }
        };
        let candidate = (affine(&(r * h), &self.w_hh, None) + x_cand + &b[2]).tanh();
        vec![candidate * &z + h * (1.0 - z)]
    }

    fn state_sizes(&self) -> Vec<i64> {
        vec![self.hidden]
    }
}
