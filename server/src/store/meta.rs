//! Metadata in an embedded ACID store (redb): apps, tokens, the per-app dictionaries of user
//! ids, the day pointers that publish snapshots, segments and idempotency keys.
//!
//! Why redb (see ARCHITECTURE.md): pure Rust (no C toolchain, same build everywhere), ACID with
//! fsync on commit, MVCC so readers never wait for the writer, and a crash always leaves the
//! last committed transaction. Each commit here is one atomic step: a publish writes the new
//! dictionary entries and the day's manifest pointer in the same transaction, so readers see
//! the old version or the new one, never a mix.
//!
//! **I/O failures** (disk full, a failing disk): redb latches the first failed write or fsync,
//! and from then on every call on that handle fails (`PreviousIo`) until the database is closed
//! and opened again, which runs its recovery back to the last commit. So [`Meta`] drops the
//! handle when an operation fails with an I/O error, answers that operation with the error (the
//! client gets a 5xx and nothing was committed), and reopens the file on the next call. Reads
//! that met a latched handle are retried once on the reopened one; writes never are (the caller
//! decides). The server thus keeps serving what is committed while the disk is full, and writes
//! work again once there is space, without a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::faults::{Faults, FaultyBackend};

/// app id → JSON [`AppRecord`].
const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
/// BLAKE3 of the token secret → JSON [`TokenInfo`].
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
/// (app, external user id) → dense id.
const DICT: TableDefinition<(&str, &str), u32> = TableDefinition::new("dict");
/// (app, dense id) → external user id.
const DICT_REV: TableDefinition<(&str, u32), &str> = TableDefinition::new("dict_rev");
/// (app, ds) → JSON [`DayRecord`]: the published version of that day.
const DAYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("days");
/// (app, segment id) → segment record (opaque here; see `segments`).
const SEGMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("segments");
/// (app, experiment id) → experiment record (opaque here; see `experiments`).
const EXPERIMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("experiments");
/// (app, key) → idempotency record (opaque here).
const IDEMPOTENCY: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("idempotency");

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
    /// Someone published the same day in between; the caller retries from the new state.
    #[error("day {ds} changed while publishing")]
    Conflict {
        /// The day.
        ds: String,
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
        matches!(
            self,
            StoreError::Db(
                redb::Error::Io(_)
                    | redb::Error::PreviousIo
                    | redb::Error::DatabaseClosed
                    // Only while reopening after a failure: the failed handle is still held.
                    | redb::Error::DatabaseAlreadyOpen
            )
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

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads snapshots, segments, estimates.
    Viewer,
    /// Also uploads data and writes segments.
    Editor,
    /// Reads membership and syncs segments (for other services).
    Service,
}

/// An app token's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The app the token belongs to.
    pub app: String,
    /// What it may do.
    pub role: Role,
}

/// An app (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// Display name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
}

/// The published version of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRecord {
    /// Address of the manifest blob.
    pub manifest: String,
    /// Publish counter of the day, from 1.
    pub version: u64,
    /// When it was published, ms since the epoch.
    pub published_ms: u64,
}

/// One publish: new dictionary entries and new day pointers, committed together.
#[derive(Debug, Clone, Default)]
pub struct Publish<'a> {
    /// The app.
    pub app: &'a str,
    /// Dense id of the first new external id (the dictionary's length before).
    pub first_new_id: u32,
    /// New external ids, in dense-id order.
    pub new_ids: &'a [String],
    /// (ds, expected current version (0 = none), new record).
    pub days: Vec<(String, u64, DayRecord)>,
}

/// The metadata store.
pub struct Meta {
    path: PathBuf,
    faults: Faults,
    /// The open database; `None` after an I/O failure until the next call reopens it.
    db: ArcSwapOption<Database>,
    /// One reopen at a time.
    reopening: Mutex<()>,
    /// Token hash → scope. Tokens never change once created (there is no revocation yet), so
    /// caching them is safe and keeps a store read off every request.
    tokens: quick_cache::sync::Cache<String, TokenInfo>,
}

impl std::fmt::Debug for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meta")
            .field("path", &self.path)
            .field("open", &self.db.load().is_some())
            .field("cached_tokens", &self.tokens.len())
            .finish()
    }
}

/// How long a reopen waits for transactions still running on the failed handle (they hold the
/// file's lock) before it gives up and answers an error; the next call tries again.
const REOPEN_WAIT: Duration = Duration::from_secs(2);

/// Opens (creating) the database file, behind fault injection when that is on.
fn open_db(path: &Path, faults: &Faults) -> Result<Database, redb::DatabaseError> {
    if !faults.enabled() {
        return Database::create(path);
    }
    let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    let opening = Arc::new(AtomicBool::new(true));
    let db = Database::builder().create_with_backend(FaultyBackend::new(file, faults.clone(), opening.clone())?);
    opening.store(false, Ordering::Release);
    db
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn decode<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Record { what: what.to_owned(), source })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}

impl Meta {
    /// Opens (creating) the store at `path`.
    pub fn open(path: &Path) -> Result<Meta, StoreError> {
        Meta::open_with_faults(path, Faults::off())
    }

    /// Opens (creating) the store at `path`, with storage fault injection (see [`Faults`]).
    pub fn open_with_faults(path: &Path, faults: Faults) -> Result<Meta, StoreError> {
        let db = open_db(path, &faults)?;
        // Create every table up front so read transactions never meet a missing one.
        let txn = db.begin_write()?;
        txn.open_table(APPS)?;
        txn.open_table(TOKENS)?;
        txn.open_table(DICT)?;
        txn.open_table(DICT_REV)?;
        txn.open_table(DAYS)?;
        txn.open_table(SEGMENTS)?;
        txn.open_table(IDEMPOTENCY)?;
        txn.open_table(EXPERIMENTS)?;
        txn.commit()?;
        Ok(Meta {
            path: path.to_owned(),
            faults,
            db: ArcSwapOption::from_pointee(db),
            reopening: Mutex::new(()),
            tokens: quick_cache::sync::Cache::new(10_000),
        })
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
            match open_db(&self.path, &self.faults) {
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
        if err.is_io() {
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
            match db.begin_read().map_err(StoreError::from).and_then(|txn| f(&txn)) {
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
        run().map_err(|e| self.failed(&db, e))
    }

    // ---- apps and tokens -------------------------------------------------------------------

    /// Creates an app; `false` if it already exists (nothing changes then).
    pub fn create_app(&self, id: &str, name: &str) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(APPS)?;
            if t.get(id)?.is_some() {
                return Ok((false, false));
            }
            t.insert(id, encode(&AppRecord { name: name.to_owned(), created_ms: now_ms() }).as_slice())?;
            Ok((true, true))
        })
    }

    /// Whether an app exists.
    pub fn app_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.read(|txn| Ok(txn.open_table(APPS)?.get(id)?.is_some()))
    }

    /// Every app, by id.
    pub fn apps(&self) -> Result<Vec<(String, AppRecord)>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(APPS)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                out.push((k.value().to_owned(), decode(k.value(), v.value())?));
            }
            Ok(out)
        })
    }

    /// Creates a token for an app and returns its secret (shown once; only its hash is kept).
    pub fn create_token(&self, app: &str, role: Role) -> Result<String, StoreError> {
        let mut raw = [0u8; 24];
        rand::fill(&mut raw);
        let secret = format!("sv_{}", raw.iter().map(|b| format!("{b:02x}")).collect::<String>());
        self.write(|txn| {
            txn.open_table(TOKENS)?
                .insert(token_key(&secret).as_str(), encode(&TokenInfo { app: app.to_owned(), role }).as_slice())?;
            Ok(((), true))
        })?;
        Ok(secret)
    }

    /// The scope of a token secret, if it is one of ours.
    pub fn lookup_token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        let key = token_key(secret);
        if let Some(info) = self.tokens.get(&key) {
            return Ok(Some(info));
        }
        let info: Option<TokenInfo> = self.read(|txn| match txn.open_table(TOKENS)?.get(key.as_str())? {
            Some(v) => Ok(Some(decode("token", v.value())?)),
            None => Ok(None),
        })?;
        // Only found tokens are cached, so guessing cannot fill the cache.
        if let Some(info) = &info {
            self.tokens.insert(key, info.clone());
        }
        Ok(info)
    }

    // ---- dictionary ------------------------------------------------------------------------

    /// The dense id of an external user id.
    pub fn dict_lookup(&self, app: &str, external: &str) -> Result<Option<u32>, StoreError> {
        self.read(|txn| Ok(txn.open_table(DICT)?.get((app, external))?.map(|v| v.value())))
    }

    /// The external id of a dense id.
    pub fn dict_external(&self, app: &str, id: u32) -> Result<Option<String>, StoreError> {
        self.read(|txn| Ok(txn.open_table(DICT_REV)?.get((app, id))?.map(|v| v.value().to_owned())))
    }

    /// Every external id of an app, in dense-id order (index = dense id).
    pub fn dict_load(&self, app: &str) -> Result<Vec<String>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(DICT_REV)?;
            let mut out = Vec::new();
            for row in t.range((app, 0u32)..=(app, u32::MAX))? {
                let (_, v) = row?;
                out.push(v.value().to_owned());
            }
            Ok(out)
        })
    }

    /// External ids of many dense ids (sorted ascending), streamed to `f` in order.
    ///
    /// Not retried after an I/O failure (`f` may have seen some ids already).
    pub fn dict_externals(
        &self,
        app: &str,
        ids: impl Iterator<Item = u32>,
        mut f: impl FnMut(u32, &str),
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let run = || -> Result<(), StoreError> {
            let txn = db.begin_read()?;
            let t = txn.open_table(DICT_REV)?;
            for id in ids {
                if let Some(v) = t.get((app, id))? {
                    f(id, v.value());
                }
            }
            Ok(())
        };
        run().map_err(|e| self.failed(&db, e))
    }

    // ---- days ------------------------------------------------------------------------------

    /// The published version of a day.
    pub fn day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        self.read(|txn| match txn.open_table(DAYS)?.get((app, ds))? {
            Some(v) => Ok(Some(decode("day", v.value())?)),
            None => Ok(None),
        })
    }

    /// The latest published day of an app.
    pub fn latest_day(&self, app: &str) -> Result<Option<(String, DayRecord)>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(DAYS)?;
            // Days sort as text (YYYY-MM-DD), so the app's last key is its latest day; `\u{10ffff}`
            // sorts after any ds.
            let last = t.range((app, "")..(app, "\u{10ffff}"))?.next_back().transpose()?;
            match last {
                Some((k, v)) => Ok(Some((k.value().1.to_owned(), decode("day", v.value())?))),
                None => Ok(None),
            }
        })
    }

    /// Every published day of an app, oldest first.
    pub fn days(&self, app: &str) -> Result<Vec<(String, DayRecord)>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(DAYS)?;
            let mut out = Vec::new();
            for row in t.range((app, "")..)? {
                let (k, v) = row?;
                let (a, ds) = k.value();
                if a != app {
                    break;
                }
                out.push((ds.to_owned(), decode("day", v.value())?));
            }
            Ok(out)
        })
    }

    /// Commits a publish in one transaction: the new dictionary entries and every day pointer,
    /// each only if the day is still at the version the publisher started from.
    pub fn publish(&self, p: &Publish<'_>) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut days = txn.open_table(DAYS)?;
            for (ds, expected, record) in &p.days {
                let current = match days.get((p.app, ds.as_str()))? {
                    Some(v) => decode::<DayRecord>("day", v.value())?.version,
                    None => 0,
                };
                if current != *expected {
                    return Err(StoreError::Conflict { ds: ds.clone() });
                }
                days.insert((p.app, ds.as_str()), encode(record).as_slice())?;
            }
            let mut dict = txn.open_table(DICT)?;
            let mut rev = txn.open_table(DICT_REV)?;
            for (i, ext) in p.new_ids.iter().enumerate() {
                let id = p.first_new_id + i as u32;
                dict.insert((p.app, ext.as_str()), id)?;
                rev.insert((p.app, id), ext.as_str())?;
            }
            Ok(((), true))
        })
    }

    // ---- segments and idempotency keys ----------------------------------------------------

    /// A segment's stored record.
    pub fn segment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| Ok(txn.open_table(SEGMENTS)?.get((app, id))?.map(|v| v.value().to_vec())))
    }

    /// Every stored segment record of an app (tombstones included), by id.
    pub fn segment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(SEGMENTS)?;
            let mut out = Vec::new();
            for row in t.range((app, "")..)? {
                let (k, v) = row?;
                let (a, id) = k.value();
                if a != app {
                    break;
                }
                out.push((id.to_owned(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Stores `new` if the stored record still equals `expected` (`None`: absent). Returns
    /// whether it did; durable when it returns `true`.
    pub fn segment_cas(&self, app: &str, id: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(SEGMENTS)?;
            let current = t.get((app, id))?.map(|v| v.value().to_vec());
            if current.as_deref() == expected {
                t.insert((app, id), new)?;
                Ok((true, true))
            } else {
                Ok((false, false))
            }
        })
    }

    /// Stores an experiment if its id is free; `false` (nothing changed) if it exists.
    pub fn experiment_create(&self, app: &str, id: &str, record: &[u8]) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(EXPERIMENTS)?;
            if t.get((app, id))?.is_some() {
                return Ok((false, false));
            }
            t.insert((app, id), record)?;
            Ok((true, true))
        })
    }

    /// An experiment's record.
    pub fn experiment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| Ok(txn.open_table(EXPERIMENTS)?.get((app, id))?.map(|v| v.value().to_vec())))
    }

    /// Every experiment record of an app, by id.
    pub fn experiment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(EXPERIMENTS)?;
            let mut out = Vec::new();
            for row in t.range((app, "")..(app, "\u{10ffff}"))? {
                let (k, v) = row?;
                out.push((k.value().1.to_owned(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// A stored idempotency record.
    pub fn idempotency_get(&self, app: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| Ok(txn.open_table(IDEMPOTENCY)?.get((app, key))?.map(|v| v.value().to_vec())))
    }

    /// Stores an idempotency record.
    pub fn idempotency_put(&self, app: &str, key: &str, record: &[u8]) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(IDEMPOTENCY)?.insert((app, key), record)?;
            Ok(((), true))
        })
    }
}

/// Tokens are kept as their BLAKE3 hash, so a copy of the database does not leak them.
fn token_key(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> (tempfile::TempDir, Meta) {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = Meta::open(&dir.path().join("meta.redb")).expect("open");
        (dir, m)
    }

    #[test]
    fn apps_and_tokens() {
        let (_d, m) = meta();
        assert!(m.create_app("demo", "Demo").expect("create"));
        assert!(!m.create_app("demo", "Again").expect("exists"));
        let secret = m.create_token("demo", Role::Editor).expect("token");
        assert_eq!(
            m.lookup_token(&secret).expect("lookup"),
            Some(TokenInfo { app: "demo".into(), role: Role::Editor })
        );
        assert_eq!(m.lookup_token("sv_nope").expect("lookup"), None);
    }

    #[test]
    fn publish_is_atomic_and_checks_versions() {
        let (_d, m) = meta();
        let rec = |v| DayRecord { manifest: "a".repeat(64), version: v, published_ms: 1 };
        let ids = vec!["u1".to_owned(), "u2".to_owned()];
        m.publish(&Publish { app: "x", first_new_id: 0, new_ids: &ids, days: vec![("2026-11-20".into(), 0, rec(1))] })
            .expect("first publish");
        assert_eq!(m.dict_lookup("x", "u2").expect("lookup"), Some(1));
        assert_eq!(m.dict_external("x", 0).expect("rev").as_deref(), Some("u1"));
        // A stale expected version changes nothing: neither the day nor the dictionary.
        let more = vec!["u3".to_owned()];
        let stale = Publish { app: "x", first_new_id: 2, new_ids: &more, days: vec![("2026-11-20".into(), 0, rec(2))] };
        assert!(matches!(m.publish(&stale), Err(StoreError::Conflict { .. })));
        assert_eq!(m.dict_lookup("x", "u3").expect("lookup"), None);
        assert_eq!(m.day("x", "2026-11-20").expect("day").map(|d| d.version), Some(1));
        // Apps do not see each other's days or ids.
        assert!(m.days("y").expect("days").is_empty());
        assert_eq!(m.latest_day("y").expect("latest"), None);
        assert_eq!(m.latest_day("x").expect("latest").map(|d| d.0), Some("2026-11-20".to_owned()));
        assert_eq!(m.dict_lookup("y", "u1").expect("lookup"), None);
        assert_eq!(m.dict_load("x").expect("load"), ids);
    }

    #[test]
    fn an_io_failure_reopens_the_store_and_loses_nothing_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = dir.path().join("faults");
        let m =
            Meta::open_with_faults(&dir.path().join("meta.redb"), Faults::with_control_file(&control)).expect("open");
        assert!(m.create_app("kept", "Kept").expect("create"));
        std::fs::write(&control, "meta enospc\n").expect("fault on");
        let err = m.create_app("lost", "Lost").expect_err("disk full");
        assert!(err.is_io(), "{err}");
        assert_eq!(err.io_error().map(std::io::Error::kind), Some(std::io::ErrorKind::StorageFull));
        // Reads go on (the failed handle was dropped, the file reopened), and show the last commit.
        assert!(m.app_exists("kept").expect("read while full"));
        assert!(!m.app_exists("lost").expect("read while full"));
        assert!(m.segment_cas("kept", "s", None, b"x").expect_err("still full").is_io());
        std::fs::remove_file(&control).expect("fault off");
        assert!(m.create_app("after", "After").expect("writes work again"));
        let ids: Vec<String> = m.apps().expect("apps").into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["after", "kept"]);
        // And the file holds exactly that when opened afresh.
        drop(m);
        let again = Meta::open(&dir.path().join("meta.redb")).expect("reopen");
        assert_eq!(again.apps().expect("apps").len(), 2);
    }

    #[test]
    fn segment_cas() {
        let (_d, m) = meta();
        assert!(m.segment_cas("a", "s", None, b"v1").expect("create"));
        assert!(!m.segment_cas("a", "s", None, b"v1'").expect("lost race"));
        assert!(m.segment_cas("a", "s", Some(b"v1"), b"v2").expect("update"));
        assert_eq!(m.segment_get("a", "s").expect("get").as_deref(), Some(&b"v2"[..]));
        assert_eq!(m.segment_list("a").expect("list").len(), 1);
        assert!(m.segment_list("b").expect("list").is_empty());
    }
}
