//! The report's figures: the final metric per variant as box plots, and the
//! final metric against the learning rate (log axis), coloured by variant.
use std::path::{Path, PathBuf};

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::{both, category_chart, color, legend, plot_err, range, Figure};

/// Box plot: one box per group (quartiles, whiskers to min and max) with the
/// individual trials as dots.
pub fn boxes(
    dir: &Path,
    name: &str,
    title: &str,
    y_label: &str,
    groups: &[(String, Vec<f64>)],
) -> Result<Vec<PathBuf>> {
    both(dir, name, &Boxes { title, y_label, groups })
}

/// Scatter of (x, y) points per group with a logarithmic x axis.
pub fn scatter_log_x(
    dir: &Path,
    name: &str,
    title: &str,
    labels: (&str, &str),
    groups: &[(String, Vec<(f64, f64)>)],
) -> Result<Vec<PathBuf>> {
    both(dir, name, &Scatter { title, labels, groups })
}

struct Boxes<'a> {
    title: &'a str,
    y_label: &'a str,
    groups: &'a [(String, Vec<f64>)],
}

impl Figure for Boxes<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(plot_err)?;
        let y = range(self.groups.iter().flat_map(|(_, v)| v.iter().cloned()));
        let names: Vec<&str> = self.groups.iter().map(|(g, _)| g.as_str()).collect();
        let mut chart = category_chart(root, self.title, &names, y, self.y_label)?;
        for (i, (_, values)) in self.groups.iter().enumerate() {
            if values.is_empty() {
                continue;
            }
            let c = color(i);
            // Quartiles' outer values are Tukey fences; whiskers here span the data.
            let [_, q1, median, q3, _] = Quartiles::new(values).values().map(f64::from);
            let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let x = i as f64;
            let w = 0.3;
            chart
                .draw_series(std::iter::once(Rectangle::new([(x - w, q1), (x + w, q3)], c.mix(0.25).filled())))
                .map_err(plot_err)?;
            chart
                .draw_series(std::iter::once(Rectangle::new([(x - w, q1), (x + w, q3)], c.stroke_width(2))))
                .map_err(plot_err)?;
            let lines = [
                vec![(x - w, median), (x + w, median)],
                vec![(x, q3), (x, max)],
                vec![(x, q1), (x, min)],
                vec![(x - w / 2.0, max), (x + w / 2.0, max)],
                vec![(x - w / 2.0, min), (x + w / 2.0, min)],
            ];
            chart.draw_series(lines.into_iter().map(|l| PathElement::new(l, c.stroke_width(2)))).map_err(plot_err)?;
            chart
                .draw_series(values.iter().map(|&v| Circle::new((x, v), 3, BLACK.mix(0.5).filled())))
                .map_err(plot_err)?;
        }
        Ok(())
    }
}

struct Scatter<'a> {
    title: &'a str,
    labels: (&'a str, &'a str),
    groups: &'a [(String, Vec<(f64, f64)>)],
}

impl Figure for Scatter<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(plot_err)?;
        let points = || self.groups.iter().flat_map(|(_, p)| p.iter());
        let (x_lo, x_hi) =
            points().map(|p| p.0).filter(|x| *x > 0.0).fold((f64::INFINITY, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
        let (x_lo, x_hi) = if x_lo.is_finite() { (x_lo / 1.3, x_hi * 1.3) } else { (1e-4, 1.0) };
        let (y_lo, y_hi) = range(points().map(|p| p.1));
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(self.labels.0)
            .y_desc(self.labels.1)
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(plot_err)?;
        for (i, (name, pts)) in self.groups.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 5, c.mix(0.8).filled())))
                .map_err(plot_err)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
        }
        legend(&mut chart, 13)
    }
}
