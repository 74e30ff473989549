//! Plots drawn from trial CSVs alone (no retraining): learning curves per
//! variant (mean over seeds with a min–max band) and the final validation
//! metric per variant. Each plot is written as PNG and SVG. Text uses the
//! embedded DejaVu Sans, so it renders on machines without system fonts.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metrics;
use crate::summary::{mean, Record, VariantRow};
use crate::tasks::PlotSpec;

const SIZE: (u32, u32) = (1100, 650);

fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The bytes are a valid TTF bundled by the `dejavu` crate.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// One variant's curve: (step, mean, min, max) over its seeds.
pub type Curve = (String, Vec<(f64, f64, f64, f64)>);

/// Values per group (variant) and x (step or length), in first-seen group order.
#[derive(Default)]
struct Groups(Vec<(String, BTreeMap<usize, Vec<f64>>)>);

impl Groups {
    fn add(&mut self, name: &str, x: usize, value: f64) {
        let idx = match self.0.iter().position(|(v, _)| v == name) {
            Some(i) => i,
            None => {
                self.0.push((name.to_string(), BTreeMap::new()));
                self.0.len() - 1
            }
        };
        self.0[idx].1.entry(x).or_default().push(value);
    }

    /// Each group's (x, mean, min, max).
    fn curves(self) -> Vec<Curve> {
        self.0
            .into_iter()
            .map(|(v, points)| {
                let pts = points
                    .into_iter()
                    .map(|(x, vals)| {
                        let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
                        let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        (x as f64, mean(&vals).unwrap_or(f64::NAN), lo, hi)
                    })
                    .collect();
                (v, pts)
            })
            .collect()
    }
}

/// Aggregates `split`/`metric` rows of each record's `metrics.csv` by the
/// group `group` assigns (the variant, usually).
pub fn curves(records: &[Record], split: &str, metric: &str, group: impl Fn(&Record) -> String) -> Result<Vec<Curve>> {
    let mut groups = Groups::default();
    for r in records {
        let path = r.dir.join(crate::layout::METRICS_FILE);
        if !path.exists() || r.trial.baseline.is_some() {
            continue;
        }
        let name = group(r);
        for row in metrics::read(&path)? {
            if row.split == split && row.metric == metric && row.value.is_finite() {
                groups.add(&name, row.step, row.value);
            }
        }
    }
    Ok(groups.curves())
}

/// Draws the standard plots the experiment's task asks for
/// ([`crate::tasks::TaskKind::plots`]) into `exp_dir/plots/`; returns the
/// files written. A plot with nothing to show is left out.
pub fn draw_all(exp_dir: &Path, records: &[Record], rows: &[VariantRow]) -> Result<Vec<PathBuf>> {
    let dir = crate::layout::plots_dir(exp_dir);
    std::fs::create_dir_all(&dir)?;
    let mut written = Vec::new();
    for plot in crate::summary::task_of(records).plots() {
        match plot {
            PlotSpec::Curves { file, split, metric, title, y_label, baselines } => {
                let curves = curves(records, split, &metric, |r| r.trial.variant.clone())?;
                if curves.is_empty() {
                    continue;
                }
                // Baselines have no curve: a dashed horizontal line at their validation value.
                let references: Vec<(String, f64)> = if baselines {
                    let column = format!("val_{metric}");
                    records
                        .iter()
                        .filter(|r| r.trial.baseline.is_some())
                        .filter_map(|r| Some((r.trial.variant.clone(), r.result(&column)?)))
                        .collect()
                } else {
                    Vec::new()
                };
                let figure =
                    Curves { title: &title, y_label: &y_label, x_label: STEP, curves, references: &references };
                written.extend(both(&dir, &file, &figure)?);
            }
            PlotSpec::Final { column, y_label } => {
                if rows.iter().any(|r| !r.values_of(&column).is_empty()) {
                    let figure = Final { rows, metric: &column, y_label: &y_label };
                    written.extend(both(&dir, &format!("final_{column}"), &figure)?);
                }
            }
            PlotSpec::ByLength { metric } => {
                let curves = by_length(records, "test", &metric, |r| r.trial.variant.clone())?;
                if !curves.is_empty() {
                    let title =
                        format!("Test {} by source length (mean over seeds, band = min–max)", metric.replace('_', " "));
                    let figure = Curves {
                        title: &title,
                        y_label: &metric,
                        x_label: "source length (tokens)",
                        curves,
                        references: &[],
                    };
                    written.extend(both(&dir, &format!("test_{metric}_by_length"), &figure)?);
                }
            }
        }
    }
    Ok(written)
}

pub(crate) const STEP: &str = "training step";

/// Per variant, `split`'s `len{N}_{metric}` values of the final evaluation
/// against N: (length, mean, min, max) over seeds.
pub fn by_length(
    records: &[Record],
    split: &str,
    metric: &str,
    group: impl Fn(&Record) -> String,
) -> Result<Vec<Curve>> {
    let mut groups = Groups::default();
    for r in records.iter().filter(|r| r.is_finished() && r.trial.baseline.is_none() && r.dir.is_dir()) {
        let rows = metrics::read(&r.dir.join(crate::layout::METRICS_FILE))?;
        let Some(last) = rows.iter().filter(|row| row.split == split).map(|row| row.step).max() else { continue };
        let name = group(r);
        for row in rows.iter().filter(|row| row.split == split && row.step == last && row.value.is_finite()) {
            let length = row
                .metric
                .strip_prefix("len")
                .and_then(|rest| rest.split_once('_'))
                .filter(|(_, m)| *m == metric)
                .and_then(|(n, _)| n.parse::<usize>().ok());
            if let Some(n) = length {
                groups.add(&name, n, row.value);
            }
        }
    }
    Ok(groups.curves())
}

/// A figure that can be drawn on any plotters backend.
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Renders one figure as `name.png` and `name.svg`.
pub(crate) fn both(dir: &Path, name: &str, figure: &impl Figure) -> Result<Vec<PathBuf>> {
    register_fonts();
    let (png, svg) = crate::layout::plot_files(dir, name);
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        figure.draw(&root)?;
        root.present().map_err(|e| anyhow!("writing {}: {e}", png.display()))?;
    }
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        figure.draw(&root)?;
        root.present().map_err(|e| anyhow!("writing {}: {e}", svg.display()))?;
    }
    Ok(vec![png, svg])
}

/// A chart with one category per name on the x axis (at 0, 1, 2, …) and
/// `y` on the y axis, its mesh drawn: the frame of the per-variant plots.
pub(crate) fn category_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: &str,
    names: &[&str],
    (lo, hi): (f64, f64),
    y_label: &str,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>>
where
    DB::ErrorType: 'static,
{
    let n = names.len();
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(70)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)
        .map_err(plot_err)?;
    let label = category_label(names);
    chart
        .configure_mesh()
        .x_labels(n.max(2) * 2 + 1)
        .x_label_formatter(&label)
        .disable_x_mesh()
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(plot_err)?;
    Ok(chart)
}

/// Labels an x axis whose categories sit at 0, 1, 2, …: the name at each
/// whole number, nothing between.
pub(crate) fn category_label<'a>(names: &'a [&'a str]) -> impl Fn(&f64) -> String + 'a {
    move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
            names[i as usize].to_string()
        } else {
            String::new()
        }
    }
}

/// The series legend, boxed in the upper right.
pub(crate) fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>, font_size: u32) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    legend_at(chart, font_size, SeriesLabelPosition::UpperRight)
}

/// The series legend, boxed in the given corner.
pub(crate) fn legend_at<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    font_size: u32,
    corner: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", font_size))
        .draw()
        .map_err(plot_err)
}

pub(crate) fn plot_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e}")
}

/// Matplotlib's tab10 palette: distinct and readable on white.
const TAB10: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

pub(crate) fn color(i: usize) -> RGBColor {
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// Padded range of finite values.
pub(crate) fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    (lo - pad, hi + pad)
}

pub(crate) struct Curves<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    /// `training step` (the axis starts at 0), or another quantity (the
    /// axis spans the data).
    pub x_label: &'a str,
    pub curves: Vec<Curve>,
    /// Labelled constant values drawn as dashed horizontal lines.
    pub references: &'a [(String, f64)],
}

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(plot_err)?;
        let all = || self.curves.iter().flat_map(|(_, p)| p.iter());
        let x_max = all().map(|p| p.0).fold(1.0, f64::max);
        let x_min = if self.x_label == STEP { 0.0 } else { all().map(|p| p.0).fold(x_max, f64::min) - 0.5 };
        let x_max = if self.x_label == STEP { x_max } else { x_max + 0.5 };
        let (y_lo, y_hi) = range(all().flat_map(|p| [p.2, p.3]).chain(self.references.iter().map(|r| r.1)));
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(x_min..x_max, y_lo..y_hi)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .x_label_formatter(&|x| {
                // Lengths are whole numbers: no label between them.
                if self.x_label == STEP || (x - x.round()).abs() < 1e-6 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_desc(self.y_label)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 17))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        for (i, (variant, points)) in self.curves.iter().enumerate() {
            let c = color(i);
            if points.len() > 1 {
                let band: Vec<(f64, f64)> =
                    points.iter().map(|p| (p.0, p.3)).chain(points.iter().rev().map(|p| (p.0, p.2))).collect();
                chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled()))).map_err(plot_err)?;
            }
            if self.x_label != STEP {
                chart.draw_series(points.iter().map(|p| Circle::new((p.0, p.1), 4, c.filled()))).map_err(plot_err)?;
            }
            chart
                .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), c.stroke_width(2)))
                .map_err(plot_err)?
                .label(variant.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        }
        for (i, (label, value)) in self.references.iter().enumerate() {
            let c = color(self.curves.len() + i);
            chart
                .draw_series(DashedLineSeries::new([(0.0, *value), (x_max, *value)], 10, 6, c.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("{label} (baseline)"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        }
        let points = self.curves.iter().flat_map(|(_, p)| p.iter().map(|p| (p.0, p.1)));
        legend_at(&mut chart, 15, emptiest_corner(points, (x_min, x_max), (y_lo, y_hi)))
    }
}

/// The corner of the plot area with the fewest data points near it, so the
/// legend hides as little as possible (ties keep the upper right).
fn emptiest_corner(
    points: impl Iterator<Item = (f64, f64)>,
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
) -> SeriesLabelPosition {
    // Counts in the outer 40% × 35% box of each corner, in plot fractions.
    let mut counts = [0usize; 4]; // upper right, lower right, upper left, lower left
    for (x, y) in points {
        let fx = (x - x_lo) / (x_hi - x_lo).max(1e-12);
        let fy = (y - y_lo) / (y_hi - y_lo).max(1e-12);
        let (right, left, upper, lower) = (fx > 0.6, fx < 0.4, fy > 0.65, fy < 0.35);
        counts[0] += usize::from(right && upper);
        counts[1] += usize::from(right && lower);
        counts[2] += usize::from(left && upper);
        counts[3] += usize::from(left && lower);
    }
    let corners = [
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::LowerRight,
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::LowerLeft,
    ];
    let best = (0..4).min_by_key(|&i| counts[i]).unwrap_or(0);
    corners[best].clone()
}

struct Final<'a> {
    rows: &'a [VariantRow],
    /// The result column drawn.
    metric: &'a str,
    y_label: &'a str,
}

impl Figure for Final<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(plot_err)?;
        let rows: Vec<&VariantRow> = self.rows.iter().filter(|r| !r.values_of(self.metric).is_empty()).collect();
        let y = range(rows.iter().flat_map(|r| r.values_of(self.metric).iter().cloned()));
        let caption = format!("Final {} per variant (dot = mean, bar = min–max over seeds)", self.metric);
        let names: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
        let mut chart = category_chart(root, &caption, &names, y, self.y_label)?;
        for (i, r) in rows.iter().enumerate() {
            let x = i as f64;
            let c = color(i);
            let values = r.values_of(self.metric);
            let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let m = mean(values).unwrap_or(f64::NAN);
            chart
                .draw_series(std::iter::once(ErrorBar::new_vertical(x, lo, m, hi, c.stroke_width(2), 18)))
                .map_err(plot_err)?;
            chart
                .draw_series(values.iter().map(|&v| Circle::new((x + 0.12, v), 4, c.mix(0.6).filled())))
                .map_err(plot_err)?;
            chart.draw_series(std::iter::once(Circle::new((x, m), 6, c.filled()))).map_err(plot_err)?;
        }
        Ok(())
    }
}
