//! The example tasks end to end through the binary: classification,
//! tagging and seq2seq train and evaluate through the same runner, CSVs,
//! plots and reports as the language model, resume exactly, and refuse
//! bad input before writing anything.
use std::path::{Path, PathBuf};

mod common;
use common::*;

fn run_spec(dir: &Path, name: &str, body: &str) -> (PathBuf, String) {
    let spec = write_spec(dir, name, body);
    let results = dir.join("results");
    let out = rnnlab(&["run", spec.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    let msg = text(&out);
    assert!(out.status.success(), "{msg}");
    (results.join(name), msg)
}

fn metrics_of(exp: &Path) -> Vec<rnnlab::metrics::Row> {
    let trials = exp.join("trials");
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(trials).unwrap() {
        rows.extend(rnnlab::metrics::read(&entry.unwrap().path().join("metrics.csv")).unwrap());
    }
    rows
}

fn floats(values: Vec<String>) -> Vec<f64> {
    values.iter().map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("not a number: {v:?}"))).collect()
}

#[test]
fn a_bilstm_tags_what_depends_on_later_tokens_and_an_lstm_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let (exp, _) = run_spec(
        tmp.path(),
        "tagging",
        "task: tag\n\
         data:\n  source: {kind: lookahead, examples: 1500, min_length: 5, max_length: 9, symbols: 4, distance: 2, seed: 1}\n\
         model: {cell: lstm, hidden: 24, input: embedding, embedding_size: 8}\n\
         train: {optimizer: adam, lr: 0.02, batch_size: 32, steps: 250, eval_every: 50, log_every: 25}\n\
         device: cpu\n\
         sweep:\n  variants:\n    - {label: LSTM}\n    - {label: BiLSTM, model.bidirectional: true}\n",
    );
    let variants = column(&exp, "variant");
    let accuracy = floats(column(&exp, "test_accuracy"));
    assert_eq!(variants, ["LSTM", "BiLSTM"]);
    // Tags compare a token with the one two places on: from the left alone
    // a model can only guess those, so the BiLSTM must be clearly ahead.
    assert!(accuracy[1] > 0.9, "BiLSTM tag accuracy {}", accuracy[1]);
    assert!(accuracy[1] > accuracy[0] + 0.15, "BiLSTM {} vs LSTM {}", accuracy[1], accuracy[0]);
    let header = std::fs::read_to_string(exp.join("summary.csv")).unwrap();
    let header = header.lines().next().unwrap();
    assert!(header.contains("val_exact_accuracy") && !header.contains("bpc"), "{header}");
    // Accuracy by sentence length, from the final evaluation, and its plot.
    let rows = metrics_of(&exp);
    assert!(rows.iter().any(|r| r.split == "test" && r.metric == "len7_accuracy"));
    assert!(!rows.iter().any(|r| r.metric == "bpc"));
    for plot in ["val_loss", "val_accuracy", "final_val_accuracy", "test_accuracy_by_length"] {
        assert!(exp.join("plots").join(format!("{plot}.png")).is_file(), "{plot}");
    }
    let md = std::fs::read_to_string(exp.join("summary.md")).unwrap();
    assert!(md.contains("val sentence acc"), "{md}");
}

#[test]
fn classification_reads_a_labeled_file_and_reports_on_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    // Sentiment of a synthetic review: the label is decided by one word.
    let mut lines = String::new();
    let (good, bad) = (["great", "fine", "superb"], ["awful", "poor", "dull"]);
    for i in 0..400 {
        let positive = i % 2 == 0;
        let word = if positive { good[i % 3] } else { bad[i % 3] };
        lines.push_str(&format!("{}\tthe film was {word} today\n", if positive { "pos" } else { "neg" }));
    }
    let file = tmp.path().join("reviews.tsv");
    std::fs::write(&file, lines).unwrap();
    let (exp, _) = run_spec(
        tmp.path(),
        "reviews",
        &format!(
            "task: classify\n\
             data:\n  source: {{kind: labeled, path: '{}', tokens: words}}\n  split: {{train: 0.7, val: 0.15, test: 0.15}}\n\
             model: {{cell: gru, hidden: 16, input: embedding, embedding_size: 8}}\n\
             train: {{optimizer: adam, lr: 0.02, batch_size: 16, steps: 80, eval_every: 40, log_every: 20}}\n\
             device: cpu\nsweep:\n  seeds: [1, 2]\n",
            file.display()
        ),
    );
    let accuracy = floats(column(&exp, "test_accuracy"));
    assert!(accuracy.iter().all(|&a| a > 0.95), "{accuracy:?}");
    // The trained classifier on new sentences (one unseen word is read as <unk>).
    let trial = std::fs::read_dir(exp.join("trials")).unwrap().next().unwrap().unwrap().path();
    let out = rnnlab(&[
        "decode",
        trial.to_str().unwrap(),
        "--input",
        "the film was superb today",
        "--input",
        "the film was dull yesterday",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let labels: Vec<&str> = stdout.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(labels, ["pos", "neg"], "{}", text(&out));
    assert!(text(&out).contains("read as <unk> (never seen in training): yesterday"), "{}", text(&out));
    let out = rnnlab(&["report", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    assert!(report.contains("val_accuracy"), "{report}");
    assert!(!report.contains("### Samples"), "{report}");
}

const SEQ2SEQ: &str = "task: seq2seq\n\
data:\n  source: {kind: reverse, examples: 1200, min_length: 2, max_length: 5, symbols: 4, seed: 3}\n\
model: {cell: lstm, hidden: 32, input: embedding, embedding_size: 8, dropout: 0.1}\n\
decode: {beam: 3}\n";

#[test]
fn seq2seq_trains_decodes_with_beam_search_and_breaks_accuracy_down_by_length() {
    let tmp = tempfile::tempdir().unwrap();
    let (exp, _) = run_spec(
        tmp.path(),
        "s2s",
        &format!(
            "{SEQ2SEQ}train: {{optimizer: adam, lr: 0.01, batch_size: 32, steps: 300, eval_every: 100, log_every: 25}}\n\
             device: cpu\nsweep:\n  variants:\n    - {{label: plain}}\n    - {{label: luong, model.attention: luong}}\n    \
             - {{label: bahdanau, model.attention: bahdanau, train.teacher_forcing: 0.8}}\n"
        ),
    );
    let exact = floats(column(&exp, "test_exact_accuracy"));
    let beam = floats(column(&exp, "test_beam_exact_accuracy"));
    // Reversing 2–5 letters of 4 is learnable in 300 steps; chance is far below.
    for (i, (&g, &b)) in exact.iter().zip(&beam).enumerate() {
        assert!(g > 0.5, "variant {i}: greedy exact accuracy {g}");
        assert!(b > 0.5, "variant {i}: beam exact accuracy {b}");
    }
    let rows = metrics_of(&exp);
    for metric in ["len5_exact_accuracy", "len5_beam_exact_accuracy", "len4_token_accuracy", "len3_examples"] {
        assert!(rows.iter().any(|r| r.split == "test" && r.metric == metric), "{metric}");
    }
    // Periodic validation decodes greedily only.
    assert!(!rows.iter().any(|r| r.step == 100 && r.metric.starts_with("beam_")));
    for plot in ["val_exact_accuracy", "test_exact_accuracy_by_length", "test_beam_exact_accuracy_by_length"] {
        assert!(exp.join("plots").join(format!("{plot}.png")).is_file(), "{plot}");
    }
    // Each trial directory carries its resolved spec, decoding included.
    let trial = std::fs::read_dir(exp.join("trials")).unwrap().next().unwrap().unwrap().path();
    let spec = std::fs::read_to_string(trial.join("trial.yaml")).unwrap();
    assert!(spec.contains("beam: 3"), "{spec}");
    let out = rnnlab(&["report", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    assert!(report.contains("### Test exact accuracy by source length"), "{report}");
    // Test examples answered by each variant's best trial, with the reference.
    assert!(report.contains("### Examples"), "{report}");
    assert_eq!(report.matches("| bahdanau | `").count(), 3, "{report}");
    // `rnnlab decode` reverses new strings, greedily and with a beam.
    let inputs = ["abcd", "dcba", "abc", "bdca", "ccab", "dab"];
    for beam in ["1", "3"] {
        let mut args = vec!["decode", trial.to_str().unwrap(), "--beam", beam];
        for i in &inputs {
            args.extend(["--input", i]);
        }
        let out = rnnlab(&args);
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let right = stdout.lines().zip(inputs).filter(|(o, i)| *o == i.chars().rev().collect::<String>()).count();
        assert!(right >= 4, "beam {beam}: {stdout}");
    }
    let out = rnnlab(&["sample", trial.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("not a language model: apply it with `rnnlab decode`"), "{}", text(&out));
    let out = rnnlab(&["decode", trial.to_str().unwrap(), "--beam", "0", "--input", "ab"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--beam must be at least 1"), "{}", text(&out));
}

#[test]
fn a_seq2seq_trial_is_reproducible_and_resumes_to_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let body = format!(
        "name: again\n{SEQ2SEQ}train: {{optimizer: adam, lr: 0.01, batch_size: 16, steps: 30, eval_every: 10, \
         log_every: 5, checkpoint_every: 10, teacher_forcing: 0.7, seed: 4}}\ndevice: cpu\n"
    );
    let spec = write_spec(tmp.path(), "again", &body);
    let sweep = |results: &Path, envs: &[(&str, &str)]| {
        rnnlab_env(&["run", spec.to_str().unwrap(), "--jobs", "1", "--results", results.to_str().unwrap()], envs)
    };
    let comparable = |results: &Path| -> Vec<rnnlab::metrics::Row> {
        metrics_of(&results.join("again"))
            .into_iter()
            .filter(|r| r.metric != "tokens_per_s" && r.metric != "elapsed_s")
            .collect()
    };
    let (a, b, cut) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("cut"));
    assert!(sweep(&a, &[]).status.success());
    assert!(sweep(&b, &[]).status.success());
    let expected = comparable(&a);
    assert_eq!(comparable(&b), expected);
    // Killed after step 25, resumed from the checkpoint of step 20.
    let out = sweep(&cut, &[("RNNLAB_TEST_ABORT_AFTER_STEP", "25")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = sweep(&cut, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(comparable(&cut), expected);
    let trial = std::fs::read_dir(cut.join("again/trials")).unwrap().next().unwrap().unwrap().path();
    assert!(std::fs::read_to_string(trial.join("log.txt")).unwrap().contains("resuming from"));
    assert!(trial.join("checkpoint-best/symbols.json").is_file());
}

#[test]
fn bad_example_data_and_decoding_options_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = tmp.path().join("pairs.tsv");
    std::fs::write(&pairs, "abc\tcba\nde\ted\nno tab here\nfg\tgf\n").unwrap();
    let labeled = tmp.path().join("labeled.tsv");
    let mut lines: String = (0..30).map(|i| format!("{}\tword{}\n", ["a", "b"][i % 2], i)).collect();
    lines.push_str("c\tlast one\n");
    std::fs::write(&labeled, lines).unwrap();
    let (val, test) = (tmp.path().join("val.tsv"), tmp.path().join("test.tsv"));
    std::fs::write(&val, "a\tx\nb\ty\n").unwrap();
    std::fs::write(&test, "a\tx\nzebra\ty\n").unwrap();
    let budget = "train: {steps: 5}\n";
    let reverse = "task: seq2seq\ndata:\n  source: {kind: reverse, examples: 100}\n";
    let cases: Vec<(String, String)> = vec![
        (
            format!("task: seq2seq\ndata:\n  source: {{kind: pairs, path: '{}'}}\n{budget}", pairs.display()),
            format!("{}: line 3", pairs.display()),
        ),
        (
            format!(
                "task: classify\ndata:\n  source: {{kind: labeled, path: '{}', val_path: '{}', test_path: '{}'}}\n{budget}",
                labeled.display(),
                val.display(),
                test.display()
            ),
            "zebra".into(),
        ),
        (format!("{reverse}{budget}decode: {{beam: 0}}\n"), "decode.beam: must be at least 1".into()),
        (format!("{reverse}{budget}baselines:\n  - {{kind: ngram, order: 3}}\n"), "baselines: n-gram baselines".into()),
        (format!("{reverse}{budget}decode: {{max_length: 0}}\n"), "decode.max_length: must be at least 1".into()),
        (format!("{reverse}train: {{steps: 5, teacher_forcing: 1.5}}\n"), "train.teacher_forcing".into()),
        (format!("data:\n  source: {{kind: reverse}}\n{budget}"), "provides data for task seq2seq".into()),
        (format!("task: tag\ndata:\n  source: {{kind: xml}}\n{budget}"), "but the task is tag".into()),
        (
            format!("data:\n  source: {{kind: xml}}\n{budget}model: {{attention: luong}}\n"),
            "model.attention: only a seq2seq model".into(),
        ),
        (
            format!("task: seq2seq\ndata:\n  source: {{kind: reverse, min_length: 5, max_length: 3}}\n{budget}"),
            "data.source.max_length: must be at least min_length".into(),
        ),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let spec = write_spec(tmp.path(), &format!("bad{i}"), body);
        let results = tmp.path().join(format!("results{i}"));
        let out = rnnlab(&["run", spec.to_str().unwrap(), "--results", results.to_str().unwrap()]);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(1), "case {i} should fail: {msg}");
        assert!(msg.contains(expected.as_str()), "case {i}: expected {expected:?} in: {msg}");
        assert!(!results.exists(), "case {i} wrote {}", results.display());
    }
}
