//! Random search (as Greff et al. did per variant and dataset): each
//! variant × grid point gets `trials` draws of the `params` distributions,
//! seeded from the spec, so the same spec always draws the same values.
use indexmap::IndexMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSpec {
    /// Samples per variant × grid point.
    pub trials: usize,
    /// Seed of the draws (independent of the training seeds).
    #[serde(default)]
    pub seed: u64,
    /// Dotted key → distribution, e.g. `train.lr: {log_uniform: [1.0e-4, 1.0e-2]}`.
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    pub params: IndexMap<String, Distribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    Uniform([f64; 2]),
    LogUniform([f64; 2]),
    /// Integers in [lo, hi], uniformly.
    IntUniform([i64; 2]),
    /// Integers in [lo, hi], uniform in log space (e.g. hidden sizes).
    IntLogUniform([i64; 2]),
    Choice(Vec<Value>),
}

impl Distribution {
    pub fn check(&self) -> Result<(), String> {
        match self {
            // The sampler draws from [low, high): bounds that are not finite
            // (`.inf`, `.nan`) or whose width overflows (±1e308) panic inside it.
            Distribution::Uniform([lo, hi]) | Distribution::LogUniform([lo, hi])
                if !(lo.is_finite() && hi.is_finite() && (hi - lo).is_finite()) =>
            {
                Err(format!("bounds must be finite numbers with a finite difference, got [{lo}, {hi}]"))
            }
            Distribution::Uniform([lo, hi]) if lo.partial_cmp(hi) != Some(std::cmp::Ordering::Less) => {
                Err("uniform needs [low, high] with low < high".into())
            }
            Distribution::LogUniform([lo, hi]) if !(*lo > 0.0 && hi > lo) => {
                Err("log_uniform needs [low, high] with 0 < low < high".into())
            }
            Distribution::IntUniform([lo, hi]) if lo > hi => {
                Err("int_uniform needs [low, high] with low <= high".into())
            }
            Distribution::IntLogUniform([lo, hi]) if !(*lo > 0 && lo <= hi) => {
                Err("int_log_uniform needs [low, high] with 0 < low <= high".into())
            }
            Distribution::Choice(v) if v.is_empty() => Err("choice needs at least one value".into()),
            _ => Ok(()),
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Value {
        match self {
            Distribution::Uniform([lo, hi]) => Value::from(rng.gen_range(*lo..*hi)),
            Distribution::LogUniform([lo, hi]) => Value::from(rng.gen_range(lo.ln()..hi.ln()).exp()),
            Distribution::IntUniform([lo, hi]) => Value::from(rng.gen_range(*lo..=*hi)),
            Distribution::IntLogUniform([lo, hi]) => {
                let x = rng.gen_range((*lo as f64).ln()..(*hi as f64 + 1.0).ln()).exp().floor() as i64;
                Value::from(x.clamp(*lo, *hi))
            }
            Distribution::Choice(values) => values[rng.gen_range(0..values.len())].clone(),
        }
    }
}

impl RandomSpec {
    /// Draw `k` for the variant named `variant`: its own stream, so adding
    /// variants or samples does not change the draws of the others.
    pub fn sample(&self, variant: &str, k: usize) -> Vec<(String, Value)> {
        let digest = Sha256::digest(format!("{}/{variant}/{k}", self.seed).as_bytes());
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&digest);
        let mut rng = ChaCha8Rng::from_seed(seed);
        self.params.iter().map(|(key, d)| (key.clone(), d.draw(&mut rng))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RandomSpec {
        serde_yaml::from_str(
            "trials: 3\nseed: 7\nparams:\n  train.lr: {log_uniform: [1.0e-4, 1.0e-2]}\n  model.hidden: {int_log_uniform: [20, 200]}\n  model.cell: {choice: [lstm, gru]}\n",
        )
        .unwrap()
    }

    #[test]
    fn draws_are_seeded_and_in_range() {
        let s = spec();
        assert_eq!(s.sample("a", 0), s.sample("a", 0));
        assert_ne!(s.sample("a", 0), s.sample("a", 1));
        assert_ne!(s.sample("a", 0), s.sample("b", 0));
        for k in 0..200 {
            let draw = s.sample("a", k);
            let lr = draw[0].1.as_f64().unwrap();
            assert!((1e-4..1e-2).contains(&lr));
            let h = draw[1].1.as_i64().unwrap();
            assert!((20..=200).contains(&h));
        }
    }

    #[test]
    fn log_uniform_is_uniform_in_log_space() {
        let s = spec();
        // About half the draws of log-uniform [1e-4, 1e-2] fall below 1e-3.
        let below = (0..2000).filter(|&k| s.sample("x", k)[0].1.as_f64().unwrap() < 1e-3).count();
        assert!((900..1100).contains(&below), "{below}");
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(Distribution::LogUniform([0.0, 1.0]).check().is_err());
        assert!(Distribution::Uniform([2.0, 1.0]).check().is_err());
        assert!(Distribution::Choice(vec![]).check().is_err());
        assert!(Distribution::IntLogUniform([20, 200]).check().is_ok());
    }

    #[test]
    fn bounds_that_are_not_finite_are_refused_not_drawn() {
        // Mutation check: without the finiteness arm in `check`, these pass
        // it and `draw` panics ("Uniform::new called with `low >= high`" or
        // a non-finite range).
        for d in [
            Distribution::Uniform([0.0, f64::INFINITY]),
            Distribution::Uniform([f64::NAN, 1.0]),
            Distribution::Uniform([-1e308, 1e308]),
            Distribution::LogUniform([1e-3, f64::INFINITY]),
            Distribution::LogUniform([f64::NAN, 1.0]),
        ] {
            assert!(d.check().is_err(), "{d:?}");
        }
    }
}
