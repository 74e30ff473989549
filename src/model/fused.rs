//! A stack of recurrent layers run by libtorch's fused kernels
//! (`lstm`, `gru`, `rnn_tanh`, `rnn_relu`; cuDNN on CUDA).
//!
//! Unlike `tch::nn::RNNConfig`, whose `train` flag is fixed when the layer is
//! built, the train/eval mode is an argument of every forward call, so
//! inter-layer dropout is really off in evaluation. Parameter names follow
//! PyTorch (`weight_ih_l0`, `bias_hh_l1_reverse`, …) so weights can be
//! compared with and loaded by PyTorch.
use tch::nn::{self, Init};
use tch::Tensor;

use super::{Stack, State};
use crate::spec::Cell;

#[derive(Debug)]
pub struct FusedRnn {
    cell: Cell,
    pub(crate) weights: Vec<Tensor>,
    hidden: i64,
    layers: i64,
    bidirectional: bool,
    dropout: f64,
}

impl FusedRnn {
    /// Creates the weights under `vs`, initialised as PyTorch does:
    /// uniform in ±1/√hidden for every weight and bias. `forget_bias`, for
    /// the LSTM, sets the forget gate's bias (in `bias_ih`; its `bias_hh`
    /// share is zeroed).
    pub fn new(vs: &nn::Path, stack: &Stack) -> FusedRnn {
        let Stack { cell, input, hidden, layers, bidirectional, dropout, forget_bias } = *stack;
        let dirs = if bidirectional { 2 } else { 1 };
        let gates = match cell {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::RnnTanh | Cell::RnnRelu => 1,
            other => panic!("{other:?} has no fused kernel"),
        };
        let gate = gates * hidden;
        let k = 1.0 / (hidden as f64).sqrt();
        let init = Init::Uniform { lo: -k, up: k };
        let mut weights = Vec::new();
        for layer in 0..layers {
            let in_dim = if layer == 0 { input } else { hidden * dirs };
            for dir in 0..dirs {
                let sfx = if dir == 1 { "_reverse" } else { "" };
                weights.push(vs.var(&format!("weight_ih_l{layer}{sfx}"), &[gate, in_dim], init));
                weights.push(vs.var(&format!("weight_hh_l{layer}{sfx}"), &[gate, hidden], init));
                weights.push(vs.var(&format!("bias_ih_l{layer}{sfx}"), &[gate], init));
                weights.push(vs.var(&format!("bias_hh_l{layer}{sfx}"), &[gate], init));
            }
        }
        if let (Some(fb), Cell::Lstm) = (forget_bias, cell) {
            tch::no_grad(|| {
                for pair in weights.chunks(4) {
                    let _ = pair[2].narrow(0, hidden, hidden).fill_(fb);
                    let _ = pair[3].narrow(0, hidden, hidden).fill_(0.0);
                }
            });
        }
        if vs.device().is_cuda() && tch::Cuda::cudnn_is_available() {
            // Re-homes the weights into one contiguous buffer that cuDNN uses
            // directly (as PyTorch's flatten_parameters does); otherwise every
            // call would copy them.
            let mode = match cell {
                Cell::RnnRelu => 0,
                Cell::RnnTanh => 1,
                Cell::Lstm => 2,
                _ => 3,
            };
            let _buffer = tch::no_grad(|| {
                Tensor::internal_cudnn_rnn_flatten_weight(
                    &weights,
                    4,
                    input,
                    mode,
                    hidden,
                    0,
                    layers,
                    true,
                    bidirectional,
                )
            });
        }
        FusedRnn { cell, weights, hidden, layers, bidirectional, dropout }
    }

    pub fn output_size(&self) -> i64 {
        self.hidden * if self.bidirectional { 2 } else { 1 }
    }

    /// Zero state: `[h]`, or `[h, c]` for the LSTM, each `[layers·dirs, batch, hidden]`.
    pub fn zero_state(&self, batch: i64) -> State {
        let dirs = if self.bidirectional { 2 } else { 1 };
        let w = &self.weights[0];
        let z = Tensor::zeros([self.layers * dirs, batch, self.hidden], (w.kind(), w.device()));
        match self.cell {
            Cell::Lstm => State(vec![z.shallow_clone(), z]),
            _ => State(vec![z]),
        }
    }

    /// `input`: `[batch, time, features]` → (`[batch, time, hidden·dirs]`, final state).
    /// Dropout between layers applies only when `train` is true.
    pub fn forward(&self, input: &Tensor, state: &State, train: bool) -> (Tensor, State) {
        let (layers, dropout, bi) = (self.layers, self.dropout, self.bidirectional);
        let h = &state.0[0];
        match self.cell {
            Cell::Lstm => {
                let weights: Vec<&Tensor> = self.weights.iter().collect();
                let (out, h, c) = input.lstm(&[h, &state.0[1]], &weights, true, layers, dropout, train, bi, true);
                (out, State(vec![h, c]))
            }
            Cell::Gru => {
                let (out, h) = input.gru(h, &self.weights, true, layers, dropout, train, bi, true);
                (out, State(vec![h]))
            }
            Cell::RnnTanh => {
                let (out, h) = input.rnn_tanh(h, &self.weights, true, layers, dropout, train, bi, true);
                (out, State(vec![h]))
            }
            _ => {
                let (out, h) = input.rnn_relu(h, &self.weights, true, layers, dropout, train, bi, true);
                (out, State(vec![h]))
            }
        }
    }
}
