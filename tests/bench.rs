//! `rnnlab bench` and the PyTorch references `make bench` compares it with:
//! each prints one JSON result line in the shared format. No timing is
//! asserted, only that a real measurement came out.
mod common;

use std::process::{Command, Output};

use common::{python, rnnlab_env, text};
use serde_json::Value;

/// The single line of stdout, parsed, after checking the fields every
/// implementation reports.
fn result_line(out: &Output, implementation: &str) -> Value {
    assert!(out.status.success(), "{}", text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "expected one JSON line: {}", text(out));
    let v: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {}", lines[0]));
    assert_eq!(v["impl"], implementation);
    let number = |key: &str| v[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number: {v}"));
    let tokens_per_s = number("tokens_per_s");
    assert!(tokens_per_s.is_finite() && tokens_per_s > 0.0, "{v}");
    assert!(number("final_loss").is_finite(), "{v}");
    assert!(number("peak_rss_mb") > 0.0, "{v}");
    assert_eq!(v["device"], "cpu");
    v
}

fn bench(args: &[&str]) -> Output {
    rnnlab_env(&[&["bench", "--threads", "1"], args].concat(), &[])
}

#[test]
fn seq2seq_bench_reports_one_result_line() {
    let out = bench(&["--task", "seq2seq", "--hidden", "16", "--length", "6", "--steps", "2", "--warmup", "1"]);
    let v = result_line(&out, "rnnlab");
    assert_eq!(v["task"], "seq2seq");
    assert_eq!((v["hidden"].as_u64(), v["length"].as_u64(), v["steps"].as_u64()), (Some(16), Some(6), Some(2)));
    assert_eq!(v["attention"], "none");
    assert!(v.get("bptt").is_none(), "{v}");
    // Untrained, the loss is near ln(23) (uniform over the target vocabulary).
    let loss = v["final_loss"].as_f64().unwrap();
    assert!((loss - 23f64.ln()).abs() < 0.5, "{v}");
}

#[test]
fn seq2seq_bench_with_luong_attention() {
    let out = bench(&["--task", "seq2seq", "--attention", "luong", "--hidden", "8", "--steps", "1", "--warmup", "0"]);
    assert_eq!(result_line(&out, "rnnlab")["attention"], "luong");
}

#[test]
fn char_lm_bench_is_the_default_task() {
    let out = bench(&["--hidden", "8", "--bptt", "16", "--steps", "1", "--warmup", "0"]);
    let v = result_line(&out, "rnnlab");
    assert_eq!((v["task"].as_str(), v["bptt"].as_u64()), (Some("char_lm"), Some(16)));
    assert!(v.get("length").is_none(), "{v}");
}

#[test]
fn bench_rejects_options_of_the_other_task() {
    for args in [&["--task", "seq2seq", "--bptt", "16"][..], &["--length", "8"][..]] {
        let out = bench(args);
        assert!(!out.status.success(), "{args:?} was accepted: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("are options of --task"), "{}", text(&out));
    }
}

#[test]
fn pytorch_seq2seq_reference_reports_the_same_format() {
    let out = Command::new(python())
        .args([
            "scripts/torch_seq2seq_reference.py",
            "--hidden",
            "16",
            "--length",
            "6",
            "--steps",
            "2",
            "--warmup",
            "1",
        ])
        .args(["--threads", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python runs");
    let reference = result_line(&out, "pytorch");
    let ours = result_line(
        &bench(&["--task", "seq2seq", "--hidden", "16", "--length", "6", "--steps", "2", "--warmup", "1"]),
        "rnnlab",
    );
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&reference), keys(&ours));
    for key in ["task", "hidden", "layers", "batch", "length", "attention", "steps"] {
        assert_eq!(reference[key], ours[key], "{key}");
    }
    let loss = reference["final_loss"].as_f64().unwrap();
    assert!((loss - 23f64.ln()).abs() < 0.5, "{reference}");
}
