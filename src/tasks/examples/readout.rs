//! The classifier (many-to-one) and the tagger (many-to-many, aligned):
//! input encoding → any recurrent stack of [`crate::model`] → a linear
//! read-out of the final step (classifier) or of every step (tagger).
//! Batches hold sequences of equal length (see [`super`]), so
//! there is no padding and every direction's final output is exact.
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::model::{InputLayer, Recurrent, RecurrentState};
use crate::spec::ModelSpec;

/// Token ids → (one-hot or embedded) → recurrent stack.
#[derive(Debug)]
pub struct Encoder {
    input: InputLayer,
    rnn: Recurrent,
    hidden: i64,
    bidirectional: bool,
    options: (Kind, tch::Device),
}

impl Encoder {
    /// Parameters `embedding.*` (with `input: embedding`) and `rnn.*` under `vs`.
    pub fn new(vs: &nn::Path, spec: &ModelSpec, vocab: usize) -> Encoder {
        let input = InputLayer::new(vs / "embedding", spec, vocab as i64);
        let rnn = Recurrent::new(&(vs / "rnn"), spec, input.features());
        Encoder {
            input,
            rnn,
            hidden: spec.hidden as i64,
            bidirectional: spec.bidirectional,
            options: (Kind::Float, vs.device()),
        }
    }

    pub fn output_size(&self) -> i64 {
        self.rnn.output_size()
    }

    /// `ids` `[batch, time]` → (outputs `[batch, time, hidden·dirs]`, final state), from a zero state.
    pub fn forward(&self, ids: &Tensor, train: bool) -> (Tensor, RecurrentState) {
        let x = self.input.forward(ids, self.options.0);
        let state = self.rnn.zero_state(ids.size()[0], self.options);
        self.rnn.forward(&x, &state, train)
    }

    /// What the whole sequence leaves: the forward direction's output at
    /// the last step, and with a bidirectional stack the backward
    /// direction's output at the first step, concatenated.
    pub fn summary(&self, outputs: &Tensor) -> Tensor {
        let time = outputs.size()[1];
        let last = outputs.select(1, time - 1);
        if !self.bidirectional {
            return last;
        }
        let forward = last.narrow(1, 0, self.hidden);
        let backward = outputs.select(1, 0).narrow(1, self.hidden, self.hidden);
        Tensor::cat(&[forward, backward], 1)
    }
}

/// An encoder with a linear read-out: of the whole sequence's summary
/// (a classifier, many-to-one) or of every step (a tagger, many-to-many).
#[derive(Debug)]
pub struct Readout {
    encoder: Encoder,
    head: nn::Linear,
    dropout: f64,
}

/// Many-to-one: one label per sequence ([`Readout::classify`]).
pub type Classifier = Readout;
/// Many-to-many, aligned: one tag per token ([`Readout::tag`]).
pub type Tagger = Readout;

impl Readout {
    /// Parameters `embedding.*`, `rnn.*` and `head.*` (to `classes` labels or tags) under `vs`.
    pub fn new(vs: &nn::Path, spec: &ModelSpec, vocab: usize, classes: usize) -> Readout {
        let encoder = Encoder::new(vs, spec, vocab);
        let head = nn::linear(vs / "head", encoder.output_size(), classes as i64, Default::default());
        Readout { encoder, head, dropout: spec.dropout }
    }

    /// `ids` `[batch, time]` → logits `[batch, classes]`, from [`Encoder::summary`].
    pub fn classify(&self, ids: &Tensor, train: bool) -> Tensor {
        let (outputs, _) = self.encoder.forward(ids, train);
        self.head.forward(&self.encoder.summary(&outputs).dropout(self.dropout, train))
    }

    /// `ids` `[batch, time]` → logits `[batch, time, classes]`.
    pub fn tag(&self, ids: &Tensor, train: bool) -> Tensor {
        let (outputs, _) = self.encoder.forward(ids, train);
        self.head.forward(&outputs.dropout(self.dropout, train))
    }
}
