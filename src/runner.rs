//! Runs what [`crate::plan`] resolved: a sweep writes each pending trial's
//! resolved `trial.yaml`, then runs the trial as a child process (`rnnlab
//! run-trial DIR`), several at once on a rayon pool, with progress bars. A
//! child that fails or crashes marks only its own trial `failed`.
//!
//! The trial directory is the whole contract between parent and child: the
//! child reads no experiment spec and applies no `--set`, so a directory
//! alone runs (or resumes) the same trial anywhere — a Slurm task, another
//! machine — through the one in-process path, [`run_trial`].
//!
//! Child processes keep trials independent: libtorch's random generator and
//! thread pool are per process, so a trial computes the same numbers whether
//! it runs alone, in a sweep, or as a Slurm array task; and a segfault or
//! out-of-memory kill takes down one trial, not the sweep.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::fsutil::write_atomic;
use crate::layout;
use crate::plan::TrialPlan;
use crate::spec::sweep::Trial;
use crate::spec::Loaded;
use crate::trial::{self, Status, TrialState};

/// Marker of progress lines a child prints on stdout for its parent.
pub const PROGRESS_PREFIX: &str = "@progress ";

pub struct SweepOptions {
    pub device: tch::Device,
    pub jobs: Option<usize>,
    /// Rerun trials that already finished or diverged.
    pub rerun: bool,
}

/// Creates the experiment directory and records the spec it runs.
pub fn init_experiment_dir(dir: &Path, loaded: &Loaded) -> Result<()> {
    let trials = layout::trials_dir(dir);
    std::fs::create_dir_all(&trials).with_context(|| format!("cannot create {}", trials.display()))?;
    let yaml = serde_yaml::to_string(&loaded.spec)?;
    let path = dir.join(layout::EXPERIMENT_FILE);
    if let Ok(old) = std::fs::read_to_string(&path) {
        if old != yaml {
            eprintln!(
                "note: {} held a different spec; it is replaced, and trials from the old spec \
                 stay in trials/ and in the summary (delete them to drop them)",
                path.display()
            );
        }
    }
    write_atomic(&path, yaml.as_bytes())
}

/// Fits the baselines not yet done (in this process: they are plain Rust
/// counting, quick next to training); returns how many ran and failed.
pub fn run_baselines(opts: &SweepOptions, exp_dir: &Path, baselines: &[Trial]) -> (usize, usize) {
    let (mut ran, mut failed) = (0, 0);
    for t in baselines {
        let dir = layout::trial_dir(exp_dir, &t.id);
        if !opts.rerun && Status::read(&dir).is_ok_and(|s| s.state.is_done()) {
            continue;
        }
        ran += 1;
        match t.write(&dir).and_then(|()| crate::baseline::run(t, &dir)) {
            Ok(s) => eprintln!(
                "{:<28} fitted    val {:.3} bits/char  ({:.0}s)",
                t.id,
                s.result.get("val_bpc").copied().unwrap_or(f64::NAN),
                s.elapsed_s
            ),
            Err(e) => {
                failed += 1;
                eprintln!("{:<28} failed: {e:#}", t.id);
            }
        }
    }
    (ran, failed)
}

/// Runs all pending trials of the experiment directory `exp_dir` (made by
/// [`init_experiment_dir`]); returns how many ran and how many failed.
pub fn run_sweep(opts: &SweepOptions, exp_dir: &Path, trials: &[Trial]) -> Result<(usize, usize)> {
    // Resolved once: if the binary is rebuilt mid-sweep, /proc/self/exe
    // would name the deleted file, while this path names the new one.
    let exe = std::env::current_exe().context("cannot find the rnnlab executable")?;
    let pending: Vec<&Trial> = trials
        .iter()
        .filter(|t| opts.rerun || !Status::read(&layout::trial_dir(exp_dir, &t.id)).is_ok_and(|s| s.state.is_done()))
        .collect();
    let skipped = trials.len() - pending.len();
    if pending.is_empty() {
        eprintln!("all {} trials already done in {} (--rerun retrains them)", trials.len(), exp_dir.display());
    } else if skipped > 0 {
        eprintln!(
            "{skipped} of {} trials already done in {}; running the other {}",
            trials.len(),
            exp_dir.display(),
            pending.len()
        );
    }
    if pending.is_empty() {
        return Ok((0, 0));
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let jobs = opts.jobs.unwrap_or(if opts.device.is_cuda() { 1 } else { cores }).clamp(1, pending.len());
    let threads = (cores / jobs).max(1);
    eprintln!(
        "running {} trials on {} — {jobs} at a time, {threads} thread(s) each",
        pending.len(),
        crate::device::name(opts.device)
    );

    let bars = MultiProgress::new();
    let overall = bars.add(ProgressBar::new(pending.len() as u64));
    overall.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} trials  {elapsed_precise}")
            .expect("template")
            .progress_chars("=> "),
    );
    overall.set_prefix("sweep");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let failures = AtomicUsize::new(0);
    // FIFO: trials start in the order the spec lists them.
    pool.scope_fifo(|scope| {
        for t in &pending {
            let (bars, overall, failures, exe) = (&bars, &overall, &failures, &exe);
            scope.spawn_fifo(move |_| {
                let bar = bars.insert_before(overall, ProgressBar::new(1));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg}")
                        .expect("template")
                        .progress_chars("=> "),
                );
                bar.set_prefix(short(&t.id));
                let status = run_child(opts, exe, exp_dir, t, threads, &bar);
                bar.finish_and_clear();
                bars.remove(&bar);
                overall.inc(1);
                let line = match &status {
                    Ok(s) => describe_end(t, s),
                    Err(e) => format!("{:<28} failed: {e:#}", t.id),
                };
                bars.suspend(|| eprintln!("{line}"));
                if !status.is_ok_and(|s| s.state.is_done()) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let failures = failures.into_inner();
    overall.finish_and_clear();
    Ok((pending.len(), failures))
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

fn describe_end(t: &Trial, s: &Status) -> String {
    let bpc = s.result.get("val_bpc").map(|v| format!("val {v:.3} bits/char")).unwrap_or_default();
    match s.state {
        TrialState::Finished => format!("{:<28} finished  {bpc}  ({:.0}s)", t.id, s.elapsed_s),
        _ => format!("{:<28} {}  {}", t.id, s.state.as_str(), s.message.clone().unwrap_or_default()),
    }
}

/// Runs one trial in a child process and returns the status it left; a
/// child that died without recording its end is marked failed here.
fn run_child(
    opts: &SweepOptions,
    exe: &Path,
    exp_dir: &Path,
    t: &Trial,
    threads: usize,
    bar: &ProgressBar,
) -> Result<Status> {
    let dir = layout::trial_dir(exp_dir, &t.id);
    // The resolved spec goes in first: it is all the child reads, and even
    // a trial that dies at once is listed.
    t.write(&dir)?;
    let log_path = dir.join(layout::LOG_FILE);
    let log = std::fs::File::create(&log_path)?;
    let mut cmd = Command::new(exe);
    cmd.arg("run-trial").arg(&dir).args([
        "--progress",
        "--device",
        &crate::device::name(opts.device),
        "--threads",
        &threads.to_string(),
    ]);
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(log).stdin(Stdio::null()).spawn().context("cannot start a trial process")?;
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix(PROGRESS_PREFIX) {
            let mut it = rest.splitn(3, ' ');
            let mut number = || it.next().and_then(|x| x.parse::<u64>().ok());
            if let (Some(step), Some(total)) = (number(), number()) {
                bar.set_length(total);
                bar.set_position(step);
                bar.set_message(format!("loss {}", it.next().unwrap_or_default()));
            }
        }
    }
    let exit = child.wait()?;
    match Status::read(&dir) {
        Ok(s) if s.state != TrialState::Running => Ok(s),
        previous => {
            let tail = log_tail(&log_path, 5);
            let mut s = previous.unwrap_or_else(|_| Status {
                state: TrialState::Failed,
                message: None,
                device: crate::device::name(opts.device),
                threads,
                started: 0,
                elapsed_s: 0.0,
                steps: 0,
                total_steps: 0,
                params: 0,
                hidden: 0,
                result: Default::default(),
            });
            s.state = TrialState::Failed;
            s.message = Some(format!("trial process ended with {exit} before recording a result: {tail}"));
            s.write(&dir)?;
            bail!("{}", s.message.clone().unwrap_or_default())
        }
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

/// Runs the trial of `p` in this process: what `rnnlab run-trial DIR` (each
/// sweep child, each Slurm task) and `rnnlab run SPEC --trial ID` do once the
/// directory holds its `trial.yaml`. A baseline's pseudo-trial is fitted; a
/// trained trial resumes from `checkpoint-last/` if it left one.
pub fn run_trial(p: &TrialPlan) -> Result<Status> {
    if p.trial.baseline.is_some() {
        return crate::baseline::run(&p.trial, &p.dir);
    }
    tch::set_num_threads(p.threads as i32);
    tch::set_num_interop_threads(1);
    // Test hook: simulate a trial process that crashes before recording anything.
    if std::env::var("RNNLAB_TEST_CRASH_TRIAL").is_ok_and(|prefix| p.trial.id.starts_with(&prefix)) {
        std::process::abort();
    }
    // Test hook: abort the trial process (as a kill would) after this training step.
    let abort_after = std::env::var("RNNLAB_TEST_ABORT_AFTER_STEP").ok().and_then(|v| v.parse::<usize>().ok());
    if p.progress {
        trial::run(&p.trial, &p.dir, p.device, p.threads, &mut ChildProgress, abort_after)
    } else {
        trial::run(&p.trial, &p.dir, p.device, p.threads, &mut (), abort_after)
    }
}

/// The `--progress` reporter of a child: one line per log interval.
pub struct ChildProgress;

impl trial::Progress for ChildProgress {
    fn update(&mut self, step: usize, total: usize, shown: &str) {
        println!("{PROGRESS_PREFIX}{step} {total} {shown}");
    }
}
