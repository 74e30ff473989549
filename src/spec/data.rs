//! `data:` — where the text comes from and how it is split.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub source: Source,
    /// Contiguous train/val/test fractions of the text, in that order.
    #[serde(default)]
    pub split: Split,
    /// Use only the first `max_chars` characters of the text (before splitting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<usize>,
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
}

fn default_builtin() -> String {
    crate::data::builtin::DEFAULT.to_string()
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
pub struct Split {
    pub train: f64,
    pub val: f64,
    pub test: f64,
}

impl Default for Split {
    fn default() -> Self {
        Split { train: 0.9, val: 0.05, test: 0.05 }
    }
}
