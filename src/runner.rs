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
use crate::lock::{Refused, TrialLock};
use crate::plan::TrialPlan;
use crate::spec::sweep::Trial;
use crate::spec::Loaded;
use crate::trial::{self, Status, TrialState};

/// Marker of progress lines a child prints on stdout for its parent.
pub const PROGRESS_PREFIX: &str = "@progress ";

pub struct SweepOptions {
    pub device: tch::Device,
    pub jobs: Option<usize>,
    /// Packed trials (`sweep.pack`, `--pack`).
    pub pack: crate::spec::PackSetting,
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
            Ok(s) => {
                eprintln!("{:<28} fitted    {}  ({:.0}s)", t.id, crate::tasks::headline(t, &s.result), s.elapsed_s)
            }
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
    let pending: Vec<&Trial> = trials.iter().filter(|t| opts.rerun || !is_done(exp_dir, t)).collect();
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
    let (jobs, threads) = jobs_and_threads(opts);
    // Fewer pending trials run fewer at once, each with the same threads:
    // a trial's numbers must not depend on how many others were pending.
    let jobs = jobs.min(pending.len());
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
    let units = crate::pack::group(&pending, opts.pack);
    pool.scope_fifo(|scope| {
        for unit in &units {
            let (bars, overall, failures, exe) = (&bars, &overall, &failures, &exe);
            scope.spawn_fifo(move |_| {
                if unit.len() > 1 {
                    bars.suspend(|| eprintln!("packing {} trials: {}", unit.len(), ids(unit)));
                    for (t, status) in run_pack_child(opts, exe, exp_dir, unit, threads) {
                        overall.inc(1);
                        let line = match &status {
                            Ok(s) => describe_end(t, s),
                            Err(e) => format!("{:<28} failed: {e:#}", t.id),
                        };
                        bars.suspend(|| eprintln!("{line}"));
                        if !matches!(&status, Ok(s) if s.state.is_done()) {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    return;
                }
                let t = unit[0];
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
                    Ok(Ended::Ran(s)) => describe_end(t, s),
                    Ok(Ended::Held(why)) => format!("{:<28} skipped: {why}", t.id),
                    Err(e) => format!("{:<28} failed: {e:#}", t.id),
                };
                bars.suspend(|| eprintln!("{line}"));
                // A trial another process is running is not this sweep's failure.
                if !matches!(status, Ok(Ended::Held(_))) && !matches!(&status, Ok(Ended::Ran(s)) if s.state.is_done()) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let failures = failures.into_inner();
    overall.finish_and_clear();
    Ok((pending.len(), failures))
}

/// Whether the trial `t` of `exp_dir` has a result (finished or diverged).
pub fn is_done(exp_dir: &Path, t: &Trial) -> bool {
    Status::read(&layout::trial_dir(exp_dir, &t.id)).is_ok_and(|s| s.state.is_done())
}

/// A trial directory claimed for a run: created, locked, its `trial.yaml` written.
pub enum Claim {
    Ready(TrialLock),
    /// Another process holds the trial's lock: what the lock says about it.
    Held(String),
}

/// Creates the directory of trial `t`, locks it and writes its resolved
/// `trial.yaml` (what a sweep's child or a Slurm task reads): the lock is
/// taken before anything in the directory is touched, and the spec goes in
/// first, so even a trial that dies at once is listed.
pub fn claim(exp_dir: &Path, t: &Trial) -> Result<Claim> {
    let dir = layout::trial_dir(exp_dir, &t.id);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let lock = match TrialLock::acquire(&dir) {
        Ok(lock) => lock,
        Err(Refused::Held { holder, .. }) => return Ok(Claim::Held(holder)),
        Err(Refused::Io(e)) => return Err(e),
    };
    t.write(&dir)?;
    Ok(Claim::Ready(lock))
}

/// Trials run at once and libtorch threads per trial, from `--jobs` (by
/// default one trial per core on CPU, one at a time on CUDA) and the cores,
/// never from how many trials are pending.
fn jobs_and_threads(opts: &SweepOptions) -> (usize, usize) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let jobs = opts.jobs.unwrap_or(if opts.device.is_cuda() { 1 } else { cores }).max(1);
    (jobs, (cores / jobs).max(1))
}

/// How a trial's child process went.
enum Ended {
    Ran(Status),
    /// Another process holds the trial's lock: why, naming it.
    Held(String),
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

fn describe_end(t: &Trial, s: &Status) -> String {
    let bpc = crate::tasks::headline(t, &s.result);
    match s.state {
        TrialState::Finished => format!("{:<28} finished  {bpc}  ({:.0}s)", t.id, s.elapsed_s),
        _ => format!("{:<28} {}  {}", t.id, s.state.as_str(), s.message.clone().unwrap_or_default()),
    }
}

/// Runs one trial in a child process and returns the status it left; a
/// child that died without recording its end is marked failed here. A
/// trial another process is running (its lock is held) is left alone.
fn run_child(
    opts: &SweepOptions,
    exe: &Path,
    exp_dir: &Path,
    t: &Trial,
    threads: usize,
    bar: &ProgressBar,
) -> Result<Ended> {
    let dir = layout::trial_dir(exp_dir, &t.id);
    // The child inherits the lock and the sweep keeps it until the child has ended.
    let lock = match claim(exp_dir, t)? {
        Claim::Ready(lock) => lock,
        Claim::Held(holder) => return Ok(Ended::Held(format!("another run is training it ({holder})"))),
    };
    let log_path = dir.join(layout::LOG_FILE);
    let log = std::fs::File::create(&log_path)?;
    let mut cmd = Command::new(exe);
    crate::lock::hand_to_child(&mut cmd, &lock);
    die_with_parent(&mut cmd);
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
        Ok(s) if s.state != TrialState::Running => Ok(Ended::Ran(s)),
        previous => {
            let tail = failure_reason(&std::fs::read_to_string(&log_path).unwrap_or_default());
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

fn ids(unit: &[&Trial]) -> String {
    unit.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
}

/// Runs a pack of trials in one child process (`rnnlab run-pack`, which
/// locks them; one another process holds is left out) and returns each
/// member's status. The child's log goes to every member's `log.txt`; a
/// member the child left `running` is marked failed.
fn run_pack_child<'t>(
    opts: &SweepOptions,
    exe: &Path,
    exp_dir: &Path,
    unit: &[&'t Trial],
    threads: usize,
) -> Vec<(&'t Trial, Result<Status>)> {
    let dirs: Vec<_> = unit.iter().map(|t| layout::trial_dir(exp_dir, &t.id)).collect();
    let started = (|| -> Result<std::process::ExitStatus> {
        let mut logs = Vec::new();
        for (t, dir) in unit.iter().zip(&dirs) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            t.write(dir)?;
            logs.push(std::fs::File::create(dir.join(layout::LOG_FILE))?);
        }
        let mut cmd = Command::new(exe);
        die_with_parent(&mut cmd);
        cmd.arg("run-pack").args(&dirs).args(["--device", &crate::device::name(opts.device)]);
        cmd.args(["--threads", &threads.to_string()]);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .context("cannot start a pack")?;
        let stderr = child.stderr.take().expect("piped");
        for line in BufReader::new(stderr).lines() {
            let line = line?;
            for log in &mut logs {
                use std::io::Write;
                writeln!(log, "{line}")?;
            }
        }
        Ok(child.wait()?)
    })();
    unit.iter()
        .zip(&dirs)
        .map(|(t, dir)| {
            let status = match (&started, Status::read(dir)) {
                (_, Ok(s)) if s.state != TrialState::Running => Ok(s),
                (Err(e), _) => Err(anyhow::anyhow!("{e:#}")),
                (Ok(exit), _) => {
                    let tail = failure_reason(&std::fs::read_to_string(dir.join(layout::LOG_FILE)).unwrap_or_default());
                    Err(anyhow::anyhow!("pack process ended with {exit} before recording this trial's result: {tail}"))
                }
            };
            if let (Err(e), Ok(mut s)) = (&status, Status::read(dir)) {
                s.state = TrialState::Failed;
                s.message = Some(format!("{e:#}"));
                let _ = s.write(dir);
            }
            (*t, status)
        })
        .collect()
}

/// What a crashed trial's log says went wrong: its last `error:` line, or
/// the panic line and message (not the stack frames after them), else its
/// last lines.
fn failure_reason(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let error = lines.iter().rposition(|l| l.starts_with("error:"));
    let panic = lines.iter().rposition(|l| l.starts_with("thread '") && l.contains("panicked at"));
    match (error, panic) {
        (Some(e), p) if p.is_none_or(|p| e > p) => lines[e].to_string(),
        (_, Some(p)) => {
            // `thread 'main' panicked at src/x.rs:1:2:` then the message, up
            // to the `note:` or `stack backtrace:` line.
            let message: Vec<&str> = lines[p + 1..]
                .iter()
                .take_while(|l| !l.starts_with("note:") && !l.starts_with("stack backtrace:"))
                .copied()
                .collect();
            std::iter::once(lines[p]).chain(message).collect::<Vec<_>>().join(" ")
        }
        _ => lines[lines.len().saturating_sub(5)..].join(" | "),
    }
}

/// Makes the trial process `cmd` starts die with this one (`kill -9` of a
/// sweep leaves no trial training on): Linux's parent-death signal, set in
/// the child between fork and exec. The signal comes when the thread that
/// started the child ends; the sweep's pool threads outlive their children.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid, prctl, getppid and _exit are async-signal-safe.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the signal was armed.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

/// Runs the trial of `p` in this process: what `rnnlab run-trial DIR` (each
/// sweep child, each Slurm task) and `rnnlab run SPEC --trial ID` do once the
/// directory holds its `trial.yaml`. A baseline's pseudo-trial is fitted; a
/// trained trial resumes from `checkpoint-last/` if it left one.
pub fn run_trial(p: &TrialPlan) -> Result<Status> {
    if p.trial.baseline.is_some() {
        return crate::baseline::run(&p.trial, &p.dir);
    }
    // Held until the trial has ended: no other process trains it meanwhile.
    let _lock = TrialLock::inherit_or_acquire(&p.dir).map_err(|e| match e {
        Refused::Held { .. } => anyhow::anyhow!("{e}: another run is training this trial; not running it twice"),
        Refused::Io(e) => e,
    })?;
    // A resumed trial keeps the thread count it started with.
    let threads = match trial::resumed_threads(&p.dir) {
        Some(recorded) if recorded != p.threads => {
            eprintln!("{}: resuming with the {recorded} thread(s) it started with (not {})", p.trial.id, p.threads);
            recorded
        }
        _ => p.threads,
    };
    tch::set_num_threads(threads as i32);
    tch::set_num_interop_threads(1);
    // A Slurm warning signal checkpoints and stops the trial (see `crate::slurm`);
    // `run-trial` installed this already, before libtorch started threads.
    crate::signal::install().context("cannot install the SIGUSR1 handling")?;
    // Test hook: simulate a trial process that crashes before recording anything.
    if std::env::var("RNNLAB_TEST_CRASH_TRIAL").is_ok_and(|prefix| p.trial.id.starts_with(&prefix)) {
        std::process::abort();
    }
    // Test hook: a trial process that panics (a bug) before recording anything.
    if std::env::var("RNNLAB_TEST_PANIC_TRIAL").is_ok_and(|prefix| p.trial.id.starts_with(&prefix)) {
        panic!("test hook: trial {} panics", p.trial.id);
    }
    // Test hooks: abort the trial process (as a kill would) after a training
    // step's log (`RNNLAB_TEST_ABORT_AFTER_STEP=N`) or at `RNNLAB_TEST_ABORT_AT`
    // (`train:N`, or `checkpoint:N`: once step N's checkpoint is written).
    let abort = std::env::var("RNNLAB_TEST_ABORT_AT").ok().and_then(|v| trial::AbortAt::parse(&v)).or_else(|| {
        std::env::var("RNNLAB_TEST_ABORT_AFTER_STEP").ok().and_then(|v| v.parse().ok()).map(trial::AbortAt::Train)
    });
    if p.progress {
        trial::run(&p.trial, &p.dir, p.device, threads, &mut ChildProgress, abort)
    } else {
        trial::run(&p.trial, &p.dir, p.device, threads, &mut (), abort)
    }
}

/// The `--progress` reporter of a child: one line per log interval.
pub struct ChildProgress;

impl trial::Progress for ChildProgress {
    fn update(&mut self, step: usize, total: usize, shown: &str) {
        println!("{PROGRESS_PREFIX}{step} {total} {shown}");
    }
}
