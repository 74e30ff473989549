//! Experiment specs: the YAML a user writes, parsed strictly and validated
//! with errors that name the field (and the file line where it can be found).
//!
//! One file describes a sweep: a base trial (`task`, `data`, `model`,
//! `train`, `device`) plus a `sweep` section. [`sweep`] expands it into fully
//! resolved trials; a resolved trial is the same [`Spec`] with an empty sweep,
//! and that is what gets written beside each trial's results.
pub mod baseline;
pub mod build;
mod check;
pub(crate) use check::input_is_hidden_cells;
mod data;
pub mod executor;
mod locate;
mod pack;
pub mod random;
pub mod sweep;

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use crate::device::DeviceSpec;
/// `model.cell` names an entry of the cell registry ([`crate::model::cells`]).
pub use crate::model::{Cell, InputEncoding};
pub use baseline::BaselineSpec;
pub use data::{
    ConlluColumn, DataSpec, Lengths, Shape, Source, SplitFractions, Strings, Tokens, DEFAULT_BUILTIN, DEFAULT_MIN_COUNT,
};
pub use executor::ExecutorSpec;
pub use pack::PackSetting;

/// A whole experiment file (or, with an empty `sweep`, one resolved trial).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Experiment name; results go to `results/<name>/`. Defaults to the file stem.
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What the network is trained to do: the name of a registered task
    /// (`crate::tasks`); empty until the validation stage puts in the
    /// default task.
    #[serde(default)]
    pub task: String,
    pub data: DataSpec,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub train: TrainSpec,
    /// How a seq2seq model's output is decoded in the final evaluation.
    #[serde(default, skip_serializing_if = "DecodeSpec::is_default")]
    pub decode: DecodeSpec,
    #[serde(default)]
    pub device: DeviceSpec,
    #[serde(default, skip_serializing_if = "SweepSpec::is_empty")]
    pub sweep: SweepSpec,
    /// Reference models fitted on the same splits (see [`baseline`]); like
    /// `sweep`, absent from resolved trials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baselines: Vec<BaselineSpec>,
    /// Defaults for `rnnlab report` (not part of any trial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportSpec>,
    /// sbatch options for `rnnlab submit` (not part of any trial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorSpec>,
}

/// How `rnnlab report` compares variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSpec {
    /// A `summary.csv` result column, e.g. `val_bpc`, `test_bpc`,
    /// `val_accuracy`, `val_exact_accuracy`; empty: the task's default
    /// metric (`val_<name>` of the metric it declares as default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub metric: String,
    /// The variant every other is tested against (default: the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Equivalence margin as a fraction of the baseline's mean (0.02 = ±2%).
    pub margin: f64,
    pub alpha: f64,
    /// Swept keys whose values get separate analyses (e.g. `data.source`).
    pub split_by: Vec<String>,
    /// Also compare each variant's best fraction of trials (chosen on the
    /// validation split) with Welch's test, as Greff et al. did (0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top: Option<f64>,
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec { metric: String::new(), baseline: None, margin: 0.02, alpha: 0.05, split_by: vec![], top: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSpec {
    /// The recurrent cell: a name registered in [`crate::model::cells::CELLS`].
    pub cell: Cell,
    pub hidden: usize,
    pub layers: usize,
    pub bidirectional: bool,
    /// Dropout on non-recurrent connections: between stacked layers and
    /// before the output layer (Zaremba et al. 2014). Off in evaluation.
    pub dropout: f64,
    /// Feed each sequence back to front (for a language model: predict the
    /// text right to left).
    pub reverse_input: bool,
    pub input: InputEncoding,
    /// Size of the learned embedding when `input: embedding`.
    pub embedding_size: usize,
    /// Initial forget-gate bias of LSTM cells (Jozefowicz et al.'s LSTM-b
    /// uses 1.0); `null` keeps the default initialisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forget_bias: Option<f64>,
    /// Solve `hidden` so the whole model has about this many parameters
    /// (the `hidden` key is then ignored), so cells compare at equal size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param_budget: Option<usize>,
    /// Seq2seq: attention of the decoder over the encoder's outputs.
    #[serde(skip_serializing_if = "Attention::is_none")]
    pub attention: Attention,
    /// Seq2seq: the decoder's cell (default: `cell`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoder_cell: Option<Cell>,
    /// Seq2seq: the decoder's depth (default: `layers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoder_layers: Option<usize>,
}

/// How a seq2seq decoder looks at the encoder's outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attention {
    /// The encoder's final state is the only context (Sutskever et al. 2014).
    #[default]
    None,
    /// Additive attention from the previous decoder state; the context is
    /// fed into the decoder's input (Bahdanau et al. 2015).
    Bahdanau,
    /// Multiplicative ("general") attention from the current decoder state;
    /// the context and state are combined before the output layer
    /// (Luong et al. 2015, without input feeding).
    Luong,
}

impl Attention {
    pub fn is_none(&self) -> bool {
        *self == Attention::None
    }
}

/// Decoding of a seq2seq model's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeSpec {
    /// Beam width of the final evaluation (1: greedy only). Periodic
    /// validation always decodes greedily; with a width above 1 the final
    /// evaluation reports `beam_*` metrics beside the greedy ones.
    pub beam: usize,
    /// Length normalisation: hypotheses are ranked by ln P / length^alpha.
    pub length_norm: f64,
    /// Longest output, in tokens before `<EOS>` (default: twice the
    /// source length plus 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
}

impl Default for DecodeSpec {
    fn default() -> Self {
        DecodeSpec { beam: 1, length_norm: 1.0, max_length: None }
    }
}

impl DecodeSpec {
    pub fn is_default(&self) -> bool {
        *self == DecodeSpec::default()
    }

    /// The output length limit for a source of `source_len` tokens.
    pub fn max_length_for(&self, source_len: usize) -> usize {
        self.max_length.unwrap_or(2 * source_len + 10)
    }
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec {
            cell: Cell::LSTM,
            hidden: 128,
            layers: 1,
            bidirectional: false,
            dropout: 0.0,
            reverse_input: false,
            input: InputEncoding::Onehot,
            embedding_size: 64,
            forget_bias: None,
            param_budget: None,
            attention: Attention::None,
            decoder_cell: None,
            decoder_layers: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Sgd,
    Momentum,
    Nesterov,
    Adam,
    Rmsprop,
}

/// Learning rate as a function of the step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    Constant,
    /// Multiply by `gamma` every `every` steps.
    Step {
        every: usize,
        gamma: f64,
    },
    /// Multiply by `gamma` every step.
    Exponential {
        gamma: f64,
    },
    /// Cosine from `lr` down to `min_lr` over the run.
    Cosine {
        #[serde(default)]
        min_lr: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    /// Momentum for `momentum`, `nesterov` (default 0.9) and `rmsprop` (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    pub weight_decay: f64,
    pub lr_schedule: LrSchedule,
    /// Clip gradients by their global L2 norm; `null` disables clipping.
    pub clip_grad_norm: Option<f64>,
    pub batch_size: usize,
    /// Truncated-BPTT length; the hidden state is carried across consecutive batches.
    pub bptt: usize,
    /// Budget in optimizer steps; give `steps` or `epochs`, not both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,
    /// Evaluate on the validation split every this many steps (and at the end).
    pub eval_every: usize,
    /// Validate on only the first `eval_chars` characters of the validation
    /// split (every validation pass, so curves stay comparable); the final
    /// test evaluation always reads the whole test split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_chars: Option<usize>,
    /// Log training metrics every this many steps.
    pub log_every: usize,
    /// Save `checkpoint-last/` every this many steps (and after the last
    /// step); defaults to `eval_every`. Does not change the numbers, so it is
    /// not part of the trial id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<usize>,
    pub seed: u64,
    /// Seq2seq: the probability of feeding the decoder the true previous
    /// token rather than its own prediction during training (1 = always,
    /// classic teacher forcing; below 1 = scheduled sampling).
    #[serde(skip_serializing_if = "is_one")]
    pub teacher_forcing: f64,
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            optimizer: OptimizerKind::Adam,
            lr: 2e-3,
            momentum: None,
            weight_decay: 0.0,
            lr_schedule: LrSchedule::Constant,
            clip_grad_norm: Some(5.0),
            batch_size: 32,
            bptt: 64,
            steps: None,
            epochs: None,
            eval_every: 100,
            eval_chars: None,
            log_every: 10,
            checkpoint_every: None,
            seed: 0,
            teacher_forcing: 1.0,
        }
    }
}

impl TrainSpec {
    pub fn checkpoint_every_or_default(&self) -> usize {
        self.checkpoint_every.unwrap_or(self.eval_every).max(1)
    }

    pub fn momentum_or_default(&self) -> f64 {
        self.momentum.unwrap_or(match self.optimizer {
            OptimizerKind::Momentum | OptimizerKind::Nesterov => 0.9,
            _ => 0.0,
        })
    }
}

/// What to sweep: named variants × grid axes over dotted keys × random
/// samples, each run with every seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Named points, e.g. `{label: lstm-b, model.cell: lstm, model.forget_bias: 1.0}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantSpec>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub grid: IndexMap<String, Vec<serde_yaml::Value>>,
    /// Random search: `trials` samples of `params` per variant × grid point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random: Option<random::RandomSpec>,
    /// Training seeds, each run for every point; absent: the base
    /// `train.seed` only. An empty list is refused (it would have run
    /// seed 0 silently).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "nonempty_seeds")]
    pub seeds: Vec<u64>,
    /// Train same-shape trials together as packs (`crate::pack`): `off`
    /// (the default), `auto`, or the largest pack size. Not part of any
    /// trial (ids and `trial.yaml` are the same either way).
    #[serde(default, skip_serializing_if = "PackSetting::is_off")]
    pub pack: PackSetting,
}

fn nonempty_seeds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    let seeds = Vec::<u64>::deserialize(d)?;
    if seeds.is_empty() {
        return Err(serde::de::Error::custom(
            "is an empty list: give at least one seed, or leave sweep.seeds out to run the base train.seed",
        ));
    }
    Ok(seeds)
}

impl SweepSpec {
    pub fn is_empty(&self) -> bool {
        self.variants.is_empty() && self.grid.is_empty() && self.random.is_none() && self.seeds.is_empty()
    }
}

/// A named sweep point: dotted keys and values, and an optional label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(flatten)]
    pub keys: IndexMap<String, serde_yaml::Value>,
}

/// A spec problem, naming the field and, where found, the line in the file.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {field}: {message}{}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct SpecError {
    pub origin: String,
    pub field: String,
    pub message: String,
    pub line: Option<usize>,
}

/// A spec together with the text it came from, for error locations.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub spec: Spec,
    pub origin: String,
    pub source: String,
}

impl Loaded {
    pub fn error(&self, field: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            origin: self.origin.clone(),
            field: field.to_string(),
            message: message.into(),
            line: locate::line_of(&self.source, field),
        }
    }
}

/// Reads and parses a spec file; `name` defaults to the file stem.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let source =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read spec {}: {e}", path.display()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("experiment");
    Ok(parse(&source, &path.display().to_string(), stem)?)
}

/// Parses spec text strictly: unknown keys and wrong types are errors naming the field.
pub fn parse(source: &str, origin: &str, default_name: &str) -> Result<Loaded, SpecError> {
    refuse_duplicate_keys(source, origin)?;
    let de = serde_yaml::Deserializer::from_str(source);
    let mut spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.location().map(|l| l.line()).or_else(|| locate::line_of(source, &field));
        let message = inner.to_string();
        // serde_yaml appends " at line N column M"; we report the line ourselves.
        let message = match message.find(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        SpecError { origin: origin.to_string(), field: field_or_root(&field), message, line }
    })?;
    if spec.name.is_empty() {
        spec.name = default_name.to_string();
    }
    Ok(Loaded { spec, origin: origin.to_string(), source: source.to_string() })
}

/// A key repeated in any mapping is an error, wherever it is: serde's
/// structs refuse one (`model:`), but a map (`sweep.grid`,
/// `sweep.random.params`, a variant) would silently keep the last value.
/// Reading the text into a YAML value first finds them all, since
/// serde_yaml's `Mapping` refuses duplicates.
fn refuse_duplicate_keys(source: &str, origin: &str) -> Result<(), SpecError> {
    let de = serde_yaml::Deserializer::from_str(source);
    match serde_path_to_error::deserialize::<_, serde_yaml::Value>(de) {
        Err(e) if e.inner().to_string().contains("duplicate entry with key ") => {
            let parent = e.path().to_string();
            // serde_yaml writes `<path>: duplicate entry with key "k" at line N column M`.
            let message = e.into_inner().to_string();
            let quoted = message.split("duplicate entry with key ").nth(1).unwrap_or_default();
            let quoted = quoted.split(" at line ").next().unwrap_or_default();
            let key = serde_json::from_str::<String>(quoted).unwrap_or_else(|_| quoted.to_string());
            let field = if parent.is_empty() || parent == "." { key.clone() } else { format!("{parent}.{key}") };
            // The second line that starts with the key (block style); else its parent's.
            let lines: Vec<usize> = source
                .lines()
                .enumerate()
                .filter(|(_, l)| {
                    let l = l.trim_start().trim_start_matches("- ");
                    [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")].iter().any(|k| l.starts_with(k))
                })
                .map(|(i, _)| i + 1)
                .collect();
            let line = lines.get(1).copied().or_else(|| locate::line_of(source, &field));
            Err(SpecError {
                origin: origin.to_string(),
                field,
                message: "is repeated: each key may appear once in a mapping (a map would silently keep only the last)"
                    .into(),
                line,
            })
        }
        // Every other problem is reported, with its field, by the typed parse.
        _ => Ok(()),
    }
}

fn field_or_root(field: &str) -> String {
    if field.is_empty() || field == "." {
        "(top level)".to_string()
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests;
