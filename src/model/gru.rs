//! Hand-written GRUs and Jozefowicz et al.'s (2015) MUT1–MUT3.
use tch::nn;
use tch::Tensor;

use super::custom::{init, CellLayer};
use crate::spec::Cell;

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
    pub fn new(vs: &nn::Path, reset_after: bool, input: i64, hidden: i64, sfx: &str) -> GruLayer {
        let w = init(hidden);
        GruLayer {
            reset_after,
            hidden,
            w_ih: vs.var(&format!("weight_ih_{sfx}"), &[3 * hidden, input], w),
            w_hh: vs.var(&format!("weight_hh_{sfx}"), &[3 * hidden, hidden], w),
            b_ih: vs.var(&format!("bias_ih_{sfx}"), &[3 * hidden], w),
            b_hh: vs.var(&format!("bias_hh_{sfx}"), &[3 * hidden], w),
        }
    }
}

impl CellLayer for GruLayer {
    fn project_input(&self, x: &Tensor) -> Tensor {
        x.linear(&self.w_ih, Some(&self.b_ih))
    }

    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor> {
        let h = &state[0];
        let n_ = self.hidden;
        let x = xp.split(n_, 1);
        if self.reset_after {
            let hp = h.linear(&self.w_hh, Some(&self.b_hh)).split(n_, 1);
            let r = (&x[0] + &hp[0]).sigmoid();
            let z = (&x[1] + &hp[1]).sigmoid();
            let n = (&x[2] + &r * &hp[2]).tanh();
            vec![(1.0 - &z) * n + z * h]
        } else {
            let w = self.w_hh.split(n_, 0);
            let b = self.b_hh.split(n_, 0);
            let r = (&x[0] + h.linear(&w[0], Some(&b[0]))).sigmoid();
            let z = (&x[1] + h.linear(&w[1], Some(&b[1]))).sigmoid();
            let candidate = (&x[2] + (r * h).linear(&w[2], Some(&b[2]))).tanh();
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
#[derive(Debug)]
pub struct MutLayer {
    cell: Cell,
    hidden: i64,
    /// Input weights of the blocks that read x through a matrix, stacked.
    w_x: Tensor,
    b: Tensor,
    /// `[W_hr; W_hz]` as the variant needs (W_hz absent in MUT1).
    w_h: Tensor,
    w_hh: Tensor,
}

impl MutLayer {
    pub fn new(vs: &nn::Path, cell: Cell, input: i64, hidden: i64, sfx: &str) -> MutLayer {
        let w = init(hidden);
        // Blocks of x-projections: MUT1 z, r; MUT2 z, h; MUT3 z, r, h.
        let x_blocks = if cell == Cell::Mut3 { 3 } else { 2 };
        let h_blocks = if cell == Cell::Mut1 { 1 } else { 2 };
        MutLayer {
            cell,
            hidden,
            w_x: vs.var(&format!("weight_ih_{sfx}"), &[x_blocks * hidden, input], w),
            b: vs.var(&format!("bias_{sfx}"), &[3 * hidden], w),
            w_h: vs.var(&format!("weight_gates_hh_{sfx}"), &[h_blocks * hidden, hidden], w),
            w_hh: vs.var(&format!("weight_hh_{sfx}"), &[hidden, hidden], w),
        }
    }

    pub fn parameter_count(cell: Cell, input: i64, hidden: i64) -> i64 {
        let x_blocks = if cell == Cell::Mut3 { 3 } else { 2 };
        let h_blocks = if cell == Cell::Mut1 { 1 } else { 2 };
        x_blocks * hidden * input + 3 * hidden + h_blocks * hidden * hidden + hidden * hidden
    }
}

impl CellLayer for MutLayer {
    /// `[x-projections…, x]`: the raw input rides along for MUT1/MUT2.
    fn project_input(&self, x: &Tensor) -> Tensor {
        let p = x.linear::<Tensor>(&self.w_x, None);
        if self.cell == Cell::Mut3 {
            p
        } else {
            Tensor::cat(&[p, x.shallow_clone()], -1)
        }
    }

    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor> {
        let h = &state[0];
        let n = self.hidden;
        let xs = xp.split(n, 1);
        let b = self.b.split(n, 0);
        let wh = self.w_h.split(n, 0);
        let (z, r, x_cand) = match self.cell {
            Cell::Mut1 => {
                let z = (&xs[0] + &b[0]).sigmoid();
                let r = (&xs[1] + h.linear::<Tensor>(&wh[0], None) + &b[1]).sigmoid();
                (z, r, xs[2].tanh())
            }
            Cell::Mut2 => {
                let z = (&xs[0] + h.linear::<Tensor>(&wh[1], None) + &b[0]).sigmoid();
                let r = (&xs[2] + h.linear::<Tensor>(&wh[0], None) + &b[1]).sigmoid();
                (z, r, xs[1].shallow_clone())
            }
            _ => {
                let z = (&xs[0] + h.tanh().linear::<Tensor>(&wh[1], None) + &b[0]).sigmoid();
                let r = (&xs[1] + h.linear::<Tensor>(&wh[0], None) + &b[1]).sigmoid();
                (z, r, xs[2].shallow_clone())
            }
        };
        let candidate = ((r * h).linear::<Tensor>(&self.w_hh, None) + x_cand + &b[2]).tanh();
        vec![candidate * &z + h * (1.0 - z)]
    }

    fn state_sizes(&self) -> Vec<i64> {
        vec![self.hidden]
    }
}
