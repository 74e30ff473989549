//! Metric definitions, metric math and the tidy, append-only `metrics.csv`
//! every trial writes.
//!
//! A metric is declared once, as a [`Metric`], by the task that produces it
//! (see `crate::tasks`) or, for what every training run logs
//! (`grad_norm`, `lr`, `tokens_per_s`, …), in [`TRAINING`]. Summaries,
//! plots, reports and progress lines read those declarations: the unit in
//! axis labels, the direction in verdicts, the default in reports.
//!
//! Rows are `trial,step,split,metric,value` (long form, what pandas'
//! `pivot_table` expects). Each batch of rows goes to the file in one
//! `write` of whole lines, and readers drop a trailing line without a
//! newline, so a killed trial never leaves a truncated row behind.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Lower,
    Higher,
}

/// One metric, declared once by whoever computes it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Metric {
    /// The name in `metrics.csv` (`bpc`); result columns prefix it with the
    /// split (`val_bpc`, `best_val_bpc`).
    pub name: &'static str,
    /// Short unit for axis labels and progress lines (`bits/char`).
    pub unit: &'static str,
    pub direction: Direction,
    /// The metric a report compares by default (as `val_<name>`) and a
    /// progress line shows, when it is also a [`Metric::train`] metric.
    pub default: bool,
    /// A function of the mean loss in nats, if it is one: computed from the
    /// loss wherever a loss is known rather than measured separately.
    #[serde(skip)]
    pub of_loss: Option<fn(f64) -> f64>,
    /// Logged for each training interval and at the best validation step
    /// (`train_<name>`, `best_val_<name>`); such a metric has `of_loss`.
    pub train: bool,
    /// Has a test column in `summary.csv` (validation always has one).
    pub test_column: bool,
}

impl Metric {
    /// A metric measured by evaluation: lower is better, not a default,
    /// validation and test columns.
    pub const fn measured(name: &'static str, unit: &'static str, direction: Direction) -> Metric {
        Metric { name, unit, direction, default: false, of_loss: None, train: false, test_column: true }
    }

    /// The mean cross-entropy every task trains on.
    pub const LOSS: Metric = Metric {
        name: "loss",
        unit: "nats",
        direction: Direction::Lower,
        default: false,
        of_loss: Some(identity),
        train: true,
        test_column: true,
    };

    /// exp(loss), on validation only (a test perplexity adds nothing to the test loss).
    pub const PERPLEXITY: Metric = Metric {
        name: "perplexity",
        unit: "perplexity",
        direction: Direction::Lower,
        default: false,
        of_loss: Some(perplexity),
        train: false,
        test_column: false,
    };

    pub const fn with_default(self) -> Metric {
        Metric { default: true, ..self }
    }

    pub fn lower_is_better(&self) -> bool {
        self.direction == Direction::Lower
    }
}

fn identity(x: f64) -> f64 {
    x
}

/// What every training run logs beside its task's metrics, and the result
/// columns it adds (`best_step`, `tokens_per_s`).
pub const TRAINING: &[Metric] = &[
    Metric::measured("grad_norm", "norm", Direction::Lower),
    Metric::measured("lr", "learning rate", Direction::Lower),
    Metric::measured("epoch", "epochs", Direction::Higher),
    Metric::measured("tokens_per_s", "tokens/s", Direction::Higher),
    Metric::measured("elapsed_s", "s", Direction::Lower),
    Metric::measured("best_step", "step", Direction::Lower),
];

/// The metrics of `defs` logged for training (`train`), each computed from
/// the mean `loss`: `loss` itself, `bpc`, ….
pub fn of_loss(defs: &[Metric], loss: f64) -> impl Iterator<Item = (&'static str, f64)> + '_ {
    defs.iter().filter(|m| m.train).filter_map(move |m| Some((m.name, (m.of_loss?)(loss))))
}

/// A task's metrics for one evaluation, in declaration order: those with
/// `of_loss` computed from `loss`, the others taken from `measured` (and
/// left out when not measured, e.g. beam metrics without beam search).
pub fn complete(defs: &[Metric], loss: f64, measured: &[(&str, f64)]) -> Vec<(String, f64)> {
    defs.iter()
        .filter_map(|m| match m.of_loss {
            Some(f) => Some((m.name.to_string(), f(loss))),
            None => measured.iter().find(|(n, _)| *n == m.name).map(|&(_, v)| (m.name.to_string(), v)),
        })
        .collect()
}

/// The definition behind a result column or logged metric name of a task
/// whose metrics are `defs`: `val_bpc`, `best_val_loss`, `test_len12_accuracy`
/// and `tokens_per_s` all resolve to the metric they are a value of.
pub fn lookup<'d>(defs: &'d [Metric], column: &str) -> Option<&'d Metric> {
    let mut name = column;
    for prefix in ["best_val_", "train_", "val_", "test_"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest;
            break;
        }
    }
    if let Some(rest) = name.strip_prefix("len") {
        if let Some((digits, base)) = rest.split_once('_') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                name = base;
            }
        }
    }
    defs.iter().chain(TRAINING).find(|m| m.name == name)
}

/// The result columns (`summary.csv`, `status.json`) of a task whose
/// metrics are `defs`, in order: training, validation, best validation,
/// the best step, test, throughput.
pub fn result_columns(defs: &[Metric]) -> Vec<String> {
    let mut columns: Vec<String> = defs.iter().filter(|m| m.train).map(|m| format!("train_{}", m.name)).collect();
    columns.extend(defs.iter().map(|m| format!("val_{}", m.name)));
    columns.extend(defs.iter().filter(|m| m.train).map(|m| format!("best_val_{}", m.name)));
    columns.push("best_step".into());
    columns.extend(defs.iter().filter(|m| m.test_column).map(|m| format!("test_{}", m.name)));
    columns.push("tokens_per_s".into());
    columns
}

pub const HEADER: [&str; 5] = ["trial", "step", "split", "metric", "value"];

/// Bits per character from nats per character.
pub fn bits(nats: f64) -> f64 {
    nats / std::f64::consts::LN_2
}

pub fn perplexity(nats: f64) -> f64 {
    nats.exp()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub trial: String,
    pub step: usize,
    pub split: String,
    pub metric: String,
    pub value: f64,
}

pub struct MetricsLog {
    file: File,
    trial: String,
    rows: usize,
}

impl MetricsLog {
    /// Starts a fresh `metrics.csv` (replacing any from an earlier attempt).
    pub fn create(path: &Path, trial: &str) -> Result<MetricsLog> {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(format!("{}\n", HEADER.join(",")).as_bytes())?;
        Ok(MetricsLog { file, trial: trial.to_string(), rows: 0 })
    }

    /// Continues a `metrics.csv` from its first `keep` rows (those written
    /// up to a checkpoint), dropping any written after it by the attempt
    /// that died, so the resumed file has no duplicates.
    pub fn resume(path: &Path, trial: &str, keep: usize) -> Result<MetricsLog> {
        let rows = read(path)?;
        if rows.len() < keep {
            anyhow::bail!(
                "{} has {} rows, fewer than the {keep} the checkpoint was taken after",
                path.display(),
                rows.len()
            );
        }
        // The header is written by hand: a writer that writes it with the
        // first row would leave none when no row is kept (a checkpoint
        // taken before the first log).
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        w.write_record(HEADER)?;
        for row in &rows[..keep] {
            w.serialize(row)?;
        }
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
        crate::fsutil::write_atomic(path, &bytes)?;
        let file =
            OpenOptions::new().append(true).open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok(MetricsLog { file, trial: trial.to_string(), rows: keep })
    }

    /// Rows written so far (by this and any resumed-from attempt).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row per metric, all in a single write.
    pub fn write<S: AsRef<str>>(&mut self, step: usize, split: &str, metrics: &[(S, f64)]) -> Result<()> {
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        for (metric, value) in metrics {
            w.serialize(Row {
                trial: self.trial.clone(),
                step,
                split: split.to_string(),
                metric: metric.as_ref().to_string(),
                value: *value,
            })?;
        }
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
        self.file.write_all(&bytes).context("writing metrics.csv")?;
        self.file.flush()?;
        self.rows += metrics.len();
        Ok(())
    }
}

/// Reads a `metrics.csv`, ignoring a trailing partial line.
pub fn read(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut rows = Vec::new();
    for (i, row) in csv::Reader::from_reader(complete.as_bytes()).deserialize().enumerate() {
        rows.push(row.with_context(|| format!("{}: bad row {}", path.display(), i + 2))?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert!((bits(std::f64::consts::LN_2) - 1.0).abs() < 1e-12);
        assert!((perplexity(0.0) - 1.0).abs() < 1e-12);
        // A uniform guess over 96 symbols: ln 96 nats = log2 96 bits, perplexity 96.
        let nats = 96f64.ln();
        assert!((bits(nats) - 96f64.log2()).abs() < 1e-12);
        assert!((perplexity(nats) - 96.0).abs() < 1e-9);
    }

    #[test]
    fn round_trip_and_truncated_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::create(&path, "t1").unwrap();
        log.write(10, "train", &[("loss", 1.5), ("lr", 0.001)]).unwrap();
        log.write(20, "val", &[("loss", f64::NAN)]).unwrap();
        drop(log);
        let rows = read(&path).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].metric, "lr");
        assert!(rows[2].value.is_nan());
        // Simulate a crash mid-row: the partial line is ignored.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"t1,30,tra").unwrap();
        assert_eq!(read(&path).unwrap().len(), 3);
        // Resuming keeps the first rows and appends after them.
        let mut log = MetricsLog::resume(&path, "t1", 2).unwrap();
        log.write(20, "val", &[("loss", 2.0)]).unwrap();
        let rows = read(&path).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[2].step, rows[2].value), (20, 2.0));
        assert!(MetricsLog::resume(&path, "t1", 9).is_err());
    }

    /// A checkpoint taken before the first log keeps no rows; the resumed
    /// file still starts with the header. (Fails if `resume` lets the csv
    /// writer write the header with the first row, as it did.)
    #[test]
    fn resuming_from_no_rows_keeps_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::create(&path, "t1").unwrap();
        log.write(10, "train", &[("loss", 1.5)]).unwrap();
        drop(log);
        let mut log = MetricsLog::resume(&path, "t1", 0).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("trial,step,split,metric,value\n"));
        log.write(10, "train", &[("loss", 2.5)]).unwrap();
        let rows = read(&path).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].step, rows[0].value), (10, 2.5));
    }
}
