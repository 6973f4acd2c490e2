//! One user across the retained days: the Lookup page's timeline of tags and segments, built
//! from one membership answer per day (`GET …/users/{id}/tags?ds=`). Plain Rust, tested
//! natively.

use std::collections::BTreeSet;

use crate::api::UserTags;

/// What a row of the timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowKind {
    /// Membership of a saved segment.
    Segment,
    /// A tag value (`group = value`).
    Tag,
}

/// One day of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// No answer for the day (the user was not known then, or the call failed).
    Unknown,
    /// Not held that day, nor the day before.
    Out,
    /// Held that day and the day before (or the first day shown).
    In,
    /// Held that day, not the day before.
    Entered,
    /// Not held that day, held the day before.
    Left,
}

impl Cell {
    /// Whether the user held the row that day.
    pub const fn holds(self) -> bool {
        matches!(self, Cell::In | Cell::Entered)
    }

    /// The cell's mark, its CSS class and a word for screen readers and CSV.
    pub const fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Cell::Unknown => ("·", "tl-unknown", "no answer"),
            Cell::Out => ("", "tl-out", "no"),
            Cell::In => ("■", "tl-in", "yes"),
            Cell::Entered => ("▲", "tl-entered", "entered"),
            Cell::Left => ("▽", "tl-left", "left"),
        }
    }
}

/// One tag value or segment across the days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRow {
    /// Segment or tag.
    pub kind: RowKind,
    /// The tag group (empty for a segment).
    pub group: String,
    /// The value, or the segment id.
    pub label: String,
    /// One cell per day, oldest first.
    pub cells: Vec<Cell>,
}

impl TimelineRow {
    /// Days on which the row entered or left.
    pub fn changes(&self) -> usize {
        self.cells.iter().filter(|c| matches!(c, Cell::Entered | Cell::Left)).count()
    }
}

/// The grid: days (oldest first) × rows (segments, then tags by group and value).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timeline {
    /// The days, oldest first.
    pub days: Vec<String>,
    /// The rows.
    pub rows: Vec<TimelineRow>,
}

/// The timeline from each day's answer (`None`: no answer that day), days oldest first. A row is
/// every segment or tag value the user held on some day; a change is marked against the
/// previous day with an answer.
///
/// ```
/// use std::collections::BTreeMap;
/// use app::api::UserTags;
/// use app::lookup::{Cell, timeline};
/// let day = |ds: &str, seg: &[&str]| UserTags {
///     user: "u1".into(), ds: ds.into(), version: 1, tags: BTreeMap::new(),
///     segments: seg.iter().map(|s| s.to_string()).collect(),
///     events: BTreeMap::new(), experiments: BTreeMap::new(),
/// };
/// let (a, b) = (day("2026-01-01", &[]), day("2026-01-02", &["vip"]));
/// let t = timeline(&[("2026-01-01".into(), Some(&a)), ("2026-01-02".into(), Some(&b))]);
/// assert_eq!(t.rows[0].cells, [Cell::Out, Cell::Entered]);
/// ```
pub fn timeline(answers: &[(String, Option<&UserTags>)]) -> Timeline {
    let mut keys: BTreeSet<(RowKind, String, String)> = BTreeSet::new();
    for t in answers.iter().filter_map(|(_, t)| *t) {
        keys.extend(t.segments.iter().map(|s| (RowKind::Segment, String::new(), s.clone())));
        for (group, values) in &t.tags {
            keys.extend(values.iter().map(|v| (RowKind::Tag, group.clone(), v.clone())));
        }
    }
    let holds = |t: &UserTags, kind: RowKind, group: &str, label: &str| match kind {
        RowKind::Segment => t.segments.iter().any(|s| s == label),
        RowKind::Tag => t.tags.get(group).is_some_and(|vs| vs.iter().any(|v| v == label)),
    };
    let rows = keys
        .into_iter()
        .map(|(kind, group, label)| {
            let mut before: Option<bool> = None;
            let cells = answers
                .iter()
                .map(|(_, answer)| {
                    let Some(t) = answer else { return Cell::Unknown };
                    let now = holds(t, kind, &group, &label);
                    let cell = match (before, now) {
                        (Some(false), true) => Cell::Entered,
                        (Some(true), false) => Cell::Left,
                        (_, true) => Cell::In,
                        (_, false) => Cell::Out,
                    };
                    before = Some(now);
                    cell
                })
                .collect();
            TimelineRow { kind, group, label, cells }
        })
        .collect();
    Timeline { days: answers.iter().map(|(d, _)| d.clone()).collect(), rows }
}

impl Timeline {
    /// The grid as a table (header first) for CSV: kind, group, value, then one column per day.
    pub fn table(&self) -> Vec<Vec<String>> {
        let mut out =
            vec![["kind", "group", "value"].into_iter().map(str::to_owned).chain(self.days.clone()).collect()];
        for r in &self.rows {
            let kind = match r.kind {
                RowKind::Segment => "segment",
                RowKind::Tag => "tag",
            };
            out.push(
                [kind.to_owned(), r.group.clone(), r.label.clone()]
                    .into_iter()
                    .chain(r.cells.iter().map(|c| c.parts().2.to_owned()))
                    .collect(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn answer(ds: &str, tags: &[(&str, &[&str])], segments: &[&str]) -> UserTags {
        UserTags {
            user: "u".into(),
            ds: ds.into(),
            version: 1,
            tags: tags.iter().map(|(g, vs)| ((*g).to_owned(), vs.iter().map(|v| (*v).to_owned()).collect())).collect(),
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            events: BTreeMap::new(),
            experiments: BTreeMap::new(),
        }
    }

    #[test]
    fn every_row_matches_each_days_answer() {
        let days = [
            answer("d1", &[("city", &["a"]), ("os", &["iOS"])], &["s1"]),
            answer("d3", &[("city", &["b"]), ("os", &["iOS"])], &["s1", "s2"]),
            answer("d4", &[("city", &["b"])], &["s2"]),
        ];
        let answers = vec![
            ("d1".to_owned(), Some(&days[0])),
            ("d2".to_owned(), None),
            ("d3".to_owned(), Some(&days[1])),
            ("d4".to_owned(), Some(&days[2])),
        ];
        let t = timeline(&answers);
        assert_eq!(t.days, ["d1", "d2", "d3", "d4"]);
        let labels: Vec<(RowKind, &str)> = t.rows.iter().map(|r| (r.kind, r.label.as_str())).collect();
        assert_eq!(
            labels,
            [
                (RowKind::Segment, "s1"),
                (RowKind::Segment, "s2"),
                (RowKind::Tag, "a"),
                (RowKind::Tag, "b"),
                (RowKind::Tag, "iOS")
            ]
        );
        // Each known cell says exactly what that day's answer says.
        for r in &t.rows {
            for (cell, (_, a)) in r.cells.iter().zip(&answers) {
                match a {
                    None => assert_eq!(*cell, Cell::Unknown),
                    Some(a) => {
                        let held = match r.kind {
                            RowKind::Segment => a.segments.contains(&r.label),
                            RowKind::Tag => a.tags.get(&r.group).is_some_and(|v| v.contains(&r.label)),
                        };
                        assert_eq!(cell.holds(), held, "{r:?}");
                    }
                }
            }
        }
        // Changes are against the previous day with an answer (d2 is skipped).
        assert_eq!(t.rows[2].cells, [Cell::In, Cell::Unknown, Cell::Left, Cell::Out]);
        assert_eq!(t.rows[4].cells, [Cell::In, Cell::Unknown, Cell::In, Cell::Left]);
        assert_eq!(t.rows[1].changes(), 1);
        let table = t.table();
        assert_eq!(table[0], ["kind", "group", "value", "d1", "d2", "d3", "d4"]);
        assert_eq!(table[3], ["tag", "city", "a", "yes", "no answer", "left", "no"]);
    }

    #[test]
    fn no_answers_no_rows() {
        assert!(timeline(&[("d1".into(), None)]).rows.is_empty());
    }
}
