//! The Trends page's logic: which segments, days and metric are chosen (and how the address bar
//! says so), the histories lined up on one day axis for the charts, the exact values a hover
//! shows, and each segment's summary over the range. Plain Rust, tested natively.

use engine::Manifest;

use crate::api::{Backfill, BackfillState, History};
use crate::format;
use crate::session::{encode_component, parse_query};

/// Most segments compared at once (more lines stop being readable).
pub const MAX_SEGMENTS: usize = 5;

/// Days shown when the address names no range: the last 30 published days.
pub const DEFAULT_DAYS: usize = 30;

/// What the Trends page shows, as kept in the address bar
/// (`/trends?segments=a,b&metric=active_7d&from=…&to=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Segment ids, in the order chosen (at most [`MAX_SEGMENTS`]).
    pub segments: Vec<String>,
    /// First day (inclusive); `None`: the default range.
    pub from: Option<String>,
    /// Last day (inclusive); `None`: the latest day.
    pub to: Option<String>,
    /// Metric tag group; `None`: the default metric.
    pub metric: Option<String>,
}

impl Selection {
    /// Reads the address bar's query (`?segments=a,b&from=…`). Repeated or extra segments are
    /// dropped, so a hand-edited link never asks for more than [`MAX_SEGMENTS`].
    ///
    /// ```
    /// use app::trends::Selection;
    /// let s = Selection::from_query("?segments=a,b,a&metric=paid_7d&from=2026-11-01");
    /// assert_eq!(s.segments, ["a", "b"]);
    /// assert_eq!(s.metric.as_deref(), Some("paid_7d"));
    /// assert_eq!(s.from.as_deref(), Some("2026-11-01"));
    /// assert_eq!(s.to, None);
    /// ```
    pub fn from_query(query: &str) -> Selection {
        let mut s = Selection::default();
        for (key, value) in parse_query(query) {
            let value = value.trim().to_owned();
            match key.as_str() {
                "segments" => {
                    for id in value.split(',').map(str::trim).filter(|id| !id.is_empty()) {
                        if s.segments.len() < MAX_SEGMENTS && !s.segments.iter().any(|x| x == id) {
                            s.segments.push(id.to_owned());
                        }
                    }
                }
                "from" if !value.is_empty() => s.from = Some(value),
                "to" if !value.is_empty() => s.to = Some(value),
                "metric" if !value.is_empty() => s.metric = Some(value),
                _ => {}
            }
        }
        s
    }

    /// The address of this selection.
    ///
    /// ```
    /// use app::trends::Selection;
    /// let s = Selection { segments: vec!["a".into(), "b c".into()], metric: Some("paid_7d".into()), ..Default::default() };
    /// assert_eq!(s.to_url(), "/trends?segments=a,b%20c&metric=paid_7d");
    /// assert_eq!(Selection::from_query(s.to_url().trim_start_matches("/trends")), s);
    /// ```
    pub fn to_url(&self) -> String {
        let mut parts = Vec::new();
        if !self.segments.is_empty() {
            let ids: Vec<String> = self.segments.iter().map(|id| encode_component(id)).collect();
            parts.push(format!("segments={}", ids.join(",")));
        }
        for (key, value) in [("from", &self.from), ("to", &self.to), ("metric", &self.metric)] {
            if let Some(v) = value {
                parts.push(format!("{key}={}", encode_component(v)));
            }
        }
        if parts.is_empty() { "/trends".to_owned() } else { format!("/trends?{}", parts.join("&")) }
    }

    /// Adds a segment, or removes it when it is chosen already. Adding a sixth does nothing
    /// (the page disables the other boxes and says why).
    ///
    /// ```
    /// use app::trends::Selection;
    /// let mut s = Selection::default();
    /// s.toggle("a");
    /// s.toggle("b");
    /// s.toggle("a");
    /// assert_eq!(s.segments, ["b"]);
    /// ```
    pub fn toggle(&mut self, id: &str) {
        if let Some(i) = self.segments.iter().position(|x| x == id) {
            self.segments.remove(i);
        } else if self.segments.len() < MAX_SEGMENTS {
            self.segments.push(id.to_owned());
        }
    }

    /// Whether no more segments can be added.
    pub fn is_full(&self) -> bool {
        self.segments.len() >= MAX_SEGMENTS
    }
}

/// The day range actually shown: `from`/`to` when they are published days (else the nearest
/// ones inside), by default the last [`DEFAULT_DAYS`] days. `days` are the published days,
/// oldest first. `None` when there are no days.
///
/// ```
/// let days: Vec<String> = (1..=40).map(|d| format!("2026-10-{d:02}")).collect();
/// let (from, to) = app::trends::range(&days, None, None).unwrap();
/// assert_eq!((from.as_str(), to.as_str()), ("2026-10-11", "2026-10-40"));
/// let (from, to) = app::trends::range(&days, Some("2026-10-35"), Some("2026-10-05")).unwrap();
/// assert_eq!((from.as_str(), to.as_str()), ("2026-10-05", "2026-10-35"), "a reversed range is turned round");
/// ```
pub fn range(days: &[String], from: Option<&str>, to: Option<&str>) -> Option<(String, String)> {
    let first = days.first()?;
    let last = days.last()?;
    let (mut from, mut to) = (from, to);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        (from, to) = (Some(t), Some(f));
    }
    let to = match to {
        // The last published day on or before `to`.
        Some(t) => days.iter().rev().find(|d| d.as_str() <= t).unwrap_or(first),
        None => last,
    };
    let from = match from {
        // The first published day on or after `from`.
        Some(f) => days.iter().find(|d| d.as_str() >= f).unwrap_or(last),
        None => {
            let end = days.iter().position(|d| d == to).unwrap_or(days.len() - 1);
            &days[end.saturating_sub(DEFAULT_DAYS - 1)]
        }
    };
    Some(if from <= to { (from.clone(), to.clone()) } else { (to.clone(), from.clone()) })
}

/// Tag groups usable as a metric: those with a `true` value (boolean tags such as
/// `active_7d`, `paid_30d`), in manifest order.
pub fn metric_tags(manifest: &Manifest) -> Vec<String> {
    manifest.groups.iter().filter(|g| g.values.iter().any(|v| v.value == "true")).map(|g| g.name.clone()).collect()
}

/// The metric shown when none is chosen: the first tag whose name says activity over a week
/// (`active_7d`), else the first metric tag.
///
/// ```
/// let tags = vec!["active_1d".to_owned(), "active_7d".to_owned(), "paid_7d".to_owned()];
/// assert_eq!(app::trends::default_metric(&tags).as_deref(), Some("active_7d"));
/// assert_eq!(app::trends::default_metric(&tags[2..]).as_deref(), Some("paid_7d"));
/// assert_eq!(app::trends::default_metric(&[]), None);
/// ```
pub fn default_metric(tags: &[String]) -> Option<String> {
    tags.iter().find(|t| t.as_str() == "active_7d").or_else(|| tags.first()).cloned()
}

/// One segment's series, aligned with [`Trends::days`].
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Segment id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Members per day (`None`: not computed that day yet, or no such day for it).
    pub sizes: Vec<Option<u64>>,
    /// Entered per day.
    pub entered: Vec<Option<u64>>,
    /// Left per day.
    pub left: Vec<Option<u64>>,
    /// Days whose size, entered or left the server withheld (below the app's minimum
    /// audience; aggregate tokens only).
    pub suppressed: Vec<bool>,
    /// Metric rate inside the segment per day.
    pub rates: Vec<Option<f64>>,
}

/// Every chosen segment's history on one day axis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trends {
    /// The days, oldest first (every day any history has).
    pub days: Vec<String>,
    /// One line per segment, in the order chosen.
    pub lines: Vec<Line>,
    /// The metric's rate across all users (大盘) per day.
    pub all_rates: Vec<Option<f64>>,
    /// The metric, if one was asked for.
    pub metric: Option<String>,
    /// The app's minimum audience, for what a withheld count reads (`< k`); 0 when unknown.
    pub min_audience: u64,
}

/// Lines up histories (`(id, name, history)`, in the order chosen) on one day axis.
///
/// ```
/// use app::api::History;
/// let h: History = serde_json::from_str(r#"{"segment":"a","days":[
///   {"ds":"2026-11-01","size":10,"entered":null,"left":null,"universe":100,"metrics":{"paid":{"segment":0.5,"all":0.2}}},
///   {"ds":"2026-11-02","size":12,"entered":3,"left":1,"universe":100,"metrics":{"paid":{"segment":0.25,"all":0.2}}}]}"#).unwrap();
/// let t = app::trends::shape(&[("a".into(), "A".into(), h)], Some("paid"));
/// assert_eq!(t.days, ["2026-11-01", "2026-11-02"]);
/// assert_eq!(t.lines[0].sizes, [Some(10), Some(12)]);
/// assert_eq!(t.lines[0].rates, [Some(0.5), Some(0.25)]);
/// assert_eq!(t.all_rates, [Some(0.2), Some(0.2)]);
/// ```
pub fn shape(histories: &[(String, String, History)], metric: Option<&str>) -> Trends {
    let mut days: Vec<String> = histories.iter().flat_map(|(_, _, h)| h.days.iter().map(|d| d.ds.clone())).collect();
    days.sort();
    days.dedup();
    let index = |ds: &str| days.binary_search_by(|d| d.as_str().cmp(ds)).ok();
    let mut all_rates = vec![None; days.len()];
    let lines = histories
        .iter()
        .map(|(id, name, h)| {
            let n = days.len();
            let mut line = Line {
                id: id.clone(),
                name: name.clone(),
                sizes: vec![None; n],
                entered: vec![None; n],
                left: vec![None; n],
                suppressed: vec![false; n],
                rates: vec![None; n],
            };
            for d in &h.days {
                let Some(i) = index(&d.ds) else { continue };
                line.sizes[i] = d.size;
                line.entered[i] = d.entered;
                line.left[i] = d.left;
                line.suppressed[i] = d.suppressed;
                if let Some(m) = metric.and_then(|m| d.metrics.get(m)) {
                    line.rates[i] = m.segment;
                    if all_rates[i].is_none() {
                        all_rates[i] = m.all;
                    }
                }
            }
            line
        })
        .collect();
    Trends { days, lines, all_rates, metric: metric.map(str::to_owned), min_audience: 0 }
}

impl Trends {
    /// Days where at least one chosen segment has no members computed yet (a withheld size
    /// was computed).
    pub fn missing_days(&self) -> usize {
        (0..self.days.len()).filter(|&i| self.lines.iter().any(|l| l.sizes[i].is_none() && !l.suppressed[i])).count()
    }

    /// What a withheld count reads: `< k`.
    ///
    /// ```
    /// let t = app::trends::Trends { min_audience: 50, ..Default::default() };
    /// assert_eq!(t.withheld(), "< 50");
    /// ```
    pub fn withheld(&self) -> String {
        match self.min_audience {
            0 => "withheld".to_owned(),
            k => format!("< {}", format::int(k)),
        }
    }

    /// The day a readout shows when nothing is hovered: the latest day with a size.
    pub fn default_day(&self) -> Option<usize> {
        (0..self.days.len())
            .rev()
            .find(|&i| self.lines.iter().any(|l| l.sizes[i].is_some() || l.suppressed[i]))
            .or_else(|| {
                // Nothing computed yet: the latest day still has the all-users rate.
                self.days.len().checked_sub(1)
            })
    }
}

/// A member count with an exact share: `4,812 of 12,506` from a rate and the size it was
/// computed over (the history gives rates; `rate × size` recovers the count exactly).
///
/// ```
/// assert_eq!(app::trends::count_of(Some(4_812.0 / 12_506.0), Some(12_506)), Some(4_812));
/// assert_eq!(app::trends::count_of(None, Some(10)), None);
/// ```
pub fn count_of(rate: Option<f64>, size: Option<u64>) -> Option<u64> {
    Some((rate? * size? as f64).round() as u64)
}

/// A change with its sign: `+94`, `−1,140`, `0`.
///
/// ```
/// assert_eq!(app::trends::plus(94), "+94");
/// assert_eq!(app::trends::plus(-1_140), "−1,140");
/// assert_eq!(app::trends::plus(0), "0");
/// ```
pub fn plus(n: i64) -> String {
    if n > 0 { format!("+{}", format::int(n.unsigned_abs())) } else { format::signed(n) }
}

/// What a readout says about one series on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Segment id, or `None` for all users.
    pub id: Option<String>,
    /// Name shown.
    pub label: String,
    /// Colour slot (the segment's place in the chosen order; `None` for all users).
    pub slot: Option<usize>,
    /// The value, formatted.
    pub value: String,
    /// More detail, formatted (may be empty).
    pub detail: String,
}

/// Sizes on day `i`, exactly.
pub fn size_readings(t: &Trends, i: usize) -> Vec<Reading> {
    t.lines
        .iter()
        .enumerate()
        .map(|(slot, l)| {
            let size = l.sizes.get(i).copied().flatten();
            let prev = i.checked_sub(1).and_then(|p| l.sizes.get(p).copied().flatten());
            let detail = match (size, prev) {
                (Some(s), Some(p)) => format!("{} from the day before", plus(s as i64 - p as i64)),
                _ => String::new(),
            };
            Reading {
                id: Some(l.id.clone()),
                label: l.name.clone(),
                slot: Some(slot),
                value: match size {
                    Some(size) => format::int(size),
                    None if l.suppressed.get(i) == Some(&true) => t.withheld(),
                    None => "not computed yet".to_owned(),
                },
                detail,
            }
        })
        .collect()
}

/// Entered and left on day `i`, exactly, with the net change.
pub fn flow_readings(t: &Trends, i: usize) -> Vec<Reading> {
    t.lines
        .iter()
        .enumerate()
        .map(|(slot, l)| {
            let (entered, left) = (l.entered.get(i).copied().flatten(), l.left.get(i).copied().flatten());
            let (value, detail) = match (entered, left) {
                (Some(e), Some(o)) => {
                    (format!("+{} / −{}", format::int(e), format::int(o)), format!("net {}", plus(e as i64 - o as i64)))
                }
                _ if l.suppressed.get(i) == Some(&true) => (t.withheld(), "below the minimum audience".to_owned()),
                _ if l.sizes.get(i).copied().flatten().is_none() => ("not computed yet".to_owned(), String::new()),
                _ => ("–".to_owned(), "no earlier day to compare".to_owned()),
            };
            Reading { id: Some(l.id.clone()), label: l.name.clone(), slot: Some(slot), value, detail }
        })
        .collect()
}

/// The metric's rate on day `i` in each segment (with the count behind it) and across all users.
pub fn rate_readings(t: &Trends, i: usize) -> Vec<Reading> {
    let mut out: Vec<Reading> = t
        .lines
        .iter()
        .enumerate()
        .map(|(slot, l)| {
            let rate = l.rates.get(i).copied().flatten();
            let size = l.sizes.get(i).copied().flatten();
            let detail = match count_of(rate, size) {
                Some(k) => format!("{} of {}", format::int(k), format::int(size.unwrap_or(0))),
                None => String::new(),
            };
            let value = match (rate, size) {
                (Some(r), _) => format::percent_exact(r),
                (None, Some(0)) => "no members".to_owned(),
                (None, Some(_)) => "tag missing that day".to_owned(),
                (None, None) if l.suppressed.get(i) == Some(&true) => t.withheld(),
                (None, None) => "not computed yet".to_owned(),
            };
            Reading { id: Some(l.id.clone()), label: l.name.clone(), slot: Some(slot), value, detail }
        })
        .collect();
    let all = t.all_rates.get(i).copied().flatten();
    out.push(Reading {
        id: None,
        label: "All users (大盘)".to_owned(),
        slot: None,
        value: all.map_or_else(|| "tag missing that day".to_owned(), format::percent_exact),
        detail: String::new(),
    });
    out
}

/// One segment over the range, for the table under the charts.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Segment id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Size on the latest computed day.
    pub latest: Option<u64>,
    /// Change from the first to the latest computed day (`None`: fewer than two such days).
    pub change: Option<i64>,
    /// The change as a share of the first size.
    pub change_share: Option<f64>,
    /// Entered over the range (days with a comparison only).
    pub entered: u64,
    /// Left over the range.
    pub left: u64,
    /// Metric rate on the latest day with one.
    pub rate: Option<f64>,
    /// All users' rate on that day.
    pub all_rate: Option<f64>,
}

impl Summary {
    /// The segment's rate as an index of all users' rate (100 = the same), like TGI.
    ///
    /// ```
    /// let s = app::trends::Summary { id: "a".into(), name: "A".into(), latest: None, change: None,
    ///     change_share: None, entered: 0, left: 0, rate: Some(0.3), all_rate: Some(0.2) };
    /// assert_eq!(s.index().map(f64::round), Some(150.0));
    /// ```
    pub fn index(&self) -> Option<f64> {
        match (self.rate, self.all_rate) {
            (Some(r), Some(a)) if a > 0.0 => Some(r / a * 100.0),
            _ => None,
        }
    }
}

/// A change in size with its share: `+94 (+0.8%)`, `−10 (−10.0%)`, `–` when unknown.
///
/// ```
/// assert_eq!(app::trends::change_text(Some(94), Some(0.0075)), "+94 (+0.8%)");
/// assert_eq!(app::trends::change_text(Some(-10), Some(-0.1)), "−10 (−10.0%)");
/// assert_eq!(app::trends::change_text(Some(5), None), "+5");
/// assert_eq!(app::trends::change_text(None, None), "–");
/// ```
pub fn change_text(change: Option<i64>, share: Option<f64>) -> String {
    let Some(c) = change else { return "–".to_owned() };
    match share {
        Some(share) => {
            let pct = format!("{:.1}%", share.abs() * 100.0);
            let pct_sign = if share < 0.0 { "−" } else { "+" };
            format!("{} ({pct_sign}{pct})", plus(c))
        }
        None => plus(c),
    }
}

/// Each segment over the range.
pub fn summaries(t: &Trends) -> Vec<Summary> {
    t.lines
        .iter()
        .map(|l| {
            let computed: Vec<(usize, u64)> =
                l.sizes.iter().enumerate().filter_map(|(i, s)| s.map(|s| (i, s))).collect();
            let latest = computed.last().map(|&(_, s)| s);
            let (change, change_share) = match (computed.first(), computed.last()) {
                (Some(&(i, a)), Some(&(j, b))) if j > i => {
                    let d = b as i64 - a as i64;
                    (Some(d), (a > 0).then(|| d as f64 / a as f64))
                }
                _ => (None, None),
            };
            let rate_day = (0..t.days.len()).rev().find(|&i| l.rates[i].is_some());
            Summary {
                id: l.id.clone(),
                name: l.name.clone(),
                latest,
                change,
                change_share,
                entered: l.entered.iter().flatten().sum(),
                left: l.left.iter().flatten().sum(),
                rate: rate_day.and_then(|i| l.rates[i]),
                all_rate: rate_day.and_then(|i| t.all_rates[i]),
            }
        })
        .collect()
}

/// What the page says about a backfill still filling in days, or `None` when nothing is
/// missing. `missing` is [`Trends::missing_days`].
///
/// ```
/// use app::api::{Backfill, BackfillState};
/// let b = Backfill { state: BackfillState::Running, done: 3, total: 29, error: None, attempts: 0, next_attempt_ms: None };
/// assert_eq!(
///     app::trends::backfill_note(Some(&b), 26).as_deref(),
///     Some("Backfilling segment history: 3 of 29 days done. 26 days are not computed yet; they fill in as it runs.")
/// );
/// assert_eq!(app::trends::backfill_note(None, 0), None);
/// ```
pub fn backfill_note(backfill: Option<&Backfill>, missing: usize) -> Option<String> {
    let days = |n: usize| if n == 1 { "1 day is".to_owned() } else { format!("{n} days are") };
    match backfill {
        Some(b) if b.state == BackfillState::Running => Some(format!(
            "Backfilling segment history: {} of {} days done. {} not computed yet; they fill in as it runs.",
            b.done,
            b.total,
            days(missing)
        )),
        Some(b) if b.state == BackfillState::Retrying => Some(format!(
            "Backfilling segment history hit an error and retries by itself ({}; attempt {}). {} of {} days done; {} not computed yet.",
            b.error.as_deref().unwrap_or("no details"),
            b.attempts + 1,
            b.done,
            b.total,
            days(missing)
        )),
        Some(b) if b.state == BackfillState::Failed => Some(format!(
            "Backfilling segment history failed after {} attempts ({}). {} not computed; the next change to a segment or upload retries it.",
            b.attempts,
            b.error.as_deref().unwrap_or("no details"),
            days(missing)
        )),
        _ if missing > 0 => Some(format!(
            "{} not computed for every chosen segment (days before a segment existed are computed by a backfill).",
            days(missing)
        )),
        _ => None,
    }
}

/// Whether the page should ask again soon: a backfill is running (or retrying) and days are
/// missing.
pub fn should_poll(backfill: Option<&Backfill>, missing: usize) -> bool {
    missing > 0 && backfill.is_some_and(|b| matches!(b.state, BackfillState::Running | BackfillState::Retrying))
}

/// Days a segment could not be computed on, with why (its rule names what the day lacks), one
/// line per segment and reason: `“VIPs” is not computed on 2 days (2026-11-10 … 2026-11-11):
/// unknown tag vip`.
///
/// ```
/// use app::api::{History, HistoryDay};
/// let day = |ds: &str, error: Option<&str>| HistoryDay { ds: ds.into(), size: None, entered: None, left: None,
///     error: error.map(str::to_owned), universe: 10, suppressed: false, metrics: Default::default() };
/// let h = History { segment: "vips".into(), backfill: None,
///     days: vec![day("2026-11-10", Some("unknown tag")), day("2026-11-11", Some("unknown tag")), day("2026-11-12", None)] };
/// assert_eq!(app::trends::day_errors(&[("vips".into(), "VIPs".into(), h)]),
///     ["“VIPs” is not computed on 2 days (2026-11-10 … 2026-11-11): unknown tag"]);
/// ```
pub fn day_errors(histories: &[(String, String, History)]) -> Vec<String> {
    let mut out = Vec::new();
    for (_, name, h) in histories {
        let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
        for d in &h.days {
            let Some(reason) = d.error.as_deref() else { continue };
            match by_reason.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, days)) => days.push(&d.ds),
                None => by_reason.push((reason, vec![&d.ds])),
            }
        }
        for (reason, days) in by_reason {
            let span = match days.as_slice() {
                [one] => format!("1 day ({one})"),
                [first, .., last] => format!("{} days ({first} … {last})", days.len()),
                [] => continue,
            };
            out.push(format!("“{name}” is not computed on {span}: {reason}"));
        }
    }
    out
}

/// The pixel width to draw a chart at, for a window `viewport_px` wide: the card's inner width
/// (content up to 1,120 px, minus gutters, card padding and borders; see `style/main.css`), so
/// chart text is drawn at its real size instead of being scaled down on phones.
///
/// ```
/// assert_eq!(app::trends::chart_width(1280.0), 1030);
/// assert_eq!(app::trends::chart_width(390.0), 328);
/// assert_eq!(app::trends::chart_width(200.0), 300);
/// ```
pub fn chart_width(viewport_px: f64) -> u32 {
    let narrow = viewport_px <= 760.0;
    let (gutter, padding) = if narrow { (16.0, 14.0) } else { (24.0, 20.0) };
    let inner = viewport_px.min(1120.0) - 2.0 * gutter - 2.0 * padding - 2.0;
    inner.clamp(300.0, 1060.0) as u32
}

/// A day as the charts' axis labels show it: `11-20` from `2026-11-20`.
///
/// ```
/// assert_eq!(app::trends::short_day("2026-11-20"), "11-20");
/// assert_eq!(app::trends::short_day("bad"), "bad");
/// ```
pub fn short_day(ds: &str) -> String {
    if ds.len() == 10 && ds.as_bytes()[4] == b'-' { ds[5..].to_owned() } else { ds.to_owned() }
}

#[cfg(test)]
mod tests;
