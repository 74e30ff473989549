//! Big corpora and word tokens (issue 16), end to end: a word-level model
//! trains through the cache, reports bits per character and per-word
//! perplexity, samples words from its checkpoint and from its word n-gram;
//! bad token settings are refused naming the field.
mod common;

use std::path::Path;

use common::*;

fn corpus(dir: &Path) -> String {
    let text = "the cat sat on the mat. the dog sat on the log. a cat and a dog.\n".repeat(60);
    let path = dir.join("words.txt");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn spec(dir: &Path, extra: &str) -> String {
    let body = format!(
        "name: w\ntask: token_lm\ndata:\n  source: {{kind: file, path: {}}}\n  tokens: words\n\
         model: {{cell: gru, hidden: 16, input: embedding, embedding_size: 8}}\n\
         train: {{steps: 30, batch_size: 4, bptt: 8, eval_every: 15, log_every: 5, checkpoint_every: 15}}\n\
         device: cpu\nbaselines:\n  - {{kind: ngram, order: 3, unit: word}}\n{extra}",
        corpus(dir)
    );
    write_spec(dir, "w", &body).display().to_string()
}

#[test]
fn a_word_model_trains_reports_text_metrics_and_samples_words() {
    // Fails if: the cache path is not used (no .ids file appears), token_lm
    // does not measure bpc (no val_bpc), or sampling reads the vocabulary
    // as characters (vocab.json holds words).
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let env = [("RNNLAB_CACHE", cache.to_str().unwrap())];
    let spec = spec(tmp.path(), "");
    let results = tmp.path().join("r");
    let out = rnnlab_env(&["run", &spec, "--results", results.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", text(&out));
    let cached: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let exp = results.join("w");
    for col in ["val_bpc", "test_bpc", "val_word_perplexity", "val_perplexity"] {
        let values = column(&exp, col);
        assert_eq!(values.len(), 2, "{col}: {values:?}");
        assert!(values.iter().all(|v| v.parse::<f64>().unwrap().is_finite()), "{col}: {values:?}");
    }
    // Bits per character are below a uniform guess over the characters.
    let bpc: f64 = column(&exp, "val_bpc")[1].parse().unwrap();
    assert!(bpc < (17f64).log2(), "{bpc}");
    let trials = exp.join("trials");
    let mut dirs: Vec<_> = std::fs::read_dir(&trials).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    let (ngram, gru): (Vec<_>, Vec<_>) =
        dirs.into_iter().partition(|d| d.file_name().unwrap().to_string_lossy().starts_with("word-ngram"));
    let vocab: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(gru[0].join("checkpoint-last/vocab.json")).unwrap()).unwrap();
    assert_eq!(vocab[0], "<unk>");
    assert!(vocab.contains(&"cat".to_string()));
    for dir in [&gru[0], &ngram[0]] {
        let out = rnnlab_env(&["sample", dir.to_str().unwrap(), "--prime", "the cat ", "--length", "12"], &env);
        assert!(out.status.success(), "{}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
        // 12 tokens, several of them whole words: more than 12 characters.
        let generated = said.strip_prefix("the cat ").unwrap_or_else(|| panic!("{said}"));
        assert!(generated.chars().count() > 12, "{said}");
    }
    // The word 3-gram, greedy, continues the text it counted (its context is
    // two tokens, a word and a space: after "the " every noun ties).
    let out =
        rnnlab_env(&["sample", ngram[0].to_str().unwrap(), "--prime", "the cat ", "--length", "9", "--greedy"], &env);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "the cat sat on the dog sat", "{}", text(&out));
}

#[test]
fn token_settings_are_checked_naming_the_field() {
    // Fails if: char_lm accepts data.tokens: words (it would train on
    // words while reporting bits per character of the loss).
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec(tmp.path(), "");
    let cases: [(&[&str], &str); 5] = [
        (&["task=char_lm", "baselines=[]"], "data.tokens"),
        (&["data.tokens=chars"], "data.tokens"),
        (&["data.max_vocab=1"], "data.max_vocab"),
        (&["data.min_count=0"], "data.min_count"),
        (&["train.eval_chars=100"], "train.eval_chars"),
    ];
    for (sets, field) in cases {
        let mut args = vec!["list", spec.as_str()];
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = rnnlab(&args);
        assert!(!out.status.success(), "accepted {sets:?}: {}", text(&out));
        assert!(text(&out).contains(field), "{sets:?}: {}", text(&out));
    }
    // min_count without words is refused too.
    let out =
        rnnlab(&["list", &spec, "--set", "task=char_lm", "--set", "data.tokens=chars", "--set", "data.min_count=3"]);
    assert!(text(&out).contains("data.min_count"), "{}", text(&out));
}
