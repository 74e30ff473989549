//! Every task's data, read or generated from a spec's `data:` section.
//!
//! Text (a language model's corpus): text → character vocabulary →
//! contiguous train/val/test id streams, and the stream batching used for
//! truncated BPTT. Examples (labels, tags, pairs): [`examples`].
pub mod builtin;
pub mod examples;
pub mod linux;
pub mod synthetic;

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use tch::Tensor;

use crate::spec::{Source, Spec};

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

/// Characters (Unicode scalar values) in code-point order; ids are positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    chars: Vec<char>,
    index: HashMap<char, i64>,
}

impl Vocab {
    pub fn from_text(text: &str) -> Vocab {
        let mut chars: Vec<char> = text.chars().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        chars.shrink_to_fit();
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i as i64)).collect();
        Vocab { chars, index }
    }

    /// A vocabulary from its characters in id order (as a checkpoint stores them).
    pub fn from_chars(chars: Vec<char>) -> Result<Vocab> {
        let index: HashMap<char, i64> = chars.iter().enumerate().map(|(i, &c)| (c, i as i64)).collect();
        if index.len() != chars.len() {
            bail!("the vocabulary lists a character twice");
        }
        Ok(Vocab { chars, index })
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn id(&self, c: char) -> Option<i64> {
        self.index.get(&c).copied()
    }

    pub fn char(&self, id: i64) -> Option<char> {
        usize::try_from(id).ok().and_then(|i| self.chars.get(i).copied())
    }

    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// Encodes text, or names the first character outside the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        text.chars()
            .map(|c| self.id(c).ok_or_else(|| anyhow!("character {c:?} (U+{:04X}) is not in the vocabulary", c as u32)))
            .collect()
    }
}

/// A character corpus split contiguously into train, validation and test.
#[derive(Debug)]
pub struct Corpus {
    pub vocab: Vocab,
    pub train: Split,
    pub val: Split,
    pub test: Split,
    /// Human-readable origin, e.g. `file data/x.txt (12,345 chars)`.
    pub description: String,
}

/// One contiguous part of the corpus: the characters read, and the target
/// ids to predict (`IGNORE` where a position does not count, e.g. the
/// random operands of an arithmetic line).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub ids: Vec<i64>,
    pub targets: Vec<i64>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The first `n` characters.
    pub fn head(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split { ids: self.ids[..n].to_vec(), targets: self.targets[..n].to_vec() }
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
    /// Loads and splits the spec's text. The vocabulary covers the whole
    /// text (as char-rnn does), so validation and test have no unknown
    /// characters. With `reverse_input`, each split is reversed after
    /// splitting, so reversed and forward models see the same characters.
    pub fn load(spec: &Spec) -> Result<Corpus> {
        let text = read_text(spec)?;
        Corpus::from_text(&text, spec, describe_source(&spec.data.source))
    }

    pub fn from_text(text: &Text, spec: &Spec, origin: String) -> Result<Corpus> {
        let vocab = Vocab::from_text(&text.text);
        let ids = vocab.encode(&text.text)?;
        let targets: Vec<i64> = match &text.scored {
            Some(mask) => {
                ids.iter().zip(mask).map(|(&id, &keep)| if keep { id } else { crate::model::IGNORE }).collect()
            }
            None => ids.clone(),
        };
        let n = ids.len();
        let s = spec.data.split;
        let n_train = (n as f64 * s.train).floor() as usize;
        // Without a test split (`data.split.test: 0`) validation takes the rest.
        let n_val = if s.test == 0.0 { n - n_train } else { ((n as f64 * s.val).floor() as usize).min(n - n_train) };
        let part = |from: usize, to: usize| Split { ids: ids[from..to].to_vec(), targets: targets[from..to].to_vec() };
        let (mut train, mut val, mut test) =
            (part(0, n_train), part(n_train, n_train + n_val), part(n_train + n_val, n));
        // Each split is read as `batch` parallel streams; a stream needs two
        // characters (one read, one predicted), or nothing is scored: train
        // would make no window and validation would report a loss of 0.
        let batch = spec.train.batch_size;
        let need = batch.saturating_mul(2);
        if train.len() < need {
            bail!(
                "data: the train split has {} characters, too few for train.batch_size {batch} \
                 (need at least {need}: {batch} streams of at least 2 characters); use more text or a smaller batch",
                train.len(),
            );
        }
        let val_read = spec.train.eval_chars.map_or(val.len(), |n| n.min(val.len()));
        for (name, read) in [("val", val_read), ("test", test.len())] {
            if read < need && !(name == "test" && s.test == 0.0) {
                let field = if name == "val" && val_read < val.len() { "train.eval_chars" } else { "data.split" };
                bail!(
                    "{field}: the {name} split reads {read} characters, too few for train.batch_size {batch} \
                     (need at least {need}: {batch} streams of at least 2 characters); it would report a loss of 0; \
                     use more text, a larger data.split.{name} or a smaller batch"
                );
            }
        }
        if spec.model.reverse_input {
            for part in [&mut train, &mut val, &mut test] {
                part.ids.reverse();
                part.targets.reverse();
            }
        }
        let description = format!("{origin}: {n} chars, vocabulary {}", vocab.len());
        Ok(Corpus { vocab, train, val, test, description })
    }
}

/// Lays a token stream out as `batch` contiguous rows of equal length
/// (`[batch, len]`, int64), dropping the remainder, as char-rnn does: row b
/// continues where row b's previous window ended, so hidden state can be
/// carried across windows.
pub fn streams(ids: &[i64], batch: usize) -> Tensor {
    let batch = batch.clamp(1, ids.len().max(1));
    let len = ids.len() / batch;
    Tensor::from_slice(&ids[..batch * len]).view([batch as i64, len as i64])
}

/// Iterates over `[batch, ≤bptt]` input/target windows of a split laid out
/// as streams, wrapping around at the end of an epoch.
#[derive(Debug)]
pub struct Windows {
    data: Tensor,
    targets: Tensor,
    bptt: i64,
    pos: i64,
    pub epoch: usize,
}

/// One training window: inputs, next-character targets, and whether it
/// starts a new pass over the data (so carried state must be reset).
pub struct Window {
    pub input: Tensor,
    pub target: Tensor,
    pub starts_epoch: bool,
}

impl Windows {
    /// `data` and `targets` are `[batch, len]` stream matrices (see [`streams`]).
    pub fn new(data: Tensor, targets: Tensor, bptt: usize) -> Windows {
        Windows { data, targets, bptt: bptt as i64, pos: 0, epoch: 0 }
    }

    /// Number of windows in one pass over the data.
    pub fn per_epoch(&self) -> usize {
        let usable = self.data.size()[1] - 1;
        ((usable + self.bptt - 1) / self.bptt) as usize
    }

    /// Offset of the next window and the number of completed passes.
    pub fn position(&self) -> (i64, usize) {
        (self.pos, self.epoch)
    }

    /// Continues from a [`Windows::position`] (of the same streams and bptt).
    pub fn seek(&mut self, offset: i64, epoch: usize) {
        self.pos = offset.clamp(0, (self.data.size()[1] - 1).max(0));
        self.epoch = epoch;
    }

    pub fn next_window(&mut self) -> Window {
        let usable = self.data.size()[1] - 1;
        let starts_epoch = self.pos == 0;
        let len = self.bptt.min(usable - self.pos);
        let input = self.data.narrow(1, self.pos, len);
        let target = self.targets.narrow(1, self.pos + 1, len);
        self.pos += len;
        if self.pos >= usable {
            self.pos = 0;
            self.epoch += 1;
        }
        Window { input, target, starts_epoch }
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
    fn vocab_uses_unicode_scalars() {
        let v = Vocab::from_text("привет, мир");
        assert_eq!(v.len(), 9); // п р и в е т , space м (и repeats)
        let ids = v.encode("мир").unwrap();
        let back: String = ids.iter().map(|&i| v.char(i).unwrap()).collect();
        assert_eq!(back, "мир");
        let err = v.encode("z").unwrap_err().to_string();
        assert!(err.contains("'z'") && err.contains("U+007A"), "{err}");
    }

    #[test]
    fn splits_are_contiguous_and_reversible() {
        let text = plain("abcdefghijklmnop");
        let c = Corpus::from_text(&text, &spec(""), "t".into()).unwrap();
        let decode = |ids: &[i64]| ids.iter().map(|&i| c.vocab.char(i).unwrap()).collect::<String>();
        assert_eq!(decode(&c.train.ids), "abcdefgh");
        assert_eq!(decode(&c.val.ids), "ijkl");
        assert_eq!(decode(&c.test.ids), "mnop");
        assert_eq!(c.train.ids, c.train.targets);
        let r = Corpus::from_text(&text, &spec("model:\n  reverse_input: true\n"), "t".into()).unwrap();
        assert_eq!(decode(&r.train.ids), "hgfedcba");
        assert_eq!(decode(&r.test.ids), "ponm");
    }

    #[test]
    fn unscored_characters_are_ignored_targets() {
        let text = Text { text: "ab=ab\ncd=cd\n".repeat(2), scored: None };
        let scored = synthetic::after_equals(&text.text);
        let masked = Text { scored: Some(scored), ..text };
        let c = Corpus::from_text(&masked, &spec(""), "t".into()).unwrap();
        let ignore = crate::model::IGNORE;
        assert_eq!(&c.train.targets[..6], &[ignore, ignore, ignore, c.train.ids[3], c.train.ids[4], c.train.ids[5]]);
    }

    #[test]
    fn too_little_text_is_an_error() {
        let err = Corpus::from_text(&plain("abc"), &spec(""), "t".into()).unwrap_err().to_string();
        assert!(err.contains("batch_size"), "{err}");
    }

    #[test]
    fn windows_cover_the_stream_and_carry_over() {
        let data = streams(&(0..21).collect::<Vec<i64>>(), 2); // rows 0..10 and 10..20
        assert_eq!(data.size(), vec![2, 10]);
        let mut w = Windows::new(data.shallow_clone(), data, 4);
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
