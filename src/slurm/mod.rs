//! `rnnlab submit`: a sweep as Slurm job arrays. The trial directories are
//! written as for a local sweep ([`crate::runner::claim`]); each array task
//! runs `rnnlab run-trial DIR` on one of them, and a dependent job rebuilds
//! the summary, plots and report once the arrays have ended.
//!
//! Each trial records the jobs it was submitted as (`slurm.json`), so a
//! second `submit` asks `squeue` and skips a trial that is queued or
//! running, as well as one that finished, diverged or is locked by a run:
//! no trial is ever submitted twice.
pub mod script;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;
use crate::layout;
use crate::runner::{self, Claim};
use crate::spec::sweep::Trial;
use crate::spec::ExecutorSpec;

/// Slurm's own default `MaxArraySize`.
const SLURM_DEFAULT_MAX_ARRAY: usize = 1001;

/// The jobs Slurm still knows as queued or running: array task id
/// (`12_3`) or job id → state (`PENDING`, `RUNNING`, …).
#[derive(Debug, Default)]
pub struct Queue(HashMap<String, String>);

impl Queue {
    /// Asks `squeue`, one line per array task.
    pub fn read() -> Result<Queue> {
        let text = command_output(Command::new("squeue").args(["-h", "-r", "-o", "%i %T"]))?;
        Ok(Queue::parse(&text))
    }

    pub fn parse(text: &str) -> Queue {
        Queue(
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(id, state)| (id.trim().to_string(), state.trim().to_string()))
                .collect(),
        )
    }

    /// The state of `job`, if Slurm still has it queued or running.
    pub fn state(&self, job: &str) -> Option<&str> {
        self.0.get(job).map(String::as_str).filter(|s| is_active(s))
    }
}

/// States in which a job will still run (or runs): anything but an end.
fn is_active(state: &str) -> bool {
    matches!(
        state,
        "PENDING"
            | "RUNNING"
            | "CONFIGURING"
            | "COMPLETING"
            | "REQUEUED"
            | "REQUEUE_FED"
            | "REQUEUE_HOLD"
            | "RESIZING"
            | "SUSPENDED"
            | "STAGE_OUT"
            | "SIGNALING"
            | "RESV_DEL_HOLD"
    )
}

/// The cluster's `MaxArraySize` (`scontrol show config`).
pub fn max_array_size() -> Result<usize> {
    let text = command_output(Command::new("scontrol").args(["show", "config"]))?;
    Ok(parse_max_array_size(&text).unwrap_or(SLURM_DEFAULT_MAX_ARRAY))
}

pub fn parse_max_array_size(config: &str) -> Option<usize> {
    config.lines().find_map(|l| {
        let (key, value) = l.split_once('=')?;
        (key.trim() == "MaxArraySize").then(|| value.trim().parse().ok())?
    })
}

fn command_output(cmd: &mut Command) -> Result<String> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().with_context(|| format!("cannot run {name} (is this a Slurm login node?)"))?;
    if !out.status.success() {
        bail!("{name} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One submission of a trial: its array task and the script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// `ARRAYJOB_TASK`, as `squeue -r` prints it.
    pub job: String,
    pub script: PathBuf,
    /// Unix seconds.
    pub submitted: u64,
}

/// A trial's `slurm.json`: every job it was submitted as, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub submissions: Vec<Submission>,
}

impl Record {
    /// The record of trial directory `dir` (empty if it was never submitted).
    pub fn read(dir: &Path) -> Record {
        std::fs::read_to_string(dir.join(layout::SLURM_FILE))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn latest(&self) -> Option<&str> {
        self.submissions.last().map(|s| s.job.as_str())
    }

    fn add(dir: &Path, s: Submission) -> Result<()> {
        let mut r = Record::read(dir);
        r.submissions.push(s);
        write_atomic(&dir.join(layout::SLURM_FILE), serde_json::to_string_pretty(&r)?.as_bytes())
    }
}

/// What `rnnlab submit` is asked to do.
pub struct SubmitOptions<'a> {
    pub executor: &'a ExecutorSpec,
    /// `--device` for every trial (default: each trial's own).
    pub device: Option<String>,
    /// Print the scripts and the trials, write and submit nothing.
    pub dry_run: bool,
}

/// What `rnnlab submit` did (or, with `dry_run`, would do).
#[derive(Debug, Default)]
pub struct Submitted {
    /// Trial ids put into the arrays.
    pub trials: Vec<String>,
    /// Job id of each array.
    pub arrays: Vec<String>,
    /// The summary job's id.
    pub finish: Option<String>,
    /// Trials not submitted, and why (`finished`, `queued as 12_3`, …).
    pub skipped: Vec<(String, String)>,
    /// The array scripts (written, or to be written).
    pub scripts: Vec<(PathBuf, String)>,
}

/// Why trial `t` of `exp_dir` is not to be submitted, if it is not.
fn skip_reason(exp_dir: &Path, t: &Trial, queue: &Queue) -> Option<String> {
    let dir = layout::trial_dir(exp_dir, &t.id);
    if let Ok(s) = crate::trial::Status::read(&dir) {
        if s.state.is_done() {
            return Some(s.state.as_str().to_string());
        }
    }
    if let Some(job) = Record::read(&dir).latest() {
        if let Some(state) = queue.state(job) {
            return Some(format!("{} as {job}", state.to_lowercase()));
        }
    }
    crate::lock::holder(&dir).map(|h| format!("running ({h})"))
}

/// Submits the trials of `exp_dir` that are not done, queued or running
/// as job arrays, then the summary job. `exp_dir` was initialised
/// ([`crate::runner::init_experiment_dir`]) unless this is a dry run.
pub fn submit(name: &str, exp_dir: &Path, trials: &[Trial], opts: &SubmitOptions) -> Result<Submitted> {
    let queue = match Queue::read() {
        Ok(q) => q,
        Err(e) if opts.dry_run => {
            eprintln!("note: {e:#}; a dry run goes on as if nothing were queued");
            Queue::default()
        }
        Err(e) => return Err(e),
    };
    let cluster_max = match max_array_size() {
        Ok(m) => m,
        Err(_) if opts.dry_run => SLURM_DEFAULT_MAX_ARRAY,
        Err(e) => return Err(e),
    };
    let max = opts.executor.max_array_size.map_or(cluster_max, |m| m.min(cluster_max));
    let mut out = Submitted::default();
    let mut pending = Vec::new();
    for t in trials {
        match skip_reason(exp_dir, t, &queue) {
            Some(why) => out.skipped.push((t.id.clone(), why)),
            None => pending.push(t),
        }
    }
    // Written before anything is submitted: a task finds its trial.yaml.
    let mut dirs = Vec::new();
    for t in pending {
        if opts.dry_run {
            dirs.push((t.id.clone(), layout::trial_dir(exp_dir, &t.id)));
            continue;
        }
        match runner::claim(exp_dir, t)? {
            // Released at once: the array task takes the lock when it runs.
            Claim::Ready(_lock) => dirs.push((t.id.clone(), layout::trial_dir(exp_dir, &t.id))),
            Claim::Held(h) => out.skipped.push((t.id.clone(), format!("running ({h})"))),
        }
    }
    if dirs.is_empty() {
        return Ok(out);
    }
    let exp_dir = std::path::absolute(exp_dir).context("cannot make the results path absolute")?;
    let log_dir = exp_dir.join(layout::SLURM_DIR);
    let exe = std::env::current_exe().context("cannot find the rnnlab executable")?;
    if !opts.dry_run {
        std::fs::create_dir_all(&log_dir).with_context(|| format!("cannot create {}", log_dir.display()))?;
    }
    let first = next_script_number(&log_dir);
    for (n, range) in script::chunks(dirs.len(), max).into_iter().enumerate() {
        let chunk = &dirs[range];
        let stem = log_dir.join(format!("array-{}", first + n));
        let list = stem.with_extension("trials");
        let path = stem.with_extension("sbatch");
        let job = script::ArrayJob {
            name,
            exe: &exe,
            list: &list,
            count: chunk.len(),
            executor: opts.executor,
            log_dir: &log_dir,
            device: opts.device.as_deref(),
        };
        let text = script::array_script(&job);
        out.trials.extend(chunk.iter().map(|(id, _)| id.clone()));
        out.scripts.push((path.clone(), text.clone()));
        if opts.dry_run {
            continue;
        }
        let absolute: Vec<String> = chunk
            .iter()
            .map(|(_, d)| exp_dir.join(d.strip_prefix(&exp_dir).unwrap_or(d)).display().to_string())
            .collect();
        write_atomic(&list, format!("{}\n", absolute.join("\n")).as_bytes())?;
        write_atomic(&path, text.as_bytes())?;
        let id = sbatch(&[], &path)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        for (i, (_, dir)) in chunk.iter().enumerate() {
            Record::add(dir, Submission { job: format!("{id}_{i}"), script: path.clone(), submitted: now })?;
        }
        out.arrays.push(id);
    }
    if !opts.dry_run {
        let path = log_dir.join(format!("summary-{first}.sbatch"));
        write_atomic(&path, script::finish_script(name, &exe, &exp_dir, &log_dir, opts.executor).as_bytes())?;
        let after = format!("--dependency=afterany:{}", out.arrays.join(":"));
        out.finish = Some(sbatch(&[&after], &path)?);
    }
    Ok(out)
}

/// `rnnlab submit`: records the spec, fits the baselines here (counting,
/// not training), submits the rest and says what it did (with `dry_run`,
/// prints the scripts instead and writes nothing).
pub fn submit_command(p: &crate::plan::SubmitPlan, device: Option<String>, dry_run: bool) -> Result<()> {
    let exp = &p.experiment;
    if !dry_run {
        runner::init_experiment_dir(&p.dir, &exp.loaded)?;
        let opts =
            runner::SweepOptions { device: tch::Device::Cpu, jobs: Some(1), pack: Default::default(), rerun: false };
        runner::run_baselines(&opts, &p.dir, &exp.baselines);
    }
    let done = submit(exp.name(), &p.dir, &exp.trials, &SubmitOptions { executor: &p.executor, device, dry_run })?;
    for (id, why) in &done.skipped {
        eprintln!("{id:<28} not submitted: {why}");
    }
    if dry_run {
        for (path, text) in &done.scripts {
            println!("# {} (not written)\n{text}", path.display());
        }
        println!("dry run: {} trial(s) would be submitted: {}", done.trials.len(), done.trials.join(" "));
    } else if done.trials.is_empty() {
        println!("{}: nothing to submit ({} trial(s) done, queued or running)", exp.name(), done.skipped.len());
    } else {
        println!(
            "{}: submitted {} trial(s) as job array(s) {}; summary job {}",
            exp.name(),
            done.trials.len(),
            done.arrays.join(", "),
            done.finish.as_deref().unwrap_or("-")
        );
        println!("scripts and Slurm output: {}", p.dir.join(layout::SLURM_DIR).display());
        println!("follow it with: rnnlab watch {}", p.dir.display());
    }
    Ok(())
}

/// The first `array-<n>.sbatch` not yet written in `log_dir`.
fn next_script_number(log_dir: &Path) -> usize {
    (0..).find(|n| !log_dir.join(format!("array-{n}.sbatch")).exists()).expect("a free number")
}

/// Submits `script` and returns its job id.
fn sbatch(args: &[&str], script: &Path) -> Result<String> {
    let text = command_output(Command::new("sbatch").arg("--parsable").args(args).arg(script))
        .with_context(|| format!("submitting {}", script.display()))?;
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let id = text.trim().split(';').next().unwrap_or_default().to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed no job id for {}: {text:?}", script.display());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_and_scontrol_output_is_read() {
        let q = Queue::parse("12_0 RUNNING\n12_1 PENDING\n13 COMPLETED\n");
        assert_eq!(q.state("12_1"), Some("PENDING"));
        // Fails if: is_active() counts an ended job as queued (it would never be resubmitted).
        assert_eq!(q.state("13"), None);
        assert_eq!(q.state("12_2"), None);
        let config =
            "Configuration data as of 2026-12-08T02:00:00\nMaxArraySize            = 1001\nMaxJobCount = 10000\n";
        assert_eq!(parse_max_array_size(config), Some(1001));
        assert_eq!(parse_max_array_size("MaxJobCount = 3"), None);
    }

    #[test]
    fn a_trials_record_keeps_every_submission() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Record::read(dir.path()).latest(), None);
        for job in ["5_0", "9_3"] {
            Record::add(dir.path(), Submission { job: job.into(), script: "s".into(), submitted: 1 }).unwrap();
        }
        let r = Record::read(dir.path());
        assert_eq!((r.submissions.len(), r.latest()), (2, Some("9_3")));
    }
}
