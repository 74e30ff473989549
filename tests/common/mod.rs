//! Helpers shared by the end-to-end tests: run the binary, read its CSVs.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_rnnlab");

/// Runs `rnnlab ARGS` in the crate root.
pub fn rnnlab(args: &[&str]) -> Output {
    rnnlab_env(args, &[])
}

/// Runs `rnnlab ARGS` in the crate root with extra environment variables.
pub fn rnnlab_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("rnnlab runs")
}

/// The venv's Python, which `make test` provisions with the pinned PyTorch
/// and the notebook packages (SciPy, TensorBoard, …).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .expect("VIRTUAL_ENV is unset: run the tests with `make test`, which sets up the venv");
    PathBuf::from(venv).join("bin").join("python")
}

/// Stdout then stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub fn write_spec(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, body).unwrap();
    path
}

/// A trial's `metrics.csv` rows without the timing ones, which vary run to run.
pub fn comparable_metrics(dir: &Path) -> Vec<rnnlab::metrics::Row> {
    rnnlab::metrics::read(&dir.join("metrics.csv"))
        .unwrap()
        .into_iter()
        .filter(|r| r.metric != "tokens_per_s" && r.metric != "elapsed_s")
        .collect()
}

pub fn summary_rows(exp: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(exp.join("summary.csv")).unwrap();
    r.records().map(|x| x.unwrap()).collect()
}

pub fn column(exp: &Path, name: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(exp.join("summary.csv")).unwrap();
    let idx = r.headers().unwrap().iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    r.records().map(|x| x.unwrap()[idx].to_string()).collect()
}
