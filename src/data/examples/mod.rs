//! Examples for the classification, tagging and seq2seq tasks: read from
//! files (labeled text, `token<TAB>tag`, CoNLL-U, source/target pairs) or
//! generated (parity, adding, lookahead, reversal, sorting, addition,
//! dates), with their vocabularies and train/val/test splits.
//!
//! `files` parses the file formats and `synthetic` generates the rest;
//! both give examples as tokens, which [`load`] splits, turns into
//! vocabularies and encodes as ids.
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::spec::{ConlluColumn, Shape, Source, Spec, SplitFractions, Tokens};

mod files;
mod synthetic;
#[cfg(test)]
mod tests;

/// Source vocabulary: padding (never read by the models, batches hold
/// sequences of equal length) and unknown tokens.
pub const PAD: i64 = 0;
pub const UNK: i64 = 1;
/// Seq2seq target vocabulary: padding, end and start of a sequence.
pub const EOS: i64 = 1;
pub const BOS: i64 = 2;

/// The names of the reserved ids.
pub const PAD_TOKEN: &str = "<pad>";
pub const UNK_TOKEN: &str = "<unk>";
pub const EOS_TOKEN: &str = "<eos>";
pub const BOS_TOKEN: &str = "<bos>";

/// One example, as ids. Classification: `target` is `[label]`. Tagging:
/// one tag per source token. Seq2seq: the target tokens without `<EOS>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Example {
    pub source: Vec<i64>,
    pub target: Vec<i64>,
}

/// Tokens (or labels, or tags) and their ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Symbols {
    tokens: Vec<String>,
    index: HashMap<String, i64>,
}

impl Symbols {
    pub fn new(tokens: Vec<String>) -> Symbols {
        let index = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as i64)).collect();
        Symbols { tokens, index }
    }

    /// `reserved` first (ids 0, 1, …), then the other `tokens` once each, in
    /// sorted order, so the ids do not depend on the order of the examples.
    pub fn with_reserved(reserved: &[&str], tokens: impl IntoIterator<Item = String>) -> Symbols {
        let rest: BTreeSet<String> = tokens.into_iter().filter(|t| !reserved.contains(&t.as_str())).collect();
        Symbols::new(reserved.iter().map(|s| s.to_string()).chain(rest).collect())
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn id(&self, token: &str) -> Option<i64> {
        self.index.get(token).copied()
    }

    pub fn token(&self, id: i64) -> &str {
        usize::try_from(id).ok().and_then(|i| self.tokens.get(i)).map(|s| s.as_str()).unwrap_or("<?>")
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The ids of `tokens`, or the first token that has none.
    pub fn encode<S: AsRef<str>>(&self, tokens: &[S]) -> Result<Vec<i64>, String> {
        tokens.iter().map(|t| self.id(t.as_ref()).ok_or_else(|| t.as_ref().to_string())).collect()
    }

    /// The tokens of `ids` (`<?>` for an id out of range).
    pub fn decode(&self, ids: &[i64]) -> Vec<&str> {
        ids.iter().map(|&id| self.token(id)).collect()
    }
}

/// A whole example dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Labels, tags or pairs (never text: that is a [`crate::data::Corpus`]).
    pub shape: Shape,
    /// Input tokens; ids [`PAD`] and [`UNK`] are reserved.
    pub source: Symbols,
    /// Classification: labels. Tagging: tags. Seq2seq: output tokens, with
    /// ids [`PAD`], [`EOS`] and [`BOS`] reserved.
    pub target: Symbols,
    /// What joins tokens back into text: `""` for characters, `" "` for words.
    pub joiner: &'static str,
    pub train: Vec<Example>,
    pub val: Vec<Example>,
    pub test: Vec<Example>,
    /// Human-readable origin, e.g. `reverse: 20,000 examples, source lengths
    /// 4–16, 10 symbols (seed 0); train/val/test 18,000/1,000/1,000`.
    pub description: String,
}

impl Dataset {
    /// Cuts `text` into source tokens the way the examples were cut
    /// (characters when `joiner` is empty, whitespace-separated words
    /// otherwise) and looks them up; unknown tokens become [`UNK`].
    pub fn encode_source(&self, text: &str) -> Vec<i64> {
        let tokens = if self.joiner.is_empty() { Tokens::Chars } else { Tokens::Words };
        files::tokenize(text, tokens).iter().map(|t| self.source.id(t).unwrap_or(UNK)).collect()
    }

    /// Source ids as text, joined by `joiner`; [`PAD`] is skipped.
    pub fn source_text(&self, ids: &[i64]) -> String {
        let tokens: Vec<&str> = ids.iter().filter(|&&id| id != PAD).map(|&id| self.source.token(id)).collect();
        tokens.join(self.joiner)
    }

    /// Target ids as text. Classification: the label. Tagging: the tags,
    /// separated by spaces (tags are words even when tokens are characters).
    /// Seq2seq: the tokens joined by `joiner`, up to the first [`EOS`], with
    /// [`PAD`] and [`BOS`] skipped, so decoder output can be passed as is.
    pub fn target_text(&self, ids: &[i64]) -> String {
        match self.shape {
            Shape::Pairs => {
                let tokens: Vec<&str> = ids
                    .iter()
                    .take_while(|&&id| id != EOS)
                    .filter(|&&id| id != PAD && id != BOS)
                    .map(|&id| self.target.token(id))
                    .collect();
                tokens.join(self.joiner)
            }
            _ => self.target.decode(ids).join(" "),
        }
    }
}

/// An example as tokens, before the vocabularies exist; `line` is where it
/// starts in its file (1-based; 0 for a generated example), `target_lines`
/// the line of each tag of a tagged sentence (empty otherwise).
#[derive(Debug, Clone, Default, PartialEq)]
struct Raw {
    source: Vec<String>,
    target: Vec<String>,
    line: usize,
    target_lines: Vec<usize>,
}

/// One split's examples and the file they came from, for error messages.
struct Part<'a> {
    name: &'static str,
    file: Option<&'a Path>,
    examples: Vec<Raw>,
}

/// Reads or generates the examples of `spec.data`.
///
/// A single file (or a generated set) is shuffled with the source's `seed`,
/// cut to `data.max_examples`, and split contiguously by `data.split`.
/// With `val_path` and `test_path`, `path` is the training set: it is
/// shuffled and cut to `data.max_examples` the same way, while the
/// validation and test files are used whole, in file order, and
/// `data.split` is not used.
///
/// Vocabularies come from the training split: a source token seen only in
/// val/test reads as [`UNK`]; a label, tag or seq2seq target token seen only
/// there is an error, since the model could never produce it. Generated
/// sets use every symbol their generator can write.
pub fn load(spec: &Spec) -> Result<Dataset> {
    spec.check().map_err(|(field, message)| anyhow!("{field}: {message}"))?;
    let source = &spec.data.source;
    if source.shape() == Shape::Text {
        bail!("data.source.kind: '{}' provides text, not examples", source.kind());
    }
    match source {
        Source::Labeled { path, tokens, header, val_path, test_path, seed } => {
            let src = Files { kind: "labeled", path, val_path, test_path, seed: *seed };
            from_files(spec, src, joiner(*tokens), |p, field| files::labeled(p, field, *tokens, *header))
        }
        Source::Tagged { path, val_path, test_path, seed } => {
            let src = Files { kind: "tagged", path, val_path, test_path, seed: *seed };
            from_files(spec, src, " ", files::tagged)
        }
        Source::Conllu { path, column, val_path, test_path, seed } => {
            let kind = match column {
                ConlluColumn::Upos => "conllu (upos)",
                ConlluColumn::Xpos => "conllu (xpos)",
            };
            let src = Files { kind, path, val_path, test_path, seed: *seed };
            from_files(spec, src, " ", |p, field| files::conllu(p, field, *column))
        }
        Source::Pairs { path, tokens, val_path, test_path, seed } => {
            let src = Files { kind: "pairs", path, val_path, test_path, seed: *seed };
            from_files(spec, src, joiner(*tokens), |p, field| files::pairs(p, field, *tokens))
        }
        _ => {
            let generated = synthetic::generate(source)?;
            let [train, val, test] =
                split_examples(generated.examples, generated.seed, spec.data.max_examples, spec.data.split)?;
            let parts = [
                Part { name: "train", file: None, examples: train },
                Part { name: "val", file: None, examples: val },
                Part { name: "test", file: None, examples: test },
            ];
            let describe = |n: &str| format!("{}: {n} examples, {}", source.kind(), generated.details);
            assemble(source.shape(), generated.source, generated.target, "", parts, describe)
        }
    }
}

fn joiner(tokens: Tokens) -> &'static str {
    match tokens {
        Tokens::Chars => "",
        Tokens::Words => " ",
    }
}

/// The files of a file source.
struct Files<'a> {
    kind: &'static str,
    path: &'a Path,
    val_path: &'a Option<PathBuf>,
    test_path: &'a Option<PathBuf>,
    seed: u64,
}

/// Reads, splits and encodes a file source; `read(path, field)` parses one
/// file, `field` being the spec key that names it.
fn from_files(
    spec: &Spec,
    src: Files,
    joiner: &'static str,
    read: impl Fn(&Path, &str) -> Result<Vec<Raw>>,
) -> Result<Dataset> {
    let max = spec.data.max_examples;
    let (parts, origin) = match (src.val_path, src.test_path) {
        (Some(val), Some(test)) => {
            let mut train = read(src.path, "data.source.path")?;
            train.shuffle(&mut ChaCha8Rng::seed_from_u64(src.seed));
            train.truncate(max.unwrap_or(usize::MAX));
            let parts = [
                Part { name: "train", file: Some(src.path), examples: train },
                Part { name: "val", file: Some(val), examples: read(val, "data.source.val_path")? },
                Part { name: "test", file: Some(test), examples: read(test, "data.source.test_path")? },
            ];
            let origin = format!(
                "{} files {} (train), {} (val), {} (test)",
                src.kind,
                src.path.display(),
                val.display(),
                test.display()
            );
            (parts, origin)
        }
        _ => {
            let all = read(src.path, "data.source.path")?;
            let [train, val, test] = split_examples(all, src.seed, max, spec.data.split)?;
            let file = Some(src.path);
            let parts = [
                Part { name: "train", file, examples: train },
                Part { name: "val", file, examples: val },
                Part { name: "test", file, examples: test },
            ];
            (parts, format!("{} file {}", src.kind, src.path.display()))
        }
    };
    let train = &parts[0].examples;
    let source = Symbols::with_reserved(&[PAD_TOKEN, UNK_TOKEN], train.iter().flat_map(|e| e.source.iter().cloned()));
    let targets = train.iter().flat_map(|e| e.target.iter().cloned());
    let shape = spec.data.source.shape();
    let (target, unit, details) = match shape {
        Shape::Labels => {
            let labels = Symbols::with_reserved(&[], targets);
            let details = format!("{} labels", labels.len());
            (labels, "examples", details)
        }
        Shape::Tags => {
            let tags = Symbols::with_reserved(&[], targets);
            let details = format!("{} tags", tags.len());
            (tags, "sentences", details)
        }
        _ => {
            let target = Symbols::with_reserved(&[PAD_TOKEN, EOS_TOKEN, BOS_TOKEN], targets);
            let details = format!("{} source and {} target symbols", source.len(), target.len());
            (target, "pairs", details)
        }
    };
    let describe = |n: &str| format!("{origin}: {n} {unit}, {details}");
    assemble(shape, source, target, joiner, parts, describe)
}

/// Shuffles with `seed`, keeps the first `max` examples and cuts them into
/// contiguous train/val/test parts by the `split` fractions; none may be
/// empty, except the test part when `split.test` is 0 (no test split).
fn split_examples(mut all: Vec<Raw>, seed: u64, max: Option<usize>, split: SplitFractions) -> Result<[Vec<Raw>; 3]> {
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    all.truncate(max.unwrap_or(usize::MAX));
    let n = all.len();
    // Cumulative rounding, so the three sizes always add up to n.
    let val_end = ((n as f64 * (split.train + split.val)).round() as usize).min(n);
    let train_end = ((n as f64 * split.train).round() as usize).min(val_end);
    let test = all.split_off(val_end);
    let val = all.split_off(train_end);
    for (name, part) in [("train", &all), ("val", &val), ("test", &test)] {
        if part.is_empty() && !(name == "test" && split.test == 0.0) {
            bail!(
                "data.split: {n} examples leave the {name} split empty (train {}, val {}, test {}); \
                 use more examples or a larger data.split.{name}",
                all.len(),
                val.len(),
                test.len()
            );
        }
    }
    Ok([all, val, test])
}

/// Encodes the parts and puts the dataset together; `describe` words the
/// description given the number of examples.
fn assemble(
    shape: Shape,
    source: Symbols,
    target: Symbols,
    joiner: &'static str,
    parts: [Part; 3],
    describe: impl FnOnce(&str) -> String,
) -> Result<Dataset> {
    let [train, val, test] = parts.map(|p| encode(shape, &p, &source, &target));
    let (train, val, test) = (train?, val?, test?);
    let sizes = [train.len(), val.len(), test.len()].map(thousands);
    let description =
        format!("{}; train/val/test {}", describe(&thousands(train.len() + val.len() + test.len())), sizes.join("/"));
    Ok(Dataset { shape, source, target, joiner, train, val, test, description })
}

/// One part as ids: unknown source tokens become [`UNK`]; an unknown target
/// is an error naming it and where it is.
fn encode(shape: Shape, part: &Part, source: &Symbols, target: &Symbols) -> Result<Vec<Example>> {
    let what = match shape {
        Shape::Labels => "label",
        Shape::Tags => "tag",
        _ => "target token",
    };
    let at = |raw: &Raw, k: usize| match part.file {
        Some(file) => format!("{}: line {}: ", file.display(), raw.target_lines.get(k).unwrap_or(&raw.line)),
        None => String::new(),
    };
    let reserved = |t: &str| shape == Shape::Pairs && [PAD_TOKEN, EOS_TOKEN, BOS_TOKEN].contains(&t);
    part.examples
        .iter()
        .map(|raw| {
            let ids = raw.target.iter().enumerate().map(|(k, t)| {
                if reserved(t) {
                    bail!("{}{what} '{t}' is reserved for the decoder; rename it in the data", at(raw, k));
                }
                target.id(t).ok_or_else(|| {
                    anyhow!(
                        "{}{what} '{t}' is in the {} split but never in the training split, so the model \
                         could never produce it; add examples with it to the training data",
                        at(raw, k),
                        part.name
                    )
                })
            });
            Ok(Example {
                source: raw.source.iter().map(|t| source.id(t).unwrap_or(UNK)).collect(),
                target: ids.collect::<Result<_>>()?,
            })
        })
        .collect()
}

/// `20000` → `20,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
