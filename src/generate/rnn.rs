//! A trained recurrent model, loaded from a checkpoint, as a [`LanguageModel`].
use std::path::Path;
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use tch::{nn, Device, Kind, Tensor};

use super::LanguageModel;
use crate::checkpoint;
use crate::data::Vocab;
use crate::model::{CharRnn, RecurrentState};
use crate::train::{load_named, named_variables};

pub struct RnnLm {
    _vs: nn::VarStore,
    model: CharRnn,
    vocab: Vocab,
}

/// The recurrent state after the text so far, and the next-token log-probabilities.
pub struct RnnState {
    hidden: Rc<RecurrentState>,
    log_probs: Rc<Vec<f32>>,
}

impl Clone for RnnState {
    fn clone(&self) -> Self {
        RnnState { hidden: Rc::clone(&self.hidden), log_probs: Rc::clone(&self.log_probs) }
    }
}

impl RnnLm {
    /// Loads `model.safetensors`, `model.json`, `vocab.json` and `trial.yaml`
    /// of a checkpoint directory (on the CPU).
    pub fn load(dir: &Path) -> Result<RnnLm> {
        let trial = crate::spec::sweep::Trial::read(dir)?;
        if !dir.join(crate::layout::VOCAB_FILE).is_file() {
            bail!(
                "{} holds a {} model, not a language model: apply it with `rnnlab decode`",
                dir.display(),
                trial.spec.task
            );
        }
        if trial.spec.model.reverse_input {
            bail!("{} reads text right to left (model.reverse_input); sampling it is not supported", dir.display());
        }
        let vocab = checkpoint::read_vocab(dir, trial.spec.data.tokens)?;
        let vs = nn::VarStore::new(Device::Cpu);
        // The model as trained (hidden solved from a parameter budget), as `decode` reads it.
        let spec = checkpoint::read_model_spec(dir)?;
        let model = CharRnn::new(&vs.root(), &spec, vocab.len());
        load_named(&named_variables(&vs), checkpoint::read_model(dir)?, "model")
            .with_context(|| format!("{} does not fit its model.json", dir.display()))?;
        Ok(RnnLm { _vs: vs, model, vocab })
    }

    fn read(&self, tokens: &[i64], state: &RecurrentState) -> RnnState {
        tch::no_grad(|| {
            let ids = Tensor::from_slice(tokens).view([1, tokens.len() as i64]);
            let (logits, hidden) = self.model.forward(&ids, state, false);
            let last = logits.get(0).get(tokens.len() as i64 - 1);
            let logp = last.log_softmax(-1, Kind::Float);
            RnnState { hidden: Rc::new(hidden), log_probs: Rc::new(Vec::<f32>::try_from(&logp).unwrap_or_default()) }
        })
    }
}

impl LanguageModel for RnnLm {
    type State = RnnState;

    fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// An empty prime starts from a newline (the start of a line), which the
    /// model needs as a first input; a vocabulary without one needs a prime.
    fn start(&self, prime: &[i64]) -> Result<RnnState> {
        let newline;
        let prime = if prime.is_empty() {
            newline =
                [self.vocab.id('\n').context("this model has no newline in its vocabulary: give a --prime text")?];
            &newline[..]
        } else {
            prime
        };
        Ok(self.read(prime, &self.model.zero_state(1)))
    }

    fn log_probs(&self, state: &RnnState) -> Result<Vec<f32>> {
        if state.log_probs.len() != self.vocab.len() {
            bail!("the model returned no distribution");
        }
        Ok(state.log_probs.as_ref().clone())
    }

    fn advance(&self, state: &RnnState, token: i64) -> Result<RnnState> {
        Ok(self.read(&[token], &state.hidden))
    }
}
