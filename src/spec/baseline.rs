//! Baselines an experiment is compared with: models that are fitted, not
//! trained, and appear in the results as pseudo-trials (`trials/ngram-…/`).
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sweep::Trial;
use super::{Loaded, Spec, SpecError};

/// One entry of `baselines:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BaselineSpec {
    /// A Markov n-gram model fitted on the training split.
    Ngram {
        /// Tokens of context plus one: order 5 predicts from the 4 before.
        order: usize,
        #[serde(default)]
        unit: Unit,
        #[serde(default)]
        smoothing: Smoothing,
        /// Pseudo-count of add-k smoothing (default 1, Laplace).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        k: Option<f64>,
        /// Fixed Kneser–Ney discount in (0, 1]; default: estimated per order.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        discount: Option<f64>,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    #[default]
    Char,
    /// Words (runs of letters, digits and `_`) and single other characters;
    /// scored per character so it compares with character models.
    Word,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Smoothing {
    #[default]
    KneserNey,
    AddK,
}

impl BaselineSpec {
    /// `(field, message)` for the first problem, `field` relative to the entry.
    pub fn check(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        let BaselineSpec::Ngram { order, smoothing, k, discount, .. } = self;
        if !(1..=20).contains(order) {
            return err("order", "must be between 1 and 20");
        }
        match (smoothing, k, discount) {
            (Smoothing::KneserNey, Some(_), _) => err("k", "only add_k smoothing takes k"),
            (Smoothing::AddK, _, Some(_)) => err("discount", "only kneser_ney smoothing takes a discount"),
            (_, Some(k), _) if !(*k > 0.0 && k.is_finite()) => err("k", "must be positive"),
            (_, _, Some(d)) if !(*d > 0.0 && *d <= 1.0) => err("discount", "must be in (0, 1]"),
            _ => Ok(()),
        }
    }

    /// A short readable label, e.g. `5-gram KN`, `3-gram add-k`, `word 3-gram KN`.
    pub fn label(&self) -> String {
        let BaselineSpec::Ngram { order, unit, smoothing, .. } = self;
        let unit = match unit {
            Unit::Char => "",
            Unit::Word => "word ",
        };
        let smoothing = match smoothing {
            Smoothing::KneserNey => "KN",
            Smoothing::AddK => "add-k",
        };
        format!("{unit}{order}-gram {smoothing}")
    }
}

/// The baselines of a (checked) spec as pseudo-trials: the base spec (no sweep, no
/// baselines) plus the baseline, with an id hashed from both.
pub fn trials(loaded: &Loaded) -> Result<Vec<Trial>, SpecError> {
    let mut base: Spec = loaded.spec.clone();
    base.sweep = Default::default();
    let baselines = std::mem::take(&mut base.baselines);
    let mut out: Vec<Trial> = Vec::new();
    for (i, b) in baselines.into_iter().enumerate() {
        let BaselineSpec::Ngram { order, unit, smoothing, .. } = &b;
        // What the numbers depend on: the data, the validation budget and the baseline.
        let key = serde_json::to_string(&(&base.data, base.train.eval_chars, &b)).expect("spec serialises");
        let hash: String = Sha256::digest(key.as_bytes()).iter().take(3).map(|x| format!("{x:02x}")).collect();
        let unit = match unit {
            Unit::Char => "",
            Unit::Word => "word-",
        };
        let smoothing = match smoothing {
            Smoothing::KneserNey => "kn",
            Smoothing::AddK => "addk",
        };
        let id = format!("{unit}ngram-{order}-{smoothing}-{hash}");
        if out.iter().any(|t| t.id == id) {
            return Err(loaded.error(&format!("baselines.{i}"), "repeats an earlier baseline"));
        }
        out.push(Trial {
            id,
            variant: b.label(),
            label: None,
            variant_keys: Vec::new(),
            params: Default::default(),
            sampled: Default::default(),
            spec: base.clone(),
            baseline: Some(b),
        });
    }
    Ok(out)
}
