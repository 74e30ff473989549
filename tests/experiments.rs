//! The variant-comparison experiments at tiny scale, and `rnnlab report`.
mod common;

use std::path::Path;
use std::process::Output;

use common::{column, rnnlab_env, summary_rows, text, write_spec};

const SMALL_RANDOM: &str =
    "sweep.random.params={train.lr: {log_uniform: [0.003, 0.02]}, model.hidden: {int_log_uniform: [8, 16]}}";

fn run_small(spec: &str, results: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", spec, "--results", results.to_str().unwrap()];
    for s in
        ["train.steps=8", "train.eval_every=4", "train.log_every=4", "sweep.random.trials=2", "data.max_chars=30000"]
    {
        args.extend(["--set", s]);
    }
    for s in extra {
        args.extend(["--set", s]);
    }
    rnnlab_env(&args, &[])
}

/// The Greff et al. variants experiment, shrunk to seconds, then its report.
#[test]
fn greff_variants_run_small_and_report_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_small("experiments/greff_variants.yaml", tmp.path(), &[SMALL_RANDOM]);
    assert!(out.status.success(), "{}", text(&out));
    let exp = tmp.path().join("greff_variants");
    assert_eq!(summary_rows(&exp).len(), 40);
    let out = rnnlab_env(&["report", exp.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    for needle in [
        "## Variants, source=torch-nn-modules",
        "## Variants, source=xml",
        "| vanilla | 2 |",
        "**baseline**",
        "| CIFG | 2 |",
        "TOST p (Holm)",
        "### Hyperparameter importance",
        "| train.lr |",
        "plots/report_box_0.png",
        "plots/report_lr_1.png",
        "### Samples",
        "**vanilla** (`vanilla-",
        "## Methods",
    ] {
        assert!(report.contains(needle), "report.md lacks {needle:?}:\n{report}");
    }
    let verdicts = ["equivalent", "better", "worse", "inconclusive"];
    let rows = report.lines().filter(|l| verdicts.iter().any(|v| l.ends_with(&format!("**{v}** |")))).count();
    assert_eq!(rows, 18, "one verdict per non-baseline variant and dataset:\n{report}");
    for f in ["report_box_0.png", "report_box_1.svg", "report_lr_0.png", "report_curves_1.png"] {
        assert!(exp.join("plots").join(f).exists(), "{f}");
    }
    // Bad report options name the problem.
    let bad = rnnlab_env(&["report", exp.to_str().unwrap(), "--baseline", "LSTM-z"], &[]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("'LSTM-z' is not a variant") && text(&bad).contains("vanilla, NIG"), "{}", text(&bad));
    let bad = rnnlab_env(&["report", exp.to_str().unwrap(), "--margin", "0"], &[]);
    assert!(text(&bad).contains("report.margin: must be a positive"), "{}", text(&bad));
    let bad = rnnlab_env(&["report", exp.to_str().unwrap(), "--metric", "val_bogus"], &[]);
    assert!(text(&bad).contains("unknown metric 'val_bogus'"), "{}", text(&bad));
}

#[test]
fn jozefowicz_tasks_run_small_at_equal_budgets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_small("experiments/jozefowicz.yaml", tmp.path(), &["model.param_budget=3000"]);
    assert!(out.status.success(), "{}", text(&out));
    let exp = tmp.path().join("jozefowicz");
    let params: Vec<f64> = column(&exp, "params").iter().map(|p| p.parse().unwrap()).collect();
    assert_eq!(params.len(), 16);
    for p in &params {
        assert!((p - 3000.0).abs() / 3000.0 < 0.25, "parameter counts near the budget: {params:?}");
    }
    let hidden: Vec<usize> = column(&exp, "hidden").iter().map(|h| h.parse().unwrap()).collect();
    assert!(hidden[0] > hidden[4], "tanh gets more units than the LSTM: {hidden:?}");
    let out = rnnlab_env(&["report", exp.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    assert!(report.contains("Metric: `val_accuracy` (higher is better)"), "{report}");
    assert!(report.contains("## Variants, source=arithmetic") && report.contains("| LSTM-b | 2 |"), "{report}");
}

#[test]
fn reports_exclude_diverged_trials_and_refuse_empty_sweeps() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "div",
        "data:\n  source: {kind: xml, chars: 5000}\nmodel: {cell: rnn_relu, hidden: 16}\n\
train: {optimizer: sgd, clip_grad_norm: null, batch_size: 4, bptt: 16, steps: 20, log_every: 5, eval_every: 10}\n\
device: cpu\nsweep:\n  grid:\n    train.lr: [0.01, 1.0e+12]\n  seeds: [1, 2]\n",
    );
    assert!(rnnlab_env(&["run", spec.to_str().unwrap(), "--results", tmp.path().to_str().unwrap()], &[])
        .status
        .success());
    let exp = tmp.path().join("div");
    let out = rnnlab_env(&["report", exp.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    assert!(report.contains("4 trial directories: 2 finished, 2 diverged"), "{report}");
    assert!(report.contains("Excluded: `1000000000000.0-s1-"), "{report}");

    // A sweep whose every trial crashed has nothing to report.
    let out = rnnlab_env(
        &["run", "experiments/tiny.yaml", "--set", "train.steps=5", "--results", tmp.path().to_str().unwrap()],
        &[("RNNLAB_TEST_CRASH_TRIAL", "")],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = rnnlab_env(&["report", tmp.path().join("tiny").to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no finished trials to report on (6 trial directories"), "{}", text(&out));
}

#[test]
fn a_parameter_budget_too_small_for_any_model_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "b",
        "data:\n  source: {kind: xml, chars: 5000}\nmodel: {param_budget: 50}\ntrain: {steps: 5}\n",
    );
    let results = tmp.path().join("r");
    let out = rnnlab_env(&["run", spec.to_str().unwrap(), "--results", results.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("model.param_budget: 50 parameters is below the smallest"), "{}", text(&out));
    assert!(!results.exists());
}
