//! The embedded metadata store: redb in the data directory (the default).
//!
//! Why redb (see ARCHITECTURE.md): pure Rust (no C toolchain, same build everywhere), ACID with
//! fsync on commit, MVCC so readers never wait for the writer, and a crash always leaves the
//! last committed transaction. Each commit here is one atomic step: a publish writes the new
//! dictionary entries and the day's manifest pointer in the same transaction, so readers see
//! the old version or the new one, never a mix. redb locks its file, so the store belongs to
//! one process: replicas need [`super::postgres`].
//!
//! **I/O failures** (disk full, a failing disk): redb latches the first failed write or fsync,
//! and from then on every call on that handle fails (`PreviousIo`) until the database is closed
//! and opened again, which runs its recovery back to the last commit. So [`Embedded`] drops the
//! handle when an operation fails with an I/O error, answers that operation with the error (the
//! client gets a 5xx and nothing was committed), and reopens the file on the next call. Reads
//! that met a latched handle are retried once on the reopened one; writes never are (the caller
//! decides). The server thus keeps serving what is committed while the disk is full, and writes
//! work again once there is space, without a restart.
//!
//! **Damage** (see ARCHITECTURE.md, "Damage to the metadata store"): the file is opened with
//! redb's full integrity check (every page checksum), inside `catch_unwind`, so a damaged file
//! is a clear [`StoreError::Unreadable`] naming it, never a panic. [`Embedded::snapshot_to`]
//! writes a consistent copy from one read transaction while the server runs (`sieve backup`
//! asks the server for it), [`copy_snapshot`] the same from a file no server has open.
//!
//! | module | what it does |
//! |---|---|
//! | here | opening, the handle's failure handling, the tables' names, [`Backend`] for it |
//! | `apps` | the `apps` and `tokens` tables |
//! | `dictionary` | the `dict` and `dict_rev` tables (external ↔ dense user ids) |
//! | `days` | the `days` table and the publish transaction |
//! | `keyed` | the `segments`, `experiments` and `idempotency` tables (records the domain encodes) |
//! | `jobs` | the durable `jobs` table |
//! | `migrate` | record formats (1: bare values, 2: sealed) and the migration between them |
//! | `integrity` | checking every record, and consistent copies (backups) |
//! | `copy` | records as stored, exported and imported (`sieve migrate`) |

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redb::{Database, ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction};

use super::StoreError;
use super::backend::{Backend, Held, LockName};
use super::codec::{AppRecord, DayRecord, Publish, RawRecord, TokenInfo};
pub(super) use super::codec::{dense_id, encode, external_id, name, seal, unseal};
use crate::jobs::{Job, JobKind};
use crate::store::faults::{Faults, FaultyBackend};

// Every value below is sealed: an 8-byte checksum of (table, key, value), then the value
// (see `records`). The `.2` in the names is the record format: format 1 kept bare values under
// the bare names, and is migrated on open (`migrate`).

/// The record format of this file: `"format"` → [`FORMAT`].
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The record format this build reads and writes.
pub const FORMAT: u64 = 2;
/// app id → JSON [`AppRecord`].
const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps.2");
/// BLAKE3 of the token secret → JSON [`TokenInfo`].
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens.2");
/// (app, external user id) → dense id (`u32`, little-endian).
const DICT: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("dict.2");
/// (app, dense id) → external user id (UTF-8).
const DICT_REV: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("dict_rev.2");
/// (app, ds) → JSON [`DayRecord`]: the published version of that day.
const DAYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("days.2");
/// (app, segment id) → segment record (opaque here; see `segments`).
const SEGMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("segments.2");
/// (app, experiment id) → experiment record (opaque here; see `experiments`).
const EXPERIMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("experiments.2");
/// (app, key) → idempotency record (opaque here).
const IDEMPOTENCY: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("idempotency.2");
/// (app, job kind) → JSON [`crate::jobs::Job`]: durable background work (see `jobs`).
const JOBS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("jobs.2");
/// Tokens' records, settings, the audit log and counters, keyed by (app, kind-prefixed id).
const ACCESS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("access.2");

mod access;
mod apps;
mod copy;
mod days;
mod dictionary;
mod integrity;
mod jobs;
mod keyed;
mod migrate;
#[cfg(test)]
pub(super) mod tests;

pub use integrity::{RecordReport, copy_snapshot};

/// The embedded store (see the module docs).
pub struct Embedded {
    path: PathBuf,
    faults: Faults,
    /// The open database; `None` after an I/O failure until the next call reopens it.
    db: ArcSwapOption<Database>,
    /// One reopen at a time.
    reopening: Mutex<()>,
    /// Whether opening fell back to the commit before the last (see [`Embedded::rolled_back`]).
    rolled_back: bool,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("path", &self.path).field("open", &self.db.load().is_some()).finish()
    }
}

/// How long a reopen waits for transactions still running on the failed handle (they hold the
/// file's lock) before it gives up and answers an error; the next call tries again.
const REOPEN_WAIT: Duration = Duration::from_secs(2);

/// redb's settings for our file. A `check` open runs redb's full integrity check (every page
/// checksum); `rolled_back` is set when that check found the last commit damaged and went back
/// to the one before.
///
/// The file stays in redb's default mode, which locks it whole against other processes:
/// single-writer mode would let `sieve backup` open it from another process, but it takes file
/// locks on every read transaction (measured: 0.6 → 4.0 µs per read transaction, release build;
/// a membership request makes three), so the server writes backup snapshots itself instead.
fn builder(check: Option<Arc<AtomicBool>>) -> redb::Builder {
    let mut b = Database::builder();
    if let Some(rolled_back) = check {
        b.set_check_integrity_on_open(true);
        // redb reports progress 0.3 only after the primary commit failed its checksums and
        // before it falls back to the secondary (see `Database::do_repair`).
        b.set_repair_callback(move |session| {
            if (0.29..0.31).contains(&session.progress()) {
                rolled_back.store(true, Ordering::Relaxed);
            }
        });
    }
    b
}

/// Opens (creating) the database file, behind fault injection when that is on. `check`: see
/// [`builder`].
fn open_db(path: &Path, faults: &Faults, check: Option<Arc<AtomicBool>>) -> Result<Database, redb::DatabaseError> {
    if !faults.enabled() {
        return builder(check).create(path);
    }
    let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    let opening = Arc::new(AtomicBool::new(true));
    let db = builder(check).create_with_backend(FaultyBackend::new(file, faults.clone(), opening.clone())?);
    opening.store(false, Ordering::Release);
    db
}

/// Runs `f`, turning a panic into `Err(message)`. redb may panic on a file damaged outside it
/// (`unreachable code` was seen); the store must answer an error instead.
fn catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

/// [`catching`] with the panic hook silenced, so a damaged file gives one clear error line
/// instead of a panic report. Only for single-threaded moments (opening at start-up, `sieve`
/// subcommands): the hook is process-wide.
fn catching_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catching(f);
    std::panic::set_hook(previous);
    result
}

/// Opens `path` with the full integrity check; damage is [`StoreError::Unreadable`].
///
/// When the check finds the last commit damaged, redb falls back to the commit before only if
/// that commit was a one-phase one, i.e. the process died after it (a clean close ends with a
/// two-phase commit, whose damage redb refuses): its designed recovery from a crash during a
/// commit, logged here.
/// Returns the database and whether redb fell back to the commit before the last.
fn open_checked(path: &Path, faults: &Faults) -> Result<(Database, bool), StoreError> {
    let rolled_back = Arc::new(AtomicBool::new(false));
    let unreadable = |detail: String| StoreError::Unreadable { path: path.to_owned(), detail };
    let db = match catching_quietly(|| open_db(path, faults, Some(rolled_back.clone()))) {
        Err(panic) => return Err(unreadable(format!("redb panicked reading it ({panic})"))),
        Ok(Ok(db)) => db,
        Ok(Err(
            e @ (redb::DatabaseError::Storage(redb::StorageError::Corrupted(_))
            | redb::DatabaseError::RepairAborted
            | redb::DatabaseError::UpgradeRequired(_)),
        )) => return Err(unreadable(e.to_string())),
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))))
            if e.kind() == std::io::ErrorKind::InvalidData =>
        {
            return Err(unreadable(e.to_string()));
        }
        Ok(Err(e)) => return Err(e.into()),
    };
    let rolled_back = rolled_back.load(Ordering::Relaxed);
    if rolled_back {
        tracing::warn!(
            path = %path.display(),
            "the metadata store's last commit failed its checksums (a crash while committing, or damage) and was rolled back to the one before"
        );
    }
    Ok((db, rolled_back))
}

impl Embedded {
    /// Opens (creating) the store at `path`.
    pub fn open(path: &Path) -> Result<Embedded, StoreError> {
        Embedded::open_with_faults(path, Faults::off())
    }

    /// Opens (creating) the store at `path`, with storage fault injection (see [`Faults`]).
    /// Runs redb's full integrity check first (see the module docs) and migrates an older
    /// record format.
    pub fn open_with_faults(path: &Path, faults: Faults) -> Result<Embedded, StoreError> {
        let (db, rolled_back) = open_checked(path, &faults)?;
        let txn = db.begin_write()?;
        migrate::migrate(&txn)?;
        jobs::release_claims(&txn)?;
        txn.commit()?;
        Ok(Embedded {
            path: path.to_owned(),
            faults,
            db: ArcSwapOption::from_pointee(db),
            reopening: Mutex::new(()),
            rolled_back,
        })
    }

    /// Where the store's file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether opening found the last commit damaged and fell back to the one before. After a
    /// crash during that commit this is redb's recovery (the commit was never acknowledged);
    /// otherwise an acknowledged write was lost to damage. The two cannot be told apart, so it
    /// is not refused but reported (`/health` is `degraded` until the next start).
    pub fn rolled_back(&self) -> bool {
        self.rolled_back
    }

    /// The open database, reopened first if an I/O failure dropped it.
    fn db(&self) -> Result<Arc<Database>, StoreError> {
        if let Some(db) = self.db.load_full() {
            return Ok(db);
        }
        let _one_at_a_time = self.reopening.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = self.db.load_full() {
            return Ok(db); // another thread reopened it meanwhile
        }
        let started = Instant::now();
        loop {
            // No full check here (it reads the whole file and commits, which a full disk may
            // refuse); start-up did it. A panic on a page damaged since is an error like any.
            let opened = catching(|| open_db(&self.path, &self.faults, None)).map_err(StoreError::Panicked)?;
            match opened {
                Ok(db) => {
                    let db = Arc::new(db);
                    self.db.store(Some(db.clone()));
                    tracing::warn!(path = %self.path.display(), "metadata store reopened after an I/O failure");
                    return Ok(db);
                }
                // A transaction on the failed handle still holds the file's lock; it ends soon.
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if started.elapsed() < REOPEN_WAIT => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Drops `db` after it failed with an I/O error (redb latched it; see the module docs), so
    /// the next call reopens the file; a handle that another thread reopened meanwhile is kept.
    /// Returns the error for `?`.
    fn failed(&self, db: &Arc<Database>, err: StoreError) -> StoreError {
        // After a panic redb's state is unknown: reopen too.
        if err.is_io() || matches!(err, StoreError::Panicked(_)) {
            let current = Some(Arc::clone(db));
            let previous = self.db.compare_and_swap(&current, None::<Arc<Database>>);
            if previous.as_ref().is_some_and(|p| Arc::ptr_eq(p, db)) {
                tracing::error!(error = %err, "metadata store I/O failure; the file will be reopened");
            }
        }
        err
    }

    /// Runs a read transaction; if it met an I/O failure, once more on a reopened handle.
    fn read<T>(&self, f: impl Fn(&ReadTransaction) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut retried = false;
        loop {
            let db = self.db()?;
            let run = || db.begin_read().map_err(StoreError::from).and_then(|txn| f(&txn));
            match catching(run).unwrap_or_else(|panic| Err(StoreError::Panicked(panic))) {
                Err(e) if e.is_io() && !retried => {
                    drop(self.failed(&db, e));
                    retried = true;
                }
                Err(e) => return Err(self.failed(&db, e)),
                ok => return ok,
            }
        }
    }

    /// Runs a write transaction and commits it when `f` returns `(value, true)`, aborts it on
    /// `(value, false)` or an error. Never retried: after an I/O failure the caller decides.
    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<(T, bool), StoreError>) -> Result<T, StoreError> {
        let db = self.db()?;
        let run = || -> Result<T, StoreError> {
            let txn = db.begin_write()?;
            let (value, commit) = f(&txn)?;
            if commit {
                txn.commit()?;
            } else {
                txn.abort()?;
            }
            Ok(value)
        };
        catching(run).unwrap_or_else(|panic| Err(StoreError::Panicked(panic))).map_err(|e| self.failed(&db, e))
    }
}

/// The rows of one app in a table keyed by (app, id), in key order, each decoded by `f`.
fn app_rows<T>(
    txn: &ReadTransaction,
    def: TableDefinition<(&str, &str), &[u8]>,
    app: &str,
    f: impl Fn(&str, &[u8]) -> Result<T, StoreError>,
) -> Result<Vec<(String, T)>, StoreError> {
    let t = txn.open_table(def)?;
    let mut out = Vec::new();
    for row in t.range((app, "")..)? {
        let (k, v) = row?;
        let (a, id) = k.value();
        if a != app {
            break;
        }
        out.push((id.to_owned(), f(id, v.value())?));
    }
    Ok(out)
}

impl Backend for Embedded {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    fn shared(&self) -> bool {
        false
    }
    fn lock(&self, _name: LockName<'_>, _wait: bool) -> Result<Held, StoreError> {
        Ok(Held::NotNeeded)
    }
    fn create_app(&self, id: &str, record: &AppRecord) -> Result<bool, StoreError> {
        Embedded::create_app(self, id, record)
    }
    fn app(&self, id: &str) -> Result<Option<AppRecord>, StoreError> {
        Embedded::app(self, id)
    }
    fn app_exists(&self, id: &str) -> Result<bool, StoreError> {
        Embedded::app_exists(self, id)
    }
    fn apps(&self) -> Result<Vec<(String, AppRecord)>, StoreError> {
        Embedded::apps(self)
    }
    fn token_change(
        &self,
        app: &str,
        id: &str,
        record: Option<&[u8]>,
        put: &[(String, TokenInfo)],
        delete: &[String],
    ) -> Result<(), StoreError> {
        Embedded::token_change(self, app, id, record, put, delete)
    }
    fn access_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Embedded::access_get(self, app, id)
    }
    fn access_list(
        &self,
        app: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Embedded::access_list(self, app, prefix, after, limit)
    }
    fn access_update(&self, app: &str, id: &str, f: super::backend::Change<'_>) -> Result<Option<Vec<u8>>, StoreError> {
        Embedded::access_update(self, app, id, f)
    }
    fn token(&self, key: &str) -> Result<Option<TokenInfo>, StoreError> {
        Embedded::token(self, key)
    }
    fn dict_lookup(&self, app: &str, external: &str) -> Result<Option<u32>, StoreError> {
        Embedded::dict_lookup(self, app, external)
    }
    fn dict_external(&self, app: &str, id: u32) -> Result<Option<String>, StoreError> {
        Embedded::dict_external(self, app, id)
    }
    fn dict_load_from(&self, app: &str, from: u32) -> Result<Vec<String>, StoreError> {
        Embedded::dict_load_from(self, app, from)
    }
    fn dict_externals(
        &self,
        app: &str,
        ids: &mut dyn Iterator<Item = u32>,
        f: &mut dyn FnMut(u32, &str),
    ) -> Result<(), StoreError> {
        Embedded::dict_externals(self, app, ids, f)
    }
    fn day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        Embedded::day(self, app, ds)
    }
    fn latest_day(&self, app: &str) -> Result<Option<(String, DayRecord)>, StoreError> {
        Embedded::latest_day(self, app)
    }
    fn days(&self, app: &str) -> Result<Vec<(String, DayRecord)>, StoreError> {
        Embedded::days(self, app)
    }
    fn publish(&self, p: &Publish<'_>) -> Result<(), StoreError> {
        Embedded::publish(self, p)
    }
    fn delete_day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        Embedded::delete_day(self, app, ds)
    }
    fn segment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Embedded::segment_get(self, app, id)
    }
    fn segment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Embedded::segment_list(self, app)
    }
    fn segment_cas(&self, app: &str, id: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, StoreError> {
        Embedded::segment_cas(self, app, id, expected, new)
    }
    fn experiment_create(&self, app: &str, id: &str, record: &[u8]) -> Result<bool, StoreError> {
        Embedded::experiment_create(self, app, id, record)
    }
    fn experiment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Embedded::experiment_get(self, app, id)
    }
    fn experiment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Embedded::experiment_list(self, app)
    }
    fn idempotency_get(&self, app: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Embedded::idempotency_get(self, app, key)
    }
    fn idempotency_put(&self, app: &str, key: &str, record: &[u8]) -> Result<(), StoreError> {
        Embedded::idempotency_put(self, app, key, record)
    }
    fn job_get(&self, app: &str, kind: JobKind) -> Result<Option<Job>, StoreError> {
        Embedded::job_get(self, app, kind)
    }
    fn job_list(&self) -> Result<Vec<Job>, StoreError> {
        Embedded::job_list(self)
    }
    fn job_update(
        &self,
        app: &str,
        kind: JobKind,
        f: Box<dyn FnOnce(Option<Job>) -> Option<Job> + '_>,
    ) -> Result<Option<Job>, StoreError> {
        Embedded::job_update(self, app, kind, f)
    }
    fn export_records(
        &self,
        table: &'static str,
        f: &mut dyn FnMut(RawRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        Embedded::export_records(self, table, f)
    }
    fn import_records(&self, records: &[RawRecord]) -> Result<u64, StoreError> {
        Embedded::import_records(self, records)
    }
    fn verify_records(&self, both_ways: bool) -> Result<RecordReport, StoreError> {
        Embedded::verify_records(self, both_ways)
    }
    fn snapshot_to(&self, dest: &Path) -> Result<u64, StoreError> {
        Embedded::snapshot_to(self, dest)
    }
    fn rolled_back(&self) -> bool {
        self.rolled_back
    }
    #[cfg(test)]
    fn embedded(&self) -> Option<&Embedded> {
        Some(self)
    }
}
