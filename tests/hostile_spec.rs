//! Hostile input, round 2 (issue 13): each class is refused in the
//! validation stage, naming the field (and line), before anything is
//! written. Each test names the mutation of the fix that makes it fail.
mod common;

use std::path::Path;

use common::{rnnlab, text, write_spec};

const BASE: &str = "data:\n  source: {kind: xml, chars: 1000}\ntrain:\n  steps: 10\n";

/// The validation stage's answer for `body` with `--set` overrides: the
/// spec is parsed, checked and expanded, and its data checked.
fn plan(dir: &Path, body: &str, sets: &[&str]) -> Result<usize, String> {
    let path = write_spec(dir, "exp", body);
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let exp = rnnlab::plan::experiment(&path, &sets).map_err(|e| format!("{e:#}"))?;
    rnnlab::plan::check_data(&exp.trials).map_err(|e| format!("{e:#}"))?;
    Ok(exp.trials.len())
}

fn refused(body: &str, sets: &[&str], wanted: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let err = plan(tmp.path(), body, sets).expect_err(&format!("accepted: {body} {sets:?}"));
    for w in wanted {
        assert!(err.contains(w), "'{w}' not in: {err}");
    }
}

#[test]
fn names_that_leave_the_results_root_are_refused_and_nothing_is_written() {
    // Mutation: drop the all-dots test in Spec::check (src/spec/check.rs) and
    // `name: ..` writes into the results root's parent.
    for name in ["..", ".", "../x", "/tmp/x", "a/../../b"] {
        refused(BASE, &[&format!("name={name}")], &["name"]);
    }
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let spec = write_spec(tmp.path(), "exp", BASE);
    let out = rnnlab(&["run", spec.to_str().unwrap(), "--set", "name=..", "--results", results.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("name"), "{}", text(&out));
    assert!(!results.exists(), "written: {:?}", std::fs::read_dir(tmp.path()).unwrap().collect::<Vec<_>>());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "only the spec");
}

#[test]
fn huge_models_and_budgets_are_refused_from_a_memory_estimate() {
    // Mutation: return Ok(()) at the top of Spec::check_model_memory and
    // these pass the checks (the budget then drives the bisection to ever
    // larger models; see model::budget_bound_tests for the solver's bound).
    refused(BASE, &["model.hidden=10000000"], &["model.hidden", "GiB"]);
    refused(BASE, &["model.param_budget=100000000000000"], &["model.param_budget", "GiB"]);
    refused(BASE, &["model.input=embedding", "model.embedding_size=100000000000000"], &["model.embedding_size"]);
    refused(BASE, &["model.layers=100000000000", "model.hidden=1000"], &["model.layers"]);
}

#[test]
fn random_bounds_that_are_not_finite_are_refused() {
    // Mutation: remove the finiteness arm of Distribution::check and the
    // non-finite walk in Spec::check: the sampler panics.
    for bounds in ["[0.1, .inf]", "[-1.0e308, 1.0e308]", "[.nan, 1]"] {
        let body =
            format!("{BASE}sweep:\n  random:\n    trials: 2\n    params:\n      train.lr: {{uniform: {bounds}}}\n");
        refused(&body, &[], &["sweep.random.params"]);
    }
    let body = format!(
        "{BASE}sweep:\n  random:\n    trials: 2\n    params:\n      train.lr: {{uniform: [-1.0e308, 1.0e308]}}\n"
    );
    refused(&body, &[], &["sweep.random.params.train.lr", "finite"]);
}

#[test]
fn splits_too_short_to_evaluate_are_refused_with_the_numbers() {
    // Mutation: restore `part.len() < 2` (and `batch + 1` for train) in
    // Corpus::from_text: validation then reports a loss of 0.
    let small = "data:\n  source: {kind: xml, chars: 1000}\n  split: {train: 0.9, val: 0.05, test: 0.05}\ntrain:\n  steps: 10\n  batch_size: 32\n";
    refused(small, &[], &["data.split", "val split reads 50 characters", "need at least 64"]);
    refused(BASE, &["train.eval_chars=10"], &["train.eval_chars", "reads 10 characters"]);
    refused(
        BASE,
        &["data.max_chars=100", "train.batch_size=46"],
        &["train split has 90 characters", "need at least 92"],
    );
}

#[test]
fn repeated_keys_are_refused_everywhere() {
    // Mutation: make spec::refuse_duplicate_keys return Ok(()): the grid and
    // the random params keep their last value silently.
    let grid = format!("{BASE}sweep:\n  grid:\n    model.hidden: [8]\n    model.layers: [1]\n    model.hidden: [16]\n");
    refused(&grid, &[], &["sweep.grid.model.hidden", "repeated", "line 9"]);
    let random = format!(
        "{BASE}sweep:\n  random:\n    trials: 2\n    params:\n      train.lr: {{uniform: [0.1, 0.2]}}\n      train.lr: {{uniform: [0.1, 0.3]}}\n"
    );
    refused(&random, &[], &["sweep.random.params.train.lr", "repeated"]);
    let variant = format!("{BASE}sweep:\n  variants:\n    - {{model.hidden: 8, model.hidden: 9}}\n");
    refused(&variant, &[], &["model.hidden", "repeated"]);
    refused(&format!("{BASE}  steps: 3\n"), &[], &["train.steps", "repeated", "line 5"]);
}

#[test]
fn an_empty_seed_list_is_refused() {
    // Mutation: drop `deserialize_with = "nonempty_seeds"` from SweepSpec.seeds.
    refused(&format!("{BASE}sweep:\n  seeds: []\n"), &[], &["sweep.seeds", "empty"]);
}

#[test]
fn more_values_the_checks_let_through() {
    // Mutations: the non-finite walk in Spec::check (epochs, weight_decay,
    // clip, gamma…); MAX_SIZE for batch_size/bptt; check_size in sweep.rs;
    // the regular-file test in Spec::check_data; shorten_id in sweep.rs.
    refused(BASE, &["train.steps=null", "train.epochs=.inf"], &["train.epochs"]);
    refused(BASE, &["train.weight_decay=.nan"], &["train.weight_decay", "finite"]);
    for (set, field) in [
        ("train.lr=.nan", "train.lr"),
        ("train.clip_grad_norm=.inf", "train.clip_grad_norm"),
        ("model.forget_bias=.nan", "model.forget_bias"),
        ("train.lr_schedule={kind: exponential, gamma: .nan}", "train.lr_schedule.gamma"),
        ("data.split={train: .nan, val: 0.1, test: 0.1}", "data.split.train"),
        ("train.batch_size=18446744073709551615", "train.batch_size"),
        ("train.bptt=100000000000", "train.bptt"),
    ] {
        refused(BASE, &[set], &[field]);
    }
    let huge = format!("{BASE}sweep:\n  grid:\n    model.hidden: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n  random:\n    trials: 1000000000\n    params:\n      train.lr: {{uniform: [0.1, 0.2]}}\n");
    refused(&huge, &[], &["sweep", "10000000000 trials", "at most 10000"]);
    #[cfg(unix)]
    {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let body = format!("data:\n  source: {{kind: file, path: {}}}\ntrain:\n  steps: 10\n", fifo.display());
        refused(&body, &[], &["data.source.path", "not a regular file"]);
        refused(&body.replace(&fifo.display().to_string(), "/dev/zero"), &[], &["not a regular file"]);
    }
    // A long grid value: the id keeps its seed and hash and fits a file name.
    let tmp = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    let body = format!("{BASE}sweep:\n  variants:\n    - {{label: {long}, model.hidden: 8}}\n");
    let path = write_spec(tmp.path(), "exp", &body);
    let exp = rnnlab::plan::experiment(&path, &[]).unwrap();
    let id = &exp.trials[0].id;
    assert!(id.len() <= 255 && id.starts_with("xxxx") && id.contains("-s0-"), "{id} ({} bytes)", id.len());
}

#[test]
fn a_seed_set_by_a_variant_or_a_draw_is_refused() {
    // Mutation: drop the `seed_set` test in sweep::check_sweep: the seed
    // list silently overwrites the variant's seed.
    let variant = format!("{BASE}sweep:\n  variants:\n    - {{train.seed: 3}}\n  seeds: [1, 2]\n");
    refused(&variant, &[], &["sweep.variants", "train.seed"]);
    let drawn = format!(
        "{BASE}sweep:\n  random:\n    trials: 2\n    params:\n      train.seed: {{int_uniform: [1, 9]}}\n  seeds: [1]\n"
    );
    refused(&drawn, &[], &["sweep.random.params.train.seed"]);
}

#[test]
fn a_byte_order_mark_is_not_a_character_of_a_corpus() {
    // Mutation: drop the strip_prefix('\u{feff}') in data::read_text (or in
    // data::encode::for_each_piece, what a file corpus is read by): the
    // vocabulary gains U+FEFF.
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("c.txt");
    std::fs::write(&corpus, format!("\u{feff}{}", "abcab".repeat(200))).unwrap();
    let body =
        format!("data:\n  source: {{kind: file, path: {}}}\ntrain:\n  steps: 10\n  batch_size: 4\n", corpus.display());
    let path = write_spec(tmp.path(), "exp", &body);
    let spec = rnnlab::plan::experiment(&path, &[]).unwrap().trials[0].spec.clone();
    let text = rnnlab::data::read_text(&spec).unwrap();
    assert!(!text.text.contains('\u{feff}'));
    assert_eq!(rnnlab::data::Vocab::from_text(&text.text).len(), 3);
    let corpus = rnnlab::data::Corpus::load(&spec).unwrap();
    assert_eq!(corpus.vocab.len(), 3);
}

#[test]
fn a_train_validation_split_without_test_trains_and_reports_no_test_metrics() {
    // Mutation: require data.split.test > 0 again in Spec::check
    // (src/spec/check.rs), or score the empty test split in Trainer::run
    // (src/train/mod.rs): the run is refused, or test_* results appear.
    refused(BASE, &["data.split={train: 0.9, val: 0.1, test: -0.1}"], &["data.split.test"]);
    refused(BASE, &["data.split={train: 0.9, val: 0, test: 0.1}"], &["data.split.val"]);
    let tmp = tempfile::tempdir().unwrap();
    let lm = "data:\n  source: {kind: xml, chars: 20000}\n  split: {train: 0.9, val: 0.1, test: 0}\n\
              model: {hidden: 8}\ntrain: {steps: 6, eval_every: 3, log_every: 3, batch_size: 8, bptt: 16}\n\
              baselines:\n  - {kind: ngram, order: 3}\ndevice: cpu\n";
    let tag =
        "task: tag\ndata:\n  source: {kind: lookahead, examples: 200}\n  split: {train: 0.8, val: 0.2, test: 0}\n\
               model: {hidden: 8}\ntrain: {steps: 6, eval_every: 3, log_every: 3}\ndevice: cpu\n";
    for (name, body) in [("lm", lm), ("tag", tag)] {
        let spec = write_spec(tmp.path(), name, body);
        let out = rnnlab(&["run", spec.to_str().unwrap(), "--results", tmp.path().to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", text(&out));
        let summary = std::fs::read_to_string(tmp.path().join(name).join("summary.csv")).unwrap();
        let header = summary.lines().next().unwrap();
        assert!(header.contains("val_loss") && !header.contains("test_"), "{name}: {header}");
        let rows = summary.lines().count() - 1;
        assert_eq!(rows, if name == "lm" { 2 } else { 1 }, "{name}: {summary}");
        assert!(summary.lines().skip(1).all(|l| l.contains(",finished,")), "{name}: {summary}");
    }
}
