//! A character n-gram baseline as a [`LanguageModel`].
use anyhow::Result;

use super::LanguageModel;
use crate::data::Vocab;
use crate::ngram::Ngram;

pub struct NgramLm {
    pub model: Ngram,
    pub vocab: Vocab,
}

impl LanguageModel for NgramLm {
    /// The last `order − 1` tokens.
    type State = Vec<u32>;

    fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    fn start(&self, prime: &[i64]) -> Result<Vec<u32>> {
        let keep = self.model.order() - 1;
        Ok(prime[prime.len().saturating_sub(keep)..].iter().map(|&t| t as u32).collect())
    }

    fn log_probs(&self, state: &Vec<u32>) -> Result<Vec<f32>> {
        Ok(self.model.distribution(state).into_iter().map(|p| p.ln() as f32).collect())
    }

    fn advance(&self, state: &Vec<u32>, token: i64) -> Result<Vec<u32>> {
        let mut next = state.clone();
        next.push(token as u32);
        let keep = self.model.order() - 1;
        if next.len() > keep {
            next.drain(..next.len() - keep);
        }
        Ok(next)
    }
}
