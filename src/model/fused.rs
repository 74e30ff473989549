//! A stack of recurrent layers run by libtorch's fused kernels
//! (`lstm`, `gru`, `rnn_tanh`, `rnn_relu`; cuDNN on CUDA).
//!
//! Unlike `tch::nn::RNNConfig`, whose `train` flag is fixed when the layer is
//! built, the train/eval mode is an argument of every forward call, so
//! inter-layer dropout is really off in evaluation. Parameter names follow
//! PyTorch (`weight_ih_l0`, `bias_hh_l1_reverse`, …) so weights can be
//! compared with and loaded by PyTorch.
use tch::Tensor;

use super::cells::{Build, CellDef};
use super::custom::LayerShape;
use super::{RecurrentState, Stack};

/// PyTorch's `nn.RNN(nonlinearity="tanh")`.
pub static RNN_TANH: CellDef = fused("rnn_tanh", Kernel::RnnTanh, &["h"], 1);
/// PyTorch's `nn.RNN(nonlinearity="relu")`.
pub static RNN_RELU: CellDef = fused("rnn_relu", Kernel::RnnRelu, &["h"], 1);
/// PyTorch's LSTM (no peepholes); gate blocks i, f, g, o.
pub static LSTM: CellDef = CellDef { forget_gate: true, ..fused("lstm", Kernel::Lstm, &["h", "c"], 4) };
/// PyTorch's GRU (reset gate applied after the recurrent product).
pub static GRU: CellDef = fused("gru", Kernel::Gru, &["h"], 3);

const fn fused(name: &'static str, kernel: Kernel, state: &'static [&'static str], gates: i64) -> CellDef {
    CellDef { name, state, gates, forget_gate: false, input_is_hidden: false, build: Build::Fused(kernel) }
}

/// The libtorch kernel a fused cell runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    RnnTanh,
    RnnRelu,
    Lstm,
    Gru,
}

impl Kernel {
    /// The mode number cuDNN knows the kernel by.
    fn cudnn_mode(self) -> i64 {
        match self {
            Kernel::RnnRelu => 0,
            Kernel::RnnTanh => 1,
            Kernel::Lstm => 2,
            Kernel::Gru => 3,
        }
    }
}

#[derive(Debug)]
pub struct FusedRnn {
    kernel: Kernel,
    /// State tensors per layer-direction (2 for the LSTM's `[h, c]`).
    states: usize,
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
    /// share is zeroed). Panics if the stack's cell has no fused kernel.
    pub fn new(vs: &tch::nn::Path, stack: &Stack) -> FusedRnn {
        let Build::Fused(kernel) = stack.cell.build else { panic!("{:?} has no fused kernel", stack.cell) };
        let Stack { cell, input, hidden, layers, bidirectional, dropout, forget_bias, .. } = *stack;
        let dirs = if bidirectional { 2 } else { 1 };
        let gate = cell.gates * hidden;
        let mut weights = Vec::new();
        for layer in 0..layers {
            for dir in 0..dirs {
                let shape = LayerShape::of(vs, stack, layer, dir == 1);
                weights.push(shape.param("weight_ih", &[gate, shape.input]));
                weights.push(shape.param("weight_hh", &[gate, hidden]));
                weights.push(shape.param("bias_ih", &[gate]));
                weights.push(shape.param("bias_hh", &[gate]));
            }
        }
        if let (Some(fb), Kernel::Lstm) = (forget_bias, kernel) {
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
            let _buffer = tch::no_grad(|| {
                Tensor::internal_cudnn_rnn_flatten_weight(
                    &weights,
                    4,
                    input,
                    kernel.cudnn_mode(),
                    hidden,
                    0,
                    layers,
                    true,
                    bidirectional,
                )
            });
        }
        FusedRnn { kernel, states: cell.state.len(), weights, hidden, layers, bidirectional, dropout }
    }

    pub fn output_size(&self) -> i64 {
        self.hidden * if self.bidirectional { 2 } else { 1 }
    }

    /// Zero state: `[h]`, or `[h, c]` for the LSTM, each `[layers·dirs, batch, hidden]`.
    pub fn zero_state(&self, batch: i64) -> RecurrentState {
        let dirs = if self.bidirectional { 2 } else { 1 };
        let w = &self.weights[0];
        let z = Tensor::zeros([self.layers * dirs, batch, self.hidden], (w.kind(), w.device()));
        RecurrentState((0..self.states).map(|_| z.shallow_clone()).collect())
    }

    /// `input`: `[batch, time, features]` → (`[batch, time, hidden·dirs]`, final state).
    /// Dropout between layers applies only when `train` is true.
    pub fn forward(&self, input: &Tensor, state: &RecurrentState, train: bool) -> (Tensor, RecurrentState) {
        let (layers, dropout, bi) = (self.layers, self.dropout, self.bidirectional);
        let h = &state.0[0];
        match self.kernel {
            Kernel::Lstm => {
                let weights: Vec<&Tensor> = self.weights.iter().collect();
                let (out, h, c) = input.lstm(&[h, &state.0[1]], &weights, true, layers, dropout, train, bi, true);
                (out, RecurrentState(vec![h, c]))
            }
            Kernel::Gru => {
                let (out, h) = input.gru(h, &self.weights, true, layers, dropout, train, bi, true);
                (out, RecurrentState(vec![h]))
            }
            Kernel::RnnTanh => {
                let (out, h) = input.rnn_tanh(h, &self.weights, true, layers, dropout, train, bi, true);
                (out, RecurrentState(vec![h]))
            }
            Kernel::RnnRelu => {
                let (out, h) = input.rnn_relu(h, &self.weights, true, layers, dropout, train, bi, true);
                (out, RecurrentState(vec![h]))
            }
        }
    }
}
