//! A baseline spec as a fitted model, and its scores on a corpus split.
//! (`crate::baseline` fits one into a pseudo-trial directory.)
use anyhow::Result;

use super::{Ngram, Score, Smoothing};
use crate::data::{Corpus, Split};
use crate::spec::baseline::{self as spec, BaselineSpec};

/// The smoothing a baseline spec asks for.
pub fn smoothing(b: &BaselineSpec) -> Smoothing {
    let BaselineSpec::Ngram { smoothing, k, discount, .. } = b;
    match smoothing {
        spec::Smoothing::AddK => Smoothing::AddK(k.unwrap_or(1.0)),
        spec::Smoothing::KneserNey => Smoothing::KneserNey(*discount),
    }
}

/// Fits a character n-gram on the corpus's training split.
pub fn fit_char(b: &BaselineSpec, corpus: &Corpus) -> Result<Ngram> {
    let BaselineSpec::Ngram { order, .. } = b;
    Ngram::fit(&as_u32(&corpus.train.ids()), corpus.vocab.len(), *order, smoothing(b))
}

fn as_u32(ids: &[i64]) -> Vec<u32> {
    ids.iter().map(|&i| i as u32).collect()
}

/// Mean negative log-probability (nats) of every scored token of `split`
/// (as the recurrent models score it: tasks such as arithmetic score only
/// their answers), each given the tokens before it, and argmax accuracy.
pub fn evaluate(model: &Ngram, split: &Split) -> Score {
    let ids = as_u32(&split.ids());
    let targets = split.targets();
    let mut nats = 0.0;
    let mut correct = 0usize;
    let mut scored = 0usize;
    for (i, &token) in ids.iter().enumerate() {
        if targets[i] == crate::model::IGNORE {
            continue;
        }
        scored += 1;
        let history = &ids[i.saturating_sub(model.order() - 1)..i];
        let dist = model.distribution(history);
        nats -= dist[token as usize].ln();
        let best = dist.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(t, _)| t);
        correct += (best == token as usize) as usize;
    }
    let chars = scored.max(1);
    Score { loss: nats / chars as f64, accuracy: correct as f64 / chars as f64, scored: chars }
}
