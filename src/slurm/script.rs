//! The sbatch scripts `rnnlab submit` writes: one job array per chunk of
//! pending trials (task `i` runs line `i + 1` of the chunk's trial list),
//! and the job that rebuilds the summary, plots and report after them.
use std::ops::Range;
use std::path::Path;

use crate::spec::ExecutorSpec;

/// The exit code of a trial that checkpointed on the warning signal
/// (`EX_TEMPFAIL`): the array task's script requeues it.
pub const STOPPED_EXIT: u8 = 75;

/// One job array: `count` trials, listed one directory a line in `list`.
pub struct ArrayJob<'a> {
    pub name: &'a str,
    pub exe: &'a Path,
    pub list: &'a Path,
    pub count: usize,
    pub executor: &'a ExecutorSpec,
    /// Where Slurm writes each task's output (`%A_%a.out`).
    pub log_dir: &'a Path,
    /// `--device` of every trial (default: each trial's own `device:`).
    pub device: Option<&'a str>,
}

/// `0-N` or `0-N%K`: the `--array` of `count` tasks, `throttle` at a time.
pub fn array_range(count: usize, throttle: Option<usize>) -> String {
    let last = count.saturating_sub(1);
    match throttle {
        Some(k) => format!("0-{last}%{k}"),
        None => format!("0-{last}"),
    }
}

/// `n` trials in job arrays of at most `max` tasks each (index ranges into the list).
pub fn chunks(n: usize, max: usize) -> Vec<Range<usize>> {
    let max = max.max(1);
    (0..n).step_by(max).map(|start| start..(start + max).min(n)).collect()
}

/// A path as one single-quoted shell word.
pub fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// The sbatch options every array task gets from the executor section.
fn resource_lines(e: &ExecutorSpec) -> Vec<String> {
    let mut lines = vec![format!("--cpus-per-task={}", e.cpus_per_task)];
    let named = [
        ("partition", &e.partition),
        ("account", &e.account),
        ("qos", &e.qos),
        ("time", &e.time),
        ("mem", &e.mem),
        ("gpus-per-task", &e.gpus),
        ("gres", &e.gres),
        ("constraint", &e.constraint),
    ];
    for (option, value) in named {
        if let Some(v) = value {
            lines.push(format!("--{option}={v}"));
        }
    }
    lines.extend(e.extra.iter().cloned());
    lines
}

/// The script of one job array. The warning signal (`--signal=B:USR1@N`:
/// a time limit or a preemption is near) reaches the batch shell, which
/// passes it to the trial; the trial writes its checkpoint and exits with
/// [`STOPPED_EXIT`], and the script requeues its own task, which resumes
/// from that checkpoint. A trial's stderr goes to its own `log.txt`.
pub fn array_script(job: &ArrayJob) -> String {
    let e = job.executor;
    let mut s = String::from("#!/bin/bash\n");
    let mut header = vec![
        format!("--job-name=rnnlab-{}", job.name),
        format!("--array={}", array_range(job.count, e.array_throttle)),
        format!("--output={}", job.log_dir.join("%A_%a.out").display()),
        "--open-mode=append".to_string(),
        "--requeue".to_string(),
        format!("--signal=B:USR1@{}", e.signal_seconds),
    ];
    header.extend(resource_lines(e));
    for line in header {
        s.push_str(&format!("#SBATCH {line}\n"));
    }
    let device = job.device.map(|d| format!(" --device {d}")).unwrap_or_default();
    s.push_str(&format!(
        r#"# Written by `rnnlab submit`: array task i runs the trial directory on
# line i + 1 of the list, with as many libtorch threads as it has CPUs.
set -u
trial=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {list})
echo "rnnlab: task ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} runs $trial (restart ${{SLURM_RESTART_COUNT:-0}})"
child=
# The warning signal goes on to the trial, which checkpoints and exits {stopped}.
trap '[ -n "$child" ] && kill -USR1 "$child" 2>/dev/null' USR1
{exe} run-trial "$trial" --threads {threads}{device} 2>>"$trial/log.txt" &
child=$!
# A trapped signal interrupts `wait`: wait again until the trial has ended.
wait "$child"
while kill -0 "$child" 2>/dev/null; do wait "$child"; done
wait "$child"
rc=$?
if [ "$rc" -eq {stopped} ]; then
    echo "rnnlab: $trial checkpointed on the warning signal; requeueing"
    scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
fi
exit "$rc"
"#,
        list = quote(job.list),
        exe = quote(job.exe),
        threads = e.cpus_per_task,
        stopped = STOPPED_EXIT,
    ));
    s
}

/// The script of the job that runs after the arrays (`afterany`): the
/// summary, plots and report of the experiment directory.
pub fn finish_script(name: &str, exe: &Path, exp_dir: &Path, log_dir: &Path, e: &ExecutorSpec) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=rnnlab-{name}-summary\n"));
    s.push_str(&format!("#SBATCH --output={}\n", log_dir.join("summary-%j.out").display()));
    for (option, value) in [("partition", &e.partition), ("account", &e.account), ("qos", &e.qos)] {
        if let Some(v) = value {
            s.push_str(&format!("#SBATCH --{option}={v}\n"));
        }
    }
    s.push_str(&format!(
        "# Written by `rnnlab submit`: runs once every array task has ended.\nset -e\n{exe} summary {dir}\n{exe} \
         report {dir}\n",
        exe = quote(exe),
        dir = quote(exp_dir)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn arrays_are_split_at_the_cluster_limit_and_throttled() {
        // Fails if: chunks() makes arrays one longer than the limit (`..=`).
        assert_eq!(chunks(5, 2), vec![0..2, 2..4, 4..5]);
        assert_eq!(chunks(4, 1001), vec![0..4]);
        assert_eq!(chunks(0, 3), Vec::<Range<usize>>::new());
        assert_eq!(array_range(4, Some(2)), "0-3%2");
        assert_eq!(array_range(1, None), "0-0");
    }

    #[test]
    fn the_array_script_asks_for_the_executor_resources_and_requeues_on_the_signal() {
        let e: ExecutorSpec = serde_yaml::from_str(
            "partition: gpu\ngpus: '1'\ntime: '1:00:00'\ncpus_per_task: 4\narray_throttle: 3\nsignal_seconds: 90\n\
             extra: ['--mail-type=END']",
        )
        .unwrap();
        let (exe, list, logs) =
            (PathBuf::from("/opt/rnnlab"), PathBuf::from("/r/it's/slurm/array-0.trials"), PathBuf::from("/r/slurm"));
        let job =
            ArrayJob { name: "tiny", exe: &exe, list: &list, count: 7, executor: &e, log_dir: &logs, device: None };
        let s = array_script(&job);
        for line in [
            "#SBATCH --array=0-6%3",
            "#SBATCH --output=/r/slurm/%A_%a.out",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:USR1@90",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --partition=gpu",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --time=1:00:00",
            "#SBATCH --mail-type=END",
            "'/opt/rnnlab' run-trial \"$trial\" --threads 4 2>>\"$trial/log.txt\" &",
            r#"if [ "$rc" -eq 75 ]; then"#,
        ] {
            // Fails if: a resource line is dropped or the threads stop following cpus_per_task.
            assert!(s.lines().any(|l| l == line), "no line {line:?} in\n{s}");
        }
        // A quote in a path cannot end the shell word early.
        assert!(s.contains(r#"sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" '/r/it'\''s/slurm/array-0.trials'"#), "{s}");
        assert!(!s.contains("--account"), "unset options are left out:\n{s}");
        let f = finish_script("tiny", &exe, Path::new("/r/tiny"), &logs, &e);
        assert!(f.contains("'/opt/rnnlab' summary '/r/tiny'\n'/opt/rnnlab' report '/r/tiny'"), "{f}");
    }
}
