//! Tasks: what a network is trained to do. Each task is one module that
//! implements [`TaskKind`] — the data it reads, the model it builds, its
//! objective (training batches, evaluation), the metrics it declares, its
//! summary columns, plots and report examples — and is listed once in
//! [`REGISTRY`]. The trainer, runner, summaries, plots and reports ask the
//! task; none of them names one.
//!
//! - [`char_lm`]: character language model, truncated BPTT over a text
//!   (and `token_lm`, the same over word tokens: [`char_lm::token`]);
//! - [`classify`]: sequence classification (many-to-one);
//! - [`tag`]: tagging (many-to-many, aligned);
//! - [`seq2seq`]: encoder–decoder (many-to-many, unaligned);
//! - [`examples`]: what the three example tasks share (bucketed batches,
//!   tallies, the recurrent encoder, `rnnlab decode`).
//!
//! To add a task: a module implementing [`TaskKind`] (or, for a task that
//! reads examples, [`examples::ExampleTask`], which makes it one) plus one
//! line in [`REGISTRY`]; see `toy.rs`, a task that exists only in the tests.
pub mod char_lm;
pub mod classify;
pub mod examples;
pub mod seq2seq;
pub mod tag;
#[cfg(test)]
mod toy;

use std::path::PathBuf;

use anyhow::Result;
use tch::nn;

use crate::metrics::Metric;
use crate::spec::sweep::{self, Trial};
use crate::spec::{Loaded, ModelSpec, Shape, Spec, SpecError};
use crate::train::Objective;

/// Every task, by name; the first is the default of a spec without `task:`.
pub static REGISTRY: &[&dyn TaskKind] = &[
    &char_lm::CharLm,
    &char_lm::token::TokenLm,
    &classify::Classify,
    &tag::Tag,
    &seq2seq::Seq2seqTask,
    #[cfg(test)]
    &toy::FirstToken,
];

/// A `summary.md` column: (result column, header, digits).
pub type Column = (&'static str, &'static str, usize);

/// What a task declares about itself, as data.
#[derive(Debug)]
pub struct TaskInfo {
    /// Its `task:` name.
    pub name: &'static str,
    /// The shape of data it reads (which `data.source.kind`s fit).
    pub shape: Shape,
    /// Its metrics, in the order they are logged; the loss first.
    pub metrics: &'static [Metric],
    /// The per-variant table's metric columns.
    pub table: &'static [Column],
    /// The units sentence under `summary.md`'s title.
    pub units: &'static str,
    /// Metrics the final test evaluation breaks down by source length
    /// (`len{N}_<metric>` rows); empty if it has none.
    pub by_length: &'static [&'static str],
}

/// One task: everything about it that is not the shared training loop.
pub trait TaskKind: Sync {
    /// Its declarations: name, data shape, metrics, table, units.
    fn info(&self) -> &'static TaskInfo;
    fn name(&self) -> &'static str {
        self.info().name
    }
    fn shape(&self) -> Shape {
        self.info().shape
    }
    fn metrics(&self) -> &'static [Metric] {
        self.info().metrics
    }
    fn table(&self) -> &'static [Column] {
        self.info().table
    }
    fn units(&self) -> &'static str {
        self.info().units
    }
    fn by_length(&self) -> &'static [&'static str] {
        self.info().by_length
    }
    /// The name of the metric it declares as its default (reports compare
    /// `val_<name>`).
    fn default_metric(&self) -> &'static str {
        self.metrics().iter().find(|m| m.default).map_or("loss", |m| m.name)
    }
    /// Whether its trials can train as packs (`sweep.pack`): its data's
    /// [`TaskData::packed_model`] and objective support it. Trials of
    /// other tasks always train alone, whatever `sweep.pack` says.
    fn packs(&self) -> bool {
        false
    }
    /// Checks of a spec of this task beyond the ones every spec gets:
    /// `(field, message)` of the first problem.
    fn check(&self, _spec: &Spec) -> Result<(), (String, String)> {
        Ok(())
    }
    /// Spec options only this task reads, set in `spec` away from their
    /// defaults: `(field, why another task refuses it)`.
    fn own_options(&self, _spec: &Spec) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Reads (or generates) and splits the data of `spec`.
    fn load(&'static self, spec: &Spec) -> Result<Box<dyn TaskData>>;
    /// What must be equal for two trials to share loaded data (the
    /// validation stage loads each distinct one once).
    fn data_key(&self, spec: &Spec) -> String {
        serde_json::to_string(&spec.data).unwrap_or_default()
    }
    /// The standard plots of an experiment of this task.
    fn plots(&self) -> Vec<PlotSpec>;
    /// A report section showing what each variant's best trial produces
    /// (text samples, answered test examples), as markdown; `None` if
    /// nothing could be produced.
    fn report_examples(&self, best: &[BestTrial]) -> Option<String>;
    /// The task as an example task, if it is one (for `rnnlab decode`).
    fn as_examples(&self) -> Option<&dyn examples::ExampleTask> {
        None
    }
}

impl std::fmt::Debug for dyn TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task {}", self.name())
    }
}

/// Loaded data of one task, ready to train on.
pub trait TaskData {
    /// The model a trial trains on this data: `hidden` solved from
    /// `param_budget` when one is given.
    fn resolve_model(&self, spec: &Spec) -> Result<ModelSpec>;
    /// Builds the model under `vs` and the objective that trains it;
    /// returns it with the model as built. Called right after the trainer
    /// seeds libtorch: every draw here is part of the trial's numbers.
    fn objective<'a>(&'a self, spec: &'a Spec, vs: &nn::VarStore) -> Result<(Box<dyn Objective + 'a>, ModelSpec)>;
    /// Files a checkpoint needs beside the weights to be used on its own
    /// (vocabularies): `(file name, contents)`.
    fn checkpoint_files(&self) -> Result<Vec<(&'static str, String)>>;
    /// The models of trials that train `model` on this data, run as one
    /// (`rnnlab run-pack`); `None` where this task's models cannot be packed.
    fn packed_model(&self, _model: &ModelSpec) -> Option<crate::model::pack::PackedCharRnn> {
        None
    }
}

/// A plot an experiment's task asks for; [`crate::plot`] draws it.
#[derive(Debug, Clone)]
pub enum PlotSpec {
    /// `split`/`metric` curves against the step, one per variant (mean over
    /// seeds, band = min–max), into `plots/<file>.{png,svg}`. With
    /// `baselines`, the baselines' `val_<metric>` as dashed lines.
    Curves { file: String, split: &'static str, metric: String, title: String, y_label: String, baselines: bool },
    /// A result column's final value per variant.
    Final { column: String, y_label: String },
    /// Test `len{N}_<metric>` against N, one curve per variant.
    ByLength { metric: String },
}

/// The best trial of one variant, for [`TaskKind::report_examples`].
pub struct BestTrial<'a> {
    pub variant: String,
    pub dir: PathBuf,
    pub trial: &'a Trial,
}

/// The task named `name`.
pub fn get(name: &str) -> Result<&'static dyn TaskKind, String> {
    REGISTRY.iter().copied().find(|t| t.name() == name).ok_or_else(|| {
        let known: Vec<&str> = REGISTRY.iter().map(|t| t.name()).collect();
        format!("unknown task '{name}'; known: {}", known.join(", "))
    })
}

/// The task of a resolved spec (validated when the spec was planned).
pub fn of(spec: &Spec) -> Result<&'static dyn TaskKind> {
    get(&spec.task).map_err(|e| anyhow::anyhow!("task: {e}"))
}

/// The task of a trial directory set, for summaries of old results: the
/// first trained trial's, else the default task.
pub fn of_trials<'t>(trials: impl IntoIterator<Item = &'t Trial>) -> &'static dyn TaskKind {
    // A trained trial's task; a group of baselines only (one variant of the
    // summary table) has its experiment's task too.
    let mut first = None;
    for t in trials {
        if t.baseline.is_none() {
            return get(&t.spec.task).unwrap_or(REGISTRY[0]);
        }
        first = first.or(Some(t));
    }
    first.and_then(|t| get(&t.spec.task).ok()).unwrap_or(REGISTRY[0])
}

/// Puts the default task into a spec that names none, and checks the name.
pub fn resolve(loaded: &Loaded) -> Result<Loaded, SpecError> {
    let mut loaded = loaded.clone();
    if loaded.spec.task.is_empty() {
        loaded.spec.task = REGISTRY[0].name().to_string();
    }
    get(&loaded.spec.task).map_err(|e| loaded.error("task", e))?;
    Ok(loaded)
}

/// Every check of one resolved spec: those every spec gets, its source's,
/// its task's, and no option that only another task reads.
pub fn check(spec: &Spec) -> Result<(), (String, String)> {
    spec.check()?;
    let task = get(&spec.task).map_err(|e| ("task".to_string(), e))?;
    crate::data::check_source(&spec.data.source)?;
    let shape = spec.data.source.shape();
    if shape != task.shape() {
        let providers: Vec<&str> = REGISTRY.iter().filter(|t| t.shape() == shape).map(|t| t.name()).collect();
        return Err((
            "data.source.kind".into(),
            format!(
                "source '{}' provides data for task {}, but the task is {} (set `task:` or pick a source: {})",
                spec.data.source.kind(),
                providers.join(" or "),
                task.name(),
                task.shape().source_kinds().join(", ")
            ),
        ));
    }
    for other in REGISTRY.iter().filter(|t| t.name() != task.name()) {
        if let Some((field, why)) = other.own_options(spec).into_iter().next() {
            return Err((field.to_string(), format!("{why} (task is {})", task.name())));
        }
    }
    task.check(spec)
}

/// The trials of a spec (with its default task put in), every check applied.
pub fn expand(loaded: &Loaded) -> Result<Vec<Trial>, SpecError> {
    sweep::expand_with(&resolve(loaded)?, &check)
}

/// A trial's final value of its task's default metric with its unit, as a
/// sweep prints it when the trial ends (`val 2.345 bits/char`); empty if
/// the trial has none.
pub fn headline(trial: &Trial, result: &indexmap::IndexMap<String, f64>) -> String {
    let Ok(task) = of(&trial.spec) else { return String::new() };
    let name = task.default_metric();
    let unit = task.metrics().iter().find(|m| m.name == name).map_or("", |m| m.unit);
    result.get(&format!("val_{name}")).map(|v| format!("val {v:.3} {unit}")).unwrap_or_default()
}

/// A task's declarations as JSON, for tools outside rnnlab (the notebook
/// reads them from an experiment's `metrics.json`): its name, the metrics
/// it logs with their unit and direction, the default report column and
/// the result columns.
pub fn describe(task: &dyn TaskKind) -> serde_json::Value {
    let metrics: Vec<&Metric> = task.metrics().iter().chain(crate::metrics::TRAINING).collect();
    serde_json::json!({
        "task": task.name(),
        "shape": task.shape(),
        "default_metric": format!("val_{}", task.default_metric()),
        "metrics": metrics,
        "result_columns": crate::metrics::result_columns(task.metrics()),
    })
}

/// What `rnnlab tasks` prints: every task (or the one named) with the
/// sources it reads and the metrics it logs, or the same as JSON (for one
/// task, what an experiment's `metrics.json` holds).
pub fn listing(name: Option<&str>, json: bool) -> Result<String> {
    let chosen: Vec<&dyn TaskKind> = match name {
        Some(n) => vec![get(n).map_err(|e| anyhow::anyhow!(e))?],
        None => REGISTRY.to_vec(),
    };
    if json {
        let described: Vec<serde_json::Value> = chosen.iter().map(|&t| describe(t)).collect();
        let value = if name.is_some() { described[0].clone() } else { serde_json::Value::from(described) };
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    let mut out = String::new();
    for t in chosen {
        out.push_str(&format!("{}  (sources: {})\n", t.name(), t.shape().source_kinds().join(", ")));
        for m in t.metrics() {
            let default = if m.default { "  [default]" } else { "" };
            let better = if m.lower_is_better() { "lower is better" } else { "higher is better" };
            out.push_str(&format!("    {:<22} {:<24} {better}{default}\n", m.name, m.unit));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_default_comes_first() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|t| t.name()).collect();
        assert_eq!(names[0], "char_lm");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        assert!(get("transformer").unwrap_err().contains("known: char_lm, token_lm, classify, tag, seq2seq"));
    }

    #[test]
    fn the_listing_shows_every_task_and_its_declarations() {
        let text = listing(None, false).unwrap();
        for t in REGISTRY {
            assert!(text.contains(&format!("{}  (sources: ", t.name())), "{text}");
        }
        assert_eq!(text.matches("[default]").count(), REGISTRY.len());
        let json: serde_json::Value = serde_json::from_str(&listing(Some("seq2seq"), true).unwrap()).unwrap();
        assert_eq!(json["default_metric"], "val_exact_accuracy");
        assert_eq!(json["metrics"][0]["direction"], "lower");
        assert!(listing(Some("nope"), false).unwrap_err().to_string().contains("unknown task 'nope'"));
    }

    #[test]
    fn every_task_declares_one_loss_and_a_default() {
        for t in REGISTRY {
            let metrics = t.metrics();
            assert_eq!(metrics[0].name, "loss", "{}", t.name());
            assert_eq!(metrics.iter().filter(|m| m.default).count(), 1, "{}", t.name());
            for (column, _, _) in t.table() {
                assert!(crate::metrics::lookup(metrics, column).is_some(), "{}: {column}", t.name());
            }
        }
    }
}
