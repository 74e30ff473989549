use super::*;

const MINIMAL: &str = "data:\n  source: {kind: xml}\ntrain:\n  steps: 10\n";

/// Parses and runs every check the validation stage runs (the task's too).
fn check(src: &str) -> Result<Spec, SpecError> {
    let loaded = crate::tasks::resolve(&parse(src, "spec.yaml", "exp")?)?;
    crate::tasks::check(&loaded.spec).map_err(|(f, m)| loaded.error(&f, m))?;
    Ok(loaded.spec)
}

#[test]
fn defaults_are_filled_in() {
    let s = check(MINIMAL).unwrap();
    assert_eq!(s.name, "exp");
    assert_eq!(s.model.cell, Cell::LSTM);
    assert_eq!(s.model.hidden, 128);
    assert_eq!(s.train.optimizer, OptimizerKind::Adam);
    assert_eq!(s.train.clip_grad_norm, Some(5.0));
    assert_eq!(s.device, DeviceSpec::Auto);
    assert_eq!(s.data.split, SplitFractions { train: 0.9, val: 0.05, test: 0.05 });
}

#[test]
fn full_spec_round_trips() {
    let src = "name: full\ntask: char_lm\ndata:\n  source: {kind: file, path: corpus.txt}\n  split: {train: 0.8, val: 0.1, test: 0.1}\n\
model:\n  cell: gru\n  hidden: 64\n  layers: 2\n  dropout: 0.2\n  input: embedding\n  embedding_size: 16\n\
train:\n  optimizer: nesterov\n  lr: 0.1\n  momentum: 0.95\n  lr_schedule: {kind: step, every: 100, gamma: 0.5}\n  epochs: 1.5\n\
device: cuda:1\nsweep:\n  grid:\n    model.cell: [lstm, gru]\n  seeds: [1, 2]\n";
    let s = check(src).unwrap();
    assert_eq!(s.device, DeviceSpec::Cuda(1));
    assert_eq!(s.train.momentum_or_default(), 0.95);
    let again: Spec = serde_yaml::from_str(&serde_yaml::to_string(&s).unwrap()).unwrap();
    assert_eq!(again, s);
}

#[test]
fn unknown_keys_name_field_and_line() {
    let err = check("data:\n  source: {kind: xml}\ntrain:\n  steps: 10\nmodel:\n  hiden: 5\n").unwrap_err();
    assert_eq!(err.field, "model.hiden");
    assert!(err.message.contains("unknown field `hiden`"), "{err}");
    assert_eq!(err.line, Some(6));
}

#[test]
fn wrong_types_and_negative_sizes() {
    let err = check(&format!("{MINIMAL}model:\n  hidden: -5\n")).unwrap_err();
    assert_eq!(err.field, "model.hidden");
    assert_eq!(err.line, Some(6));
    let err = check(&format!("{MINIMAL}model:\n  layers: two\n")).unwrap_err();
    assert_eq!(err.field, "model.layers");
}

#[test]
fn invalid_values_are_named() {
    let cases = [
        ("model:\n  dropout: 1.0\n", "model.dropout"),
        ("model:\n  hidden: 0\n", "model.hidden"),
        ("model:\n  cell: transformer\n", "model.cell"),
        ("device: tpu\n", "device"),
        ("model:\n  bidirectional: true\n", "model.bidirectional"),
        ("name: 'a b'\n", "name"),
    ];
    for (extra, field) in cases {
        let err = check(&format!("{MINIMAL}{extra}")).unwrap_err();
        assert_eq!(err.field, field, "{extra}: {err}");
    }
    let err = check("data:\n  source: {kind: xml}\ntrain:\n  steps: 1\n  epochs: 1\n").unwrap_err();
    assert_eq!(err.field, "train.epochs");
    let err = check("data:\n  source: {kind: xml}\n").unwrap_err();
    assert!(err.message.contains("budget"), "{err}");
    let err = check("data:\n  source: {kind: xml}\n  split: {train: 0.9, val: 0.2, test: 0.1}\ntrain: {steps: 1}\n")
        .unwrap_err();
    assert_eq!(err.field, "data.split");
    let err = check(&format!("{MINIMAL}  momentum: 0.9\n")).unwrap_err();
    assert_eq!(err.field, "train.momentum");
}

#[test]
fn bidirectional_language_model_is_explained() {
    let err = check(&format!("{MINIMAL}model:\n  bidirectional: true\n")).unwrap_err();
    assert!(err.message.contains("reads the very character it must predict"), "{err}");
    assert_eq!(err.line, Some(6));
}

#[test]
fn example_sources_fill_defaults_refuse_unknown_keys_and_round_trip() {
    let s = check("task: seq2seq\ndata:\n  source: {kind: cipher, max_length: 9}\ntrain: {steps: 1}\n").unwrap();
    let expected = Strings { examples: 20_000, min_length: 4, max_length: 9, symbols: 10, seed: 0 };
    assert_eq!(s.data.source, Source::Cipher(expected));
    assert_eq!(s.data.source.kind(), "cipher");
    let yaml = serde_yaml::to_string(&s).unwrap();
    assert_eq!(parse(&yaml, "again", "exp").unwrap().spec, s);
    let e = check("task: classify\ndata:\n  source: {kind: parity, symbols: 4}\ntrain: {steps: 1}\n").unwrap_err();
    assert!(e.to_string().contains("unknown field `symbols`"), "{e}");
    let e = check("task: seq2seq\ndata:\n  source: {kind: sort, min_length: 0}\ntrain: {steps: 1}\n").unwrap_err();
    assert_eq!(e.field, "data.source.min_length");
}
