//! Metric math and the tidy, append-only `metrics.csv` every trial writes.
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
        let mut w = csv::Writer::from_writer(Vec::new());
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
}
