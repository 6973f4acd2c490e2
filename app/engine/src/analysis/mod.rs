//! Analyses over bitmaps (issue 16): ordered event funnels ([`funnel`]), the regions of up to
//! five sets ([`overlap`]) and cross-tabs of two tag groups ([`pivot`]). Each is computed with
//! set operations (per day, per set, per value), never per user, and each has a naive per-user
//! evaluator in `tests/analysis_vs_naive.rs`. The browser and the server call the same
//! functions; the server adds noise for `aggregate` tokens on top of the exact answers.

pub mod funnel;
pub mod overlap;
pub mod pivot;

/// `num / den`, or `None` when `den` is 0 or either is unknown.
///
/// ```
/// assert_eq!(engine::analysis::ratio(Some(1), Some(4)), Some(0.25));
/// assert_eq!(engine::analysis::ratio(Some(1), Some(0)), None);
/// ```
pub fn ratio(num: Option<u64>, den: Option<u64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0 => Some(n as f64 / d as f64),
        _ => None,
    }
}
