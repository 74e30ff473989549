//! A baseline as a pseudo-trial directory, laid out like a trained trial's
//! (`trial.yaml`, `status.json`, `metrics.csv` with `val` and `test` rows at
//! step 0), so summaries and plots treat it as one more row.
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::word::WordNgram;
use super::{Ngram, Smoothing};
use crate::data::{Corpus, Split};
use crate::layout::METRICS_FILE;
use crate::metrics::{bits, MetricsLog};
use crate::spec::baseline::{self as spec, BaselineSpec, Unit};
use crate::spec::sweep::Trial;
use crate::train::Eval;
use crate::trial::{State, Status};

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
    Ngram::fit(&as_u32(&corpus.train.ids), corpus.vocab.len(), *order, smoothing(b))
}

fn as_u32(ids: &[i64]) -> Vec<u32> {
    ids.iter().map(|&i| i as u32).collect()
}

/// Mean negative log-probability (nats) of every scored token of `split`
/// (as the recurrent models score it: tasks such as arithmetic score only
/// their answers), each given the tokens before it, and argmax accuracy.
pub fn evaluate(model: &Ngram, split: &Split) -> Eval {
    let ids = as_u32(&split.ids);
    let mut nats = 0.0;
    let mut correct = 0usize;
    let mut scored = 0usize;
    for (i, &token) in ids.iter().enumerate() {
        if split.targets[i] == crate::model::IGNORE {
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
    Eval::lm(nats / chars as f64, correct as f64 / chars as f64, chars)
}

/// Fits and evaluates the baseline of `t` (the `trial.yaml` of `dir`) into
/// `dir`; failures are recorded in `status.json` as `failed` and returned.
pub fn run(t: &Trial, dir: &Path) -> Result<Status> {
    let Some(b) = &t.baseline else {
        bail!("trial {} is not a baseline", t.id);
    };
    let mut status = Status::running("cpu".into(), 1);
    status.write(dir)?;
    let clock = Instant::now();
    let outcome = fit_into(t, b, dir, &mut status);
    status.elapsed_s = clock.elapsed().as_secs_f64();
    match &outcome {
        Ok(()) => status.state = State::Finished,
        Err(e) => {
            status.state = State::Failed;
            status.message = Some(format!("{e:#}"));
        }
    }
    status.write(dir)?;
    outcome.map(|()| status)
}

fn fit_into(t: &Trial, b: &BaselineSpec, dir: &Path, status: &mut Status) -> Result<()> {
    let corpus = Corpus::load(&t.spec)?;
    let val = corpus.val.head(t.spec.train.eval_chars.unwrap_or(usize::MAX));
    let BaselineSpec::Ngram { order, unit, .. } = b;
    let (train, val, test, size) = match unit {
        Unit::Char => {
            let model = fit_char(b, &corpus)?;
            let train_sample = corpus.train.head(val.len());
            (evaluate(&model, &train_sample), evaluate(&model, &val), evaluate(&model, &corpus.test), model.size())
        }
        Unit::Word => {
            if corpus.train.targets.contains(&crate::model::IGNORE) {
                bail!("a word n-gram scores every character; this task scores only some (use unit: char)");
            }
            let decode = |ids: &[i64]| -> String { ids.iter().filter_map(|&i| corpus.vocab.char(i)).collect() };
            let train_text = decode(&corpus.train.ids);
            let model = WordNgram::fit(&train_text, *order, smoothing(b))?;
            let sample: String = train_text.chars().take(val.len()).collect();
            (
                model.evaluate(&sample),
                model.evaluate(&decode(&val.ids)),
                model.evaluate(&decode(&corpus.test.ids)),
                model.size(),
            )
        }
    };
    status.params = size as i64;
    let mut log = MetricsLog::create(&dir.join(METRICS_FILE), &t.id).with_context(|| format!("baseline {}", t.id))?;
    // Training-split loss over as many characters as validation reads:
    // how much the counts memorise, beside what generalises.
    log.write(0, "train", &[("loss", train.loss), ("bpc", bits(train.loss))])?;
    for (split, eval) in [("val", &val), ("test", &test)] {
        let metrics: Vec<(String, f64)> = eval.metrics().into_iter().filter(|(_, v)| v.is_finite()).collect();
        log.write(0, split, &metrics)?;
        for (name, v) in metrics {
            status.result.insert(format!("{split}_{name}"), v);
        }
    }
    status.result.insert("train_bpc".into(), bits(train.loss));
    status.result.insert("best_val_bpc".into(), bits(val.loss));
    Ok(())
}
