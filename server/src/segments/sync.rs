//! The sync rules for segment mutations, as a pure state machine (DESIGN.md §7).
//!
//! Upstream systems push segment create / update / delete as tasks that are retried and
//! reordered. [`apply`] decides what one such mutation does to the stored [`SegmentRecord`];
//! it reads no clock and does no I/O, so the rules are tested here exhaustively and the HTTP
//! layer only loads, calls [`apply`], and stores with a compare-and-swap.
//!
//! # The rules
//!
//! A mutation may carry a **version**, monotonic per segment:
//! - a version **lower than or equal to** the stored one is ignored and reported
//!   [`Outcome::Stale`] (equal is a duplicate delivery of the same message);
//! - a higher version always applies, whatever the stored state: a versioned **update** of a
//!   segment not seen yet creates it (the create is late), a versioned **create** of a live
//!   segment replaces it (the delete in between was lost or is late), a versioned **delete** of
//!   a segment never seen records a tombstone (the create may be on its way).
//!
//! A **delete** leaves a tombstone carrying the version, kept [`TOMBSTONE_RETENTION_MS`]
//! (30 days, longer than any retry window), so a late create with a lower version does not
//! resurrect the segment. An expired tombstone counts as absent.
//!
//! A mutation **without a version** always applies when it makes sense and keeps the stored
//! version: an unversioned create of a live segment is [`Outcome::Conflict`], an unversioned
//! update or delete of an absent (or deleted) segment is [`Outcome::NotFound`].
//!
//! Hence the property the tests check: for any set of versioned messages (one version per
//! message and segment), delivered in any order with any duplication, the final state of each
//! segment is the one its highest-version message describes.
//!
//! Every applied change bumps the record's **revision**, the counter the HTTP layer's `ETag`
//! is made of ([`SegmentRecord::etag`]); [`if_match`] checks an `If-Match` header against it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a tombstone blocks lower-version writes: 30 days, in milliseconds.
pub const TOMBSTONE_RETENTION_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Whether a segment is a rule or a frozen member list (stored as the API names it).
pub use wire::SegmentKind;

/// What a client defines about a segment: the writable fields, already validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSpec {
    /// Display name.
    pub name: String,
    /// Free text; empty when not given.
    #[serde(default)]
    pub description: String,
    /// Dynamic or static.
    pub kind: SegmentKind,
    /// The rule in the engine's canonical wire form (`engine::Rule::to_json`); `Some` exactly
    /// when the segment is dynamic.
    #[serde(default)]
    pub rule: Option<Value>,
}

/// The uploaded members of a static segment (written by the members upload, not by sync;
/// stored as the API shows them).
pub use wire::StaticMembers;

/// A segment as it exists (not deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSegment {
    /// The client-defined fields.
    pub spec: SegmentSpec,
    /// For static segments, the uploaded members once there are some.
    #[serde(default)]
    pub members: Option<StaticMembers>,
}

/// Live or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentState {
    /// The segment exists.
    Live(LiveSegment),
    /// A tombstone: the segment was deleted at `deleted_ms` (Unix milliseconds).
    Deleted {
        /// When the (last applied) delete happened.
        deleted_ms: u64,
    },
}

/// What the metadata store keeps per segment (serialised as JSON; the store treats it as opaque bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRecord {
    /// The segment id (as in the path).
    pub id: String,
    /// Highest sync version applied; `None` while only unversioned writes happened.
    #[serde(default)]
    pub version: Option<u64>,
    /// Bumped by every applied change, never reused for this id (also across delete and
    /// re-create); the `ETag` is made of it.
    pub revision: u64,
    /// When the current life of the segment began (create, or re-create after a delete).
    pub created_ms: u64,
    /// When the last applied change happened.
    pub updated_ms: u64,
    /// Live or tombstone.
    pub state: SegmentState,
}

impl SegmentRecord {
    /// The live segment, unless this is a tombstone.
    pub fn live(&self) -> Option<&LiveSegment> {
        match &self.state {
            SegmentState::Live(live) => Some(live),
            SegmentState::Deleted { .. } => None,
        }
    }

    /// Whether this is a tombstone that no longer blocks anything at `now_ms`.
    pub fn is_expired_tombstone(&self, now_ms: u64) -> bool {
        match self.state {
            SegmentState::Deleted { deleted_ms } => now_ms.saturating_sub(deleted_ms) >= TOMBSTONE_RETENTION_MS,
            SegmentState::Live(_) => false,
        }
    }

    /// The strong entity tag of this revision, quoted as it goes in an `ETag` header.
    ///
    /// `created_ms` is part of it so a tag can never match a later segment of the same id
    /// after its tombstone expired and the revision counter started again.
    ///
    /// ```
    /// # use server::segments::sync::*;
    /// let r = SegmentRecord { id: "s".into(), version: None, revision: 3, created_ms: 17,
    ///     updated_ms: 17, state: SegmentState::Deleted { deleted_ms: 17 } };
    /// assert_eq!(r.etag(), "\"3-17\"");
    /// ```
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.revision, self.created_ms)
    }
}

/// What a mutation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create (or, with a higher version, replace).
    Create(SegmentSpec),
    /// Replace the spec (or, with a version, create if absent).
    Update(SegmentSpec),
    /// Delete, leaving a tombstone.
    Delete,
}

/// One mutation message: an operation and its optional sync version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// What to do.
    pub op: Op,
    /// The sender's version for this segment, if it tracks one.
    pub version: Option<u64>,
}

/// What an applied mutation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// A segment came into existence (also: re-created after a tombstone).
    Created,
    /// A live segment's spec was replaced.
    Updated,
    /// A tombstone was written (or a tombstone's version raised).
    Deleted,
}

/// The decision for one mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(clippy::large_enum_variant, reason = "returned once per mutation and consumed at once; a Box buys nothing")]
pub enum Outcome {
    /// The mutation applies: store this record.
    Applied {
        /// The record to store.
        record: SegmentRecord,
        /// What happened.
        change: Change,
    },
    /// The version is not higher than the stored one: nothing changes.
    Stale {
        /// The version stored.
        stored_version: u64,
    },
    /// An unversioned create of a segment that exists.
    Conflict,
    /// An unversioned update or delete of a segment that does not exist (or is deleted).
    NotFound,
}

/// Decides what `mutation` does to the stored record `current` of segment `id` at `now_ms`.
///
/// Pure: the caller stores [`Outcome::Applied::record`] (with a compare-and-swap against
/// `current`) and reports the rest.
///
/// ```
/// use server::segments::sync::*;
/// let spec = SegmentSpec { name: "VIP".into(), description: String::new(),
///     kind: SegmentKind::Static, rule: None };
/// let create = |v| Mutation { op: Op::Create(spec.clone()), version: Some(v) };
/// let delete = |v| Mutation { op: Op::Delete, version: Some(v) };
///
/// // The delete (v2) overtakes the create (v1): the tombstone stops the late create.
/// let Outcome::Applied { record, .. } = apply(None, "vip", &delete(2), 1_000) else { panic!() };
/// assert_eq!(apply(Some(&record), "vip", &create(1), 2_000), Outcome::Stale { stored_version: 2 });
/// // A newer create does apply.
/// assert!(matches!(apply(Some(&record), "vip", &create(3), 3_000),
///     Outcome::Applied { change: Change::Created, .. }));
/// ```
pub fn apply(current: Option<&SegmentRecord>, id: &str, mutation: &Mutation, now_ms: u64) -> Outcome {
    // An expired tombstone is forgotten except for its revision, which keeps counting so that
    // old ETags never match again.
    let effective = current.filter(|r| !r.is_expired_tombstone(now_ms));
    let stored_version = effective.and_then(|r| r.version);
    if let (Some(v), Some(stored)) = (mutation.version, stored_version)
        && v <= stored
    {
        return Outcome::Stale { stored_version: stored };
    }
    let version = mutation.version.or(stored_version);
    let revision = current.map_or(0, |r| r.revision) + 1;
    let versioned = mutation.version.is_some();
    let live = effective.and_then(SegmentRecord::live);
    let record = |created_ms: u64, state: SegmentState| SegmentRecord {
        id: id.to_owned(),
        version,
        revision,
        created_ms,
        updated_ms: now_ms,
        state,
    };
    let fresh = |spec: &SegmentSpec| SegmentState::Live(LiveSegment { spec: spec.clone(), members: None });
    match (&mutation.op, live) {
        (Op::Create(_), Some(_)) if !versioned => Outcome::Conflict,
        (Op::Create(spec), Some(_)) => {
            // A newer create replaces a live segment: its life goes on (same created_ms), but
            // it is a new definition, so uploaded members do not carry over.
            let created_ms = effective.map_or(now_ms, |r| r.created_ms);
            Outcome::Applied { record: record(created_ms, fresh(spec)), change: Change::Updated }
        }
        (Op::Create(spec), None) => Outcome::Applied { record: record(now_ms, fresh(spec)), change: Change::Created },
        (Op::Update(spec), Some(old)) => {
            let created_ms = effective.map_or(now_ms, |r| r.created_ms);
            // Members stay while the segment stays static.
            let members = if spec.kind == SegmentKind::Static { old.members.clone() } else { None };
            let state = SegmentState::Live(LiveSegment { spec: spec.clone(), members });
            Outcome::Applied { record: record(created_ms, state), change: Change::Updated }
        }
        (Op::Update(spec), None) if versioned => {
            Outcome::Applied { record: record(now_ms, fresh(spec)), change: Change::Created }
        }
        (Op::Update(_), None) => Outcome::NotFound,
        (Op::Delete, Some(_)) => {
            let created_ms = effective.map_or(now_ms, |r| r.created_ms);
            Outcome::Applied {
                record: record(created_ms, SegmentState::Deleted { deleted_ms: now_ms }),
                change: Change::Deleted,
            }
        }
        (Op::Delete, None) if versioned => {
            let created_ms = effective.map_or(now_ms, |r| r.created_ms);
            Outcome::Applied {
                record: record(created_ms, SegmentState::Deleted { deleted_ms: now_ms }),
                change: Change::Deleted,
            }
        }
        (Op::Delete, None) => Outcome::NotFound,
    }
}

/// Whether a write may go ahead under the request's `If-Match` header value.
///
/// No header: yes. `*`: when the segment exists (live). A list of entity tags: when one of them
/// is the current [`SegmentRecord::etag`] of a live segment, compared strongly (weak tags
/// `W/"…"` never match, RFC 9110 §13.1.1). A deleted or absent segment matches no tag.
///
/// ```
/// use server::segments::sync::*;
/// assert!(if_match(None, None, 0));
/// assert!(!if_match(Some("*"), None, 0));
/// assert!(!if_match(Some("\"1-5\""), None, 0));
/// ```
pub fn if_match(header: Option<&str>, current: Option<&SegmentRecord>, now_ms: u64) -> bool {
    let Some(header) = header else {
        return true;
    };
    let Some(record) = current.filter(|r| !r.is_expired_tombstone(now_ms)).filter(|r| r.live().is_some()) else {
        return false;
    };
    let header = header.trim();
    if header == "*" {
        return true;
    }
    let etag = record.etag();
    header.split(',').map(str::trim).any(|tag| tag == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: u64 = 24 * 60 * 60 * 1000;

    fn spec(name: &str) -> SegmentSpec {
        SegmentSpec {
            name: name.into(),
            description: String::new(),
            kind: SegmentKind::Dynamic,
            rule: Some(serde_json::json!({"tag": "gender", "in": ["female"]})),
        }
    }

    fn create(name: &str, v: Option<u64>) -> Mutation {
        Mutation { op: Op::Create(spec(name)), version: v }
    }
    fn update(name: &str, v: Option<u64>) -> Mutation {
        Mutation { op: Op::Update(spec(name)), version: v }
    }
    fn delete(v: Option<u64>) -> Mutation {
        Mutation { op: Op::Delete, version: v }
    }

    /// Applies and unwraps an applied outcome.
    fn applied(current: Option<&SegmentRecord>, m: &Mutation, now: u64) -> (SegmentRecord, Change) {
        match apply(current, "s", m, now) {
            Outcome::Applied { record, change } => (record, change),
            other => panic!("expected applied, got {other:?}"),
        }
    }

    fn name_of(r: &SegmentRecord) -> Option<&str> {
        r.live().map(|l| l.spec.name.as_str())
    }

    #[test]
    fn lower_and_equal_versions_are_stale() {
        let (r, c) = applied(None, &create("a", Some(5)), 1);
        assert_eq!(c, Change::Created);
        assert_eq!(r.version, Some(5));
        assert_eq!(apply(Some(&r), "s", &update("b", Some(4)), 2), Outcome::Stale { stored_version: 5 });
        assert_eq!(apply(Some(&r), "s", &update("b", Some(5)), 2), Outcome::Stale { stored_version: 5 });
        assert_eq!(apply(Some(&r), "s", &delete(Some(5)), 2), Outcome::Stale { stored_version: 5 });
        let (r2, c) = applied(Some(&r), &update("b", Some(6)), 3);
        assert_eq!((c, r2.version, name_of(&r2)), (Change::Updated, Some(6), Some("b")));
        assert_eq!(r2.created_ms, 1, "an update keeps the creation time");
        assert_eq!(r2.updated_ms, 3);
    }

    #[test]
    fn tombstone_blocks_late_create_until_it_expires() {
        let (live, _) = applied(None, &create("a", Some(1)), 0);
        let (tomb, c) = applied(Some(&live), &delete(Some(3)), DAY_MS);
        assert_eq!(c, Change::Deleted);
        assert_eq!(tomb.state, SegmentState::Deleted { deleted_ms: DAY_MS });
        assert_eq!(tomb.version, Some(3));
        // A late create (v2) within 30 days: stale.
        let late = DAY_MS + TOMBSTONE_RETENTION_MS - 1;
        assert_eq!(apply(Some(&tomb), "s", &create("a", Some(2)), late), Outcome::Stale { stored_version: 3 });
        // After 30 days the tombstone is gone: the same message creates.
        let (r, c) = applied(Some(&tomb), &create("a", Some(2)), DAY_MS + TOMBSTONE_RETENTION_MS);
        assert_eq!((c, r.version), (Change::Created, Some(2)));
        assert_eq!(r.revision, tomb.revision + 1, "the revision keeps counting over an expired tombstone");
    }

    #[test]
    fn versioned_delete_of_unknown_segment_records_tombstone() {
        let (tomb, c) = applied(None, &delete(Some(7)), 10);
        assert_eq!((c, tomb.version, tomb.revision), (Change::Deleted, Some(7), 1));
        assert!(tomb.live().is_none());
        assert_eq!(apply(Some(&tomb), "s", &create("a", Some(6)), 20), Outcome::Stale { stored_version: 7 });
        let (r, c) = applied(Some(&tomb), &create("a", Some(8)), 30);
        assert_eq!((c, name_of(&r), r.created_ms), (Change::Created, Some("a"), 30));
    }

    #[test]
    fn versioned_delete_raises_a_tombstones_version() {
        let (t1, _) = applied(None, &delete(Some(2)), 10);
        let (t2, c) = applied(Some(&t1), &delete(Some(4)), 20);
        assert_eq!(
            (c, t2.version, t2.state.clone()),
            (Change::Deleted, Some(4), SegmentState::Deleted { deleted_ms: 20 })
        );
        assert_eq!(apply(Some(&t2), "s", &update("x", Some(3)), 30), Outcome::Stale { stored_version: 4 });
    }

    #[test]
    fn versioned_update_of_unknown_segment_creates_it() {
        let (r, c) = applied(None, &update("u", Some(2)), 5);
        assert_eq!((c, name_of(&r), r.version), (Change::Created, Some("u"), Some(2)));
        assert_eq!(apply(Some(&r), "s", &create("c", Some(1)), 6), Outcome::Stale { stored_version: 2 });
    }

    #[test]
    fn versioned_create_replaces_a_live_segment() {
        let (r, _) = applied(None, &create("a", Some(1)), 5);
        let (r2, c) = applied(Some(&r), &create("b", Some(3)), 6);
        assert_eq!((c, name_of(&r2), r2.created_ms), (Change::Updated, Some("b"), 5));
    }

    #[test]
    fn unversioned_writes_apply_and_keep_the_version() {
        let (r, _) = applied(None, &create("a", Some(4)), 1);
        let (r2, c) = applied(Some(&r), &update("b", None), 2);
        assert_eq!((c, r2.version, name_of(&r2)), (Change::Updated, Some(4), Some("b")));
        assert_eq!(r2.revision, 2);
        // A later versioned message still compares against the kept version.
        assert_eq!(apply(Some(&r2), "s", &update("c", Some(3)), 3), Outcome::Stale { stored_version: 4 });
        let (t, _) = applied(Some(&r2), &delete(None), 4);
        assert_eq!(t.version, Some(4));
        // An unversioned create resurrects a tombstone.
        let (r3, c) = applied(Some(&t), &create("d", None), 5);
        assert_eq!((c, r3.version, r3.created_ms, r3.revision), (Change::Created, Some(4), 5, 4));
    }

    #[test]
    fn unversioned_conflicts_and_not_found() {
        assert_eq!(apply(None, "s", &update("a", None), 1), Outcome::NotFound);
        assert_eq!(apply(None, "s", &delete(None), 1), Outcome::NotFound);
        let (r, _) = applied(None, &create("a", None), 1);
        assert_eq!(r.version, None);
        assert_eq!(apply(Some(&r), "s", &create("a", None), 2), Outcome::Conflict);
        let (t, _) = applied(Some(&r), &delete(None), 3);
        assert_eq!(apply(Some(&t), "s", &delete(None), 4), Outcome::NotFound, "deleting twice");
        assert_eq!(apply(Some(&t), "s", &update("b", None), 4), Outcome::NotFound);
        // Without versions a tombstone blocks nothing: any versioned write applies.
        assert!(matches!(apply(Some(&t), "s", &create("a", Some(1)), 5), Outcome::Applied { .. }));
    }

    #[test]
    fn static_members_survive_updates_that_keep_the_kind() {
        let mut spec_static = spec("s");
        spec_static.kind = SegmentKind::Static;
        spec_static.rule = None;
        let (mut r, _) = applied(None, &Mutation { op: Op::Create(spec_static.clone()), version: None }, 1);
        let members = StaticMembers { blob: "b".into(), count: 3, uploaded_rows: 3, uploaded_ms: 2 };
        if let SegmentState::Live(l) = &mut r.state {
            l.members = Some(members.clone());
        }
        let mut renamed = spec_static.clone();
        renamed.name = "t".into();
        let (r2, _) = applied(Some(&r), &Mutation { op: Op::Update(renamed), version: None }, 3);
        assert_eq!(r2.live().and_then(|l| l.members.clone()), Some(members));
        let (r3, _) = applied(Some(&r2), &update("dyn", None), 4);
        assert_eq!(r3.live().and_then(|l| l.members.clone()), None, "becoming dynamic drops the members");
    }

    #[test]
    fn if_match_rules() {
        let (r, _) = applied(None, &create("a", None), 1);
        let tag = r.etag();
        assert!(if_match(None, Some(&r), 2));
        assert!(if_match(Some("*"), Some(&r), 2));
        assert!(if_match(Some(&tag), Some(&r), 2));
        assert!(if_match(Some(&format!("\"x\", {tag}")), Some(&r), 2));
        assert!(!if_match(Some(&format!("W/{tag}")), Some(&r), 2), "weak tags never match");
        let (r2, _) = applied(Some(&r), &update("b", None), 3);
        assert!(!if_match(Some(&tag), Some(&r2), 4), "stale tag");
        let (t, _) = applied(Some(&r2), &delete(None), 5);
        assert!(!if_match(Some("*"), Some(&t), 6), "a tombstone matches nothing");
        assert!(!if_match(Some(&t.etag()), Some(&t), 6));
    }

    #[test]
    fn etags_differ_across_lives() {
        let (r, _) = applied(None, &create("a", None), 1);
        let (t, _) = applied(Some(&r), &delete(None), 2);
        let (r2, _) = applied(Some(&t), &create("a", None), 3);
        assert_ne!(r.etag(), r2.etag());
        assert_eq!(r2.revision, 3);
    }

    #[test]
    fn record_round_trips_through_json() {
        let (r, _) = applied(None, &create("a", Some(9)), 1);
        let bytes = serde_json::to_vec(&r).expect("encode");
        let back: SegmentRecord = serde_json::from_slice(&bytes).expect("decode");
        assert_eq!(back, r);
        let (t, _) = applied(Some(&r), &delete(Some(10)), 2);
        let text = serde_json::to_string(&t).expect("encode");
        assert!(text.contains("\"deleted\":{\"deleted_ms\":2}"), "{text}");
        assert_eq!(serde_json::from_str::<SegmentRecord>(&text).expect("decode"), t);
    }

    mod properties {
        //! Any order and duplication of versioned messages ends in the highest version's state.
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        const IDS: [&str; 3] = ["a", "b", "c"];

        /// One message as generated: which segment, what, which version.
        #[derive(Debug, Clone)]
        struct Msg {
            id: &'static str,
            mutation: Mutation,
        }

        /// What the oracle expects per segment: live with this spec, or deleted; at this version.
        #[derive(Debug, Clone, PartialEq, Eq)]
        enum Expected {
            Live(SegmentSpec),
            Deleted,
        }

        fn arb_spec() -> impl Strategy<Value = SegmentSpec> {
            (0u8..4, any::<bool>()).prop_map(|(n, dynamic)| SegmentSpec {
                name: format!("name-{n}"),
                description: String::new(),
                kind: if dynamic { SegmentKind::Dynamic } else { SegmentKind::Static },
                rule: dynamic.then(|| serde_json::json!({"segment": format!("x{n}")})),
            })
        }

        fn arb_op() -> impl Strategy<Value = Op> {
            prop_oneof![arb_spec().prop_map(Op::Create), arb_spec().prop_map(Op::Update), Just(Op::Delete),]
        }

        /// Per segment id: distinct versions (a version names one message) with an op each.
        fn arb_messages() -> impl Strategy<Value = Vec<Msg>> {
            let per_id = proptest::collection::btree_map(1u64..40, arb_op(), 0..8);
            proptest::collection::vec(per_id, IDS.len()).prop_map(|maps| {
                maps.into_iter()
                    .zip(IDS)
                    .flat_map(|(m, id)| {
                        m.into_iter().map(move |(v, op)| Msg { id, mutation: Mutation { op, version: Some(v) } })
                    })
                    .collect()
            })
        }

        /// The delivery: every message at least once, some several times, shuffled.
        fn arb_delivery() -> impl Strategy<Value = (Vec<Msg>, Vec<Msg>)> {
            arb_messages().prop_flat_map(|msgs| {
                let n = msgs.len();
                let extra = proptest::collection::vec(0..n.max(1), 0..(2 * n + 1));
                (Just(msgs), extra).prop_flat_map(|(msgs, extra)| {
                    let mut delivered: Vec<Msg> = msgs.clone();
                    if !msgs.is_empty() {
                        delivered.extend(extra.iter().map(|&i| msgs[i].clone()));
                    }
                    (Just(msgs), Just(delivered).prop_shuffle())
                })
            })
        }

        /// The oracle: per id, the state its highest-version message describes.
        fn oracle(msgs: &[Msg]) -> BTreeMap<&'static str, (u64, Expected)> {
            let mut best: BTreeMap<&'static str, (u64, Expected)> = BTreeMap::new();
            for m in msgs {
                let v = m.mutation.version.unwrap_or(0);
                let expected = match &m.mutation.op {
                    Op::Create(s) | Op::Update(s) => Expected::Live(s.clone()),
                    Op::Delete => Expected::Deleted,
                };
                if best.get(m.id).is_none_or(|(bv, _)| v > *bv) {
                    best.insert(m.id, (v, expected));
                }
            }
            best
        }

        /// Runs the delivery through [`apply`] with clocks inside the retention window.
        fn run(delivered: &[Msg], start_ms: u64) -> (BTreeMap<&'static str, SegmentRecord>, Vec<String>) {
            let mut store: BTreeMap<&'static str, SegmentRecord> = BTreeMap::new();
            let mut violations = Vec::new();
            for (i, m) in delivered.iter().enumerate() {
                let now = start_ms + i as u64 * 1000;
                let current = store.get(m.id);
                match apply(current, m.id, &m.mutation, now) {
                    Outcome::Applied { record, .. } => {
                        if let Some(old) = current {
                            if record.revision <= old.revision {
                                violations.push(format!("revision did not grow at {i}"));
                            }
                            if record.version <= old.version {
                                violations.push(format!("version did not grow at {i}"));
                            }
                        }
                        store.insert(m.id, record);
                    }
                    Outcome::Stale { stored_version } => {
                        if m.mutation.version > Some(stored_version) {
                            violations.push(format!("higher version reported stale at {i}"));
                        }
                    }
                    other => violations.push(format!("versioned message gave {other:?} at {i}")),
                }
            }
            (store, violations)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_order_and_duplication_ends_in_highest_version((msgs, delivered) in arb_delivery(),
                                                                 start in 0u64..1_000_000_000_000) {
                let (store, violations) = run(&delivered, start);
                prop_assert!(violations.is_empty(), "{violations:?}");
                let expected = oracle(&msgs);
                prop_assert_eq!(store.len(), expected.len(), "a record for exactly the ids with messages");
                for (id, (version, want)) in &expected {
                    let got = &store[id];
                    prop_assert_eq!(got.version, Some(*version), "{}", id);
                    let got_state = match &got.state {
                        SegmentState::Live(l) => Expected::Live(l.spec.clone()),
                        SegmentState::Deleted { .. } => Expected::Deleted,
                    };
                    prop_assert_eq!(&got_state, want, "{}", id);
                }
            }

            #[test]
            fn delivering_twice_changes_nothing((_msgs, delivered) in arb_delivery()) {
                let (once, _) = run(&delivered, 0);
                let mut twice_delivery = delivered.clone();
                twice_delivery.extend(delivered.iter().cloned());
                let (twice, _) = run(&twice_delivery, 0);
                prop_assert_eq!(once.len(), twice.len());
                for (id, rec) in &once {
                    // Same content; the second round was all stale, so not even the revision moved.
                    prop_assert_eq!(rec, &twice[id]);
                }
            }
        }
    }
}
