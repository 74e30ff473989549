//! The character model: input encoding → recurrent stack → linear read-out.
pub mod fused;

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

pub use fused::{FusedRnn, State};

use crate::spec::{InputEncoding, ModelSpec};

#[derive(Debug)]
pub struct CharRnn {
    vocab: i64,
    embedding: Option<nn::Embedding>,
    rnn: FusedRnn,
    head: nn::Linear,
    dropout: f64,
}

impl CharRnn {
    /// Builds the model's parameters under `vs` (`embedding.*`, `rnn.*`, `head.*`).
    pub fn new(vs: &nn::Path, spec: &ModelSpec, vocab: usize) -> CharRnn {
        let vocab = vocab as i64;
        let (embedding, input) = match spec.input {
            InputEncoding::Onehot => (None, vocab),
            InputEncoding::Embedding => {
                let size = spec.embedding_size as i64;
                (Some(nn::embedding(vs / "embedding", vocab, size, Default::default())), size)
            }
        };
        let rnn = FusedRnn::new(
            &(vs / "rnn"),
            spec.cell,
            input,
            spec.hidden as i64,
            spec.layers as i64,
            spec.bidirectional,
            spec.dropout,
        );
        let head = nn::linear(vs / "head", rnn.output_size(), vocab, Default::default());
        CharRnn { vocab, embedding, rnn, head, dropout: spec.dropout }
    }

    pub fn zero_state(&self, batch: i64) -> State {
        self.rnn.zero_state(batch)
    }

    /// `ids`: `[batch, time]` int64 → (logits `[batch, time, vocab]`, final state).
    pub fn forward(&self, ids: &Tensor, state: &State, train: bool) -> (Tensor, State) {
        let x = match &self.embedding {
            Some(e) => e.forward(ids),
            None => ids.one_hot(self.vocab).to_kind(self.head.ws.kind()),
        };
        let (out, state) = self.rnn.forward(&x, state, train);
        let out = out.dropout(self.dropout, train);
        (self.head.forward(&out), state)
    }
}

/// Number of scalar parameters in a var store.
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}

/// Sum of token cross-entropies (nats) and of correct argmax predictions.
pub fn loss_and_correct(logits: &Tensor, target: &Tensor) -> (Tensor, Tensor) {
    let v = logits.size()[2];
    let flat = logits.view([-1, v]);
    let target = target.reshape([-1]);
    let loss = flat.cross_entropy_loss::<Tensor>(&target, None, tch::Reduction::Sum, -100, 0.0);
    let correct = flat.argmax(-1, false).eq_tensor(&target).to_kind(Kind::Float).sum(Kind::Float);
    (loss, correct)
}
