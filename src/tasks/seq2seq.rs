//! The encoder–decoder of Sutskever, Vinyals & Le (2014), with optional
//! attention, teacher forcing and greedy and beam-search decoding.
//!
//! ```text
//! source ─ embedding/one-hot ─ encoder stack ─┬─ outputs [B, S, dirs·H]  (the memory)
//!                                             └─ final state ─ bridge ─ decoder's initial state
//! <BOS> y_1 … ─ embedding/one-hot (+ context) ─ decoder stack ─ (attention) ─ dropout ─ out ─ logits
//! ```
//!
//! **Bridge.** The decoder starts from the encoder's final state, "the
//! context" of Sutskever et al. When the encoder has one direction, as many
//! layers as the decoder and state tensors of the same number and sizes
//! (e.g. LSTM → LSTM, GRU → GRU), the state is copied as it is. Otherwise
//! a learned bridge maps it: decoder layer l reads encoder layer
//! min(l, L_enc − 1), both directions side by side (`[B, dirs·H]`); its h is
//! `tanh(Linear(dirs·H → H))` of the encoder's h, its LSTM memory cell c a
//! plain `Linear(dirs·H → H)` of the encoder's c when both stacks are LSTMs
//! (fused or hand-written), and any other state tensor (a c the encoder
//! lacks, the gate state of `lstm_fgr`) starts at zero.
//!
//! **Attention** over the encoder's outputs:
//! - `none`: the decoder reads the embedding of the previous token; the
//!   output layer reads its top layer.
//! - `luong` ("general", without input feeding): `h̃_t = tanh(W_c [c_t; h_t])`
//!   with `c_t` attended from the current top-layer state `h_t`; the output
//!   layer reads `h̃_t`.
//! - `bahdanau` (additive): `c_t` is attended from the previous top-layer
//!   state `s_{t−1}` (the bridged initial state at t = 0), the decoder reads
//!   `[embedding(y_{t−1}); c_t]` and the output layer reads `[s_t; c_t]`.
//!
//! There are no source masks: the caller batches sources of equal length,
//! so no memory position is padding.
//!
//! Parameters: `encoder.embedding.*` / `decoder.embedding.*` (with
//! `input: embedding`), the stacks' PyTorch-named weights directly under
//! `encoder.` and `decoder.`, `bridge.h_l{l}.*` / `bridge.c_l{l}.*`,
//! `attention.*` and `out.*`.
//!
//! Decoding (greedy, beam, and the scores of [`Seq2Seq::log_prob`]) ranges
//! over the whole target vocabulary; a trained model gives `<PAD>` and
//! `<BOS>` no mass.
mod attention;
mod beam;
mod bridge;
mod task;

use anyhow::{bail, Result};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::data::examples::{BOS, EOS};
use crate::model::{InputLayer, Recurrent, RecurrentState, Stack};
use crate::spec::{self, ModelSpec};
use attention::{Bahdanau, Luong, Memory};
use bridge::{Bridge, Side};
pub use task::Seq2seqTask;

#[derive(Debug)]
enum Attention {
    None,
    Luong(Luong),
    Bahdanau(Bahdanau),
}

#[derive(Debug)]
pub struct Seq2Seq {
    target_vocab: i64,
    source_input: InputLayer,
    target_input: InputLayer,
    encoder: Recurrent,
    decoder: Recurrent,
    decoder_layers: i64,
    bridge: Bridge,
    attention: Attention,
    out: nn::Linear,
    dropout: f64,
}

impl Seq2Seq {
    /// Builds encoder (`encoder.*`), decoder (`decoder.*`), bridge,
    /// attention and output layer under `vs`.
    pub fn new(vs: &nn::Path, spec: &ModelSpec, source_vocab: i64, target_vocab: i64) -> Result<Seq2Seq> {
        if target_vocab <= BOS {
            bail!("seq2seq: the target vocabulary needs <PAD>, <EOS> and <BOS> first, got {target_vocab} symbols");
        }
        if source_vocab < 1 {
            bail!("seq2seq: the source vocabulary is empty");
        }
        let hidden = spec.hidden as i64;
        let decoder_cell = spec.decoder_cell.unwrap_or(spec.cell);
        let decoder_layers = spec.decoder_layers.unwrap_or(spec.layers) as i64;
        let dirs = if spec.bidirectional { 2 } else { 1 };
        let source_input = InputLayer::new(vs / "encoder" / "embedding", spec, source_vocab);
        let target_input = InputLayer::new(vs / "decoder" / "embedding", spec, target_vocab);
        let (source_features, target_features) = (source_input.features(), target_input.features());
        let memory = dirs * hidden;
        let decoder_input = match spec.attention {
            spec::Attention::Bahdanau => target_features + memory,
            _ => target_features,
        };
        for (field, cell, input) in
            [("model.cell", spec.cell, source_features), ("model.decoder_cell", decoder_cell, decoder_input)]
        {
            if cell.input_is_hidden && input != hidden {
                bail!("{field}: {cell:?} needs an input of {hidden} features (= hidden), this one has {input}");
            }
        }
        let encoder = Recurrent::from_stack(&(vs / "encoder"), &Stack::of(spec, source_features));
        let decoder_stack = Stack {
            cell: decoder_cell,
            layers: decoder_layers,
            bidirectional: false,
            ..Stack::of(spec, decoder_input)
        };
        let decoder = Recurrent::from_stack(&(vs / "decoder"), &decoder_stack);
        let options = (Kind::Float, vs.device());
        let encoder_side = Side {
            cell: spec.cell,
            layers: spec.layers as i64,
            dirs,
            sizes: bridge::state_sizes(&encoder.zero_state(1, options)),
        };
        let decoder_side = Side {
            cell: decoder_cell,
            layers: decoder_layers,
            dirs: 1,
            sizes: bridge::state_sizes(&decoder.zero_state(1, options)),
        };
        let bridge = Bridge::new(&(vs / "bridge"), &encoder_side, &decoder_side);
        let (attention, read_out) = match spec.attention {
            spec::Attention::None => (Attention::None, hidden),
            spec::Attention::Luong => (Attention::Luong(Luong::new(&(vs / "attention"), memory, hidden)), hidden),
            spec::Attention::Bahdanau => {
                (Attention::Bahdanau(Bahdanau::new(&(vs / "attention"), memory, hidden)), hidden + memory)
            }
        };
        let out = nn::linear(vs / "out", read_out, target_vocab, Default::default());
        Ok(Seq2Seq {
            target_vocab,
            source_input,
            target_input,
            encoder,
            decoder,
            decoder_layers,
            bridge,
            attention,
            out,
            dropout: spec.dropout,
        })
    }

    fn options(&self) -> (Kind, Device) {
        (self.out.ws.kind(), self.out.ws.device())
    }

    /// Training forward pass. `source`: `[batch, S]` ids (already reversed
    /// when the spec says so); `target_in`: `[batch, T]` = `<BOS>` then the
    /// target tokens (padded with PAD). Each step after the first feeds the
    /// true previous token with probability `teacher_forcing`, else the
    /// model's own argmax. Returns logits `[batch, T, target_vocab]`.
    ///
    /// With `teacher_forcing` 1 and no or Luong attention the decoder reads
    /// the whole target in one call; otherwise it runs step by step, and
    /// the coin flips (one per example and step) come from torch's RNG, so
    /// `tch::manual_seed` makes them reproducible.
    pub fn forward(&self, source: &Tensor, target_in: &Tensor, teacher_forcing: f64, train: bool) -> Tensor {
        let (memory, state) = self.encode(source, train);
        if teacher_forcing >= 1.0 && !matches!(self.attention, Attention::Bahdanau(_)) {
            self.decode_all(target_in, &memory, &state, train)
        } else {
            self.decode_steps(target_in, &memory, state, teacher_forcing, train)
        }
    }

    /// Source `[B, S]` → the memory and the decoder's initial state.
    fn encode(&self, source: &Tensor, train: bool) -> (Memory, RecurrentState) {
        let (kind, device) = self.options();
        let x = self.source_input.forward(source, kind);
        let zero = self.encoder.zero_state(source.size()[0], (kind, device));
        let (values, last) = self.encoder.forward(&x, &zero, train);
        let keys = match &self.attention {
            Attention::None => None,
            Attention::Luong(a) => Some(a.keys(&values)),
            Attention::Bahdanau(a) => Some(a.keys(&values)),
        };
        (Memory { values, keys }, self.bridge.forward(&last))
    }

    /// Decoder top-layer outputs `[B, T, H]` → logits `[B, T, V]` (no or Luong attention).
    fn read_out(&self, h: &Tensor, memory: &Memory, train: bool) -> Tensor {
        let h = match &self.attention {
            Attention::Luong(a) => a.attend(h, memory),
            _ => h.shallow_clone(),
        };
        self.out.forward(&h.dropout(self.dropout, train))
    }

    /// The whole target at once under full teacher forcing (no or Luong attention).
    fn decode_all(&self, target_in: &Tensor, memory: &Memory, state: &RecurrentState, train: bool) -> Tensor {
        let x = self.target_input.forward(target_in, self.options().0);
        let (h, _) = self.decoder.forward(&x, state, train);
        self.read_out(&h, memory, train)
    }

    /// One decoder step: previous tokens `[B]` → (logits `[B, V]`, new state).
    fn step(
        &self,
        previous: &Tensor,
        state: &RecurrentState,
        memory: &Memory,
        train: bool,
    ) -> (Tensor, RecurrentState) {
        let x = self.target_input.forward(&previous.unsqueeze(1), self.options().0);
        let (logits, state) = match &self.attention {
            Attention::Bahdanau(a) => {
                let top = state.0[0].get(self.decoder_layers - 1);
                let context = a.context(&top, memory);
                let (s, state) = self.decoder.forward(&Tensor::cat(&[&x, &context], 2), state, train);
                let read = Tensor::cat(&[&s, &context], 2).dropout(self.dropout, train);
                (self.out.forward(&read), state)
            }
            _ => {
                let (h, state) = self.decoder.forward(&x, state, train);
                (self.read_out(&h, memory, train), state)
            }
        };
        (logits.squeeze_dim(1), state)
    }

    /// Step by step, feeding per example the true previous token with
    /// probability `teacher_forcing`, else the previous step's argmax.
    fn decode_steps(
        &self,
        target_in: &Tensor,
        memory: &Memory,
        mut state: RecurrentState,
        teacher_forcing: f64,
        train: bool,
    ) -> Tensor {
        let (batch, time) = target_in.size2().expect("target_in is [batch, T]");
        let mut all = Vec::with_capacity(time as usize);
        let mut previous = target_in.select(1, 0);
        for t in 0..time {
            if t > 0 {
                let truth = target_in.select(1, t);
                let own = || all.last().map(|l: &Tensor| l.detach().argmax(-1, false)).expect("a previous step");
                previous = if teacher_forcing >= 1.0 {
                    truth
                } else if teacher_forcing <= 0.0 {
                    own()
                } else {
                    let forced = Tensor::rand([batch], (Kind::Float, target_in.device())).lt(teacher_forcing);
                    truth.where_self(&forced, &own())
                };
            }
            let (logits, next) = self.step(&previous, &state, memory, train);
            all.push(logits);
            state = next;
        }
        Tensor::stack(&all, 1)
    }

    /// Greedy decoding of a batch of sources `[batch, S]`: per example the
    /// tokens before `<EOS>` (at most `max_len`).
    pub fn greedy(&self, source: &Tensor, max_len: usize) -> Vec<Vec<i64>> {
        tch::no_grad(|| {
            let (memory, mut state) = self.encode(source, false);
            let batch = source.size()[0];
            let mut previous = Tensor::full([batch], BOS, (Kind::Int64, source.device()));
            let mut tokens = vec![Vec::new(); batch as usize];
            let mut ended = vec![false; batch as usize];
            for _ in 0..max_len {
                let (logits, next) = self.step(&previous, &state, &memory, false);
                state = next;
                previous = logits.argmax(-1, false);
                for (i, t) in to_vec_i64(&previous).into_iter().enumerate() {
                    if ended[i] {
                        continue;
                    }
                    if t == EOS {
                        ended[i] = true;
                    } else {
                        tokens[i].push(t);
                    }
                }
                if ended.iter().all(|&e| e) {
                    break;
                }
            }
            tokens
        })
    }

    /// ln P of each target token and then of `<EOS>` under the model
    /// (teacher forced, evaluation mode): per example `target.len() + 1`
    /// values. `source`: `[batch, S]`, one row per target.
    pub fn token_log_probs(&self, source: &Tensor, targets: &[Vec<i64>]) -> Result<Vec<Vec<f64>>> {
        let batch = source.size()[0];
        if batch != targets.len() as i64 {
            bail!("seq2seq scoring: {batch} sources but {} targets", targets.len());
        }
        let longest = targets.iter().map(Vec::len).max().unwrap_or(0);
        if let Some(bad) = targets.iter().flatten().find(|&&t| !(0..self.target_vocab).contains(&t)) {
            bail!("seq2seq scoring: token {bad} is outside the target vocabulary of {}", self.target_vocab);
        }
        let device = source.device();
        // Rows are padded with EOS after their own EOS; the decoder is causal,
        // so what follows a row's end does not change its scores.
        let mut input = Vec::with_capacity(targets.len() * (longest + 1));
        let mut output = Vec::with_capacity(targets.len() * (longest + 1));
        for t in targets {
            let padded = t.iter().copied().chain(std::iter::repeat(EOS)).take(longest + 1);
            input.push(BOS);
            input.extend(padded.clone().take(longest));
            output.extend(padded);
        }
        let shape = [batch, longest as i64 + 1];
        let input = Tensor::from_slice(&input).view(shape).to_device(device);
        let output = Tensor::from_slice(&output).view(shape).to_device(device);
        let logp = tch::no_grad(|| {
            let logits = self.forward(source, &input, 1.0, false);
            logits.log_softmax(-1, Kind::Double).gather(2, &output.unsqueeze(2), false).squeeze_dim(2)
        });
        let rows: Vec<Vec<f64>> = Vec::try_from(&logp.to_device(Device::Cpu))?;
        Ok(rows.into_iter().zip(targets).map(|(row, t)| row[..=t.len()].to_vec()).collect())
    }

    /// ln P(target, `<EOS>` | source) per example: the sums of
    /// [`Seq2Seq::token_log_probs`].
    pub fn log_prob(&self, source: &Tensor, targets: &[Vec<i64>]) -> Result<Vec<f64>> {
        Ok(self.token_log_probs(source, targets)?.iter().map(|row| row.iter().sum()).collect())
    }
}

/// A 1-D int64 tensor's values, on the CPU.
fn to_vec_i64(t: &Tensor) -> Vec<i64> {
    Vec::try_from(&t.to_device(Device::Cpu)).expect("a 1-D int64 tensor")
}

#[cfg(test)]
mod tests;
