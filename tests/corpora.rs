//! Prepared corpora: experiments that need one say how to build it.

mod common;
use common::*;

#[test]
fn a_missing_prepared_corpus_points_to_make_data() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("k.yaml");
    std::fs::write(&spec, "data:\n  source: {kind: file, path: data/not-prepared/corpus.txt}\ntrain: {steps: 5}\n")
        .unwrap();
    let results = tmp.path().join("r");
    let out = rnnlab(&["run", spec.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("built by `make data`"), "{}", text(&out));
    assert!(!results.exists());
}

#[test]
fn the_karpathy_grid_expands_without_its_data() {
    let out = rnnlab(&["list", "experiments/karpathy_grid.yaml"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("karpathy_grid: 36 trial(s)"), "{t}");
    assert!(t.contains("9-gram KN"), "{t}");
    // The documented small CPU override parses.
    let out = rnnlab(&[
        "list",
        "experiments/karpathy_grid.yaml",
        "--set",
        "sweep.grid={model.cell: [lstm, gru], model.layers: [1], model.param_budget: [48000]}",
    ]);
    assert!(text(&out).contains("2 trial(s)"), "{}", text(&out));
}
