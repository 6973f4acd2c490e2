//! Shared state handed to every handler.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ids::AppIds;
use crate::publish::Publisher;
use crate::snapshots::Snapshots;
use crate::store::faults::Faults;
use crate::store::meta::postgres::Postgres;
use crate::store::meta::{Held, LockName};
use crate::store::object::ObjectBlobStore;
use crate::store::{BlobError, BlobStore, FsBlobStore, Meta, StoreError};

/// Settings the server runs with; built by `main` from flags and environment.
#[derive(Clone)]
pub struct Config {
    /// Where blobs and metadata live.
    pub data_dir: PathBuf,
    /// The built SPA (`trunk build` output): `index.html` plus hashed assets.
    pub dist_dir: PathBuf,
    /// Token for admin endpoints (creating apps and tokens). `None`: admin endpoints are closed.
    pub admin_token: Option<String>,
    /// Longest a request may run before it is answered `408 Request Timeout` (uploads excepted).
    pub request_timeout: Duration,
    /// Longest an upload route (CSV) may run, body transfer included.
    pub upload_timeout: Duration,
    /// Largest CSV upload accepted, in bytes (streamed to disk, never held in memory).
    pub upload_limit_bytes: u64,
    /// Largest bitmap of a bitmap upload, in decoded bytes (one row is held in memory).
    pub max_bitmap_bytes: usize,
    /// Days kept, counted back from an app's latest published day.
    pub retention_days: u32,
    /// How far after today (UTC) a data day may be: uploads for later days are refused.
    pub max_future_days: u32,
    /// Sample-tier rate: one user in this many.
    pub sample_rate: u32,
    /// Decoded bitmaps kept in memory, in bytes.
    pub cache_bytes: u64,
    /// Largest JSON (or other non-upload) request body accepted, in bytes; larger is a 413.
    pub json_limit_bytes: u64,
    /// Requests other than uploads handled at once; more are refused at once with a 503 (load
    /// shedding).
    pub max_inflight: usize,
    /// Uploads handled at once (their own pool, so slow bodies never take the slots reads need).
    pub max_uploads: usize,
    /// Uploads one token may run at once; more are answered 429.
    pub max_uploads_per_token: usize,
    /// Longest pause in an upload's body before it is dropped with 408.
    pub upload_idle_timeout: Duration,
    /// Slowest rate an upload's body may keep up (sustained for `upload_idle_timeout`), in bytes/s.
    pub upload_min_bytes_per_sec: u64,
    /// How often unreferenced blob files are looked for (see `crate::blob_gc`).
    pub blob_gc_interval: Duration,
    /// How long a blob must have been written and unreferenced before it is deleted.
    pub blob_gc_grace: Duration,
    /// Longest a client may take to send a request's headers (slow clients are disconnected).
    pub header_read_timeout: Duration,
    /// Storage fault injection, for tests (off unless `SIEVE_FAULTS` is set; see [`Faults`]).
    pub faults: Faults,
    /// A pause after each day a background job computes (zero by default): lets tests stop the
    /// server in the middle of a backfill.
    pub job_step_delay: Duration,
    /// Start even when metadata records fail their checksums (they answer 503 and `/health`
    /// lists them); without it such a store is refused at start-up.
    pub serve_damaged: bool,
    /// `postgres://…`: metadata in PostgreSQL, shared by replicas; `None`: redb in the data
    /// directory.
    pub meta_url: Option<String>,
    /// `s3://bucket/prefix` or `file:///dir`: where blobs live, shared by replicas; `None`:
    /// files in the data directory.
    pub blob_url: Option<String>,
    /// Bound of the local copy of blobs kept when they live in object storage.
    pub blob_cache_bytes: u64,
    /// Destinations may resolve to loopback, private and link-local addresses (see
    /// [`crate::reach::address`]).
    pub allow_private_destinations: bool,
    /// Attempts of a delivery batch before its sync stops `failed`.
    pub delivery_max_attempts: u32,
    /// How long a webhook request may take.
    pub delivery_timeout: Duration,
    /// First retry delay of a failed delivery batch (doubling, with jitter).
    pub delivery_first_backoff_ms: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token itself.
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("dist_dir", &self.dist_dir)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field("request_timeout", &self.request_timeout)
            .field("upload_timeout", &self.upload_timeout)
            .field("upload_limit_bytes", &self.upload_limit_bytes)
            .field("max_bitmap_bytes", &self.max_bitmap_bytes)
            .field("retention_days", &self.retention_days)
            .field("max_future_days", &self.max_future_days)
            .field("sample_rate", &self.sample_rate)
            .field("cache_bytes", &self.cache_bytes)
            .field("json_limit_bytes", &self.json_limit_bytes)
            .field("max_inflight", &self.max_inflight)
            .field("max_uploads", &self.max_uploads)
            .field("max_uploads_per_token", &self.max_uploads_per_token)
            .field("upload_idle_timeout", &self.upload_idle_timeout)
            .field("upload_min_bytes_per_sec", &self.upload_min_bytes_per_sec)
            .field("blob_gc_interval", &self.blob_gc_interval)
            .field("blob_gc_grace", &self.blob_gc_grace)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("faults", &self.faults)
            .field("job_step_delay", &self.job_step_delay)
            .field("serve_damaged", &self.serve_damaged)
            // URLs may hold a password: only which stores are used.
            .field("meta_url", &self.meta_url.as_ref().map(|_| "<set>"))
            .field("blob_url", &self.blob_url)
            .field("blob_cache_bytes", &self.blob_cache_bytes)
            .field("allow_private_destinations", &self.allow_private_destinations)
            .field("delivery_max_attempts", &self.delivery_max_attempts)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("delivery_first_backoff_ms", &self.delivery_first_backoff_ms)
            .finish()
    }
}

impl Config {
    /// How fast an upload's body must arrive.
    pub fn upload_pace(&self) -> crate::limits::Pace {
        crate::limits::Pace { idle: self.upload_idle_timeout, min_bytes_per_sec: self.upload_min_bytes_per_sec }
    }

    /// A config with the defaults `sieve serve` uses, for the given directories.
    pub fn new(data_dir: impl Into<PathBuf>, dist_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            dist_dir: dist_dir.into(),
            admin_token: None,
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(3600),
            upload_limit_bytes: 4 << 30,
            max_bitmap_bytes: 64 << 20,
            retention_days: 90,
            max_future_days: 1,
            sample_rate: engine::sample::DEFAULT_RATE,
            cache_bytes: 2 << 30,
            json_limit_bytes: 1 << 20,
            max_inflight: 512,
            max_uploads: 16,
            max_uploads_per_token: 4,
            upload_idle_timeout: Duration::from_secs(30),
            upload_min_bytes_per_sec: 16 << 10,
            blob_gc_interval: Duration::from_secs(3600),
            blob_gc_grace: Duration::from_secs(3600),
            header_read_timeout: Duration::from_secs(10),
            faults: Faults::off(),
            job_step_delay: Duration::ZERO,
            serve_damaged: false,
            meta_url: None,
            blob_url: None,
            blob_cache_bytes: 4 << 30,
            allow_private_destinations: false,
            delivery_max_attempts: 10,
            delivery_timeout: Duration::from_secs(30),
            delivery_first_backoff_ms: 2_000,
        }
    }
}

/// Why the server state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The metadata store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob store.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Creating the data directory.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The data directory is damaged or its metadata lost (the message says what to do).
    #[error(transparent)]
    Refused(#[from] crate::store::check::Refusal),
    /// Another server (or a restore) holds the data directory.
    #[error(transparent)]
    Locked(#[from] crate::backup::BackupError),
    #[error(transparent)]
    ObjectStorage(#[from] crate::store::object::OpenError),
    #[error("--blob-url must be s3://bucket[/prefix] or file:///absolute/dir: `{0}`")]
    BlobUrl(String),
    /// The delivery client could not be built (its TLS roots).
    #[error("the delivery HTTP client: {0}")]
    Client(String),
}

/// Per-app publish locks, each holding the app's dictionary once loaded. Uploads to one app
/// are published one at a time (their manifests build on each other); apps are independent.
#[derive(Debug, Default)]
pub struct AppLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<AppIds>>>>>,
}

impl AppLocks {
    /// The lock of one app.
    pub fn get(&self, app: &str) -> Arc<tokio::sync::Mutex<Option<AppIds>>> {
        let mut map = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry(app.to_owned()).or_default().clone()
    }
}

/// State shared by all handlers: one reference-counted [`Shared`], so a clone (every `State`
/// extractor and spawned task takes one) is one atomic increment. It used to be the fields
/// themselves, eighteen `Arc`s, and cloning and dropping it was 4% of a `/user/tags` profile at
/// 20K req/s (closed-loop throughput did not change measurably with one `Arc`: 16.1K req/s
/// both ways, with one wrk thread and two connections).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Debug)]
pub struct Shared {
    /// The settings the server was started with.
    pub config: Arc<Config>,
    /// Metadata: apps, tokens, dictionaries, day pointers, segments.
    pub meta: Arc<Meta>,
    /// Published snapshots, cached.
    pub snapshots: Arc<Snapshots>,
    /// Builds and commits new versions.
    pub publisher: Arc<Publisher>,
    /// One publish at a time per app.
    pub app_locks: Arc<AppLocks>,
    /// The durable-job worker's identity and wake-up signal.
    pub jobs: Arc<crate::jobs::worker::Jobs>,
    /// Membership indexes of recently read versions, by manifest address.
    pub user_indexes: Arc<quick_cache::sync::Cache<String, Arc<crate::membership::UserIndex>>>,
    /// Each app's experiment groups, for membership lookups.
    pub experiment_groups: Arc<crate::experiments::record::GroupsCache>,
    /// `Idempotency-Key`s whose request is executing right now.
    pub idempotency: Arc<crate::idempotency::InFlight>,
    /// Per-app order of the segment writes that may add references (the cycle check).
    pub segment_graphs: Arc<crate::segments::GraphLocks>,
    /// The data directory's lock, held while serving so `sieve restore` cannot replace it.
    pub data_lock: Arc<std::fs::File>,
    /// Tokens' last uses, noted per request and written once a minute.
    pub last_use: Arc<crate::tokens::LastUse>,
    /// Membership lookups counted per day and token, written every few seconds.
    pub lookups: Arc<crate::audit::Lookups>,
    /// Estimates counted per tag group and value, written every few seconds (issue 15).
    pub usage: Arc<crate::governance::usage::Counts>,
    /// What `aggregate` tokens have spent of their daily privacy budget.
    pub budget: Arc<crate::privacy::Budget>,
    /// The delivery worker's identity, wake-up and HTTP client (issue 17).
    pub reach: Arc<crate::reach::Reach>,
}

/// The blob store `config` names: files in the data directory, in another directory
/// (`file:///dir`, a volume replicas share), or a bucket (`s3://bucket/prefix`).
pub(crate) fn open_blobs(config: &Config) -> Result<Arc<dyn BlobStore>, OpenError> {
    let faults = config.faults.clone();
    Ok(match config.blob_url.as_deref() {
        None => Arc::new(FsBlobStore::open_with_faults(&config.data_dir, faults)?),
        Some(url) if url.starts_with("s3://") => {
            // One cache per bucket and prefix: a data directory once used with another holds
            // blobs this one may lack.
            let cache = config.data_dir.join("blob-cache").join(&engine::blob::hash(url.as_bytes())[..16]);
            Arc::new(ObjectBlobStore::open(url, &cache, config.blob_cache_bytes)?)
        }
        Some(url) => match url.strip_prefix("file://") {
            Some(dir) if dir.starts_with('/') => {
                Arc::new(FsBlobStore::open_with_faults(std::path::Path::new(dir), faults)?)
            }
            _ => return Err(OpenError::BlobUrl(url.to_owned())),
        },
    })
}

/// What a publish to one app holds: the app's lock in this process with its users (loaded on
/// first use), and, when replicas share the store, the store's lock on the app (see
/// [`crate::store::meta::Backend::lock`]). Dropping it lets the next publish in.
pub struct Publishing {
    /// The app's users as uploads see them; `None` until loaded.
    pub ids: tokio::sync::OwnedMutexGuard<Option<AppIds>>,
    _store: Held,
}

impl std::fmt::Debug for Publishing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publishing").field("store_lock", &self._store).finish()
    }
}

impl AppState {
    /// Waits for the right to publish to `app` (see [`Publishing`]). With a shared store, the
    /// users kept in memory are brought up to what other replicas published meanwhile.
    ///
    /// # Errors
    /// The store cannot be reached, or its records of the app's users cannot be read.
    pub async fn publishing(&self, app: &str) -> Result<Publishing, crate::ids::IdsError> {
        let ids = self.app_locks.get(app).lock_owned().await;
        if !self.meta.shared() {
            return Ok(Publishing { ids, _store: Held::NotNeeded });
        }
        let (st, app) = (self.clone(), app.to_owned());
        crate::blocking::run(move || {
            let store = st.meta.lock(LockName::Publish(&app), true)?;
            let mut held = Publishing { ids, _store: store };
            if let Some(ids) = held.ids.as_mut() {
                ids.catch_up(&st.snapshots, &app)?;
            }
            Ok(held)
        })
        .await
    }
}

impl AppState {
    /// Opens the stores under `config.data_dir` (creating them on first run).
    pub fn open(config: Config) -> Result<Self, OpenError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let leftovers = crate::ingest::spool::remove_leftovers(&config.data_dir.join("uploads"))?;
        if leftovers > 0 {
            tracing::info!(files = leftovers, "removed uploads a previous run left half-received");
        }
        let data_lock = Arc::new(crate::backup::lock_data_dir(&config.data_dir)?);
        let meta = Arc::new(match &config.meta_url {
            Some(url) => Meta::new(Box::new(Postgres::connect(url)?)),
            None => {
                crate::store::check::open_for_serving(&config.data_dir, config.faults.clone(), config.serve_damaged)?
            }
        });
        let blobs = open_blobs(&config)?;
        let snapshots = Arc::new(Snapshots::new(meta.clone(), blobs, config.cache_bytes));
        let publisher = Arc::new(Publisher {
            snapshots: snapshots.clone(),
            retention_days: config.retention_days,
            max_future_days: config.max_future_days,
            sample_rate: config.sample_rate,
        });
        let reach = Arc::new(crate::reach::Reach::new(&config).map_err(|e| OpenError::Client(e.to_string()))?);
        Ok(Self(Arc::new(Shared {
            config: Arc::new(config),
            meta,
            snapshots,
            publisher,
            app_locks: Arc::default(),
            jobs: Arc::default(),
            user_indexes: Arc::new(quick_cache::sync::Cache::new(8)),
            experiment_groups: Arc::default(),
            idempotency: Arc::default(),
            segment_graphs: Arc::default(),
            data_lock,
            last_use: Arc::default(),
            lookups: Arc::default(),
            usage: Arc::default(),
            budget: Arc::default(),
            reach,
        })))
    }
}
