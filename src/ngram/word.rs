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

pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// [`tokenize`] over a stream of characters: `push` each character, and
/// `flush` at the end (or wherever a token must not continue, such as a
/// split boundary); each completed token goes to `emit`.
#[derive(Debug, Default)]
pub struct Cutter {
    word: String,
}

impl Cutter {
    pub fn push<E>(&mut self, c: char, emit: &mut impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        if is_word_char(c) {
            self.word.push(c);
            return Ok(());
        }
        self.flush(emit)?;
        let mut buf = [0u8; 4];
        emit(c.encode_utf8(&mut buf))
    }

    pub fn flush<E>(&mut self, emit: &mut impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        if !self.word.is_empty() {
            emit(&self.word)?;
            self.word.clear();
        }
        Ok(())
    }
}

/// The probability of an unknown word's spelling: an add-one character
/// unigram model with an end-of-word symbol, fitted on the words (tokens
/// with a word character) of a training text. One extra pseudo-symbol
/// covers characters absent from the training text.
#[derive(Debug, Clone)]
pub struct Spelling {
    /// ln P(c) of word characters.
    spell: HashMap<char, f64>,
    unseen: f64,
    end: f64,
}

/// What [`Spelling`] is fitted from, counted token by token.
#[derive(Debug, Default)]
pub struct SpellingCounts {
    chars: HashMap<char, usize>,
    words: usize,
    alphabet: std::collections::BTreeSet<char>,
}

impl SpellingCounts {
    pub fn add(&mut self, token: &str) {
        self.alphabet.extend(token.chars());
        if token.chars().any(is_word_char) {
            self.words += 1;
            for c in token.chars() {
                *self.chars.entry(c).or_default() += 1;
            }
        }
    }

    pub fn fit(&self) -> Spelling {
        let total = self.chars.values().sum::<usize>() + self.words;
        let denom = (total + self.alphabet.len() + 2) as f64;
        Spelling {
            spell: self.chars.iter().map(|(&c, &n)| (c, ((n + 1) as f64 / denom).ln())).collect(),
            unseen: (1.0 / denom).ln(),
            end: ((self.words + 1) as f64 / denom).ln(),
        }
    }
}

impl Spelling {
    /// ln P(spelling of `word`).
    pub fn log_prob(&self, word: &str) -> f64 {
        word.chars().map(|c| self.spell.get(&c).copied().unwrap_or(self.unseen)).sum::<f64>() + self.end
    }
}

/// Words and single non-word characters, in order; they concatenate to `text`.
pub fn tokenize(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (true, Some(_)) => {}
            (false, s) => {
                if let Some(s) = s {
                    out.push(&text[s..i]);
                }
                start = None;
                out.push(&text[i..i + c.len_utf8()]);
            }
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

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
    fn tokens_spell_the_text() {
        let text = "int x_1 = f(y);\n  // привет, мир";
        let t = tokenize(text);
        assert_eq!(t.concat(), text);
        assert_eq!(&t[..4], &["int", " ", "x_1", " "]);
        assert!(t.contains(&"привет"));
        // The streaming cutter gives the same tokens, flushed where told.
        let mut streamed = Vec::new();
        let mut keep = |t: &str| -> Result<(), ()> {
            streamed.push(t.to_string());
            Ok(())
        };
        let mut cut = Cutter::default();
        for c in text.chars() {
            cut.push(c, &mut keep).unwrap();
        }
        cut.flush(&mut keep).unwrap();
        assert_eq!(streamed, t);
    }

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
