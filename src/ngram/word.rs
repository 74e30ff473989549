//! Word n-grams scored per character, so they compare with character models.
//!
//! The text is cut into tokens: words (maximal runs of letters, digits and
//! `_`) and single other characters (spaces, newlines, punctuation), so the
//! tokens spell the text exactly. Words seen once in the training split are
//! replaced by `<unk>` there, which gives `<unk>` its n-gram probability; an
//! unknown word in evaluation costs P(`<unk>` | history) times the
//! probability of its spelling under a character unigram model with an
//! end-of-word symbol (add-one over the corpus alphabet). The total
//! negative log-probability of a split is divided by its characters.
use std::collections::HashMap;

use anyhow::Result;

use super::{Ngram, Smoothing};

pub use crate::data::words::{is_word_char, tokenize, Spelling, SpellingCounts};

pub struct WordNgram {
    index: HashMap<String, u32>,
    unk: u32,
    ngram: Ngram,
    spelling: Spelling,
}

impl WordNgram {
    pub fn fit(train: &str, order: usize, smoothing: Smoothing) -> Result<WordNgram> {
        let tokens = tokenize(train);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for t in &tokens {
            *counts.entry(t).or_default() += 1;
        }
        let mut index: HashMap<String, u32> = HashMap::new();
        for t in &tokens {
            let single = t.chars().nth(1).is_none();
            if (single || counts[t] > 1) && !index.contains_key(*t) {
                index.insert(t.to_string(), index.len() as u32);
            }
        }
        let unk = index.len() as u32;
        let ids: Vec<u32> = tokens.iter().map(|t| index.get(*t).copied().unwrap_or(unk)).collect();
        let ngram = Ngram::fit(&ids, index.len() + 1, order, smoothing)?;
        let mut counts = SpellingCounts::default();
        for t in &tokens {
            counts.add(t);
        }
        Ok(WordNgram { index, unk, ngram, spelling: counts.fit() })
    }

    /// Distinct n-grams stored.
    pub fn size(&self) -> usize {
        self.ngram.size()
    }

    /// Nats per character over `text` (accuracy is not defined per character here).
    pub fn evaluate(&self, text: &str) -> super::Score {
        let tokens = tokenize(text);
        let mut history: Vec<u32> = Vec::with_capacity(tokens.len());
        let mut nats = 0.0;
        for t in &tokens {
            let id = self.index.get(*t).copied().unwrap_or(self.unk);
            nats -= self.ngram.prob(&history, id).ln();
            if id == self.unk {
                nats -= self.spelling.log_prob(t);
            }
            history.push(id);
        }
        let chars = text.chars().count().max(1);
        super::Score { loss: nats / chars as f64, accuracy: f64::NAN, scored: chars }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_words_are_spelled_and_cost_more() {
        let train = "the cat sat on the mat. the cat sat. ".repeat(5);
        let m = WordNgram::fit(&train, 2, Smoothing::KneserNey(None)).unwrap();
        let known = m.evaluate("the cat sat on the mat.");
        let unknown = m.evaluate("the dog sat on the rug.");
        assert!(known.loss.is_finite() && unknown.loss.is_finite());
        assert!(unknown.loss > known.loss, "{} vs {}", unknown.loss, known.loss);
    }
}
