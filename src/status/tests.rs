use std::path::Path;

use super::*;
use crate::lock::TrialLock;
use crate::slurm::Submission;

/// The six trials of experiments/tiny.yaml written into `exp`, each with a
/// status as `states` says (None: no status.json).
fn synthetic(exp: &Path, states: &[Option<TrialState>]) -> Vec<std::path::PathBuf> {
    let e = crate::plan::experiment(Path::new("experiments/tiny.yaml"), &[]).unwrap();
    e.trials
        .iter()
        .zip(states)
        .map(|(t, state)| {
            let dir = layout::trial_dir(exp, &t.id);
            std::fs::create_dir_all(&dir).unwrap();
            t.write(&dir).unwrap();
            if let Some(state) = state {
                let mut s = Status::running("cpu".into(), 1);
                s.state = *state;
                s.total_steps = 120;
                if *state == TrialState::Failed {
                    s.message = Some("out of memory".into());
                }
                s.write(&dir).unwrap();
            }
            dir
        })
        .collect()
}

#[test]
fn status_counts_each_state_from_the_directories_and_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("tiny");
    use TrialState::*;
    let dirs = synthetic(&exp, &[Some(Finished), Some(Diverged), Some(Failed), Some(Running), Some(Running), None]);
    std::fs::write(dirs[2].join(layout::LOG_FILE), "loading\nerror: out of memory\n").unwrap();
    // Trial 3 trains now (its lock is held) and has logged two steps.
    let _held = TrialLock::acquire(&dirs[3]).unwrap();
    let mut log = crate::metrics::MetricsLog::create(&dirs[3].join(layout::METRICS_FILE), "x").unwrap();
    log.write(10, "train", &[("bpc", 3.0), ("grad_norm", 1.0)]).unwrap();
    log.write(20, "train", &[("bpc", 2.5), ("grad_norm", 1.0)]).unwrap();
    log.write(20, "val", &[("bpc", 2.6)]).unwrap();
    // Trial 4 was killed (status running, nobody holds it) and resubmitted: queued.
    let sub = Submission { job: "7_1".into(), script: "s".into(), submitted: 0 };
    std::fs::write(
        dirs[4].join(layout::SLURM_FILE),
        serde_json::to_string(&crate::slurm::Record { submissions: vec![sub] }).unwrap(),
    )
    .unwrap();
    let queue = Queue::parse("7_1 PENDING\n7_0 COMPLETED\n");
    let views = scan(&exp, Some(&queue), 0).unwrap();
    let n: Vec<usize> = counts(&views).iter().map(|(_, n)| *n).collect();
    // pending, queued, running, finished, diverged, failed
    // Fails if: classify() trusts a `running` status.json over the lock (trial 4 would be running).
    assert_eq!(n, vec![1, 1, 1, 1, 1, 1], "{views:#?}");
    let running = views.iter().find(|v| v.state == State::Running).unwrap();
    assert_eq!((running.step, running.total), (20, 120));
    assert_eq!(running.latest, vec![("train_bpc".to_string(), 2.5), ("val_bpc".to_string(), 2.6)]);
    assert_eq!(running.curve, vec![3.0, 2.5]);
    let text = render("tiny", &views, true);
    assert!(
        text.starts_with("tiny: 6 trials: 1 pending, 1 queued, 1 running, 1 finished, 1 diverged, 1 failed"),
        "{text}"
    );
    assert!(text.contains("error: out of memory") && text.contains("job 7_1"), "{text}");
    // Without squeue (a machine with no Slurm), the queued trial is pending.
    let views = scan(&exp, None, 0).unwrap();
    assert_eq!(counts(&views)[0], (State::Pending, 2));
}

#[test]
fn eta_follows_the_current_attempts_rate_and_sparklines_scale() {
    let mut s = Status::running("cpu".into(), 1);
    s.started = 1000;
    s.total_steps = 100;
    // 20 steps in 10 s: 80 left take 40 s.
    assert_eq!(eta(&s, 20, 1010), Some(40.0));
    // Resumed at step 10: 10 steps in 10 s, 80 left take 80 s.
    // Fails if: eta() ignores the step it resumed from.
    s.message = Some("resumed from step 10".into());
    assert_eq!(eta(&s, 20, 1010), Some(80.0));
    assert_eq!(sparkline(&[4.0, 3.0, 2.0, 1.0], 10), "█▆▃▁");
    assert_eq!(sparkline(&[4.0, 3.0, 2.0, 1.0], 2), "█▁");
    // Means of [9, 7], [5, 3], [2, 1]: 8, 4, 1.5.
    // Fails if: the sparkline shows only the last `width` values ("█▅▁", 3 2 1: not the descent).
    assert_eq!(sparkline(&[9.0, 7.0, 5.0, 3.0, 2.0, 1.0], 3), "█▄▁");
    assert_eq!(sparkline(&[], 5), "");
}
