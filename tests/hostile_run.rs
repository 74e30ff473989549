//! Crash edges of running trials, end to end through the binary: kills at
//! any step and resume, leftovers of killed checkpoints, two runs on one
//! results tree, a killed sweep, crash messages, thread counts.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::*;

/// A one-trial LSTM (dropout, so per-step reseeding matters); `train` is
/// the rest of its `train:` map.
fn spec(name: &str, train: &str) -> String {
    format!(
        "name: {name}\ndata:\n  source: {{kind: xml, chars: 6000, seed: 3, max_depth: 6}}\n\
         model: {{cell: lstm, hidden: 12, dropout: 0.2}}\n\
         train: {{optimizer: adam, lr: 0.01, batch_size: 4, bptt: 16, seed: 7, {train}}}\ndevice: cpu\n"
    )
}

fn only_trial(exp: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(exp.join("trials")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    dirs.remove(0)
}

fn results(dir: &Path) -> indexmap::IndexMap<String, f64> {
    let mut r = rnnlab::trial::Status::read(dir).unwrap().result;
    r.shift_remove("tokens_per_s");
    r
}

/// Runs the spec uninterrupted; returns its trial directory.
fn whole_run(tmp: &Path, name: &str, train: &str) -> PathBuf {
    let path = write_spec(tmp, name, &spec(name, train));
    let out = rnnlab(&["run", path.to_str().unwrap(), "--jobs", "1", "--results", tmp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    only_trial(&tmp.join(name))
}

fn run_trial(dir: &Path, envs: &[(&str, &str)]) -> std::process::Output {
    rnnlab_env(&["run-trial", dir.to_str().unwrap(), "--threads", "1"], envs)
}

/// A fresh directory holding only `from`'s `trial.yaml`.
fn copy_of(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("trial.yaml"), to.join("trial.yaml")).unwrap();
    to.to_path_buf()
}

/// Class 1: a checkpoint before the first log keeps no metrics rows; the
/// resumed `metrics.csv` must still have its header. (Fails when
/// `MetricsLog::resume` lets the csv writer write the header with the first
/// kept row: the resumed file starts with a data row.)
#[test]
fn a_checkpoint_before_the_first_log_resumes_to_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let train = "steps: 20, eval_every: 10, log_every: 10, checkpoint_every: 4";
    let whole = whole_run(tmp.path(), "early", train);
    let dir = copy_of(&whole, &tmp.path().join("cut"));
    let out = run_trial(&dir, &[("RNNLAB_TEST_ABORT_AT", "checkpoint:8")]);
    assert!(!out.status.success(), "{}", text(&out));
    let out = run_trial(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("resuming from"), "{}", text(&out));
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("trial,step,split,metric,value\n"), "{csv}");
    assert_eq!(comparable_metrics(&dir), comparable_metrics(&whole));
    assert_eq!(results(&dir), results(&whole));
}

/// Class 2: a temporary checkpoint directory left by a kill mid-write is
/// never taken for a checkpoint, and goes when the trial runs again. (Fails
/// without the `checkpoint::remove_temporaries` call in `trial::run`.)
#[test]
fn leftover_checkpoint_temporaries_are_removed_not_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let train = "steps: 24, eval_every: 12, log_every: 4, checkpoint_every: 8";
    let whole = whole_run(tmp.path(), "leftover", train);
    let dir = copy_of(&whole, &tmp.path().join("cut"));
    let out = run_trial(&dir, &[("RNNLAB_TEST_ABORT_AFTER_STEP", "12")]);
    assert!(!out.status.success(), "{}", text(&out));
    // What a kill mid-write leaves: a complete-looking copy under a temp name,
    // claiming a later step.
    let tmpdir = dir.join(".checkpoint-last.tmpAbC123");
    std::fs::create_dir(&tmpdir).unwrap();
    for f in std::fs::read_dir(dir.join("checkpoint-last")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, tmpdir.join(f.file_name().unwrap())).unwrap();
    }
    let state = std::fs::read_to_string(tmpdir.join("state.json")).unwrap().replace("\"step\": 8", "\"step\": 16");
    std::fs::write(tmpdir.join("state.json"), state).unwrap();
    std::fs::create_dir(dir.join(".checkpoint-best.tmpXyZ")).unwrap();
    let out = run_trial(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(step 8)"), "{}", text(&out));
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(comparable_metrics(&dir), comparable_metrics(&whole));
}

/// A tiny deterministic generator for the kill plan (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Class 7: a trial killed at random steps (seeded), after a training log
/// or right after a checkpoint (before the next log), resumed each time,
/// ends with the uninterrupted run's metrics rows and results. Two
/// schedules: checkpoints between logs, and checkpoints more often than
/// logs. (With the class 1 fix reverted, the second schedule fails: its
/// first kill comes at a checkpoint before the first log.)
#[test]
fn random_kills_and_resumes_give_the_uninterrupted_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_2026);
    for (name, train, every, steps) in [
        ("between", "steps: 40, eval_every: 12, log_every: 4, checkpoint_every: 6", 6u64, 40u64),
        ("often", "steps: 40, eval_every: 20, log_every: 10, checkpoint_every: 4", 4, 40),
    ] {
        let whole = whole_run(tmp.path(), name, train);
        let dir = copy_of(&whole, &tmp.path().join(format!("{name}-cut")));
        // At the first checkpoint (for "often", before any log), then up to
        // three more at random increasing steps, each a train log or a checkpoint.
        let mut plan = vec![format!("checkpoint:{every}")];
        let mut from = every + 1;
        for _ in 0..3 {
            let step = from + rng.below((steps - 4).saturating_sub(from).max(1));
            let kill = if rng.below(2) == 0 {
                format!("train:{step}")
            } else {
                format!("checkpoint:{}", (step / every + 1) * every)
            };
            from = step + every;
            plan.push(kill);
            if from >= steps - 4 {
                break;
            }
        }
        for kill in &plan {
            let out = run_trial(&dir, &[("RNNLAB_TEST_ABORT_AT", kill)]);
            assert!(!out.status.success(), "{name} {plan:?} {kill}: {}", text(&out));
            rnnlab::metrics::read(&dir.join("metrics.csv")).unwrap();
        }
        let out = run_trial(&dir, &[]);
        assert!(out.status.success(), "{name} {plan:?}: {}", text(&out));
        assert_eq!(comparable_metrics(&dir), comparable_metrics(&whole), "{name} {plan:?}");
        assert_eq!(results(&dir), results(&whole), "{name} {plan:?}");
    }
}

/// Class 6: a trial that panics shows the panic and its message in the
/// sweep's `failed` line and status, not the stack frames after them.
/// (Fails with the old `log_tail(5)`, the last five log lines.)
#[test]
fn a_panicking_trial_reports_its_panic_not_stack_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_spec(tmp.path(), "panics", &spec("panics", "steps: 8, eval_every: 4, log_every: 4"));
    let out = rnnlab_env(
        &["run", path.to_str().unwrap(), "--jobs", "1", "--results", tmp.path().to_str().unwrap()],
        &[("RNNLAB_TEST_PANIC_TRIAL", ""), ("RUST_BACKTRACE", "1")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    let failed = msg.lines().find(|l| l.contains(" failed: ")).unwrap_or_else(|| panic!("{msg}"));
    assert!(failed.contains("panicked at") && failed.contains("test hook: trial"), "{failed}");
    assert!(!failed.contains("stack backtrace"), "{failed}");
    let status = rnnlab::trial::Status::read(&only_trial(&tmp.path().join("panics"))).unwrap();
    assert!(status.message.unwrap().contains("test hook: trial"));
}

/// Class 5: a trial another process holds is skipped by a sweep, which
/// names the holder and leaves its log alone; `run-trial` refuses it.
/// (Fails without the lock in `runner::run_child`: the sweep trains it.)
#[test]
fn a_locked_trial_is_left_to_its_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_spec(tmp.path(), "locked", &spec("locked", "steps: 8, eval_every: 4, log_every: 4"));
    let args = ["run", path.to_str().unwrap(), "--jobs", "1", "--results", tmp.path().to_str().unwrap()];
    let out = rnnlab(&args);
    assert!(out.status.success(), "{}", text(&out));
    let dir = only_trial(&tmp.path().join("locked"));
    std::fs::write(dir.join("log.txt"), "the holder's log\n").unwrap();
    let before = std::fs::read(dir.join("metrics.csv")).unwrap();

    let held = rnnlab::lock::TrialLock::acquire(&dir).unwrap();
    let out = rnnlab(&[&args[..], &["--rerun"]].concat());
    let msg = text(&out);
    assert!(msg.contains("skipped") && msg.contains(&format!("pid {}", std::process::id())), "{msg}");
    assert_eq!(std::fs::read_to_string(dir.join("log.txt")).unwrap(), "the holder's log\n");
    assert_eq!(std::fs::read(dir.join("metrics.csv")).unwrap(), before);
    let out = run_trial(&dir, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("another run is training this trial"), "{}", text(&out));
    drop(held);
    let out = run_trial(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped) is dead.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

/// Class 5: killing the sweep (`kill -9`) takes its trial processes down
/// too, and the next run takes the lock over from the dead one. Logs are
/// rare, so the child is not killed by SIGPIPE on its next progress line.
/// (Fails without `die_with_parent`: the child trains on.)
#[cfg(target_os = "linux")]
#[test]
fn trial_processes_die_with_a_killed_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_spec(tmp.path(), "killed", &spec("killed", "steps: 100000, eval_every: 50000, log_every: 20000"));
    let mut sweep = Command::new(BIN)
        .args(["run", path.to_str().unwrap(), "--jobs", "1", "--results", tmp.path().to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The child records its pid in the trial's lock once it runs.
    let started = Instant::now();
    let child = loop {
        assert!(started.elapsed() < Duration::from_secs(60), "no trial process started");
        std::thread::sleep(Duration::from_millis(100));
        let Ok(mut dirs) = std::fs::read_dir(tmp.path().join("killed/trials")) else { continue };
        let Some(Ok(dir)) = dirs.next() else { continue };
        let lock = std::fs::read_to_string(dir.path().join("lock")).unwrap_or_default();
        let pid = lock.split_whitespace().skip_while(|w| *w != "pid").nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid.filter(|&p| p != sweep.id()) {
            break pid;
        }
    };
    assert!(alive(child));
    sweep.kill().unwrap();
    sweep.wait().unwrap();
    let killed = Instant::now();
    while alive(child) {
        if killed.elapsed() > Duration::from_secs(5) {
            let _ = Command::new("kill").arg(child.to_string()).status();
            panic!("trial process {child} outlived its sweep");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dir = only_trial(&tmp.path().join("killed"));
    let out = rnnlab_env(&["run-trial", dir.to_str().unwrap(), "--threads", "1"], &[("RNNLAB_TEST_CRASH_TRIAL", "")]);
    assert!(text(&out).contains(&format!("taken over from dead pid {child}")), "{}", text(&out));
}

/// Class 3: a trial's thread count comes from `--jobs`, not from how many
/// trials are pending, and a resumed trial keeps the count it started
/// with. (On a machine with 2+ cores, fails when threads are cores divided
/// by the pending count: the rerun of the lone failed trial gets more.)
#[test]
fn thread_counts_do_not_depend_on_pending_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let body =
        spec("threads", "steps: 12, eval_every: 6, log_every: 4, checkpoint_every: 4") + "sweep:\n  seeds: [1, 2]\n";
    let path = write_spec(tmp.path(), "threads", &body);
    let sweep = |jobs: &str, envs: &[(&str, &str)]| {
        rnnlab_env(&["run", path.to_str().unwrap(), "--jobs", jobs, "--results", tmp.path().to_str().unwrap()], envs)
    };
    let list = rnnlab(&["list", path.to_str().unwrap()]);
    let ids: Vec<String> =
        text(&list).lines().skip(1).filter_map(|l| l.split_whitespace().nth(1).map(String::from)).collect();
    assert_eq!(ids.len(), 2, "{}", text(&list));
    let exp = tmp.path().join("threads");
    let threads = |id: &str| rnnlab::trial::Status::read(&exp.join("trials").join(id)).unwrap().threads;

    // The second trial crashes at once; the first finishes.
    let out = sweep("2", &[("RNNLAB_TEST_CRASH_TRIAL", &ids[1])]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let first = threads(&ids[0]);
    // Rerun alone, it gets what it got beside the other.
    let out = sweep("2", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(threads(&ids[1]), first, "{}", text(&out));

    // Killed with 2 jobs' threads, resumed with --jobs 1: the recorded count.
    let out = sweep("2", &[]);
    assert!(out.status.success());
    let out = rnnlab_env(
        &["run", path.to_str().unwrap(), "--jobs", "2", "--rerun", "--results", tmp.path().to_str().unwrap()],
        &[("RNNLAB_TEST_ABORT_AFTER_STEP", "8")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = sweep("1", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(threads(&ids[0]), first, "{}", text(&out));
}

/// Class 4: committed results without `trials/` still give a report (from
/// `summary.csv`), and `summary` says what it cannot rebuild and leaves
/// `summary.csv` alone. (Fails without the `summary.csv` fallback in
/// `plan::results`: "has no trials/ directory".)
#[test]
fn report_and_summary_work_on_committed_results_without_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("default");
    std::fs::create_dir(&exp).unwrap();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/default");
    for f in ["summary.csv", "experiment.yaml"] {
        std::fs::copy(committed.join(f), exp.join(f)).unwrap();
    }
    let out = rnnlab(&["report", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    assert!(report.contains("Read from `summary.csv`"), "{report}");
    assert!(report.contains("| LSTM |") || report.contains("lstm"), "{report}");
    let out = rnnlab(&["summary", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("no trials/ directory") && text(&out).contains("nothing is rebuilt"), "{}", text(&out));
    assert_eq!(std::fs::read(exp.join("summary.csv")).unwrap(), std::fs::read(committed.join("summary.csv")).unwrap());
}
