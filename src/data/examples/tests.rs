use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::synthetic::{civil_from_days, days_from_civil, format_date, lookahead_tag, weekday, DATE_FORMATS};
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

// ---- generated sets

#[test]
fn reverse_targets_vocabulary_and_description() {
    let ds = dataset("seq2seq", "{kind: reverse, examples: 200, min_length: 3, max_length: 6, seed: 1}", "").unwrap();
    assert_eq!(ds.source.tokens()[..3], ["<pad>", "<unk>", "a"]);
    assert_eq!(ds.source.len(), 12);
    assert_eq!(ds.target.tokens()[..4], ["<pad>", "<eos>", "<bos>", "a"]);
    assert_eq!(ds.joiner, "");
    assert_eq!(
        ds.description,
        "reverse: 200 examples, source lengths 3–6, 10 symbols (seed 1); train/val/test 180/10/10"
    );
    let mut lengths = HashSet::new();
    for e in all(&ds) {
        lengths.insert(e.source.len());
        assert!(e.source.iter().all(|&id| id > UNK));
        assert!(e.target.iter().all(|&id| id > BOS));
        let reversed: String = ds.source_text(&e.source).chars().rev().collect();
        assert_eq!(ds.target_text(&e.target), reversed);
    }
    assert_eq!(lengths, HashSet::from([3, 4, 5, 6]));
}

#[test]
fn sort_targets() {
    let ds = dataset("seq2seq", "{kind: sort, examples: 100, min_length: 2, max_length: 9, symbols: 4}", "").unwrap();
    assert_eq!(ds.source.len(), 2 + 4);
    for e in all(&ds) {
        let mut sorted: Vec<char> = ds.source_text(&e.source).chars().collect();
        sorted.sort();
        assert_eq!(ds.target_text(&e.target), sorted.into_iter().collect::<String>());
        assert!((2..=9).contains(&e.source.len()));
    }
}

#[test]
fn cipher_substitutes_each_letter_by_one_fixed_other_letter() {
    let ds = dataset("seq2seq", "{kind: cipher, examples: 300, min_length: 3, max_length: 8, symbols: 6, seed: 2}", "")
        .unwrap();
    let mut key: std::collections::HashMap<char, char> = std::collections::HashMap::new();
    for e in all(&ds) {
        let (plain, coded) = (ds.source_text(&e.source), ds.target_text(&e.target));
        assert_eq!(plain.chars().count(), coded.chars().count());
        for (p, c) in plain.chars().zip(coded.chars()) {
            assert_ne!(p, c, "a letter stands for itself");
            assert_eq!(*key.entry(p).or_insert(c), c, "{p} maps to two letters");
        }
    }
    // A permutation of the six letters.
    let mut images: Vec<char> = key.values().copied().collect();
    images.sort();
    assert_eq!(images, ['a', 'b', 'c', 'd', 'e', 'f']);
}

#[test]
fn generation_is_deterministic_and_sources_distinct() {
    let source =
        |seed: u64| format!("{{kind: reverse, examples: 300, min_length: 2, max_length: 5, symbols: 3, seed: {seed}}}");
    let (a, b, c) = (
        dataset("seq2seq", &source(7), "").unwrap(),
        dataset("seq2seq", &source(7), "").unwrap(),
        dataset("seq2seq", &source(8), "").unwrap(),
    );
    assert_eq!((&a.train, &a.val, &a.test), (&b.train, &b.val, &b.test));
    assert_eq!(a.source, c.source);
    assert_ne!(a.train, c.train);
    // 3^2 + … + 3^5 = 360 possible sources: 300 of them, none twice.
    let sources: HashSet<&Vec<i64>> = all(&a).map(|e| &e.source).collect();
    assert_eq!(sources.len(), 300);
}

#[test]
fn too_few_distinct_sources_is_an_error() {
    let message = error(dataset("classify", "{kind: parity, examples: 10, min_length: 3, max_length: 3}", ""));
    assert!(
        message.contains("parity found only 8 distinct sources") && message.contains("fewer examples"),
        "{message}"
    );
    let message = error(dataset("seq2seq", "{kind: addition, examples: 200, min_length: 1, max_length: 1}", ""));
    assert!(message.contains("addition found only 100 distinct sources"), "{message}");
}

#[test]
fn parity_labels() {
    let ds = dataset("classify", "{kind: parity, examples: 300, min_length: 1, max_length: 12, seed: 3}", "").unwrap();
    assert_eq!(ds.target.tokens(), ["even", "odd"]);
    let mut counts = [0; 2];
    for e in all(&ds) {
        let ones = ds.source_text(&e.source).chars().filter(|&c| c == '1').count();
        assert_eq!(e.target, [(ones % 2) as i64]);
        counts[ones % 2] += 1;
        assert!((1..=12).contains(&e.source.len()));
    }
    assert!(counts[0] > 100 && counts[1] > 100, "{counts:?}");
}

#[test]
fn adding_labels() {
    let ds = dataset("classify", "{kind: adding, examples: 500, min_length: 2, max_length: 9, seed: 4}", "").unwrap();
    assert_eq!(ds.target.len(), 19);
    assert_eq!((ds.target.token(0), ds.target.token(9), ds.target.token(18)), ("0", "9", "18"));
    assert_eq!(ds.source.len(), 2 + 20);
    for e in all(&ds) {
        let text: Vec<char> = ds.source_text(&e.source).chars().collect();
        let marked: Vec<usize> = (0..text.len()).filter(|&i| text[i].is_ascii_lowercase()).collect();
        assert_eq!(marked.len(), 2, "{text:?}");
        let half = text.len() / 2;
        assert!(marked[0] < half && marked[1] >= half, "{text:?}");
        let sum: u32 = marked.iter().map(|&i| text[i] as u32 - 'a' as u32).sum();
        assert_eq!(ds.target_text(&e.target), sum.to_string());
        assert!(text.iter().all(|c| c.is_ascii_digit() || ('a'..='j').contains(c)));
    }
}

#[test]
fn lookahead_tags() {
    assert_eq!(lookahead_tag(&['a', 'b', 'a', 'a'], 0, 1), "lt");
    assert_eq!(lookahead_tag(&['a', 'b', 'a', 'a'], 1, 1), "gt");
    assert_eq!(lookahead_tag(&['a', 'b', 'a', 'a'], 0, 2), "eq");
    assert_eq!(lookahead_tag(&['a', 'b', 'a', 'a'], 2, 2), "end");
    let source = "{kind: lookahead, examples: 200, min_length: 3, max_length: 8, symbols: 3, distance: 2}";
    let ds = dataset("tag", source, "").unwrap();
    assert_eq!(ds.target.tokens(), ["end", "eq", "gt", "lt"]);
    for e in all(&ds) {
        let text: Vec<char> = ds.source_text(&e.source).chars().collect();
        let expected: Vec<&str> = (0..text.len())
            .map(|t| match text.get(t + 2) {
                None => "end",
                Some(&later) if text[t] < later => "lt",
                Some(&later) if text[t] == later => "eq",
                Some(_) => "gt",
            })
            .collect();
        assert_eq!(ds.target.decode(&e.target), expected);
    }
}

#[test]
fn addition_sums() {
    let ds = dataset("seq2seq", "{kind: addition, examples: 300, min_length: 1, max_length: 4, seed: 2}", "").unwrap();
    for e in all(&ds) {
        let text = ds.source_text(&e.source);
        let (a, b) = text.split_once('+').unwrap();
        for operand in [a, b] {
            assert!((1..=4).contains(&operand.len()) && (operand == "0" || !operand.starts_with('0')), "{text}");
        }
        let sum = a.parse::<u64>().unwrap() + b.parse::<u64>().unwrap();
        assert_eq!(ds.target_text(&e.target), sum.to_string());
    }
}

#[test]
fn calendar_arithmetic() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(WEEKDAY_NAMES[weekday(days_from_civil(1998, 3, 5))], "Thursday");
    assert_eq!(WEEKDAY_NAMES[weekday(days_from_civil(2000, 2, 29))], "Tuesday");
    assert_eq!(WEEKDAY_NAMES[weekday(days_from_civil(1900, 1, 1))], "Monday");
    assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
    assert_eq!(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2);
    assert_eq!(days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28), 1);
    // 49 leap years: 1904, 1908, …, 2096 (1900 is not one, 2000 is).
    assert_eq!(days_from_civil(2100, 1, 1) - days_from_civil(1900, 1, 1), 200 * 365 + 49);
    for days in (days_from_civil(1900, 1, 1)..days_from_civil(2100, 1, 1)).step_by(97) {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
    let formats: Vec<String> = (0..DATE_FORMATS).map(|f| format_date(1998, 3, 5, f)).collect();
    assert_eq!(
        formats,
        [
            "March 5, 1998",
            "5 March 1998",
            "5 Mar 1998",
            "05/03/1998",
            "1998.03.05",
            "Thursday, March 5, 1998",
            "Mar 5, 1998",
            "Thu, 5 Mar 1998"
        ]
    );
}

const WEEKDAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

#[test]
fn dates_targets() {
    let ds = dataset("seq2seq", "{kind: dates, examples: 400, seed: 5}", "").unwrap();
    let mut formats = HashSet::new();
    for e in all(&ds) {
        let (source, target) = (ds.source_text(&e.source), ds.target_text(&e.target));
        assert!(!e.source.contains(&UNK), "{source}");
        let parts: Vec<&str> = target.split('-').collect();
        let [y, m, d] = parts[..] else { panic!("{target}") };
        assert_eq!((y.len(), m.len(), d.len()), (4, 2, 2), "{target}");
        let (y, m, d): (i64, u32, u32) = (y.parse().unwrap(), m.parse().unwrap(), d.parse().unwrap());
        assert!((1900..=2099).contains(&y));
        assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d), "{target} is not a date");
        let format = (0..DATE_FORMATS).find(|&f| format_date(y, m, d, f) == source);
        formats.insert(format.unwrap_or_else(|| panic!("{source:?} is not {target}")));
    }
    assert_eq!(formats.len(), DATE_FORMATS);
}

// ---- splits

#[test]
fn split_fractions_and_max_examples() {
    let source = "{kind: parity, examples: 200, min_length: 4, max_length: 12}";
    let sizes = |ds: Dataset| (ds.train.len(), ds.val.len(), ds.test.len());
    assert_eq!(sizes(dataset("classify", source, "").unwrap()), (180, 10, 10));
    let half = "  split: {train: 0.5, val: 0.25, test: 0.25}\n";
    assert_eq!(sizes(dataset("classify", source, half).unwrap()), (100, 50, 50));
    let cut = dataset("classify", source, "  max_examples: 50\n").unwrap();
    assert!(cut.description.starts_with("parity: 50 examples"), "{}", cut.description);
    assert_eq!(sizes(cut), (45, 3, 2));
    let message = error(dataset("classify", "{kind: parity, examples: 10}", ""));
    assert!(message.contains("10 examples leave the test split empty (train 9, val 1, test 0)"), "{message}");
}

#[test]
fn thousands_separators() {
    let cases = [(0, "0"), (999, "999"), (1000, "1,000"), (20_000, "20,000"), (1_234_567, "1,234,567")];
    for (n, text) in cases {
        assert_eq!(thousands(n), text);
    }
}
