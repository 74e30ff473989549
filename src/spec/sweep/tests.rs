use super::*;
use crate::spec::parse;

fn load(src: &str) -> Loaded {
    parse(src, "test.yaml", "t").expect("parses")
}

const BASE: &str = "data:\n  source: {kind: xml, chars: 1000}\ntrain:\n  steps: 10\n";

#[test]
fn grid_times_seeds() {
    let src = format!(
        "{BASE}sweep:\n  grid:\n    model.cell: [rnn_tanh, lstm, gru]\n    model.layers: [1, 2]\n  seeds: [1, 2]\n"
    );
    let trials = expand(&load(&src)).unwrap();
    assert_eq!(trials.len(), 12);
    assert_eq!(trials[0].variant, "cell=rnn_tanh layers=1");
    assert!(trials[0].id.starts_with("rnn_tanh-1-s1-"), "{}", trials[0].id);
    assert_eq!(trials[11].spec.model.layers, 2);
    assert_eq!(trials[11].spec.train.seed, 2);
    assert_eq!(trials[11].spec.model.cell, crate::spec::Cell::named("gru").unwrap());
    assert!(trials.iter().all(|t| t.spec.sweep.is_empty()));
}

#[test]
fn ids_are_stable_and_track_the_spec() {
    let a = expand(&load(BASE)).unwrap();
    let b = expand(&load(BASE)).unwrap();
    assert_eq!(a[0].id, b[0].id);
    let changed = expand(&load(&BASE.replace("steps: 10", "steps: 11"))).unwrap();
    assert_ne!(a[0].id, changed[0].id);
    // The device does not change what a trial computes.
    let on_cpu = expand(&load(&format!("{BASE}device: cpu\n"))).unwrap();
    assert_eq!(a[0].id, on_cpu[0].id);
}

#[test]
fn bad_swept_value_names_the_axis() {
    let src = format!("{BASE}sweep:\n  grid:\n    model.dropout: [0.1, 1.5]\n");
    let err = expand(&load(&src)).unwrap_err();
    assert_eq!(err.field, "sweep.grid.model.dropout");
    assert!(err.message.contains("model.dropout=1.5"), "{err}");
}

#[test]
fn unknown_swept_key_is_an_error() {
    let src = format!("{BASE}sweep:\n  grid:\n    model.hiden: [8]\n");
    let err = expand(&load(&src)).unwrap_err();
    assert!(err.to_string().contains("hiden"), "{err}");
    let src = format!("{BASE}sweep:\n  grid:\n    modle.hidden: [8]\n");
    assert!(expand(&load(&src)).unwrap_err().to_string().contains("unknown section"));
}

#[test]
fn nested_keys_and_overrides() {
    let src = format!(
        "{BASE}sweep:\n  grid:\n    train.lr_schedule: [{{kind: constant}}, {{kind: step, every: 5, gamma: 0.5}}]\n"
    );
    let trials = expand(&load(&src)).unwrap();
    assert_eq!(trials.len(), 2);
    let o = apply_overrides(&load(BASE), &["model.hidden=7".into(), "train.steps=3".into()]).unwrap();
    assert_eq!(o.spec.model.hidden, 7);
    assert_eq!(o.spec.train.steps, Some(3));
    assert!(apply_overrides(&load(BASE), &["model.hidden".into()]).is_err());
    assert!(apply_overrides(&load(BASE), &["model.hidden=-1".into()]).is_err());
}

#[test]
fn named_variants_cross_the_grid() {
    let src = format!(
        "{BASE}sweep:\n  variants:\n    - {{model.cell: lstm}}\n    - {{label: lstm-b, model.cell: lstm, model.forget_bias: 1.0}}\n  grid:\n    model.layers: [1, 2]\n"
    );
    let trials = expand(&load(&src)).unwrap();
    assert_eq!(trials.len(), 4);
    assert_eq!(trials[0].variant, "cell=lstm layers=1");
    assert_eq!(trials[2].variant, "lstm-b layers=1");
    assert_eq!(trials[2].label.as_deref(), Some("lstm-b"));
    assert_eq!(trials[3].spec.model.forget_bias, Some(1.0));
    assert!(trials[2].id.starts_with("lstm-b-1-s0-"), "{}", trials[2].id);
    let bad = format!("{BASE}sweep:\n  variants:\n    - {{model.cell: lstm}}\n  grid:\n    model.cell: [gru]\n");
    assert!(expand(&load(&bad)).unwrap_err().message.contains("both a variant key and a grid axis"));
}

#[test]
fn random_search_samples_per_variant_reproducibly() {
    let src = format!(
        "{BASE}sweep:\n  grid:\n    model.cell: [lstm, gru]\n  random:\n    trials: 3\n    params:\n      train.lr: {{log_uniform: [1.0e-4, 1.0e-2]}}\n  seeds: [1, 2]\n"
    );
    let a = expand(&load(&src)).unwrap();
    assert_eq!(a.len(), 12);
    assert_eq!(a, expand(&load(&src)).unwrap());
    // Seeds of one sample share its draw; samples and variants differ.
    assert_eq!(a[0].sampled, a[1].sampled);
    assert_ne!(a[0].sampled, a[2].sampled);
    assert_ne!(a[0].sampled, a[6].sampled);
    assert_eq!(a[0].spec.train.lr, a[0].sampled["train.lr"].as_f64().unwrap());
    assert!(a[2].id.starts_with("lstm-r1-s1-"), "{}", a[2].id);
    assert_eq!(a[2].variant, "cell=lstm");
    let bad = src.replace("[1.0e-4, 1.0e-2]", "[0.0, 1.0e-2]");
    assert_eq!(expand(&load(&bad)).unwrap_err().field, "sweep.random.params.train.lr");
}
