//! Packed models: K same-shape character models (one per trial of a pack)
//! run as one, every parameter stacked over a leading trial axis.
//!
//! The parameters stay each trial's own variables (its var store, its
//! optimizer, its checkpoints); a step stacks them ([`stack_params`]) into
//! `[K, …]` tensors, so backpropagating through the stack gives each trial
//! exactly the gradients of its own loss. The cells' hand-written
//! equations are the same code as unpacked ([`super::custom::affine`] makes
//! their products batched GEMMs over the trial axis): each layer projects
//! the input of all time steps of all K trials in one `baddbmm`
//! (`[K, B·T, in] × [K, in, G·H]`), and each step's recurrent product is one
//! `baddbmm` for all gates. Fused cells run through their hand-written
//! equivalent ([`hand_written`]), which computes the same function from
//! the same parameters (checked against the kernels in the tests).
//!
//! Dropout is not packed: a trial's masks come from libtorch's global
//! generator, reseeded each step for that trial alone, which one pass over K
//! trials cannot reproduce; packs refuse `dropout > 0`.
use std::collections::HashMap;

use tch::{Kind, Tensor};

use super::cells::{Build, BuildLayer, Cell, CellDef, Kernel};
use super::custom::{affine, CellLayer, LayerShape};
use super::{InputEncoding, RecurrentState, Stack};

/// The hand-written layers a cell runs on in a pack: its own, or for a
/// fused cell the equivalent written out (PyTorch's LSTM is `lstm_np`,
/// its GRU the reset-after GRU, its RNNs [`Rnn`]), with the same parameters.
pub fn hand_written(cell: &CellDef) -> &'static dyn BuildLayer {
    match cell.build {
        Build::Layers(b) => b,
        Build::Fused(Kernel::Lstm) => match super::lstm::NP.build {
            Build::Layers(b) => b,
            Build::Fused(_) => unreachable!("lstm_np is hand-written"),
        },
        Build::Fused(Kernel::Gru) => &super::gru::Gru { reset_after: true },
        Build::Fused(Kernel::RnnTanh) => &Rnn { relu: false },
        Build::Fused(Kernel::RnnRelu) => &Rnn { relu: true },
    }
}

/// PyTorch's Elman RNN written out: `h' = act(W_ih x + b_ih + W_hh h + b_hh)`.
#[derive(Debug, Clone, Copy)]
pub struct Rnn {
    pub relu: bool,
}

impl BuildLayer for Rnn {
    fn build(&self, shape: &LayerShape) -> Box<dyn CellLayer> {
        let (input, hidden) = (shape.input, shape.hidden);
        Box::new(RnnLayer {
            relu: self.relu,
            hidden,
            w_ih: shape.param("weight_ih", &[hidden, input]),
            w_hh: shape.param("weight_hh", &[hidden, hidden]),
            b_ih: shape.param("bias_ih", &[hidden]),
            b_hh: shape.param("bias_hh", &[hidden]),
        })
    }
}

#[derive(Debug)]
struct RnnLayer {
    relu: bool,
    hidden: i64,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
}

impl CellLayer for RnnLayer {
    fn project_input(&self, x: &Tensor) -> Tensor {
        affine(x, &self.w_ih, Some(&self.b_ih))
    }

    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor> {
        let pre = xp + affine(&state[0], &self.w_hh, Some(&self.b_hh));
        vec![if self.relu { pre.relu() } else { pre.tanh() }]
    }

    fn state_sizes(&self) -> Vec<i64> {
        vec![self.hidden]
    }
}

/// Each name of `members[0]` bound to that variable of every member,
/// stacked along a new leading axis (differentiably: gradients flow back
/// into each member's own variable).
pub fn stack_params(members: &[&[(String, Tensor)]]) -> HashMap<String, Tensor> {
    members[0]
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let parts: Vec<&Tensor> = members.iter().map(|m| &m[i].1).collect();
            debug_assert!(members.iter().all(|m| &m[i].0 == name), "members list their variables alike");
            (name.clone(), Tensor::stack(&parts, 0))
        })
        .collect()
}

/// K character models of one shape (a [`super::CharRnn`] each: input
/// encoding, recurrent stack, read-out), run as one. Holds no parameters:
/// [`PackedCharRnn::forward`] takes them, stacked, by the names a
/// `CharRnn` gives them (`embedding.weight`, `rnn.weight_ih_l0`, `head.weight`, …).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackedCharRnn {
    encoding: InputEncoding,
    vocab: i64,
    /// `input` is the encoding's features.
    stack: Stack,
}

impl PackedCharRnn {
    /// The pack of models `CharRnn::with_stack(…, encoding, embedding_size,
    /// stack, vocab)` builds; `None` if the stack has dropout (see the module doc).
    pub fn new(encoding: InputEncoding, embedding_size: i64, stack: Stack, vocab: i64) -> Option<PackedCharRnn> {
        if stack.dropout > 0.0 {
            return None;
        }
        let input = if encoding == InputEncoding::Embedding { embedding_size } else { vocab };
        // The forget bias is in the members' parameters already.
        Some(PackedCharRnn { encoding, vocab, stack: Stack { input, forget_bias: None, ..stack } })
    }

    pub fn cell(&self) -> Cell {
        self.stack.cell
    }

    /// `ids` `[K, batch, time]`, `states[k]` member k's state → (logits
    /// `[K, batch, time, vocab]`, each member's final state).
    pub fn forward(
        &self,
        params: &HashMap<String, Tensor>,
        ids: &Tensor,
        states: &[RecurrentState],
    ) -> (Tensor, Vec<RecurrentState>) {
        let (k, b, t) = (ids.size()[0], ids.size()[1], ids.size()[2]);
        let get = |name: &str| params.get(name).unwrap_or_else(|| panic!("pack: no parameter {name}"));
        let head_w = get("head.weight");
        let x = match self.encoding {
            InputEncoding::Onehot => ids.one_hot(self.vocab).to_kind(head_w.kind()),
            InputEncoding::Embedding => {
                let w = get("embedding.weight");
                let offsets = Tensor::arange(k, (Kind::Int64, ids.device())).view([k, 1, 1]) * self.vocab;
                let flat = w.reshape([k * self.vocab, -1]);
                Tensor::embedding(&flat, &(ids + offsets), -1, false, false)
            }
        };
        let kinds = states[0].0.len();
        let stacked: Vec<Tensor> =
            (0..kinds).map(|i| Tensor::stack(&states.iter().map(|s| &s.0[i]).collect::<Vec<_>>(), 0)).collect();
        let (out, finals) = self.forward_stack(params, &x, &stacked);
        let h = out.size()[3];
        let logits = affine(&out.reshape([k, b * t, h]), head_w, Some(get("head.bias"))).reshape([k, b, t, -1]);
        let members = (0..k).map(|m| RecurrentState(finals.iter().map(|f| f.get(m)).collect())).collect();
        (logits, members)
    }

    /// The recurrent stack: `x` `[K, B, T, in]`, `state` one `[K, L·D, B, size]`
    /// per state kind → (`[K, B, T, H·D]`, final state alike).
    fn forward_stack(&self, params: &HashMap<String, Tensor>, x: &Tensor, state: &[Tensor]) -> (Tensor, Vec<Tensor>) {
        let builder = hand_written(&self.stack.cell);
        let dirs = if self.stack.bidirectional { 2 } else { 1 };
        let (k, b, time) = (x.size()[0], x.size()[1], x.size()[2]);
        let mut x = x.shallow_clone();
        let mut finals: Vec<Vec<Tensor>> = state.iter().map(|_| Vec::new()).collect();
        for l in 0..self.stack.layers {
            let mut outputs = Vec::with_capacity(dirs);
            for d in 0..dirs {
                let cell = builder.build(&LayerShape::given("rnn.", params, &self.stack, l, d == 1));
                let idx = l * dirs as i64 + d as i64;
                let mut st: Vec<Tensor> = state.iter().map(|s| s.select(1, idx)).collect();
                let features = x.size()[3];
                let xp = cell.project_input(&x.reshape([k, b * time, features])).reshape([k, b, time, -1]);
                // Time-major, split once: one backward node for all steps
                // (a `select` per step would each backpropagate a zero
                // tensor of the whole window).
                let xs = xp.permute([2, 0, 1, 3]).contiguous().unbind(0);
                let mut hs = Vec::with_capacity(time as usize);
                let steps: Box<dyn Iterator<Item = usize>> =
                    if d == 1 { Box::new((0..time as usize).rev()) } else { Box::new(0..time as usize) };
                for t in steps {
                    st = cell.step(&xs[t], &st);
                    hs.push(st[0].shallow_clone());
                }
                if d == 1 {
                    hs.reverse();
                }
                outputs.push(Tensor::stack(&hs, 2));
                for (i, s) in st.into_iter().enumerate() {
                    finals[i].push(s);
                }
            }
            x = if dirs == 1 { outputs.pop().expect("one direction") } else { Tensor::cat(&outputs, 3) };
        }
        (x, finals.iter().map(|f| Tensor::stack(f, 1)).collect())
    }
}

#[cfg(test)]
mod tests;
