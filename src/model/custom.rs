//! A recurrent stack of hand-written cells: layers, directions, inter-layer
//! dropout and carried state, mirroring the fused stack so every custom cell
//! composes with depth, dropout, reversed input and bidirectionality.
//!
//! Each cell projects the whole input sequence at once (one matrix product
//! for all time steps) and then runs its recurrence step by step.
use tch::nn::{self, Init};
use tch::Tensor;

use super::cells::Build;
use super::{RecurrentState, Stack};

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

/// A hand-written cell's constructor (its configuration, e.g. an LSTM
/// [`super::lstm::Variant`]): builds one direction of one layer.
pub trait BuildLayer: Sync {
    fn build(&self, shape: &LayerShape) -> Box<dyn CellLayer>;
}

/// One direction of one layer as its constructor sees it: sizes, the
/// forget bias, and where its parameters come from.
pub struct LayerShape<'a> {
    /// Features of the layer's input.
    pub input: i64,
    pub hidden: i64,
    /// Initial forget-gate bias, if set (see [`super::cells::CellDef::forget_gate`]).
    pub forget_bias: Option<f64>,
    source: Source<'a>,
    /// `l0`, `l1_reverse`, …
    suffix: String,
    zero_init: bool,
}

/// Where a layer's parameters come from.
enum Source<'a> {
    /// Created (and initialised) as variables under a path.
    Path(&'a nn::Path<'a>),
    /// Given, by full name, stacked over a pack's trials (`[K, …]`): see
    /// [`super::pack`]. The layer's equations are the same; [`affine`] and
    /// the last-axis indexing make them run over the leading trial axis.
    Given { prefix: &'a str, params: &'a std::collections::HashMap<String, Tensor> },
}

impl<'a> LayerShape<'a> {
    /// Layer `layer` (from 0), backward direction if `reverse`, default initialisation.
    pub fn new(path: &'a nn::Path<'a>, layer: i64, reverse: bool, input: i64, hidden: i64) -> LayerShape<'a> {
        let suffix = if reverse { format!("l{layer}_reverse") } else { format!("l{layer}") };
        LayerShape { input, hidden, forget_bias: None, source: Source::Path(path), suffix, zero_init: false }
    }

    /// Layer `layer`, direction `reverse` of a pack of `stack`s whose
    /// parameters, stacked over the trials, are `params[prefix + name]`;
    /// the forget bias is already in them.
    pub fn given(
        prefix: &'a str,
        params: &'a std::collections::HashMap<String, Tensor>,
        stack: &Stack,
        layer: i64,
        reverse: bool,
    ) -> LayerShape<'a> {
        let dirs = if stack.bidirectional { 2 } else { 1 };
        let input = if layer == 0 { stack.input } else { stack.hidden * dirs };
        let suffix = if reverse { format!("l{layer}_reverse") } else { format!("l{layer}") };
        LayerShape {
            input,
            hidden: stack.hidden,
            forget_bias: None,
            source: Source::Given { prefix, params },
            suffix,
            zero_init: false,
        }
    }

    /// Layer `layer`, direction `reverse` of `stack`.
    pub fn of(path: &'a nn::Path<'a>, stack: &Stack, layer: i64, reverse: bool) -> LayerShape<'a> {
        let dirs = if stack.bidirectional { 2 } else { 1 };
        let input = if layer == 0 { stack.input } else { stack.hidden * dirs };
        LayerShape {
            forget_bias: stack.forget_bias,
            zero_init: stack.zero_init,
            ..LayerShape::new(path, layer, reverse, input, stack.hidden)
        }
    }

    /// A parameter `<name>_<suffix>` (PyTorch's `weight_ih_l0`,
    /// `bias_hh_l1_reverse`, …), uniform in ±1/√hidden as PyTorch
    /// initialises recurrent weights, or zero when the stack is built only
    /// to be counted (which draws nothing from libtorch's generator). In a
    /// pack, the given `[K, dims…]` tensor; panics if it is missing or
    /// misshapen (the pack stacks the trials' own variables of these names).
    pub fn param(&self, name: &str, dims: &[i64]) -> Tensor {
        let name = format!("{name}_{}", self.suffix);
        match &self.source {
            Source::Path(path) => {
                let init = if self.zero_init { Init::Const(0.0) } else { init(self.hidden) };
                path.var(&name, dims, init)
            }
            Source::Given { prefix, params } => {
                let t = params.get(&format!("{prefix}{name}")).unwrap_or_else(|| panic!("pack: no parameter {name}"));
                assert_eq!(&t.size()[1..], dims, "pack: {name} has the wrong shape");
                t.shallow_clone()
            }
        }
    }
}

/// `x Wᵀ + b` for one model (`w` `[out, in]`, `x` `[…, in]`) or for a pack
/// of K (`w` `[K, out, in]`, `x` `[K, n, in]`, `b` `[K, out]`), where it is
/// one batched GEMM for all K trials.
pub fn affine(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    if w.dim() == 2 {
        return x.linear(w, b);
    }
    let wt = w.transpose(1, 2);
    match b {
        Some(b) => b.unsqueeze(1).baddbmm(x, &wt, 1, 1),
        None => x.bmm(&wt),
    }
}

/// Row `k` of a `[n, H]` parameter (peepholes), shaped to broadcast over a
/// batch `[B, H]`, or of a pack's `[K, n, H]` over `[K, B, H]`.
pub fn row(p: &Tensor, k: i64) -> Tensor {
    p.select(-2, k).unsqueeze(-2)
}

/// Uniform ±1/√hidden, PyTorch's initialisation of recurrent weights.
fn init(hidden: i64) -> Init {
    let k = 1.0 / (hidden as f64).sqrt();
    Init::Uniform { lo: -k, up: k }
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
    /// Builds the stack's layers under `vs`; panics if its cell is fused.
    pub fn new(vs: &nn::Path, stack: &Stack) -> CustomRnn {
        let Build::Layers(builder) = stack.cell.build else { panic!("{:?} is not a hand-written cell", stack.cell) };
        let dirs = if stack.bidirectional { 2 } else { 1 };
        let layers = (0..stack.layers)
            .map(|l| (0..dirs).map(|d| builder.build(&LayerShape::of(vs, stack, l, d == 1))).collect())
            .collect();
        CustomRnn { layers, hidden: stack.hidden, dropout: stack.dropout, bidirectional: stack.bidirectional }
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
    pub fn zero_state(&self, batch: i64, options: (tch::Kind, tch::Device)) -> RecurrentState {
        let n = (self.layers.len() * self.layers[0].len()) as i64;
        RecurrentState(
            self.layers[0][0].state_sizes().into_iter().map(|s| Tensor::zeros([n, batch, s], options)).collect(),
        )
    }

    /// `input`: `[batch, time, features]` → (`[batch, time, hidden·dirs]`, final state).
    pub fn forward(&self, input: &Tensor, state: &RecurrentState, train: bool) -> (Tensor, RecurrentState) {
        let dirs = self.layers[0].len();
        let mut x = input.shallow_clone();
        let mut finals: Vec<Vec<Tensor>> = state.0.iter().map(|_| Vec::new()).collect();
        let time = input.size()[1];
        for (l, layer) in self.layers.iter().enumerate() {
            let mut outputs = Vec::with_capacity(dirs);
            for (d, cell) in layer.iter().enumerate() {
                let idx = (l * dirs + d) as i64;
                let mut st: Vec<Tensor> = state.0.iter().map(|s| s.get(idx)).collect();
                // The window's input projection, split into time steps once:
                // one backward node for all of them, where a `select` per
                // step would each backpropagate a zero tensor the size of
                // the window (the same numbers, far fewer operations).
                let xs = cell.project_input(&x).unbind(1);
                let mut hs = Vec::with_capacity(time as usize);
                let steps: Box<dyn Iterator<Item = usize>> =
                    if d == 1 { Box::new((0..xs.len()).rev()) } else { Box::new(0..xs.len()) };
                for t in steps {
                    st = cell.step(&xs[t], &st);
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
        (x, RecurrentState(finals.iter().map(|f| Tensor::stack(f, 0)).collect()))
    }
}
