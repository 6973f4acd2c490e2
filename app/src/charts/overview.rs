//! The Overview's sparklines: a population's size over the retained days, one small line per
//! row, days without a value left as gaps.

use plotters::coord::Shift;
use plotters::prelude::*;

/// Line colour (the accent blue).
const LINE: RGBColor = RGBColor(37, 99, 235);

/// Width and height of a sparkline, in pixels.
pub const SPARK_SIZE: (u32, u32) = (160, 36);

/// The runs of consecutive days with a value, as `(day index, value)` points.
///
/// ```
/// let runs = app::charts::overview::runs(&[Some(1), Some(2), None, Some(4)]);
/// assert_eq!(runs, [vec![(0, 1), (1, 2)], vec![(3, 4)]]);
/// ```
pub fn runs(values: &[Option<u64>]) -> Vec<Vec<(i32, u64)>> {
    let mut out: Vec<Vec<(i32, u64)>> = Vec::new();
    let mut open = false;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) if open => out.last_mut().into_iter().for_each(|r| r.push((i as i32, *v))),
            Some(v) => {
                out.push(vec![(i as i32, *v)]);
                open = true;
            }
            None => open = false,
        }
    }
    out
}

/// Draws the sparkline: the value axis spans the values' own range (a sparkline shows the
/// shape; the exact values are in the table beside it), with a dot on the last day.
pub fn draw_sparkline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    values: &[Option<u64>],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let known: Vec<u64> = values.iter().flatten().copied().collect();
    let (lo, hi) = (known.iter().min().copied().unwrap_or(0), known.iter().max().copied().unwrap_or(1));
    let pad = ((hi - lo) as f64 * 0.1).max(1.0);
    let mut chart = ChartBuilder::on(root)
        .margin(4)
        .build_cartesian_2d(0..(values.len().max(2) as i32 - 1), (lo as f64 - pad)..(hi as f64 + pad))?;
    for run in runs(values) {
        chart.draw_series(std::iter::once(PathElement::new(
            run.iter().map(|&(x, y)| (x, y as f64)).collect::<Vec<_>>(),
            LINE.stroke_width(2),
        )))?;
        if run.len() == 1 {
            chart.draw_series(run.iter().map(|&(x, y)| Circle::new((x, y as f64), 2, LINE.filled())))?;
        }
    }
    if let Some(&(x, y)) = runs(values).last().and_then(|r| r.last()) {
        chart.draw_series(std::iter::once(Circle::new((x, y as f64), 3, LINE.filled())))?;
    }
    root.present()?;
    Ok(())
}

/// The sparkline as an SVG document.
pub fn sparkline_svg(values: &[Option<u64>]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SPARK_SIZE).into_drawing_area();
        draw_sparkline(&root, values).map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_with_gaps_single_points_and_nothing() {
        for values in [vec![Some(5), None, Some(7), Some(6)], vec![Some(3)], vec![], vec![None, None]] {
            let svg = sparkline_svg(&values).expect("draws");
            assert!(svg.starts_with("<svg"), "{values:?}");
        }
        // Two runs: two polylines.
        let svg = sparkline_svg(&[Some(5), Some(6), None, Some(7), Some(6)]).expect("draws");
        assert_eq!(svg.matches("<polyline").count(), 2);
    }
}
