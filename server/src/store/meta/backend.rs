//! The interface every metadata store implements: the embedded one ([`super::embedded`]) and
//! PostgreSQL ([`super::postgres`]). [`super::Meta`] holds one and adds what does not depend on
//! where records live (caches of what never changes, the list of damaged records, secrets).
//!
//! Every method blocks (callers run it on the blocking pool) and is one transaction: a method
//! that changes several records changes all of them or none.

use std::path::Path;

use super::codec::{AppRecord, DayRecord, Publish, RawRecord, TokenInfo};
use super::{RecordReport, StoreError};
use crate::jobs::{Job, JobKind};

/// A read-change-write of one record: gets the current value, returns the one to store
/// (`None`: leave it).
pub type Change<'a> = Box<dyn FnOnce(Option<Vec<u8>>) -> Option<Vec<u8>> + 'a>;

/// A lock held in the store, across processes; dropping it releases it.
pub trait AppGuard: Send {}

/// What a cross-process lock protects (see [`Backend::lock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockName<'a> {
    /// Publishing to an app: held for a publish's whole length.
    Publish(&'a str),
    /// An app's segment definitions while one is written (no reference cycle across replicas).
    Segments(&'a str),
    /// One idempotency key of an app while its request runs.
    Idempotency(&'a str, &'a str),
}

/// What [`Backend::lock`] got.
pub enum Held {
    /// The store belongs to one process: its in-process locks suffice.
    NotNeeded,
    /// The lock, until dropped.
    Held(Box<dyn AppGuard>),
    /// Another process holds it (only when not waiting).
    Busy,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Held::NotNeeded => "NotNeeded",
            Held::Held(_) => "Held",
            Held::Busy => "Busy",
        })
    }
}

/// A metadata store (see the module docs).
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Where the store is, for logs and errors (never a password).
    fn describe(&self) -> String;
    /// Whether other processes may write to this store while this one runs (replicas): then
    /// what a process keeps in memory about mutable records (an app's dictionary) must be
    /// checked against the store before it is extended.
    fn shared(&self) -> bool;
    /// Takes a lock shared by every process on the store, waiting for it (`wait`) or answering
    /// [`Held::Busy`]. The embedded store belongs to one process (its file is locked), so it
    /// answers [`Held::NotNeeded`].
    fn lock(&self, name: LockName<'_>, wait: bool) -> Result<Held, StoreError>;

    /// Creates an app; `false` if it already exists (nothing changes then).
    fn create_app(&self, id: &str, record: &AppRecord) -> Result<bool, StoreError>;
    /// An app's record.
    fn app(&self, id: &str) -> Result<Option<AppRecord>, StoreError>;
    /// Whether an app exists (its record checked).
    fn app_exists(&self, id: &str) -> Result<bool, StoreError>;
    /// Every app, by id.
    fn apps(&self) -> Result<Vec<(String, AppRecord)>, StoreError>;
    /// Changes a token in one transaction: its record in the `access` table (`None` removes
    /// it), the secrets (hashes) to store with their scopes, and the secrets to remove.
    fn token_change(
        &self,
        app: &str,
        id: &str,
        record: Option<&[u8]>,
        put: &[(String, TokenInfo)],
        delete: &[String],
    ) -> Result<(), StoreError>;
    /// The scope stored under a token hash.
    fn token(&self, key: &str) -> Result<Option<TokenInfo>, StoreError>;

    /// One record of the `access` table (token records, settings, the audit log, counters).
    fn access_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// An app's `access` records whose id starts with `prefix`, in id order, from just after
    /// `after`, at most `limit`.
    fn access_list(
        &self,
        app: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Reads, changes and stores one `access` record in one transaction: `f` (called once)
    /// gets the current value and returns the one to store (`None`: leave it). Returns what
    /// `f` returned.
    fn access_update(&self, app: &str, id: &str, f: Change<'_>) -> Result<Option<Vec<u8>>, StoreError>;

    /// The dense id of an external user id.
    fn dict_lookup(&self, app: &str, external: &str) -> Result<Option<u32>, StoreError>;
    /// The external id of a dense id.
    fn dict_external(&self, app: &str, id: u32) -> Result<Option<String>, StoreError>;
    /// The external ids from dense id `from` on, in order (index + `from` = dense id); a gap
    /// is [`StoreError::Damaged`].
    fn dict_load_from(&self, app: &str, from: u32) -> Result<Vec<String>, StoreError>;
    /// External ids of many dense ids (ascending), streamed to `f` in order; an id with no
    /// entry is skipped. Not retried after a failure (`f` may have seen some ids already).
    fn dict_externals(
        &self,
        app: &str,
        ids: &mut dyn Iterator<Item = u32>,
        f: &mut dyn FnMut(u32, &str),
    ) -> Result<(), StoreError>;

    /// The published version of a day.
    fn day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError>;
    /// The latest published day of an app.
    fn latest_day(&self, app: &str) -> Result<Option<(String, DayRecord)>, StoreError>;
    /// Every published day of an app, oldest first.
    fn days(&self, app: &str) -> Result<Vec<(String, DayRecord)>, StoreError>;
    /// Commits a publish: the new dictionary entries (only if the dictionary still has
    /// `first_new_id` entries), every day pointer (each only if the day is still at the
    /// version the publisher started from), the universe pointer and the queued recomputes.
    /// Anything else is [`StoreError::Conflict`] and changes nothing.
    fn publish(&self, p: &Publish<'_>) -> Result<(), StoreError>;
    /// Removes a day pointer and queues the recompute of later days; the removed record, or
    /// `None` (nothing changes).
    fn delete_day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError>;

    /// A segment's stored record.
    fn segment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every stored segment record of an app (tombstones included), by id.
    fn segment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Stores `new` if the stored record still equals `expected` (`None`: absent), queuing the
    /// recompute of every published day with it. Returns whether it did.
    fn segment_cas(&self, app: &str, id: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, StoreError>;
    /// Stores an experiment if its id is free; `false` (nothing changed) if it exists.
    fn experiment_create(&self, app: &str, id: &str, record: &[u8]) -> Result<bool, StoreError>;
    /// An experiment's record.
    fn experiment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every experiment record of an app, by id.
    fn experiment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// A stored idempotency record.
    fn idempotency_get(&self, app: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores an idempotency record.
    fn idempotency_put(&self, app: &str, key: &str, record: &[u8]) -> Result<(), StoreError>;

    /// A job's record.
    fn job_get(&self, app: &str, kind: JobKind) -> Result<Option<Job>, StoreError>;
    /// Every job record (all apps), for the worker's scan.
    fn job_list(&self) -> Result<Vec<Job>, StoreError>;
    /// Reads, changes and stores a job in one transaction: `f` (called once) gets the current
    /// record and returns the one to store (`None`: leave it). Returns what `f` returned.
    fn job_update(
        &self,
        app: &str,
        kind: JobKind,
        f: Box<dyn FnOnce(Option<Job>) -> Option<Job> + '_>,
    ) -> Result<Option<Job>, StoreError>;

    /// Every record of `table` (one of [`super::codec::TABLES`]) as stored, in key order, from
    /// one consistent state, streamed to `f` (for copies between stores and their checks).
    fn export_records(
        &self,
        table: &'static str,
        f: &mut dyn FnMut(RawRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Stores records as they are (values already sealed), in one transaction. A record whose
    /// key is already stored is left as it is (so a copy can run again); returns how many
    /// were new.
    fn import_records(&self, records: &[RawRecord]) -> Result<u64, StoreError>;

    /// Checks every record's seal and each dictionary's density; with `both_ways`, that every
    /// reverse entry maps back.
    fn verify_records(&self, both_ways: bool) -> Result<RecordReport, StoreError>;
    /// Writes a consistent copy into a new embedded store file `dest` (`sieve backup`);
    /// returns the records copied.
    fn snapshot_to(&self, dest: &Path) -> Result<u64, StoreError>;
    /// The embedded store itself, for its tests' raw access to pages and tables.
    #[cfg(test)]
    fn embedded(&self) -> Option<&super::Embedded> {
        None
    }
    /// Whether opening fell back to the commit before the last (embedded only).
    fn rolled_back(&self) -> bool {
        false
    }
}
