//! The character language model's objective: stateful truncated BPTT over
//! contiguous streams (as in char-rnn), the hidden state carried from one
//! window to the next and reset at each epoch.
use anyhow::Result;
use tch::{nn, Device, Kind, Tensor};

use crate::data::{Corpus, Split, Streams, Windows};
use crate::metrics::Metric;
use crate::model::{self, CharRnn, RecurrentState};
use crate::spec::{ModelSpec, Spec};
use crate::train::packed::PackWindow;
use crate::train::{load_named, state_tensors, Batch, Eval, EvalSplit, Objective};

pub struct LmObjective<'a> {
    spec: &'a Spec,
    corpus: &'a Corpus,
    metrics: &'static [Metric],
    device: Device,
    model: CharRnn,
    windows: Windows,
    state: RecurrentState,
}

impl<'a> LmObjective<'a> {
    /// Builds the model `model_spec` describes under `vs`.
    pub fn new(
        spec: &'a Spec,
        model_spec: &ModelSpec,
        corpus: &'a Corpus,
        metrics: &'static [Metric],
        vs: &nn::VarStore,
    ) -> Result<LmObjective<'a>> {
        let device = vs.device();
        let model = CharRnn::new(&vs.root(), model_spec, corpus.vocab.len());
        let batch = spec.train.batch_size;
        let windows = Windows::new(Streams::new(&corpus.train, batch), spec.train.bptt, device);
        let state = model.zero_state(batch as i64);
        Ok(LmObjective { spec, corpus, metrics, device, model, windows, state })
    }

    /// Mean loss and accuracy over the scored characters of `split` (its
    /// first `max_chars` if given), read as `batch` parallel streams from a
    /// zero state, without gradients and with dropout off.
    fn evaluate_split(&self, split: &Split, max_chars: Option<usize>) -> Eval {
        let split = split.head(max_chars.unwrap_or(split.len()));
        let batch = self.spec.train.batch_size;
        let streams = Streams::new(&split, batch);
        let chunk = self.spec.train.bptt.max(256) as i64;
        tch::no_grad(|| {
            let (batch, len) = (streams.rows() as i64, streams.columns() as i64);
            let mut state = self.model.zero_state(batch);
            let zero = || Tensor::zeros([], (Kind::Float, self.device));
            let (mut loss, mut correct, mut scored) = (zero(), zero(), zero());
            let mut pos = 0;
            while pos < len - 1 {
                let n = chunk.min(len - 1 - pos);
                let input = streams.inputs(pos as usize, n as usize).to_device(self.device);
                let (logits, next) = self.model.forward(&input, &state, false);
                let target = streams.targets(pos as usize + 1, n as usize).to_device(self.device);
                let (l, c) = model::loss_and_correct(&logits, &target);
                loss += l;
                correct += c;
                scored += target.ne(model::IGNORE).sum(Kind::Float);
                state = next;
                pos += n;
            }
            let chars = f64::try_from(scored).unwrap_or(0.0).max(1.0);
            super::eval_on(
                self.metrics,
                &split,
                f64::try_from(loss).unwrap_or(f64::NAN) / chars,
                f64::try_from(correct).unwrap_or(f64::NAN) / chars,
                chars as usize,
            )
        })
    }
}

impl Objective for LmObjective<'_> {
    fn train_batch(&mut self, _step: usize) -> Batch {
        let window = self.windows.next_window();
        if window.starts_epoch {
            self.state = self.model.zero_state(self.spec.train.batch_size as i64);
        }
        let (logits, state) = self.model.forward(&window.input, &self.state, true);
        let (loss_sum, _) = model::loss_and_correct(&logits, &window.target);
        let scored = window.target.ne(model::IGNORE).sum(Kind::Float);
        // Truncated BPTT: the next window starts from these values, but
        // backpropagates only through itself.
        self.state = state.detach();
        Batch { loss_sum, scored, tokens: window.input.numel() }
    }

    /// Validation reads the first `train.eval_chars` characters (every
    /// pass, so curves compare); test always reads the whole split.
    fn evaluate(&self, split: EvalSplit, _final: bool) -> Eval {
        match split {
            EvalSplit::Val => self.evaluate_split(&self.corpus.val, self.spec.train.eval_chars),
            EvalSplit::Test => self.evaluate_split(&self.corpus.test, None),
        }
    }

    fn has_test(&self) -> bool {
        !self.corpus.test.is_empty()
    }

    fn per_epoch(&self) -> usize {
        self.windows.per_epoch()
    }

    fn position(&self) -> (i64, usize) {
        self.windows.position()
    }

    fn seek(&mut self, offset: i64, epoch: usize) {
        self.windows.seek(offset, epoch);
    }

    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        state_tensors(&self.state)
    }

    fn pack_window(&mut self) -> Option<PackWindow> {
        let window = self.windows.next_window();
        if window.starts_epoch {
            self.state = self.model.zero_state(self.spec.train.batch_size as i64);
        }
        Some(PackWindow { input: window.input, target: window.target, state: self.state.detach() })
    }

    fn pack_done(&mut self, state: RecurrentState) {
        self.state = state;
    }

    fn restore_state(&mut self, named: Vec<(String, Tensor)>) -> Result<()> {
        // A zero state's h and c share storage; restore into separate tensors.
        let zero = self.model.zero_state(self.spec.train.batch_size as i64);
        let state = RecurrentState(zero.0.iter().map(|t| t.copy()).collect());
        load_named(&state_tensors(&state), named, "hidden state")?;
        self.state = state;
        Ok(())
    }
}
