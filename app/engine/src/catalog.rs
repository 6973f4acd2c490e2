//! What a rule can name on one day: tag groups with their values, numeric columns, the
//! events uploaded on the days a window may read, and segments. Built from a snapshot's
//! manifest (plus the event lists of earlier days, and the app's segment list); rules are
//! validated against it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;

/// How a tag group's values behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagKind {
    /// Named values (gender, province); a user may hold several (interests).
    Categorical,
    /// `true` (and possibly `false`); absence means not true.
    Boolean,
    /// Numbers, compared by range.
    Numeric,
}

/// One tag group as validation sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInfo {
    /// Users holding each value.
    pub values: BTreeMap<String, u64>,
    /// The column of a numeric group.
    pub numeric: Option<NumericInfo>,
}

/// How a numeric group's values are stored (see [`crate::bsi::NumericColumn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumericInfo {
    /// Decimals kept.
    pub scale: u32,
    /// Subtracted from scaled values (the smallest one).
    pub offset: i64,
    /// The largest scaled value.
    pub max: i64,
    /// Users with a value.
    pub count: u64,
}

/// The days an event window can read: which events were uploaded on each retained day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventDays {
    /// Events uploaded per day (`YYYY-MM-DD`); a day missing here had no event upload at all.
    pub days: BTreeMap<String, BTreeSet<String>>,
    /// Days of data the app keeps: no window may be longer.
    pub retained_days: u32,
}

/// The names a rule may use, with the sizes used to order evaluation.
///
/// ```
/// let mut c = engine::Catalog::new(1_000);
/// c.add_value("gender", "female", 480);
/// c.add_segment("vip", 12);
/// assert_eq!(c.value_count("gender", "female"), Some(480));
/// assert!(c.has_segment("vip"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// Users in the snapshot.
    pub universe: u64,
    /// Tag groups by name.
    pub groups: BTreeMap<String, GroupInfo>,
    /// Segment sizes by id.
    pub segments: BTreeMap<String, u64>,
    /// The snapshot's day (`YYYY-MM-DD`): event windows end on it.
    pub ds: String,
    /// Event uploads of the days up to `ds`.
    pub events: EventDays,
}

impl Catalog {
    /// An empty catalog over `universe` users.
    pub fn new(universe: u64) -> Catalog {
        let events = EventDays { retained_days: crate::rule::MAX_WINDOW_DAYS, ..EventDays::default() };
        Catalog { universe, events, ..Catalog::default() }
    }

    /// The catalog of a snapshot: its tag groups and the segments computed for its day.
    pub fn from_manifest(m: &Manifest) -> Catalog {
        let mut c = Catalog::new(m.universe.count);
        c.ds = m.ds.clone();
        for g in &m.groups {
            let info = c.groups.entry(g.name.clone()).or_default();
            for v in &g.values {
                info.values.insert(v.value.clone(), v.count);
            }
            info.numeric = g.numeric.as_ref().map(|n| NumericInfo {
                scale: n.scale,
                offset: n.offset,
                max: n.max,
                count: n.bsi.exists.full.count,
            });
        }
        c.add_event_day(m);
        for seg in &m.segments {
            c.add_segment(&seg.id, seg.members.full.count);
        }
        c
    }

    /// Records the events uploaded on a manifest's day (for windows that reach back to it).
    pub fn add_event_day(&mut self, m: &Manifest) {
        self.events.days.insert(m.ds.clone(), m.events.iter().map(|e| e.name.clone()).collect());
    }

    /// Adds (or replaces) a numeric group.
    pub fn add_numeric(&mut self, group: &str, info: NumericInfo) {
        self.groups.entry(group.to_owned()).or_default().numeric = Some(info);
    }

    /// Adds (or updates) a tag value.
    pub fn add_value(&mut self, group: &str, value: &str, count: u64) {
        self.groups.entry(group.to_owned()).or_default().values.insert(value.to_owned(), count);
    }

    /// Adds (or updates) a segment.
    pub fn add_segment(&mut self, id: &str, size: u64) {
        self.segments.insert(id.to_owned(), size);
    }

    /// Users holding a value, if the group has it.
    pub fn value_count(&self, group: &str, value: &str) -> Option<u64> {
        self.groups.get(group)?.values.get(value).copied()
    }

    /// Whether a segment exists.
    pub fn has_segment(&self, id: &str) -> bool {
        self.segments.contains_key(id)
    }
}
