//! TensorBoard event files, read back with TensorBoard's own reader and
//! served by a real `tensorboard` (`scripts/tb_dump.py`, in the venv).
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Two cells, one seed; checkpoints (every 10 steps) fall between logging
/// points (every 4), so a kill after step 28 resumes from step 20.
const SPEC: &str = "name: tb\ndata:\n  source: {kind: xml, chars: 6000, seed: 3, max_depth: 6}\n\
model: {hidden: 12}\n\
train: {lr: 0.01, batch_size: 4, bptt: 16, steps: 36, eval_every: 12, log_every: 4, checkpoint_every: 10}\n\
device: cpu\nsweep:\n  grid:\n    model.cell: [lstm, gru]\n  seeds: [7]\n";

fn dump(logdir: &Path, serve: bool) -> serde_json::Value {
    let mut args = vec!["scripts/tb_dump.py", logdir.to_str().unwrap()];
    if serve {
        args.push("--serve");
    }
    let out = Command::new(python()).args(&args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    assert!(out.status.success(), "tb_dump failed: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `metrics.csv` as TensorBoard should show it: `SPLIT/METRIC` → (step, value as f32).
fn expected_scalars(dir: &Path) -> BTreeMap<String, Vec<(u64, f32)>> {
    let mut out: BTreeMap<String, Vec<(u64, f32)>> = BTreeMap::new();
    for row in rnnlab::metrics::read(&dir.join("metrics.csv")).unwrap() {
        out.entry(format!("{}/{}", row.split, row.metric)).or_default().push((row.step as u64, row.value as f32));
    }
    out
}

fn scalars(run: &serde_json::Value) -> BTreeMap<String, Vec<(u64, f32)>> {
    let map = run["scalars"].as_object().unwrap();
    map.iter()
        .map(|(tag, points)| {
            let points = points.as_array().unwrap();
            (tag.clone(), points.iter().map(|p| (p[0].as_u64().unwrap(), p[1].as_f64().unwrap() as f32)).collect())
        })
        .collect()
}

// Fails if: the event file is not rewritten from `metrics.csv` on resume
// (rows of steps 24 and 28 appear twice, or the replay is skipped and
// steps 4–20 are missing), a record's CRC or framing is wrong (the reader
// raises), or the HParams session is malformed.
#[test]
fn every_logged_metric_reaches_tensorboard_once_even_across_a_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "tb", SPEC);
    let results = tmp.path().join("results");
    let run = |envs: &[(&str, &str)]| {
        rnnlab_env(&["run", spec.to_str().unwrap(), "--jobs", "1", "--results", results.to_str().unwrap()], envs)
    };
    let out = run(&[("RNNLAB_TEST_ABORT_AFTER_STEP", "28")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = run(&[]);
    assert!(out.status.success(), "{}", text(&out));

    let exp = results.join("tb");
    let dump = dump(&exp, true);
    let runs = dump["runs"].as_object().unwrap();
    let trials: Vec<PathBuf> = std::fs::read_dir(exp.join("trials")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let mut resumed = 0;
    for dir in &trials {
        let name = format!("trials/{}", dir.file_name().unwrap().to_str().unwrap());
        let run = &runs[&name];
        assert_eq!(run["files"], 1, "{name}: one event file per trial");
        let want = expected_scalars(dir);
        assert!(want["train/loss"].len() == 9 && want["val/bpc"].len() == 3, "{want:?}");
        assert_eq!(scalars(run), want, "{name}");
        let cell = if name.contains("lstm") { "lstm" } else { "gru" };
        assert_eq!(run["hparams"]["model.cell"], cell);
        assert_eq!(run["hparams"]["train.seed"], 7.0);
        assert_eq!(run["hparams"]["model.hidden"], 12.0);
        assert_eq!(run["group"], format!("cell={cell}"));
        assert_eq!(run["status"], "STATUS_SUCCESS");
        resumed += std::fs::read_to_string(dir.join("log.txt")).unwrap().contains("resuming from") as usize;
    }
    assert_eq!(resumed, 2, "both trials were killed after step 28 and resumed");

    // What a browser gets from a real TensorBoard on this results folder.
    let server = &dump["server"];
    let names: Vec<String> =
        trials.iter().map(|d| format!("trials/{}", d.file_name().unwrap().to_str().unwrap())).collect();
    let mut served: Vec<String> =
        server["runs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().into()).collect();
    served.sort();
    let mut names_sorted = names.clone();
    names_sorted.sort();
    assert_eq!(served, names_sorted);
    for name in &names {
        let tags = server["scalar_tags"][name].as_array().unwrap();
        assert!(tags.iter().any(|t| t == "val/bpc") && tags.iter().any(|t| t == "train/loss"), "{tags:?}");
    }
    let hparams = server["hparams"].as_array().unwrap();
    for h in ["model.cell", "train.seed", "variant"] {
        assert!(hparams.iter().any(|x| x == h), "{h} not in the HParams tab: {hparams:?}");
    }
    assert!(server["metrics"].as_array().unwrap().iter().any(|m| m == "val/bpc"));
}
