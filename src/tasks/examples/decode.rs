//! `rnnlab decode`: a trained example-task model (classifier, tagger,
//! seq2seq) applied to new input, from a trial's checkpoint.
use std::path::Path;

use anyhow::{bail, Context, Result};
use tch::{nn, Device, Tensor};

use super::{ExampleModel, ExampleTask};
use crate::checkpoint;
use crate::data::examples::{Dataset, UNK};
use crate::spec::Spec;
use crate::train::{load_named, named_variables};

/// How to decode a seq2seq model's output.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Beam width; `None` (or 1) decodes greedily.
    pub beam: Option<usize>,
    pub length_norm: f64,
    pub max_length: Option<usize>,
}

/// A trained example-task model with its vocabularies, on the CPU.
pub struct Decoder {
    _vs: nn::VarStore,
    task: &'static dyn ExampleTask,
    model: Box<dyn ExampleModel>,
    /// The vocabularies (the splits are empty).
    symbols: Dataset,
    spec: Spec,
}

impl Decoder {
    /// Opens a checkpoint directory, or a trial directory's best checkpoint
    /// (else its last); returns the decoder and what was loaded.
    pub fn open(path: &Path) -> Result<(Decoder, String)> {
        let dir = checkpoint::of(path)?;
        let trial = crate::spec::sweep::Trial::read(&dir)?;
        let Some(task) = crate::tasks::of(&trial.spec)?.as_examples() else {
            bail!("{} holds a {} model, which reads no examples: use `rnnlab sample`", dir.display(), trial.spec.task);
        };
        let s = checkpoint::read_symbols(&dir)
            .with_context(|| format!("{} has no vocabularies (symbols.json)", dir.display()))?;
        let model_spec = checkpoint::read_model_spec(&dir)?;
        let symbols = super::vocabularies(task, s);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = task.build(&vs.root(), &model_spec, &symbols)?;
        load_named(&named_variables(&vs), checkpoint::read_model(&dir)?, "model")
            .with_context(|| format!("{} does not fit its model.json", dir.display()))?;
        let what = format!("{} ({}), {}", trial.id, trial.variant, dir.display());
        Ok((Decoder { _vs: vs, task, model, symbols, spec: trial.spec }, what))
    }

    /// The name of the model's task.
    pub fn task(&self) -> &'static str {
        self.task.info().name
    }

    /// Whether `--beam` applies (the model writes sequences).
    pub fn decodes_sequences(&self) -> bool {
        self.symbols.shape == crate::spec::Shape::Pairs
    }

    /// The tokens of `text` the model has never seen (they are read as `<unk>`).
    pub fn unknown(&self, text: &str) -> Vec<String> {
        let ids = self.symbols.encode_source(text);
        let tokens: Vec<String> = if self.symbols.joiner.is_empty() {
            text.chars().map(String::from).collect()
        } else {
            text.split_whitespace().map(String::from).collect()
        };
        tokens.into_iter().zip(ids).filter(|(t, id)| *id == UNK && t != "<unk>").map(|(t, _)| t).collect()
    }

    /// The model's answer for one input text: a label (with its
    /// probability), `token/tag` pairs, or the decoded output.
    pub fn decode(&self, text: &str, o: &DecodeOptions) -> Result<String> {
        let mut ids = self.symbols.encode_source(text);
        if ids.is_empty() {
            bail!("the input is empty");
        }
        if self.spec.model.reverse_input {
            ids.reverse();
        }
        let source = Tensor::from_slice(&ids).view([1, ids.len() as i64]);
        tch::no_grad(|| self.model.answer(&ids, &source, &self.symbols, &self.spec, o))
    }
}
