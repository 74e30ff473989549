//! Packed trials end to end: `rnnlab run-pack DIR…` against the same
//! trials run unpacked, a diverging member, and kill -9 then resume.
use std::path::{Path, PathBuf};

mod common;
use common::*;

/// Four trials of one shape that differ in what packs keep per trial:
/// seed (initialisation and nothing else: char LM batches are in order),
/// learning rate and clipping.
fn spec(cell: &str, grid: &str) -> String {
    format!(
        "name: pk\ndata:\n  source: {{kind: xml, chars: 12000, seed: 1, max_depth: 6}}\n\
model: {{cell: {cell}, hidden: 16, layers: 2}}\n\
train: {{optimizer: adam, lr: 0.01, batch_size: 8, bptt: 16, steps: 200, eval_every: 50, log_every: 10, checkpoint_every: 40}}\n\
device: cpu\nsweep:\n  grid:\n{grid}  seeds: [1, 2]\n"
    )
}

const GRID: &str = "    train.lr: [0.01, 0.003]\n";

/// Runs `spec` unpacked (one trial per process) into `root`; returns the trial directories.
fn unpacked(root: &Path, spec: &str) -> Vec<PathBuf> {
    let path = write_spec(root, "pk", spec);
    let results = root.join("unpacked");
    let out = rnnlab(&["run", path.to_str().unwrap(), "--jobs", "2", "--results", results.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    trial_dirs(&results.join("pk"))
}

fn trial_dirs(exp: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(exp.join("trials")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// Fresh trial directories holding only the `trial.yaml`s of `dirs`.
fn copies(dirs: &[PathBuf], into: &Path) -> Vec<PathBuf> {
    dirs.iter()
        .map(|d| {
            let to = into.join(d.file_name().unwrap());
            std::fs::create_dir_all(&to).unwrap();
            std::fs::copy(d.join("trial.yaml"), to.join("trial.yaml")).unwrap();
            to
        })
        .collect()
}

fn run_pack(dirs: &[PathBuf], envs: &[(&str, &str)]) -> std::process::Output {
    let mut args = vec!["run-pack", "--threads", "1"];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    rnnlab_env(&args, envs)
}

fn values(dir: &Path, split: &str, metric: &str) -> Vec<(usize, f64)> {
    comparable_metrics(dir)
        .into_iter()
        .filter(|r| r.split == split && r.metric == metric)
        .map(|r| (r.step, r.value))
        .collect()
}

/// Every packed member's training and validation losses stay within
/// 1e-3 (relative) of its unpacked run over 200 steps, and it ends finished.
fn packed_follows_unpacked(cell: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = unpacked(tmp.path(), &spec(cell, GRID));
    assert_eq!(dirs.len(), 4);
    let packed = copies(&dirs, &tmp.path().join("packed"));
    let out = run_pack(&packed, &[]);
    assert!(out.status.success(), "{}", text(&out));
    for (a, b) in dirs.iter().zip(&packed) {
        for split in ["train", "val"] {
            let (want, got) = (values(a, split, "loss"), values(b, split, "loss"));
            assert_eq!(want.len(), got.len(), "{cell} {split} rows");
            assert!(want.len() >= 4, "{split}: {} rows", want.len());
            for ((step, w), (_, g)) in want.iter().zip(&got) {
                assert!(
                    (w - g).abs() <= 1e-3 * w.abs(),
                    "{cell} {}: {split} loss at step {step}: {w} unpacked, {g} packed",
                    a.display()
                );
            }
        }
        let status = rnnlab::trial::Status::read(b).unwrap();
        assert_eq!(status.state.as_str(), "finished");
        assert!(b.join("checkpoint-best/model.safetensors").is_file());
    }
    // A packed trial's checkpoint is an ordinary one: sampling reads it.
    let out = rnnlab(&["sample", packed[0].to_str().unwrap(), "--length", "20", "--prime", "<"]);
    assert!(out.status.success(), "{}", text(&out));
}

// Fails if: `train::packed::step` backpropagates the members' summed losses
// instead of their means (checked: train loss 3.193 unpacked vs 3.185 packed
// at step 60).
#[test]
fn a_packed_fused_lstm_follows_its_unpacked_runs() {
    packed_follows_unpacked("lstm");
}

#[test]
fn a_packed_hand_written_lstm_follows_its_unpacked_runs() {
    packed_follows_unpacked("lstm_vanilla");
}

// Fails if: `pack::run` does not record a diverged member's end (checked:
// run-pack fails), or if the members' numbers depend on who else is in the
// pack (the diverged member trains on, NaN, until its log step).
#[test]
fn a_diverging_member_leaves_the_others_numbers_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = "    train.lr: [0.01, 1.0e+12]\n";
    let body = spec("rnn_relu", grid)
        .replace("optimizer: adam", "optimizer: sgd, clip_grad_norm: null")
        .replace("seeds: [1, 2]", "seeds: [1]");
    let dirs = unpacked(tmp.path(), &body);
    let pair = copies(&dirs, &tmp.path().join("pair"));
    let out = run_pack(&pair, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let alone = copies(&dirs[..1], &tmp.path().join("alone"));
    let out = run_pack(&alone, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let states: Vec<String> =
        pair.iter().map(|d| rnnlab::trial::Status::read(d).unwrap().state.as_str().to_string()).collect();
    assert_eq!(states, ["finished", "diverged"]);
    assert_eq!(comparable_metrics(&pair[0]), comparable_metrics(&alone[0]));
}

// Fails if: a member resumed from a later checkpoint than another trains
// again the steps it had done (checked: `pack::run` stepping every running
// member from the earliest step fails here).
#[test]
fn a_killed_pack_resumes_to_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = unpacked(tmp.path(), &spec("lstm_vanilla", "    train.lr: [0.01]\n"));
    let whole = copies(&dirs, &tmp.path().join("whole"));
    let out = run_pack(&whole, &[]);
    assert!(out.status.success(), "{}", text(&out));
    // Aborted as soon as the first member wrote step 120's checkpoint:
    // the other member is one checkpoint behind and catches up alone.
    let cut = copies(&dirs, &tmp.path().join("cut"));
    let out = run_pack(&cut, &[("RNNLAB_TEST_ABORT_AT", "checkpoint:120")]);
    assert!(!out.status.success(), "{}", text(&out));
    let out = run_pack(&cut, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("resuming from"), "{}", text(&out));
    for (a, b) in whole.iter().zip(&cut) {
        assert_eq!(comparable_metrics(a), comparable_metrics(b), "{}", b.display());
        let result = |d: &Path| {
            let mut r = rnnlab::trial::Status::read(d).unwrap().result;
            r.shift_remove("tokens_per_s");
            r
        };
        assert_eq!(result(a), result(b));
    }
}

// Fails if: `sweep.pack` or `--pack` changes trial ids (e.g. `pack` left in
// the resolved trial spec), or `pack::group` packs nothing (checked by hand:
// with `group` returning one unit per trial, "packing 2 trials" is missing).
#[test]
fn a_sweep_packs_its_trials_without_changing_their_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let body = spec("gru", GRID).replace("steps: 200", "steps: 40");
    let packed_body = body.replace("sweep:\n", "sweep:\n  pack: 2\n");
    let run = |name: &str, body: &str, args: &[&str]| {
        let path = write_spec(tmp.path(), "pk", body);
        let results = tmp.path().join(name);
        let mut all = vec!["run", path.to_str().unwrap(), "--jobs", "2", "--results", results.to_str().unwrap()];
        all.extend(args);
        let out = rnnlab(&all);
        assert!(out.status.success(), "{}", text(&out));
        (trial_dirs(&results.join("pk")), text(&out))
    };
    let (plain, _) = run("plain", &body, &[]);
    let (by_spec, log) = run("by_spec", &packed_body, &[]);
    assert_eq!(log.matches("packing 2 trials").count(), 2, "{log}");
    let (by_flag, log) = run("by_flag", &body, &["--pack", "4"]);
    assert_eq!(log.matches("packing 4 trials").count(), 1, "{log}");
    let (off, log) = run("off", &packed_body, &["--pack", "off"]);
    assert!(!log.contains("packing"), "{log}");
    let names = |dirs: &[PathBuf]| dirs.iter().map(|d| d.file_name().unwrap().to_owned()).collect::<Vec<_>>();
    for dirs in [&by_spec, &by_flag, &off] {
        assert_eq!(names(dirs), names(&plain));
        for (a, b) in plain.iter().zip(dirs.iter()) {
            assert_eq!(
                std::fs::read_to_string(a.join("trial.yaml")).unwrap(),
                std::fs::read_to_string(b.join("trial.yaml")).unwrap()
            );
            let (want, got) = (values(a, "val", "loss"), values(b, "val", "loss"));
            assert_eq!(want.len(), got.len());
            for ((_, w), (_, g)) in want.iter().zip(&got) {
                assert!((w - g).abs() <= 1e-3 * w.abs(), "{}: {w} vs {g}", b.display());
            }
        }
    }
    let out = rnnlab(&[
        "list",
        write_spec(tmp.path(), "bad", &body.replace("sweep:\n", "sweep:\n  pack: zero\n")).to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("sweep.pack") || text(&out).contains("pack setting"), "{}", text(&out));
}
