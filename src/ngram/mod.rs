//! Markov n-gram language models, the baseline every recurrent model is
//! compared with: the probability of the next token given the k − 1 before
//! it, counted on the training split, with add-k or interpolated Kneser–Ney
//! smoothing (Chen & Goodman 1998, "An empirical study of smoothing
//! techniques for language modeling", §2.7 and §3).
//!
//! Tokens are ids `0..vocab`; [`char`](self) models use the corpus's
//! character ids directly, [`word`] models map words to ids first.
pub mod baseline;
pub mod word;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use anyhow::{bail, Result};

/// A language model's scores on a split: mean loss in nats per scored
/// character, next-character accuracy (NaN where undefined) and the count.
#[derive(Debug, Clone, Copy)]
pub struct Score {
    pub loss: f64,
    pub accuracy: f64,
    pub scored: usize,
}

/// How unseen events get probability.
#[derive(Debug, Clone, PartialEq)]
pub enum Smoothing {
    /// P(w | h) = (c(h w) + k) / (c(h) + k·V) with the longest history.
    AddK(f64),
    /// Interpolated Kneser–Ney; `None` estimates each order's discount as
    /// D = n₁ / (n₁ + 2 n₂) (Ney, Essen & Kneser 1994), n_r = number of
    /// n-grams of that order seen exactly r times.
    KneserNey(Option<f64>),
}

/// Counts of one order: n-grams of length `n + 1` (context length `n`).
/// Raw counts at the highest order; for Kneser–Ney, continuation counts below it.
struct Level {
    contexts: FastMap<Box<[u32]>, Context>,
    discount: f64,
}

/// The tokens seen after one context, with their counts.
struct Context {
    /// (token, count), sorted by token.
    next: Vec<(u32, u32)>,
    total: u64,
}

impl Context {
    fn count(&self, token: u32) -> f64 {
        self.next.binary_search_by_key(&token, |&(t, _)| t).map_or(0.0, |i| self.next[i].1 as f64)
    }
}

/// An n-gram model over token ids `0..vocab`.
pub struct Ngram {
    order: usize,
    vocab: usize,
    smoothing: Smoothing,
    levels: Vec<Level>,
}

impl Ngram {
    /// Counts every n-gram of length 1..=`order` in `tokens`.
    pub fn fit(tokens: &[u32], vocab: usize, order: usize, smoothing: Smoothing) -> Result<Ngram> {
        if order == 0 {
            bail!("an n-gram model needs order >= 1");
        }
        if vocab == 0 {
            bail!("an n-gram model needs a non-empty vocabulary");
        }
        if let Some(&t) = tokens.iter().find(|&&t| t as usize >= vocab) {
            bail!("token {t} is outside the vocabulary of {vocab}");
        }
        let mut grams: Vec<FastMap<Box<[u32]>, u32>> = (0..order).map(|_| FastMap::default()).collect();
        for end in 1..=tokens.len() {
            for (n, level) in grams.iter_mut().enumerate() {
                if end < n + 1 {
                    break;
                }
                *level.entry(tokens[end - n - 1..end].into()).or_insert(0) += 1;
            }
        }
        if matches!(smoothing, Smoothing::KneserNey(_)) {
            // Below the highest order, Kneser–Ney counts in how many distinct
            // contexts a gram follows: N₁₊(• g) = #{v : c(v g) > 0}.
            for n in (0..order - 1).rev() {
                let mut cont: FastMap<Box<[u32]>, u32> = FastMap::default();
                for key in grams[n + 1].keys() {
                    *cont.entry(key[1..].into()).or_insert(0) += 1;
                }
                grams[n] = cont;
            }
        }
        let levels = grams
            .into_iter()
            .map(|grams| {
                let mut contexts: FastMap<Box<[u32]>, Context> = FastMap::default();
                let (mut n1, mut n2) = (0u64, 0u64);
                for (key, c) in grams {
                    let (ctx, token) = key.split_at(key.len() - 1);
                    let e = contexts.entry(ctx.into()).or_insert(Context { next: Vec::new(), total: 0 });
                    e.next.push((token[0], c));
                    e.total += c as u64;
                    n1 += (c == 1) as u64;
                    n2 += (c == 2) as u64;
                }
                for ctx in contexts.values_mut() {
                    ctx.next.sort_unstable();
                    ctx.next.shrink_to_fit();
                }
                let discount = match smoothing {
                    Smoothing::KneserNey(Some(d)) => d,
                    Smoothing::KneserNey(None) => ney_discount(n1, n2),
                    Smoothing::AddK(_) => 0.0,
                };
                Level { contexts, discount }
            })
            .collect();
        Ok(Ngram { order, vocab, smoothing, levels })
    }

    pub fn order(&self) -> usize {
        self.order
    }

    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Distinct n-grams stored, all orders together (the model's size).
    pub fn size(&self) -> usize {
        self.levels.iter().flat_map(|l| l.contexts.values()).map(|c| c.next.len()).sum()
    }

    /// The discount of each order (Kneser–Ney; zeros for add-k).
    pub fn discounts(&self) -> Vec<f64> {
        self.levels.iter().map(|l| l.discount).collect()
    }

    /// The usable part of a history: its last `order − 1` tokens.
    fn context<'h>(&self, history: &'h [u32]) -> &'h [u32] {
        &history[history.len().saturating_sub(self.order - 1)..]
    }

    /// P(token | history); only the last `order − 1` tokens of `history` matter.
    pub fn prob(&self, history: &[u32], token: u32) -> f64 {
        let h = self.context(history);
        match self.smoothing {
            Smoothing::AddK(k) => {
                let (c, total) =
                    self.levels[h.len()].contexts.get(h).map_or((0.0, 0.0), |ctx| (ctx.count(token), ctx.total as f64));
                (c + k) / (total + k * self.vocab as f64)
            }
            Smoothing::KneserNey(_) => {
                // From the empty context up: each order interpolates its
                // discounted estimate with the one below (uniform at the bottom):
                // P(w|h) = (max(c(hw) − D, 0) + D·N₁₊(h•)·P(w|h')) / c(h).
                let mut p = 1.0 / self.vocab as f64;
                for n in 0..=h.len() {
                    let level = &self.levels[n];
                    let Some(ctx) = level.contexts.get(&h[h.len() - n..]) else {
                        continue;
                    };
                    let d = level.discount;
                    p = ((ctx.count(token) - d).max(0.0) + d * ctx.next.len() as f64 * p) / ctx.total as f64;
                }
                p
            }
        }
    }

    /// The whole next-token distribution after `history` (the same numbers
    /// as [`Ngram::prob`] for each token, computed a level at a time).
    pub fn distribution(&self, history: &[u32]) -> Vec<f64> {
        let h = self.context(history);
        let v = self.vocab as f64;
        match self.smoothing {
            Smoothing::AddK(k) => {
                let ctx = self.levels[h.len()].contexts.get(h);
                let total = ctx.map_or(0.0, |c| c.total as f64);
                let mut p = vec![k / (total + k * v); self.vocab];
                for &(t, c) in ctx.map_or(&[][..], |c| &c.next[..]) {
                    p[t as usize] = (c as f64 + k) / (total + k * v);
                }
                p
            }
            Smoothing::KneserNey(_) => {
                let mut p = vec![1.0 / v; self.vocab];
                for n in 0..=h.len() {
                    let level = &self.levels[n];
                    let Some(ctx) = level.contexts.get(&h[h.len() - n..]) else {
                        continue;
                    };
                    let (d, total) = (level.discount, ctx.total as f64);
                    let backoff = d * ctx.next.len() as f64 / total;
                    for x in p.iter_mut() {
                        *x *= backoff;
                    }
                    for &(t, c) in &ctx.next {
                        p[t as usize] += (c as f64 - d).max(0.0) / total;
                    }
                }
                p
            }
        }
    }
}

/// D = n₁ / (n₁ + 2 n₂), kept inside (0, 1]; 0.75 when the counts say nothing.
fn ney_discount(n1: u64, n2: u64) -> f64 {
    if n1 == 0 {
        return 0.75;
    }
    (n1 as f64 / (n1 + 2 * n2) as f64).clamp(0.05, 1.0)
}

/// FxHash (rustc's hasher): n-gram keys are short integer slices, for which
/// SipHash's DoS resistance only costs time.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(buf));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests;
