//! The results tree, in one place: every file and folder name rnnlab reads
//! or writes, and the functions that join them.
//!
//! ```text
//! <results>/<experiment>/          experiment_dir(results, name)
//!   experiment.yaml                the spec the sweep ran (after --set)
//!   summary.csv, summary.md        one row per trial / per variant
//!   metrics.json                   the task's metric declarations (unit, direction, default)
//!   report.md                      rnnlab report
//!   plots/                         <name>.png and <name>.svg
//!   slurm/                         rnnlab submit: array-<n>.sbatch, array-<n>.trials (one trial
//!                                  directory a line), summary-<n>.sbatch, Slurm's <job>_<task>.out
//!   trials/<id>/                   trial_dir(experiment, id): everything one trial needs
//!     trial.yaml                   the resolved trial spec: `rnnlab run-trial` runs it
//!     status.json                  running | finished | diverged | failed, with final metrics
//!     metrics.csv                  tidy metric rows (trial, step, split, metric, value)
//!     log.txt                      what the trial printed (when run by a sweep)
//!     lock                         flocked while a process trains the trial; names its holder
//!     slurm.json                   the Slurm jobs it was submitted as (rnnlab submit)
//!     checkpoint-last/, checkpoint-best/   (and `<name>.old` while one is replaced,
//!                                  `.<name>.tmp*` while one is written)
//!       model.safetensors, optimizer.safetensors, hidden.safetensors,
//!       state.json, vocab.json | symbols.json, model.json, trial.yaml
//! ```
//!
//! The names are part of the format: committed results, notebooks and
//! scripts read them, so they never change.
use std::path::{Path, PathBuf};

// The experiment directory.
pub const EXPERIMENT_FILE: &str = "experiment.yaml";
pub const TRIALS_DIR: &str = "trials";
pub const SUMMARY_CSV: &str = "summary.csv";
pub const SUMMARY_MD: &str = "summary.md";
/// The experiment's task and the metrics it declares (name, unit, direction).
pub const METRICS_JSON_FILE: &str = "metrics.json";
pub const REPORT_FILE: &str = "report.md";
pub const PLOTS_DIR: &str = "plots";
/// `rnnlab submit`'s scripts, trial lists and Slurm's task output.
pub const SLURM_DIR: &str = "slurm";

// A trial directory.
pub const TRIAL_FILE: &str = "trial.yaml";
pub const STATUS_FILE: &str = "status.json";
pub const METRICS_FILE: &str = "metrics.csv";
pub const LOG_FILE: &str = "log.txt";
/// Locked (`flock`) by the process training the trial; it names that process.
pub const LOCK_FILE: &str = "lock";
/// The Slurm jobs the trial was submitted as (`rnnlab submit`).
pub const SLURM_FILE: &str = "slurm.json";
pub const CHECKPOINT_LAST: &str = "checkpoint-last";
pub const CHECKPOINT_BEST: &str = "checkpoint-best";

// A checkpoint directory (it also holds a copy of `TRIAL_FILE`).
pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const HIDDEN_FILE: &str = "hidden.safetensors";
pub const STATE_FILE: &str = "state.json";
pub const VOCAB_FILE: &str = "vocab.json";
pub const SYMBOLS_FILE: &str = "symbols.json";
pub const MODEL_SPEC_FILE: &str = "model.json";

/// `<results>/<name>/`: where an experiment's results go.
pub fn experiment_dir(results_root: &Path, name: &str) -> PathBuf {
    results_root.join(name)
}

/// `<experiment>/trials/`.
pub fn trials_dir(experiment_dir: &Path) -> PathBuf {
    experiment_dir.join(TRIALS_DIR)
}

/// `<experiment>/trials/<id>/`.
pub fn trial_dir(experiment_dir: &Path, id: &str) -> PathBuf {
    trials_dir(experiment_dir).join(id)
}

/// `<experiment>/plots/`.
pub fn plots_dir(experiment_dir: &Path) -> PathBuf {
    experiment_dir.join(PLOTS_DIR)
}

/// The PNG and SVG files of the plot `name` in a plots directory.
pub fn plot_files(plots_dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (plots_dir.join(format!("{name}.png")), plots_dir.join(format!("{name}.svg")))
}

/// The link to the PNG of plot `name` from a file in the experiment directory.
pub fn plot_link(name: &str) -> String {
    format!("{PLOTS_DIR}/{name}.png")
}

/// The folder name of checkpoint `which`.
/// Which checkpoint: the latest, or the one at the best validation loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Last,
    Best,
}

pub fn checkpoint_name(which: Which) -> &'static str {
    match which {
        Which::Last => CHECKPOINT_LAST,
        Which::Best => CHECKPOINT_BEST,
    }
}

/// `<trial>/checkpoint-last/` or `<trial>/checkpoint-best/`.
pub fn checkpoint_dir(trial_dir: &Path, which: Which) -> PathBuf {
    trial_dir.join(checkpoint_name(which))
}

/// `.<checkpoint>.tmp`: the prefix of the temporary directory a checkpoint
/// is written into before it is renamed into place; one left behind by a
/// killed process is never a checkpoint, and is deleted when the trial runs.
pub fn checkpoint_tmp_prefix(which: Which) -> String {
    format!(".{}.tmp", checkpoint_name(which))
}

/// `<trial>/<checkpoint>.old/`: the previous checkpoint while a new one replaces it.
pub fn old_checkpoint_dir(trial_dir: &Path, which: Which) -> PathBuf {
    trial_dir.join(format!("{}.old", checkpoint_name(which)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_as_the_results_tree_documents() {
        let exp = experiment_dir(Path::new("results"), "tiny");
        assert_eq!(trial_dir(&exp, "lstm-s1"), Path::new("results/tiny/trials/lstm-s1"));
        assert_eq!(plots_dir(&exp), Path::new("results/tiny/plots"));
        let t = trial_dir(&exp, "x");
        assert_eq!(checkpoint_dir(&t, Which::Best), Path::new("results/tiny/trials/x/checkpoint-best"));
        assert_eq!(old_checkpoint_dir(&t, Which::Last), Path::new("results/tiny/trials/x/checkpoint-last.old"));
        assert_eq!(plot_link("val_bpc"), "plots/val_bpc.png");
    }
}
