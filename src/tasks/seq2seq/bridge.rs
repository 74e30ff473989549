//! The decoder's initial state from the encoder's final state (the rule is
//! stated in the [module doc](super)).
use tch::nn::{self, Module};
use tch::Tensor;

use crate::model::{Cell, RecurrentState};

/// What the bridge needs to know of one recurrent stack.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Side {
    pub cell: Cell,
    pub layers: i64,
    pub dirs: i64,
    /// Sizes of the state tensors (`[h]`, `[h, c]`, `[h, c, gates]`, …).
    pub sizes: Vec<i64>,
}

impl Side {
    /// Keeps an LSTM memory cell `c` as its second state tensor.
    fn has_cell_state(&self) -> bool {
        self.cell.has_memory_cell()
    }
}

#[derive(Debug)]
pub(super) enum Bridge {
    /// Same shapes, one direction: the encoder's final state as it is.
    Copy,
    Learned {
        /// Per decoder layer: `tanh(Linear(dirs·H → H))` for h (`bridge.h_l{l}`).
        hidden: Vec<nn::Linear>,
        /// Per decoder layer: `Linear(dirs·H → H)` for c (`bridge.c_l{l}`),
        /// when both stacks keep one.
        cell: Option<Vec<nn::Linear>>,
        encoder_layers: i64,
        dirs: i64,
        decoder_sizes: Vec<i64>,
    },
}

impl Bridge {
    pub fn new(vs: &nn::Path, encoder: &Side, decoder: &Side) -> Bridge {
        let same_shape = encoder.layers == decoder.layers && encoder.sizes == decoder.sizes;
        if encoder.dirs == 1 && same_shape {
            return Bridge::Copy;
        }
        let linears = |name: &str| -> Vec<nn::Linear> {
            (0..decoder.layers)
                .map(|l| {
                    let input = encoder.dirs * encoder.sizes[0];
                    nn::linear(vs / format!("{name}_l{l}"), input, decoder.sizes[0], Default::default())
                })
                .collect()
        };
        let both_cells = encoder.has_cell_state() && decoder.has_cell_state();
        Bridge::Learned {
            hidden: linears("h"),
            cell: both_cells.then(|| linears("c")),
            encoder_layers: encoder.layers,
            dirs: encoder.dirs,
            decoder_sizes: decoder.sizes.clone(),
        }
    }

    /// The encoder's final state → the decoder's initial state.
    pub fn forward(&self, encoder: &RecurrentState) -> RecurrentState {
        let Bridge::Learned { hidden, cell, encoder_layers, dirs, decoder_sizes } = self else {
            return RecurrentState(encoder.0.iter().map(|t| t.shallow_clone()).collect());
        };
        let h = &encoder.0[0];
        let batch = h.size()[1];
        // Decoder layer l reads encoder layer min(l, L_enc − 1), its directions side by side.
        let layer = |t: &Tensor, l: usize| -> Tensor {
            let l = (l as i64).min(encoder_layers - 1);
            t.narrow(0, l * dirs, *dirs).transpose(0, 1).reshape([batch, -1])
        };
        let map = |t: &Tensor, linears: &[nn::Linear], squash: bool| -> Tensor {
            let layers: Vec<Tensor> = linears
                .iter()
                .enumerate()
                .map(|(l, lin)| {
                    let y = lin.forward(&layer(t, l));
                    if squash {
                        y.tanh()
                    } else {
                        y
                    }
                })
                .collect();
            Tensor::stack(&layers, 0)
        };
        let tensors = decoder_sizes
            .iter()
            .enumerate()
            .map(|(k, &size)| match (k, cell) {
                (0, _) => map(h, hidden, true),
                (1, Some(cell)) => map(&encoder.0[1], cell, false),
                _ => Tensor::zeros([hidden.len() as i64, batch, size], (h.kind(), h.device())),
            })
            .collect();
        RecurrentState(tensors)
    }
}

/// Sizes of a stack's state tensors, read from its zero state.
pub(super) fn state_sizes(zero: &RecurrentState) -> Vec<i64> {
    zero.0.iter().map(|t| t.size()[2]).collect()
}
