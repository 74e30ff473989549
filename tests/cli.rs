//! End-to-end tests of the `rnnlab` binary: a tiny sweep on CPU, its files,
//! reproducibility, and the bad-input cases.
mod common;

use common::{column, rnnlab_env, summary_rows, text, write_spec};

#[test]
fn tiny_sweep_writes_metrics_summary_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    let out = rnnlab_env(&["run", "experiments/tiny.yaml", "--results", results], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let exp = tmp.path().join("tiny");

    let rows = summary_rows(&exp);
    assert_eq!(rows.len(), 6);
    assert_eq!(column(&exp, "status"), vec!["finished"; 6]);
    assert_eq!(column(&exp, "model.cell"), vec!["rnn_tanh", "rnn_tanh", "lstm", "lstm", "gru", "gru"]);
    for v in column(&exp, "val_bpc") {
        let bpc: f64 = v.parse().unwrap();
        // Below a uniform guess over the XML alphabet (log2 29 ≈ 4.86 bits).
        assert!(bpc > 0.5 && bpc < 4.6, "val bpc {bpc}");
    }
    let params: Vec<i64> = column(&exp, "params").iter().map(|p| p.parse().unwrap()).collect();
    assert!(params[0] < params[4] && params[4] < params[2], "tanh < gru < lstm: {params:?}");

    // Each trial directory is self-contained.
    for entry in std::fs::read_dir(exp.join("trials")).unwrap() {
        let dir = entry.unwrap().path();
        let trial: rnnlab::spec::sweep::Trial =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("trial.yaml")).unwrap()).unwrap();
        assert!(trial.spec.sweep.is_empty());
        let rows = rnnlab::metrics::read(&dir.join("metrics.csv")).unwrap();
        assert!(rows.iter().all(|r| r.trial == trial.id));
        for (split, metric) in [
            ("train", "loss"),
            ("train", "grad_norm"),
            ("train", "lr"),
            ("train", "tokens_per_s"),
            ("val", "bpc"),
            ("val", "accuracy"),
            ("test", "bpc"),
        ] {
            assert!(rows.iter().any(|r| r.split == split && r.metric == metric), "{split}/{metric} missing");
        }
        let status = std::fs::read_to_string(dir.join("status.json")).unwrap();
        assert!(status.contains("\"finished\""));
    }
    assert!(std::fs::read_to_string(exp.join("summary.md")).unwrap().contains("| cell=lstm |"));

    // Plots are redrawn from the CSVs alone.
    std::fs::remove_dir_all(exp.join("plots")).unwrap();
    let out = rnnlab_env(&["plot", exp.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    for name in ["val_bpc", "train_bpc", "final_val_bpc"] {
        let png = std::fs::read(exp.join("plots").join(format!("{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 10_000, "{name}.png is suspiciously small");
        let svg = std::fs::read_to_string(exp.join("plots").join(format!("{name}.svg"))).unwrap();
        assert!(svg.contains("bits per character"));
    }

    // Re-running skips finished trials.
    let out = rnnlab_env(&["run", "experiments/tiny.yaml", "--results", results], &[]);
    assert!(out.status.success());
    assert!(text(&out).contains("all 6 trials already done"), "{}", text(&out));
}

/// The default experiment itself (built-in corpus, all six variants), shrunk
/// to seconds with overrides.
#[test]
fn default_experiment_runs_at_tiny_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let sets = [
        "train.steps=6",
        "train.eval_every=3",
        "train.log_every=3",
        "model.hidden=8",
        "data.max_chars=40000",
        "sweep.seeds=[1]",
        "device=cpu",
    ];
    let mut args = vec!["run", "experiments/default.yaml", "--results", tmp.path().to_str().unwrap()];
    for s in &sets {
        args.extend(["--set", s]);
    }
    let out = rnnlab_env(&args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let exp = tmp.path().join("default");
    // Six trained variants, then the spec's two n-gram baselines.
    assert_eq!(column(&exp, "status"), vec!["finished"; 8]);
    assert_eq!(column(&exp, "model.layers"), vec!["1", "2", "1", "2", "1", "2", "", ""]);
    assert_eq!(column(&exp, "cell")[6..], ["ngram", "ngram"]);
    let spec = std::fs::read_to_string(exp.join("experiment.yaml")).unwrap();
    assert!(spec.contains("max_chars: 40000") && spec.contains("torch-nn-modules"), "{spec}");
}

#[test]
fn same_spec_and_seed_give_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |sub: &str| {
        let results = tmp.path().join(sub);
        let out = rnnlab_env(
            &[
                "run",
                "experiments/tiny.yaml",
                "--trial-index",
                "2",
                "--threads",
                "1",
                "--set",
                "train.steps=40",
                "--results",
                results.to_str().unwrap(),
            ],
            &[],
        );
        assert!(out.status.success(), "{}", text(&out));
        let trials = results.join("tiny").join("trials");
        let dir = std::fs::read_dir(&trials).unwrap().next().unwrap().unwrap().path();
        rnnlab::metrics::read(&dir.join("metrics.csv"))
            .unwrap()
            .into_iter()
            .filter(|r| r.metric != "tokens_per_s" && r.metric != "elapsed_s")
            .collect::<Vec<_>>()
    };
    let (a, b) = (run("a"), run("b"));
    assert!(a.len() > 10);
    assert_eq!(a, b);
}

#[test]
fn diverged_trials_are_marked_and_the_sweep_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "div",
        "data:\n  source: {kind: xml, chars: 5000}\nmodel: {cell: rnn_relu, hidden: 16}\n\
train: {optimizer: sgd, clip_grad_norm: null, batch_size: 4, bptt: 16, steps: 30, log_every: 5, eval_every: 10}\n\
device: cpu\nsweep:\n  grid:\n    train.lr: [0.01, 1.0e+12]\n",
    );
    let out = rnnlab_env(&["run", spec.to_str().unwrap(), "--results", tmp.path().to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let exp = tmp.path().join("div");
    assert_eq!(column(&exp, "status"), vec!["finished", "diverged"]);
    assert!(column(&exp, "message")[1].contains("diverged at step"), "{:?}", column(&exp, "message"));
    assert!(text(&out).contains("1 diverged"), "{}", text(&out));
}

#[test]
fn a_crashing_trial_does_not_kill_the_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rnnlab_env(
        &["run", "experiments/tiny.yaml", "--set", "train.steps=20", "--results", tmp.path().to_str().unwrap()],
        &[("RNNLAB_TEST_CRASH_TRIAL", "gru")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let exp = tmp.path().join("tiny");
    assert_eq!(column(&exp, "status"), vec!["finished", "finished", "finished", "finished", "failed", "failed"]);
    assert!(column(&exp, "message")[4].contains("before recording a result"));
    // A rerun retries only the failed trials.
    let out = rnnlab_env(
        &["run", "experiments/tiny.yaml", "--set", "train.steps=20", "--results", tmp.path().to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("4 of 6 trials already done"), "{}", text(&out));
    assert_eq!(column(&exp, "status"), vec!["finished"; 6]);
}

#[test]
fn cyrillic_text_trains_on_unicode_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("pushkin.txt");
    std::fs::write(
        &corpus,
        "Мой дядя самых честных правил, когда не в шутку занемог, он уважать себя заставил и лучше выдумать не мог.\n"
            .repeat(40),
    )
    .unwrap();
    let spec = write_spec(tmp.path(), "ru", &format!(
        "data:\n  source: {{kind: file, path: '{}'}}\nmodel: {{hidden: 16, input: embedding, embedding_size: 8}}\ntrain: {{batch_size: 4, bptt: 16, steps: 20}}\ndevice: cpu\n",
        corpus.display()
    ));
    let out = rnnlab_env(&["run", spec.to_str().unwrap(), "--results", tmp.path().to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(column(&tmp.path().join("ru"), "status"), vec!["finished"]);
}

/// Bad input: a clear message naming the problem, non-zero exit, nothing written.
#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let latin1 = tmp.path().join("latin1.txt");
    std::fs::write(&latin1, b"caf\xe9 au lait").unwrap();
    let ok_data = "data:\n  source: {kind: xml, chars: 2000}\n";
    let budget = "train: {steps: 5}\n";
    let cases: Vec<(String, &str)> = vec![
        (format!("{ok_data}{budget}model:\n  hiden: 8\n"), "unknown field `hiden`"),
        (format!("{ok_data}{budget}model:\n  hidden: -8\n"), "model.hidden"),
        (format!("{ok_data}{budget}model:\n  dropout: 1.0\n"), "model.dropout: must be in [0, 1) (line 5)"),
        (format!("{ok_data}{budget}model:\n  cell: transformer\n"), "unknown variant `transformer`"),
        (format!("{ok_data}{budget}device: tpu\n"), "unknown device 'tpu'"),
        (format!("{ok_data}{budget}model:\n  bidirectional: true\n"), "cannot be trained on next-token prediction"),
        (format!("{ok_data}model: {{hidden: 8}}\n"), "give a budget"),
        (
            "data:\n  source: {kind: file, path: /nonexistent/corpus.txt}\ntrain: {steps: 5}\n".into(),
            "cannot read '/nonexistent/corpus.txt'",
        ),
        (format!("data:\n  source: {{kind: file, path: '{}'}}\n{budget}", empty.display()), "text is empty"),
        (
            format!("data:\n  source: {{kind: file, path: '{}'}}\n{budget}", latin1.display()),
            "is not UTF-8 text (invalid byte at offset 3)",
        ),
        (format!("{ok_data}{budget}sweep:\n  grid:\n    model.layers: [1, 0]\n"), "sweep point model.layers=0"),
        (format!("{ok_data}train: {{steps: 5, batch_size: 5000}}\n"), "too few for train.batch_size"),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let spec = write_spec(tmp.path(), &format!("bad{i}"), body);
        let results = tmp.path().join(format!("results{i}"));
        let out = rnnlab_env(&["run", spec.to_str().unwrap(), "--results", results.to_str().unwrap()], &[]);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(1), "case {i} should fail: {msg}");
        assert!(msg.contains(expected), "case {i}: expected {expected:?} in: {msg}");
        assert!(msg.starts_with("error: "), "case {i}: {msg}");
        assert!(!results.exists(), "case {i} wrote {}", results.display());
    }
}

#[test]
fn cuda_without_a_gpu_is_refused() {
    if tch::Cuda::is_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("r");
    let out =
        rnnlab_env(&["run", "experiments/tiny.yaml", "--device", "cuda", "--results", results.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no CUDA device is available"), "{}", text(&out));
    assert!(!results.exists());
}

#[test]
fn list_shows_trial_ids_for_job_arrays() {
    let out = rnnlab_env(&["list", "experiments/default.yaml"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("default: 12 trial(s)"), "{t}");
    assert!(t.contains("cell=gru layers=2"), "{t}");
}
