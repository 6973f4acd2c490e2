//! The analysis pages' logic (issue 16): the Funnels and Pivot pages' choices and their
//! addresses, the rows they show, the pivot's heat scale and CSV, and the audiences the pages
//! take (a saved segment or a rule); the Compare page's are in [`crate::compare`]. Plain Rust,
//! tested natively; the numbers come from `engine::analysis`, in the browser
//! ([`crate::analysis_local`]) or through the server's routes.

use serde_json::json;
use wire::{Funnel, FunnelRequest, FunnelStep, FunnelStepRequest, Pivot, PivotRequest, Rule};

use crate::format;
use crate::session::{encode_component, parse_query};

/// The most steps a funnel takes (the server's limit).
pub const MAX_STEPS: usize = engine::analysis::funnel::MAX_STEPS;

/// The Funnels page's choices, all in its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunnelChoice {
    /// The steps' events, in order.
    pub events: Vec<String>,
    /// First day (the first published day when absent).
    pub from: Option<String>,
    /// Last day (the latest published day when absent).
    pub to: Option<String>,
    /// Days to convert after step 1.
    pub within_days: u32,
    /// A saved segment users must be in on their step-1 day.
    pub segment: Option<String>,
    /// A tag group to split by.
    pub by: Option<String>,
}

fn list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

pub(crate) fn some(value: String) -> Option<String> {
    let v = value.trim().to_owned();
    (!v.is_empty()).then_some(v)
}

impl FunnelChoice {
    /// Reads the choice from a query string (`?steps=visit,buy&within=7`).
    pub fn from_query(query: &str) -> FunnelChoice {
        let mut c = FunnelChoice { within_days: 7, ..FunnelChoice::default() };
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "steps" => c.events = list(&value).into_iter().take(MAX_STEPS).collect(),
                "from" => c.from = some(value),
                "to" => c.to = some(value),
                "within" => c.within_days = value.trim().parse().unwrap_or(7),
                "segment" => c.segment = some(value),
                "by" => c.by = some(value),
                _ => {}
            }
        }
        c
    }

    /// The page's address for this choice.
    ///
    /// ```
    /// use app::analysis::FunnelChoice;
    /// let c = FunnelChoice { events: vec!["visit".into(), "buy".into()], within_days: 3, by: Some("region".into()), ..Default::default() };
    /// assert_eq!(c.to_url(), "/funnels?steps=visit,buy&within=3&by=region");
    /// assert_eq!(FunnelChoice::from_query(c.to_url().trim_start_matches("/funnels")), c);
    /// ```
    pub fn to_url(&self) -> String {
        let mut parts =
            vec![format!("steps={}", self.events.iter().map(|e| encode_component(e)).collect::<Vec<_>>().join(","))];
        for (key, value) in [("from", &self.from), ("to", &self.to)] {
            if let Some(v) = value {
                parts.push(format!("{key}={}", encode_component(v)));
            }
        }
        parts.push(format!("within={}", self.within_days));
        for (key, value) in [("segment", &self.segment), ("by", &self.by)] {
            if let Some(v) = value {
                parts.push(format!("{key}={}", encode_component(v)));
            }
        }
        format!("/funnels?{}", parts.join("&"))
    }

    /// The request for the server, over `from`..`to` (defaults filled in), or `None` while
    /// there is no step.
    ///
    /// ```
    /// use app::analysis::FunnelChoice;
    /// let c = FunnelChoice { events: vec!["visit".into()], segment: Some("vip".into()), ..Default::default() };
    /// let r = c.request("2026-01-01", "2026-01-07").unwrap();
    /// assert_eq!(r.audience.unwrap().0, serde_json::json!({"segment": "vip"}));
    /// ```
    pub fn request(&self, first_day: &str, last_day: &str) -> Option<FunnelRequest> {
        if self.events.is_empty() {
            return None;
        }
        Some(FunnelRequest {
            steps: self.events.iter().map(|e| FunnelStepRequest { event: e.clone() }).collect(),
            from: self.from.clone().unwrap_or_else(|| first_day.to_owned()),
            to: self.to.clone().unwrap_or_else(|| last_day.to_owned()),
            within_days: self.within_days,
            audience: self.segment.as_deref().map(audience_rule),
            by: self.by.clone(),
        })
    }
}

/// One bar of the funnel, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelRow {
    /// `1. visit`.
    pub label: String,
    /// Users, formatted (`< k` when withheld).
    pub users: String,
    /// The count (0 when withheld), for the bar.
    pub count: u64,
    /// Conversion from the previous step (`–` when undefined).
    pub from_previous: String,
    /// Conversion from step 1.
    pub from_first: String,
    /// Users lost since the previous step, formatted (empty for step 1).
    pub dropped: String,
    /// Median days from the previous step.
    pub median_days: String,
}

fn pct(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_owned(), format::percent)
}

/// The rows of a funnel's steps; `min_audience` says what a withheld count shows.
///
/// ```
/// use app::analysis::funnel_rows;
/// use wire::FunnelStep;
/// let step = |e: &str, c: u64, p: f64| FunnelStep { event: e.into(), count: Some(c), suppressed: false, from_previous: Some(p), from_first: Some(p), median_days: None };
/// let rows = funnel_rows(&[step("visit", 100, 1.0), step("buy", 25, 0.25)], 0);
/// assert_eq!(rows[1].label, "2. buy");
/// assert_eq!(rows[1].dropped, "75");
/// ```
pub fn funnel_rows(steps: &[FunnelStep], min_audience: u64) -> Vec<FunnelRow> {
    steps
        .iter()
        .enumerate()
        .map(|(k, s)| FunnelRow {
            label: format!("{}. {}", k + 1, s.event),
            users: s.count.map_or_else(|| format!("< {}", format::int(min_audience)), format::int),
            count: s.count.unwrap_or(0),
            from_previous: if k == 0 { String::new() } else { pct(s.from_previous) },
            from_first: pct(s.from_first),
            dropped: match (k, s.count, k.checked_sub(1).and_then(|p| steps[p].count)) {
                (0, _, _) => String::new(),
                (_, Some(c), Some(p)) => format::int(p.saturating_sub(c)),
                _ => "–".to_owned(),
            },
            median_days: s.median_days.map_or_else(String::new, |m| format!("{m} d")),
        })
        .collect()
}

/// The table rows of a funnel split by a group: per value, its counts per step.
pub fn by_rows(funnel: &Funnel, min_audience: u64) -> Vec<(String, Vec<FunnelRow>)> {
    funnel.by.iter().flatten().map(|b| (b.value.clone(), funnel_rows(&b.steps, min_audience))).collect()
}

/// The Pivot page's choices, all in its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PivotChoice {
    /// Row group.
    pub rows: Option<String>,
    /// Column group.
    pub columns: Option<String>,
    /// A saved segment to count within.
    pub segment: Option<String>,
    /// What the cells show.
    pub show: Show,
}

/// What a pivot's cells show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Show {
    /// Users.
    #[default]
    Counts,
    /// Share of the row.
    RowShares,
    /// Share of the column.
    ColumnShares,
    /// TGI against all users.
    Tgi,
}

impl Show {
    /// Every choice, in the order offered.
    pub const ALL: [Show; 4] = [Show::Counts, Show::RowShares, Show::ColumnShares, Show::Tgi];

    /// Its name in the address.
    pub const fn key(self) -> &'static str {
        match self {
            Show::Counts => "counts",
            Show::RowShares => "row",
            Show::ColumnShares => "column",
            Show::Tgi => "tgi",
        }
    }

    /// Its label.
    pub const fn label(self) -> &'static str {
        match self {
            Show::Counts => "Users",
            Show::RowShares => "% of row",
            Show::ColumnShares => "% of column",
            Show::Tgi => "TGI",
        }
    }
}

impl PivotChoice {
    /// Reads the choice from a query string.
    pub fn from_query(query: &str) -> PivotChoice {
        let mut c = PivotChoice::default();
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "rows" => c.rows = some(value),
                "columns" => c.columns = some(value),
                "segment" => c.segment = some(value),
                "show" => c.show = Show::ALL.into_iter().find(|s| s.key() == value.trim()).unwrap_or_default(),
                _ => {}
            }
        }
        c
    }

    /// The page's address.
    ///
    /// ```
    /// use app::analysis::{PivotChoice, Show};
    /// let c = PivotChoice { rows: Some("region".into()), columns: Some("plan".into()), segment: None, show: Show::Tgi };
    /// assert_eq!(c.to_url(), "/pivot?rows=region&columns=plan&show=tgi");
    /// assert_eq!(PivotChoice::from_query(c.to_url().trim_start_matches("/pivot")), c);
    /// ```
    pub fn to_url(&self) -> String {
        let mut parts = Vec::new();
        for (key, value) in [("rows", &self.rows), ("columns", &self.columns), ("segment", &self.segment)] {
            if let Some(v) = value {
                parts.push(format!("{key}={}", encode_component(v)));
            }
        }
        parts.push(format!("show={}", self.show.key()));
        format!("/pivot?{}", parts.join("&"))
    }

    /// The request for day `ds`, once both groups are chosen.
    pub fn request(&self, ds: &str) -> Option<PivotRequest> {
        Some(PivotRequest {
            ds: Some(ds.to_owned()),
            rows: self.rows.clone()?,
            columns: self.columns.clone()?,
            audience: self.segment.as_deref().map(audience_rule),
        })
    }
}

/// A cell's text and its heat (0 to 1, for the background) under `show`.
///
/// ```
/// use app::analysis::{Show, cell};
/// let p: wire::Pivot = serde_json::from_value(serde_json::json!({"ds": "d", "rows": ["a"], "columns": ["x", "y"],
///     "counts": [[3, 1]], "row_shares": [[0.75, 0.25]], "column_shares": [[1.0, 1.0]], "tgi": [[100.0, 100.0]],
///     "audience": 4, "universe": 4})).unwrap();
/// assert_eq!(cell(&p, Show::Counts, 0, 0, 0), ("3".to_owned(), 1.0));
/// assert_eq!(cell(&p, Show::RowShares, 0, 1, 0).0, "25.0%");
/// ```
pub fn cell(p: &Pivot, show: Show, i: usize, j: usize, min_audience: u64) -> (String, f64) {
    let max_count = p.counts.iter().flatten().flatten().copied().max().unwrap_or(0).max(1) as f64;
    match show {
        Show::Counts => match p.counts[i][j] {
            Some(c) => (format::int(c), c as f64 / max_count),
            None => (format!("< {}", format::int(min_audience)), 0.0),
        },
        Show::RowShares => share_cell(p.row_shares[i][j]),
        Show::ColumnShares => share_cell(p.column_shares[i][j]),
        Show::Tgi => {
            let t = p.tgi[i][j];
            // 100 is neutral; 200 and above is full heat.
            (format::tgi(t), t.map_or(0.0, |t| ((t - 100.0) / 100.0).clamp(0.0, 1.0)))
        }
    }
}

fn share_cell(s: Option<f64>) -> (String, f64) {
    (pct(s), s.unwrap_or(0.0))
}

/// The heat scale: white to the accent blue, as a CSS colour.
///
/// ```
/// assert_eq!(app::analysis::heat_color(0.0), "rgb(255, 255, 255)");
/// assert_eq!(app::analysis::heat_color(1.0), "rgb(96, 143, 240)");
/// ```
pub fn heat_color(heat: f64) -> String {
    let h = heat.clamp(0.0, 1.0);
    let mix = |full: f64| (255.0 - (255.0 - full) * h).round() as u8;
    format!("rgb({}, {}, {})", mix(96.0), mix(143.0), mix(240.0))
}

/// The pivot as CSV ([`crate::csv`]): one line per cell (row, column, users, row share,
/// column share, TGI); a withheld count is empty.
///
/// ```
/// let p: wire::Pivot = serde_json::from_value(serde_json::json!({"ds": "d", "rows": ["a"], "columns": ["x"],
///     "counts": [[3]], "row_shares": [[1.0]], "column_shares": [[1.0]], "tgi": [[null]],
///     "audience": 3, "universe": 3})).unwrap();
/// assert_eq!(app::analysis::pivot_csv(&p, "region", "plan"), "region,plan,users,row_share,column_share,tgi\r\na,x,3,1,1,\r\n");
/// ```
pub fn pivot_csv(p: &Pivot, rows: &str, columns: &str) -> String {
    let mut table = vec![vec![
        rows.to_owned(),
        columns.to_owned(),
        "users".into(),
        "row_share".into(),
        "column_share".into(),
        "tgi".into(),
    ]];
    for (i, r) in p.rows.iter().enumerate() {
        for (j, c) in p.columns.iter().enumerate() {
            table.push(vec![
                r.clone(),
                c.clone(),
                count_field(p.counts[i][j]),
                number_field(p.row_shares[i][j]),
                number_field(p.column_shares[i][j]),
                number_field(p.tgi[i][j]),
            ]);
        }
    }
    crate::csv::table(&table)
}

/// A count for a CSV field: empty when withheld.
pub(crate) fn count_field(n: Option<u64>) -> String {
    n.map_or_else(String::new, |n| n.to_string())
}

/// A number for a CSV field: empty when missing.
pub(crate) fn number_field(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The funnel's steps as CSV: step, event, users, conversion from the previous step and from
/// step 1 (fractions), dropped users, median days; withheld counts empty.
///
/// ```
/// let f: wire::Funnel = serde_json::from_value(serde_json::json!({"from": "a", "to": "b", "within_days": 7,
///     "steps": [{"event": "visit", "count": 4, "suppressed": false, "from_previous": 1.0,
///     "from_first": 1.0, "median_days": null}, {"event": "buy", "count": 1, "from_previous": 0.25,
///     "from_first": 0.25, "median_days": 2.0}]})).unwrap();
/// assert_eq!(app::analysis::funnel_csv(&f.steps),
///     "step,event,users,from_previous,from_first,dropped,median_days\r\n1,visit,4,1,1,,\r\n2,buy,1,0.25,0.25,3,2\r\n");
/// ```
pub fn funnel_csv(steps: &[FunnelStep]) -> String {
    let mut table = vec![
        ["step", "event", "users", "from_previous", "from_first", "dropped", "median_days"].map(str::to_owned).to_vec(),
    ];
    for (i, s) in steps.iter().enumerate() {
        let dropped = match (i.checked_sub(1).and_then(|p| steps[p].count), s.count) {
            (Some(before), Some(now)) => before.saturating_sub(now).to_string(),
            _ => String::new(),
        };
        table.push(vec![
            (i + 1).to_string(),
            s.event.clone(),
            count_field(s.count),
            number_field(s.from_previous),
            number_field(s.from_first),
            dropped,
            number_field(s.median_days),
        ]);
    }
    crate::csv::table(&table)
}

/// The funnel by value as CSV: one line per value and step.
pub fn funnel_by_csv(funnel: &Funnel, by: &str) -> String {
    let mut table = vec![vec![by.to_owned(), "step".into(), "event".into(), "users".into(), "from_first".into()]];
    for v in funnel.by.iter().flatten() {
        for (i, s) in v.steps.iter().enumerate() {
            table.push(vec![
                v.value.clone(),
                (i + 1).to_string(),
                s.event.clone(),
                count_field(s.count),
                number_field(s.from_first),
            ]);
        }
    }
    crate::csv::table(&table)
}

/// An audience chosen on an analysis page is a saved segment's id or, when it starts with `{`,
/// a rule in JSON (the Audience page's "Analyse this audience" links carry the builder's rule).
///
/// ```
/// assert!(app::analysis::is_rule(r#"{"tag": ["plan", "pro"]}"#));
/// assert!(!app::analysis::is_rule("vip"));
/// ```
pub fn is_rule(audience: &str) -> bool {
    audience.trim_start().starts_with('{')
}

/// The audience as a rule: the rule itself, or `{"segment": id}`. A rule that is not JSON is
/// sent as a string, for the server to refuse with its path.
///
/// ```
/// use app::analysis::audience_rule;
/// assert_eq!(audience_rule("vip").0, serde_json::json!({"segment": "vip"}));
/// assert_eq!(audience_rule(r#"{"event": "buy"}"#).0, serde_json::json!({"event": "buy"}));
/// ```
pub fn audience_rule(audience: &str) -> Rule {
    if is_rule(audience) {
        Rule(serde_json::from_str(audience).unwrap_or_else(|_| serde_json::Value::String(audience.to_owned())))
    } else {
        Rule(json!({"segment": audience}))
    }
}

/// The audience as one set of an overlap: a segment by id, or the rule.
pub fn set_ref(audience: &str) -> wire::SetRef {
    if is_rule(audience) {
        wire::SetRef::Rule(audience_rule(audience))
    } else {
        wire::SetRef::Segment(audience.to_owned())
    }
}

/// A default name for the segment of a funnel step's users: the step's event (and, for those
/// who dropped, the next one they did not do) and the range.
///
/// ```
/// use app::analysis::step_segment_name;
/// let events = ["visit".to_owned(), "cart".to_owned(), "buy".to_owned()];
/// assert_eq!(step_segment_name(&events, 1, false, "2026-11-01", "2026-11-07"), "Funnel: cart (2026-11-01 to 2026-11-07)");
/// assert_eq!(step_segment_name(&events, 1, true, "2026-11-01", "2026-11-07"), "Funnel: cart, not buy (2026-11-01 to 2026-11-07)");
/// ```
pub fn step_segment_name(events: &[String], step: usize, dropped: bool, from: &str, to: &str) -> String {
    let event = events.get(step).map_or("", String::as_str);
    match events.get(step + 1).filter(|_| dropped) {
        Some(next) => format!("Funnel: {event}, not {next} ({from} to {to})"),
        None => format!("Funnel: {event} ({from} to {to})"),
    }
}

/// The freeze of a funnel step's users (reached `step`, or with `dropped` reached it but not
/// the next) as a new static segment named `name`: its id and the body of `…/freeze`.
///
/// ```
/// let f = app::analysis::FunnelChoice { events: vec!["visit".into(), "buy".into()], ..Default::default() };
/// let r = f.request("2026-11-01", "2026-11-07").unwrap();
/// let (id, body) = app::analysis::step_freeze(&r, 0, true, "Visit, not buy");
/// assert_eq!((id.as_str(), body.step, body.dropped), ("visit-not-buy", Some(0), true));
/// assert!(body.rule.is_none() && body.funnel.is_some());
/// ```
pub fn step_freeze(request: &FunnelRequest, step: usize, dropped: bool, name: &str) -> (String, wire::FreezeInput) {
    let input = wire::FreezeInput {
        name: name.to_owned(),
        description: Some(format!(
            "Frozen from the Funnels page: {} of step {} ({}), {} to {}",
            if dropped { "dropped users" } else { "users" },
            step + 1,
            request.steps.iter().map(|s| s.event.as_str()).collect::<Vec<_>>().join(" → "),
            request.from,
            request.to
        )),
        ds: None,
        rule: None,
        segment: None,
        funnel: Some(Box::new(request.clone())),
        step: Some(step),
        dropped,
    };
    (crate::draft::slug(name), input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withheld_step_reads_as_below_k_and_breaks_the_drop() {
        let s = |c: Option<u64>| FunnelStep {
            event: "e".into(),
            count: c,
            suppressed: c.is_none(),
            from_previous: None,
            from_first: None,
            median_days: Some(1.5),
        };
        let rows = funnel_rows(&[s(Some(50)), s(None), s(Some(20))], 10);
        assert_eq!(rows[1].users, "< 10");
        assert_eq!((rows[1].dropped.as_str(), rows[2].dropped.as_str()), ("–", "–"));
        assert_eq!(rows[0].median_days, "1.5 d");
        assert_eq!(rows[0].from_previous, "");
    }

    #[test]
    fn choices_survive_odd_addresses() {
        let c = FunnelChoice::from_query("?steps=a,,b&within=x&by=");
        assert_eq!((c.events.len(), c.within_days, c.by), (2, 7, None));
        assert_eq!(PivotChoice::from_query("?show=nope").show, Show::Counts);
    }
}
