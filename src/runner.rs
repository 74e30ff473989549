//! Runs a sweep: validates everything first (so bad input writes nothing),
//! then runs each pending trial as a child process (`rnnlab run SPEC --trial
//! ID`), several at once on a rayon pool, with progress bars. A child that
//! fails or crashes marks only its own trial `failed`.
//!
//! Child processes keep trials independent: libtorch's random generator and
//! thread pool are per process, so a trial computes the same numbers whether
//! it runs alone, in a sweep, or as a Slurm array task; and a segfault or
//! out-of-memory kill takes down one trial, not the sweep.
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::fsutil::write_atomic;
use crate::spec::sweep::Trial;
use crate::spec::Loaded;
use crate::trial::{self, State, Status};

/// Marker of progress lines a child prints on stdout for its parent.
pub const PROGRESS_PREFIX: &str = "@progress ";
pub const EXPERIMENT_FILE: &str = "experiment.yaml";

pub struct SweepOptions {
    pub spec_path: PathBuf,
    pub overrides: Vec<String>,
    pub results_root: PathBuf,
    pub device: tch::Device,
    pub jobs: Option<usize>,
    /// Rerun trials that already finished or diverged.
    pub rerun: bool,
}

pub fn experiment_dir(results_root: &Path, loaded: &Loaded) -> PathBuf {
    results_root.join(&loaded.spec.name)
}

/// Loads every distinct dataset once (as its task keys it) and resolves
/// each trial's model against it (its parameter budget), so data problems
/// surface before anything is written.
pub fn check_data(trials: &[Trial]) -> Result<()> {
    let mut loaded: HashMap<String, Box<dyn crate::tasks::TaskData>> = HashMap::new();
    for t in trials {
        let task = crate::tasks::of(&t.spec)?;
        let key = format!("{}/{}", task.name(), task.data_key(&t.spec));
        if !loaded.contains_key(&key) {
            loaded.insert(key.clone(), task.load(&t.spec).with_context(|| format!("trial {}", t.id))?);
        }
        loaded[&key].resolve_model(&t.spec).with_context(|| format!("trial {}", t.id))?;
    }
    Ok(())
}

/// Creates the experiment directory and records the spec it runs.
pub fn init_experiment_dir(dir: &Path, loaded: &Loaded) -> Result<()> {
    std::fs::create_dir_all(dir.join("trials")).with_context(|| format!("cannot create {}", dir.display()))?;
    let yaml = serde_yaml::to_string(&loaded.spec)?;
    let path = dir.join(EXPERIMENT_FILE);
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
        let dir = trial::trial_dir(exp_dir, &t.id);
        if !opts.rerun && Status::read(&dir).is_ok_and(|s| s.state.is_done()) {
            continue;
        }
        ran += 1;
        match crate::baseline::run(t, &dir) {
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

/// Runs all pending trials; returns how many ran and how many failed.
pub fn run_sweep(opts: &SweepOptions, loaded: &Loaded, trials: &[Trial]) -> Result<(usize, usize)> {
    let exp_dir = experiment_dir(&opts.results_root, loaded);
    init_experiment_dir(&exp_dir, loaded)?;
    // Resolved once: if the binary is rebuilt mid-sweep, /proc/self/exe
    // would name the deleted file, while this path names the new one.
    let exe = std::env::current_exe().context("cannot find the rnnlab executable")?;
    let pending: Vec<&Trial> = trials
        .iter()
        .filter(|t| opts.rerun || !Status::read(&trial::trial_dir(&exp_dir, &t.id)).is_ok_and(|s| s.state.is_done()))
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
            let (bars, overall, failures, exp_dir, exe) = (&bars, &overall, &failures, &exp_dir, &exe);
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
        State::Finished => format!("{:<28} finished  {bpc}  ({:.0}s)", t.id, s.elapsed_s),
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
    let dir = trial::trial_dir(exp_dir, &t.id);
    // The spec goes in first, so even a trial that dies at once is listed.
    trial::write_spec(&dir, t)?;
    let log_path = dir.join(trial::LOG_FILE);
    let log = std::fs::File::create(&log_path)?;
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg(&opts.spec_path)
        .args(["--trial", &t.id, "--progress"])
        .arg("--results")
        .arg(&opts.results_root)
        .args(["--device", &crate::device::name(opts.device), "--threads", &threads.to_string()]);
    for o in &opts.overrides {
        cmd.args(["--set", o]);
    }
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
        Ok(s) if s.state != State::Running => Ok(s),
        previous => {
            let tail = log_tail(&log_path, 5);
            let mut s = previous.unwrap_or_else(|_| Status {
                state: State::Failed,
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
            s.state = State::Failed;
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

/// The `--progress` reporter of a child: one line per log interval.
pub struct ChildProgress;

impl trial::Progress for ChildProgress {
    fn update(&mut self, step: usize, total: usize, shown: &str) {
        println!("{PROGRESS_PREFIX}{step} {total} {shown}");
    }
}
