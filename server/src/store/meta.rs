//! Metadata: apps, tokens, the per-app dictionaries of user ids, the day pointers that publish
//! snapshots, segments, experiments, idempotency keys and durable jobs.
//!
//! [`Meta`] is what the rest of the server calls. It holds one [`Backend`]: the embedded store
//! (redb in the data directory, the default: nothing else to run) or PostgreSQL (`--meta-url
//! postgres://…`, for several replicas sharing one store). Both keep the same sealed records
//! ([`codec`]) under the same keys and make the same promises, written on [`Backend`]: each
//! call is one transaction, a publish moves the dictionary, the day pointers and the queued
//! recomputes together, and conflicting writes are refused rather than lost. [`Meta`] adds
//! what does not depend on where records live: caches of what never changes (token scopes, an
//! app's kind of ids), the list of records found damaged (`/health`), and token secrets.
//!
//! **Damage**: every value carries a checksum over its table, key and value
//! ([`records`](super::records)), checked on every read by either backend: a record that fails
//! it is [`StoreError::Damaged`] (answered 503 `data_corrupt`, listed in `/health`), never
//! served. [`Meta::verify_records`] checks them all (start-up, `sieve check`).
//!
//! | module | what it does |
//! |---|---|
//! | here | [`Meta`], [`StoreError`] |
//! | [`backend`] | the [`Backend`] trait both stores implement |
//! | [`codec`] | the record types and their sealed bytes, shared by both stores |
//! | [`embedded`] | redb in the data directory: opening, I/O-failure handling, its tables, migration, backups |
//! | [`postgres`] | PostgreSQL: connections, schema migrations, the same tables, cross-process publish locks |
//! | `tests` | the embedded store's tests, and the helpers its modules' tests share |

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub mod backend;
pub mod codec;
pub mod embedded;
pub mod postgres;

pub use backend::{AppGuard, Backend, Held, LockName};
pub use codec::{AppRecord, DayRecord, Publish, TokenInfo};
pub use embedded::{Embedded, FORMAT, RecordReport, copy_snapshot};

use super::faults::Faults;
use super::records::RecordId;
use crate::clock::now_ms;
use crate::jobs::{Job, JobKind};
pub use codec::token_key;
use wire::IdKind;

/// Why the metadata store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (I/O, corruption, disk full).
    #[error("metadata store: {0}")]
    Db(#[from] redb::Error),
    /// A stored record does not decode.
    #[error("metadata record {what}: {source}")]
    Record {
        /// Which record.
        what: String,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// Another publish changed what this one started from (a day's version, the dictionary's
    /// length) in between; nothing changed, the caller retries from the new state.
    #[error("{what} changed while publishing")]
    Conflict {
        /// What changed: `day 2026-11-20`, `the dictionary`.
        what: String,
    },
    /// A change names an app that does not exist.
    #[error("app `{0}` does not exist")]
    NoApp(String),
    /// A record failed its checksum (damaged on disk, or written by something other than this
    /// server); it is not served.
    #[error("metadata {0} failed its integrity check")]
    Damaged(RecordId),
    /// The file cannot be opened as a metadata store: its pages fail their checksums, it is
    /// not a redb file, or redb panicked reading it.
    #[error("{path} is damaged and cannot be opened: {detail}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What redb said.
        detail: String,
    },
    /// redb panicked on a page while the server ran (damage it did not expect); the handle is
    /// dropped and the file reopened on the next call.
    #[error("the metadata store failed reading damaged data: {0}")]
    Panicked(String),
    /// A copy was asked of a store holding tables this build does not know (and so cannot copy).
    #[error("the store holds tables this build cannot copy: {}", .0.join(", "))]
    UnknownTables(Vec<String>),
    /// PostgreSQL answered an error, or the connection to it failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The store cannot be reached (PostgreSQL down, every connection failing): answered 503
    /// until it is back.
    #[error("the metadata store is unavailable: {0}")]
    Unavailable(String),
    /// The operation is not one this kind of store does.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The store was written by a newer Sieve.
    #[error("metadata format {found} is newer than this server reads ({supported})")]
    IncompatibleVersion {
        /// The file's format.
        found: u64,
        /// [`FORMAT`].
        supported: u64,
    },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(impl From<$t> for StoreError {
        fn from(e: $t) -> Self { StoreError::Db(e.into()) }
    })*};
}
db_err!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

impl StoreError {
    /// Whether the storage under the database failed (I/O error, disk full, or a handle that an
    /// earlier failure latched), as opposed to a conflict or a bad record.
    pub fn is_io(&self) -> bool {
        // A PostgreSQL error the server did not send (no SQLSTATE) is the connection failing.
        if let StoreError::Postgres(e) = self {
            return e.as_db_error().is_none();
        }
        matches!(
            self,
            StoreError::Unavailable(_)
                | StoreError::Db(
                    redb::Error::Io(_)
                    | redb::Error::PreviousIo
                    | redb::Error::DatabaseClosed
                    // Only while reopening after a failure: the failed handle is still held.
                    | redb::Error::DatabaseAlreadyOpen
                )
        )
    }

    /// Whether stored data was found damaged (a record's checksum, a page redb found corrupt
    /// or panicked on): answered 503 `data_corrupt`, never served.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            StoreError::Damaged(_)
                | StoreError::Unreadable { .. }
                | StoreError::Panicked(_)
                | StoreError::Db(redb::Error::Corrupted(_))
        )
    }

    /// The operating system's error underneath, if there is one (`ENOSPC` for a full disk).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            StoreError::Db(redb::Error::Io(e)) => Some(e),
            _ => None,
        }
    }
}
/// What a token may do (stored with the token as the API names it).
pub use wire::Role;

/// The metadata store (see the module docs).
pub struct Meta {
    backend: Box<dyn Backend>,
    /// Token hash → scope, for the embedded store only (see [`Meta::lookup_token`]): keeps a
    /// store read off every request.
    tokens: quick_cache::sync::Cache<String, TokenInfo>,
    /// App id → what its user ids are: fixed at creation and apps are never deleted, so
    /// caching keeps a store read off membership lookups, exports and uploads.
    id_kinds: quick_cache::sync::Cache<String, IdKind>,
    /// Records found damaged since start-up (for `/health`); a restore and restart clears them.
    damaged: Mutex<BTreeSet<RecordId>>,
}

impl std::fmt::Debug for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meta").field("backend", &self.backend).field("cached_tokens", &self.tokens.len()).finish()
    }
}

impl Meta {
    /// A store over `backend`.
    pub fn new(backend: Box<dyn Backend>) -> Meta {
        Meta {
            backend,
            tokens: quick_cache::sync::Cache::new(10_000),
            id_kinds: quick_cache::sync::Cache::new(10_000),
            damaged: Mutex::default(),
        }
    }

    /// Opens (creating) the embedded store at `path`.
    pub fn open(path: &Path) -> Result<Meta, StoreError> {
        Meta::open_with_faults(path, Faults::off())
    }

    /// Opens (creating) the embedded store at `path`, with storage fault injection (see
    /// [`Faults`]).
    pub fn open_with_faults(path: &Path, faults: Faults) -> Result<Meta, StoreError> {
        Ok(Meta::new(Box::new(Embedded::open_with_faults(path, faults)?)))
    }

    /// The embedded store under this one (tests of its pages and tables).
    #[cfg(test)]
    pub(crate) fn embedded(&self) -> &Embedded {
        self.backend.embedded().expect("an embedded store")
    }

    /// The backend, for what only it does.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// Where the store is (logs, errors).
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Whether other processes may write to the store too (see [`Backend::shared`]).
    pub fn shared(&self) -> bool {
        self.backend.shared()
    }

    /// A lock shared by every process on the store (see [`Backend::lock`]).
    pub fn lock(&self, name: LockName<'_>, wait: bool) -> Result<Held, StoreError> {
        self.noted(self.backend.lock(name, wait))
    }

    /// Whether opening found the last commit damaged and fell back to the one before (the
    /// embedded store; see [`Embedded::rolled_back`]). Reported by `/health`.
    pub fn rolled_back(&self) -> bool {
        self.backend.rolled_back()
    }

    /// Records found damaged since start-up.
    pub fn damaged(&self) -> Vec<RecordId> {
        self.damaged.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// Lists records found damaged before serving (start-up with `--serve-damaged`).
    pub fn note_damaged(&self, ids: impl IntoIterator<Item = RecordId>) {
        self.damaged.lock().unwrap_or_else(|p| p.into_inner()).extend(ids);
    }

    /// Notes a damaged record (logged once, listed in `/health`); passes the result on.
    fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Damaged(id)) = &result
            && self.damaged.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone())
        {
            tracing::error!(record = %id, store = %self.backend.describe(), "metadata record failed its checksum; not serving it");
        }
        result
    }

    /// Creates an app; `false` if it already exists (nothing changes then).
    pub fn create_app(&self, id: &str, name: &str, ids: IdKind) -> Result<bool, StoreError> {
        let record = AppRecord { name: name.to_owned(), created_ms: now_ms(), ids, universe: None };
        self.noted(self.backend.create_app(id, &record))
    }

    /// An app's record.
    pub fn app(&self, id: &str) -> Result<Option<AppRecord>, StoreError> {
        self.noted(self.backend.app(id))
    }

    /// What an app's user ids are (`None`: no such app). Cached: the kind never changes.
    pub fn id_kind(&self, id: &str) -> Result<Option<IdKind>, StoreError> {
        if let Some(kind) = self.id_kinds.get(id) {
            return Ok(Some(kind));
        }
        let kind = self.app(id)?.map(|record| record.ids);
        if let Some(kind) = kind {
            self.id_kinds.insert(id.to_owned(), kind);
        }
        Ok(kind)
    }

    /// Whether an app exists.
    pub fn app_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.noted(self.backend.app_exists(id))
    }

    /// Every app, by id.
    pub fn apps(&self) -> Result<Vec<(String, AppRecord)>, StoreError> {
        self.noted(self.backend.apps())
    }

    /// Changes a token in one transaction (see [`Backend::token_change`]); the secrets it
    /// stores or removes leave this process's cache at once.
    pub fn token_change(
        &self,
        app: &str,
        id: &str,
        record: Option<&[u8]>,
        put: &[(String, TokenInfo)],
        delete: &[String],
    ) -> Result<(), StoreError> {
        let result = self.noted(self.backend.token_change(app, id, record, put, delete));
        // Dropped whatever happened: after a failed commit the store decides, on the next read.
        for key in delete.iter().chain(put.iter().map(|(k, _)| k)) {
            self.tokens.remove(key);
        }
        result
    }

    /// The scope of a token secret, if it is one of ours and has not expired at `now_ms`.
    ///
    /// The embedded store belongs to this process, so every change passes through
    /// [`Meta::token_change`] and the cache can be trusted. A shared store may be changed by
    /// another replica at any moment (a revocation must hold on the next request, everywhere),
    /// so it is asked every time: one indexed read.
    pub fn lookup_token(&self, secret: &str, now_ms: u64) -> Result<Option<TokenInfo>, StoreError> {
        let key = token_key(secret);
        let cached = if self.backend.shared() { None } else { self.tokens.get(&key) };
        let info = match cached {
            Some(info) => Some(info),
            None => {
                let info = self.noted(self.backend.token(&key))?;
                // Only found tokens are cached, so guessing cannot fill the cache.
                if let Some(info) = &info
                    && !self.backend.shared()
                {
                    self.tokens.insert(key, info.clone());
                }
                info
            }
        };
        Ok(info.filter(|i| i.expires_ms.is_none_or(|end| now_ms < end)))
    }

    /// Every stored token secret (hash) with its scope, for adopting tokens made before ids.
    pub fn token_secrets(&self) -> Result<Vec<(String, TokenInfo)>, StoreError> {
        let mut out = Vec::new();
        self.noted(self.backend.export_records(codec::name::TOKENS, &mut |r| {
            if let codec::RawKey::One(key) = r.key {
                let info = codec::token_record(&key, &r.value)?;
                out.push((key, info));
            }
            Ok(())
        }))?;
        Ok(out)
    }

    /// One record of the `access` table (see [`Backend::access_get`]).
    pub fn access_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.noted(self.backend.access_get(app, id))
    }

    /// An app's `access` records under `prefix` (see [`Backend::access_list`]).
    pub fn access_list(
        &self,
        app: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.noted(self.backend.access_list(app, prefix, after, limit))
    }

    /// Reads, changes and stores one `access` record (see [`Backend::access_update`]).
    pub fn access_update(
        &self,
        app: &str,
        id: &str,
        f: impl FnOnce(Option<Vec<u8>>) -> Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.noted(self.backend.access_update(app, id, Box::new(f)))
    }

    /// The dense id of an external user id.
    pub fn dict_lookup(&self, app: &str, external: &str) -> Result<Option<u32>, StoreError> {
        self.noted(self.backend.dict_lookup(app, external))
    }

    /// The external id of a dense id.
    pub fn dict_external(&self, app: &str, id: u32) -> Result<Option<String>, StoreError> {
        self.noted(self.backend.dict_external(app, id))
    }

    /// Every external id of an app, in dense-id order (index = dense id).
    pub fn dict_load(&self, app: &str) -> Result<Vec<String>, StoreError> {
        self.dict_load_from(app, 0)
    }

    /// The external ids from dense id `from` on (what another replica added since `from`).
    pub fn dict_load_from(&self, app: &str, from: u32) -> Result<Vec<String>, StoreError> {
        self.noted(self.backend.dict_load_from(app, from))
    }

    /// External ids of many dense ids (sorted ascending), streamed to `f` in order. An id with
    /// no entry is skipped; a damaged entry stops the stream with [`StoreError::Damaged`].
    pub fn dict_externals(
        &self,
        app: &str,
        mut ids: impl Iterator<Item = u32>,
        mut f: impl FnMut(u32, &str),
    ) -> Result<(), StoreError> {
        self.noted(self.backend.dict_externals(app, &mut ids, &mut f))
    }

    /// The published version of a day.
    pub fn day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        self.noted(self.backend.day(app, ds))
    }

    /// The latest published day of an app.
    pub fn latest_day(&self, app: &str) -> Result<Option<(String, DayRecord)>, StoreError> {
        self.noted(self.backend.latest_day(app))
    }

    /// Every published day of an app, oldest first.
    pub fn days(&self, app: &str) -> Result<Vec<(String, DayRecord)>, StoreError> {
        self.noted(self.backend.days(app))
    }

    /// Commits a publish in one transaction (see [`Backend::publish`]).
    pub fn publish(&self, p: &Publish<'_>) -> Result<(), StoreError> {
        self.noted(self.backend.publish(p))
    }

    /// Removes a day pointer (see [`Backend::delete_day`]). The day's blobs stay: later days
    /// may name them.
    pub fn delete_day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        self.noted(self.backend.delete_day(app, ds))
    }

    /// A segment's stored record.
    pub fn segment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.noted(self.backend.segment_get(app, id))
    }

    /// Every stored segment record of an app (tombstones included), by id.
    pub fn segment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.noted(self.backend.segment_list(app))
    }

    /// Stores `new` if the stored record still equals `expected` (`None`: absent). Returns
    /// whether it did; durable when it returns `true`. Every published day's members follow
    /// the change: their recompute is queued in the same transaction.
    pub fn segment_cas(&self, app: &str, id: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, StoreError> {
        self.noted(self.backend.segment_cas(app, id, expected, new))
    }

    /// Stores an experiment if its id is free; `false` (nothing changed) if it exists.
    pub fn experiment_create(&self, app: &str, id: &str, record: &[u8]) -> Result<bool, StoreError> {
        self.noted(self.backend.experiment_create(app, id, record))
    }

    /// An experiment's record.
    pub fn experiment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.noted(self.backend.experiment_get(app, id))
    }

    /// Every experiment record of an app, by id.
    pub fn experiment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.noted(self.backend.experiment_list(app))
    }

    /// A stored idempotency record.
    pub fn idempotency_get(&self, app: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.noted(self.backend.idempotency_get(app, key))
    }

    /// Stores an idempotency record.
    pub fn idempotency_put(&self, app: &str, key: &str, record: &[u8]) -> Result<(), StoreError> {
        self.noted(self.backend.idempotency_put(app, key, record))
    }

    /// A job's record.
    pub fn job_get(&self, app: &str, kind: JobKind) -> Result<Option<Job>, StoreError> {
        self.noted(self.backend.job_get(app, kind))
    }

    /// Every job record (all apps), for the worker's scan.
    pub fn job_list(&self) -> Result<Vec<Job>, StoreError> {
        self.noted(self.backend.job_list())
    }

    /// Reads, changes and stores a job in one transaction: `f` gets the current record and
    /// returns the one to store (`None`: leave it as it is). Returns what `f` returned.
    pub fn job_update(
        &self,
        app: &str,
        kind: JobKind,
        f: impl FnOnce(Option<Job>) -> Option<Job>,
    ) -> Result<Option<Job>, StoreError> {
        self.noted(self.backend.job_update(app, kind, Box::new(f)))
    }

    /// Checks every record (see [`Backend::verify_records`]).
    pub fn verify_records(&self, both_ways: bool) -> Result<RecordReport, StoreError> {
        self.backend.verify_records(both_ways)
    }

    /// Writes a consistent copy into a new embedded store file (see [`Backend::snapshot_to`]).
    pub fn snapshot_to(&self, dest: &Path) -> Result<u64, StoreError> {
        self.backend.snapshot_to(dest)
    }
}
