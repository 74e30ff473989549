//! A baseline fitted into a pseudo-trial directory, laid out like a trained
//! trial's (`trial.yaml`, `status.json`, `metrics.csv` with `val` and
//! `test` rows at step 0), so summaries and plots treat it as one more row.
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::data::Corpus;
use crate::layout::METRICS_FILE;
use crate::metrics::{bits, MetricsLog};
use crate::ngram::{self, word::WordNgram};
use crate::spec::baseline::{BaselineSpec, Unit};
use crate::spec::sweep::Trial;
use crate::spec::Tokens;
use crate::trial::{Status, TrialState};

/// Fits and evaluates the baseline of `t` (the `trial.yaml` of `dir`) into
/// `dir`; failures are recorded
/// in `status.json` as `failed` and returned.
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
        Ok(()) => status.state = TrialState::Finished,
        Err(e) => {
            status.state = TrialState::Failed;
            status.message = Some(format!("{e:#}"));
        }
    }
    status.write(dir)?;
    outcome.map(|()| status)
}

fn fit_into(t: &Trial, b: &BaselineSpec, dir: &Path, status: &mut Status) -> Result<()> {
    let corpus = Corpus::load(&t.spec)?;
    let val_split = corpus.val.head(t.spec.train.eval_chars.unwrap_or(usize::MAX));
    let BaselineSpec::Ngram { order, unit, .. } = b;
    let words = corpus.vocab.kind() == Tokens::Words;
    let train_sample = corpus.train.head(val_split.len());
    let (train, val, test, size) = match (unit, words) {
        (Unit::Char, true) => bail!(
            "unit: char: this corpus is cut into words (data.tokens: words); an n-gram over its tokens is unit: word"
        ),
        // A character n-gram, or a word n-gram over a word corpus's own
        // tokens (its vocabulary and <unk>, as the recurrent models read them).
        (Unit::Char, false) | (Unit::Word, true) => {
            let model = ngram::baseline::fit_char(b, &corpus)?;
            (
                ngram::baseline::evaluate(&model, &train_sample),
                ngram::baseline::evaluate(&model, &val_split),
                ngram::baseline::evaluate(&model, &corpus.test),
                model.size(),
            )
        }
        (Unit::Word, false) => {
            if corpus.train.is_masked() {
                bail!("a word n-gram scores every character; this task scores only some (use unit: char)");
            }
            let decode = |s: &crate::data::Split| corpus.vocab.decode(&s.ids());
            let train_text = decode(&corpus.train);
            let model = WordNgram::fit(&train_text, *order, ngram::baseline::smoothing(b))?;
            let sample: String = train_text.chars().take(val_split.len()).collect();
            (
                model.evaluate(&sample),
                model.evaluate(&decode(&val_split)),
                model.evaluate(&decode(&corpus.test)),
                model.size(),
            )
        }
    };
    // Bits per character of the text: the loss itself when it is per
    // character, else from the split's sizes (word tokens).
    let bpc = |split: &crate::data::Split, loss: f64| match &split.stats {
        Some(stats) => stats.text_metrics(loss)[0].1,
        None => bits(loss),
    };
    let (train_bpc, val_bpc) = (bpc(&train_sample, train.loss), bpc(&val_split, val.loss));
    status.params = size as i64;
    let mut log = MetricsLog::create(&dir.join(METRICS_FILE), &t.id).with_context(|| format!("baseline {}", t.id))?;
    // Training-split loss over as many characters as validation reads:
    // how much the counts memorise, beside what generalises.
    log.write(0, "train", &[("loss", train.loss), ("bpc", train_bpc)])?;
    // Scored with the metrics its task declares for a trained model.
    let defs = crate::tasks::of(&t.spec)?.metrics();
    // Without a test split (`data.split.test: 0`) there is nothing to score there.
    let splits =
        [("val", Some((&val, &val_split))), ("test", Some((&test, &corpus.test)).filter(|_| !corpus.test.is_empty()))];
    for (split, (score, part)) in splits.into_iter().filter_map(|(name, s)| Some((name, s?))) {
        let mut measured = vec![("accuracy", score.accuracy)];
        measured.extend(part.stats.map(|s| s.text_metrics(score.loss)).into_iter().flatten());
        let metrics = crate::metrics::complete(defs, score.loss, &measured);
        let metrics: Vec<(String, f64)> = metrics.into_iter().filter(|(_, v)| v.is_finite()).collect();
        log.write(0, split, &metrics)?;
        for (name, v) in metrics {
            status.result.insert(format!("{split}_{name}"), v);
        }
    }
    status.result.insert("train_bpc".into(), train_bpc);
    status.result.insert("best_val_bpc".into(), val_bpc);
    Ok(())
}
