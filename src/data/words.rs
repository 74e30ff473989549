//! Word tokens of a text: words (maximal runs of letters, digits and `_`)
//! and single other characters (spaces, newlines, punctuation), so the
//! tokens spell the text exactly; and the spelling model that prices an
//! unknown word. One tokenizer for the word corpora (`data.tokens: words`)
//! and the word n-gram (`crate::ngram::word`).
use std::collections::HashMap;

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
}
