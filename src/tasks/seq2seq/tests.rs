use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::*;
use crate::spec::{Attention as Att, Cell, InputEncoding};

const SOURCE_VOCAB: i64 = 6;
/// `<PAD>`, `<EOS>`, `<BOS>` and three tokens.
const TARGET_VOCAB: i64 = 6;
const ATTENTIONS: [Att; 3] = [Att::None, Att::Luong, Att::Bahdanau];

fn cell(name: &str) -> Cell {
    Cell::named(name).expect("a registered cell")
}

fn small(cell: Cell, attention: Att) -> ModelSpec {
    ModelSpec { cell, hidden: 8, input: InputEncoding::Embedding, embedding_size: 6, attention, ..ModelSpec::default() }
}

fn build(spec: &ModelSpec, target_vocab: i64, seed: i64) -> (nn::VarStore, Seq2Seq) {
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Seq2Seq::new(&vs.root(), spec, SOURCE_VOCAB, target_vocab).expect("a valid model");
    (vs, model)
}

fn sources(batch: i64, len: i64) -> Tensor {
    Tensor::randint_low(2, SOURCE_VOCAB, [batch, len], (Kind::Int64, Device::Cpu))
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn beam_of_width_one_is_greedy() {
    let cells = [Cell::LSTM, cell("lstm_cifg"), cell("gru_lecture")];
    for (i, (cell, attention)) in cells.iter().flat_map(|&c| ATTENTIONS.map(|a| (c, a))).enumerate() {
        let spec = ModelSpec { bidirectional: i % 2 == 1, layers: 1 + i % 2, ..small(cell, attention) };
        let (_vs, model) = build(&spec, TARGET_VOCAB, i as i64);
        let source = sources(6, 4);
        let greedy = model.greedy(&source, 7);
        assert_eq!(model.beam(&source, 1, 0.7, 7).unwrap(), greedy, "{cell:?} {attention:?}");
        // A batch decodes as its rows one by one.
        for (row, expected) in greedy.iter().enumerate() {
            assert_eq!(&model.greedy(&source.narrow(0, row as i64, 1), 7)[0], expected);
        }
    }
}

/// Every answer beam search can give with `max_len` steps: up to
/// `max_len − 1` tokens then `<EOS>`, or `max_len` tokens still open.
fn all_hypotheses(vocab: i64, max_len: usize) -> Vec<(Vec<i64>, bool)> {
    let tokens: Vec<i64> = (0..vocab).filter(|&t| t != EOS).collect();
    let mut level = vec![Vec::new()];
    let mut all = Vec::new();
    for n in 0..=max_len {
        if n == max_len {
            all.extend(level.iter().map(|t| (t.clone(), false)));
            break;
        }
        all.extend(level.iter().map(|t| (t.clone(), true)));
        level = level.iter().flat_map(|p| tokens.iter().map(move |&t| [p.clone(), vec![t]].concat())).collect();
    }
    all
}

#[test]
fn wide_beam_finds_the_best_of_all_hypotheses() {
    let (vocab, max_len) = (5, 3);
    let hypotheses = all_hypotheses(vocab, max_len);
    assert_eq!(hypotheses.len(), 1 + 4 + 16 + 64);
    let width = hypotheses.len();
    let mut greedy_misses = 0;
    let mut optima = std::collections::HashSet::new();
    for seed in 0..6 {
        for attention in ATTENTIONS {
            let (_vs, model) = build(&small(Cell::LSTM, attention), vocab, seed);
            // Sharper, source-dependent distributions and a rarer <EOS> make
            // the best answer something other than the empty one.
            tch::no_grad(|| {
                let _ = model.out.ws.shallow_clone().g_mul_scalar_(4.0);
                let _ = model.out.bs.as_ref().unwrap().get(EOS).g_sub_scalar_(1.5);
            });
            let source = sources(3, 4);
            for alpha in [0.0, 0.6, 1.0] {
                let beam = model.beam(&source, width, alpha, max_len).unwrap();
                let greedy = model.greedy(&source, max_len);
                for e in 0..3 {
                    let rows = source.narrow(0, e, 1).expand([width as i64, 4], false);
                    let targets: Vec<Vec<i64>> = hypotheses.iter().map(|(t, _)| t.clone()).collect();
                    let logp = model.token_log_probs(&rows, &targets).unwrap();
                    // A finished hypothesis counts its <EOS>; an open one does not.
                    let score = |(tokens, done): &(Vec<i64>, bool), lp: &Vec<f64>| {
                        let n = tokens.len() + usize::from(*done);
                        crate::generate::normalised(lp[..n].iter().sum(), n, alpha)
                    };
                    let scores: Vec<f64> = hypotheses.iter().zip(&logp).map(|(h, lp)| score(h, lp)).collect();
                    let best = (0..width).max_by(|&a, &b| scores[a].total_cmp(&scores[b])).unwrap();
                    let found = hypotheses.iter().position(|(t, _)| *t == beam[e as usize]).unwrap();
                    let runner_up =
                        (0..width).filter(|&i| i != best).map(|i| scores[i]).max_by(f64::total_cmp).unwrap();
                    assert!(scores[found] >= scores[best] - 1e-5, "seed {seed} {attention:?} alpha {alpha}");
                    if scores[best] - runner_up > 1e-5 {
                        assert_eq!(found, best, "seed {seed} {attention:?} alpha {alpha} example {e}");
                    }
                    optima.insert(hypotheses[best].1);
                    if greedy[e as usize] != hypotheses[best].0 {
                        greedy_misses += 1;
                    }
                }
            }
        }
    }
    // Greedy decoding is not search: here it misses the optimum often.
    assert!(greedy_misses > 0);
    // The optima include finished answers and open ones of max_len tokens.
    assert!(optima.contains(&true) && optima.contains(&false));
}

#[test]
fn teacher_forced_forward_matches_the_step_by_step_path() {
    for (cell, layers) in [(Cell::LSTM, 2), (cell("gru_lecture"), 1), (cell("lstm_fgr"), 2)] {
        for attention in [Att::None, Att::Luong] {
            let spec = ModelSpec { layers, bidirectional: true, decoder_layers: Some(1), ..small(cell, attention) };
            let (_vs, model) = build(&spec, TARGET_VOCAB, 3);
            let source = sources(4, 5);
            let target_in = Tensor::randint_low(0, TARGET_VOCAB, [4, 6], (Kind::Int64, Device::Cpu));
            let fast = model.forward(&source, &target_in, 1.0, false);
            assert_eq!(fast.size(), [4, 6, TARGET_VOCAB]);
            let (memory, state) = model.encode(&source, false);
            let slow = model.decode_steps(&target_in, &memory, state, 1.0, false);
            assert!(max_diff(&fast, &slow) < 1e-5, "{cell:?} {attention:?}: {}", max_diff(&fast, &slow));
        }
    }
}

#[test]
fn free_running_forward_decodes_greedily_and_mixing_picks_per_example() {
    for attention in ATTENTIONS {
        let (_vs, model) = build(&small(cell("gru"), attention), TARGET_VOCAB, 4);
        let source = sources(5, 3);
        // Only the first column, <BOS>, is read when no token is forced.
        let target_in = Tensor::full([5, 6], 3, (Kind::Int64, Device::Cpu));
        let _ = target_in.select(1, 0).fill_(BOS);
        let own = model.forward(&source, &target_in, 0.0, false).argmax(-1, false);
        let own: Vec<Vec<i64>> = Vec::try_from(&own).unwrap();
        let greedy = model.greedy(&source, 6);
        for (row, g) in own.iter().zip(&greedy) {
            let until_eos: Vec<i64> = row.iter().copied().take_while(|&t| t != EOS).collect();
            assert_eq!(&until_eos, g, "{attention:?}");
        }
        // At step 1 each example read either its true token or its own
        // argmax. (Which one comes from torch's global RNG, which tests
        // running in parallel share, so the draw itself is not checked.)
        let step1 = |tf: f64| model.forward(&source, &target_in, tf, false).select(1, 1);
        let (mixed, forced, free) = (step1(0.5), step1(1.0), step1(0.0));
        for e in 0..5 {
            let row = mixed.get(e);
            assert!(max_diff(&row, &forced.get(e)) < 1e-6 || max_diff(&row, &free.get(e)) < 1e-6);
        }
    }
}

#[test]
fn bridges_map_any_encoder_to_any_decoder() {
    let cases = [
        // (encoder, layers, bidirectional, decoder, layers, a learned c?)
        (cell("gru"), 2, true, Cell::LSTM, 3, false),
        (Cell::LSTM, 1, true, cell("lstm_cifg"), 2, true),
        (cell("lstm_vanilla"), 2, false, cell("lstm_fgr"), 2, true),
        (Cell::LSTM, 3, false, cell("gru"), 1, false),
    ];
    for (enc, layers, bidirectional, dec, decoder_layers, learned_c) in cases {
        for attention in ATTENTIONS {
            let spec = ModelSpec {
                layers,
                bidirectional,
                decoder_cell: Some(dec),
                decoder_layers: Some(decoder_layers),
                ..small(enc, attention)
            };
            let (_vs, model) = build(&spec, TARGET_VOCAB, 5);
            let source = sources(3, 4);
            let (memory, state) = model.encode(&source, false);
            let dirs = if bidirectional { 2 } else { 1 };
            assert_eq!(memory.values.size(), [3, 4, 8 * dirs]);
            let expected = model.decoder.zero_state(3, (Kind::Float, Device::Cpu));
            assert_eq!(state.0.len(), expected.0.len());
            for (s, z) in state.0.iter().zip(&expected.0) {
                assert_eq!(s.size(), z.size(), "{enc:?} → {dec:?}");
            }
            assert!(state.0[0].abs().sum(Kind::Float).double_value(&[]) > 0.0);
            if state.0.len() > 1 {
                let c = state.0[1].abs().sum(Kind::Float).double_value(&[]);
                assert_eq!(c > 0.0, learned_c, "{enc:?} → {dec:?}: c");
            }
            for extra in state.0.iter().skip(2) {
                assert_eq!(extra.abs().sum(Kind::Float).double_value(&[]), 0.0);
            }
            let target_in = Tensor::full([3, 5], BOS, (Kind::Int64, Device::Cpu));
            assert_eq!(model.forward(&source, &target_in, 1.0, false).size(), [3, 5, TARGET_VOCAB]);
            assert_eq!(model.beam(&source, 2, 1.0, 4).unwrap().len(), 3);
        }
    }
}

#[test]
fn same_shaped_stacks_pass_the_state_unchanged() {
    for (cell, decoder) in
        [(Cell::LSTM, cell("lstm_np")), (cell("gru"), cell("gru_lecture")), (cell("lstm_fgr"), cell("lstm_fgr"))]
    {
        let spec = ModelSpec { layers: 2, decoder_cell: Some(decoder), ..small(cell, Att::Luong) };
        let (vs, model) = build(&spec, TARGET_VOCAB, 6);
        assert!(matches!(model.bridge, Bridge::Copy));
        assert!(!vs.variables().keys().any(|k| k.starts_with("bridge")));
        let source = sources(3, 4);
        let (_, state) = model.encode(&source, false);
        let x = model.source_input.embedding.as_ref().unwrap().forward(&source);
        let (_, last) = model.encoder.forward(&x, &model.encoder.zero_state(3, (Kind::Float, Device::Cpu)), false);
        for (s, e) in state.0.iter().zip(&last.0) {
            assert_eq!(max_diff(s, e), 0.0);
        }
    }
}

/// About 0.3 s alone with one torch thread; no wall-clock assertion, since
/// on a busy machine OpenMP's waiting threads can make it many times slower.
#[test]
fn learns_to_reverse_three_symbols() {
    let spec = ModelSpec { hidden: 32, embedding_size: 16, ..small(Cell::LSTM, Att::Luong) };
    let (source_vocab, target_vocab) = (5, 6);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Seq2Seq::new(&vs.root(), &spec, source_vocab, target_vocab).unwrap();
    let mut opt = nn::Adam::default().build(&vs, 0.01).unwrap();
    // Source symbols are ids 2..5, their target tokens ids 3..6.
    let batch = |n: i64| {
        let source = Tensor::randint_low(2, source_vocab, [n, 3], (Kind::Int64, Device::Cpu));
        let target = source.flip([1]) + 1;
        (source, target)
    };
    for _ in 0..300 {
        let (source, target) = batch(32);
        let target_in = Tensor::cat(&[Tensor::full([32, 1], BOS, (Kind::Int64, Device::Cpu)), target.copy()], 1);
        let target_out = Tensor::cat(&[target, Tensor::full([32, 1], EOS, (Kind::Int64, Device::Cpu))], 1);
        let logits = model.forward(&source, &target_in, 1.0, true);
        let loss = logits.view([-1, target_vocab]).cross_entropy_for_logits(&target_out.view([-1]));
        opt.backward_step(&loss);
    }
    let (source, target) = batch(200);
    let expected: Vec<Vec<i64>> = Vec::try_from(&target).unwrap();
    let decoded = model.greedy(&source, 6);
    let exact = decoded.iter().zip(&expected).filter(|(d, e)| d == e).count() as f64 / 200.0;
    // Chance is 1/27.
    assert!(exact > 0.8, "exact accuracy {exact}");
    let beam = model.beam(&source, 3, 1.0, 6).unwrap();
    assert!(beam.iter().zip(&expected).filter(|(d, e)| d == e).count() > 160);
}

#[test]
fn decoding_and_building_reject_bad_settings() {
    let (_vs, model) = build(&small(Cell::LSTM, Att::None), TARGET_VOCAB, 0);
    let source = sources(2, 3);
    let err = model.beam(&source, 0, 1.0, 5).unwrap_err().to_string();
    assert_eq!(err, "decode.beam: must be at least 1");
    let err = model.beam(&source, 2, 1.0, 0).unwrap_err().to_string();
    assert_eq!(err, "decode.max_length: must be at least 1");
    assert!(model.beam(&source, 2, -1.0, 5).unwrap_err().to_string().starts_with("decode.length_norm"));
    assert!(model.log_prob(&source, &[vec![3]]).is_err());
    assert!(model.log_prob(&source, &[vec![3], vec![TARGET_VOCAB]]).is_err());
    let vs = nn::VarStore::new(Device::Cpu);
    assert!(Seq2Seq::new(&vs.root(), &small(Cell::LSTM, Att::None), SOURCE_VOCAB, 2).is_err());
}

#[test]
fn log_prob_sums_the_token_log_probs_including_eos() {
    let (_vs, model) = build(&small(cell("lstm_cifg"), Att::Bahdanau), TARGET_VOCAB, 7);
    let source = sources(3, 4);
    let targets = vec![vec![], vec![3, 4], vec![5, 5, 3, 4]];
    let tokens = model.token_log_probs(&source, &targets).unwrap();
    assert_eq!(tokens.iter().map(Vec::len).collect::<Vec<_>>(), [1, 3, 5]);
    // Row by row, with no padding, gives the same numbers.
    for (row, t) in targets.iter().enumerate() {
        let alone = model.log_prob(&source.narrow(0, row as i64, 1), std::slice::from_ref(t)).unwrap()[0];
        assert!((alone - tokens[row].iter().sum::<f64>()).abs() < 1e-5);
        assert!(tokens[row].iter().all(|&lp| lp < 0.0));
    }
}
