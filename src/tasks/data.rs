//! Examples for the classification, tagging and seq2seq tasks: read from
//! files (labeled text, `token<TAB>tag`, CoNLL-U, source/target pairs) or
//! generated (parity, adding, lookahead, reversal, sorting, addition,
//! dates), with their vocabularies and train/val/test splits.
use std::collections::HashMap;

use anyhow::Result;

use crate::spec::{Spec, Task};

/// Source vocabulary: padding (never read by the models, batches hold
/// sequences of equal length) and unknown tokens.
pub const PAD: i64 = 0;
pub const UNK: i64 = 1;
/// Seq2seq target vocabulary: padding, end and start of a sequence.
pub const EOS: i64 = 1;
pub const BOS: i64 = 2;

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
}

/// A whole example dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub task: Task,
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
    /// Human-readable origin, e.g. `reverse (20,000 examples, lengths 4–16)`.
    pub description: String,
}

/// Reads or generates the examples of `spec.data` for `spec.task`.
pub fn load(spec: &Spec) -> Result<Dataset> {
    let _ = spec;
    anyhow::bail!("example datasets are not implemented yet")
}
