//! The Split page's outcome chart: each group's rate as a dot with its 95% interval as a
//! whisker, the first group (the baseline) in grey. Drawn generically over the backend; the
//! SVG adds a hover band per group with the exact numbers.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::hover::{self, Band, PixelBox};
use crate::api::Outcome;
use crate::format;

const BASELINE: RGBColor = RGBColor(107, 114, 128);
const OTHER: RGBColor = RGBColor(37, 99, 235);
const INK: RGBColor = RGBColor(95, 107, 122);
const GRID: RGBColor = RGBColor(236, 239, 243);
/// Height per group row, in pixels.
const ROW: u32 = 40;

/// Height of the chart for `groups` groups.
pub fn height(groups: usize) -> u32 {
    56 + ROW * groups.max(1) as u32
}

/// The rate axis in percent: a little room around every interval, inside 0–100.
///
/// ```
/// assert_eq!(app::charts::split::axis(&[(10.0, 20.0), (12.0, 25.0)]), (8.0, 27.0));
/// assert_eq!(app::charts::split::axis(&[]), (0.0, 100.0));
/// ```
pub fn axis(intervals: &[(f64, f64)]) -> (f64, f64) {
    if intervals.is_empty() {
        return (0.0, 100.0);
    }
    let lo = intervals.iter().map(|i| i.0).fold(f64::MAX, f64::min);
    let hi = intervals.iter().map(|i| i.1).fold(f64::MIN, f64::max);
    let pad = ((hi - lo) * 0.12).max(0.5);
    let start = (((lo - pad) * 2.0).floor() / 2.0).max(0.0).min(lo);
    let end = (((hi + pad) * 2.0).ceil() / 2.0).min(100.0).max(hi);
    (start, end)
}

/// Draws the outcome; returns each group's row in pixels (its hover band).
pub fn draw_outcome<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    outcome: &Outcome,
) -> Result<Vec<PixelBox>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = outcome.groups.len().max(1);
    let intervals: Vec<(f64, f64)> = outcome.groups.iter().map(|g| (g.rate.lo * 100.0, g.rate.hi * 100.0)).collect();
    let (x0, x1) = axis(&intervals);
    let names: Vec<String> = outcome.groups.iter().map(|g| g.name.clone()).collect();
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_right(20)
        .x_label_area_size(26)
        .y_label_area_size(110)
        .build_cartesian_2d(x0..x1, -0.5..(n as f64 - 0.5))?;
    let y_label = |y: &f64| {
        if (y - y.round()).abs() > 1e-6 || *y < -1e-6 {
            return String::new();
        }
        // Row 0 at the top.
        let k = n as i64 - 1 - y.round() as i64;
        usize::try_from(k).ok().and_then(|k| names.get(k)).cloned().unwrap_or_default()
    };
    let x_label = |x: &f64| {
        let s = format!("{x:.1}");
        format!("{}%", s.strip_suffix(".0").unwrap_or(&s))
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .x_labels(6)
        .x_label_formatter(&x_label)
        .y_labels(n)
        .y_label_formatter(&y_label)
        .label_style(("sans-serif", 13).into_font().color(&INK))
        .draw()?;
    let row = |k: usize| (n - 1 - k) as f64;
    // The baseline's rate as a faint vertical line, to read differences against.
    if let Some(first) = outcome.groups.first() {
        let x = first.rate.rate * 100.0;
        chart.draw_series(std::iter::once(PathElement::new(
            [(x, -0.5), (x, n as f64 - 0.5)],
            BASELINE.mix(0.35).stroke_width(1),
        )))?;
    }
    let mut rows = Vec::new();
    for (k, g) in outcome.groups.iter().enumerate() {
        let c = if k == 0 { BASELINE } else { OTHER };
        let y = row(k);
        let (lo, hi, rate) = (g.rate.lo * 100.0, g.rate.hi * 100.0, g.rate.rate * 100.0);
        chart.draw_series(std::iter::once(PathElement::new([(lo, y), (hi, y)], c.stroke_width(2))))?;
        chart.draw_series(
            [(lo, y), (hi, y)].map(|p| PathElement::new([(p.0, y - 0.15), (p.0, y + 0.15)], c.stroke_width(2))),
        )?;
        chart.draw_series([Circle::new((rate, y), 5, c.filled())])?;
        let (left, top) = chart.backend_coord(&(x0, y + 0.5));
        let (right, bottom) = chart.backend_coord(&(x1, y - 0.5));
        rows.push((left, top, right, bottom));
    }
    root.present()?;
    Ok(rows)
}

/// The hover text of a group.
pub fn title(outcome: &Outcome, k: usize) -> String {
    let Some(g) = outcome.groups.get(k) else { return String::new() };
    let mut text = format!(
        "{}: {} ({} of {}), 95% interval {} – {}",
        g.name,
        format::percent_exact(g.rate.rate),
        format::int(g.with_metric),
        format::int(g.members),
        format::percent_exact(g.rate.lo),
        format::percent_exact(g.rate.hi)
    );
    if let Some(d) = g.difference {
        text.push_str(&format!(
            "\nvs {}: {} ({} to {})",
            outcome.groups[0].name,
            format::points(d.rate),
            format::points(d.lo),
            format::points(d.hi)
        ));
    }
    text
}

/// The outcome chart as an SVG document, `width` pixels wide.
pub fn outcome_svg(outcome: &Outcome, width: u32) -> Result<String, String> {
    let mut svg = String::new();
    let rows = {
        let root = SVGBackend::with_string(&mut svg, (width, height(outcome.groups.len()))).into_drawing_area();
        draw_outcome(&root, outcome).map_err(|e| e.to_string())?
    };
    let bands: Vec<Band> =
        rows.into_iter().enumerate().map(|(k, rect)| Band { rect, title: title(outcome, k) }).collect();
    Ok(hover::add(svg, "group", &bands))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> Outcome {
        serde_json::from_str(
            r#"{"experiment":"e","metric":"paid_7d","ds":"2026-11-21","after_split":true,
            "groups":[{"name":"control","members":1000,"with_metric":100,"rate":{"rate":0.1,"lo":0.083,"hi":0.12}},
            {"name":"treatment","members":1000,"with_metric":150,"rate":{"rate":0.15,"lo":0.129,"hi":0.174},
             "difference":{"rate":0.05,"lo":0.021,"hi":0.079}}]}"#,
        )
        .expect("valid")
    }

    #[test]
    fn draws_groups_with_hover_text() {
        let svg = outcome_svg(&outcome(), 640).expect("draws");
        assert!(svg.starts_with("<svg"));
        for text in ["control", "treatment", "%"] {
            assert!(svg.contains(text), "{text}");
        }
        assert_eq!(svg.matches("class=\"hover-band\"").count(), 2);
        assert!(svg.contains("treatment: 15.00% (150 of 1,000), 95% interval 12.90% – 17.40%"));
        assert!(svg.contains("vs control: +5.00 pp (+2.10 pp to +7.90 pp)"));
    }

    #[test]
    fn empty_outcome_draws() {
        let mut o = outcome();
        o.groups.clear();
        assert!(outcome_svg(&o, 400).is_ok());
    }
}
