//! `rnnlab report DIR`: the statistical comparison of variants, written as
//! `report.md` with the plots it embeds, from the trial directories alone.
//!
//! Per analysis section (one per value of the `split_by` axes): mean, sd and
//! 95% CI of the chosen final metric per variant; Welch's t-test of each
//! variant against the baseline with Holm's correction; a TOST equivalence
//! test against a margin relative to the baseline's mean; a verdict; and the
//! share of variance each hyperparameter explains.
mod by_length;
mod decide;
pub mod plots;
mod samples;
pub mod stats;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use serde_yaml::Value;

use crate::fsutil::write_atomic;
use crate::layout;
use crate::plot::{self, Curves};
use crate::spec::sweep::{label, scalar};
use crate::spec::ReportSpec;
use crate::summary::{self, Record};
use crate::tasks::TaskKind;
use stats::Level;

/// Reads the experiment's own `report:` defaults, if it has any.
pub fn spec_defaults(exp_dir: &Path) -> ReportSpec {
    let path = exp_dir.join(layout::EXPERIMENT_FILE);
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| crate::spec::parse(&text, &path.display().to_string(), "experiment").ok())
        .and_then(|l| l.spec.report)
        .unwrap_or_default()
}

/// `o` with the task's default metric if it names none.
pub fn with_default_metric(o: &ReportSpec, records: &[Record]) -> ReportSpec {
    let mut o = o.clone();
    if o.metric.is_empty() {
        o.metric = summary::default_metric(summary::task_of(records));
    }
    o
}

/// What a variant's comparison with the baseline concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Baseline,
    /// The TOST says the difference is within the margin.
    Equivalent,
    Better,
    Worse,
    Inconclusive,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Baseline => "baseline",
            Verdict::Equivalent => "equivalent",
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One variant's row of a section.
#[derive(Debug, Clone)]
pub struct Row {
    pub variant: String,
    pub values: Vec<f64>,
    pub welch: Option<stats::Welch>,
    pub p_holm: f64,
    pub tost_holm: f64,
    pub verdict: Verdict,
}

/// One analysis: the trials sharing the values of the `split_by` axes.
#[derive(Debug, Clone)]
pub struct Section {
    /// e.g. `source=xml`, or empty when nothing is split.
    pub name: String,
    pub rows: Vec<Row>,
    pub margin: f64,
    pub importance: Vec<(String, f64)>,
    pub records: Vec<Record>,
}

/// Checks the report options against the metrics of the experiment's `task`
/// (the plan stage calls this before any analysis).
pub fn check_options(o: &ReportSpec, task: &dyn TaskKind) -> Result<()> {
    let columns = crate::metrics::result_columns(task.metrics());
    if !columns.contains(&o.metric) {
        bail!("report.metric: unknown metric '{}'; choose one of {}", o.metric, columns.join(", "));
    }
    if !(o.margin > 0.0 && o.margin.is_finite()) {
        bail!(
            "report.margin: must be a positive fraction of the baseline's mean (e.g. 0.02 for ±2%), got {}",
            o.margin
        );
    }
    if !(o.alpha > 0.0 && o.alpha < 1.0) {
        bail!("report.alpha: must be in (0, 1), got {}", o.alpha);
    }
    if let Some(top) = o.top {
        if !(top > 0.0 && top <= 1.0) {
            bail!("report.top: must be a fraction in (0, 1] of each variant's trials (e.g. 0.1), got {top}");
        }
    }
    Ok(())
}

/// Whether lower values of a result column are better, as its metric declares.
fn lower_is_better(task: &dyn TaskKind, column: &str) -> bool {
    crate::metrics::lookup(task.metrics(), column).is_none_or(|m| m.lower_is_better())
}

/// The variant name of a record once the `split_by` axes are taken out.
fn variant_of(r: &Record, split_by: &[String]) -> String {
    let fixed: Vec<(String, Value)> = r
        .trial
        .params
        .iter()
        .filter(|(k, _)| k.as_str() != "train.seed" && !split_by.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    label(r.trial.label.as_deref(), &fixed, &r.trial.variant_keys)
}

fn section_of(r: &Record, split_by: &[String]) -> Result<String> {
    let parts: Result<Vec<String>> = split_by
        .iter()
        .map(|k| {
            let v = r
                .trial
                .params
                .get(k)
                .with_context(|| format!("report.split_by: '{k}' is not a swept key of trial {}", r.trial.id))?;
            Ok(format!("{}={}", k.rsplit('.').next().unwrap_or(k), short(v)))
        })
        .collect();
    Ok(parts?.join(" "))
}

fn short(v: &Value) -> String {
    match v {
        Value::Mapping(m) => ["name", "kind"]
            .iter()
            .find_map(|k| m.get(*k).and_then(|x| x.as_str()).map(String::from))
            .unwrap_or_else(|| scalar(v)),
        _ => scalar(v),
    }
}

/// Builds the sections of a report over `records`, with options `o` that
/// passed [`check_options`] and name a metric (see [`with_default_metric`]).
pub fn analyse(records: &[Record], o: &ReportSpec) -> Result<Vec<Section>> {
    // Fitted baselines (n-grams) are references, not variants under test.
    let finished: Vec<&Record> = records.iter().filter(|r| r.is_finished() && r.trial.baseline.is_none()).collect();
    if finished.is_empty() {
        bail!("no finished trials to report on ({} trial directories, none finished)", records.len());
    }
    let mut by_section: IndexMap<String, Vec<&Record>> = IndexMap::new();
    for r in &finished {
        by_section.entry(section_of(r, &o.split_by)?).or_default().push(r);
    }
    let better_low = lower_is_better(summary::task_of(records), &o.metric);
    let mut sections = Vec::new();
    for (name, recs) in by_section {
        let mut groups: IndexMap<String, Vec<f64>> = IndexMap::new();
        for r in &recs {
            if let Some(v) = r.result(&o.metric) {
                groups.entry(variant_of(r, &o.split_by)).or_default().push(v);
            }
        }
        let baseline = match &o.baseline {
            Some(b) if groups.contains_key(b) => b.clone(),
            Some(b) => bail!(
                "report.baseline: '{b}' is not a variant{}; variants: {}",
                if name.is_empty() { String::new() } else { format!(" of section {name}") },
                groups.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            None => groups.keys().next().cloned().with_context(|| {
                let hint = if o.metric.starts_with("test_") {
                    " (an experiment with data.split.test: 0 has no test split)"
                } else {
                    ""
                };
                format!("no trial has a value for {}{hint}", o.metric)
            })?,
        };
        let base_values = groups[&baseline].clone();
        let margin = o.margin * stats::mean(&base_values).unwrap_or(f64::NAN).abs();
        let tests: Vec<(String, Vec<f64>, Option<stats::Welch>)> = groups
            .iter()
            .map(|(v, xs)| {
                let w = if *v == baseline { None } else { stats::welch(&base_values, xs) };
                (v.clone(), xs.clone(), w)
            })
            .collect();
        let p: Vec<f64> = tests.iter().map(|(_, _, w)| w.map(|w| w.p).unwrap_or(f64::NAN)).collect();
        let p_tost: Vec<f64> =
            tests.iter().map(|(_, _, w)| w.map(|w| stats::tost(&w, margin)).unwrap_or(f64::NAN)).collect();
        let (p_holm, tost_holm) = (stats::holm(&p), stats::holm(&p_tost));
        let rows = tests
            .into_iter()
            .enumerate()
            .map(|(i, (variant, values, welch))| {
                let verdict = if variant == baseline {
                    Verdict::Baseline
                } else if tost_holm[i] < o.alpha {
                    Verdict::Equivalent
                } else if p_holm[i] < o.alpha {
                    let lower = welch.is_some_and(|w| w.diff < 0.0);
                    if lower == better_low {
                        Verdict::Better
                    } else {
                        Verdict::Worse
                    }
                } else {
                    Verdict::Inconclusive
                };
                Row { variant, values, welch, p_holm: p_holm[i], tost_holm: tost_holm[i], verdict }
            })
            .collect();
        let importance = importance(&recs, o);
        sections.push(Section { name, rows, margin, importance, records: recs.into_iter().cloned().collect() });
    }
    Ok(sections)
}

/// Main-effect variance shares of the variant and of every sampled or
/// swept hyperparameter that varies within the section.
fn importance(recs: &[&Record], o: &ReportSpec) -> Vec<(String, f64)> {
    let rs: Vec<&&Record> = recs.iter().filter(|r| r.result(&o.metric).is_some()).collect();
    let y: Vec<f64> = rs.iter().filter_map(|r| r.result(&o.metric)).collect();
    let mut factors: IndexMap<String, Vec<Level>> = IndexMap::new();
    // Named variants are one factor; grid axes and sampled values are their own.
    if rs.iter().any(|r| r.trial.label.is_some()) {
        factors.insert("variant".into(), rs.iter().map(|r| Level::Text(variant_of(r, &o.split_by))).collect());
    }
    let mut keys: Vec<String> = Vec::new();
    for r in &rs {
        for k in r.trial.sampled.keys().chain(r.trial.params.keys()) {
            let named = r.trial.label.is_some() && r.trial.variant_keys.contains(k);
            if !keys.contains(k) && !o.split_by.contains(k) && !named {
                keys.push(k.clone());
            }
        }
    }
    for k in keys {
        let levels: Vec<Level> = rs
            .iter()
            .map(|r| {
                let v = r.trial.sampled.get(&k).or_else(|| r.trial.params.get(&k));
                match v.and_then(|v| v.as_f64()) {
                    Some(x) => Level::Number(x),
                    None => Level::Text(v.map(short).unwrap_or_default()),
                }
            })
            .collect();
        let distinct = levels.iter().enumerate().filter(|(i, l)| !levels[..*i].contains(l)).count();
        if distinct > 1 {
            factors.insert(k, levels);
        }
    }
    factors.into_iter().filter_map(|(k, x)| stats::main_effect_share(&x, &y, 5).map(|s| (k, s))).collect()
}

/// Writes `report.md` and its plots into `exp_dir` from the `sections`
/// [`analyse`] found in its `records`; returns the files.
pub fn write(exp_dir: &Path, records: &[Record], sections: &[Section], o: &ReportSpec) -> Result<Vec<PathBuf>> {
    let plots_dir = layout::plots_dir(exp_dir);
    std::fs::create_dir_all(&plots_dir)?;
    let mut files = Vec::new();
    let name = exp_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut md = header(&name, records, o);
    if !records.iter().any(|r| r.dir.is_dir()) {
        md.push_str(
            "Read from `summary.csv`: the trial directories (`trials/`) are absent, so learning curves, \
             length breakdowns and samples are left out.\n\n",
        );
    }
    for (k, s) in sections.iter().enumerate() {
        let suffix = if sections.len() > 1 { format!("_{k}") } else { String::new() };
        files.extend(section_markdown(&mut md, s, o, &plots_dir, &suffix)?);
    }
    md.push_str(METHODS);
    let path = exp_dir.join(layout::REPORT_FILE);
    write_atomic(&path, md.as_bytes())?;
    files.insert(0, path);
    Ok(files)
}

fn header(name: &str, records: &[Record], o: &ReportSpec) -> String {
    let count = |s: &str| records.iter().filter(|r| r.state() == s).count();
    let mut md = format!("# Report: {name}\n\n");
    let _ = writeln!(
        md,
        "{} trial directories: {} finished, {} diverged, {} failed, {} incomplete. Only finished trials are analysed.",
        records.len(),
        count("finished"),
        count("diverged"),
        count("failed"),
        count("incomplete")
    );
    let excluded: Vec<String> =
        records.iter().filter(|r| !r.is_finished()).map(|r| format!("`{}` ({})", r.trial.id, r.state())).collect();
    if !excluded.is_empty() {
        let _ = writeln!(md, "\nExcluded: {}.", excluded.join(", "));
    }
    let baselines: Vec<String> = records
        .iter()
        .filter(|r| r.trial.baseline.is_some())
        .filter_map(|r| r.result(&o.metric).map(|v| format!("{} {v:.4}", r.trial.variant)))
        .collect();
    if !baselines.is_empty() {
        let _ = writeln!(md, "\nReference baselines (not tested): {}.", baselines.join(", "));
    }
    let _ = writeln!(
        md,
        "\nMetric: `{}` ({} is better). Equivalence margin: ±{}% of the baseline's mean. α = {}; p-values are Holm-corrected within each section.\n",
        o.metric,
        if lower_is_better(summary::task_of(records), &o.metric) { "lower" } else { "higher" },
        o.margin * 100.0,
        o.alpha
    );
    md
}

fn section_markdown(
    md: &mut String,
    s: &Section,
    o: &ReportSpec,
    plots_dir: &Path,
    suffix: &str,
) -> Result<Vec<PathBuf>> {
    let title = if s.name.is_empty() { "Variants".to_string() } else { format!("Variants, {}", s.name) };
    let _ = writeln!(md, "## {title}\n\nMargin δ = {:.4} (in `{}` units).\n", s.margin, o.metric);
    md.push_str(
        "| variant | n | mean | sd | 95% CI | Δ vs baseline | Welch t | df | p (Holm) | TOST p (Holm) | verdict |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    let f = |v: Option<f64>, d: usize| {
        v.filter(|x| x.is_finite()).map(|x| format!("{x:.d$}")).unwrap_or_else(|| "—".into())
    };
    let p = |v: f64| match v {
        v if !v.is_finite() => "—".to_string(),
        v if v < 1e-3 => format!("{v:.1e}"),
        v => format!("{v:.3}"),
    };
    for r in &s.rows {
        let m = stats::mean(&r.values);
        let ci = stats::ci95_half_width(&r.values);
        let ci_text = match (m, ci) {
            (Some(m), Some(h)) => format!("[{:.4}, {:.4}]", m - h, m + h),
            _ => "—".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | **{}** |",
            r.variant,
            r.values.len(),
            f(m, 4),
            f(stats::std_dev(&r.values), 4),
            ci_text,
            f(r.welch.map(|w| w.diff), 4),
            f(r.welch.map(|w| w.t), 2),
            f(r.welch.map(|w| w.df), 1),
            p(r.p_holm),
            p(r.tost_holm),
            r.verdict.as_str()
        );
    }
    let tally = |v: Verdict| s.rows.iter().filter(|r| r.verdict == v).count();
    let _ = writeln!(
        md,
        "\nAgainst the baseline: {} equivalent, {} better, {} worse, {} inconclusive.\n",
        tally(Verdict::Equivalent),
        tally(Verdict::Better),
        tally(Verdict::Worse),
        tally(Verdict::Inconclusive)
    );
    decide::power_markdown(md, s, o);
    decide::top_markdown(md, s, o);
    md.push_str("### Hyperparameter importance\n\nShare of the variance of the metric explained by each hyperparameter's main effect (one-way ANOVA R²; numeric values in quintile bins).\n\n| hyperparameter | share of variance |\n|---|---|\n");
    let mut imp = s.importance.clone();
    imp.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (k, v) in &imp {
        let _ = writeln!(md, "| {k} | {:.1}% |", v * 100.0);
    }
    md.push('\n');
    samples::samples_markdown(md, s, o);
    let mut files = Vec::new();
    let groups: Vec<(String, Vec<f64>)> = s.rows.iter().map(|r| (r.variant.clone(), r.values.clone())).collect();
    let box_name = format!("report_box{suffix}");
    files.extend(plots::boxes(
        plots_dir,
        &box_name,
        &format!("Final {} per variant {}", o.metric, s.name),
        &o.metric,
        &groups,
    )?);
    let _ = writeln!(md, "\n![final metric per variant]({})\n", layout::plot_link(&box_name));
    let lr_points: Vec<(String, Vec<(f64, f64)>)> = s
        .rows
        .iter()
        .map(|row| {
            let pts = s
                .records
                .iter()
                .filter(|r| variant_of(r, &o.split_by) == row.variant)
                .filter_map(|r| r.result(&o.metric).map(|y| (r.trial.spec.train.lr, y)))
                .collect();
            (row.variant.clone(), pts)
        })
        .collect();
    let lrs: Vec<f64> = lr_points.iter().flat_map(|(_, p)| p.iter().map(|x| x.0)).collect();
    if lrs.iter().any(|&x| x != lrs[0]) {
        let name = format!("report_lr{suffix}");
        files.extend(plots::scatter_log_x(
            plots_dir,
            &name,
            &format!("Final {} vs learning rate {}", o.metric, s.name),
            ("learning rate", &o.metric),
            &lr_points,
        )?);
        let _ = writeln!(md, "![final metric vs learning rate]({})\n", layout::plot_link(&name));
    }
    let split = o.metric.split('_').next().filter(|s| ["train", "val", "test"].contains(s)).unwrap_or("val");
    let metric = o.metric.split_once('_').map_or(o.metric.as_str(), |(_, m)| m);
    // The test split is scored once, at the end: its curve is the validation one.
    let (curve_split, curve_label) =
        if split == "test" { ("val", format!("val_{metric}")) } else { (split, o.metric.clone()) };
    let curves = plot::curves(&s.records, curve_split, metric, |r| variant_of(r, &o.split_by))?;
    if !curves.is_empty() {
        let name = format!("report_curves{suffix}");
        let title = format!("Learning curves {} (mean over trials, band = min–max)", s.name);
        files.extend(plot::both(
            plots_dir,
            &name,
            &Curves { title: &title, y_label: &curve_label, x_label: plot::STEP, curves, references: &[] },
        )?);
        let _ = writeln!(md, "![learning curves]({})\n", layout::plot_link(&name));
    }
    let by_length = summary::task_of(&s.records).by_length();
    if let Some(&first) = by_length.first() {
        // A loss has no breakdown; the task's tallies do.
        let metric = if by_length.contains(&metric) { metric } else { first };
        files.extend(by_length::markdown(md, s, o, metric, plots_dir, suffix)?);
    }
    Ok(files)
}

const METHODS: &str = "## Methods\n\n\
- **Confidence interval**: mean ± t(0.975, n−1)·sd/√n.\n\
- **Welch's t-test** of each variant against the baseline (unequal variances, Welch–Satterthwaite df); p-values Holm-corrected over the variants of a section.\n\
- **Equivalence (TOST)**: two one-sided Welch tests of |Δ| < δ, δ = margin × |baseline mean|; p = the larger one-sided p, Holm-corrected. \
\"Not significantly different\" is not evidence of equality; a small TOST p is.\n\
- **Verdict**: *equivalent* if the TOST rejects (difference within ±δ); else *better*/*worse* if Welch's test rejects; else *inconclusive* \
(too few trials or too much spread to tell). Variants with fewer than two finished trials are inconclusive. So is a variant whose trials and the baseline's all score the same value (e.g. every trial at 100% accuracy): with no spread there is no test.\n\
- **What it would take** (inconclusive comparisons): the smallest margin the trials establish, |Δ| + t(1 − α/m, df)·se, and the trials \
per variant a TOST at α/m (Holm's strictest threshold, m comparisons) needs for 80% power at the report's margin, from the observed \
spreads with the true difference as observed or zero (noncentral t for each one-sided test).\n\
- **Top fraction** (`report.top`, `--top`): each variant's best trials by the validation metric, compared with Welch's test and Holm's \
correction, as Greff et al. (2015) compared the best 10% of their random-search trials.\n\
- **Importance**: fANOVA-style marginal analysis — the fraction of the metric's variance explained by grouping trials on one \
hyperparameter (numeric ones in quintile bins, of the logarithm when positive). Shares are main effects only and need not sum to 100%.\n";
