//! Collecting orphan blobs: files a failed write left that nothing refers to.
//!
//! Blobs are written before the metadata transaction that makes them reachable (so a crash
//! never leaves a dangling reference); the price is that a write failing in between (a full
//! metadata store, a request refused after its blob was written, a kill) leaves unreferenced
//! files. This module finds and deletes them, safely:
//!
//! - **Referenced** = the manifest of every day pointer of every app and every blob that
//!   manifest names, plus every `blob` field of every segment and experiment record, the
//!   manifests (and their blobs) of each day's restorable versions, and held uploads' chunks. If any
//!   of that cannot be read (a damaged manifest, a record that does not parse), nothing is
//!   collected: what it refers to is unknown. Nor when nothing at all is referenced while blob
//!   files exist (an empty or replaced metadata store must not cost the data).
//! - **In-flight writes** are never raced: a file is deleted only when it was last written or
//!   reused (a put of bytes already stored refreshes its time) more than the grace period ago,
//!   and puts and deletions exclude each other in the store. A publish commits within
//!   milliseconds to seconds of writing its blobs; the grace (an hour by default) is far above.
//! - **Readers of a replaced version** (an estimate that read the previous manifest a moment
//!   before a publish replaced it) are not raced either: while serving, a blob is deleted only
//!   if it was already unreferenced at a pass at least the grace period earlier. At start-up
//!   nothing is in flight, so one pass suffices.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::state::AppState;
use crate::store::{BlobError, BlobStore, Meta, StoreError};

/// Why a collection did not run.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The metadata store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob could not be read or listed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A day's manifest is missing or does not decode: what it refers to is unknown.
    #[error("manifest {hash} of {app} {ds} cannot be read: {reason}")]
    Manifest {
        /// The app.
        app: String,
        /// The day.
        ds: String,
        /// The manifest's address.
        hash: String,
        /// What is wrong.
        reason: String,
    },
    /// A stored record does not parse.
    #[error("{what} record `{id}` of {app} does not parse: {reason}")]
    Record {
        /// `segment` or `experiment`.
        what: &'static str,
        /// The app.
        app: String,
        /// The record's id.
        id: String,
        /// The parser's message.
        reason: String,
    },
}

/// Every blob address the metadata store refers to (see the module docs).
///
/// # Errors
/// Anything that could not be read: then the set is unknown and nothing may be collected.
pub fn referenced(meta: &Meta, blobs: &dyn BlobStore) -> Result<HashSet<String>, GcError> {
    let mut refs = HashSet::new();
    for (app, record) in meta.apps()? {
        // A `u32` app's users (its manifests may all be gone after deleted days).
        refs.extend(record.universe);
        for (ds, day) in meta.days(&app)? {
            let manifest = |reason: String| GcError::Manifest {
                app: app.clone(),
                ds: ds.clone(),
                hash: day.manifest.clone(),
                reason,
            };
            let bytes = blobs.get(&day.manifest)?.ok_or_else(|| manifest("missing".into()))?;
            let m = engine::Manifest::from_json(&bytes).map_err(|e| manifest(e.to_string()))?;
            refs.extend(m.blob_hashes().into_iter().map(str::to_owned));
            refs.insert(day.manifest);
        }
        // Issue 15: the manifests of a day's restorable versions and what they name, and the
        // bytes of uploads held for a decision.
        for hash in crate::governance::versions::kept_manifests(meta, &app)? {
            if refs.contains(&hash) {
                continue;
            }
            let bytes = blobs.get(&hash)?.ok_or_else(|| GcError::Manifest {
                app: app.clone(),
                ds: "(a restorable version)".into(),
                hash: hash.clone(),
                reason: "missing".into(),
            })?;
            let m = engine::Manifest::from_json(&bytes).map_err(|e| GcError::Manifest {
                app: app.clone(),
                ds: "(a restorable version)".into(),
                hash: hash.clone(),
                reason: e.to_string(),
            })?;
            refs.extend(m.blob_hashes().into_iter().map(str::to_owned));
            refs.insert(hash);
        }
        for record in crate::governance::holds::records(meta, &app)? {
            if record.hold.state == wire::HoldState::Held {
                refs.extend(record.chunks.into_iter().map(|c| c.blob));
            }
        }
        for (what, records) in [("segment", meta.segment_list(&app)?), ("experiment", meta.experiment_list(&app)?)] {
            for (id, bytes) in records {
                let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| GcError::Record {
                    what,
                    app: app.clone(),
                    id: id.clone(),
                    reason: e.to_string(),
                })?;
                blob_fields(&value, &mut refs);
            }
        }
    }
    Ok(refs)
}

/// Collects every string under a `blob` key, at any depth: segment records keep their static
/// members there, experiment records each group's frozen bitmap. Reading the key rather than
/// the record types keeps the collector right when those records grow new places for blobs.
fn blob_fields(value: &serde_json::Value, out: &mut HashSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match v {
                    serde_json::Value::String(s) if key == "blob" => {
                        out.insert(s.clone());
                    }
                    _ => blob_fields(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| blob_fields(v, out)),
        _ => {}
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Blob files found.
    pub stored: usize,
    /// Of those, referenced.
    pub referenced: usize,
    /// Deleted in this pass.
    pub deleted: usize,
    /// Unreferenced but kept for now (too young, or not unreferenced long enough).
    pub waiting: usize,
}

/// The collector: remembers since when each blob has been seen unreferenced.
#[derive(Debug, Default)]
pub struct Collector {
    unreferenced_since: HashMap<String, Instant>,
}

impl Collector {
    /// One pass. `at_start`: nothing is in flight (before serving), so a blob unreferenced now
    /// and older than `grace` goes at once; otherwise it must also have been unreferenced at a
    /// pass at least `grace` ago.
    ///
    /// # Errors
    /// Referenced blobs could not be determined, or the store failed; nothing more is deleted.
    pub fn pass(
        &mut self,
        meta: &Meta,
        blobs: &dyn BlobStore,
        grace: Duration,
        at_start: bool,
    ) -> Result<Pass, GcError> {
        // List first, then read the references: a blob written in between is young anyway.
        let stored = blobs.addresses()?;
        let refs = referenced(meta, blobs)?;
        let mut pass = Pass { stored: stored.len(), ..Pass::default() };
        if refs.is_empty() && !stored.is_empty() {
            tracing::warn!(files = stored.len(), "blob collection skipped: blob files exist but nothing refers to any");
            return Ok(pass);
        }
        let now = Instant::now();
        let mut still = HashMap::new();
        for hash in stored {
            if refs.contains(&hash) {
                pass.referenced += 1;
                continue;
            }
            let since = self.unreferenced_since.get(&hash).copied().unwrap_or(now);
            let long_enough = at_start || now.duration_since(since) >= grace;
            if long_enough && blobs.remove_unused(&hash, grace)? {
                pass.deleted += 1;
            } else {
                pass.waiting += 1;
                still.insert(hash, since);
            }
        }
        self.unreferenced_since = still;
        Ok(pass)
    }
}

/// The start-up pass (before serving). Failures are logged: the server still starts.
pub fn at_start(state: &AppState) -> Collector {
    let mut collector = Collector::default();
    let grace = state.config.blob_gc_grace;
    match collector.pass(&state.meta, state.snapshots.blobs().as_ref(), grace, true) {
        Ok(pass) => log(&pass),
        Err(err) => tracing::error!(error = %err, "blob collection at start-up did not run"),
    }
    collector
}

/// Runs a pass every `interval` for as long as the server runs.
pub async fn periodic(state: AppState, mut collector: Collector) {
    let mut ticks = tokio::time::interval(state.config.blob_gc_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; the start-up pass just ran
    loop {
        ticks.tick().await;
        let st = state.clone();
        let grace = state.config.blob_gc_grace;
        let run = tokio::task::spawn_blocking(move || {
            let result = collector.pass(&st.meta, st.snapshots.blobs().as_ref(), grace, false);
            (collector, result)
        })
        .await;
        match run {
            Ok((c, result)) => {
                collector = c;
                match result {
                    Ok(pass) => log(&pass),
                    Err(err) => tracing::error!(error = %err, "blob collection did not run"),
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "blob collection panicked; starting afresh");
                collector = Collector::default();
            }
        }
    }
}

fn log(pass: &Pass) {
    if pass.deleted > 0 {
        tracing::info!(deleted = pass.deleted, waiting = pass.waiting, stored = pass.stored, "collected orphan blobs");
    } else {
        tracing::debug!(waiting = pass.waiting, stored = pass.stored, "blob collection: nothing to delete");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FsBlobStore;

    #[test]
    fn blob_fields_are_found_at_any_depth() {
        let record = serde_json::json!({
            "state": {"live": {"members": {"blob": "aa", "count": 3}}},
            "groups": [{"name": "a", "blob": "bb"}, {"name": "b", "blob": "cc"}],
            "note": "blob",
        });
        let mut out = HashSet::new();
        blob_fields(&record, &mut out);
        assert_eq!(out, HashSet::from(["aa".to_owned(), "bb".to_owned(), "cc".to_owned()]));
    }

    #[test]
    fn a_u32_apps_users_are_kept_without_any_day() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta::open(&dir.path().join("meta.redb")).expect("meta");
        let blobs = FsBlobStore::open(dir.path()).expect("blobs");
        meta.create_app("n", "N", wire::IdKind::U32).expect("app");
        let users = blobs.put(&engine::blob::encode(&engine::IdSet::from_sorted(&[7, 4_000_000_000]))).expect("put");
        let orphan = blobs.put(b"left by a failed write").expect("put");
        let publish = crate::store::Publish { app: "n", universe: Some(&users), ..Default::default() };
        meta.publish(&publish).expect("publish");
        let pass = Collector::default().pass(&meta, &blobs, Duration::ZERO, true).expect("pass");
        assert_eq!((pass.stored, pass.deleted), (2, 1));
        assert!(blobs.get(&users).expect("get").is_some(), "the app's users are referenced by its record");
        assert!(blobs.get(&orphan).expect("get").is_none());
    }

    #[test]
    fn nothing_is_collected_when_nothing_is_referenced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta::open(&dir.path().join("meta.redb")).expect("meta");
        let blobs = FsBlobStore::open(dir.path()).expect("blobs");
        let hash = blobs.put(b"data of a store whose metadata is gone").expect("put");
        let pass = Collector::default().pass(&meta, &blobs, Duration::ZERO, true).expect("pass");
        assert_eq!((pass.stored, pass.deleted), (1, 0));
        assert!(blobs.get(&hash).expect("get").is_some(), "an empty metadata store costs no data");
    }
}
