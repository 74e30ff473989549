//! Text generation from any character language model: sampling (with
//! temperature, top-k, or greedy argmax) and beam search. The models — a
//! trained recurrent checkpoint ([`rnn`]) or an n-gram baseline ([`ngram`])
//! — implement one small trait, [`LanguageModel`], so this code is shared.
pub mod ngram;
pub mod rnn;

use std::path::Path;

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::checkpoint;
use crate::data::{Corpus, Vocab};

/// A next-character model read one token at a time.
pub trait LanguageModel {
    /// What the model remembers of the text so far (cheap to clone).
    type State: Clone;
    fn vocab(&self) -> &Vocab;
    /// The state after reading `prime` (token ids; may be empty).
    fn start(&self, prime: &[i64]) -> Result<Self::State>;
    /// ln P(next token | state) for every token of the vocabulary.
    fn log_probs(&self, state: &Self::State) -> Result<Vec<f32>>;
    /// The state after reading one more token.
    fn advance(&self, state: &Self::State, token: i64) -> Result<Self::State>;
}

/// A model `rnnlab sample` can read.
pub enum Model {
    Rnn(rnn::RnnLm),
    Ngram(ngram::NgramLm),
}

/// Opens what `path` names: a checkpoint directory, a trial directory (its
/// best checkpoint, else its last), or a baseline's pseudo-trial directory
/// (the n-gram is fitted again on its corpus: counting is quick and
/// deterministic). Returns the model and a line saying what was loaded.
pub fn open(path: &Path) -> Result<(Model, String)> {
    if path.join(crate::layout::MODEL_FILE).is_file() {
        return Ok((Model::Rnn(rnn::RnnLm::load(path)?), format!("checkpoint {}", path.display())));
    }
    if !path.join(crate::layout::TRIAL_FILE).is_file() {
        bail!(
            "{} is neither a checkpoint directory (with {}) nor a trial directory (with {})",
            path.display(),
            crate::layout::MODEL_FILE,
            crate::layout::TRIAL_FILE
        );
    }
    let trial = crate::spec::sweep::Trial::read(path)?;
    if let Some(b) = &trial.baseline {
        if trial.spec.model.reverse_input {
            bail!("{} was fitted on reversed text; sampling it is not supported", trial.id);
        }
        let crate::spec::BaselineSpec::Ngram { unit, .. } = b;
        let words = trial.spec.data.tokens == crate::spec::Tokens::Words;
        if (*unit == crate::spec::baseline::Unit::Word) != words {
            bail!(
                "sampling supports n-grams over the corpus's own tokens; {} is a word n-gram over characters",
                trial.id
            );
        }
        let corpus =
            Corpus::load(&trial.spec).with_context(|| format!("refitting the n-gram baseline {}", trial.id))?;
        let model = crate::ngram::baseline::fit_char(b, &corpus)?;
        return Ok((
            Model::Ngram(ngram::NgramLm { model, vocab: corpus.vocab }),
            format!("{} ({})", trial.id, trial.variant),
        ));
    }
    let dir = checkpoint::best_or_last(path).with_context(|| {
        format!("{} has no checkpoint yet (a trial writes one every train.checkpoint_every steps)", path.display())
    })?;
    Ok((Model::Rnn(rnn::RnnLm::load(&dir)?), format!("{} ({}), {}", trial.id, trial.variant, dir.display())))
}

/// A short sample (the prime, then `length` sampled characters) from what
/// `path` names (see [`open`]), at a fixed temperature and seed: what a
/// report shows for each variant.
pub fn sample_text(path: &Path, prime: &str, length: usize, temperature: f64, seed: u64) -> Result<String> {
    let opts = SampleOptions { length, temperature, top_k: None, greedy: false, seed, stop: None };
    let text = match open(path)?.0 {
        Model::Rnn(m) => sample(&m, prime, &opts, &mut |_| Ok(()))?,
        Model::Ngram(m) => sample(&m, prime, &opts, &mut |_| Ok(()))?,
    };
    Ok(format!("{prime}{text}"))
}

/// Encodes a priming text, naming any character the model has never seen
/// (a word model reads an unknown word as `<unk>`).
pub fn encode_prime(vocab: &Vocab, prime: &str) -> Result<Vec<i64>> {
    vocab.encode(prime).with_context(|| {
        format!("--prime: the model's vocabulary ({} characters) cannot read the priming text", vocab.len())
    })
}

/// How to pick each next character when sampling.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub length: usize,
    /// Divides the log-probabilities: below 1 sharpens, above 1 flattens.
    pub temperature: f64,
    /// Sample only among the `k` most probable characters.
    pub top_k: Option<usize>,
    /// Always take the most probable character (no randomness).
    pub greedy: bool,
    pub seed: u64,
    /// Stop after generating this character.
    pub stop: Option<char>,
}

impl SampleOptions {
    pub fn check(&self) -> Result<()> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            bail!("--temperature must be a positive number");
        }
        if self.top_k == Some(0) {
            bail!("--top-k must be at least 1");
        }
        Ok(())
    }
}

/// Generates up to `opts.length` characters after `prime`, handing each to
/// `emit` as soon as it is chosen; returns the generated text.
pub fn sample<M: LanguageModel>(
    model: &M,
    prime: &str,
    opts: &SampleOptions,
    emit: &mut dyn FnMut(char) -> Result<()>,
) -> Result<String> {
    opts.check()?;
    let vocab = model.vocab();
    let mut state = model.start(&encode_prime(vocab, prime)?)?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut out = String::new();
    for _ in 0..opts.length {
        let logp = model.log_probs(&state)?;
        let token = if opts.greedy { argmax(&logp) } else { draw(&logp, opts.temperature, opts.top_k, &mut rng) };
        let text =
            vocab.token(token).with_context(|| format!("the model produced token {token} outside its vocabulary"))?;
        for c in text.chars() {
            emit(c)?;
            out.push(c);
        }
        if opts.stop.is_some_and(|c| vocab.id(c) == Some(token)) {
            break;
        }
        state = model.advance(&state, token)?;
    }
    Ok(out)
}

fn argmax(logp: &[f32]) -> i64 {
    logp.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i as i64)
}

/// Draws from softmax(logp / temperature), restricted to the top `k`.
fn draw(logp: &[f32], temperature: f64, top_k: Option<usize>, rng: &mut impl Rng) -> i64 {
    let mut order: Vec<usize> = (0..logp.len()).collect();
    order.sort_by(|&a, &b| logp[b].total_cmp(&logp[a]));
    order.truncate(top_k.unwrap_or(order.len()).max(1));
    let top = logp[order[0]] as f64;
    // Subtracting the maximum keeps exp() in range at any temperature.
    let weights: Vec<f64> = order.iter().map(|&i| ((logp[i] as f64 - top) / temperature).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut r = rng.gen::<f64>() * total;
    for (&i, w) in order.iter().zip(&weights) {
        if r < *w {
            return i as i64;
        }
        r -= w;
    }
    order[order.len() - 1] as i64
}

/// A finished beam-search hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    pub tokens: Vec<i64>,
    /// Sum of ln P of the generated tokens.
    pub log_prob: f64,
    /// `log_prob / len^alpha`, what hypotheses are ranked by.
    pub score: f64,
}

/// Length-normalised score: ln P / len^alpha (Wu et al. 2016 use a smoothed
/// variant; this plain form is enough to compare hypotheses of different
/// lengths: alpha = 0 ranks by total log-probability, which favours short
/// ones, alpha = 1 by the mean log-probability per character).
pub fn normalised(log_prob: f64, len: usize, alpha: f64) -> f64 {
    log_prob / (len.max(1) as f64).powf(alpha)
}

/// Beam search: at each step keep the `width` most probable prefixes (by
/// total log-probability, as the lecture describes). A prefix that ends
/// with `stop` is finished and leaves the beam. After `length` steps the
/// best of the finished and surviving hypotheses by [`normalised`] score wins.
pub fn beam_search<M: LanguageModel>(
    model: &M,
    prime: &[i64],
    width: usize,
    length: usize,
    stop: Option<i64>,
    alpha: f64,
) -> Result<Hypothesis> {
    if width == 0 {
        bail!("--beam must be at least 1");
    }
    if !(alpha >= 0.0 && alpha.is_finite()) {
        bail!("--length-norm must be >= 0");
    }
    let mut active: Vec<(Vec<i64>, f64, M::State)> = vec![(vec![], 0.0, model.start(prime)?)];
    let mut finished: Vec<(Vec<i64>, f64)> = Vec::new();
    for _ in 0..length {
        // Candidate extensions: (beam, token, total log-probability). Only a
        // beam's own top `width` tokens can make the overall top `width`.
        let mut candidates: Vec<(usize, i64, f64)> = Vec::new();
        for (b, (_, lp, state)) in active.iter().enumerate() {
            let logp = model.log_probs(state)?;
            let mut order: Vec<usize> = (0..logp.len()).collect();
            order.sort_by(|&x, &y| logp[y].total_cmp(&logp[x]));
            for &t in order.iter().take(width) {
                candidates.push((b, t as i64, lp + logp[t] as f64));
            }
        }
        candidates.sort_by(|x, y| y.2.total_cmp(&x.2));
        candidates.truncate(width);
        let mut next = Vec::with_capacity(width);
        for (b, token, lp) in candidates {
            let (tokens, _, state) = &active[b];
            let mut tokens = tokens.clone();
            tokens.push(token);
            if stop == Some(token) {
                finished.push((tokens, lp));
            } else {
                let state = model.advance(state, token)?;
                next.push((tokens, lp, state));
            }
        }
        active = next;
        if active.is_empty() {
            break;
        }
    }
    finished
        .into_iter()
        .chain(active.into_iter().map(|(t, lp, _)| (t, lp)))
        .map(|(tokens, log_prob)| Hypothesis { score: normalised(log_prob, tokens.len(), alpha), tokens, log_prob })
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .context("beam search produced no hypothesis (length 0?)")
}

#[cfg(test)]
mod tests;
