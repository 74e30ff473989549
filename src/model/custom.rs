//! A recurrent stack of hand-written cells: layers, directions, inter-layer
//! dropout and carried state, mirroring the fused stack so every custom cell
//! composes with depth, dropout, reversed input and bidirectionality.
//!
//! Each cell projects the whole input sequence at once (one matrix product
//! for all time steps) and then runs its recurrence step by step.
use tch::nn::{self, Init};
use tch::Tensor;

use super::{gru, lstm, Stack, State};
use crate::spec::Cell;

/// One direction of one layer of a hand-written cell.
pub trait CellLayer: std::fmt::Debug + Send {
    /// Input projection of a whole sequence: `[batch, time, in]` → `[batch, time, p]`.
    fn project_input(&self, x: &Tensor) -> Tensor;
    /// One step from the step's input projection `[batch, p]` and the state
    /// tensors; returns the new state, whose first tensor is the output `h`.
    fn step(&self, xp: &Tensor, state: &[Tensor]) -> Vec<Tensor>;
    /// Sizes of the state tensors (the first is the hidden size).
    fn state_sizes(&self) -> Vec<i64>;
}

/// Uniform ±1/√hidden, PyTorch's initialisation of recurrent weights.
pub fn init(hidden: i64) -> Init {
    let k = 1.0 / (hidden as f64).sqrt();
    Init::Uniform { lo: -k, up: k }
}

/// Builds one direction of one layer; `sfx` is `l0`, `l1_reverse`, ….
fn layer(
    vs: &nn::Path,
    cell: Cell,
    input: i64,
    hidden: i64,
    sfx: &str,
    forget_bias: Option<f64>,
) -> Box<dyn CellLayer> {
    if let Some(variant) = lstm::Variant::of(cell) {
        return Box::new(lstm::LstmLayer::new(vs, variant, input, hidden, sfx, forget_bias));
    }
    match cell {
        Cell::GruLecture => Box::new(gru::GruLayer::new(vs, false, input, hidden, sfx)),
        Cell::Mut1 | Cell::Mut2 | Cell::Mut3 => Box::new(gru::MutLayer::new(vs, cell, input, hidden, sfx)),
        other => panic!("{other:?} is not a hand-written cell"),
    }
}

#[derive(Debug)]
pub struct CustomRnn {
    /// `layers[l][d]`: layer l, direction d (1 = reverse).
    layers: Vec<Vec<Box<dyn CellLayer>>>,
    hidden: i64,
    dropout: f64,
    bidirectional: bool,
}

impl CustomRnn {
    pub fn new(vs: &nn::Path, stack: &Stack) -> CustomRnn {
        let Stack { cell, input, hidden, layers, bidirectional, dropout, forget_bias } = *stack;
        let dirs = if bidirectional { 2 } else { 1 };
        let layers = (0..layers)
            .map(|l| {
                let in_dim = if l == 0 { input } else { hidden * dirs };
                (0..dirs)
                    .map(|d| {
                        let sfx = if d == 1 { format!("l{l}_reverse") } else { format!("l{l}") };
                        layer(vs, cell, in_dim, hidden, &sfx, forget_bias)
                    })
                    .collect()
            })
            .collect();
        CustomRnn { layers, hidden, dropout, bidirectional }
    }

    /// Builds a stack from ready-made layers (tests use this to compare
    /// formulations that have no spec name).
    pub fn from_layers(layers: Vec<Vec<Box<dyn CellLayer>>>, hidden: i64, dropout: f64) -> CustomRnn {
        let bidirectional = layers.first().is_some_and(|l| l.len() == 2);
        CustomRnn { layers, hidden, dropout, bidirectional }
    }

    pub fn output_size(&self) -> i64 {
        self.hidden * if self.bidirectional { 2 } else { 1 }
    }

    /// One tensor per state kind, each `[layers·dirs, batch, size]`.
    pub fn zero_state(&self, batch: i64, options: (tch::Kind, tch::Device)) -> State {
        let n = (self.layers.len() * self.layers[0].len()) as i64;
        State(self.layers[0][0].state_sizes().into_iter().map(|s| Tensor::zeros([n, batch, s], options)).collect())
    }

    /// `input`: `[batch, time, features]` → (`[batch, time, hidden·dirs]`, final state).
    pub fn forward(&self, input: &Tensor, state: &State, train: bool) -> (Tensor, State) {
        let dirs = self.layers[0].len();
        let mut x = input.shallow_clone();
        let mut finals: Vec<Vec<Tensor>> = state.0.iter().map(|_| Vec::new()).collect();
        let time = input.size()[1];
        for (l, layer) in self.layers.iter().enumerate() {
            let mut outputs = Vec::with_capacity(dirs);
            for (d, cell) in layer.iter().enumerate() {
                let idx = (l * dirs + d) as i64;
                let mut st: Vec<Tensor> = state.0.iter().map(|s| s.get(idx)).collect();
                let xp = cell.project_input(&x);
                let mut hs = Vec::with_capacity(time as usize);
                let steps: Box<dyn Iterator<Item = i64>> =
                    if d == 1 { Box::new((0..time).rev()) } else { Box::new(0..time) };
                for t in steps {
                    st = cell.step(&xp.select(1, t), &st);
                    hs.push(st[0].shallow_clone());
                }
                if d == 1 {
                    hs.reverse();
                }
                outputs.push(Tensor::stack(&hs, 1));
                for (k, s) in st.into_iter().enumerate() {
                    finals[k].push(s);
                }
            }
            x = if dirs == 1 { outputs.pop().expect("one direction") } else { Tensor::cat(&outputs, 2) };
            if l + 1 < self.layers.len() {
                x = x.dropout(self.dropout, train);
            }
        }
        (x, State(finals.iter().map(|f| Tensor::stack(f, 0)).collect()))
    }
}
