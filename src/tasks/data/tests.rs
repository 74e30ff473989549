use std::path::{Path, PathBuf};

use super::*;

fn dataset(task: &str, source: &str, data_extra: &str) -> Result<Dataset> {
    let yaml = format!("task: {task}\ndata:\n  source: {source}\n{data_extra}train: {{steps: 1}}\n");
    load(&crate::spec::parse(&yaml, "test", "t").expect("test spec parses").spec)
}

fn all(ds: &Dataset) -> impl Iterator<Item = &Example> {
    ds.train.iter().chain(&ds.val).chain(&ds.test)
}

fn error(result: Result<impl std::fmt::Debug>) -> String {
    format!("{:#}", result.expect_err("an error"))
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A file source with separate val and test files.
fn three_files(task: &str, kind: &str, options: &str, train: &str, val: &str, test: &str) -> Result<Dataset> {
    let dir = tempfile::tempdir().unwrap();
    let (train, val, test) =
        (write(&dir, "train.tsv", train), write(&dir, "val.tsv", val), write(&dir, "test.tsv", test));
    let source = format!(
        "{{kind: {kind}, path: '{}', val_path: '{}', test_path: '{}'{options}}}",
        train.display(),
        val.display(),
        test.display()
    );
    dataset(task, &source, "")
}

fn strings(tokens: &[&str]) -> Vec<String> {
    tokens.iter().map(|t| t.to_string()).collect()
}

// ---- file formats

#[test]
fn labeled_csv_with_quotes_and_header() {
    let path = Path::new("tests/data/tiny_labeled.csv");
    let examples = files::labeled(path, "data.source.path", Tokens::Words, true).unwrap();
    assert_eq!(examples.len(), 4);
    assert_eq!(examples[0].source, strings(&["Great", "film,", "would", "watch", "again"]));
    assert_eq!(examples[0].target, strings(&["pos"]));
    assert_eq!(examples[2].source, strings(&["A", "\"classic\",", "really"]));
    assert_eq!(examples.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3, 4, 5]);
    let no_header = files::labeled(path, "data.source.path", Tokens::Chars, false).unwrap();
    assert_eq!(no_header.len(), 5);
    assert_eq!(no_header[0].target, strings(&["label"]));
    assert_eq!(no_header[4].source, strings(&["M", "e", "h"]));
}

#[test]
fn labeled_tsv_chars_keep_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "x.tsv", "pos\tab c\n\nneg \txy\n");
    let examples = files::labeled(&path, "data.source.path", Tokens::Chars, false).unwrap();
    assert_eq!(examples.len(), 2);
    assert_eq!(examples[0].source, strings(&["a", "b", " ", "c"]));
    assert_eq!(examples[1].target, strings(&["neg"]));
    assert_eq!(examples[1].line, 3);
}

#[test]
fn malformed_labeled_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("bad.tsv", "pos\tfine\nno tab here\n", "line 2", "no tab"),
        ("bad.tsv", "\tno label\n", "line 1", "empty label"),
        ("bad.tsv", "pos\tok\nneg\t   \n", "line 2", "empty text"),
        ("bad.csv", "pos,fine\nlonely\n", "line 2", "single field"),
        ("bad.csv", "pos,fine\n\nneg,a,b\n", "line 3", "3 fields"),
        ("bad.csv", "pos,\"fine\"\n,text\n", "line 2", "empty label"),
    ];
    for (name, text, line, what) in cases {
        let path = write(&dir, name, text);
        let message = error(files::labeled(&path, "data.source.path", Tokens::Words, false));
        for needle in [name, line, what] {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }
}

#[test]
fn tagged_sentences() {
    let examples = files::tagged(Path::new("tests/data/tiny_tagged.tsv"), "data.source.path").unwrap();
    assert_eq!(examples.len(), 3);
    assert_eq!(examples[0].source, strings(&["The", "dog", "barks", "."]));
    assert_eq!(examples[0].target, strings(&["DET", "NOUN", "VERB", "PUNCT"]));
    assert_eq!(examples[2].source, strings(&["Birds", "sing"]));
    assert_eq!(examples.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 6, 11]);
}

#[test]
fn malformed_tagged_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("a\tDT\nb\n", "line 2", "no tab"),
        ("a\tDT\n\nb\tNN\tx\n", "line 3", "3 tab-separated fields"),
        ("a\t \n", "line 1", "empty tag"),
    ];
    for (text, line, what) in cases {
        let path = write(&dir, "tags.tsv", text);
        let message = error(files::tagged(&path, "data.source.path"));
        for needle in ["tags.tsv", line, what] {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }
}

#[test]
fn conllu_skips_comments_ranges_and_empty_nodes() {
    let path = Path::new("tests/data/tiny.conllu");
    let upos = files::conllu(path, "data.source.path", ConlluColumn::Upos).unwrap();
    assert_eq!(upos.len(), 3);
    assert_eq!(upos[0].target, strings(&["DET", "NOUN", "VERB", "PUNCT"]));
    assert_eq!(upos[1].source, strings(&["Do", "n't", "go", "."]));
    assert_eq!(upos[1].target, strings(&["AUX", "PART", "VERB", "PUNCT"]));
    assert_eq!(upos[2].source, strings(&["Sue", "likes", "coffee", "and", "Bill", "tea", "."]));
    assert_eq!(upos[1].line, 11);
    let xpos = files::conllu(path, "data.source.path", ConlluColumn::Xpos).unwrap();
    assert_eq!(xpos[0].target, strings(&["DT", "NN", "VBZ", "."]));
}

#[test]
fn malformed_conllu_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n";
    let path = write(&dir, "bad.conllu", &format!("# c\n{good}2\t!\t!\tPUNCT\t.\t_\t1\tpunct\t_\n"));
    let message = error(files::conllu(&path, "data.source.path", ConlluColumn::Upos));
    assert!(message.contains("bad.conllu: line 3") && message.contains("found 9"), "{message}");
    let path = write(&dir, "noxpos.conllu", &format!("{good}\n1\tYo\tyo\tINTJ\t_\t_\t0\troot\t_\t_\n"));
    let message = error(files::conllu(&path, "data.source.path", ConlluColumn::Xpos));
    assert!(message.contains("noxpos.conllu: line 3") && message.contains("column: upos"), "{message}");
    assert!(files::conllu(&path, "data.source.path", ConlluColumn::Upos).is_ok());
}

#[test]
fn pairs_and_malformed_pairs() {
    let examples = files::pairs(Path::new("tests/data/tiny_pairs.tsv"), "data.source.path", Tokens::Chars).unwrap();
    assert_eq!(examples.len(), 3);
    assert_eq!(examples[2].source, strings(&["r", "u", "s", "t"]));
    assert_eq!(examples[2].target, strings(&["t", "s", "u", "r"]));
    assert_eq!(examples[2].line, 4);
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "words.tsv", "the cat\tle chat\n");
    let words = files::pairs(&path, "data.source.path", Tokens::Words).unwrap();
    assert_eq!(words[0].target, strings(&["le", "chat"]));
    for (text, line) in [("ab\tba\nabc\n", "line 2"), ("a\tb\tc\n", "line 1"), ("ab\t\n", "line 1")] {
        let path = write(&dir, "bad.tsv", text);
        let message = error(files::pairs(&path, "data.source.path", Tokens::Chars));
        assert!(message.contains("bad.tsv") && message.contains(line), "{message}");
    }
}

#[test]
fn missing_and_empty_files() {
    let message = error(dataset("classify", "{kind: labeled, path: tests/data/missing.tsv}", ""));
    assert!(message.contains("data.source.path: cannot read 'tests/data/missing.tsv'"), "{message}");
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "empty.tsv", "\n\n");
    let message = error(files::tagged(&path, "data.source.path"));
    assert!(message.contains("empty.tsv") && message.contains("holds no examples"), "{message}");
}

// ---- loading files

#[test]
fn separate_files_share_training_vocabulary() {
    let train = "pos\tgood fun\nneg\tbad dull\npos\tfun\nneg\tdull\n";
    let ds = three_files("classify", "labeled", ", tokens: words", train, "pos\tgood new\n", "neg\tbad\n").unwrap();
    assert_eq!(ds.source.tokens(), strings(&["<pad>", "<unk>", "bad", "dull", "fun", "good"]));
    assert_eq!(ds.target.tokens(), strings(&["neg", "pos"]));
    assert_eq!(ds.joiner, " ");
    assert_eq!((ds.train.len(), ds.val.len(), ds.test.len()), (4, 1, 1));
    // The unseen word reads as UNK.
    assert_eq!(ds.val[0], Example { source: vec![5, UNK], target: vec![1] });
    assert_eq!(ds.test[0], Example { source: vec![2], target: vec![0] });
    assert_eq!(ds.encode_source("good  zzz"), [5, UNK]);
    assert_eq!(ds.source_text(&[5, 4, PAD]), "good fun");
    assert_eq!(ds.target_text(&[1]), "pos");
    assert!(ds.description.ends_with(": 6 examples, 2 labels; train/val/test 4/1/1"), "{}", ds.description);
}

#[test]
fn labels_tags_and_targets_unseen_in_training_are_errors() {
    let message =
        error(three_files("classify", "labeled", "", "pos\tgood\nneg\tbad\n", "pos\tok\n", "neg\tbad\nmeh\tso so\n"));
    for needle in ["label 'meh'", "test split", "test.tsv: line 2"] {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    let message = error(three_files("tag", "tagged", "", "a\tDT\ncat\tNN\n", "\n\nthe\tDT\ndog\tNNS\n", "a\tDT\n"));
    for needle in ["tag 'NNS'", "val split", "val.tsv: line 4"] {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    let message = error(three_files("seq2seq", "pairs", "", "ab\tba\n", "ab\tba\n", "ab\tb\ncd\tda\n"));
    for needle in ["target token 'd'", "test split", "test.tsv: line 2"] {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

#[test]
fn pairs_dataset_reserves_decoder_ids() {
    let ds = three_files("seq2seq", "pairs", "", "ab\tba\nabc\tcba\n", "ca\tac\n", "x\ta\n").unwrap();
    assert_eq!(ds.target.tokens(), strings(&["<pad>", "<eos>", "<bos>", "a", "b", "c"]));
    assert_eq!(ds.test[0], Example { source: vec![UNK], target: vec![3] });
    assert_eq!(ds.target_text(&[BOS, 5, 3, EOS, 4]), "ca");
}

#[test]
fn max_examples_cuts_only_the_training_file() {
    let train: String = (0..10).map(|i| format!("{}\tw{i}\n", ["pos", "neg"][i % 2])).collect();
    let dir = tempfile::tempdir().unwrap();
    let (t, v, s) =
        (write(&dir, "t.tsv", &train), write(&dir, "v.tsv", "pos\tw1\nneg\tw2\n"), write(&dir, "s.tsv", "pos\tw3\n"));
    let source = format!(
        "{{kind: labeled, path: '{}', val_path: '{}', test_path: '{}'}}",
        t.display(),
        v.display(),
        s.display()
    );
    let ds = dataset("classify", &source, "  max_examples: 3\n").unwrap();
    assert_eq!((ds.train.len(), ds.val.len(), ds.test.len()), (3, 2, 1));
}

#[test]
fn conllu_and_tagged_load_with_words_joiner() {
    let fixture = "tests/data/tiny.conllu";
    let source = format!("{{kind: conllu, path: {fixture}, column: xpos, val_path: {fixture}, test_path: {fixture}}}");
    let ds = dataset("tag", &source, "").unwrap();
    assert_eq!(ds.target.tokens(), strings(&[".", "CC", "DT", "NN", "NNP", "RB", "VB", "VBZ"]));
    assert_eq!(ds.train.len(), 3);
    assert_eq!(ds.joiner, " ");
    assert!(ds.description.starts_with("conllu (xpos) files tests/data/tiny.conllu (train)"), "{}", ds.description);
    for e in all(&ds) {
        assert_eq!(e.source.len(), e.target.len());
        assert!(!e.source.contains(&UNK));
    }
    let fixture = "tests/data/tiny_tagged.tsv";
    let source = format!("{{kind: tagged, path: {fixture}, val_path: {fixture}, test_path: {fixture}}}");
    let ds = dataset("tag", &source, "").unwrap();
    assert_eq!(ds.target.tokens(), ["DET", "NOUN", "PUNCT", "VERB"]);
    assert_eq!(ds.source_text(&ds.val[0].source), "The dog barks .");
    assert_eq!(ds.target_text(&ds.val[0].target), "DET NOUN VERB PUNCT");
    let mut lengths: Vec<usize> = ds.train.iter().map(|e| e.source.len()).collect();
    lengths.sort();
    assert_eq!(lengths, [2, 3, 4]);
}

#[test]
fn single_file_is_shuffled_and_split() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..20).map(|i| format!("{}\tword{i}\n", ["pos", "neg"][i % 2])).collect();
    let path = write(&dir, "all.tsv", &text);
    let load_seed = |seed: u64| {
        dataset("classify", &format!("{{kind: labeled, path: '{}', tokens: words, seed: {seed}}}", path.display()), "")
            .unwrap()
    };
    let (a, b, c) = (load_seed(0), load_seed(0), load_seed(1));
    assert_eq!((a.train.len(), a.val.len(), a.test.len()), (18, 1, 1));
    assert_eq!((&a.train, &a.val, &a.test), (&b.train, &b.val, &b.test));
    assert_ne!(a.train, c.train);
    // Val and test words are not in the training vocabulary.
    assert_eq!(a.val[0].source, [UNK]);
    assert_eq!(a.source.len(), 2 + 18);
    assert_eq!(a.description, format!("labeled file {}: 20 examples, 2 labels; train/val/test 18/1/1", path.display()));
}

#[test]
fn thousands_separators() {
    let cases = [(0, "0"), (999, "999"), (1000, "1,000"), (20_000, "20,000"), (1_234_567, "1,234,567")];
    for (n, text) in cases {
        assert_eq!(thousands(n), text);
    }
}
