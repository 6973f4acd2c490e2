//! The metadata store in PostgreSQL (`--meta-url postgres://…`): what lets several `sieve
//! serve` processes (replicas) share one set of apps, days, segments and jobs.
//!
//! **Same records.** The tables mirror the embedded store's (see [`schema`]), every key scoped
//! by app (tokens are keyed by their hash; the record names the app), and every value is the
//! same sealed bytes ([`codec`](super::codec)), so a damaged or foreign row is refused exactly
//! as in redb, and `sieve migrate` copies records verbatim.
//!
//! **Same promises.** Each [`Backend`] call is one transaction. Conditional writes lock what
//! they read (`SELECT … FOR UPDATE`, or a transaction-scoped advisory lock where the row may
//! not exist yet), so two replicas racing on one segment, one job or one day both see a
//! consistent state and exactly one wins; the loser is refused (`false`, or
//! [`StoreError::Conflict`]) and changes nothing. Longer holds are session-scoped advisory
//! locks ([`Backend::lock`]): a publish holds its app's for its whole length (publishes of one
//! app are serialised across replicas), a segment write its app's definitions, a request its
//! idempotency key; PostgreSQL releases them when a replica dies.
//!
//! **Blocking calls, async client.** The server calls the store from the blocking pool (and
//! briefly from request threads, as with redb). The maintained async client `tokio-postgres`
//! runs its connections on a small runtime of this store's own; a call drives its queries to
//! completion on the calling thread (`futures_executor::block_on`), which never nests a tokio
//! runtime. Connections are pooled (at most [`MAX_CONNECTIONS`]); one that failed is dropped.
//! A server that cannot be reached makes calls fail with [`StoreError::Unavailable`] (503);
//! the next call connects again, so service comes back with the server.
//!
//! | module | what it does |
//! |---|---|
//! | here | the connection pool, running a call, [`Backend`] for PostgreSQL |
//! | [`schema`] | the versioned schema migrations, applied at start-up |
//! | `tables` | the queries: apps, tokens, dictionary, days and publish, keyed records, jobs |
//! | `verify` | checking every row (`sieve check`) |
//! | `copy` | records as stored, exported and imported (`sieve migrate`) |

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::backend::{AppGuard, Backend, Held, LockName};
use super::codec::{AppRecord, DayRecord, Publish, RawRecord, TokenInfo};
use super::{RecordReport, StoreError};
use crate::jobs::{Job, JobKind};
use crate::store::client_runtime::ClientRuntime;

mod access;
mod copy;
pub mod schema;
mod tables;
mod verify;

/// Connections one process keeps at most: the blocking pool's store calls queue beyond it.
pub const MAX_CONNECTIONS: usize = 16;
/// How long connecting may take before the store answers unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Advisory lock namespaces (the first key of PostgreSQL's two-key form).
mod lock {
    /// Session lock per app, held by a publish.
    pub const PUBLISH: i32 = 1;
    /// Transaction lock per (app, job kind), taken before a job's read-change-write.
    pub const JOB: i32 = 2;
    /// Transaction lock taken while the schema is migrated.
    pub const SCHEMA: i32 = 3;
    /// Session lock per app while a segment is written.
    pub const SEGMENTS: i32 = 4;
    /// Session lock per (app, idempotency key) while its request runs.
    pub const IDEMPOTENCY: i32 = 5;
    /// Transaction lock per (app, id) of the `access` table, taken before its read-change-write.
    pub const ACCESS: i32 = 6;
}

/// The second key of an advisory lock: 32 bits of a hash of `parts`.
fn lock_key(parts: &[&str]) -> i32 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    i32::from_le_bytes(h.finalize().as_bytes()[..4].try_into().unwrap_or_default())
}

/// The PostgreSQL store (see the module docs).
pub struct Postgres {
    /// `host:port/dbname`, for logs and errors (never the password).
    describe: String,
    config: tokio_postgres::Config,
    /// The runtime the connections' I/O runs on.
    runtime: ClientRuntime,
    idle: Arc<Mutex<Vec<Client>>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("at", &self.describe).finish()
    }
}

/// Why `--meta-url` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not a PostgreSQL connection string.
    #[error("--meta-url must be a postgres:// URL (or unset for the embedded store): {0}")]
    Invalid(String),
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`, or with
    /// `?host=/socket/dir`), applies the schema migrations it lacks and checks one connection
    /// works: bad settings fail here, at start-up, not at the first request.
    ///
    /// # Errors
    /// A bad URL, an unreachable server, refused credentials, or a schema newer than this build.
    pub fn connect(url: &str) -> Result<Postgres, StoreError> {
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(StoreError::Unavailable(UrlError::Invalid(format!("`{}`", redact(url))).to_string()));
        }
        let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
            StoreError::Unavailable(UrlError::Invalid(e.to_string()).to_string())
        })?;
        config.connect_timeout(CONNECT_TIMEOUT).keepalives(true).application_name("sieve");
        let describe = describe(&config);
        let runtime = ClientRuntime::start("sieve-postgres")
            .map_err(|e| StoreError::Unavailable(format!("starting the PostgreSQL client runtime: {e}")))?;
        let store = Postgres {
            describe,
            config,
            runtime,
            idle: Arc::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)),
        };
        store.call(async |c| schema::migrate(c).await)?;
        Ok(store)
    }

    /// Opens a new connection on the store's runtime.
    async fn open_connection(&self) -> Result<Client, StoreError> {
        let config = self.config.clone();
        let at = self.describe.clone();
        let connecting = self.runtime.handle().spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL connection closed");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        match connecting.await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("PostgreSQL at {at}: {e}"))),
            Err(e) => Err(StoreError::Unavailable(format!("PostgreSQL at {at}: the client runtime stopped ({e})"))),
        }
    }

    /// Runs `f` on a pooled connection, blocking the calling thread until it finishes.
    fn call<T>(&self, f: impl AsyncFnOnce(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        futures_executor::block_on(async {
            let _permit = self.permits.acquire().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let mut client = match self.pooled() {
                Some(client) => client,
                None => self.open_connection().await?,
            };
            let result = f(&mut client).await;
            if !client.is_closed() {
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(client);
            }
            result.map_err(|e| self.explained(e))
        })
    }

    /// An idle connection that is still open.
    fn pooled(&self) -> Option<Client> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(client) = idle.pop() {
            if !client.is_closed() {
                return Some(client);
            }
        }
        None
    }

    /// A lost connection said as what it means for the caller: the store is unavailable.
    fn explained(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Postgres(e) if e.as_db_error().is_none() => {
                StoreError::Unavailable(format!("PostgreSQL at {}: {e}", self.describe))
            }
            other => other,
        }
    }
}

/// A read-only transaction that sees one committed state throughout (checks and copies).
async fn snapshot(c: &mut Client) -> Result<tokio_postgres::Transaction<'_>, StoreError> {
    let builder = c.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead);
    Ok(builder.read_only(true).start().await?)
}

/// `host:port/dbname` of a connection config.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or("postgres"))
}

/// A URL with its password replaced, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A lock held in PostgreSQL: a session advisory lock on a pooled connection, kept out of the
/// pool until the lock is released (on drop; one round trip), then returned. If the process
/// dies, PostgreSQL ends the session and releases the lock with it.
struct Lock {
    /// Where idle connections go back.
    idle: Arc<Mutex<Vec<Client>>>,
    /// Where the store is, for the log.
    at: String,
    client: Option<Client>,
    key: (i32, i32),
}

impl AppGuard for Lock {}

impl Drop for Lock {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        let (ns, key) = self.key;
        match futures_executor::block_on(client.query_one("SELECT pg_advisory_unlock($1, $2)", &[&ns, &key])) {
            Ok(_) if !client.is_closed() => self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(client),
            Ok(_) => {}
            // The session is gone (and its lock with it) or will be: dropping the client ends it.
            Err(e) => tracing::warn!(error = %e, at = %self.at, "releasing a lock"),
        }
    }
}

/// The two advisory-lock keys of a lock name.
fn lock_keys(name: LockName<'_>) -> (i32, i32) {
    match name {
        LockName::Publish(app) => (lock::PUBLISH, lock_key(&[app])),
        LockName::Segments(app) => (lock::SEGMENTS, lock_key(&[app])),
        LockName::Idempotency(app, key) => (lock::IDEMPOTENCY, lock_key(&[app, key])),
    }
}

impl Backend for Postgres {
    fn describe(&self) -> String {
        format!("PostgreSQL at {}", self.describe)
    }
    fn shared(&self) -> bool {
        true
    }
    fn lock(&self, name: LockName<'_>, wait: bool) -> Result<Held, StoreError> {
        let (ns, key) = lock_keys(name);
        let taken = futures_executor::block_on(async {
            let client = match self.pooled() {
                Some(client) => client,
                None => self.open_connection().await?,
            };
            let got = if wait {
                client.execute("SELECT pg_advisory_lock($1, $2)", &[&ns, &key]).await?;
                true
            } else {
                client.query_one("SELECT pg_try_advisory_lock($1, $2)", &[&ns, &key]).await?.get::<_, bool>(0)
            };
            Ok::<_, StoreError>((client, got))
        })
        .map_err(|e| self.explained(e))?;
        match taken {
            (client, true) => Ok(Held::Held(Box::new(Lock {
                idle: self.idle.clone(),
                at: self.describe.clone(),
                client: Some(client),
                key: (ns, key),
            }))),
            (client, false) => {
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(client);
                Ok(Held::Busy)
            }
        }
    }
    fn create_app(&self, id: &str, record: &AppRecord) -> Result<bool, StoreError> {
        self.call(async |c| tables::create_app(c, id, record).await)
    }
    fn app(&self, id: &str) -> Result<Option<AppRecord>, StoreError> {
        self.call(async |c| tables::app(c, id).await)
    }
    fn app_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.call(async |c| tables::app(c, id).await.map(|a| a.is_some()))
    }
    fn apps(&self) -> Result<Vec<(String, AppRecord)>, StoreError> {
        self.call(async |c| tables::apps(c).await)
    }
    fn token_change(
        &self,
        app: &str,
        id: &str,
        record: Option<&[u8]>,
        put: &[(String, TokenInfo)],
        delete: &[String],
    ) -> Result<(), StoreError> {
        self.call(async |c| access::token_change(c, app, id, record, put, delete).await)
    }
    fn access_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(async |c| access::get(c, app, id).await)
    }
    fn access_list(
        &self,
        app: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.call(async |c| access::list(c, app, prefix, after, limit).await)
    }
    fn access_update(&self, app: &str, id: &str, f: super::backend::Change<'_>) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(async |c| access::update(c, app, id, f).await)
    }
    fn token(&self, key: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.call(async |c| tables::token(c, key).await)
    }
    fn dict_lookup(&self, app: &str, external: &str) -> Result<Option<u32>, StoreError> {
        self.call(async |c| tables::dict_lookup(c, app, external).await)
    }
    fn dict_external(&self, app: &str, id: u32) -> Result<Option<String>, StoreError> {
        self.call(async |c| tables::dict_external(c, app, id).await)
    }
    fn dict_load_from(&self, app: &str, from: u32) -> Result<Vec<String>, StoreError> {
        self.call(async |c| tables::dict_load_from(c, app, from).await)
    }
    fn dict_externals(
        &self,
        app: &str,
        ids: &mut dyn Iterator<Item = u32>,
        f: &mut dyn FnMut(u32, &str),
    ) -> Result<(), StoreError> {
        self.call(async |c| tables::dict_externals(c, app, ids, f).await)
    }
    fn day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        self.call(async |c| tables::day(c, app, ds).await)
    }
    fn latest_day(&self, app: &str) -> Result<Option<(String, DayRecord)>, StoreError> {
        self.call(async |c| tables::latest_day(c, app).await)
    }
    fn days(&self, app: &str) -> Result<Vec<(String, DayRecord)>, StoreError> {
        self.call(async |c| tables::days(c, app).await)
    }
    fn publish(&self, p: &Publish<'_>) -> Result<(), StoreError> {
        self.call(async |c| tables::publish(c, p).await)
    }
    fn delete_day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        self.call(async |c| tables::delete_day(c, app, ds).await)
    }
    fn segment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(async |c| tables::keyed_get(c, tables::Keyed::Segments, app, id).await)
    }
    fn segment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.call(async |c| tables::keyed_list(c, tables::Keyed::Segments, app).await)
    }
    fn segment_cas(&self, app: &str, id: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, StoreError> {
        self.call(async |c| tables::segment_cas(c, app, id, expected, new).await)
    }
    fn experiment_create(&self, app: &str, id: &str, record: &[u8]) -> Result<bool, StoreError> {
        self.call(async |c| tables::keyed_create(c, tables::Keyed::Experiments, app, id, record).await)
    }
    fn experiment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(async |c| tables::keyed_get(c, tables::Keyed::Experiments, app, id).await)
    }
    fn experiment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.call(async |c| tables::keyed_list(c, tables::Keyed::Experiments, app).await)
    }
    fn idempotency_get(&self, app: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(async |c| tables::keyed_get(c, tables::Keyed::Idempotency, app, key).await)
    }
    fn idempotency_put(&self, app: &str, key: &str, record: &[u8]) -> Result<(), StoreError> {
        self.call(async |c| tables::keyed_put(c, tables::Keyed::Idempotency, app, key, record).await)
    }
    fn job_get(&self, app: &str, kind: JobKind) -> Result<Option<Job>, StoreError> {
        self.call(async |c| tables::job_get(c, app, kind).await)
    }
    fn job_list(&self) -> Result<Vec<Job>, StoreError> {
        self.call(async |c| tables::job_list(c).await)
    }
    fn job_update(
        &self,
        app: &str,
        kind: JobKind,
        f: Box<dyn FnOnce(Option<Job>) -> Option<Job> + '_>,
    ) -> Result<Option<Job>, StoreError> {
        self.call(async |c| tables::job_update(c, app, kind, f).await)
    }
    fn export_records(
        &self,
        table: &'static str,
        f: &mut dyn FnMut(RawRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.call(async |c| copy::export(c, table, f).await)
    }
    fn import_records(&self, records: &[RawRecord]) -> Result<u64, StoreError> {
        self.call(async |c| copy::import(c, records).await)
    }
    fn verify_records(&self, both_ways: bool) -> Result<RecordReport, StoreError> {
        self.call(async |c| verify::verify(c, both_ways).await)
    }
    fn snapshot_to(&self, _dest: &Path) -> Result<u64, StoreError> {
        Err(StoreError::Unsupported(
            "a PostgreSQL metadata store is backed up with PostgreSQL's own tools (pg_dump, base backups); \
             `sieve backup` copies the embedded store",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://sieve:hunter2@db:5432/sieve"), "postgres://sieve:***@db:5432/sieve");
        assert_eq!(redact("postgres://db/sieve"), "postgres://db/sieve");
        let err = Postgres::connect("mysql://root:hunter2@db/x").expect_err("not postgres");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn lock_keys_differ_per_app() {
        assert_ne!(lock_key(&["a"]), lock_key(&["b"]));
        assert_ne!(lock_key(&["ab", "c"]), lock_key(&["a", "bc"]));
    }
}
