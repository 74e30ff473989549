//! `rnnlab sample` end to end: a model trained on Cyrillic text continues a
//! Cyrillic prime; sampling is seeded; beam width 1 is greedy; bad primes
//! are named.
use std::process::Output;

mod common;
use common::*;

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn sample_from_a_cyrillic_model_and_its_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("onegin.txt");
    std::fs::write(
        &corpus,
        "Мой дядя самых честных правил, когда не в шутку занемог,\nон уважать себя заставил и лучше выдумать не мог.\n"
            .repeat(30),
    )
    .unwrap();
    let spec = tmp.path().join("ru.yaml");
    std::fs::write(
        &spec,
        format!(
            "name: ru\ndata:\n  source: {{kind: file, path: '{}'}}\nmodel: {{hidden: 24}}\n\
train: {{lr: 0.01, batch_size: 4, bptt: 16, steps: 40, eval_every: 20}}\ndevice: cpu\n\
baselines:\n  - {{kind: ngram, order: 6}}\n",
            corpus.display()
        ),
    )
    .unwrap();
    let results = tmp.path().join("r");
    stdout(&rnnlab(&["run", spec.to_str().unwrap(), "--results", results.to_str().unwrap()]));
    let trials = results.join("ru/trials");
    let mut dirs: Vec<_> = std::fs::read_dir(&trials).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    let (ngram, rnn) = if dirs[0].file_name().unwrap().to_str().unwrap().starts_with("ngram") {
        (&dirs[0], &dirs[1])
    } else {
        (&dirs[1], &dirs[0])
    };
    let rnn = rnn.to_str().unwrap();
    let sample = |extra: &[&str]| {
        let mut args = vec!["sample", rnn, "--prime", "Мой дядя", "--length", "60"];
        args.extend(extra);
        stdout(&rnnlab(&args))
    };
    let a = sample(&["--seed", "1"]);
    assert!(a.starts_with("Мой дядя"), "{a}");
    assert_eq!(a.trim_end_matches('\n').chars().count(), "Мой дядя".chars().count() + 60);
    assert!(a.chars().skip(8).any(|c| ('а'..='я').contains(&c)), "{a}");
    assert_eq!(a, sample(&["--seed", "1"]));
    assert_ne!(a, sample(&["--seed", "2"]));
    assert_eq!(sample(&["--greedy"]), sample(&["--beam", "1"]));
    assert!(sample(&["--beam", "3", "--stop", "\n"]).ends_with('\n'));

    // The n-gram baseline samples too, and continues the memorised line exactly.
    let out =
        stdout(&rnnlab(&["sample", ngram.to_str().unwrap(), "--prime", "Мой дядя", "--greedy", "--length", "12"]));
    assert_eq!(out, "Мой дядя самых честн\n");

    // The library call a report uses gives the same text as the command.
    let text = rnnlab::generate::sample_text(std::path::Path::new(rnn), "Мой дядя", 60, 1.0, 1).unwrap();
    assert_eq!(format!("{text}\n"), a);

    // A priming character the model never saw is named; nothing is printed.
    let bad = rnnlab(&["sample", rnn, "--prime", "Мой dядя"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("'d' (U+0064) is not in the vocabulary"), "{err}");
    assert!(bad.stdout.is_empty());
}
