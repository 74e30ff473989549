//! The report's breakdown of a metric by source length (example tasks).
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{variant_of, Section};
use crate::layout;
use crate::plot::{self, Curves};
use crate::spec::ReportSpec;

/// Test accuracy by source length per variant (the final evaluation's
/// `len{N}_…` rows): a table and a plot.
pub(super) fn markdown(
    md: &mut String,
    s: &Section,
    o: &ReportSpec,
    metric: &str,
    plots_dir: &Path,
    suffix: &str,
) -> Result<Vec<PathBuf>> {
    let curves = plot::by_length(&s.records, "test", metric, |r| variant_of(r, &o.split_by))?;
    if curves.is_empty() {
        return Ok(vec![]);
    }
    let _ = writeln!(
        md,
        "### Test {} by source length\n\nMean over the variant's trials of the final evaluation on the test split.\n",
        metric.replace('_', " ")
    );
    let lengths: std::collections::BTreeSet<i64> =
        curves.iter().flat_map(|(_, pts)| pts.iter().map(|p| p.0 as i64)).collect();
    let _ = writeln!(md, "| length | {} |", curves.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(md, "|---|{}", "---|".repeat(curves.len()));
    for len in lengths {
        let cells: Vec<String> = curves
            .iter()
            .map(|(_, pts)| {
                pts.iter().find(|p| p.0 as i64 == len).map(|p| format!("{:.3}", p.1)).unwrap_or_else(|| "—".into())
            })
            .collect();
        let _ = writeln!(md, "| {len} | {} |", cells.join(" | "));
    }
    let name = format!("report_by_length{suffix}");
    let title =
        format!("Test {} by source length {} (mean over trials, band = min–max)", metric.replace('_', " "), s.name);
    let files = plot::both(
        plots_dir,
        &name,
        &Curves { title: &title, y_label: metric, x_label: "source length (tokens)", curves, references: &[] },
    )?;
    let _ = writeln!(md, "\n![accuracy by source length]({})\n", layout::plot_link(&name));
    Ok(files)
}
