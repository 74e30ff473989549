//! `rnnlab decode`: a trained classifier, tagger or seq2seq model applied
//! to new input, from a trial's checkpoint.
use std::path::Path;

use anyhow::{bail, Context, Result};
use tch::{nn, Device, Tensor};

use super::data::{Dataset, Symbols, UNK};
use super::objective::TaskModel;
use crate::checkpoint;
use crate::spec::{Spec, Task};
use crate::train::{load_named, named_variables, Which};

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
    model: TaskModel,
    /// The vocabularies (the splits are empty).
    symbols: Dataset,
    spec: Spec,
}

impl Decoder {
    /// Opens a checkpoint directory, or a trial directory's best checkpoint
    /// (else its last); returns the decoder and what was loaded.
    pub fn open(path: &Path) -> Result<(Decoder, String)> {
        let dir = if path.join(crate::layout::MODEL_FILE).is_file() {
            path.to_path_buf()
        } else {
            checkpoint::find(path, Which::Best).or_else(|| checkpoint::find(path, Which::Last)).with_context(|| {
                format!("{} is neither a checkpoint nor a trial directory with a checkpoint", path.display())
            })?
        };
        let trial = checkpoint::read_trial(&dir)?;
        if trial.spec.task == Task::CharLm {
            bail!("{} is a character language model: use `rnnlab sample`", dir.display());
        }
        let s = checkpoint::read_symbols(&dir)
            .with_context(|| format!("{} has no vocabularies (symbols.json)", dir.display()))?;
        let model_spec = checkpoint::read_model_spec(&dir)?;
        let symbols = Dataset {
            task: s.task,
            source: Symbols::new(s.source),
            target: Symbols::new(s.target),
            joiner: if s.joiner.is_empty() { "" } else { " " },
            train: vec![],
            val: vec![],
            test: vec![],
            description: String::new(),
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let model = TaskModel::new(&vs.root(), &model_spec, trial.spec.task, &symbols)?;
        load_named(&named_variables(&vs), checkpoint::read_model(&dir)?, "model")
            .with_context(|| format!("{} does not fit its model.json", dir.display()))?;
        let what = format!("{} ({}), {}", trial.id, trial.variant, dir.display());
        Ok((Decoder { _vs: vs, model, symbols, spec: trial.spec }, what))
    }

    pub fn task(&self) -> Task {
        self.spec.task
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
        let reverse = self.spec.model.reverse_input;
        if reverse {
            ids.reverse();
        }
        let source = Tensor::from_slice(&ids).view([1, ids.len() as i64]);
        tch::no_grad(|| match &self.model {
            TaskModel::Classifier(m) => {
                let probs = m.classify(&source, false).softmax(-1, tch::Kind::Float);
                let best = i64::try_from(probs.argmax(-1, false).get(0))?;
                let p = f64::try_from(probs.get(0).get(best))?;
                Ok(format!("{}\t{p:.3}", self.symbols.target.token(best)))
            }
            TaskModel::Tagger(m) => {
                let mut tags = Vec::<i64>::try_from(m.tag(&source, false).argmax(-1, false).get(0))?;
                if reverse {
                    tags.reverse();
                    ids.reverse();
                }
                let pairs: Vec<String> = ids
                    .iter()
                    .zip(&tags)
                    .map(|(&t, &g)| format!("{}/{}", self.symbols.source.token(t), self.symbols.target.token(g)))
                    .collect();
                Ok(pairs.join(" "))
            }
            TaskModel::Seq2Seq(m) => {
                let max_len = o.max_length.unwrap_or_else(|| self.spec.decode.max_length_for(ids.len()));
                if max_len == 0 {
                    bail!("--max-length must be at least 1");
                }
                let out = match o.beam {
                    Some(width) if width != 1 => m.beam(&source, width, o.length_norm, max_len)?,
                    _ => m.greedy(&source, max_len),
                };
                Ok(self.symbols.target_text(&out[0]))
            }
        })
    }
}
