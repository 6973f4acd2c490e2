//! Exact values on hover for every chart: transparent rectangles laid over the drawing, each
//! with a `<title>` (the browser's own tooltip) and a `data-*` index the page can read. Plotters
//! writes no `<title>` of its own, so the drawing functions return where their bars or rows
//! are, in pixels, and [`add`] appends the bands before `</svg>`.

/// A rectangle in pixels: left, top, right, bottom.
pub type PixelBox = (i32, i32, i32, i32);

/// One hover band: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// Where, in pixels.
    pub rect: PixelBox,
    /// Its exact values, one line each.
    pub title: String,
}

/// `text` escaped for SVG text and attributes.
///
/// ```
/// assert_eq!(app::charts::hover::escape("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
/// ```
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The SVG document with `bands` over it; band `i` carries `data-{attribute}="i"`.
///
/// ```
/// use app::charts::hover::{Band, add};
/// let svg = add("<svg></svg>".into(), "row", &[Band { rect: (0, 10, 50, 20), title: "a: 5".into() }]);
/// assert_eq!(svg, "<svg><g class=\"hover-bands\"><rect class=\"hover-band\" data-row=\"0\" x=\"0\" y=\"10\" width=\"50\" height=\"10\" fill=\"transparent\"><title>a: 5</title></rect></g></svg>");
/// ```
pub fn add(mut svg: String, attribute: &str, bands: &[Band]) -> String {
    let mut extra = String::from("<g class=\"hover-bands\">");
    for (i, b) in bands.iter().enumerate() {
        let (left, top, right, bottom) = b.rect;
        extra.push_str(&format!(
            "<rect class=\"hover-band\" data-{attribute}=\"{i}\" x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"transparent\"><title>{}</title></rect>",
            (right - left).max(1),
            (bottom - top).max(1),
            escape(&b.title)
        ));
    }
    extra.push_str("</g>");
    match svg.rfind("</svg>") {
        Some(at) => svg.insert_str(at, &extra),
        None => svg.push_str(&extra),
    }
    svg
}
