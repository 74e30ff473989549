//! rnnlab: a research harness for recurrent neural networks.
//!
//! Data flow, one module per stage:
//! [`spec`] (parse, validate, expand the sweep) → [`plan`] (every command's
//! input checked and resolved, data included, before anything is written) →
//! [`data`] (text, vocabulary, splits, BPTT windows) → [`model`] (tch
//! modules) → [`train`] (the loop) → [`trial`] (one trial's directory:
//! metrics CSV, status) → [`runner`] (the sweep, one `rnnlab run-trial`
//! process per trial) → [`summary`], [`plot`] and [`report`], which read only
//! the trial directories. [`layout`] names every file of the results tree.
pub mod baseline;
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod fsutil;
pub mod generate;
pub mod layout;
pub mod lock;
pub mod metrics;
pub mod model;
pub mod ngram;
pub mod pack;
pub mod plan;
pub mod plot;
pub mod report;
pub mod runner;
pub mod signal;
pub mod slurm;
pub mod spec;
pub mod status;
pub mod summary;
pub mod tasks;
pub mod tensorboard;
pub mod train;
pub mod trial;

use std::path::{Path, PathBuf};

/// Rebuilds `summary.csv`, `summary.md` and the plots of an experiment
/// directory from its trial directories; returns the per-variant table and
/// the files written.
pub fn rebuild_outputs(exp_dir: &Path) -> anyhow::Result<(String, Vec<PathBuf>)> {
    write_outputs(exp_dir, &summary::collect(exp_dir)?)
}

/// [`rebuild_outputs`] from trial directories already read.
pub fn write_outputs(exp_dir: &Path, records: &[summary::Record]) -> anyhow::Result<(String, Vec<PathBuf>)> {
    let rows = summary::by_variant(records);
    let name = exp_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut files = vec![
        summary::write_csv(exp_dir, records)?,
        summary::write_markdown(exp_dir, &name, &rows)?,
        summary::write_metrics_json(exp_dir, records)?,
    ];
    files.extend(plot::draw_all(exp_dir, records, &rows)?);
    Ok((summary::terminal_table(&rows), files))
}
