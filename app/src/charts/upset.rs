//! The overlap of 2 to 5 audiences as an UpSet chart: one bar per region (users in exactly
//! those sets), tallest first, its exact count above it, and under it a matrix of dots, one row
//! per set, filled (and joined) where the region is in the set. Withheld regions (an aggregate
//! token below `min_audience`) are drawn as an outline marked `< k`.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::charts::CHART_WIDTH;
use crate::charts::hover::{self, Band, PixelBox};

const BAR: RGBColor = RGBColor(37, 99, 235);
const OFF: RGBColor = RGBColor(219, 228, 247);
const INK: RGBColor = RGBColor(95, 107, 122);

const LABELS_PX: i32 = 110;
const BARS_PX: i32 = 170;
const ROW_PX: i32 = 28;

/// One region: which sets it is in (by index) and its users (`None` when withheld).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// Membership per set.
    pub within: Vec<bool>,
    /// Users in exactly these sets.
    pub count: Option<u64>,
}

/// The overlap route's regions (in mask order, set i is bit i) as bars, tallest first,
/// withheld ones last; the mask order breaks ties.
///
/// ```
/// use app::charts::upset::bars;
/// let b = bars(2, &[Some(5), Some(9), None]);
/// assert_eq!(b.iter().map(|b| b.count).collect::<Vec<_>>(), [Some(9), Some(5), None]);
/// assert_eq!(b[0].within, [false, true]);
/// assert_eq!(b[2].within, [true, true]);
/// ```
pub fn bars(sets: usize, counts: &[Option<u64>]) -> Vec<Bar> {
    let mut out: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| Bar { within: (0..sets).map(|s| (i + 1) >> s & 1 == 1).collect(), count })
        .collect();
    out.sort_by_key(|b| std::cmp::Reverse(b.count.map_or(0, |c| c + 1)));
    out
}

/// Height of the chart of `sets` sets.
pub fn height(sets: usize) -> u32 {
    (BARS_PX + 16 + ROW_PX * sets.max(1) as i32 + 8) as u32
}

/// Draws the chart: `names` label the sets' rows; `withheld` is the text of a withheld count.
/// Returns each bar's column in pixels (its hover band).
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    names: &[String],
    bars: &[Bar],
    withheld: &str,
) -> Result<Vec<PixelBox>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (width, _) = root.dim_in_pixel();
    let n = bars.len().max(1) as i32;
    let column = (width as i32 - LABELS_PX - 8) / n;
    let top = bars.iter().filter_map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let font = ("sans-serif", 13).into_font().color(&INK);
    let centered = font.pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Bottom,
    ));
    let x_of = |i: usize| LABELS_PX + column * i as i32 + column / 2;
    let half = (column / 3).clamp(6, 28);
    let base = BARS_PX;
    root.draw(&PathElement::new([(LABELS_PX, base), (width as i32 - 8, base)], INK.mix(0.6)))?;
    for (i, b) in bars.iter().enumerate() {
        let x = x_of(i);
        match b.count {
            Some(c) => {
                let h = ((c as f64 / top) * f64::from(BARS_PX - 24)).round() as i32;
                root.draw(&Rectangle::new([(x - half, base - h), (x + half, base)], BAR.filled()))?;
                root.draw(&Text::new(crate::format::int(c), (x, base - h - 3), centered.clone()))?;
            }
            None => {
                root.draw(&Rectangle::new([(x - half, base - 12), (x + half, base)], INK.mix(0.5)))?;
                root.draw(&Text::new(withheld.to_owned(), (x, base - 15), centered.clone()))?;
            }
        }
    }
    let row_y = |s: usize| base + 16 + ROW_PX * s as i32 + ROW_PX / 2;
    let left = font.pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Center,
    ));
    for (s, name) in names.iter().enumerate() {
        let label: String = name.chars().take(14).collect();
        root.draw(&Text::new(label, (4, row_y(s)), left.clone()))?;
    }
    for (i, b) in bars.iter().enumerate() {
        let x = x_of(i);
        let members: Vec<usize> = (0..names.len()).filter(|&s| b.within.get(s) == Some(&true)).collect();
        if let (Some(&first), Some(&last)) = (members.first(), members.last())
            && first != last
        {
            root.draw(&PathElement::new([(x, row_y(first)), (x, row_y(last))], BAR.stroke_width(3)))?;
        }
        for s in 0..names.len() {
            let color = if b.within.get(s) == Some(&true) { BAR.filled() } else { OFF.filled() };
            root.draw(&Circle::new((x, row_y(s)), 7, color))?;
        }
    }
    let (_, height) = root.dim_in_pixel();
    let boxes = (0..bars.len()).map(|i| (x_of(i) - column / 2, 0, x_of(i) + column / 2, height as i32)).collect();
    root.present()?;
    Ok(boxes)
}

/// A region's exact count and which sets it is in, for its hover text.
///
/// ```
/// use app::charts::upset::{Bar, title};
/// let names = ["A".to_owned(), "B".to_owned(), "C".to_owned()];
/// let b = Bar { within: vec![true, false, true], count: Some(1234) };
/// assert_eq!(title(&names, &b, "< 10"), "In A and C, not B: 1,234 users");
/// ```
pub fn title(names: &[String], bar: &Bar, withheld: &str) -> String {
    let pick = |inside: bool| -> Vec<&str> {
        names.iter().zip(&bar.within).filter(|(_, w)| **w == inside).map(|(n, _)| n.as_str()).collect()
    };
    let (inside, outside) = (pick(true), pick(false));
    let count = bar.count.map_or_else(|| withheld.to_owned(), crate::format::int);
    match outside.is_empty() {
        true => format!("In {}: {count} users", inside.join(" and ")),
        false => format!("In {}, not {}: {count} users", inside.join(" and "), outside.join(" or ")),
    }
}

/// The chart as an SVG document, with each region's exact count on hover.
pub fn svg(names: &[String], bars: &[Bar], withheld: &str) -> Result<String, String> {
    let mut svg = String::new();
    let boxes = {
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, height(names.len()))).into_drawing_area();
        draw(&root, names, bars, withheld).map_err(|e| e.to_string())?
    };
    let bands: Vec<Band> =
        boxes.into_iter().zip(bars).map(|(rect, b)| Band { rect, title: title(names, b, withheld) }).collect();
    Ok(hover::add(svg, "region", &bands))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_region_with_its_count() -> Result<(), String> {
        let names: Vec<String> = ["A", "B", "C"].map(str::to_owned).to_vec();
        let counts: Vec<Option<u64>> = (1..=7).map(|i| (i != 5).then_some(i * 1000)).collect();
        let svg = svg(&names, &bars(3, &counts), "< 10")?;
        for c in ["1,000", "7,000", "&lt; 10", "\nA\n", "\nC\n"] {
            assert!(svg.contains(c), "{c}");
        }
        assert_eq!(svg.matches("<circle").count(), 21, "a dot per region and set");
        assert_eq!(svg.matches("class=\"hover-band\"").count(), 7);
        assert!(svg.contains("<title>In A and B and C: 7,000 users</title>"));
        Ok(())
    }
}
