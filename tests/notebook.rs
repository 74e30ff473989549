//! The analysis notebook, executed headless on a tiny variants sweep: it
//! must run, and its SciPy verdicts must agree with `rnnlab report`'s.
mod common;

use std::process::Command;

use common::{python, rnnlab_env, text, write_spec};

#[test]
fn notebook_reproduces_the_report_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "nb",
        "data:\n  source: {kind: xml, chars: 20000}\n  split: {train: 0.8, val: 0.1, test: 0.1}\nmodel: {hidden: 12}\n\
         train: {batch_size: 8, bptt: 32, steps: 30, eval_every: 10, log_every: 10}\ndevice: cpu\n\
         sweep:\n  variants:\n    - {label: vanilla, model.cell: lstm_vanilla}\n    - {label: CIFG, model.cell: lstm_cifg}\n    - {label: GRU, model.cell: gru}\n\
         \x20 random:\n    trials: 4\n    params:\n      train.lr: {log_uniform: [0.001, 0.05]}\n      model.hidden: {int_log_uniform: [8, 24]}\nreport:\n  baseline: vanilla\n  margin: 0.05\n",
    );
    let out = rnnlab_env(&["run", spec.to_str().unwrap(), "--results", tmp.path().to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let exp = tmp.path().join("nb");
    let out = rnnlab_env(&["report", exp.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));

    let run = Command::new(python())
        .args(["scripts/run_notebook.py", "notebooks/variants.ipynb", exp.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python runs");
    assert!(run.status.success(), "notebook failed: {}", text(&run));
    assert!(exp.join("variants.ipynb").exists() && exp.join("plots").join("notebook_box.png").exists());

    // fANOVA (Optuna's evaluator) per variant over the drawn hyperparameters:
    // normalised importances of both. Fails if: the notebook pools the
    // variants (one row set instead of three) or drops a drawn parameter.
    let mut r = csv::Reader::from_path(exp.join("notebook_fanova.csv")).unwrap();
    let fanova: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    for variant in ["vanilla", "CIFG", "GRU"] {
        let rows: Vec<&csv::StringRecord> = fanova.iter().filter(|x| &x[1] == variant).collect();
        let params: Vec<&str> = rows.iter().map(|x| &x[2]).collect();
        assert!(params.contains(&"train.lr") && params.contains(&"model.hidden"), "{variant}: {fanova:?}");
        let sum: f64 = rows.iter().map(|x| x[3].parse::<f64>().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-6, "{variant}: importances sum to {sum}");
    }
    assert!(exp.join("plots").join("notebook_marginals.png").exists());

    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    let mut r = csv::Reader::from_path(exp.join("notebook_verdicts.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let (variant, n, verdict) = (&row[1], &row[2], &row[10]);
        let line = format!("| {variant} | {n} |");
        let in_report = report.lines().find(|l| l.starts_with(&line)).unwrap_or_else(|| panic!("{line} not in report"));
        assert!(in_report.ends_with(&format!("**{verdict}** |")), "notebook says {verdict}, report says {in_report}");
    }
}
