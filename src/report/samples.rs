//! What the trained models of a report's variants produce: a text sample
//! from each language model, or test examples answered by each classifier,
//! tagger or seq2seq model, from the variant's best trial.
use std::collections::HashMap;
use std::fmt::Write as _;

use super::{lower_is_better, variant_of, Section};
use crate::spec::ReportSpec;
use crate::summary::{self, Record};

/// A short sample from each variant's best trial, at a fixed temperature
/// and seed, from its best checkpoint.
pub(super) fn samples_markdown(md: &mut String, s: &Section, o: &ReportSpec) {
    if summary::task_of(&s.records) != crate::spec::Task::CharLm {
        examples_markdown(md, s, o);
        return;
    }
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for row in &s.rows {
        let Some(r) = best_trial(s, o, &row.variant) else { continue };
        match crate::generate::sample_text(&r.dir, "", SAMPLE_CHARS, SAMPLE_TEMPERATURE, 0) {
            Ok(text) => {
                lines.push(format!("**{}** (`{}`):\n\n```text\n{}\n```\n", row.variant, r.trial.id, text.trim_end()))
            }
            Err(_) => missing.push(row.variant.clone()),
        }
    }
    if lines.is_empty() && missing.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### Samples\n\n{SAMPLE_CHARS} characters from each variant's best trial (best checkpoint), temperature {SAMPLE_TEMPERATURE}, seed 0.\n"
    );
    for l in lines {
        md.push_str(&l);
        md.push('\n');
    }
    if !missing.is_empty() {
        let _ = writeln!(md, "No checkpoint to sample from for: {}.\n", missing.join(", "));
    }
}

/// The variant's trial with the best value of the report metric.
fn best_trial<'s>(s: &'s Section, o: &ReportSpec, variant: &str) -> Option<&'s Record> {
    let better = |a: f64, b: f64| if lower_is_better(&o.metric) { a < b } else { a > b };
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

/// Example tasks: the shortest, the median and the longest test example,
/// as each variant's best trial answers them (greedy, from its best checkpoint).
fn examples_markdown(md: &mut String, s: &Section, o: &ReportSpec) {
    use crate::tasks::decode::{DecodeOptions, Decoder};
    let options = DecodeOptions { beam: None, length_norm: 1.0, max_length: None };
    let mut table = Vec::new();
    // Variants usually share their data: read (or generate) it once.
    let mut datasets: HashMap<String, crate::tasks::data::Dataset> = HashMap::new();
    for row in &s.rows {
        let Some(r) = best_trial(s, o, &row.variant) else { continue };
        let Ok((decoder, _)) = Decoder::open(&r.dir) else { continue };
        let key = serde_json::to_string(&r.trial.spec.data).unwrap_or_default();
        if !datasets.contains_key(&key) {
            let Ok(data) = crate::tasks::data::load(&r.trial.spec) else { continue };
            datasets.insert(key.clone(), data);
        }
        let data = &datasets[&key];
        let mut test: Vec<&crate::tasks::data::Example> = data.test.iter().collect();
        test.sort_by_key(|e| e.source.len());
        let Some(last) = test.len().checked_sub(1) else { continue };
        let mut picks = vec![0, last / 2, last];
        picks.dedup();
        for i in picks {
            let e = test[i];
            let source = data.source_text(&e.source);
            let reference = match data.task {
                crate::spec::Task::Tag => {
                    let tags = data.target.decode(&e.target);
                    let tokens = data.source.decode(&e.source);
                    tokens.iter().zip(tags).map(|(w, t)| format!("{w}/{t}")).collect::<Vec<_>>().join(" ")
                }
                _ => data.target_text(&e.target),
            };
            let Ok(output) = decoder.decode(&source, &options) else { continue };
            let output = output.split('\t').next().unwrap_or_default().to_string();
            let mark = if output == reference { "✓" } else { "✗" };
            table.push(format!("| {} | `{source}` | `{reference}` | `{output}` | {mark} |", row.variant));
        }
    }
    if table.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### Examples\n\nThe shortest, median and longest test example, answered greedily by each variant's best \
         trial (best checkpoint).\n\n| variant | input | reference | output | |\n|---|---|---|---|---|"
    );
    for line in table {
        let _ = writeln!(md, "{line}");
    }
    md.push('\n');
}

const SAMPLE_CHARS: usize = 200;
const SAMPLE_TEMPERATURE: f64 = 0.8;
