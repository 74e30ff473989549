//! Every task's data, read or generated from a spec's `data:` section.
//!
//! Text (a language model's corpus): text → character vocabulary →
//! contiguous train/val/test id streams, and the stream batching used for
//! truncated BPTT. Examples (labels, tags, pairs): [`examples`].
pub mod builtin;
pub mod cache;
pub mod encode;
pub mod examples;
pub mod linux;
pub mod synthetic;
mod vocab;
mod windows;
pub mod words;

use std::sync::Arc;

use anyhow::{anyhow, bail, Result};

pub use self::cache::{Ids, SplitStats};
pub use self::vocab::{Vocab, UNK};
pub use self::windows::{Streams, Window, Windows};
use crate::spec::{Source, Spec, Tokens};

/// Checks what a source needs beyond its own fields (a known built-in
/// corpus); `(field, message)` of the problem.
pub fn check_source(source: &Source) -> Result<(), (String, String)> {
    match source {
        Source::Builtin { name } if !builtin::NAMES.contains(&name.as_str()) => Err((
            "data.source.name".into(),
            format!("unknown built-in corpus '{name}'; known: {}", builtin::NAMES.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// A text corpus split contiguously into train, validation and test.
#[derive(Debug)]
pub struct Corpus {
    pub vocab: Vocab,
    pub train: Split,
    pub val: Split,
    pub test: Split,
    /// Human-readable origin, e.g. `file data/x.txt: 12345 chars, vocabulary 80`.
    pub description: String,
}

/// One contiguous part of a corpus: a view of its ids (mapped from the
/// cache, never copied whole), read forwards or, with
/// `model.reverse_input`, backwards, and which positions are scored as
/// targets (`IGNORE` where one does not count, e.g. the random operands of
/// an arithmetic line).
#[derive(Debug, Clone)]
pub struct Split {
    ids: Arc<Ids>,
    start: usize,
    len: usize,
    reversed: bool,
    /// Per position of the whole text; `None` scores every token.
    scored: Option<Arc<Vec<bool>>>,
    /// Characters, words and unknown words of a word-tokenized split.
    pub stats: Option<SplitStats>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `n` tokens (the whole split if it has no more); its
    /// [`SplitStats`] are estimated pro rata.
    pub fn head(&self, n: usize) -> Split {
        if n >= self.len {
            return self.clone();
        }
        let start = if self.reversed { self.start + self.len - n } else { self.start };
        Split { start, len: n, stats: self.stats.map(|s| s.prorated(n)), ..self.clone() }
    }

    /// Appends the ids of positions `from..from + n` to `out`.
    pub fn read(&self, from: usize, n: usize, out: &mut Vec<i64>) {
        assert!(from + n <= self.len, "reading past the end of a split");
        if self.reversed {
            let end = self.start + self.len - from;
            out.extend((end - n..end).rev().map(|i| self.ids.get(i)));
        } else {
            self.ids.extend(self.start + from, n, out);
        }
    }

    /// Appends the targets of positions `from..from + n` to `out`: the ids,
    /// `IGNORE` where a position is not scored.
    pub fn read_targets(&self, from: usize, n: usize, out: &mut Vec<i64>) {
        let at = out.len();
        self.read(from, n, out);
        if let Some(scored) = &self.scored {
            for (k, id) in out[at..].iter_mut().enumerate() {
                let i = from + k;
                let pos = if self.reversed { self.start + self.len - 1 - i } else { self.start + i };
                if !scored[pos] {
                    *id = crate::model::IGNORE;
                }
            }
        }
    }

    /// Every id, in reading order.
    pub fn ids(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.len);
        self.read(0, self.len, &mut out);
        out
    }

    /// Every target, in reading order.
    pub fn targets(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.len);
        self.read_targets(0, self.len, &mut out);
        out
    }

    /// The ids this split is a view of.
    pub fn ids_store(&self) -> &Ids {
        &self.ids
    }

    /// Whether some positions are not scored.
    pub fn is_masked(&self) -> bool {
        self.scored.as_ref().is_some_and(|m| !m[self.start..self.start + self.len].iter().all(|&s| s))
    }
}

/// A task's text and, for tasks where only some characters are predictable,
/// which characters are scored as targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub text: String,
    /// Per character (not byte); `None` scores every character.
    pub scored: Option<Vec<bool>>,
}

/// Reads the spec's text (file, built-in or synthetic) without splitting.
pub fn read_text(spec: &Spec) -> Result<Text> {
    let (text, scored) = match &spec.data.source {
        Source::Builtin { name } => (builtin::load(name)?, None),
        Source::File { path } => {
            let bytes = read_regular(path).map_err(|e| {
                // Corpora under data/ are prepared, not shipped: say how.
                let hint = if path.starts_with("data") {
                    "; prepared corpora under data/ are built by `make data` (or `rnnlab data linux`)"
                } else {
                    ""
                };
                anyhow!("data.source.path: cannot read '{}': {e}{hint}", path.display())
            })?;
            let text = String::from_utf8(bytes).map_err(|e| {
                anyhow!(
                    "data.source.path: '{}' is not UTF-8 text (invalid byte at offset {})",
                    path.display(),
                    e.utf8_error().valid_up_to()
                )
            })?;
            // A byte-order mark is not a character of the text (the
            // example readers drop it too).
            let text = match text.strip_prefix('\u{feff}') {
                Some(rest) => rest.to_string(),
                None => text,
            };
            (text, None)
        }
        Source::Xml { chars, seed, max_depth } => (synthetic::xml(*chars, *seed, *max_depth), None),
        Source::Copy { chars, seed, length, symbols } => {
            let text = synthetic::copy(*chars, *seed, *length, *symbols);
            let scored = synthetic::after_equals(&text);
            (text, Some(scored))
        }
        Source::Arithmetic { chars, seed, max_digits, distractor } => {
            let text = synthetic::arithmetic(*chars, *seed, *max_digits, *distractor);
            let scored = synthetic::after_equals(&text);
            (text, Some(scored))
        }
        other => bail!("data.source: '{}' holds examples, not a text corpus for a language model", other.kind()),
    };
    if text.is_empty() {
        bail!("data.source: the text is empty ({})", describe_source(&spec.data.source));
    }
    Ok(match spec.data.max_chars {
        Some(n) => {
            Text { text: text.chars().take(n).collect(), scored: scored.map(|m| m.into_iter().take(n).collect()) }
        }
        None => Text { text, scored },
    })
}

/// A data file's bytes; anything but a regular file is refused, since
/// reading a FIFO blocks until a writer comes and a device may never end.
pub fn read_regular(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    std::fs::read(path)
}

/// A data file opened for reading, refused unless it is a regular file (see [`read_regular`]).
pub fn open_regular(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    std::fs::File::open(path)
}

pub fn describe_source(source: &Source) -> String {
    match source {
        Source::Builtin { name } => format!("built-in {name}"),
        Source::File { path } => format!("file {}", path.display()),
        Source::Xml { seed, .. } => format!("synthetic xml (seed {seed})"),
        Source::Copy { seed, .. } => format!("synthetic copy (seed {seed})"),
        Source::Arithmetic { seed, .. } => format!("synthetic arithmetic (seed {seed})"),
        other => format!("{} examples", other.kind()),
    }
}

impl Corpus {
    /// Opens the spec's text as ids: a file or built-in corpus through
    /// the cache (encoded on first use, mapped after), a generated one
    /// encoded in memory. With `reverse_input` each split is read
    /// backwards after splitting, so reversed and forward models see the
    /// same tokens.
    pub fn load(spec: &Spec) -> Result<Corpus> {
        let params = encode::Params::of(spec);
        let origin = describe_source(&spec.data.source);
        let (ids, scored) = match &spec.data.source {
            Source::File { path } => (encode::load(&encode::Input::File(path.clone()), &params)?, None),
            Source::Builtin { name } => {
                (encode::load(&encode::Input::Bytes(builtin::load(name)?.into_bytes()), &params)?, None)
            }
            _ => {
                let text = read_text(spec)?;
                let ids = encode::encode_in_memory(&encode::Input::Bytes(text.text.into_bytes()), &params)?;
                (ids, text.scored)
            }
        };
        Corpus::from_ids(ids, scored, spec, origin)
    }

    /// A corpus of a text in memory (tests, small generated texts).
    pub fn from_text(text: &Text, spec: &Spec, origin: String) -> Result<Corpus> {
        let params = encode::Params::of(spec);
        let ids = encode::encode_in_memory(&encode::Input::Bytes(text.text.clone().into_bytes()), &params)?;
        Corpus::from_ids(ids, text.scored.clone(), spec, origin)
    }

    fn from_ids(ids: Ids, scored: Option<Vec<bool>>, spec: &Spec, origin: String) -> Result<Corpus> {
        let meta = &ids.meta;
        if meta.chars == 0 {
            bail!("data.source: the text is empty ({})", describe_source(&spec.data.source));
        }
        let vocab = Vocab::new(meta.tokens, meta.vocab.clone())?;
        let n = ids.len();
        let unit = if meta.tokens == Tokens::Chars { "characters" } else { "tokens" };
        let (ends, stats) = match meta.tokens {
            Tokens::Chars => (encode::split_points(n, spec.data.split), None),
            Tokens::Words => {
                let [a, b, _] = <[SplitStats; 3]>::try_from(meta.splits.clone())
                    .map_err(|_| anyhow!("the word corpus has no split sizes"))?;
                ((a.tokens as usize, (a.tokens + b.tokens) as usize), Some(meta.splits.clone()))
            }
        };
        let description = match meta.tokens {
            Tokens::Chars => format!("{origin}: {n} chars, vocabulary {}", vocab.len()),
            Tokens::Words => {
                let train = meta.splits[0];
                format!(
                    "{origin}: {} chars, {n} word tokens, vocabulary {} ({:.2}% of training tokens <unk>)",
                    meta.chars,
                    vocab.len(),
                    100.0 * train.unknown as f64 / train.tokens.max(1) as f64
                )
            }
        };
        let s = spec.data.split;
        let ids = Arc::new(ids);
        let scored = scored.map(Arc::new);
        let reversed = spec.model.reverse_input;
        let part = |i: usize, from: usize, to: usize| Split {
            ids: Arc::clone(&ids),
            start: from,
            len: to - from,
            reversed,
            scored: scored.clone(),
            stats: stats.as_ref().map(|s| s[i]),
        };
        let (train, val, test) = (part(0, 0, ends.0), part(1, ends.0, ends.1), part(2, ends.1, n));
        // Each split is read as `batch` parallel streams; a stream needs two
        // tokens (one read, one predicted), or nothing is scored: train
        // would make no window and validation would report a loss of 0.
        let batch = spec.train.batch_size;
        let need = batch.saturating_mul(2);
        if train.len() < need {
            bail!(
                "data: the train split has {} {unit}, too few for train.batch_size {batch} \
                 (need at least {need}: {batch} streams of at least 2 {unit}); use more text or a smaller batch",
                train.len(),
            );
        }
        let val_read = spec.train.eval_chars.map_or(val.len(), |n| n.min(val.len()));
        for (name, read) in [("val", val_read), ("test", test.len())] {
            if read < need && !(name == "test" && s.test == 0.0) {
                let field = if name == "val" && val_read < val.len() { "train.eval_chars" } else { "data.split" };
                bail!(
                    "{field}: the {name} split reads {read} {unit}, too few for train.batch_size {batch} \
                     (need at least {need}: {batch} streams of at least 2 {unit}); it would report a loss of 0; \
                     use more text, a larger data.split.{name} or a smaller batch"
                );
            }
        }
        Ok(Corpus { vocab, train, val, test, description })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    fn plain(text: &str) -> Text {
        Text { text: text.to_string(), scored: None }
    }

    fn spec(extra: &str) -> Spec {
        let src = format!("data:\n  source: {{kind: xml}}\n  split: {{train: 0.5, val: 0.25, test: 0.25}}\ntrain:\n  steps: 1\n  batch_size: 2\n{extra}");
        parse(&src, "t", "t").unwrap().spec
    }

    #[test]
    fn splits_are_contiguous_and_reversible() {
        let text = plain("abcdefghijklmnop");
        let c = Corpus::from_text(&text, &spec(""), "t".into()).unwrap();
        let decode = |s: &Split| c.vocab.decode(&s.ids());
        assert_eq!(decode(&c.train), "abcdefgh");
        assert_eq!(decode(&c.val), "ijkl");
        assert_eq!(decode(&c.test), "mnop");
        assert_eq!(c.train.ids(), c.train.targets());
        let r = Corpus::from_text(&text, &spec("model:\n  reverse_input: true\n"), "t".into()).unwrap();
        assert_eq!(decode(&r.train), "hgfedcba");
        assert_eq!(decode(&r.test), "ponm");
        assert_eq!(decode(&r.train.head(3)), "hgf");
        let mut part = Vec::new();
        r.train.read(2, 3, &mut part);
        assert_eq!(c.vocab.decode(&part), "fed");
    }

    #[test]
    fn unscored_characters_are_ignored_targets() {
        let text = Text { text: "ab=ab\ncd=cd\n".repeat(2), scored: None };
        let scored = synthetic::after_equals(&text.text);
        let masked = Text { scored: Some(scored), ..text };
        let c = Corpus::from_text(&masked, &spec(""), "t".into()).unwrap();
        let ignore = crate::model::IGNORE;
        let (ids, targets) = (c.train.ids(), c.train.targets());
        assert_eq!(&targets[..6], &[ignore, ignore, ignore, ids[3], ids[4], ids[5]]);
        assert!(c.train.is_masked());
        let r = Corpus::from_text(&masked, &spec("model:\n  reverse_input: true\n"), "t".into()).unwrap();
        let mut back = r.train.targets();
        back.reverse();
        assert_eq!(back, targets);
    }

    #[test]
    fn too_little_text_is_an_error() {
        let err = Corpus::from_text(&plain("abc"), &spec(""), "t".into()).unwrap_err().to_string();
        assert!(err.contains("batch_size"), "{err}");
    }

    #[test]
    fn windows_cover_the_stream_and_carry_over() {
        // 21 distinct characters: ids 0..21 in order; rows 0..10 and 10..20.
        let text: String = ('a'..='u').collect();
        let ids =
            encode::encode_in_memory(&encode::Input::Bytes(text.into_bytes()), &encode::Params::of(&spec(""))).unwrap();
        let ids = Arc::new(ids);
        let split = Split { ids, start: 0, len: 21, reversed: false, scored: None, stats: None };
        let streams = Streams::new(&split, 2);
        assert_eq!((streams.rows(), streams.columns()), (2, 10));
        let mut w = Windows::new(streams, 4, tch::Device::Cpu);
        assert_eq!(w.per_epoch(), 3); // 9 usable steps: 4 + 4 + 1
        let first = w.next_window();
        assert!(first.starts_epoch);
        assert_eq!(Vec::<i64>::try_from(first.input.get(1)).unwrap(), vec![10, 11, 12, 13]);
        assert_eq!(Vec::<i64>::try_from(first.target.get(1)).unwrap(), vec![11, 12, 13, 14]);
        let second = w.next_window();
        assert!(!second.starts_epoch);
        assert_eq!(Vec::<i64>::try_from(second.input.get(0)).unwrap(), vec![4, 5, 6, 7]);
        let third = w.next_window();
        assert_eq!(third.input.size(), vec![2, 1]);
        assert!(w.next_window().starts_epoch);
        assert_eq!(w.epoch, 1);
    }
}
