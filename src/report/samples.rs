//! What the trained models of a report's variants produce: a text sample
//! from each language model, or test examples answered by each classifier,
//! tagger or seq2seq model, from the variant's best trial.
use super::{lower_is_better, variant_of, Section};
use crate::spec::ReportSpec;
use crate::summary::{self, Record};
use crate::tasks::BestTrial;

/// What each variant's best trial produces, as its task shows it (text
/// samples, answered test examples).
pub(super) fn samples_markdown(md: &mut String, s: &Section, o: &ReportSpec) {
    let task = summary::task_of(&s.records);
    let best: Vec<BestTrial> = s
        .rows
        .iter()
        .filter_map(|row| {
            // Committed results without trials/ have no checkpoints.
            let r = best_trial(s, o, &row.variant).filter(|r| r.dir.is_dir())?;
            Some(BestTrial { variant: row.variant.clone(), dir: r.dir.clone(), trial: &r.trial })
        })
        .collect();
    if let Some(section) = task.report_examples(&best) {
        md.push_str(&section);
    }
}

/// The variant's trial with the best value of the report metric.
fn best_trial<'s>(s: &'s Section, o: &ReportSpec, variant: &str) -> Option<&'s Record> {
    let lower = lower_is_better(summary::task_of(&s.records), &o.metric);
    let better = |a: f64, b: f64| if lower { a < b } else { a > b };
    s.records
        .iter()
        .filter(|r| variant_of(r, &o.split_by) == variant)
        .filter_map(|r| r.result(&o.metric).map(|v| (r, v)))
        .fold(None, |acc: Option<(&Record, f64)>, (r, v)| match acc {
            Some((_, bv)) if !better(v, bv) => acc,
            _ => Some((r, v)),
        })
        .map(|(r, _)| r)
}
