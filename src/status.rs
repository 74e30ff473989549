//! `rnnlab status` and `rnnlab watch`: how a sweep is doing, read from its
//! trial directories alone (status, metrics, lock, log, the Slurm jobs it
//! was submitted as), so it works on a login node with no parent process
//! watching; `squeue`, where there is one, tells queued from pending.
use std::path::Path;

use anyhow::Result;

use crate::layout;
use crate::metrics::Row;
use crate::slurm::{Queue, Record};
use crate::trial::{Status, TrialState};

/// Where a trial stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Not queued, not running, no result: never started, or interrupted
    /// (its next run resumes it).
    Pending,
    /// Waiting in Slurm's queue.
    Queued,
    /// A process holds its lock (or Slurm runs its task).
    Running,
    Finished,
    Diverged,
    Failed,
}

impl State {
    pub const ALL: [State; 6] =
        [State::Pending, State::Queued, State::Running, State::Finished, State::Diverged, State::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Queued => "queued",
            State::Running => "running",
            State::Finished => "finished",
            State::Diverged => "diverged",
            State::Failed => "failed",
        }
    }
}

/// A trial's state from what its directory and the queue say: a live lock
/// holder first (it is training now), then a result, then Slurm's queue.
/// A `running` status.json nobody holds was left by a killed process.
pub fn classify(status: Option<&Status>, held: bool, queued: Option<&str>) -> State {
    if held {
        return State::Running;
    }
    match status.map(|s| s.state) {
        Some(TrialState::Finished) => return State::Finished,
        Some(TrialState::Diverged) => return State::Diverged,
        _ => {}
    }
    match queued {
        Some("RUNNING" | "COMPLETING" | "CONFIGURING") => State::Running,
        Some(_) => State::Queued,
        None if status.is_some_and(|s| s.state == TrialState::Failed) => State::Failed,
        None => State::Pending,
    }
}

/// One trial, as status shows it.
#[derive(Debug, Clone)]
pub struct View {
    pub id: String,
    pub state: State,
    /// Its latest Slurm job (`12_3`), if it was submitted.
    pub job: Option<String>,
    /// Last logged step and the total.
    pub step: usize,
    pub total: usize,
    /// The last training log's metrics (the task's, from the loss) and the last validation's.
    pub latest: Vec<(String, f64)>,
    /// Seconds left at the rate of the current attempt (running trials).
    pub eta_s: Option<f64>,
    /// The first training metric at each log: the sparkline's values.
    pub curve: Vec<f64>,
    /// Failed or interrupted: the status message and the last lines of `log.txt`.
    pub why: Option<String>,
}

/// Metrics every training log carries that say nothing about the model.
const BOOKKEEPING: [&str; 5] = ["grad_norm", "lr", "epoch", "tokens_per_s", "elapsed_s"];

/// Every trial of the experiment directory `exp_dir`, in spec order.
pub fn scan(exp_dir: &Path, queue: Option<&Queue>, now: u64) -> Result<Vec<View>> {
    let records = crate::summary::collect(exp_dir)?;
    Ok(records.iter().map(|r| view(&r.trial.id, &r.dir, r.status.as_ref(), queue, now)).collect())
}

fn view(id: &str, dir: &Path, status: Option<&Status>, queue: Option<&Queue>, now: u64) -> View {
    let job = Record::read(dir).latest().map(str::to_string);
    let queued = job.as_deref().and_then(|j| queue.and_then(|q| q.state(j)));
    let state = classify(status, crate::lock::holder(dir).is_some(), queued);
    let rows = crate::metrics::read(&dir.join(layout::METRICS_FILE)).unwrap_or_default();
    let (step, latest, curve) = progress(&rows);
    let total = status.map_or(0, |s| s.total_steps);
    let eta_s = (state == State::Running).then(|| eta(status?, step, now)).flatten();
    let why = match state {
        State::Failed | State::Pending if status.is_some() => Some(failure(dir, status)),
        _ => None,
    };
    View { id: id.to_string(), state, job, step, total, latest, eta_s, curve, why }
}

/// The last logged step, its training metrics and the latest validation
/// metrics, and the first training metric of every log.
fn progress(rows: &[Row]) -> (usize, Vec<(String, f64)>, Vec<f64>) {
    let train: Vec<&Row> =
        rows.iter().filter(|r| r.split == "train" && !BOOKKEEPING.contains(&r.metric.as_str())).collect();
    let step = rows.iter().map(|r| r.step).max().unwrap_or(0);
    let mut curve = Vec::new();
    let mut last_step = None;
    for r in &train {
        if last_step != Some(r.step) {
            curve.push(r.value);
            last_step = Some(r.step);
        }
    }
    let mut latest: Vec<(String, f64)> = Vec::new();
    if let Some(last) = train.last().map(|r| r.step) {
        latest.extend(train.iter().filter(|r| r.step == last).map(|r| (format!("train_{}", r.metric), r.value)));
    }
    if let Some(last) = rows.iter().filter(|r| r.split == "val").map(|r| r.step).max() {
        latest.extend(
            rows.iter().filter(|r| r.split == "val" && r.step == last).map(|r| (format!("val_{}", r.metric), r.value)),
        );
    }
    (step, latest, curve)
}

/// Seconds left, at the rate this attempt has trained since it started
/// (a resumed attempt counts from the step it resumed at).
fn eta(s: &Status, step: usize, now: u64) -> Option<f64> {
    let from = s.message.as_deref().and_then(|m| m.strip_prefix("resumed from step ")).and_then(|n| n.parse().ok());
    let done = step.checked_sub(from.unwrap_or(0)).filter(|&d| d > 0)?;
    let seconds = now.checked_sub(s.started)? as f64;
    (seconds > 0.0).then(|| s.total_steps.saturating_sub(step) as f64 * seconds / done as f64)
}

/// A failed or interrupted trial's status message and its log's last lines.
fn failure(dir: &Path, status: Option<&Status>) -> String {
    let log = std::fs::read_to_string(dir.join(layout::LOG_FILE)).unwrap_or_default();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("\n      | ");
    let message = status.and_then(|s| s.message.clone()).unwrap_or_else(|| "killed before recording a result".into());
    if tail.is_empty() {
        message
    } else {
        format!("{message}\n      | {tail}")
    }
}

/// How many trials are in each state, in [`State::ALL`]'s order.
pub fn counts(views: &[View]) -> Vec<(State, usize)> {
    State::ALL.iter().map(|&s| (s, views.iter().filter(|v| v.state == s).count())).collect()
}

/// A unicode sparkline of `values`, scaled to their range: the whole
/// curve in at most `width` characters, each the mean of its share of the
/// values (so a long run still shows its descent from the start).
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = width.min(values.len());
    let points: Vec<f64> = (0..n)
        .map(|i| {
            let share = &values[i * values.len() / n..(i + 1) * values.len() / n];
            share.iter().sum::<f64>() / share.len() as f64
        })
        .collect();
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    points
        .iter()
        .map(|&v| {
            let x = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
            BARS[((x * 7.0).round() as usize).min(7)]
        })
        .collect()
}

fn duration(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..=99 => format!("{s}s"),
        100..=5999 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
    }
}

/// The status report: counts, then running trials (step, metrics, ETA,
/// job; with `curves`, a loss sparkline), queued trials' jobs, and what
/// failed or was interrupted.
pub fn render(name: &str, views: &[View], curves: bool) -> String {
    let counts: Vec<String> = counts(views).iter().map(|(s, n)| format!("{n} {}", s.as_str())).collect();
    let mut out = format!("{name}: {} trials: {}\n", views.len(), counts.join(", "));
    for v in views.iter().filter(|v| v.state == State::Running) {
        let metrics: Vec<String> = v.latest.iter().take(3).map(|(k, x)| format!("{k} {x:.4}")).collect();
        let eta = v.eta_s.map(|s| format!("  ETA {}", duration(s))).unwrap_or_default();
        let job = v.job.as_deref().map(|j| format!("  job {j}")).unwrap_or_default();
        out.push_str(&format!(
            "  running  {:<28} step {}/{}  {}{eta}{job}\n",
            v.id,
            v.step,
            v.total,
            metrics.join("  ")
        ));
        if curves && !v.curve.is_empty() {
            out.push_str(&format!("           {:<28} {}\n", "", sparkline(&v.curve, 40)));
        }
    }
    for v in views.iter().filter(|v| v.state == State::Queued) {
        out.push_str(&format!("  queued   {:<28} job {}\n", v.id, v.job.as_deref().unwrap_or("?")));
    }
    for v in views.iter().filter(|v| v.why.is_some()) {
        let at = if v.step > 0 { format!(" at step {}/{}", v.step, v.total) } else { String::new() };
        out.push_str(&format!("  {:<8} {}{at}: {}\n", v.state.as_str(), v.id, v.why.as_deref().unwrap_or_default()));
    }
    out
}

/// The status report of `dir` now (asking `squeue` where there is one),
/// and whether any trial is still queued or running.
pub fn report(dir: &Path, curves: bool) -> Result<(String, bool)> {
    let queue = Queue::read().ok();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let views = scan(dir, queue.as_ref(), now)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut text = render(&name, &views, curves);
    if queue.is_none() {
        text.push_str("(no squeue here: trials waiting in a Slurm queue show as pending)\n");
    }
    Ok((text, views.iter().any(|v| matches!(v.state, State::Queued | State::Running))))
}

/// `rnnlab watch`: the report with sparklines every `interval` seconds,
/// redrawn from the top of the terminal, until nothing is queued or running.
pub fn watch(dir: &Path, interval: f64) -> Result<()> {
    use std::io::Write;
    if !(interval.is_finite() && interval > 0.0) {
        anyhow::bail!("--interval must be a positive number of seconds");
    }
    loop {
        let (text, active) = report(dir, true)?;
        print!("\x1b[2J\x1b[H{text}");
        std::io::stdout().flush()?;
        if !active {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(interval));
    }
}

#[cfg(test)]
mod tests;
