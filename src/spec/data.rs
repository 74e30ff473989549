//! `data:` — where the text comes from and how it is split.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub source: Source,
    /// Contiguous train/val/test fractions of the text, in that order.
    #[serde(default)]
    pub split: SplitFractions,
    /// Use only the first `max_chars` characters of the text (before splitting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<usize>,
    /// Example tasks: use only the first `max_examples` examples (after the
    /// shuffle, before splitting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_examples: Option<usize>,
    /// Language models: what a token of the text is (characters, or words
    /// with `token_lm`). Left out of the serialised spec at its default, so
    /// the ids of specs written before it existed do not change.
    #[serde(default, skip_serializing_if = "is_chars")]
    pub tokens: Tokens,
    /// `tokens: words`: words seen fewer times than this in the training
    /// split become `<unk>` (default 2: words seen once are unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<usize>,
    /// `tokens: words`: keep at most this many tokens, `<unk>` included
    /// (the most frequent in the training split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vocab: Option<usize>,
}

fn is_chars(t: &Tokens) -> bool {
    *t == Tokens::Chars
}

/// Words seen fewer times in the training split become `<unk>`.
pub const DEFAULT_MIN_COUNT: usize = 2;

/// What a source's data looks like; a task reads data of one shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A text stream (a language model's corpus).
    Text,
    /// Sequences with one label each.
    Labels,
    /// Sequences with one tag per token.
    Tags,
    /// Source and target sequences of their own lengths.
    Pairs,
}

impl Shape {
    /// The `data.source.kind`s that provide this shape.
    pub fn source_kinds(self) -> &'static [&'static str] {
        match self {
            Shape::Text => &["builtin", "file", "xml", "arithmetic", "copy"],
            Shape::Labels => &["labeled", "parity", "adding"],
            Shape::Tags => &["tagged", "conllu", "lookahead"],
            Shape::Pairs => &["pairs", "reverse", "sort", "cipher", "addition", "dates"],
        }
    }
}

/// Where the text comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A corpus that ships with the pinned PyTorch wheel (no download needed).
    Builtin {
        #[serde(default = "default_builtin")]
        name: String,
    },
    /// A UTF-8 text file; characters are Unicode scalar values.
    File { path: PathBuf },
    /// Jozefowicz et al. (2015) XML-nesting text, generated from `seed`.
    Xml {
        #[serde(default = "default_synthetic_chars")]
        chars: usize,
        #[serde(default)]
        seed: u64,
        #[serde(default = "default_xml_depth")]
        max_depth: usize,
    },
    /// Jozefowicz et al.'s arithmetic with distractor letters: `3e36d9-h1h3…=-13991064`;
    /// only the result after `=` is scored.
    Arithmetic {
        #[serde(default = "default_synthetic_chars")]
        chars: usize,
        #[serde(default)]
        seed: u64,
        #[serde(default = "default_max_digits")]
        max_digits: usize,
        /// Probability of each further distractor letter before an operand character.
        #[serde(default = "default_distractor")]
        distractor: f64,
    },
    /// Memorization lines `abcde=abcde`: the part after `=` is predictable
    /// only by remembering the random part before it, and only it is scored.
    Copy {
        #[serde(default = "default_synthetic_chars")]
        chars: usize,
        #[serde(default)]
        seed: u64,
        #[serde(default = "default_copy_length")]
        length: usize,
        #[serde(default = "default_copy_symbols")]
        symbols: usize,
    },
    /// Classification: one example per line, `label<TAB>text` (`.tsv`, any
    /// other extension too) or `label,text` (`.csv`, RFC 4180 quoting).
    Labeled {
        path: PathBuf,
        #[serde(default)]
        tokens: Tokens,
        /// The first line is a header, not an example.
        #[serde(default)]
        header: bool,
        /// Validation file; with `test_path`, `path` is the whole training
        /// set and `data.split` is not used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        val_path: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_path: Option<PathBuf>,
        /// Seed of the shuffle before a single file is split.
        #[serde(default)]
        seed: u64,
    },
    /// Tagging: one `token<TAB>tag` per line, a blank line between sentences.
    Tagged {
        path: PathBuf,
        /// Validation file; with `test_path`, `path` is the whole training
        /// set and `data.split` is not used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        val_path: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_path: Option<PathBuf>,
        /// Seed of the shuffle before a single file is split.
        #[serde(default)]
        seed: u64,
    },
    /// Tagging: a CoNLL-U treebank (word forms tagged with `column`);
    /// comments, multiword-token ranges and empty nodes are skipped.
    Conllu {
        path: PathBuf,
        #[serde(default)]
        column: ConlluColumn,
        /// Validation file; with `test_path`, `path` is the whole training
        /// set and `data.split` is not used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        val_path: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_path: Option<PathBuf>,
        /// Seed of the shuffle before a single file is split.
        #[serde(default)]
        seed: u64,
    },
    /// Sequence to sequence: one `source<TAB>target` pair per line.
    Pairs {
        path: PathBuf,
        #[serde(default)]
        tokens: Tokens,
        /// Validation file; with `test_path`, `path` is the whole training
        /// set and `data.split` is not used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        val_path: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_path: Option<PathBuf>,
        /// Seed of the shuffle before a single file is split.
        #[serde(default)]
        seed: u64,
    },
    /// Classification: is the number of 1s in a random bit string even or odd?
    Parity(Lengths),
    /// Classification: Hochreiter & Schmidhuber's adding problem over
    /// digits: two marked digits (one in each half of the sequence), the
    /// label is their sum (0–18).
    Adding(Lengths),
    /// Tagging whose tags depend on later tokens: each token is tagged by
    /// how it compares with the token `distance` places to its right
    /// (`lt`, `eq`, `gt`, or `end` when there is none).
    Lookahead {
        #[serde(default = "default_examples")]
        examples: usize,
        #[serde(default = "default_min_length")]
        min_length: usize,
        #[serde(default = "default_max_length")]
        max_length: usize,
        #[serde(default = "default_symbols")]
        symbols: usize,
        #[serde(default = "default_distance")]
        distance: usize,
        #[serde(default)]
        seed: u64,
    },
    /// Seq2seq: a random string of `symbols` letters → the same string reversed.
    Reverse(Strings),
    /// Seq2seq: a random string of `symbols` letters → its letters sorted.
    Sort(Strings),
    /// Seq2seq: each letter replaced by a fixed other one (a permutation of
    /// the first `symbols` letters drawn from `seed`), in order: a monotone
    /// alignment, like word-by-word translation.
    Cipher(Strings),
    /// Seq2seq: `a+b` → the sum, operands of `min_length` to `max_length` digits.
    Addition {
        #[serde(default = "default_examples")]
        examples: usize,
        #[serde(default = "default_min_digits")]
        min_length: usize,
        #[serde(default = "default_max_digits_addition")]
        max_length: usize,
        #[serde(default)]
        seed: u64,
    },
    /// Seq2seq: a date written in one of several human formats
    /// (`March 5, 1998`, `5 Mar 1998`, `05/03/1998`, …) → ISO `1998-03-05`.
    Dates {
        #[serde(default = "default_examples")]
        examples: usize,
        #[serde(default)]
        seed: u64,
    },
}

/// Size and source lengths of a generated set over a fixed alphabet
/// (bits for parity, digits for adding).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lengths {
    #[serde(default = "default_examples")]
    pub examples: usize,
    #[serde(default = "default_min_length")]
    pub min_length: usize,
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    #[serde(default)]
    pub seed: u64,
}

/// Size, source lengths and alphabet (the first `symbols` lowercase
/// letters) of a generated set of random strings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strings {
    #[serde(default = "default_examples")]
    pub examples: usize,
    #[serde(default = "default_min_length")]
    pub min_length: usize,
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    #[serde(default = "default_symbols")]
    pub symbols: usize,
    #[serde(default)]
    pub seed: u64,
}

/// How a text field is cut into tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tokens {
    /// Unicode characters.
    #[default]
    Chars,
    /// Whitespace-separated words.
    Words,
}

/// The CoNLL-U column used as the tag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConlluColumn {
    /// Universal part-of-speech tag (column 4).
    #[default]
    Upos,
    /// Language-specific part-of-speech tag (column 5).
    Xpos,
}

impl Source {
    /// The shape of the data this source provides.
    pub fn shape(&self) -> Shape {
        match self {
            Source::Builtin { .. }
            | Source::File { .. }
            | Source::Xml { .. }
            | Source::Arithmetic { .. }
            | Source::Copy { .. } => Shape::Text,
            Source::Labeled { .. } | Source::Parity(_) | Source::Adding(_) => Shape::Labels,
            Source::Tagged { .. } | Source::Conllu { .. } | Source::Lookahead { .. } => Shape::Tags,
            Source::Pairs { .. }
            | Source::Reverse(_)
            | Source::Sort(_)
            | Source::Cipher(_)
            | Source::Addition { .. }
            | Source::Dates { .. } => Shape::Pairs,
        }
    }

    /// The `kind:` name of this source.
    pub fn kind(&self) -> String {
        serde_yaml::to_value(self)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(String::from))
            .unwrap_or_default()
    }
}

fn default_examples() -> usize {
    20_000
}
fn default_min_length() -> usize {
    4
}
fn default_max_length() -> usize {
    16
}
fn default_symbols() -> usize {
    10
}
fn default_distance() -> usize {
    3
}
fn default_min_digits() -> usize {
    1
}
fn default_max_digits_addition() -> usize {
    5
}

/// The built-in corpus a `builtin` source reads when it names none
/// (`crate::data::builtin` holds the corpora).
pub const DEFAULT_BUILTIN: &str = "torch-nn-modules";

fn default_builtin() -> String {
    DEFAULT_BUILTIN.to_string()
}
fn default_synthetic_chars() -> usize {
    200_000
}
fn default_xml_depth() -> usize {
    50
}
fn default_max_digits() -> usize {
    8
}
fn default_distractor() -> f64 {
    0.4
}
fn default_copy_length() -> usize {
    5
}
fn default_copy_symbols() -> usize {
    26
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitFractions {
    pub train: f64,
    pub val: f64,
    pub test: f64,
}

impl Default for SplitFractions {
    fn default() -> Self {
        SplitFractions { train: 0.9, val: 0.05, test: 0.05 }
    }
}
