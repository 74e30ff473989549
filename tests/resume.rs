//! Checkpoints and exact resume, end to end through the binary.
use std::path::{Path, PathBuf};

mod common;
use common::*;

/// A one-trial LSTM sweep with dropout (so the per-step reseeding matters)
/// whose checkpoints (every 10 steps) fall between logging points (every 4).
const SPEC: &str = "name: resume\ndata:\n  source: {kind: xml, chars: 6000, seed: 3, max_depth: 6}\n\
model: {cell: lstm, hidden: 12, layers: 2, dropout: 0.2}\n\
train: {optimizer: adam, lr: 0.01, batch_size: 4, bptt: 16, steps: 36, eval_every: 12, log_every: 4, checkpoint_every: 10, seed: 7}\n\
device: cpu\n";

fn trial_dir(results: &Path) -> PathBuf {
    let trials = results.join("resume").join("trials");
    std::fs::read_dir(&trials).unwrap().next().unwrap().unwrap().path()
}

#[test]
fn an_interrupted_trial_resumes_to_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("resume.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let sweep = |results: &Path, envs: &[(&str, &str)]| {
        rnnlab_env(&["run", spec.to_str().unwrap(), "--jobs", "1", "--results", results.to_str().unwrap()], envs)
    };

    let whole = tmp.path().join("whole");
    let out = sweep(&whole, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let expected = comparable_metrics(&trial_dir(&whole));

    // Killed after step 28: the last checkpoint is from step 20, so the rows
    // of steps 24 and 28 must be dropped and recomputed.
    let cut = tmp.path().join("cut");
    let out = sweep(&cut, &[("RNNLAB_TEST_ABORT_AFTER_STEP", "28")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let dir = trial_dir(&cut);
    let partial = comparable_metrics(&dir);
    assert!(partial.iter().any(|r| r.step == 28));
    assert!(!partial.iter().any(|r| r.split == "test"));
    let state = std::fs::read_to_string(dir.join("checkpoint-last/state.json")).unwrap();
    assert!(state.contains("\"step\": 20"), "{state}");

    let out = sweep(&cut, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
    assert!(log.contains("resuming from"), "{log}");
    let resumed = comparable_metrics(&dir);
    assert_eq!(resumed.len(), expected.len());
    assert_eq!(resumed, expected);
    // The final status reports the same results too.
    let results = |dir: &Path| {
        let mut r = rnnlab::trial::Status::read(dir).unwrap().result;
        r.shift_remove("tokens_per_s");
        r
    };
    assert_eq!(results(&dir), results(&trial_dir(&whole)));
    assert!(results(&dir).contains_key("train_bpc"));

    // A checkpoint that cannot be read is no dead end: the trial starts over.
    let broken = tmp.path().join("broken");
    let out = sweep(&broken, &[("RNNLAB_TEST_ABORT_AFTER_STEP", "12")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let bdir = trial_dir(&broken);
    std::fs::write(bdir.join("checkpoint-last/model.safetensors"), b"not a tensor file").unwrap();
    let out = sweep(&broken, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let log = std::fs::read_to_string(bdir.join("log.txt")).unwrap();
    assert!(log.contains("starting over"), "{log}");
    assert_eq!(comparable_metrics(&bdir), expected);

    // The checkpoint files are what PyTorch users expect.
    let model = tch::Tensor::read_safetensors(dir.join("checkpoint-best/model.safetensors")).unwrap();
    let names: Vec<&str> = model.iter().map(|(n, _)| n.as_str()).collect();
    for name in ["rnn.weight_ih_l0", "rnn.weight_hh_l1", "head.weight", "head.bias"] {
        assert!(names.contains(&name), "{names:?}");
    }
    for file in ["optimizer.safetensors", "hidden.safetensors", "vocab.json", "model.json", "trial.yaml"] {
        assert!(dir.join("checkpoint-last").join(file).is_file(), "{file}");
    }
}
