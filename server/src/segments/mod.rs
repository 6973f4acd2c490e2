//! Segment definitions: the wire form, validation, and storage with compare-and-swap.
//!
//! # Layout
//!
//! | item | what it does |
//! |---|---|
//! | [`sync`] | the sync rules (versions, tombstones, revisions, `If-Match`) as a pure state machine |
//! | [`freeze`] | a rule's or a segment's members on a day, frozen into a new static segment in one step |
//! | [`wire::SegmentInput`] → [`SegmentSpec`] | parse, then validate ([`validate`]): the rule goes through `engine::Rule` and is stored in its canonical wire form |
//! | [`view`], [`Written::result`] | what the API answers ([`wire::Segment`], [`wire::WriteResult`]) |
//! | [`load`], [`write()`], [`list_live`] | the metadata store glue: read, decide with [`sync::apply`], check for cycles, store with `segment_cas`, retry on a lost race |
//! | [`check_cycles`], [`GraphLocks`] | refuse a rule that would make a segment depend on itself ([`engine::deps::find_cycle`]), atomically with the write |
//! | [`validate_rule_against_latest_day`], [`on_segment_changed`] | hooks into snapshots and publishing (the latest day now, the rest through [`crate::jobs`]) |
//! | [`SegmentError`] | why a definition or a write was refused, with the field, rule path or cycle the client needs |
//!
//! The HTTP handlers are in [`crate::routes::segments`]; `crate::error` turns a
//! [`SegmentError`] into the HTTP answer.

pub mod freeze;
pub mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use engine::Rule;
use engine::deps::find_cycle;
use wire::{Segment, SegmentInput, WriteOutcome, WriteResult};

use crate::snapshots::{SnapshotError, Snapshots};
use crate::state::AppState;
use crate::store::{Meta, StoreError};
use serde_json::Value;
use sync::{Change, Mutation, Op, Outcome, SegmentKind, SegmentRecord, SegmentSpec};

/// Longest segment name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Compare-and-swap attempts before a write gives up (each loss means another write landed).
const MAX_CAS_ATTEMPTS: usize = 32;

/// Why a segment definition or write was refused. Each variant carries what the client needs
/// to find the problem (a field, a path inside the rule, the cycle).
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// A field of the definition is invalid.
    #[error("{field}: {message}")]
    InvalidField {
        /// The field at fault (`name`, `description`, `rule`, `kind`).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The rule does not parse or names what the latest day does not have.
    #[error("{0}")]
    InvalidRule(#[from] engine::RuleError),
    /// The rule would make a segment depend on itself.
    #[error("{message}")]
    Cycle {
        /// JSON path, inside the rule, of the reference that closes (or leads to) the cycle.
        path: String,
        /// The segments along the cycle, the first repeated at the end (`["a", "b", "a"]`).
        cycle: Vec<String>,
        /// What is wrong, in a sentence.
        message: String,
    },
    /// `If-Match` names a version that is no longer current.
    #[error("the segment changed: If-Match does not match the current ETag")]
    PreconditionFailed,
    /// An unversioned create of a segment that is live.
    #[error("segment `{0}` exists; update it with PUT, or send a higher version")]
    Exists(String),
    /// Other writes kept winning the compare-and-swap.
    #[error("segment `{0}` is changing too fast; retry")]
    Contended(String),
    /// An unversioned update or delete of a segment that does not exist.
    #[error("no segment `{0}`")]
    NotFound(String),
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The latest day could not be read.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A record did not serialise (a bug).
    #[error("segment record does not serialise: {0}")]
    Encode(#[source] serde_json::Error),
}

impl SegmentError {
    fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidField { field, message: message.into() }
    }
}

/// Checks the body of `POST …/segments` or `PUT …/segments/{id}` (the loose wire form; its
/// `id` and `version` are the caller's) and parses the rule into its canonical form.
///
/// ```
/// let body: wire::SegmentInput = serde_json::from_str(
///     r#"{"name":"Women","kind":"dynamic","rule":{"tag":"gender","in":["female"]}}"#).unwrap();
/// let (spec, _rule) = server::segments::validate(body).unwrap();
/// assert_eq!(spec.rule.unwrap()["in"][0], "female");
/// ```
///
/// # Errors
/// [`SegmentError::InvalidRule`] with the JSON path inside the rule, or
/// [`SegmentError::InvalidField`] naming the field.
pub fn validate(body: SegmentInput) -> Result<(SegmentSpec, Option<Rule>), SegmentError> {
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(SegmentError::field("name", format!("1 to {MAX_NAME_CHARS} characters")));
    }
    let description = body.description.unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(SegmentError::field("description", format!("at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    let kind = body.kind.unwrap_or(if body.rule.is_some() { SegmentKind::Dynamic } else { SegmentKind::Static });
    let rule = match (kind, body.rule.map(|r| r.0)) {
        (SegmentKind::Dynamic, None) => {
            return Err(SegmentError::field("rule", "a dynamic segment needs a rule"));
        }
        (SegmentKind::Dynamic, Some(value)) => Some(Rule::from_json(&value)?),
        (SegmentKind::Static, None) => None,
        (SegmentKind::Static, Some(_)) => {
            return Err(SegmentError::field(
                "kind",
                "`static` contradicts the rule in the body: a static segment has no rule (upload its members \
                 with PUT …/segments/{id}/members); send `dynamic`, or leave `kind` out",
            ));
        }
    };
    let spec = SegmentSpec { name, description, kind, rule: rule.as_ref().map(Rule::to_json) };
    Ok((spec, rule))
}

/// Checks the rule of segment `id` against the names (tag groups, values, segments) of the
/// app's latest published day, so a typo is a 400 when the segment is saved rather than an
/// empty segment later. Segment references may name any live segment (its members are computed
/// with this one), and the segment itself, so a rule naming its own segment is refused as the
/// cycle it is ([`check_cycles`]), not as an unknown name. Before the first day is published
/// there is nothing to check against.
///
/// # Errors
/// [`SegmentError::InvalidRule`] with the path of the unknown name; store failures.
pub fn validate_rule_against_latest_day(
    state: &AppState,
    app: &str,
    id: &str,
    rule: &Rule,
) -> Result<(), SegmentError> {
    let Some((_, day)) = state.snapshots.day(app, None)? else { return Ok(()) };
    let manifest = state.snapshots.manifest(&day.manifest)?;
    let earlier = state.snapshots.earlier_days(app, &manifest.ds, rule.longest_window())?;
    let mut catalog = Snapshots::catalog(&manifest, &earlier, state.config.retention_days);
    let live = list_live(&state.meta, app)?;
    for known in live.iter().map(|r| r.id.as_str()).chain([id]) {
        if !catalog.has_segment(known) {
            catalog.add_segment(known, 0);
        }
    }
    engine::Plan::validate(rule, &catalog)?;
    Ok(())
}

/// Called after a segment change was stored (created, updated, deleted, or given members),
/// before the answer goes out. The store queued every published day on the app's durable
/// segments job in the same transaction as the change ([`crate::jobs`]); this runs the latest
/// day at once, so estimates, exports and `/user/tags` see the change when the answer arrives,
/// and wakes the worker for the other days (newest first). If this step fails, the job keeps
/// the day and the worker retries it.
pub async fn on_segment_changed(state: &AppState, app: &str, record: &SegmentRecord) {
    let latest = {
        let snaps = state.snapshots.clone();
        let app_id = app.to_owned();
        tokio::task::spawn_blocking(move || snaps.day(&app_id, None)).await
    };
    match latest {
        Ok(Ok(Some((ds, _)))) => match crate::jobs::worker::run_day(state, app, &ds).await {
            Ok(_) => tracing::info!(app, segment = %record.id, ds, "segment members recomputed on the latest day"),
            Err(e) => {
                tracing::error!(app, segment = %record.id, error = %e, "recomputing the latest day failed; the job retries it")
            }
        },
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::error!(app, error = %e, "reading the latest day failed; the job recomputes it"),
        Err(e) => tracing::error!(app, error = %e, "reading the latest day panicked; the job recomputes it"),
    }
    state.jobs.wake();
}

/// A live segment as the API shows it; `None` for a tombstone.
pub fn view(record: &SegmentRecord) -> Option<Segment> {
    let live = record.live()?;
    Some(Segment {
        id: record.id.clone(),
        name: live.spec.name.clone(),
        description: live.spec.description.clone(),
        kind: live.spec.kind,
        rule: live.spec.rule.clone().map(wire::Rule),
        members: live.members.clone(),
        version: record.version,
        revision: record.revision,
        created_ms: record.created_ms,
        updated_ms: record.updated_ms,
    })
}

/// What [`write()`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Stored.
    Applied {
        /// The record now stored.
        record: SegmentRecord,
        /// What happened.
        change: Change,
    },
    /// Ignored: the stored version is at least as high.
    Stale {
        /// The record that stays (absent if only an expired tombstone was there).
        current: Option<SegmentRecord>,
        /// Its version.
        stored_version: u64,
    },
}

impl Written {
    /// The answer's body.
    pub fn result(&self) -> WriteResult {
        match self {
            Written::Applied { record, change } => WriteResult {
                applied: true,
                result: match change {
                    Change::Created => WriteOutcome::Created,
                    Change::Updated => WriteOutcome::Updated,
                    Change::Deleted => WriteOutcome::Deleted,
                },
                version: record.version,
                segment: view(record),
            },
            Written::Stale { current, stored_version } => WriteResult {
                applied: false,
                result: WriteOutcome::Stale,
                version: Some(*stored_version),
                segment: current.as_ref().and_then(view),
            },
        }
    }

    /// The `ETag` to answer with: the current live record's.
    pub fn etag(&self) -> Option<String> {
        let record = match self {
            Written::Applied { record, .. } => Some(record),
            Written::Stale { current, .. } => current.as_ref(),
        }?;
        record.live().map(|_| record.etag())
    }
}

fn decode(id: &str, bytes: &[u8]) -> Result<SegmentRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Record { what: format!("segment {id}"), source })
}

fn encode(record: &SegmentRecord) -> Result<Vec<u8>, SegmentError> {
    serde_json::to_vec(record).map_err(SegmentError::Encode)
}

/// The stored record of a segment (tombstones included), with its exact bytes for a later
/// compare-and-swap.
///
/// # Errors
/// The store fails or the record does not decode.
pub fn load(meta: &Meta, app: &str, id: &str) -> Result<Option<(Vec<u8>, SegmentRecord)>, StoreError> {
    match meta.segment_get(app, id)? {
        Some(bytes) => {
            let record = decode(id, &bytes)?;
            Ok(Some((bytes, record)))
        }
        None => Ok(None),
    }
}

/// Every live segment of an app, by id (tombstones left out).
///
/// # Errors
/// The store fails or a record does not decode.
pub fn list_live(meta: &Meta, app: &str) -> Result<Vec<SegmentRecord>, StoreError> {
    let mut out = Vec::new();
    for (id, bytes) in meta.segment_list(app)? {
        let record = decode(&id, &bytes)?;
        if record.live().is_some() {
            out.push(record);
        }
    }
    Ok(out)
}

/// Serialises, per app, the writes that give a segment a rule naming other segments, so that
/// checking for cycles and storing are one step: two concurrent writes (`a` uses `b`, `b` uses
/// `a`) cannot each pass the check and close a cycle together. Other writes (rules naming no
/// segment, static segments, deletes) add no reference, so they cannot close a cycle and take
/// no lock. One process; replicas would check in the store's transaction.
#[derive(Debug, Default)]
pub struct GraphLocks {
    apps: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl GraphLocks {
    pub(crate) fn get(&self, app: &str) -> Arc<Mutex<()>> {
        let mut apps = self.apps.lock().unwrap_or_else(PoisonError::into_inner);
        apps.entry(app.to_owned()).or_default().clone()
    }
}

/// Whether a stored rule names a segment or a tag (a rule that does not parse is skipped by
/// publishing, so it computes nothing and depends on nothing).
fn names_anything(rule: &Value) -> bool {
    Rule::from_json(rule).is_ok_and(|r| !r.segment_refs().is_empty() || !crate::governance::tag_refs(&r).is_empty())
}

/// Refuses `rule` as the rule of segment `id` when it would make a segment depend on itself:
/// `id` naming itself, or naming segments that lead back to it (`a` → `b` → `a`, or longer), or
/// naming segments caught in a cycle saved before cycles were checked. The 400 names the cycle
/// and the path, inside `rule`, of the reference that leads into it.
///
/// # Errors
/// [`SegmentError::Cycle`]; store failures.
pub fn check_cycles(meta: &Meta, app: &str, id: &str, rule: &Value) -> Result<(), SegmentError> {
    let Ok(parsed) = Rule::from_json(rule) else { return Ok(()) };
    // Segments and composite tags (issue 15, nodes `tag:<group>`) may name each other.
    let (mut graph, composites) = crate::governance::composites::graph(meta, app)?;
    let refs = crate::governance::composites::rule_refs(&parsed, &composites);
    if refs.is_empty() {
        return Ok(());
    }
    graph.insert(id.to_owned(), refs.iter().map(|(_, target)| target.clone()).collect());
    let Some(cycle) = find_cycle(&graph, id) else { return Ok(()) };
    let through_id = cycle.first().is_some_and(|first| first == id);
    let leads_in = |target: &String| {
        if through_id { cycle.get(1) == Some(target) } else { find_cycle(&graph, target).is_some() }
    };
    let path = refs.iter().find(|(_, target)| leads_in(target)).map_or_else(|| "$".to_owned(), |(p, _)| p.clone());
    let shown = cycle.join(" → ");
    let message = if through_id {
        format!("segment `{id}` would depend on itself: {shown}")
    } else {
        format!("the segments this rule uses depend on themselves: {shown}")
    };
    Err(SegmentError::Cycle { path, cycle, message })
}

/// Applies one mutation to segment `id` of `app`: checks `If-Match`, decides with
/// [`sync::apply`] at `now_ms`, refuses a rule that would close a cycle ([`check_cycles`],
/// under the app's [`GraphLocks`] when the rule names segments), stores with a
/// compare-and-swap, and starts again from the new state when another write won the race (so
/// concurrent writers never lose an update).
///
/// # Errors
/// 412 when `if_match` does not match, 409 for an unversioned create of a live segment, 404
/// for an unversioned update or delete of an absent one, 400 for a cycle; store failures.
pub fn write(
    meta: &Meta,
    graphs: &GraphLocks,
    app: &str,
    id: &str,
    mutation: &Mutation,
    if_match: Option<&str>,
    now_ms: u64,
) -> Result<Written, SegmentError> {
    // Only a rule naming segments or tags (composite tags may lead back) can close a cycle
    // (removing references never does).
    let adds_references = match &mutation.op {
        Op::Create(spec) | Op::Update(spec) => spec.rule.as_ref().is_some_and(names_anything),
        Op::Delete => false,
    };
    let lock = adds_references.then(|| graphs.get(app));
    let _serial = lock.as_ref().map(|l| l.lock().unwrap_or_else(PoisonError::into_inner));
    for _ in 0..MAX_CAS_ATTEMPTS {
        let stored = load(meta, app, id)?;
        let (bytes, current) = match stored {
            Some((bytes, record)) => (Some(bytes), Some(record)),
            None => (None, None),
        };
        if !sync::if_match(if_match, current.as_ref(), now_ms) {
            return Err(SegmentError::PreconditionFailed);
        }
        match sync::apply(current.as_ref(), id, mutation, now_ms) {
            Outcome::Applied { record, change } => {
                if let Some(rule) = record.live().and_then(|l| l.spec.rule.as_ref()) {
                    check_cycles(meta, app, id, rule)?;
                }
                if meta.segment_cas(app, id, bytes.as_deref(), &encode(&record)?)? {
                    return Ok(Written::Applied { record, change });
                }
                // Another write landed in between: decide again from what it left.
            }
            Outcome::Stale { stored_version } => {
                let current = current.filter(|r| !r.is_expired_tombstone(now_ms));
                return Ok(Written::Stale { current, stored_version });
            }
            Outcome::Conflict => {
                return Err(SegmentError::Exists(id.to_owned()));
            }
            Outcome::NotFound => return Err(SegmentError::NotFound(id.to_owned())),
        }
    }
    Err(SegmentError::Contended(id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> (tempfile::TempDir, Meta) {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta::open(&dir.path().join("meta.redb")).expect("open");
        (dir, meta)
    }

    fn body(json: serde_json::Value) -> Result<(SegmentSpec, Option<Rule>), SegmentError> {
        validate(serde_json::from_value::<SegmentInput>(json).expect("shape"))
    }

    #[test]
    fn validation_names_the_problem() {
        let err = body(serde_json::json!({"name": "x", "kind": "dynamic",
            "rule": {"all": [{"tag": "a", "in": ["b"]}, {"tag": "c", "in": ["d"]}, {"not": 3}]}}))
        .expect_err("bad rule");
        let SegmentError::InvalidRule(e) = err else { panic!("{err:?}") };
        assert_eq!(e.path, "all[2].not");
        let err = body(serde_json::json!({"name": " ", "kind": "static"})).expect_err("blank name");
        assert!(matches!(err, SegmentError::InvalidField { field: "name", .. }), "{err:?}");
        let err = body(serde_json::json!({"name": "x", "kind": "dynamic"})).expect_err("no rule");
        assert!(matches!(err, SegmentError::InvalidField { field: "rule", .. }), "{err:?}");
        let err = body(serde_json::json!({"name": "x", "kind": "static", "rule": {"segment": "a"}}))
            .expect_err("static with rule");
        assert!(matches!(err, SegmentError::InvalidField { field: "kind", .. }), "{err:?}");
        // Without a kind, the body says which.
        let (spec, _) = body(serde_json::json!({"name": "x", "rule": {"segment": "a"}})).expect("dynamic");
        assert_eq!(spec.kind, SegmentKind::Dynamic);
        let (spec, _) = body(serde_json::json!({"name": "x"})).expect("static");
        assert_eq!((spec.kind, spec.rule), (SegmentKind::Static, None));
    }

    #[test]
    fn cycles_are_refused_before_they_are_stored() {
        let (_d, meta) = meta();
        let graphs = GraphLocks::default();
        let seg = |rule: Value| {
            let (spec, _) = body(serde_json::json!({"name": "s", "rule": rule})).expect("valid");
            Mutation { op: Op::Create(spec), version: None }
        };
        let update = |m: Mutation| Mutation {
            op: match m.op {
                Op::Create(s) => Op::Update(s),
                op => op,
            },
            version: None,
        };
        write(&meta, &graphs, "app", "a", &seg(serde_json::json!({"tag": "t", "in": ["v"]})), None, 1).expect("a");
        write(&meta, &graphs, "app", "b", &seg(serde_json::json!({"segment": "a"})), None, 2).expect("b uses a");
        let err =
            write(&meta, &graphs, "app", "a", &update(seg(serde_json::json!({"all": [{"segment": "b"}]}))), None, 3)
                .expect_err("a uses b uses a");
        let SegmentError::Cycle { path, cycle, .. } = err else { panic!("{err:?}") };
        assert_eq!((path.as_str(), cycle), ("all[0].segment", vec!["a".to_owned(), "b".into(), "a".into()]));
        let (_, a) = load(&meta, "app", "a").expect("load").expect("a");
        assert_eq!(a.revision, 1, "nothing was stored");
        // Other apps' segments are not part of the graph; a delete breaks the chain.
        write(&meta, &graphs, "other", "a", &seg(serde_json::json!({"segment": "b"})), None, 4).expect("other app");
        write(&meta, &graphs, "app", "b", &Mutation { op: Op::Delete, version: None }, None, 5).expect("delete b");
        write(&meta, &graphs, "app", "a", &update(seg(serde_json::json!({"segment": "b"}))), None, 6)
            .expect("b is gone");
    }

    #[test]
    fn rules_are_stored_canonically() {
        let (spec, _) = body(serde_json::json!({"name": " Women ", "kind": "dynamic",
            "rule": {"in": ["female"], "tag": "gender"}}))
        .expect("valid");
        assert_eq!(spec.name, "Women");
        assert_eq!(spec.rule.map(|r| r.to_string()).as_deref(), Some(r#"{"tag":"gender","in":["female"]}"#));
    }

    #[test]
    fn write_goes_through_the_store() {
        let (_d, meta) = meta();
        let graphs = GraphLocks::default();
        let (spec, _) = body(serde_json::json!({"name": "s", "kind": "static"})).expect("valid");
        let create = Mutation { op: Op::Create(spec.clone()), version: Some(2) };
        let w = write(&meta, &graphs, "app", "s", &create, None, 10).expect("write");
        let Written::Applied { record, change: Change::Created } = &w else { panic!("{w:?}") };
        let etag = record.etag();
        assert_eq!(load(&meta, "app", "s").expect("load").map(|(_, r)| r).as_ref(), Some(record));
        // Stale.
        let old = Mutation { op: Op::Update(spec.clone()), version: Some(1) };
        let w2 = write(&meta, &graphs, "app", "s", &old, None, 11).expect("write");
        assert_eq!(w2.result().result, WriteOutcome::Stale);
        assert_eq!(w2.etag(), Some(etag.clone()));
        // If-Match.
        let upd = Mutation { op: Op::Update(spec.clone()), version: None };
        assert!(matches!(
            write(&meta, &graphs, "app", "s", &upd, Some("\"0-0\""), 12),
            Err(SegmentError::PreconditionFailed)
        ));
        let w3 = write(&meta, &graphs, "app", "s", &upd, Some(&etag), 12).expect("write");
        assert_eq!(w3.result().result, WriteOutcome::Updated);
        // Tombstones are not listed; other apps are separate.
        let del = Mutation { op: Op::Delete, version: Some(3) };
        assert_eq!(write(&meta, &graphs, "app", "s", &del, None, 13).expect("delete").result().segment, None);
        assert!(list_live(&meta, "app").expect("list").is_empty());
        assert!(write(&meta, &graphs, "other", "s", &upd, None, 14).is_err(), "not in the other app");
        // Unversioned create of a live one.
        write(&meta, &graphs, "app", "t", &Mutation { op: Op::Create(spec.clone()), version: None }, None, 15)
            .expect("t");
        let again = write(&meta, &graphs, "app", "t", &Mutation { op: Op::Create(spec), version: None }, None, 16);
        assert!(matches!(again, Err(SegmentError::Exists(_))));
        assert_eq!(list_live(&meta, "app").expect("list").len(), 1);
    }

    #[test]
    fn concurrent_writers_lose_no_update() {
        let (_d, meta) = meta();
        let meta = std::sync::Arc::new(meta);
        let graphs = std::sync::Arc::new(GraphLocks::default());
        let (spec, _) = body(serde_json::json!({"name": "s", "kind": "static"})).expect("valid");
        write(&meta, &graphs, "app", "s", &Mutation { op: Op::Create(spec.clone()), version: None }, None, 1)
            .expect("create");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (meta, graphs) = (meta.clone(), graphs.clone());
                let spec = spec.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        let m = Mutation { op: Op::Update(spec.clone()), version: None };
                        write(&meta, &graphs, "app", "s", &m, None, 2).expect("update");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let (_, record) = load(&meta, "app", "s").expect("load").expect("present");
        assert_eq!(record.revision, 41, "every update bumped the revision exactly once");
    }
}
