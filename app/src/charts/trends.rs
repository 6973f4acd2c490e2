//! The Trends charts: segment sizes per day (lines), entered and left per day (bars above and
//! below zero), and a metric's rate per segment next to all users (lines, all users dashed).
//!
//! Each chart is drawn by a function generic over plotters' `DrawingBackend`; the `*_svg`
//! functions render it to an SVG string and add one transparent hover band per day (a `<rect>`
//! with `data-day` and a `<title>` holding the day's exact values), so hovering shows exact
//! values natively and the page can show a readout for the hovered day.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::hover::{self, Band};
use crate::format;
use crate::trends::{Trends, flow_readings, rate_readings, short_day, size_readings};

/// Height of each trend chart, in pixels.
pub const HEIGHT: u32 = 280;

/// One colour per chosen segment, in the order chosen.
pub const PALETTE: [RGBColor; 5] = [
    RGBColor(37, 99, 235),  // blue
    RGBColor(234, 88, 12),  // orange
    RGBColor(22, 163, 74),  // green
    RGBColor(147, 51, 234), // purple
    RGBColor(13, 148, 136), // teal
];
/// All users (大盘): dark grey, dashed.
pub const ALL_USERS: RGBColor = RGBColor(55, 65, 81);
const INK: RGBColor = RGBColor(95, 107, 122);
const GRID: RGBColor = RGBColor(236, 239, 243);

/// The colour of a segment's slot, as CSS (`#2563eb`), for legends in HTML.
///
/// ```
/// assert_eq!(app::charts::trends::css_color(Some(0)), "#2563eb");
/// assert_eq!(app::charts::trends::css_color(None), "#374151");
/// ```
pub fn css_color(slot: Option<usize>) -> String {
    let RGBColor(r, g, b) = slot.map_or(ALL_USERS, color);
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn color(slot: usize) -> RGBColor {
    PALETTE[slot % PALETTE.len()]
}

/// The smallest "round" number (1, 2, 2.5 or 5 × 10^k) at or above `v`; 1 for nothing.
///
/// ```
/// use app::charts::trends::nice_ceil;
/// assert_eq!(nice_ceil(0.0), 1.0);
/// assert_eq!(nice_ceil(7.0), 10.0);
/// assert_eq!(nice_ceil(1_234.0), 2_000.0);
/// assert_eq!(nice_ceil(22.0), 25.0);
/// assert_eq!(nice_ceil(0.31), 0.5);
/// ```
pub fn nice_ceil(v: f64) -> f64 {
    if !(v > 0.0 && v.is_finite()) {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    let scaled = v / magnitude;
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().find(|s| scaled <= *s + 1e-9).unwrap_or(10.0);
    step * magnitude
}

/// Where the hover band of each day sits, in pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bands {
    /// Left and right edge of each day's band.
    pub xs: Vec<(i32, i32)>,
    /// Top of the plotting area.
    pub top: i32,
    /// Bottom of the plotting area.
    pub bottom: i32,
}

/// The x axis: day `i` sits at `i`, each day owns `i ± 0.5`.
fn x_range(days: usize) -> std::ops::Range<f64> {
    -0.5..(days.max(1) as f64 - 0.5)
}

/// Axis labels: a day's `MM-DD` at whole positions inside the range, nothing elsewhere.
fn day_label(days: &[String], x: f64) -> String {
    if (x - x.round()).abs() > 1e-6 || x < -1e-6 {
        return String::new();
    }
    days.get(x.round() as usize).map(|d| short_day(d)).unwrap_or_default()
}

/// How many x labels fit a chart `width` pixels wide.
fn x_label_count(width: u32, days: usize) -> usize {
    ((width / 80) as usize).clamp(2, days.max(2))
}

fn bands_of<DB: DrawingBackend>(
    chart: &ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    days: usize,
    y: std::ops::Range<f64>,
) -> Bands {
    let xs = (0..days)
        .map(|i| {
            let (x0, _) = chart.backend_coord(&(i as f64 - 0.5, y.start));
            let (x1, _) = chart.backend_coord(&(i as f64 + 0.5, y.start));
            (x0, x1)
        })
        .collect();
    let (_, bottom) = chart.backend_coord(&(0.0, y.start));
    let (_, top) = chart.backend_coord(&(0.0, y.end));
    Bands { xs, top, bottom }
}

/// Consecutive runs of present values, as chart points (gaps break the line).
fn runs(values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => current.push((i as f64, *v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

type Chart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// The frame shared by the three charts: axes, grid, day labels.
fn frame<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    days: &[String],
    y: std::ops::Range<f64>,
    width: u32,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<Chart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_right(16)
        .x_label_area_size(26)
        .y_label_area_size(if width < 500 { 44 } else { 56 })
        .build_cartesian_2d(x_range(days.len()), y)?;
    let x_label = |x: &f64| day_label(days, *x);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .x_labels(x_label_count(width, days.len()))
        .x_label_formatter(&x_label)
        .y_labels(6)
        .y_label_formatter(y_label)
        .label_style(("sans-serif", 12).into_font().color(&INK))
        .draw()?;
    Ok(chart)
}

fn draw_lines<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    values: &[Option<f64>],
    color: RGBColor,
    dashed: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let radius = if values.len() > 60 { 2 } else { 3 };
    for run in runs(values) {
        if dashed {
            chart.draw_series(std::iter::once(DashedPathElement::new(run.clone(), 7, 4, color.stroke_width(2))))?;
        } else {
            chart.draw_series(std::iter::once(PathElement::new(run.clone(), color.stroke_width(2))))?;
        }
        chart.draw_series(run.into_iter().map(|p| Circle::new(p, radius, color.filled())))?;
    }
    Ok(())
}

/// Segment sizes per day: one line per segment, from zero.
pub fn draw_sizes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    t: &Trends,
    width: u32,
) -> Result<Bands, DrawingAreaErrorKind<DB::ErrorType>> {
    let top = t.lines.iter().flat_map(|l| l.sizes.iter().flatten()).copied().max().unwrap_or(0);
    let y = 0.0..nice_ceil(top as f64 * 1.05);
    let label = |v: &f64| format::compact(*v);
    let mut chart = frame(root, &t.days, y.clone(), width, &label)?;
    for (slot, line) in t.lines.iter().enumerate() {
        let values: Vec<Option<f64>> = line.sizes.iter().map(|s| s.map(|s| s as f64)).collect();
        draw_lines(&mut chart, &values, color(slot), false)?;
    }
    let bands = bands_of(&chart, t.days.len(), y);
    root.present()?;
    Ok(bands)
}

/// Entered (above zero) and left (below zero) per day, one bar of each per segment side by
/// side; the segment's colour, lighter for left.
pub fn draw_flows<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    t: &Trends,
    width: u32,
) -> Result<Bands, DrawingAreaErrorKind<DB::ErrorType>> {
    let up = t.lines.iter().flat_map(|l| l.entered.iter().flatten()).copied().max().unwrap_or(0);
    let down = t.lines.iter().flat_map(|l| l.left.iter().flatten()).copied().max().unwrap_or(0);
    let (up, down) = (nice_ceil(up as f64 * 1.05), nice_ceil(down as f64 * 1.05));
    let y = -down..up;
    let label = |v: &f64| format::compact(*v);
    let mut chart = frame(root, &t.days, y.clone(), width, &label)?;
    let m = t.lines.len().max(1) as f64;
    let cluster = 0.8;
    let bar = cluster / m;
    let gap = if bar > 0.15 { bar * 0.12 } else { 0.0 };
    for (slot, line) in t.lines.iter().enumerate() {
        let c = color(slot);
        let x0 = |i: usize| i as f64 - cluster / 2.0 + slot as f64 * bar + gap / 2.0;
        chart.draw_series(line.entered.iter().enumerate().filter_map(|(i, e)| {
            e.filter(|&e| e > 0).map(|e| Rectangle::new([(x0(i), 0.0), (x0(i) + bar - gap, e as f64)], c.filled()))
        }))?;
        chart.draw_series(line.left.iter().enumerate().filter_map(|(i, l)| {
            l.filter(|&l| l > 0)
                .map(|l| Rectangle::new([(x0(i), -(l as f64)), (x0(i) + bar - gap, 0.0)], c.mix(0.4).filled()))
        }))?;
    }
    let n = t.days.len().max(1) as f64;
    chart.draw_series(std::iter::once(PathElement::new([(-0.5, 0.0), (n - 0.5, 0.0)], INK.stroke_width(1))))?;
    let bands = bands_of(&chart, t.days.len(), y);
    root.present()?;
    Ok(bands)
}

/// The metric's rate per day in each segment (solid) and across all users (dashed), in percent.
pub fn draw_rates<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    t: &Trends,
    width: u32,
) -> Result<Bands, DrawingAreaErrorKind<DB::ErrorType>> {
    let top = t
        .lines
        .iter()
        .flat_map(|l| l.rates.iter().flatten())
        .chain(t.all_rates.iter().flatten())
        .copied()
        .fold(0.0f64, f64::max);
    let y = 0.0..nice_ceil(top * 100.0 * 1.1).min(100.0);
    let label = |v: &f64| {
        let s = format!("{v:.1}");
        format!("{}%", s.strip_suffix(".0").unwrap_or(&s))
    };
    let mut chart = frame(root, &t.days, y.clone(), width, &label)?;
    let pct = |v: &[Option<f64>]| v.iter().map(|r| r.map(|r| r * 100.0)).collect::<Vec<_>>();
    draw_lines(&mut chart, &pct(&t.all_rates), ALL_USERS, true)?;
    for (slot, line) in t.lines.iter().enumerate() {
        draw_lines(&mut chart, &pct(&line.rates), color(slot), false)?;
    }
    let bands = bands_of(&chart, t.days.len(), y);
    root.present()?;
    Ok(bands)
}

/// Adds the hover bands to an SVG document: one transparent rectangle per day with its
/// `data-day` index and a `<title>` of exact values.
pub fn with_bands(svg: String, bands: &Bands, titles: &[String]) -> String {
    let bands: Vec<Band> = bands
        .xs
        .iter()
        .zip(titles)
        .map(|(&(x0, x1), title)| Band { rect: (x0, bands.top, x1, bands.bottom), title: title.clone() })
        .collect();
    hover::add(svg, "day", &bands)
}

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sizes per day.
    Sizes,
    /// Entered and left per day.
    Flows,
    /// Metric rates per day.
    Rates,
}

/// The hover text of a day: the day, then one line per series.
pub fn title(t: &Trends, kind: Kind, i: usize) -> String {
    let readings = match kind {
        Kind::Sizes => size_readings(t, i),
        Kind::Flows => flow_readings(t, i),
        Kind::Rates => rate_readings(t, i),
    };
    let mut lines = vec![t.days.get(i).cloned().unwrap_or_default()];
    lines.extend(readings.into_iter().map(|r| {
        if r.detail.is_empty() {
            format!("{}: {}", r.label, r.value)
        } else {
            format!("{}: {} ({})", r.label, r.value, r.detail)
        }
    }));
    lines.join("\n")
}

/// A chart as an SVG document with hover bands, `width` pixels wide.
pub fn svg(t: &Trends, kind: Kind, width: u32) -> Result<String, String> {
    let mut svg = String::new();
    let bands = {
        let root = SVGBackend::with_string(&mut svg, (width, HEIGHT)).into_drawing_area();
        match kind {
            Kind::Sizes => draw_sizes(&root, t, width),
            Kind::Flows => draw_flows(&root, t, width),
            Kind::Rates => draw_rates(&root, t, width),
        }
        .map_err(|e| e.to_string())?
    };
    let titles: Vec<String> = (0..t.days.len()).map(|i| title(t, kind, i)).collect();
    Ok(with_bands(svg, &bands, &titles))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trends::Line;

    fn trends() -> Trends {
        Trends {
            days: vec!["2026-11-01".into(), "2026-11-02".into(), "2026-11-03".into()],
            lines: vec![
                Line {
                    id: "a".into(),
                    name: "A & co".into(),
                    sizes: vec![Some(1_000), None, Some(1_200)],
                    entered: vec![None, None, Some(300)],
                    left: vec![None, None, Some(100)],
                    suppressed: vec![false; 3],
                    rates: vec![Some(0.25), None, Some(0.3)],
                },
                Line {
                    id: "b".into(),
                    name: "B".into(),
                    sizes: vec![Some(50), Some(60), Some(70)],
                    entered: vec![None, Some(20), Some(15)],
                    left: vec![None, Some(10), Some(5)],
                    suppressed: vec![false; 3],
                    rates: vec![Some(0.5), Some(0.55), Some(0.6)],
                },
            ],
            all_rates: vec![Some(0.2), Some(0.21), Some(0.22)],
            metric: Some("paid".into()),
            min_audience: 0,
        }
    }

    #[test]
    fn every_chart_draws_with_one_band_per_day() {
        let t = trends();
        for kind in [Kind::Sizes, Kind::Flows, Kind::Rates] {
            for width in [360, 760] {
                let svg = svg(&t, kind, width).expect("draws");
                assert!(svg.starts_with("<svg"), "{kind:?}");
                assert!(svg.trim_end().ends_with("</svg>"));
                assert_eq!(svg.matches("class=\"hover-band\"").count(), 3, "{kind:?}");
                assert!(svg.contains("data-day=\"2\""));
                assert!(svg.contains("11-01"), "day labels on the axis ({kind:?})");
            }
        }
    }

    #[test]
    fn titles_carry_exact_values_escaped() {
        let t = trends();
        let svg = svg(&t, Kind::Sizes, 760).expect("draws");
        // The day before has no size for A: no change is claimed.
        assert!(svg.contains("A &amp; co: 1,200\n") && !svg.contains("1,200 ("));
        assert!(svg.contains("B: 70 (+10 from the day before)"));
        let rates = svg_title(&t, Kind::Rates, 0);
        assert!(rates.contains("A & co: 25.00% (250 of 1,000)"), "{rates}");
        assert!(rates.contains("All users (大盘): 20.00%"), "{rates}");
        let flows = svg_title(&t, Kind::Flows, 2);
        assert!(flows.contains("A & co: +300 / −100 (net +200)"), "{flows}");
    }

    fn svg_title(t: &Trends, kind: Kind, i: usize) -> String {
        title(t, kind, i)
    }

    #[test]
    fn gaps_break_lines() {
        let r = runs(&[Some(1.0), None, Some(2.0), Some(3.0), None]);
        assert_eq!(r, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    #[test]
    fn empty_trends_still_draw() {
        let t = Trends::default();
        for kind in [Kind::Sizes, Kind::Flows, Kind::Rates] {
            assert!(svg(&t, kind, 600).is_ok());
        }
    }

    #[test]
    fn labels_only_at_whole_days() {
        let days = vec!["2026-11-01".to_owned(), "2026-11-02".to_owned()];
        assert_eq!(day_label(&days, 1.0), "11-02");
        assert_eq!(day_label(&days, 0.5), "");
        assert_eq!(day_label(&days, 5.0), "");
        assert_eq!(day_label(&days, -0.5), "");
    }
}
