//! Numerics of the hand-written cells: configured to equal a fused libtorch
//! kernel they give the same outputs and gradients; each Greff variant
//! matches an independent scalar implementation of the paper's equations;
//! parameter counts match what is built.
use rnnlab::model::cells::{BuildLayer, CellLayer, LayerShape};
use rnnlab::model::{self, gru::Gru, CustomRnn, FusedRnn, RecurrentState, Stack};
use rnnlab::spec::{Cell, InputEncoding, ModelSpec};
use tch::{nn, Device, Kind, Tensor};

const TOL: f64 = 1e-5;

fn cell(name: &str) -> Cell {
    Cell::named(name).expect("a registered cell")
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    f64::try_from((a - b).abs().max()).unwrap()
}

/// Copies every variable of `from` into the same-named variable of `to`.
fn copy_weights(from: &nn::VarStore, to: &nn::VarStore) {
    let src = from.variables();
    let mut dst = to.variables();
    assert_eq!(src.len(), dst.len(), "same parameter sets");
    tch::no_grad(|| {
        for (name, t) in src {
            dst.get_mut(&name).unwrap_or_else(|| panic!("{name} missing")).copy_(&t);
        }
    });
}

/// Runs both stacks on the same input and compares outputs, final states,
/// and the gradients of a random projection of the output.
fn compare(fused: &FusedRnn, fvs: &nn::VarStore, custom: &CustomRnn, cvs: &nn::VarStore, batch: i64) {
    tch::manual_seed(3);
    let x = Tensor::randn([batch, 7, 5], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let x2 = x.detach().set_requires_grad(true);
    let zero = fused.zero_state(batch);
    let start = RecurrentState(zero.0.iter().map(|t| t.randn_like() * 0.5).collect());
    let (fo, fs) = fused.forward(&x, &start, false);
    let (co, cs) = custom.forward(&x2, &start, false);
    assert!(max_diff(&fo, &co) < TOL, "outputs differ by {}", max_diff(&fo, &co));
    for (a, b) in fs.0.iter().zip(&cs.0) {
        assert!(max_diff(a, b) < TOL, "final states differ by {}", max_diff(a, b));
    }
    let proj = fo.randn_like();
    (&fo * &proj).sum(Kind::Float).backward();
    (&co * &proj).sum(Kind::Float).backward();
    assert!(max_diff(&x.grad(), &x2.grad()) < TOL, "input gradients differ");
    let cvars = cvs.variables();
    for (name, t) in fvs.variables() {
        let d = max_diff(&t.grad(), &cvars[&name].grad());
        assert!(d < TOL, "gradient of {name} differs by {d}");
    }
}

#[test]
fn lstm_np_equals_libtorch_lstm_in_values_and_gradients() {
    for bidirectional in [false, true] {
        let fvs = nn::VarStore::new(Device::Cpu);
        let fused = FusedRnn::new(&fvs.root(), &Stack { bidirectional, ..Stack::new(Cell::LSTM, 5, 6, 2) });
        let cvs = nn::VarStore::new(Device::Cpu);
        let custom = CustomRnn::new(&cvs.root(), &Stack { bidirectional, ..Stack::new(cell("lstm_np"), 5, 6, 2) });
        copy_weights(&fvs, &cvs);
        compare(&fused, &fvs, &custom, &cvs, 3);
    }
}

#[test]
fn custom_gru_equals_libtorch_gru_in_values_and_gradients() {
    for bidirectional in [false, true] {
        let fvs = nn::VarStore::new(Device::Cpu);
        let fused = FusedRnn::new(&fvs.root(), &Stack { bidirectional, ..Stack::new(cell("gru"), 5, 6, 2) });
        let cvs = nn::VarStore::new(Device::Cpu);
        let root = cvs.root();
        let dirs = if bidirectional { 2 } else { 1 };
        let layers: Vec<Vec<Box<dyn CellLayer>>> = (0..2)
            .map(|l| {
                (0..dirs)
                    .map(|d| {
                        let input = if l == 0 { 5 } else { 6 * dirs };
                        Gru { reset_after: true }.build(&LayerShape::new(&root, l, d == 1, input, 6))
                    })
                    .collect()
            })
            .collect();
        let custom = CustomRnn::from_layers(layers, 6, 0.0);
        copy_weights(&fvs, &cvs);
        compare(&fused, &fvs, &custom, &cvs, 3);
    }
}

/// Greff et al.'s equations for hidden size 1 in plain f64 arithmetic.
/// `w[name]` are the scalar weights read from the built layer.
struct Scalar {
    gates: Vec<char>, // sigmoid gates present, in block order
    input_act: bool,
    output_act: bool,
    coupled: bool,
}

impl Scalar {
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        x: f64,
        y: f64,
        c: f64,
        prev: &[f64],
        wi: &[f64],
        wh: &[f64],
        b: &[f64],
        peep: &[f64],
        gg: &[f64],
    ) -> (f64, f64, Vec<f64>) {
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let n = self.gates.len();
        // Pre-activations of the blocks in order (sigmoid gates before z, z, then o).
        let blocks: Vec<char> = {
            let mut b: Vec<char> = self.gates.iter().copied().filter(|g| *g != 'o').collect();
            b.push('z');
            if self.gates.contains(&'o') {
                b.push('o');
            }
            b
        };
        let pre = |name: char| -> f64 {
            let k = blocks.iter().position(|&g| g == name).unwrap();
            let mut a = wi[k] * x + wh[k] * y + b[k];
            if !gg.is_empty() && name != 'z' {
                let gi = self.gates.iter().position(|&g| g == name).unwrap();
                a += (0..n).map(|j| gg[gi * n + j] * prev[j]).sum::<f64>();
            }
            a
        };
        let peep_of = |name: char| -> f64 {
            if peep.is_empty() {
                0.0
            } else {
                peep[self.gates.iter().position(|&g| g == name).unwrap()]
            }
        };
        let i = if self.gates.contains(&'i') { sig(pre('i') + peep_of('i') * c) } else { 1.0 };
        let f = if self.gates.contains(&'f') {
            sig(pre('f') + peep_of('f') * c)
        } else if self.coupled {
            1.0 - i
        } else {
            1.0
        };
        let z = if self.input_act { pre('z').tanh() } else { pre('z') };
        let c_new = z * i + c * f;
        let o = if self.gates.contains(&'o') { sig(pre('o') + peep_of('o') * c_new) } else { 1.0 };
        let y_new = if self.output_act { c_new.tanh() } else { c_new } * o;
        let gates: Vec<f64> = self
            .gates
            .iter()
            .map(|g| match g {
                'i' => i,
                'f' => f,
                _ => o,
            })
            .collect();
        (y_new, c_new, gates)
    }
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap().into_iter().map(f64::from).collect()
}

#[test]
fn every_greff_variant_matches_its_equations() {
    let cases: [(&str, &str, bool, bool, bool); 9] = [
        ("lstm_vanilla", "ifo", true, true, false),
        ("lstm_nig", "fo", true, true, false),
        ("lstm_nfg", "io", true, true, false),
        ("lstm_nog", "if", true, true, false),
        ("lstm_niaf", "ifo", false, true, false),
        ("lstm_noaf", "ifo", true, false, false),
        ("lstm_np", "ifo", true, true, false),
        ("lstm_cifg", "io", true, true, true),
        ("lstm_fgr", "ifo", true, true, false),
    ];
    for (name, gates, input_act, output_act, coupled) in cases {
        let cell = cell(name);
        let vs = nn::VarStore::new(Device::Cpu);
        let rnn = CustomRnn::new(&vs.root(), &Stack::new(cell, 1, 1, 1));
        let vars = vs.variables();
        let get = |name: &str| vars.get(name).map(values).unwrap_or_default();
        let (wi, wh) = (get("weight_ih_l0"), get("weight_hh_l0"));
        let b: Vec<f64> = get("bias_ih_l0").iter().zip(get("bias_hh_l0")).map(|(a, b)| a + b).collect();
        let (peep, gg) = (get("weight_peep_l0"), get("weight_gg_l0"));
        assert_eq!(peep.is_empty(), name == "lstm_np", "{cell:?}: peepholes");
        assert_eq!(gg.is_empty(), name != "lstm_fgr", "{cell:?}: gate recurrence");
        let reference = Scalar { gates: gates.chars().collect(), input_act, output_act, coupled };
        let xs = [0.7, -1.3, 0.4, 2.0];
        let input = Tensor::from_slice(&xs.map(|v| v as f32)).view([1, 4, 1]);
        let (out, state) = rnn.forward(&input, &rnn.zero_state(1, (Kind::Float, Device::Cpu)), false);
        let (mut y, mut c, mut prev) = (0.0, 0.0, vec![0.0; gates.len()]);
        let mut want = Vec::new();
        for x in xs {
            let (y2, c2, g) = reference.step(x, y, c, &prev, &wi, &wh, &b, &peep, &gg);
            (y, c, prev) = (y2, c2, g);
            want.push(y);
        }
        let got = values(&out);
        for (t, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-5, "{cell:?} step {t}: cell {g}, equations {w}");
        }
        assert!((values(&state.0[1])[0] - c).abs() < 1e-5, "{cell:?}: final cell state");
    }
}

#[test]
fn every_cell_composes_with_depth_direction_dropout_and_backprop() {
    for cell in Cell::all() {
        for bidirectional in [false, true] {
            let mut spec = ModelSpec { cell, hidden: 6, layers: 2, bidirectional, dropout: 0.3, ..Default::default() };
            if cell.input_is_hidden {
                if bidirectional {
                    continue;
                }
                spec.input = InputEncoding::Embedding;
                spec.embedding_size = 6;
            }
            let vs = nn::VarStore::new(Device::Cpu);
            let m = model::CharRnn::new(&vs.root(), &spec, 11);
            assert_eq!(
                model::parameter_count(&vs),
                rnnlab::spec::build::count_without_drawing(&spec, 11),
                "{cell:?} bi={bidirectional}"
            );
            let ids = Tensor::from_slice(&[1i64, 4, 2, 9, 0, 3, 3, 7]).view([2, 4]);
            let (logits, state) = m.forward(&ids, &m.zero_state(2), true);
            assert_eq!(logits.size(), vec![2, 4, 11]);
            logits.sum(Kind::Float).backward();
            for (name, t) in vs.variables() {
                assert!(t.grad().defined(), "{cell:?}: no gradient for {name}");
            }
            let (a, _) = m.forward(&ids, &state, false);
            let (b, _) = m.forward(&ids, &state, false);
            assert!(a.equal(&b), "{cell:?}: evaluation must not drop out");
            assert!(f64::try_from(a.abs().sum(Kind::Float)).unwrap().is_finite());
        }
    }
}

#[test]
fn forget_bias_initialises_the_forget_gate() {
    let vs = nn::VarStore::new(Device::Cpu);
    let _ = FusedRnn::new(&vs.root(), &Stack { forget_bias: Some(1.0), ..Stack::new(Cell::LSTM, 3, 4, 1) });
    let b = vs.variables()["bias_ih_l0"].shallow_clone();
    assert_eq!(values(&b.narrow(0, 4, 4)), vec![1.0; 4]);
    assert_eq!(values(&vs.variables()["bias_hh_l0"].narrow(0, 4, 4)), vec![0.0; 4]);
    // Without an input gate the forget block comes first.
    let vs = nn::VarStore::new(Device::Cpu);
    let _ = CustomRnn::new(&vs.root(), &Stack { forget_bias: Some(1.0), ..Stack::new(cell("lstm_nig"), 3, 4, 1) });
    assert_eq!(values(&vs.variables()["bias_ih_l0"].narrow(0, 0, 4)), vec![1.0; 4]);
}

#[test]
fn parameter_budgets_are_solved_per_cell() {
    for cell in [cell("rnn_tanh"), Cell::LSTM, cell("gru"), cell("lstm_vanilla"), cell("lstm_fgr"), cell("lstm_cifg")] {
        let spec = ModelSpec { cell, layers: 2, ..Default::default() };
        let h = rnnlab::spec::build::solve_hidden(&spec, 96, 100_000).unwrap();
        let count = |h| rnnlab::spec::build::count_without_drawing(&ModelSpec { hidden: h, ..spec.clone() }, 96);
        assert!((count(h) - 100_000).abs() <= (count(h + 1) - 100_000).abs(), "{cell:?}");
        assert!((count(h) - 100_000).abs() <= (count(h - 1) - 100_000).abs(), "{cell:?}");
    }
    let tanh =
        rnnlab::spec::build::solve_hidden(&ModelSpec { cell: cell("rnn_tanh"), ..Default::default() }, 96, 100_000)
            .unwrap();
    let lstm =
        rnnlab::spec::build::solve_hidden(&ModelSpec { cell: Cell::LSTM, ..Default::default() }, 96, 100_000).unwrap();
    assert!(tanh > lstm, "a tanh RNN gets more units for the same budget");
    let err = rnnlab::spec::build::solve_hidden(&ModelSpec::default(), 96, 500).unwrap_err().to_string();
    assert!(err.contains("below the smallest"), "{err}");
}

/// What each registry entry says of its cell is what gets built: the
/// blocks of `weight_ih`, the state tensors, the stack kind.
#[test]
fn every_registry_entry_describes_what_it_builds() {
    for cell in Cell::all() {
        let vs = nn::VarStore::new(Device::Cpu);
        let rnn = model::Recurrent::from_stack(&vs.root(), &Stack::new(cell, 3, 5, 1));
        let rows = vs.variables()["weight_ih_l0"].size()[0];
        assert_eq!(rows, cell.gates * 5, "{cell}: weight_ih blocks");
        let state = rnn.zero_state(2, (Kind::Float, Device::Cpu));
        assert_eq!(state.0.len(), cell.state.len(), "{cell}: state tensors");
        assert_eq!(state.0[0].size(), vec![1, 2, 5], "{cell}: h");
        assert_eq!(matches!(rnn, model::Recurrent::Fused(_)), cell.is_fused(), "{cell}: stack kind");
        assert_eq!(cell.has_memory_cell(), cell.name().starts_with("lstm"), "{cell}: memory cell");
    }
}
