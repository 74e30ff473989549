//! Checkpoint directories inside a trial directory (names in [`crate::layout`]):
//!
//! ```text
//! checkpoint-last/  (every train.checkpoint_every steps and after the last step)
//! checkpoint-best/  (at each new best validation loss)
//!   model.safetensors      parameters, PyTorch names (rnn.weight_ih_l0, head.weight, …)
//!   optimizer.safetensors  optimizer buffers (<param>.exp_avg, …) and `step`
//!   hidden.safetensors     the hidden state carried into the next window (h, c)
//!   state.json             step, window position, best validation, interval sums, seed
//!   vocab.json             the tokens (characters or words), in id order (language model)
//!   symbols.json           source and target tokens, in id order (example tasks)
//!   model.json             the model section of the spec as trained (hidden solved from a
//!                          param_budget), as JSON (for tools without YAML)
//!   trial.yaml             the resolved trial spec
//! ```
//!
//! A checkpoint is written into a temporary directory beside its final
//! place and renamed into it, so a killed process leaves either the old
//! checkpoint or the new one: the old one is first renamed to
//! `<name>.old`, which [`find`] falls back to if the kill came between the
//! two renames.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::data::Vocab;
use crate::layout::{
    self, HIDDEN_FILE, MODEL_FILE, MODEL_SPEC_FILE, OPTIMIZER_FILE, STATE_FILE, SYMBOLS_FILE, TRIAL_FILE, VOCAB_FILE,
};
use crate::spec::sweep::Trial;
use crate::spec::{ModelSpec, Tokens};
use crate::train::{Position, Snapshot, Which};

/// `symbols.json` of an example task's checkpoint: its vocabularies, in id
/// order, and how tokens join into text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Symbols {
    /// The task's name.
    pub task: String,
    pub joiner: String,
    pub source: Vec<String>,
    pub target: Vec<String>,
}

pub fn read_symbols(dir: &Path) -> Result<Symbols> {
    read_json(&dir.join(SYMBOLS_FILE))
}

/// `model.json`: the model the checkpoint holds, with `hidden` as trained
/// (solved from `param_budget` when the spec gives a budget).
pub fn read_model_spec(dir: &Path) -> Result<ModelSpec> {
    read_json(&dir.join(MODEL_SPEC_FILE))
}

/// `state.json`: the run's [`Position`] plus what the trial's files need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    #[serde(flatten)]
    pub position: Position,
    /// Rows of `metrics.csv` written when the checkpoint was taken; a
    /// resumed trial keeps exactly these and drops the rest.
    pub metrics_rows: usize,
}

/// Writes `trial_dir/<which>/` whole, replacing the previous one.
pub fn write(
    trial_dir: &Path,
    which: Which,
    snapshot: &Snapshot,
    metrics_rows: usize,
    trial: &Trial,
    files: &[(&str, String)],
    model: &ModelSpec,
) -> Result<PathBuf> {
    let target = layout::checkpoint_dir(trial_dir, which);
    let tmp = tempfile::Builder::new()
        .prefix(&layout::checkpoint_tmp_prefix(which))
        .tempdir_in(trial_dir)
        .with_context(|| format!("cannot write in {}", trial_dir.display()))?;
    let dir = tmp.path();
    let save = |file: &str, named: &[(String, Tensor)]| -> Result<()> {
        Tensor::write_safetensors(named, dir.join(file)).with_context(|| format!("cannot write {file}"))
    };
    save(MODEL_FILE, &snapshot.model)?;
    save(OPTIMIZER_FILE, &snapshot.optimizer)?;
    save(HIDDEN_FILE, &snapshot.hidden)?;
    let state = CheckpointState { position: snapshot.position.clone(), metrics_rows };
    std::fs::write(dir.join(STATE_FILE), serde_json::to_string_pretty(&state)?)?;
    for (file, contents) in files {
        std::fs::write(dir.join(file), contents).with_context(|| format!("cannot write {file}"))?;
    }
    std::fs::write(dir.join(MODEL_SPEC_FILE), serde_json::to_string_pretty(model)?)?;
    std::fs::write(dir.join(TRIAL_FILE), serde_yaml::to_string(trial)?)?;
    for f in std::fs::read_dir(dir)? {
        std::fs::File::open(f?.path())?.sync_all()?;
    }
    let old = layout::old_checkpoint_dir(trial_dir, which);
    if target.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&target, &old).with_context(|| format!("cannot replace {}", target.display()))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, &target).with_context(|| format!("cannot write {}", target.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(target)
}

/// The checkpoint directory `which` of a trial, if one was completed.
pub fn find(trial_dir: &Path, which: Which) -> Option<PathBuf> {
    let dir = layout::checkpoint_dir(trial_dir, which);
    let old = layout::old_checkpoint_dir(trial_dir, which);
    [dir, old].into_iter().find(|d| d.join(STATE_FILE).is_file() && d.join(MODEL_FILE).is_file())
}

/// The checkpoint to use a trained trial by: its best, else its last.
pub fn best_or_last(trial_dir: &Path) -> Option<PathBuf> {
    find(trial_dir, Which::Best).or_else(|| find(trial_dir, Which::Last))
}

/// The checkpoint `path` names: `path` itself if it is one, else a trial
/// directory's [`best_or_last`].
pub fn of(path: &Path) -> Result<PathBuf> {
    if path.join(MODEL_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    best_or_last(path)
        .with_context(|| format!("{} is neither a checkpoint nor a trial directory with a checkpoint", path.display()))
}

/// Deletes a trial's checkpoints (before it is run again from scratch).
pub fn remove_all(trial_dir: &Path) -> Result<()> {
    for which in [Which::Last, Which::Best] {
        for dir in [layout::checkpoint_dir(trial_dir, which), layout::old_checkpoint_dir(trial_dir, which)] {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// Deletes the temporary directories of checkpoints whose writer was
/// killed before renaming them into place (`.checkpoint-last.tmpXXXX`).
/// Only for the process that holds the trial's lock: another's may be
/// writing one.
pub fn remove_temporaries(trial_dir: &Path) -> Result<()> {
    let prefixes = [Which::Last, Which::Best].map(layout::checkpoint_tmp_prefix);
    let Ok(entries) = std::fs::read_dir(trial_dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if prefixes.iter().any(|p| name.to_string_lossy().starts_with(p.as_str())) && entry.path().is_dir() {
            let path = entry.path();
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// A checkpoint read back: the snapshot to restore and the metrics row count.
pub fn read(dir: &Path) -> Result<(Snapshot, usize)> {
    let state: CheckpointState = read_json(&dir.join(STATE_FILE))?;
    let load = |file: &str| {
        let path = dir.join(file);
        Tensor::read_safetensors(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let snapshot = Snapshot {
        model: load(MODEL_FILE)?,
        optimizer: load(OPTIMIZER_FILE)?,
        hidden: load(HIDDEN_FILE)?,
        position: state.position,
    };
    Ok((snapshot, state.metrics_rows))
}

/// The model's parameters only (for generation).
pub fn read_model(dir: &Path) -> Result<Vec<(String, Tensor)>> {
    let path = dir.join(MODEL_FILE);
    Tensor::read_safetensors(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// `vocab.json`: a language model's tokens, in id order (what [`read_vocab`] reads).
pub fn vocab_json(vocab: &Vocab) -> Result<String> {
    Ok(serde_json::to_string(vocab.tokens())?)
}

/// The vocabulary of a checkpoint of a model over `tokens`.
pub fn read_vocab(dir: &Path, tokens: Tokens) -> Result<Vocab> {
    let path = dir.join(VOCAB_FILE);
    Vocab::new(tokens, read_json(&path)?).with_context(|| format!("{}", path.display()))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}
