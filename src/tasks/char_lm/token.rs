//! The word-level language model (`token_lm`): the same recurrent model and
//! truncated BPTT as `char_lm`, over word tokens (`data.tokens: words`:
//! words, and single spaces, newlines and punctuation, with a vocabulary
//! from the training split; rarer words become `<unk>`).
//!
//! Its loss and perplexity are per token. So that it compares with
//! character models and other tokenizations, it also reports the cost of
//! the whole text: bits per character = total nats ÷ characters ÷ ln 2,
//! where the total is the mean loss × the split's tokens plus what spelling
//! out each `<unk>` costs under a character unigram model fitted on the
//! training words (without it, `<unk>` would be a free pass); and perplexity
//! per word = exp(total nats ÷ tokens that are not whitespace), close to
//! the per-word perplexity of corpora that count punctuation as words.
use anyhow::Result;

use super::{check_direction, report_samples, Text};
use crate::data::{Corpus, SplitStats};
use crate::metrics::{Direction, Metric};
use crate::spec::{Shape, Spec, Tokens};
use crate::tasks::{BestTrial, PlotSpec, TaskData, TaskInfo, TaskKind};

pub struct TokenLm;

/// Bits per character of the original text: measured from the split's
/// sizes, not a function of the per-token loss alone.
const BPC: Metric = Metric {
    name: "bpc",
    unit: "bits/char",
    direction: Direction::Lower,
    default: true,
    of_loss: None,
    train: false,
    test_column: true,
};

pub const METRICS: &[Metric] = &[
    Metric::LOSS,
    BPC,
    Metric::PERPLEXITY,
    Metric::measured("word_perplexity", "perplexity/word", Direction::Lower),
    Metric::measured("accuracy", "accuracy", Direction::Higher),
];

static INFO: TaskInfo = TaskInfo {
    name: "token_lm",
    shape: Shape::Text,
    metrics: METRICS,
    table: &[
        ("val_bpc", "val bits/char", 3),
        ("test_bpc", "test bits/char", 3),
        ("val_word_perplexity", "val ppl/word", 1),
        ("test_word_perplexity", "test ppl/word", 1),
        ("val_perplexity", "val ppl/token", 1),
        ("val_accuracy", "val acc", 3),
    ],
    units: "loss and perplexity per token; bits/char = total nats of the text (unknown words spelled out) ÷ characters ÷ ln 2; ppl/word = exp(total nats ÷ non-space tokens)",
    by_length: &[],
};

/// `bpc` and `word_perplexity` of a split scored at a mean `loss` per token.
pub fn text_metrics(stats: &SplitStats, loss: f64) -> [(&'static str, f64); 2] {
    stats.text_metrics(loss)
}

impl TaskKind for TokenLm {
    fn info(&self) -> &'static TaskInfo {
        &INFO
    }

    fn check(&self, spec: &Spec) -> Result<(), (String, String)> {
        if spec.data.tokens != Tokens::Words {
            return Err((
                "data.tokens".into(),
                "token_lm reads word tokens: set data.tokens: words (a character model is task char_lm)".into(),
            ));
        }
        check_direction(spec)
    }

    fn load(&'static self, spec: &Spec) -> Result<Box<dyn TaskData>> {
        Ok(Box::new(Text { corpus: Corpus::load(spec)?, metrics: METRICS }))
    }

    /// The corpus depends on the batch size (streams) and the reading direction.
    fn data_key(&self, spec: &Spec) -> String {
        super::CharLm.data_key(spec)
    }

    fn plots(&self) -> Vec<PlotSpec> {
        vec![
            PlotSpec::Curves {
                file: "val_bpc".into(),
                split: "val",
                metric: "bpc".into(),
                title: "Validation bits per character (mean over seeds, band = min–max)".into(),
                y_label: "bits per character of the text".into(),
                baselines: true,
            },
            PlotSpec::Curves {
                file: "train_loss".into(),
                split: "train",
                metric: "loss".into(),
                title: "Training loss per token (mean over seeds, band = min–max)".into(),
                y_label: "nats per token".into(),
                baselines: false,
            },
            PlotSpec::Final { column: "val_bpc".into(), y_label: "validation bits per character".into() },
        ]
    }

    fn report_examples(&self, best: &[BestTrial]) -> Option<String> {
        report_samples(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Text as Raw;
    use crate::ngram::word::tokenize;
    use crate::spec::parse;

    #[test]
    fn bits_per_character_agree_across_tokenizations() {
        // "ab ab ab ab ": 11 characters, 8 word tokens ("ab", " "), no unknown words.
        // A model that knows the text exactly up to one fair coin per word:
        // total ln 2 · 4 nats whichever way the text is cut. Per word token
        // that is 4 ln 2 / 8 nats mean loss; per character 4 ln 2 / 11.
        let text = "ab ab ab ab ";
        let stats = SplitStats { tokens: 8, chars: 11, words: 4, unknown: 0, spell_nats: 0.0 };
        assert_eq!(tokenize(text).len(), 8);
        let [(_, bpc), (_, ppl)] = text_metrics(&stats, 4.0 * 2f64.ln() / 8.0);
        let char_bpc = crate::metrics::bits(4.0 * 2f64.ln() / 11.0);
        // Fails if: bpc divides by tokens instead of characters.
        assert!((bpc - 4.0 / 11.0).abs() < 1e-12 && (bpc - char_bpc).abs() < 1e-12, "{bpc} vs {char_bpc}");
        // Per word: 4 words, ln 2 each: perplexity 2.
        assert!((ppl - 2.0).abs() < 1e-12, "{ppl}");
        // Unknown words pay their spelling on top.
        let unk = SplitStats { unknown: 1, spell_nats: 11.0 * 2f64.ln(), ..stats };
        let [(_, with), _] = text_metrics(&unk, 4.0 * 2f64.ln() / 8.0);
        assert!((with - (4.0 / 11.0 + 1.0)).abs() < 1e-12, "{with}");
    }

    #[test]
    fn a_word_corpus_splits_like_a_character_corpus() {
        let spec = |tokens: &str| {
            let src = format!("task: {}\ndata:\n  source: {{kind: xml}}\n  tokens: {tokens}\n  split: {{train: 0.5, val: 0.25, test: 0.25}}\ntrain:\n  steps: 1\n  batch_size: 2\n", if tokens == "words" { "token_lm" } else { "char_lm" });
            parse(&src, "t", "t").unwrap().spec
        };
        let text = Raw { text: "the cat sat on the mat. ".repeat(8), scored: None };
        let words = Corpus::from_text(&text, &spec("words"), "t".into()).unwrap();
        let chars = Corpus::from_text(&text, &spec("chars"), "t".into()).unwrap();
        for (w, c) in [(&words.train, &chars.train), (&words.val, &chars.val), (&words.test, &chars.test)] {
            assert_eq!(words.vocab.decode(&w.ids()), chars.vocab.decode(&c.ids()));
            assert_eq!(w.stats.unwrap().chars as usize, c.len());
        }
        assert!(words.description.contains("word tokens"), "{}", words.description);
    }
}
