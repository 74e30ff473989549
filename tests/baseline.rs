//! The n-gram baseline as a pseudo-trial, end to end through the binary.
use std::path::Path;

mod common;
use common::*;

const SPEC: &str = "name: base\ndata:\n  source: {kind: xml, chars: 20000, seed: 0, max_depth: 8}\n\
model: {hidden: 8}\ntrain: {batch_size: 8, bptt: 16, steps: 10, eval_every: 5, log_every: 5}\ndevice: cpu\n\
baselines:\n  - {kind: ngram, order: 4}\n  - {kind: ngram, order: 2, smoothing: add_k, k: 0.5}\n  - {kind: ngram, order: 2, unit: word}\n";

fn summary(exp: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(exp.join("summary.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers.iter().zip(rec.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

#[test]
fn baselines_are_rows_of_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("base.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let results = tmp.path().join("r");
    let args = ["run", spec.to_str().unwrap(), "--results", results.to_str().unwrap()];
    let out = rnnlab(&args);
    assert!(out.status.success(), "{}", text(&out));
    let exp = results.join("base");
    let rows = summary(&exp);
    assert_eq!(rows.len(), 4);
    let ngrams: Vec<_> = rows.iter().filter(|r| r["cell"] == "ngram").collect();
    assert_eq!(ngrams.len(), 3);
    for r in &ngrams {
        assert_eq!(r["status"], "finished", "{r:?}");
        let bpc: f64 = r["val_bpc"].parse().unwrap();
        // The tag names are random letters, so words are mostly unseen and
        // the word model pays for spelling them; all stay finite and sane.
        assert!(bpc > 1.0 && bpc < 8.0, "{r:?}");
        assert!(r["test_bpc"].parse::<f64>().is_ok(), "{r:?}");
    }
    let kn = ngrams.iter().find(|r| r["trial"].starts_with("ngram-4-kn-")).unwrap();
    // Better than a uniform guess over the XML alphabet (log2 29 ≈ 4.86 bits).
    assert!(kn["val_bpc"].parse::<f64>().unwrap() < 4.8, "{kn:?}");
    assert!(std::fs::read_to_string(exp.join("summary.md")).unwrap().contains("| 4-gram KN |"));
    let svg = std::fs::read_to_string(exp.join("plots/val_bpc.svg")).unwrap();
    assert!(svg.contains("(baseline)"), "the reference line is labelled");

    // A rerun fits nothing again.
    let out = rnnlab(&args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("fitted"), "{}", text(&out));
}

#[test]
fn bad_baselines_name_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("{kind: ngram, order: 0}", "baselines.0.order: must be between 1 and 20"),
        ("{kind: ngram, order: 3, k: 2}", "baselines.0.k: only add_k smoothing takes k"),
        ("{kind: ngram, order: 3, discount: 1.5}", "baselines.0.discount: must be in (0, 1]"),
        ("{kind: ngram, order: 3, smoothing: witten_bell}", "unknown variant `witten_bell`"),
        ("{kind: ngram, ordr: 3}", "unknown field `ordr`"),
    ];
    for (i, (entry, expected)) in cases.iter().enumerate() {
        let spec = tmp.path().join(format!("b{i}.yaml"));
        std::fs::write(
            &spec,
            format!("data:\n  source: {{kind: xml, chars: 2000}}\ntrain: {{steps: 5}}\nbaselines:\n  - {entry}\n"),
        )
        .unwrap();
        let results = tmp.path().join(format!("r{i}"));
        let out = rnnlab(&["run", spec.to_str().unwrap(), "--results", results.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "case {i}: {}", text(&out));
        assert!(text(&out).contains(expected), "case {i}: {}", text(&out));
        assert!(!results.exists());
    }
}
