//! A language model's vocabulary: characters (Unicode scalar values, in
//! code-point order) or word tokens (`<unk>` first, then by training count).
use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};

use super::words as word;
use crate::spec::Tokens;

/// The token every out-of-vocabulary word of a word vocabulary becomes.
pub const UNK: &str = "<unk>";

/// Tokens in id order; ids are positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    kind: Tokens,
    tokens: Vec<String>,
    index: HashMap<String, i64>,
}

impl Vocab {
    /// The characters of `text`, in code-point order.
    pub fn from_text(text: &str) -> Vocab {
        let chars: std::collections::BTreeSet<char> = text.chars().collect();
        Vocab::from_chars(chars.into_iter().collect()).expect("a set has no repeats")
    }

    /// A character vocabulary from its characters in id order (as a checkpoint stores them).
    pub fn from_chars(chars: Vec<char>) -> Result<Vocab> {
        Vocab::new(Tokens::Chars, chars.into_iter().map(String::from).collect())
    }

    /// A vocabulary of `kind` from its tokens in id order; a word
    /// vocabulary's first token is [`UNK`].
    pub fn new(kind: Tokens, tokens: Vec<String>) -> Result<Vocab> {
        let index: HashMap<String, i64> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as i64)).collect();
        if index.len() != tokens.len() {
            bail!("the vocabulary lists a token twice");
        }
        match kind {
            Tokens::Chars => {
                if let Some(t) = tokens.iter().find(|t| t.chars().count() != 1) {
                    bail!("character vocabulary entry {t:?} is not one character");
                }
            }
            Tokens::Words => {
                if tokens.first().map(String::as_str) != Some(UNK) {
                    bail!("a word vocabulary starts with {UNK}");
                }
            }
        }
        Ok(Vocab { kind, tokens, index })
    }

    pub fn kind(&self) -> Tokens {
        self.kind
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of a one-character token.
    pub fn id(&self, c: char) -> Option<i64> {
        let mut buf = [0u8; 4];
        self.index.get(&*c.encode_utf8(&mut buf)).copied()
    }

    pub fn token_id(&self, token: &str) -> Option<i64> {
        self.index.get(token).copied()
    }

    pub fn token(&self, id: i64) -> Option<&str> {
        usize::try_from(id).ok().and_then(|i| self.tokens.get(i)).map(String::as_str)
    }

    /// The character of a one-character token.
    pub fn char(&self, id: i64) -> Option<char> {
        let t = self.token(id)?;
        let mut it = t.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The id of [`UNK`] in a word vocabulary.
    pub fn unk(&self) -> Option<i64> {
        match self.kind {
            Tokens::Chars => None,
            Tokens::Words => Some(0),
        }
    }

    /// Encodes text. Characters: names the first one outside the
    /// vocabulary. Words: an unknown word becomes [`UNK`].
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        match self.kind {
            Tokens::Chars => text
                .chars()
                .map(|c| {
                    self.id(c).ok_or_else(|| anyhow!("character {c:?} (U+{:04X}) is not in the vocabulary", c as u32))
                })
                .collect(),
            Tokens::Words => Ok(word::tokenize(text).iter().map(|t| self.token_id(t).unwrap_or(0)).collect()),
        }
    }

    /// The text of `ids` (an unknown word reads `<unk>`; ids outside the vocabulary are skipped).
    pub fn decode(&self, ids: &[i64]) -> String {
        ids.iter().filter_map(|&i| self.token(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_uses_unicode_scalars() {
        let v = Vocab::from_text("привет, мир");
        assert_eq!(v.len(), 9); // п р и в е т , space м (и repeats)
        let ids = v.encode("мир").unwrap();
        assert_eq!(v.decode(&ids), "мир");
        let err = v.encode("z").unwrap_err().to_string();
        assert!(err.contains("'z'") && err.contains("U+007A"), "{err}");
    }

    #[test]
    fn words_round_trip_except_unknown_words() {
        let tokens = [UNK, " ", "the", "cat", ".", "\n"].map(String::from).to_vec();
        let v = Vocab::new(Tokens::Words, tokens).unwrap();
        let ids = v.encode("the cat.\nthe dog.").unwrap();
        assert_eq!(v.decode(&ids), "the cat.\nthe <unk>.");
        assert_eq!(v.id('\n'), Some(5));
        assert!(Vocab::new(Tokens::Words, vec!["a".into()]).is_err());
        assert!(Vocab::new(Tokens::Chars, vec!["ab".into()]).is_err());
    }
}
