//! The fused recurrent layers against numbers computed by PyTorch 2.11.0.
//!
//! Weights and inputs are deterministic functions of their flat index, so
//! the same values can be built on both sides. The expected numbers were
//! printed by this snippet (torch 2.11.0, CPU, float32):
//!
//! ```python
//! import math, torch
//! def fill(t, offset):   # parameter i (1-based, in named_parameters order)
//!     vals = [0.5 * math.sin(0.7 * k + offset) for k in range(t.numel())]
//!     with torch.no_grad():
//!         t.copy_(torch.tensor(vals, dtype=torch.float32).view_as(t))
//! def run(mod, extra_state=False):
//!     for i, (_, p) in enumerate(mod.named_parameters()):
//!         fill(p, i + 1)
//!     B, T, I = 2, 3, 3
//!     x = torch.tensor([math.cos(0.3 * k) for k in range(B * T * I)]).view(B, T, I)
//!     out, st = mod(x)
//!     h = st[0] if extra_state else st
//!     print([round(v, 6) for v in out.flatten().tolist()], [round(v, 6) for v in h.flatten().tolist()])
//!     if extra_state: print([round(v, 6) for v in st[1].flatten().tolist()])
//! run(torch.nn.LSTM(3, 4, num_layers=2, batch_first=True), True)
//! run(torch.nn.GRU(3, 4, num_layers=1, batch_first=True))
//! run(torch.nn.RNN(3, 4, num_layers=1, batch_first=True, nonlinearity="tanh"))
//! ```
use rnnlab::model::{FusedRnn, Stack};
use rnnlab::spec::Cell;
use tch::{nn, Device, Tensor};

fn cell(name: &str) -> Cell {
    Cell::named(name).expect("a registered cell")
}

fn build(cell: Cell, layers: i64) -> (nn::VarStore, FusedRnn) {
    let vs = nn::VarStore::new(Device::Cpu);
    let rnn = FusedRnn::new(&vs.root(), &Stack::new(cell, 3, 4, layers));
    // PyTorch's named_parameters order: per layer weight_ih, weight_hh, bias_ih, bias_hh.
    let mut names = Vec::new();
    for l in 0..layers {
        for kind in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
            names.push(format!("{kind}_l{l}"));
        }
    }
    let vars = vs.variables();
    tch::no_grad(|| {
        for (i, name) in names.iter().enumerate() {
            let mut t = vars[name].shallow_clone();
            let vals: Vec<f32> = (0..t.numel()).map(|k| 0.5 * (0.7 * k as f64 + (i + 1) as f64).sin() as f32).collect();
            t.copy_(&Tensor::from_slice(&vals).view_as(&t));
        }
    });
    (vs, rnn)
}

fn input() -> Tensor {
    let vals: Vec<f32> = (0..18).map(|k| (0.3 * k as f64).cos() as f32).collect();
    Tensor::from_slice(&vals).view([2, 3, 3])
}

fn assert_close(got: &Tensor, want: &[f32], what: &str) {
    let got: Vec<f32> = Vec::try_from(got.flatten(0, -1)).unwrap();
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 2e-6, "{what}[{i}]: got {g}, PyTorch {w}");
    }
}

#[test]
fn two_layer_lstm_matches_pytorch() {
    let (_vs, rnn) = build(Cell::LSTM, 2);
    let (out, state) = rnn.forward(&input(), &rnn.zero_state(2), false);
    assert_close(
        &out,
        &[
            0.159976, 0.145653, 0.104492, 0.068738, 0.199932, 0.177901, 0.144581, 0.091475, 0.192596, 0.193856,
            0.154954, 0.105763, 0.119967, 0.163007, 0.101226, 0.076378, 0.137539, 0.199542, 0.132726, 0.107482,
            0.169984, 0.203786, 0.145006, 0.120998,
        ],
        "lstm output",
    );
    let (h, c) = (&state.0[0], &state.0[1]);
    assert_close(
        h,
        &[
            -0.025038, -0.075761, -0.187908, -0.340745, 0.096515, -0.213947, -0.182154, -0.259316, 0.192596, 0.193856,
            0.154954, 0.105763, 0.169984, 0.203786, 0.145006, 0.120998,
        ],
        "lstm h",
    );
    assert_close(
        c,
        &[
            -0.096948, -0.127105, -0.273957, -0.824026, 0.230003, -0.588368, -0.25926, -0.401161, 0.461549, 0.631556,
            0.61141, 0.312519, 0.41166, 0.651624, 0.579319, 0.35588,
        ],
        "lstm c",
    );
}

#[test]
fn gru_matches_pytorch() {
    let (_vs, rnn) = build(cell("gru"), 1);
    let (out, state) = rnn.forward(&input(), &rnn.zero_state(2), false);
    assert_close(
        &out,
        &[
            -0.098477, 0.388733, -0.092284, -0.402162, -0.110214, 0.41695, -0.194763, -0.499895, 0.039985, 0.120515,
            -0.102506, -0.489829, 0.196069, -0.235434, 0.192966, -0.028144, 0.367236, -0.375334, 0.092084, -0.050451,
            0.381493, -0.239341, -0.113256, -0.182133,
        ],
        "gru output",
    );
    let h = &state.0[0];
    assert_close(h, &[0.039985, 0.120515, -0.102506, -0.489829, 0.381493, -0.239341, -0.113256, -0.182133], "gru h");
}

#[test]
fn tanh_rnn_matches_pytorch() {
    let (_vs, rnn) = build(cell("rnn_tanh"), 1);
    let (out, _) = rnn.forward(&input(), &rnn.zero_state(2), false);
    assert_close(
        &out,
        &[
            0.69899, -0.893647, -0.874979, 0.549316, 0.169482, -0.626154, -0.907515, 0.339293, -0.754106, 0.01756,
            -0.838424, -0.537127, -0.907398, 0.001837, -0.406643, -0.941996, -0.829162, -0.125394, -0.664502,
            -0.721136, -0.244274, -0.607221, -0.840634, 0.182772,
        ],
        "rnn_tanh output",
    );
}

#[test]
fn inter_layer_dropout_is_off_in_eval_and_on_in_training() {
    let vs = nn::VarStore::new(Device::Cpu);
    let rnn = FusedRnn::new(&vs.root(), &Stack { dropout: 0.5, ..Stack::new(Cell::LSTM, 3, 4, 2) });
    let x = input();
    let eval = |_| rnn.forward(&x, &rnn.zero_state(2), false).0;
    assert!(eval(0).equal(&eval(1)), "evaluation must be deterministic (no dropout)");
    tch::manual_seed(0);
    let a = rnn.forward(&x, &rnn.zero_state(2), true).0;
    let b = rnn.forward(&x, &rnn.zero_state(2), true).0;
    assert!(!a.equal(&b), "training mode must apply dropout between layers");
}
