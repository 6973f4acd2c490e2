//! Segment definitions: the wire form, validation, and storage with compare-and-swap.
//!
//! # Layout
//!
//! | item | what it does |
//! |---|---|
//! | [`sync`] | the sync rules (versions, tombstones, revisions, `If-Match`) as a pure state machine |
//! | [`SegmentBody`] → [`SegmentSpec`] | parse, then validate ([`SegmentBody::validate`]): the rule goes through `engine::Rule` and is stored in its canonical wire form |
//! | [`SegmentView`], [`WriteResult`] | what the API answers |
//! | [`load`], [`write()`], [`list_live`] | the metadata store glue: read, decide with [`sync::apply`], store with `segment_cas`, retry on a lost race |
//! | [`validate_rule_against_latest_day`], [`on_segment_changed`] | hooks into snapshots and publishing |
//!
//! The HTTP handlers are in [`crate::routes::segments`].

pub mod sync;

use engine::Rule;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::snapshots::Snapshots;
use crate::state::AppState;
use crate::store::{Meta, StoreError};
use sync::{Change, Mutation, Outcome, SegmentKind, SegmentRecord, SegmentSpec, StaticMembers};

/// Longest segment name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Compare-and-swap attempts before a write gives up (each loss means another write landed).
const MAX_CAS_ATTEMPTS: usize = 32;

/// The JSON body of `POST …/segments` and `PUT …/segments/{id}` (loose: checked by
/// [`SegmentBody::validate`]). Unknown fields are ignored, so a client may send back what it read.
#[derive(Debug, Clone, Deserialize)]
pub struct SegmentBody {
    /// The segment id (required by POST; PUT takes it from the path and, if given here, it must match).
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// `dynamic` (a rule) or `static` (uploaded members).
    pub kind: SegmentKind,
    /// The rule (DESIGN.md §4), for dynamic segments.
    #[serde(default)]
    pub rule: Option<Value>,
    /// Sync version, monotonic per segment (see [`sync`]).
    #[serde(default)]
    pub version: Option<u64>,
}

impl SegmentBody {
    /// Checks the fields and parses the rule into its canonical form.
    ///
    /// ```
    /// use server::segments::SegmentBody;
    /// let body: SegmentBody = serde_json::from_str(
    ///     r#"{"name":"Women","kind":"dynamic","rule":{"tag":"gender","in":["female"]}}"#).unwrap();
    /// let (spec, _rule) = body.validate().unwrap();
    /// assert_eq!(spec.rule.unwrap()["in"][0], "female");
    /// ```
    ///
    /// # Errors
    /// [`ApiError::InvalidRule`] with the JSON path inside the rule, or
    /// [`ApiError::InvalidField`] naming the field.
    pub fn validate(self) -> Result<(SegmentSpec, Option<Rule>), ApiError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::invalid_field("name", format!("1 to {MAX_NAME_CHARS} characters")));
        }
        let description = self.description.unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ApiError::invalid_field("description", format!("at most {MAX_DESCRIPTION_CHARS} characters")));
        }
        let rule = match (self.kind, self.rule) {
            (SegmentKind::Dynamic, None) => {
                return Err(ApiError::invalid_field("rule", "a dynamic segment needs a rule"));
            }
            (SegmentKind::Dynamic, Some(value)) => Some(
                Rule::from_json(&value)
                    .map_err(|e| ApiError::InvalidRule { path: e.path.clone(), message: e.to_string() })?,
            ),
            (SegmentKind::Static, None) => None,
            (SegmentKind::Static, Some(_)) => {
                return Err(ApiError::invalid_field(
                    "rule",
                    "a static segment has no rule; upload its members with PUT …/segments/{id}/members",
                ));
            }
        };
        let spec = SegmentSpec { name, description, kind: self.kind, rule: rule.as_ref().map(Rule::to_json) };
        Ok((spec, rule))
    }
}

/// Checks a parsed rule against the names (tag groups, values, segments) of the app's latest
/// published day, so a typo is a 400 when the segment is saved rather than an empty segment
/// later. Segment references may name any live segment (its members are computed with this
/// one). Before the first day is published there is nothing to check against.
///
/// # Errors
/// [`ApiError::InvalidRule`] with the path of the unknown name.
pub fn validate_rule_against_latest_day(state: &AppState, app: &str, rule: &Rule) -> Result<(), ApiError> {
    let Some((_, day)) = state.snapshots.day(app, None)? else { return Ok(()) };
    let manifest = state.snapshots.manifest(&day.manifest)?;
    let earlier = state.snapshots.earlier_days(app, &manifest.ds, rule.longest_window())?;
    let mut catalog = Snapshots::catalog(&manifest, &earlier, state.config.retention_days);
    for record in list_live(&state.meta, app)? {
        if !catalog.has_segment(&record.id) {
            catalog.add_segment(&record.id, 0);
        }
    }
    engine::Plan::validate(rule, &catalog).map(|_| ()).map_err(crate::routes::estimate::rule_error)
}

/// Called after a segment change was stored (created, updated, deleted, or given members),
/// before the answer goes out: recomputes every segment's members on the app's latest
/// published day, as a new version of that day, so estimates, exports and `/user/tags` see
/// the change at once; then the other retained days are backfilled in the background
/// ([`crate::backfill`], progress in the API). The segment write itself is durable already; a
/// failure here is logged and repaired by the next publish.
pub async fn on_segment_changed(state: &AppState, app: &str, record: &SegmentRecord) {
    let lock = state.app_locks.get(app);
    let _publishing = lock.lock().await;
    let (st, app_id, seg) = (state.clone(), app.to_owned(), record.id.clone());
    let work = move || -> Result<Vec<String>, crate::publish::PublishError> {
        let Some((ds, _)) = st.snapshots.day(&app_id, None)? else { return Ok(Vec::new()) };
        let specs = crate::publish::segment_specs(&st.meta, &app_id)?;
        st.publisher.refresh_segments(&app_id, &[ds], &specs)
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(days)) => {
            tracing::info!(app, segment = %seg, ?days, "segment members recomputed on the latest day");
            crate::backfill::start(state, app);
        }
        Ok(Err(e)) => tracing::error!(app, segment = %seg, error = %e, "recomputing segment members failed"),
        Err(e) => tracing::error!(app, segment = %seg, error = %e, "recomputing segment members panicked"),
    }
}

/// A live segment as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentView {
    /// Segment id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text (may be empty).
    pub description: String,
    /// `dynamic` or `static`.
    pub kind: SegmentKind,
    /// The rule (dynamic segments), canonical wire form.
    pub rule: Option<Value>,
    /// The uploaded members (static segments, once uploaded).
    pub members: Option<StaticMembers>,
    /// Highest sync version applied, if any.
    pub version: Option<u64>,
    /// Revision counter (the `ETag` is made of it).
    pub revision: u64,
    /// When this segment was created (Unix ms).
    pub created_ms: u64,
    /// When it last changed (Unix ms).
    pub updated_ms: u64,
}

impl SegmentView {
    /// The view of a record; `None` for a tombstone.
    pub fn of(record: &SegmentRecord) -> Option<SegmentView> {
        let live = record.live()?;
        Some(SegmentView {
            id: record.id.clone(),
            name: live.spec.name.clone(),
            description: live.spec.description.clone(),
            kind: live.spec.kind,
            rule: live.spec.rule.clone(),
            members: live.members.clone(),
            version: record.version,
            revision: record.revision,
            created_ms: record.created_ms,
            updated_ms: record.updated_ms,
        })
    }
}

/// What a write did, as answered: `{"applied", "result", "version", "segment"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteResult {
    /// False when the write was ignored as stale.
    pub applied: bool,
    /// `created`, `updated`, `deleted` or `stale`.
    pub result: &'static str,
    /// The version stored after the write (the higher one, when stale).
    pub version: Option<u64>,
    /// The segment after the write; `null` when it is deleted.
    pub segment: Option<SegmentView>,
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
                    Change::Created => "created",
                    Change::Updated => "updated",
                    Change::Deleted => "deleted",
                },
                version: record.version,
                segment: SegmentView::of(record),
            },
            Written::Stale { current, stored_version } => WriteResult {
                applied: false,
                result: "stale",
                version: Some(*stored_version),
                segment: current.as_ref().and_then(SegmentView::of),
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

fn encode(record: &SegmentRecord) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(record).map_err(ApiError::internal)
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

/// Applies one mutation to segment `id` of `app`: checks `If-Match`, decides with
/// [`sync::apply`] at `now_ms`, stores with a compare-and-swap, and starts again from the new
/// state when another write won the race (so concurrent writers never lose an update).
///
/// # Errors
/// 412 when `if_match` does not match, 409 for an unversioned create of a live segment, 404
/// for an unversioned update or delete of an absent one; store failures.
pub fn write(
    meta: &Meta,
    app: &str,
    id: &str,
    mutation: &Mutation,
    if_match: Option<&str>,
    now_ms: u64,
) -> Result<Written, ApiError> {
    for _ in 0..MAX_CAS_ATTEMPTS {
        let stored = load(meta, app, id)?;
        let (bytes, current) = match stored {
            Some((bytes, record)) => (Some(bytes), Some(record)),
            None => (None, None),
        };
        if !sync::if_match(if_match, current.as_ref(), now_ms) {
            return Err(ApiError::PreconditionFailed);
        }
        match sync::apply(current.as_ref(), id, mutation, now_ms) {
            Outcome::Applied { record, change } => {
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
                return Err(ApiError::Conflict(format!(
                    "segment `{id}` exists; update it with PUT, or send a higher version"
                )));
            }
            Outcome::NotFound => return Err(ApiError::Missing(format!("no segment `{id}`"))),
        }
    }
    Err(ApiError::Conflict(format!("segment `{id}` is changing too fast; retry")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync::Op;

    fn meta() -> (tempfile::TempDir, Meta) {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta::open(&dir.path().join("meta.redb")).expect("open");
        (dir, meta)
    }

    fn body(json: Value) -> Result<(SegmentSpec, Option<Rule>), ApiError> {
        serde_json::from_value::<SegmentBody>(json).expect("shape").validate()
    }

    #[test]
    fn validation_names_the_problem() {
        let err = body(serde_json::json!({"name": "x", "kind": "dynamic",
            "rule": {"all": [{"tag": "a", "in": ["b"]}, {"tag": "c", "in": ["d"]}, {"not": 3}]}}))
        .expect_err("bad rule");
        let ApiError::InvalidRule { path, .. } = err else { panic!("{err:?}") };
        assert_eq!(path, "all[2].not");
        let err = body(serde_json::json!({"name": " ", "kind": "static"})).expect_err("blank name");
        assert!(matches!(err, ApiError::InvalidField { field: "name", .. }), "{err:?}");
        let err = body(serde_json::json!({"name": "x", "kind": "dynamic"})).expect_err("no rule");
        assert!(matches!(err, ApiError::InvalidField { field: "rule", .. }), "{err:?}");
        let err = body(serde_json::json!({"name": "x", "kind": "static", "rule": {"segment": "a"}}))
            .expect_err("static with rule");
        assert!(matches!(err, ApiError::InvalidField { field: "rule", .. }), "{err:?}");
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
        let (spec, _) = body(serde_json::json!({"name": "s", "kind": "static"})).expect("valid");
        let create = Mutation { op: Op::Create(spec.clone()), version: Some(2) };
        let w = write(&meta, "app", "s", &create, None, 10).expect("write");
        let Written::Applied { record, change: Change::Created } = &w else { panic!("{w:?}") };
        let etag = record.etag();
        assert_eq!(load(&meta, "app", "s").expect("load").map(|(_, r)| r).as_ref(), Some(record));
        // Stale.
        let old = Mutation { op: Op::Update(spec.clone()), version: Some(1) };
        let w2 = write(&meta, "app", "s", &old, None, 11).expect("write");
        assert_eq!(w2.result().result, "stale");
        assert_eq!(w2.etag(), Some(etag.clone()));
        // If-Match.
        let upd = Mutation { op: Op::Update(spec.clone()), version: None };
        assert!(matches!(write(&meta, "app", "s", &upd, Some("\"0-0\""), 12), Err(ApiError::PreconditionFailed)));
        let w3 = write(&meta, "app", "s", &upd, Some(&etag), 12).expect("write");
        assert_eq!(w3.result().result, "updated");
        // Tombstones are not listed; other apps are separate.
        let del = Mutation { op: Op::Delete, version: Some(3) };
        assert_eq!(write(&meta, "app", "s", &del, None, 13).expect("delete").result().segment, None);
        assert!(list_live(&meta, "app").expect("list").is_empty());
        assert!(write(&meta, "other", "s", &upd, None, 14).is_err(), "not in the other app");
        // Unversioned create of a live one.
        write(&meta, "app", "t", &Mutation { op: Op::Create(spec.clone()), version: None }, None, 15).expect("t");
        let again = write(&meta, "app", "t", &Mutation { op: Op::Create(spec), version: None }, None, 16);
        assert!(matches!(again, Err(ApiError::Conflict(_))));
        assert_eq!(list_live(&meta, "app").expect("list").len(), 1);
    }

    #[test]
    fn concurrent_writers_lose_no_update() {
        let (_d, meta) = meta();
        let meta = std::sync::Arc::new(meta);
        let (spec, _) = body(serde_json::json!({"name": "s", "kind": "static"})).expect("valid");
        write(&meta, "app", "s", &Mutation { op: Op::Create(spec.clone()), version: None }, None, 1).expect("create");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let meta = meta.clone();
                let spec = spec.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        let m = Mutation { op: Op::Update(spec.clone()), version: None };
                        write(&meta, "app", "s", &m, None, 2).expect("update");
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
