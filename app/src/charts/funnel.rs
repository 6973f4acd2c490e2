//! The funnel chart: one horizontal bar per step (users), the part lost since the previous
//! step drawn light behind it, the conversion from step 1 at the bar's end.

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::analysis::FunnelRow;
use crate::charts::CHART_WIDTH;
use crate::charts::hover::{self, Band, PixelBox};

const REACHED: RGBColor = RGBColor(37, 99, 235);
const LOST: RGBColor = RGBColor(219, 228, 247);
const INK: RGBColor = RGBColor(95, 107, 122);

/// Height of a funnel chart of `steps` steps.
pub fn height(steps: usize) -> u32 {
    50 + 40 * steps.max(1) as u32
}

/// Upper end of the users axis: the largest count rounded up to 1, 2 or 5 times a power of ten.
///
/// ```
/// use app::charts::funnel::count_axis_max;
/// assert_eq!(count_axis_max(6_529), 10_000.0);
/// assert_eq!(count_axis_max(1_800), 2_000.0);
/// assert_eq!(count_axis_max(0), 10.0);
/// ```
pub fn count_axis_max(top: u64) -> f64 {
    let top = top.max(1) as f64;
    let power = 10f64.powf(top.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|v| *v >= top).unwrap_or(10.0 * power).max(10.0)
}

/// Draws the funnel: reached users per step, the previous step's users behind in light blue.
/// Returns each step's row in pixels (its hover band).
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[FunnelRow],
) -> Result<Vec<PixelBox>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = rows.len().max(1) as i32;
    let x_max = count_axis_max(rows.iter().map(|r| r.count).max().unwrap_or(0));
    let labels: Vec<String> = rows.iter().map(|r| r.label.chars().take(22).collect()).collect();
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_right(70)
        .x_label_area_size(28)
        .y_label_area_size(150)
        .build_cartesian_2d(0.0..x_max, (0..n).into_segmented())?;
    let label_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => {
            usize::try_from(n - 1 - *i).ok().and_then(|k| labels.get(k)).cloned().unwrap_or_default()
        }
        _ => String::new(),
    };
    let count = |v: &f64| crate::format::compact(*v);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(236, 239, 243))
        .axis_style(INK.mix(0.6))
        .x_labels(6)
        .x_label_formatter(&count)
        .y_labels(rows.len().max(1))
        .y_label_formatter(&label_of)
        .label_style(("sans-serif", 13).into_font().color(&INK))
        .draw()?;
    let row = |k: usize| n - 1 - k as i32;
    chart.draw_series(rows.iter().enumerate().skip(1).map(|(k, _)| {
        let mut r = Rectangle::new(
            [(0.0, SegmentValue::Exact(row(k))), (rows[k - 1].count as f64, SegmentValue::Exact(row(k) + 1))],
            LOST.filled(),
        );
        r.set_margin(6, 6, 0, 0);
        r
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(k, r)| {
        let mut bar = Rectangle::new(
            [(0.0, SegmentValue::Exact(row(k))), (r.count as f64, SegmentValue::Exact(row(k) + 1))],
            REACHED.filled(),
        );
        bar.set_margin(6, 6, 0, 0);
        bar
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(k, r)| {
        Text::new(
            format!(" {}", r.from_first),
            (r.count as f64, SegmentValue::CenterOf(row(k))),
            ("sans-serif", 13).into_font().color(&INK).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            )),
        )
    }))?;
    let boxes = (0..rows.len())
        .map(|k| {
            let (left, top) = chart.backend_coord(&(0.0, SegmentValue::Exact(row(k) + 1)));
            let (right, bottom) = chart.backend_coord(&(x_max, SegmentValue::Exact(row(k))));
            (left, top, right, bottom)
        })
        .collect();
    root.present()?;
    Ok(boxes)
}

/// A step's exact values, for its hover text.
///
/// ```
/// use app::analysis::FunnelRow;
/// let r = FunnelRow { label: "2. buy".into(), users: "25".into(), count: 25, from_previous: "25.0%".into(),
///     from_first: "25.0%".into(), dropped: "75".into(), median_days: "2 d".into() };
/// assert_eq!(app::charts::funnel::title(&r), "2. buy: 25 users\n25.0% of the previous step (75 dropped)\n25.0% of step 1\nmedian 2 d from the previous step");
/// ```
pub fn title(r: &FunnelRow) -> String {
    let mut text = format!("{}: {} users", r.label, r.users);
    if !r.from_previous.is_empty() {
        text.push_str(&format!("\n{} of the previous step ({} dropped)", r.from_previous, r.dropped));
    }
    text.push_str(&format!("\n{} of step 1", r.from_first));
    if !r.median_days.is_empty() {
        text.push_str(&format!("\nmedian {} from the previous step", r.median_days));
    }
    text
}

/// The funnel chart as an SVG document, with each step's exact values on hover.
pub fn svg(rows: &[FunnelRow]) -> Result<String, String> {
    let mut svg = String::new();
    let boxes = {
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, height(rows.len()))).into_drawing_area();
        draw(&root, rows).map_err(|e| e.to_string())?
    };
    let bands: Vec<Band> = boxes.into_iter().zip(rows).map(|(rect, r)| Band { rect, title: title(r) }).collect();
    Ok(hover::add(svg, "step", &bands))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_step() {
        let rows = crate::analysis::funnel_rows(
            &[
                wire::FunnelStep {
                    event: "visit".into(),
                    count: Some(100),
                    suppressed: false,
                    from_previous: Some(1.0),
                    from_first: Some(1.0),
                    median_days: None,
                },
                wire::FunnelStep {
                    event: "buy".into(),
                    count: Some(10),
                    suppressed: false,
                    from_previous: Some(0.1),
                    from_first: Some(0.1),
                    median_days: Some(1.0),
                },
            ],
            0,
        );
        let svg = svg(&rows).expect("drawn");
        assert!(svg.contains("1. visit") && svg.contains("2. buy") && svg.contains("10.0%"));
        assert_eq!(svg.matches("class=\"hover-band\"").count(), 2);
        assert!(svg.contains("<title>2. buy: 10 users\n10.0% of the previous step (90 dropped)"));
    }
}
