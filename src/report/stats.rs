//! The statistics of a variant comparison: moments, t confidence intervals,
//! Welch's t-test, Holm's correction, TOST equivalence, and a fANOVA-style
//! one-way variance decomposition for hyperparameter importance.
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

pub use crate::summary::{mean, std_dev};

/// Half-width of the two-sided 95% t confidence interval of the mean.
pub fn ci95_half_width(xs: &[f64]) -> Option<f64> {
    let s = std_dev(xs)?;
    let n = xs.len() as f64;
    let t = StudentsT::new(0.0, 1.0, n - 1.0).ok()?.inverse_cdf(0.975);
    Some(t * s / n.sqrt())
}

/// Welch's unequal-variance comparison of `b` against `a`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    /// mean(b) − mean(a)
    pub diff: f64,
    pub se: f64,
    pub df: f64,
    pub t: f64,
    /// Two-sided p-value of "equal means".
    pub p: f64,
}

/// `None` when either sample has fewer than two values or no spread at all.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    let (ma, mb) = (mean(a)?, mean(b)?);
    let (sa, sb) = (std_dev(a)?, std_dev(b)?);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (sa * sa / na, sb * sb / nb);
    let se = (va + vb).sqrt();
    if se <= 0.0 {
        return None;
    }
    let df = (va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let t = (mb - ma) / se;
    Some(Welch { diff: mb - ma, se, df, t, p: 2.0 * (1.0 - dist.cdf(t.abs())) })
}

/// Two one-sided tests of |mean(b) − mean(a)| < `delta` (Schuirmann), on
/// Welch's standard error and degrees of freedom: small p means equivalent.
pub fn tost(w: &Welch, delta: f64) -> f64 {
    let Ok(dist) = StudentsT::new(0.0, 1.0, w.df) else { return f64::NAN };
    let p_lower = 1.0 - dist.cdf((w.diff + delta) / w.se);
    let p_upper = dist.cdf((w.diff - delta) / w.se);
    p_lower.max(p_upper)
}

/// The smallest equivalence margin the TOST establishes at level `alpha`
/// from this comparison: |Δ| + t(1 − α, df)·se, the far end of the
/// (1 − 2α) confidence interval of Δ. A margin above it makes both
/// one-sided tests reject.
pub fn tost_min_margin(w: &Welch, alpha: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, w.df) {
        Ok(dist) => w.diff.abs() + dist.inverse_cdf(1.0 - alpha) * w.se,
        Err(_) => f64::NAN,
    }
}

/// Survival function of the noncentral t distribution, P(T > `c`) for
/// T = (Z + `ncp`) / √(V/`df`), Z standard normal and V χ² with `df`
/// degrees of freedom: the mean over V of P(Z > c·√(V/df) − ncp). With
/// U = √V, whose density ∝ u^(df−1)·e^(−u²/2) is smooth for df ≥ 1, it is
/// a midpoint sum over 4,000 points of U up to far in its tail, divided by
/// the same sum of the density (error below 10⁻⁴; statrs has no
/// noncentral t, and χ² quantiles would cost far more per point).
pub fn nct_sf(c: f64, df: f64, ncp: f64) -> f64 {
    const N: usize = 4000;
    let Ok(z) = Normal::new(0.0, 1.0) else { return f64::NAN };
    if !(df > 0.0 && df.is_finite()) {
        return f64::NAN;
    }
    // χ²'s mean plus 20 standard deviations, and some: the tail beyond is negligible.
    let top = (df + 20.0 * (2.0 * df).sqrt() + 50.0).sqrt();
    let h = top / N as f64;
    // Weights relative to the density's mode √(df − 1), so they cannot overflow.
    let mode = (df - 1.0).max(1.0).sqrt();
    let (mut mass, mut sum) = (0.0, 0.0);
    for i in 0..N {
        let u = (i as f64 + 0.5) * h;
        let w = ((df - 1.0) * (u / mode).ln() - (u * u - mode * mode) / 2.0).exp();
        mass += w;
        sum += w * z.sf(c * u / df.sqrt() - ncp);
    }
    sum / mass
}

/// Power of Welch's TOST with `n` trials per group whose true standard
/// deviations are `sd_a`, `sd_b` and true difference `diff`, at margin
/// `delta` and level `alpha`: both one-sided tests must reject. Each
/// side's rejection is a noncentral t event at Welch's df, so
/// P ≈ P(T(δ − |Δ|)/se > t₁₋α) + P(T(δ + |Δ|)/se > t₁₋α) − 1 (the two
/// tests share one standard error; the approximation treats their joint
/// failure as impossible, which is tight where power matters, ≥ 0.5).
pub fn tost_power(n: usize, sd_a: f64, sd_b: f64, diff: f64, delta: f64, alpha: f64) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let nf = n as f64;
    let (va, vb) = (sd_a * sd_a / nf, sd_b * sd_b / nf);
    let se = (va + vb).sqrt();
    let df = (va + vb).powi(2) / ((va * va + vb * vb) / (nf - 1.0));
    let Ok(t) = StudentsT::new(0.0, 1.0, df) else { return f64::NAN };
    let crit = t.inverse_cdf(1.0 - alpha);
    let p = nct_sf(crit, df, (delta - diff.abs()) / se) + nct_sf(crit, df, (delta + diff.abs()) / se) - 1.0;
    p.max(0.0)
}

/// The fewest trials per group for which the TOST reaches `power` (see
/// [`tost_power`]); `None` when no number of trials can, because the
/// true difference is at least the margin (or beyond 10⁶ trials).
pub fn tost_trials_for_power(sd_a: f64, sd_b: f64, diff: f64, delta: f64, alpha: f64, power: f64) -> Option<usize> {
    let inside = diff.abs() < delta;
    if !inside || !sd_a.is_finite() || !sd_b.is_finite() {
        return None;
    }
    let reaches = |n: usize| tost_power(n, sd_a, sd_b, diff, delta, alpha) >= power;
    // Power grows with n: double to a bound, then bisect.
    let mut hi = 2;
    while !reaches(hi) {
        hi *= 2;
        if hi > 1 << 20 {
            return None;
        }
    }
    let mut lo = hi / 2;
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if reaches(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi.max(2))
}

/// Holm–Bonferroni adjusted p-values, in the input order (NaN stays NaN
/// and does not count as a test).
pub fn holm(ps: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..ps.len()).filter(|&i| ps[i].is_finite()).collect();
    order.sort_by(|&i, &j| ps[i].total_cmp(&ps[j]));
    let m = order.len();
    let mut out = vec![f64::NAN; ps.len()];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * ps[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// Share of the variance of `y` explained by grouping on `x` (one-way
/// ANOVA R², the main effect of one hyperparameter as fANOVA's marginals
/// measure it). Numeric values with more than `bins` distinct values are
/// grouped into `bins` quantile bins (of their logarithm if all positive).
pub fn main_effect_share(x: &[Level], y: &[f64], bins: usize) -> Option<f64> {
    let m = mean(y)?;
    let total: f64 = y.iter().map(|v| (v - m).powi(2)).sum();
    if total <= 0.0 || x.len() != y.len() {
        return None;
    }
    let groups = group_ids(x, bins);
    let n_groups = groups.iter().max().map(|g| g + 1).unwrap_or(0);
    let mut sums = vec![(0.0, 0usize); n_groups];
    for (&g, &v) in groups.iter().zip(y) {
        sums[g].0 += v;
        sums[g].1 += 1;
    }
    let between: f64 = sums.iter().filter(|(_, n)| *n > 0).map(|(s, n)| *n as f64 * (s / *n as f64 - m).powi(2)).sum();
    Some(between / total)
}

/// A hyperparameter's value at one trial.
#[derive(Debug, Clone, PartialEq)]
pub enum Level {
    Number(f64),
    Text(String),
}

fn group_ids(x: &[Level], bins: usize) -> Vec<usize> {
    let numbers: Option<Vec<f64>> = x.iter().map(|l| if let Level::Number(v) = l { Some(*v) } else { None }).collect();
    let mut distinct: Vec<String> = Vec::new();
    let key = |l: &Level| match l {
        Level::Number(v) => format!("{v}"),
        Level::Text(s) => s.clone(),
    };
    for l in x {
        if !distinct.contains(&key(l)) {
            distinct.push(key(l));
        }
    }
    match numbers {
        Some(vs) if distinct.len() > bins => {
            let log = vs.iter().all(|v| *v > 0.0);
            let t: Vec<f64> = vs.iter().map(|v| if log { v.ln() } else { *v }).collect();
            let mut sorted = t.clone();
            sorted.sort_by(f64::total_cmp);
            // Upper edges of the first bins-1 quantile bins.
            let edges: Vec<f64> = (1..bins).map(|k| sorted[k * sorted.len() / bins]).collect();
            t.iter().map(|v| edges.iter().filter(|e| v >= e).count()).collect()
        }
        _ => x.iter().map(|l| distinct.iter().position(|d| *d == key(l)).expect("listed")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Simulated with NumPy/SciPy, each replicate's p checked against
    // statsmodels' `ttost_ind(b, a, -δ, δ, usevar="unequal")`: 20,000
    // replicates per n of N(0, sd_a) vs N(Δ, sd_b), n trials each; the
    // fewest n whose simulated power reaches 0.8 (standard error ±0.003):
    //   sd 0.03/0.04, Δ 0.01, δ 0.05, α 0.05:      n = 11 (0.806; n = 10: 0.758)
    //   sd 0.02/0.02, Δ 0,    δ 0.02, α 0.05/8:    n = 31 (0.823; n = 30: 0.798)
    //   sd 0.05/0.03, Δ −0.02, δ 0.06, α 0.05:     n = 15 (0.818; n = 14: 0.798)
    // SciPy's `stats.nct.sf(c, df, ncp)` on the same inputs agrees (0.8040,
    // 0.8185, 0.8242 at those n); the central-t shortcut
    // T((δ − |Δ|)/se − t) + … says 12 for the first case.
    // Fails if: the power uses one tail, a central t, drops the t quantile,
    // or the per-group rather than the pooled standard error.
    #[test]
    fn tost_trials_for_power_match_simulation() {
        let cases = [
            ((0.03, 0.04, 0.01, 0.05, 0.05), 11),
            ((0.02, 0.02, 0.0, 0.02, 0.05 / 8.0), 31),
            ((0.05, 0.03, -0.02, 0.06, 0.05), 15),
        ];
        for ((sa, sb, d, delta, alpha), want) in cases {
            let n = tost_trials_for_power(sa, sb, d, delta, alpha, 0.8).unwrap();
            assert_eq!(n, want, "{sa} {sb} {d} {delta} {alpha}: simulation says {want}");
        }
        // A true difference at the margin can never be shown equivalent.
        assert_eq!(tost_trials_for_power(0.03, 0.03, 0.05, 0.05, 0.05, 0.8), None);
    }

    // SciPy: stats.nct.sf(1.8, 8.5, 2.5) = 0.7556392553799012,
    // stats.nct.sf(2.9, 40, 0.3) = 0.0069548940131808415,
    // stats.nct.sf(1.7, 3.2, -1.0) = 0.013413894763518093,
    // stats.nct.sf(1.65, 650, 2.1) = 0.673703867893473.
    // Fails if: the grid is shifted, √(V/df) is inverted, or the weights
    // are not taken relative to the mode (they overflow at df 650).
    #[test]
    fn noncentral_t_matches_scipy() {
        for (c, df, ncp, want) in [
            (1.8, 8.5, 2.5, 0.7556392553799012),
            (2.9, 40.0, 0.3, 0.0069548940131808415),
            (1.7, 3.2, -1.0, 0.013413894763518093),
            (1.65, 650.0, 2.1, 0.673703867893473),
        ] {
            let got = nct_sf(c, df, ncp);
            assert!((got - want).abs() < 2e-4, "nct_sf({c}, {df}, {ncp}) = {got}, SciPy {want}");
        }
    }

    // The smallest margin: at δ just above it the TOST rejects at α, just
    // below it does not (checked on the SciPy example's Welch result).
    // Fails if: the margin uses a two-sided quantile or ignores |Δ|.
    #[test]
    fn tost_min_margin_is_where_the_tost_starts_to_reject() {
        let a = [2.31, 2.35, 2.28, 2.40, 2.33];
        let b = [2.38, 2.44, 2.36, 2.47, 2.41, 2.39];
        let w = welch(&a, &b).unwrap();
        let m = tost_min_margin(&w, 0.05);
        assert!((tost(&w, m) - 0.05).abs() < 1e-9, "{}", tost(&w, m));
        assert!(tost(&w, m * 1.01) < 0.05 && tost(&w, m * 0.99) > 0.05);
    }

    // Expected values from SciPy 1.x:
    //   a = [2.31, 2.35, 2.28, 2.40, 2.33]; b = [2.38, 2.44, 2.36, 2.47, 2.41, 2.39]
    //   stats.ttest_ind(b, a, equal_var=False) -> t 2.846138606645134, p 0.02096586648648002, df 8.241315389066289
    //   TOST with Welch se/df: delta 0.05 -> 0.8110100585991153, delta 0.2 -> 0.0006141997208203513
    //   stats.t.ppf(0.975, 4) * np.std(a, ddof=1) / sqrt(5) -> 0.0559438187238213
    const A: [f64; 5] = [2.31, 2.35, 2.28, 2.40, 2.33];
    const B: [f64; 6] = [2.38, 2.44, 2.36, 2.47, 2.41, 2.39];

    #[test]
    fn welch_matches_scipy() {
        let w = welch(&A, &B).unwrap();
        assert!((w.t - 2.846138606645134).abs() < 1e-9);
        assert!((w.df - 8.241315389066289).abs() < 1e-9);
        assert!((w.p - 0.02096586648648002).abs() < 1e-7);
        assert!(welch(&A[..1], &B).is_none());
    }

    #[test]
    fn tost_matches_scipy() {
        let w = welch(&A, &B).unwrap();
        assert!((tost(&w, 0.05) - 0.8110100585991153).abs() < 1e-7);
        assert!((tost(&w, 0.2) - 0.0006141997208203513).abs() < 1e-8);
    }

    #[test]
    fn confidence_interval_matches_scipy() {
        assert!((ci95_half_width(&A).unwrap() - 0.0559438187238213).abs() < 1e-9);
    }

    #[test]
    fn holm_by_hand() {
        // Sorted 0.01, 0.03, 0.04 → 3·0.01, max(0.03, 2·0.03), max(0.06, 1·0.04).
        let adj = holm(&[0.01, 0.04, 0.03, f64::NAN]);
        assert!((adj[0] - 0.03).abs() < 1e-12);
        assert!((adj[1] - 0.06).abs() < 1e-12);
        assert!((adj[2] - 0.06).abs() < 1e-12);
        assert!(adj[3].is_nan());
    }

    #[test]
    fn main_effects() {
        // y depends only on the first factor.
        let f1: Vec<Level> = ["a", "a", "b", "b"].iter().map(|s| Level::Text(s.to_string())).collect();
        let f2: Vec<Level> = [1.0, 2.0, 1.0, 2.0].iter().map(|&v| Level::Number(v)).collect();
        let y = [1.0, 1.0, 3.0, 3.0];
        assert!((main_effect_share(&f1, &y, 5).unwrap() - 1.0).abs() < 1e-12);
        assert!(main_effect_share(&f2, &y, 5).unwrap().abs() < 1e-12);
        // Continuous values are binned: a monotone effect is mostly explained.
        let lr: Vec<Level> = (0..50).map(|i| Level::Number(10f64.powf(-4.0 + i as f64 / 25.0))).collect();
        let y: Vec<f64> = (0..50).map(|i| i as f64).collect();
        assert!(main_effect_share(&lr, &y, 5).unwrap() > 0.9);
    }
}
