//! The trial contract: a trial directory's `trial.yaml` is all `rnnlab
//! run-trial` needs to run, resume and sample a trial — no experiment spec,
//! no `--set`, no sweep — as a Slurm task or another machine has it.
use std::path::{Path, PathBuf};

mod common;
use common::*;

/// One trained trial (checkpoints every 10 steps, logs every 4) and one
/// n-gram baseline.
const SPEC: &str = "name: contract\ndata:\n  source: {kind: xml, chars: 6000, seed: 3, max_depth: 6}\n\
model: {cell: lstm, hidden: 12, dropout: 0.2}\n\
train: {optimizer: adam, lr: 0.01, batch_size: 4, bptt: 16, steps: 36, eval_every: 12, log_every: 4, checkpoint_every: 10, seed: 7}\n\
baselines:\n  - {kind: ngram, order: 3}\n\
device: cpu\n";

fn results(dir: &Path) -> indexmap::IndexMap<String, f64> {
    let mut r = rnnlab::trial::Status::read(dir).unwrap().result;
    r.shift_remove("tokens_per_s");
    r
}

/// The trial directories of an experiment: (trained, baseline).
fn trial_dirs(exp: &Path) -> (PathBuf, PathBuf) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(exp.join("trials")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    let (baseline, trained): (Vec<PathBuf>, Vec<PathBuf>) =
        dirs.into_iter().partition(|d| d.file_name().unwrap().to_str().unwrap().starts_with("ngram-"));
    assert_eq!((trained.len(), baseline.len()), (1, 1), "{trained:?} {baseline:?}");
    (trained[0].clone(), baseline[0].clone())
}

/// A copy of the trial directory's `trial.yaml` alone, in a fresh folder.
fn copy_spec_only(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("trial.yaml"), to.join("trial.yaml")).unwrap();
}

#[test]
fn a_trial_directory_alone_runs_resumes_and_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("contract.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let out = rnnlab(&["run", spec.to_str().unwrap(), "--jobs", "1", "--results", tmp.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let (trained, baseline) = trial_dirs(&tmp.path().join("contract"));
    // Nothing but the trial directories is left: no spec, no experiment.yaml.
    std::fs::remove_file(&spec).unwrap();

    // Elsewhere, from trial.yaml alone, killed after step 28 (the last
    // checkpoint is from step 20), then resumed: the sweep's numbers.
    let moved = tmp.path().join("elsewhere").join("trials");
    let copy = moved.join("lstm");
    copy_spec_only(&trained, &copy);
    let run_trial =
        |dir: &Path, envs: &[(&str, &str)]| rnnlab_env(&["run-trial", dir.to_str().unwrap(), "--threads", "1"], envs);
    let out = run_trial(&copy, &[("RNNLAB_TEST_ABORT_AFTER_STEP", "28")]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(comparable_metrics(&copy).iter().any(|r| r.step == 28));
    let out = run_trial(&copy, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("resuming from"), "{}", text(&out));
    assert_eq!(comparable_metrics(&copy), comparable_metrics(&trained));
    assert_eq!(results(&copy), results(&trained));
    assert_eq!(std::fs::read(copy.join("trial.yaml")).unwrap(), std::fs::read(trained.join("trial.yaml")).unwrap());

    // The baseline's pseudo-trial runs the same way.
    let copy_baseline = moved.join("ngram");
    copy_spec_only(&baseline, &copy_baseline);
    let out = run_trial(&copy_baseline, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(results(&copy_baseline), results(&baseline));

    // Sampling and the summary read the directories alone too.
    let out = rnnlab(&["sample", copy.to_str().unwrap(), "--prime", "<", "--length", "20"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = rnnlab(&["summary", moved.parent().unwrap().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(column(moved.parent().unwrap(), "status"), vec!["finished"; 2]);
}

#[test]
fn run_trial_without_trial_yaml_is_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rnnlab(&["run-trial", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.starts_with("error: "), "{msg}");
    assert_eq!(msg.trim_end().lines().count(), 1, "{msg}");
    assert!(msg.contains(&format!("{} has no trial.yaml", tmp.path().display())), "{msg}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "run-trial wrote into the directory");
}
