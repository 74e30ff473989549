//! What a section's comparisons would need to be decided, and Greff et
//! al.'s own analysis beside the TOST:
//!
//! - for every comparison left *inconclusive*, the smallest equivalence
//!   margin the data at hand establishes, and how many trials per variant
//!   the TOST would need for 80% power at the report's margin (from the
//!   observed spreads and difference);
//! - with `report.top` (`--top 0.1`), Welch's test on the best fraction of
//!   each variant's trials, chosen on the validation split, as Greff et
//!   al. (2015) compared the top 10% of their random-search trials.
//!
//! Both use Holm's strictest threshold α/m (m comparisons in the section),
//! so a figure here holds whatever rank a comparison takes in the
//! correction.
use std::fmt::Write as _;

use super::{lower_is_better, stats, variant_of, Section, Verdict};
use crate::spec::ReportSpec;
use crate::summary;

/// Power the trial counts are computed for.
const POWER: f64 = 0.8;

/// The "what it would take" table for the section's inconclusive rows.
pub(super) fn power_markdown(md: &mut String, s: &Section, o: &ReportSpec) {
    let Some(base) = s.rows.iter().find(|r| r.verdict == Verdict::Baseline) else { return };
    let open: Vec<_> = s.rows.iter().filter(|r| r.verdict == Verdict::Inconclusive).collect();
    if open.is_empty() {
        return;
    }
    let m = s.rows.iter().filter(|r| r.welch.is_some()).count().max(1);
    let alpha = o.alpha / m as f64;
    let base_mean = stats::mean(&base.values).unwrap_or(f64::NAN).abs();
    let _ = writeln!(
        md,
        "### What it would take to decide\n\nFor each inconclusive comparison: the smallest margin these trials \
         establish (TOST at α/m = {alpha:.4}, m = {m}), and the trials per variant the TOST would need for \
         {:.0}% power at the report's margin ±{}%, with the spreads as observed and the true difference \
         as observed or zero.\n\n\
         | variant | n | Δ vs baseline | smallest margin shown | as % of baseline | trials for {:.0}% power (Δ as observed) | (Δ = 0) |\n\
         |---|---|---|---|---|---|---|",
        POWER * 100.0,
        o.margin * 100.0,
        POWER * 100.0
    );
    let sd_base = stats::std_dev(&base.values);
    for r in open {
        let Some(w) = r.welch else { continue };
        let shown = stats::tost_min_margin(&w, alpha);
        let need = |diff: f64| match (sd_base, stats::std_dev(&r.values)) {
            (Some(sa), Some(sb)) => match stats::tost_trials_for_power(sa, sb, diff, s.margin, alpha, POWER) {
                Some(n) => n.to_string(),
                None if diff.abs() >= s.margin => "none (Δ is outside the margin)".into(),
                None => "over 10⁶".into(),
            },
            _ => "—".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.4} | {:.4} | ±{:.1}% | {} | {} |",
            r.variant,
            r.values.len(),
            w.diff,
            shown,
            100.0 * shown / base_mean,
            need(w.diff),
            need(0.0)
        );
    }
    md.push('\n');
}

/// Greff et al.'s comparison of each variant's best trials.
pub(super) fn top_markdown(md: &mut String, s: &Section, o: &ReportSpec) {
    let Some(top) = o.top else { return };
    let task = summary::task_of(&s.records);
    let lower = lower_is_better(task, &o.metric);
    // Select on validation, never on the test split.
    let select = o.metric.strip_prefix("test_").map(|m| format!("val_{m}")).unwrap_or_else(|| o.metric.clone());
    let groups: Vec<(String, Vec<f64>)> = s
        .rows
        .iter()
        .map(|row| {
            let mut trials: Vec<(f64, f64)> = s
                .records
                .iter()
                .filter(|r| variant_of(r, &o.split_by) == row.variant)
                .filter_map(|r| Some((r.result(&select)?, r.result(&o.metric)?)))
                .collect();
            trials.sort_by(|a, b| if lower { a.0.total_cmp(&b.0) } else { b.0.total_cmp(&a.0) });
            let k = ((top * trials.len() as f64).ceil() as usize).max(2).min(trials.len());
            (row.variant.clone(), trials[..k].iter().map(|t| t.1).collect())
        })
        .collect();
    let Some((base_name, base)) =
        groups.iter().find(|(v, _)| s.rows.iter().any(|r| &r.variant == v && r.verdict == Verdict::Baseline))
    else {
        return;
    };
    let tests: Vec<Option<stats::Welch>> =
        groups.iter().map(|(v, xs)| if v == base_name { None } else { stats::welch(base, xs) }).collect();
    let p_holm = stats::holm(&tests.iter().map(|w| w.map(|w| w.p).unwrap_or(f64::NAN)).collect::<Vec<_>>());
    let _ = writeln!(
        md,
        "### Greff et al.'s analysis: the best {:.0}% of each variant\n\nEach variant's best {:.0}% of trials by \
         `{select}` (at least 2), compared on `{}` with Welch's test against the baseline's best, Holm-corrected \
         (Greff et al. 2015 compared the top 10% of 200 random-search trials per variant this way).\n\n\
         | variant | trials kept | mean | Δ vs baseline | Welch t | p (Holm) | difference at α |\n|---|---|---|---|---|---|---|",
        top * 100.0,
        top * 100.0,
        o.metric
    );
    for (i, (v, xs)) in groups.iter().enumerate() {
        let mean = stats::mean(xs).map(|m| format!("{m:.4}")).unwrap_or_else(|| "—".into());
        let (diff, t, p, verdict) = match tests[i] {
            Some(w) => {
                let verdict = if p_holm[i] < o.alpha {
                    if (w.diff < 0.0) == lower {
                        "better"
                    } else {
                        "worse"
                    }
                } else {
                    "no significant difference"
                };
                (format!("{:.4}", w.diff), format!("{:.2}", w.t), format!("{:.3}", p_holm[i]), verdict)
            }
            None if v == base_name => ("—".into(), "—".into(), "—".into(), "baseline"),
            None => ("—".into(), "—".into(), "—".into(), "too few trials"),
        };
        let _ = writeln!(md, "| {v} | {} | {mean} | {diff} | {t} | {p} | {verdict} |", xs.len());
    }
    md.push_str("\n\"No significant difference\" is not equivalence: only the TOST above can show that.\n\n");
}
