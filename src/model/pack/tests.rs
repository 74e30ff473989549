//! A packed member computes what its unpacked model computes: the same
//! first-step loss and gradients, for every registered cell.
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::{stack_params, PackedCharRnn};
use crate::model::{loss_and_correct, Cell, CharRnn, InputEncoding, RecurrentState, Stack};

const VOCAB: i64 = 11;
const BATCH: i64 = 3;
const TIME: i64 = 5;

/// A member's model (tests run in parallel and share libtorch's
/// generator, so members are told apart by their weights, not by seeds).
fn member(stack: Stack, encoding: InputEncoding) -> (VarStore, CharRnn) {
    let vs = VarStore::new(Device::Cpu);
    let model = CharRnn::with_stack(&vs.root(), encoding, stack.hidden, stack, VOCAB);
    (vs, model)
}

fn sorted(vs: &VarStore) -> Vec<(String, tch::Tensor)> {
    let mut named: Vec<_> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Packs 3 members of `stack`, runs one step from random states, and
/// compares each member's loss and every gradient with its unpacked run.
fn check(stack: Stack, encoding: InputEncoding) {
    let packed_members: Vec<(VarStore, CharRnn)> = (0..3).map(|_| member(stack, encoding)).collect();
    let ids = Tensor::randint(VOCAB, [3, BATCH, TIME], (Kind::Int64, Device::Cpu));
    let target = Tensor::randint(VOCAB, [3, BATCH, TIME], (Kind::Int64, Device::Cpu));
    let states: Vec<RecurrentState> = (0..3)
        .map(|_| {
            let zero = packed_members[0].1.zero_state(BATCH);
            RecurrentState(zero.0.iter().map(|z| Tensor::rand_like(z) - 0.5).collect())
        })
        .collect();
    let named: Vec<Vec<(String, Tensor)>> = packed_members.iter().map(|(vs, _)| sorted(vs)).collect();
    let refs: Vec<&[(String, Tensor)]> = named.iter().map(|n| n.as_slice()).collect();
    let pack = PackedCharRnn::new(encoding, stack.hidden, stack, VOCAB).expect("no dropout");
    let (logits, finals) = pack.forward(&stack_params(&refs), &ids, &states);
    let n = (BATCH * TIME) as f64;
    let losses: Vec<Tensor> = (0..3).map(|k| loss_and_correct(&logits.get(k), &target.get(k)).0 / n).collect();
    Tensor::stack(&losses, 0).sum(Kind::Float).backward();
    for (k, (packed_vs, _)) in packed_members.iter().enumerate() {
        let (mut vs, model) = member(stack, encoding);
        vs.copy(packed_vs).unwrap();
        let (logits, state) = model.forward(&ids.get(k as i64), &states[k], true);
        let loss = loss_and_correct(&logits, &target.get(k as i64)).0 / n;
        loss.backward();
        let what = format!("{} member {k}", stack.cell);
        assert!(max_diff(&loss, &losses[k]) < 1e-5, "{what}: loss {loss:?} vs {:?}", losses[k]);
        for (s, p) in state.0.iter().zip(&finals[k].0) {
            assert!(max_diff(s, p) < 1e-5, "{what}: final state");
        }
        for ((name, a), (_, b)) in sorted(&vs).iter().zip(&named[k]) {
            let d = max_diff(&a.grad(), &b.grad());
            assert!(d < 1e-5, "{what}: gradient of {name} differs by {d}");
        }
    }
}

// Fails if: `hand_written` maps the fused GRU to the lecture's GRU (gru
// member 0: loss 2.368 vs 2.442), or MUT biases are added without
// `unsqueeze(-2)` (mut1 member 0: 2.418 vs 2.463); both checked by hand.
#[test]
fn every_cell_packs_to_its_unpacked_loss_and_gradients() {
    for cell in Cell::all() {
        let encoding = if cell.input_is_hidden { InputEncoding::Embedding } else { InputEncoding::Onehot };
        let stack = Stack { forget_bias: cell.forget_gate.then_some(1.0), ..Stack::new(cell, 0, 6, 2) };
        check(stack, encoding);
    }
}

#[test]
fn bidirectional_stacks_and_embeddings_pack() {
    let vanilla = Cell::named("lstm_vanilla").unwrap();
    check(Stack { bidirectional: true, ..Stack::new(Cell::LSTM, 0, 5, 2) }, InputEncoding::Embedding);
    check(Stack { bidirectional: true, ..Stack::new(vanilla, 0, 4, 1) }, InputEncoding::Onehot);
}

// Fails if: `PackedCharRnn::new` lets dropout through (checked by hand).
#[test]
fn a_stack_with_dropout_does_not_pack() {
    let stack = Stack { dropout: 0.1, ..Stack::new(Cell::LSTM, 0, 4, 2) };
    assert!(PackedCharRnn::new(InputEncoding::Onehot, 4, stack, VOCAB).is_none());
}
