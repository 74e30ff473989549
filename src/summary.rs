//! Summaries rebuilt from whatever trial directories exist: `summary.csv`
//! (one row per trial), `summary.md` and the table printed after a sweep
//! (one row per variant, aggregated over seeds).
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use comfy_table::Table;
use indexmap::IndexMap;

use crate::fsutil::write_atomic;
use crate::layout;
use crate::spec::sweep::{self, Trial};
use crate::tasks::TaskKind;
use crate::trial::{Status, TrialState};

/// A trial directory as found on disk.
#[derive(Debug, Clone)]
pub struct Record {
    pub trial: Trial,
    pub status: Option<Status>,
    pub dir: PathBuf,
}

impl Record {
    /// `finished`, `diverged`, `failed`, or `incomplete` (never ended: killed or still running).
    pub fn state(&self) -> &'static str {
        match self.status.as_ref().map(|s| s.state) {
            Some(TrialState::Running) | None => "incomplete",
            Some(s) => s.as_str(),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.state == TrialState::Finished)
    }

    pub fn result(&self, key: &str) -> Option<f64> {
        self.status.as_ref().and_then(|s| s.result.get(key).copied()).filter(|v| v.is_finite())
    }

    pub fn seed(&self) -> u64 {
        self.trial.spec.train.seed
    }
}

/// Reads every `trials/*/` of an experiment directory, in the order of the
/// experiment's spec when it is there (then any others by id).
pub fn collect(exp_dir: &Path) -> Result<Vec<Record>> {
    let trials_dir = layout::trials_dir(exp_dir);
    let entries = std::fs::read_dir(&trials_dir).with_context(|| {
        format!("{} has no trials/ directory: is it an rnnlab results directory?", exp_dir.display())
    })?;
    let mut records = Vec::new();
    for entry in entries {
        let dir = entry?.path();
        if !dir.is_dir() {
            continue;
        }
        let Ok(trial) = Trial::read(&dir) else {
            continue;
        };
        let status = Status::read(&dir).ok();
        records.push(Record { trial, status, dir });
    }
    if records.is_empty() {
        bail!("no trials found under {}", trials_dir.display());
    }
    let order = spec_order(exp_dir);
    records.sort_by_key(|r| (order.iter().position(|id| *id == r.trial.id).unwrap_or(usize::MAX), r.trial.id.clone()));
    Ok(records)
}

/// The records a committed results directory without `trials/` still
/// describes: each `summary.csv` row, its trial found by id among those
/// `experiment.yaml` expands to, its status rebuilt from the row (state,
/// size, steps, device, time, result columns, message). Their `dir`s do not
/// exist: what needs `metrics.csv` or a checkpoint cannot use them.
pub fn from_summary_csv(exp_dir: &Path) -> Result<Vec<Record>> {
    let path = exp_dir.join(layout::SUMMARY_CSV);
    let spec_path = exp_dir.join(layout::EXPERIMENT_FILE);
    if !spec_path.is_file() {
        bail!(
            "{} has neither trials/ nor {}: cannot tell its trials apart",
            exp_dir.display(),
            layout::EXPERIMENT_FILE
        );
    }
    let (mut trials, baselines) = spec_trials(exp_dir)?;
    trials.extend(baselines);
    let mut reader = csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let header = reader.headers()?.clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    let results_from = col("elapsed_s").map_or(header.len(), |i| i + 1);
    let results_to = col("message").unwrap_or(header.len());
    let mut records = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{}: bad row {}", path.display(), i + 2))?;
        let get = |name: &str| col(name).and_then(|c| row.get(c)).unwrap_or_default();
        let id = get("trial");
        let trial = trials.iter().find(|t| t.id == id).cloned().with_context(|| {
            format!("{}: trial {id} is not one of {}'s trials", path.display(), spec_path.display())
        })?;
        let state = match get("status") {
            "finished" => TrialState::Finished,
            "diverged" => TrialState::Diverged,
            "failed" => TrialState::Failed,
            _ => TrialState::Running,
        };
        let result = (results_from..results_to)
            .filter_map(|c| Some((header.get(c)?.to_string(), row.get(c)?.parse::<f64>().ok()?)))
            .collect();
        let status = Status {
            state,
            message: Some(get("message").to_string()).filter(|m| !m.is_empty()),
            device: get("device").to_string(),
            threads: 0,
            started: 0,
            elapsed_s: get("elapsed_s").parse().unwrap_or(0.0),
            steps: get("steps").parse().unwrap_or(0),
            total_steps: 0,
            params: get("params").parse().unwrap_or(0),
            hidden: get("hidden").parse().unwrap_or(0),
            result,
        };
        let dir = layout::trial_dir(exp_dir, id);
        records.push(Record { trial, status: Some(status), dir });
    }
    if records.is_empty() {
        bail!("{} has no rows", path.display());
    }
    Ok(records)
}

fn spec_order(exp_dir: &Path) -> Vec<String> {
    spec_trials(exp_dir).map(|(trials, _)| trials.into_iter().map(|t| t.id).collect()).unwrap_or_default()
}

/// The trained trials and the baselines' pseudo-trials that an experiment
/// directory's `experiment.yaml` expands to.
fn spec_trials(exp_dir: &Path) -> Result<(Vec<Trial>, Vec<Trial>)> {
    let path = exp_dir.join(layout::EXPERIMENT_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let loaded = crate::tasks::resolve(&crate::spec::parse(&text, &path.display().to_string(), "experiment")?)?;
    Ok((crate::tasks::expand(&loaded)?, crate::spec::baseline::trials(&loaded)?))
}

/// The task of an experiment's trials (of its first trained trial).
pub fn task_of(records: &[Record]) -> &'static dyn TaskKind {
    crate::tasks::of_trials(records.iter().map(|r| &r.trial))
}

/// Result columns of `summary.csv`, in order: those the experiment's task
/// declares ([`crate::metrics::result_columns`]) that some trial has a value
/// for (a language model has no exact-match accuracy, a classifier no bits
/// per character, a run without beam search no beam metrics).
pub fn result_columns(records: &[Record]) -> Vec<String> {
    crate::metrics::result_columns(task_of(records).metrics())
        .into_iter()
        .filter(|k| records.iter().any(|r| r.result(k).is_some()))
        .collect()
}

/// Writes `summary.csv`: one row per trial, swept parameters as columns.
pub fn write_csv(exp_dir: &Path, records: &[Record]) -> Result<PathBuf> {
    let mut params: Vec<String> = Vec::new();
    for r in records {
        for k in r.trial.params.keys().chain(r.trial.sampled.keys()) {
            if k != "train.seed" && !params.contains(k) {
                params.push(k.clone());
            }
        }
    }
    let columns = result_columns(records);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["trial", "variant", "seed", "status"].map(String::from).to_vec();
    header.extend(params.iter().cloned());
    header.extend(["cell", "hidden", "layers", "params", "steps", "device", "elapsed_s"].map(String::from));
    header.extend(columns.iter().cloned());
    header.push("message".into());
    w.write_record(&header)?;
    for r in records {
        let m = &r.trial.spec.model;
        let s = r.status.as_ref();
        let mut row = vec![
            r.trial.id.clone(),
            r.trial.variant.clone(),
            // A fitted baseline has no seed.
            if r.trial.baseline.is_some() { String::new() } else { r.seed().to_string() },
            r.state().to_string(),
        ];
        row.extend(
            params.iter().map(|k| {
                r.trial.params.get(k).or_else(|| r.trial.sampled.get(k)).map(sweep::scalar).unwrap_or_default()
            }),
        );
        if r.trial.baseline.is_some() {
            // A fitted baseline has no cell or layers; its params are n-grams.
            row.extend(["ngram".to_string(), String::new(), String::new()]);
        } else {
            row.push(serde_yaml::to_string(&m.cell)?.trim().to_string());
            row.push(s.map(|s| s.hidden).filter(|&h| h > 0).unwrap_or(m.hidden).to_string());
            row.push(m.layers.to_string());
        }
        row.push(s.map(|s| s.params.to_string()).unwrap_or_default());
        row.push(s.map(|s| s.steps.to_string()).unwrap_or_default());
        row.push(s.map(|s| s.device.clone()).unwrap_or_default());
        row.push(s.map(|s| format!("{:.2}", s.elapsed_s)).unwrap_or_default());
        row.extend(columns.iter().map(|k| r.result(k).map(|v| format!("{v:.6}")).unwrap_or_default()));
        row.push(s.and_then(|s| s.message.clone()).unwrap_or_default());
        w.write_record(&row)?;
    }
    let path = exp_dir.join(layout::SUMMARY_CSV);
    write_atomic(&path, &w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?)?;
    Ok(path)
}

/// Aggregate of one variant over its seeds.
#[derive(Debug, Clone)]
pub struct VariantRow {
    pub variant: String,
    pub total: usize,
    pub finished: usize,
    pub diverged: usize,
    pub params: Option<i64>,
    pub task: &'static dyn TaskKind,
    /// Final values of the finished seeds for each of the task's table
    /// columns ([`TaskKind::table`]) and its default report metric.
    pub values: IndexMap<String, Vec<f64>>,
    pub tokens_per_s: Vec<f64>,
    pub elapsed_s: Vec<f64>,
}

pub fn by_variant(records: &[Record]) -> Vec<VariantRow> {
    let mut groups: IndexMap<String, Vec<&Record>> = IndexMap::new();
    for r in records {
        groups.entry(r.trial.variant.clone()).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(variant, rs)| {
            let done: Vec<&&Record> = rs.iter().filter(|r| r.is_finished()).collect();
            let collect = |k: &str| done.iter().filter_map(|r| r.result(k)).collect::<Vec<f64>>();
            let task = crate::tasks::of_trials(rs.iter().map(|r| &r.trial));
            let mut values: IndexMap<String, Vec<f64>> =
                task.table().iter().map(|&(k, _, _)| (k.to_string(), collect(k))).collect();
            let default = default_metric(task);
            let default_values = collect(&default);
            values.entry(default).or_insert(default_values);
            VariantRow {
                total: rs.len(),
                finished: done.len(),
                diverged: rs.iter().filter(|r| r.state() == "diverged").count(),
                params: rs.iter().find_map(|r| r.status.as_ref().map(|s| s.params)).filter(|&p| p > 0),
                task,
                values,
                tokens_per_s: collect("tokens_per_s"),
                elapsed_s: done.iter().filter_map(|r| r.status.as_ref().map(|s| s.elapsed_s)).collect(),
                variant,
            }
        })
        .collect()
}

pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (n − 1); `None` for fewer than two values.
pub fn std_dev(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    (xs.len() > 1).then(|| (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt())
}

fn fmt_mean(xs: &[f64], digits: usize) -> String {
    match (mean(xs), std_dev(xs)) {
        (Some(m), Some(s)) => format!("{m:.digits$} ± {s:.digits$}"),
        (Some(m), None) => format!("{m:.digits$}"),
        _ => "—".into(),
    }
}

impl VariantRow {
    /// The finished seeds' values of a result column (empty if not tabled).
    pub fn values_of(&self, key: &str) -> &[f64] {
        self.values.get(key).map(|v| v.as_slice()).unwrap_or(&[])
    }
}

/// The result column a report compares by default: `val_` and the
/// metric the task declares as its default.
pub fn default_metric(task: &dyn TaskKind) -> String {
    format!("val_{}", task.default_metric())
}

/// Writes `metrics.json`: the experiment's task and the metrics it declares
/// ([`crate::tasks::describe`]), for tools that read the CSVs.
pub fn write_metrics_json(exp_dir: &Path, records: &[Record]) -> Result<PathBuf> {
    let path = exp_dir.join(crate::layout::METRICS_JSON_FILE);
    let json = serde_json::to_string_pretty(&crate::tasks::describe(task_of(records)))?;
    write_atomic(&path, format!("{json}\n").as_bytes())?;
    Ok(path)
}

/// The task of a per-variant table (of its first variant with a finished trial).
fn task_of_rows(rows: &[VariantRow]) -> &'static dyn TaskKind {
    rows.iter().find(|r| r.finished > 0).or(rows.first()).map_or(crate::tasks::REGISTRY[0], |r| r.task)
}

fn table_rows(rows: &[VariantRow]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    // Columns of the experiment's task; a column no variant has a value
    // for (beam metrics without beam search) is left out, unless no
    // variant has finished at all (the table then shows dashes).
    let task = task_of_rows(rows);
    let any_finished = rows.iter().any(|r| r.finished > 0);
    let columns: Vec<&(&str, &str, usize)> = task
        .table()
        .iter()
        .filter(|(k, _, _)| !any_finished || rows.iter().any(|r| !r.values_of(k).is_empty()))
        .collect();
    let mut header = vec!["variant", "trials ok", "params"];
    header.extend(columns.iter().map(|c| c.1));
    header.extend(["tokens/s", "time/trial"]);
    let body = rows
        .iter()
        .map(|r| {
            let mut ok = format!("{}/{}", r.finished, r.total);
            if r.diverged > 0 {
                ok.push_str(&format!(" ({} diverged)", r.diverged));
            }
            let mut row = vec![r.variant.clone(), ok, r.params.map(|p| p.to_string()).unwrap_or_else(|| "—".into())];
            row.extend(columns.iter().map(|&&(k, _, digits)| fmt_mean(r.values_of(k), digits)));
            row.push(mean(&r.tokens_per_s).map(|v| format!("{v:.0}")).unwrap_or_else(|| "—".into()));
            row.push(mean(&r.elapsed_s).map(|v| format!("{v:.0}s")).unwrap_or_else(|| "—".into()));
            row
        })
        .collect();
    (header, body)
}

/// The per-variant table for the terminal.
pub fn terminal_table(rows: &[VariantRow]) -> String {
    let (header, body) = table_rows(rows);
    let mut t = Table::new();
    t.set_header(header);
    for row in body {
        t.add_row(row);
    }
    t.to_string()
}

/// Writes `summary.md`: the per-variant table (mean ± sd over seeds).
pub fn write_markdown(exp_dir: &Path, name: &str, rows: &[VariantRow]) -> Result<PathBuf> {
    let (header, body) = table_rows(rows);
    let units = task_of_rows(rows).units();
    let mut md = format!(
        "# {name}\n\nFinal metrics per variant, mean ± sample standard deviation over finished seeds \
         ({units}).\n\n| {} |\n|{}|\n",
        header.join(" | "),
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for row in body {
        md.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    let path = exp_dir.join(layout::SUMMARY_MD);
    write_atomic(&path, md.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, 3.0]), Some(2.0));
        assert_eq!(std_dev(&[5.0]), None);
        assert!((std_dev(&[1.0, 2.0, 3.0, 4.0]).unwrap() - 1.2909944487358056).abs() < 1e-12);
        assert_eq!(fmt_mean(&[1.0, 3.0], 2), "2.00 ± 1.41");
    }
}
