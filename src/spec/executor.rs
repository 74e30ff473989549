//! The `executor:` section of a spec: how `rnnlab submit` asks Slurm for
//! resources. It is not part of any trial (a trial's numbers do not depend
//! on the queue it ran in), so it is dropped from resolved trials and from
//! their ids, like `report:`.
use serde::{Deserialize, Serialize};

/// sbatch options for every array task of `rnnlab submit`. Unset options
/// are left out of the script (the cluster's defaults apply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorSpec {
    /// `--partition`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// `--account`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `--qos`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<String>,
    /// `--time` per trial, in Slurm's format (`30`, `2:00:00`, `1-00:00:00`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `--cpus-per-task`; also each trial's libtorch thread count, so a
    /// trial computes the same numbers as a local run with that many threads.
    pub cpus_per_task: usize,
    /// `--mem`, e.g. `4G`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
    /// `--gpus-per-task`, e.g. `1` or `a100:1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus: Option<String>,
    /// `--gres`, e.g. `gpu:1` (for clusters that ask for GPUs that way).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gres: Option<String>,
    /// `--constraint`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    /// At most this many array tasks run at once (`--array=...%K`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array_throttle: Option<usize>,
    /// Tasks per job array at most; the cluster's `MaxArraySize` caps it too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_array_size: Option<usize>,
    /// Seconds before the time limit at which Slurm sends the warning signal
    /// (`--signal=B:USR1@N`); the trial then checkpoints and requeues itself.
    pub signal_seconds: usize,
    /// More lines for the script's header, each an sbatch option such as
    /// `--mail-type=END` (written as `#SBATCH <line>`).
    pub extra: Vec<String>,
}

impl Default for ExecutorSpec {
    fn default() -> Self {
        ExecutorSpec {
            partition: None,
            account: None,
            qos: None,
            time: None,
            cpus_per_task: 1,
            mem: None,
            gpus: None,
            gres: None,
            constraint: None,
            array_throttle: None,
            max_array_size: None,
            signal_seconds: 120,
            extra: vec![],
        }
    }
}

impl ExecutorSpec {
    /// The first invalid field, named, with what is wrong with it.
    pub fn check(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: &str| Err((format!("executor.{f}"), m.to_string()));
        if self.cpus_per_task == 0 {
            return err("cpus_per_task", "must be at least 1");
        }
        if self.array_throttle == Some(0) {
            return err("array_throttle", "must be at least 1 (or left out: no limit)");
        }
        if self.max_array_size == Some(0) {
            return err("max_array_size", "must be at least 1");
        }
        if self.signal_seconds == 0 {
            return err("signal_seconds", "must be at least 1 (a trial needs time to write its checkpoint)");
        }
        let words = [
            ("partition", &self.partition),
            ("account", &self.account),
            ("qos", &self.qos),
            ("time", &self.time),
            ("mem", &self.mem),
            ("gpus", &self.gpus),
            ("gres", &self.gres),
            ("constraint", &self.constraint),
        ];
        for (field, value) in words {
            if let Some(v) = value {
                // They go unquoted into `#SBATCH --key=value` lines.
                if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '#' || c == '\'' || c == '"') {
                    return err(field, "must be one word without spaces, quotes or '#'");
                }
            }
        }
        for (i, line) in self.extra.iter().enumerate() {
            if !line.starts_with('-') || line.contains('\n') {
                return Err((
                    format!("executor.extra[{i}]"),
                    "each line is one sbatch option, e.g. --mail-type=END".to_string(),
                ));
            }
            if ["--array", "--output", "--error", "--signal", "--dependency"].iter().any(|o| line.starts_with(o)) {
                return Err((
                    format!("executor.extra[{i}]"),
                    format!("'{line}' is set by rnnlab submit itself and cannot be overridden"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<ExecutorSpec, String> {
        let e: ExecutorSpec = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        e.check().map_err(|(f, m)| format!("{f}: {m}"))?;
        Ok(e)
    }

    #[test]
    fn a_gpu_partition_parses_and_defaults_are_visible() {
        let e =
            parse("partition: gpu\ngpus: '1'\ntime: '2:00:00'\nmem: 16G\ncpus_per_task: 4\narray_throttle: 8").unwrap();
        assert_eq!(e.partition.as_deref(), Some("gpu"));
        assert_eq!(e.gpus.as_deref(), Some("1"));
        assert_eq!((e.cpus_per_task, e.array_throttle, e.signal_seconds), (4, Some(8), 120));
        assert_eq!(parse("{}").unwrap(), ExecutorSpec::default());
    }

    #[test]
    fn the_executor_is_no_part_of_any_trial() {
        let loaded = crate::spec::load(std::path::Path::new("experiments/tiny.yaml")).unwrap();
        let ids = |l: &crate::spec::Loaded| -> Vec<String> {
            crate::spec::sweep::expand(l).unwrap().into_iter().map(|t| t.id).collect()
        };
        let with = crate::spec::sweep::apply_overrides(&loaded, &["executor.partition=gpu".into()]).unwrap();
        assert_eq!(with.spec.executor.as_ref().and_then(|e| e.partition.as_deref()), Some("gpu"));
        // Fails if: sweep expansion keeps `executor` in the trials (their hashes, so their ids, change).
        assert_eq!(ids(&with), ids(&loaded));
        assert!(crate::spec::sweep::expand(&with).unwrap().iter().all(|t| t.spec.executor.is_none()));
    }

    #[test]
    fn bad_input_names_the_field() {
        // Fails if: deny_unknown_fields is dropped (the typo parses silently).
        assert!(parse("partion: gpu").unwrap_err().contains("unknown field `partion`"));
        // Fails if: check() skips the word fields (a space would split the #SBATCH line).
        assert!(parse("partition: 'gpu big'").unwrap_err().starts_with("executor.partition:"));
        assert!(parse("cpus_per_task: 0").unwrap_err().starts_with("executor.cpus_per_task:"));
        assert!(parse("array_throttle: 0").unwrap_err().starts_with("executor.array_throttle:"));
        assert!(parse("extra: ['--array=0-3']").unwrap_err().starts_with("executor.extra[0]:"));
        assert!(parse("extra: ['mail-type=END']").unwrap_err().starts_with("executor.extra[0]:"));
    }
}
