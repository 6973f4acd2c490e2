//! Charts, drawn with plotters. The data shaping is plain functions ([`profile_bars`]); the
//! drawing ([`draw_profile`]) is generic over plotters' `DrawingBackend`, so the same code
//! renders to SVG in the browser ([`profile_svg`]) and in native tests.

pub mod funnel;
pub mod hover;
pub mod overview;
pub mod split;
pub mod trends;
pub mod upset;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::format;
use crate::profile::{Lean, Row};

/// Most values shown in one profile chart; the rest are in the table.
pub const MAX_BARS: usize = 10;
/// Width of the SVG the charts are drawn into (it scales down with CSS).
pub const CHART_WIDTH: u32 = 640;
/// Height per value row, in pixels.
const ROW_HEIGHT: u32 = 30;

/// Audience colour (the accent blue).
const AUDIENCE: RGBColor = RGBColor(37, 99, 235);
/// All-users colour (neutral grey).
const ALL_USERS: RGBColor = RGBColor(176, 184, 196);
/// Axis and label colour.
const INK: RGBColor = RGBColor(95, 107, 122);

/// One value's pair of bars, as percentages.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Value label (shortened).
    pub label: String,
    /// Share of the audience, in percent.
    pub audience_pct: f64,
    /// Share of all users, in percent.
    pub all_pct: f64,
    /// Whether the value leans over or under.
    pub lean: Lean,
    /// Its exact values, for the hover text.
    pub detail: String,
}

impl Bar {
    /// A profile row as a bar labelled `label`, its counts in the hover text.
    ///
    /// ```
    /// let r = app::profile::rows(10, 100, &[("a".into(), 6, 30)]);
    /// let bar = app::charts::Bar::of_row(&r[0], "a".into());
    /// assert_eq!(bar.detail, "a: 6 of the audience (60.0%), 30 of all users (30.0%), TGI 200");
    /// ```
    pub fn of_row(r: &Row, label: String) -> Bar {
        Bar {
            label,
            audience_pct: r.audience_share * 100.0,
            all_pct: r.all_share * 100.0,
            lean: r.lean,
            detail: format!(
                "{}: {} of the audience ({}), {} of all users ({}), TGI {}",
                r.value,
                format::int(r.audience),
                format::percent(r.audience_share),
                format::int(r.all),
                format::percent(r.all_share),
                format::tgi(r.tgi)
            ),
        }
    }
}

/// The values worth charting: the `max` largest by audience share (ties by overall share),
/// largest first, labels cut to 18 characters.
///
/// ```
/// use app::profile::rows;
/// let r = rows(10, 100, &[("a".into(), 1, 50), ("b".into(), 9, 50)]);
/// let bars = app::charts::profile_bars(&r, 1);
/// assert_eq!(bars.len(), 1);
/// assert_eq!(bars[0].label, "b");
/// assert_eq!(bars[0].audience_pct, 90.0);
/// ```
pub fn profile_bars(rows: &[Row], max: usize) -> Vec<Bar> {
    let mut sorted = rows.to_vec();
    crate::profile::sort_by_audience(&mut sorted);
    sorted.into_iter().take(max).map(|r| Bar::of_row(&r, shorten(&r.value, 18))).collect()
}

/// Bars of a numeric tag's histogram.
pub const HISTOGRAM_BARS: u64 = 10;

/// A numeric histogram as bars (in bucket order), each as the share of the audience's and of
/// all users' values that fall in it.
///
/// ```
/// use app::estimate::Bucket;
/// let b = |lo: &str, hi: &str, all, audience| Bucket { lo: lo.into(), hi: hi.into(), all, audience };
/// let bars = app::charts::histogram_bars(&[b("18", "24", 30, 5), b("25", "30", 70, 15)], 20, 100);
/// assert_eq!(bars[0].label, "18–24");
/// assert_eq!((bars[0].audience_pct, bars[0].all_pct), (25.0, 30.0));
/// assert_eq!(bars[1].audience_pct, 75.0);
/// ```
pub fn histogram_bars(buckets: &[crate::estimate::Bucket], audience: u64, all: u64) -> Vec<Bar> {
    let pct = |k: u64, n: u64| if n == 0 { 0.0 } else { k as f64 * 100.0 / n as f64 };
    buckets
        .iter()
        .map(|b| {
            let label = if b.lo == b.hi { b.lo.clone() } else { format!("{}–{}", b.lo, b.hi) };
            let (audience_pct, all_pct) = (pct(b.audience, audience), pct(b.all, all));
            Bar {
                detail: format!(
                    "{label}: {} of the audience ({}), {} of all users ({})",
                    format::int(b.audience),
                    format::percent(audience_pct / 100.0),
                    format::int(b.all),
                    format::percent(all_pct / 100.0)
                ),
                label,
                audience_pct,
                all_pct,
                lean: Lean::Even,
            }
        })
        .collect()
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

/// Upper end of the share axis: the largest bar rounded up to a readable step.
///
/// ```
/// assert_eq!(app::charts::axis_max(&[]), 10.0);
/// assert_eq!(app::charts::axis_max(&[37.0]), 40.0);
/// assert_eq!(app::charts::axis_max(&[3.2]), 4.0);
/// ```
pub fn axis_max(values: &[f64]) -> f64 {
    let top = values.iter().copied().fold(0.0f64, f64::max);
    if top <= 0.0 {
        return 10.0;
    }
    let step = if top > 50.0 {
        20.0
    } else if top > 20.0 {
        10.0
    } else if top > 5.0 {
        5.0
    } else if top > 1.0 {
        1.0
    } else {
        0.2
    };
    (((top / step).ceil() * step * 10.0).round() / 10.0).min(100.0)
}

/// Height of a profile chart with `bars` values.
pub fn chart_height(bars: usize) -> u32 {
    70 + ROW_HEIGHT * bars.max(1) as u32
}

/// Draws grouped horizontal bars: audience share next to all users' share for each value,
/// with a percentage axis, value labels and a legend. Returns each value's row in pixels (its
/// hover band).
pub fn draw_profile<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    bars: &[Bar],
) -> Result<Vec<hover::PixelBox>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = bars.len().max(1) as i32;
    let x_max = axis_max(&bars.iter().flat_map(|b| [b.audience_pct, b.all_pct]).collect::<Vec<_>>());
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_right(20)
        .x_label_area_size(28)
        .y_label_area_size(130)
        .build_cartesian_2d(0.0..x_max, (0..n).into_segmented())?;
    let label_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => {
            usize::try_from(n - 1 - *i).ok().and_then(|k| labels.get(k)).cloned().unwrap_or_default()
        }
        _ => String::new(),
    };
    let pct = |v: &f64| format!("{}%", trim_zeros(*v));
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(236, 239, 243))
        .axis_style(INK.mix(0.6))
        .x_labels(6)
        .x_label_formatter(&pct)
        .y_labels(bars.len().max(1))
        .y_label_formatter(&label_of)
        .label_style(("sans-serif", 13).into_font().color(&INK))
        .draw()?;
    let row = |k: usize| n - 1 - k as i32;
    chart
        .draw_series(bars.iter().enumerate().map(|(k, b)| {
            let mut r = Rectangle::new(
                [(0.0, SegmentValue::Exact(row(k))), (b.all_pct, SegmentValue::CenterOf(row(k)))],
                ALL_USERS.filled(),
            );
            r.set_margin(1, 4, 0, 0);
            r
        }))?
        .label("All users")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], ALL_USERS.filled()));
    chart
        .draw_series(bars.iter().enumerate().map(|(k, b)| {
            let mut r = Rectangle::new(
                [(0.0, SegmentValue::CenterOf(row(k))), (b.audience_pct, SegmentValue::Exact(row(k) + 1))],
                AUDIENCE.filled(),
            );
            r.set_margin(4, 1, 0, 0);
            r
        }))?
        .label("Audience")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], AUDIENCE.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(227, 230, 234))
        .label_font(("sans-serif", 13).into_font().color(&INK))
        .draw()?;
    let boxes = (0..bars.len())
        .map(|k| {
            let (left, top) = chart.backend_coord(&(0.0, SegmentValue::Exact(row(k) + 1)));
            let (right, bottom) = chart.backend_coord(&(x_max, SegmentValue::Exact(row(k))));
            (left, top, right, bottom)
        })
        .collect();
    root.present()?;
    Ok(boxes)
}

/// `12.0` → `12`, `2.5` → `2.5`, for axis labels.
fn trim_zeros(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// The profile chart as an SVG document (for `inner_html`) with each value's exact values on
/// hover, or an error message.
pub fn profile_svg(bars: &[Bar]) -> Result<String, String> {
    let mut svg = String::new();
    let boxes = {
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, chart_height(bars.len()))).into_drawing_area();
        draw_profile(&root, bars).map_err(|e| e.to_string())?
    };
    let bands: Vec<hover::Band> =
        boxes.into_iter().zip(bars).map(|(rect, b)| hover::Band { rect, title: b.detail.clone() }).collect();
    Ok(hover::add(svg, "value", &bands))
}

/// A one-line text summary of a bar, for the chart's accessible description.
pub fn describe(bar: &Bar) -> String {
    format!(
        "{}: {} of the audience, {} of all users",
        bar.label,
        format::percent(bar.audience_pct / 100.0),
        format::percent(bar.all_pct / 100.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::rows;

    #[test]
    fn bars_are_sorted_and_cut() {
        let counts: Vec<(String, u64, u64)> =
            (0..15).map(|i| (format!("value number {i} with a long name"), i, 100)).collect();
        let bars = profile_bars(&rows(105, 1_500, &counts), MAX_BARS);
        assert_eq!(bars.len(), MAX_BARS);
        assert!(bars.windows(2).all(|w| w[0].audience_pct >= w[1].audience_pct));
        assert_eq!(bars[0].label.chars().count(), 18);
        assert!(bars[0].label.ends_with('…'));
    }

    #[test]
    fn svg_has_axes_labels_and_legend() {
        let r = rows(100, 1_000, &[("Guangdong".into(), 60, 300), ("Zhejiang".into(), 40, 700)]);
        let bars = profile_bars(&r, MAX_BARS);
        let svg = profile_svg(&bars).expect("draws");
        assert!(svg.starts_with("<svg"));
        for text in ["Guangdong", "Zhejiang", "Audience", "All users", "60%", "0%"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert_eq!(svg.matches("class=\"hover-band\"").count(), bars.len());
        assert!(svg.contains(&format!("<title>{}</title>", hover::escape(&bars[0].detail))));
    }

    #[test]
    fn empty_chart_still_draws() {
        assert!(profile_svg(&[]).is_ok());
    }

    #[test]
    fn axis_steps() {
        assert_eq!(axis_max(&[0.5]), 0.6);
        assert_eq!(axis_max(&[99.0]), 100.0);
        assert_eq!(trim_zeros(12.0), "12");
    }
}
