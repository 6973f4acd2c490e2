//! Blobs in S3-compatible object storage (`--blob-url s3://bucket/prefix`), through the
//! `object_store` crate, with a bounded local cache.
//!
//! Blobs are immutable and named by the BLAKE3 hash of their bytes, so replicas share them
//! without coordination: a put of bytes already stored writes the same object again (which
//! also refreshes its modification time, the grace that keeps a just-reused orphan from
//! collection, as the file store's touch does), and every read is checked against its address
//! whether it came from the bucket or the cache. The cache is a [`FsBlobStore`] in the data
//! directory (`blob-cache/`), bounded by `cache_limit` bytes: past it, the oldest files go
//! first. A blob found damaged in the bucket is [`BlobError::Corrupt`] and listed by
//! [`BlobStore::corrupt`] until it is written again.
//!
//! Endpoint, region and credentials come from the usual `AWS_*` variables (`AWS_ENDPOINT`,
//! `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP` for
//! a plain-HTTP endpoint such as a local Garage). Requests use path-style addressing, which
//! every S3-compatible server accepts. [`ObjectBlobStore::open`] writes and reads a probe object
//! so bad settings fail at start-up.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::blobs::{BlobError, BlobStore, FsBlobStore};
use super::client_runtime::ClientRuntime;

/// Requests a batch of puts (or a prefetch of gets) sends at once.
const PUT_CONCURRENCY: usize = 16;

/// Blobs in a bucket (see the module docs).
pub struct ObjectBlobStore {
    /// `s3://bucket/prefix`, for logs and errors.
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: ClientRuntime,
    cache: FsBlobStore,
    cache_limit: u64,
    /// Bytes written to the cache since its size was last measured.
    cache_added: AtomicU64,
    /// One eviction at a time.
    evicting: Mutex<()>,
    corrupt: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for ObjectBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBlobStore").field("url", &self.url).field("cache_limit", &self.cache_limit).finish()
    }
}

/// Why `--blob-url` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Not a URL this server reads.
    #[error(
        "--blob-url must be s3://bucket[/prefix] or file:///absolute/dir (or unset for files in the data directory): `{0}`"
    )]
    Url(String),
    /// The bucket cannot be used with these settings.
    #[error(
        "object storage at {url}: {detail} (check AWS_ENDPOINT, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ALLOW_HTTP)"
    )]
    Unusable {
        /// The store.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The local cache directory.
    #[error(transparent)]
    Cache(#[from] BlobError),
}

/// The bucket and key prefix of an `s3://bucket/prefix` URL.
fn bucket_and_prefix(url: &str) -> Option<(&str, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_matches('/');
    (!bucket.is_empty()).then(|| (bucket, if prefix.is_empty() { String::new() } else { format!("{prefix}/") }))
}

impl ObjectBlobStore {
    /// Opens the bucket at `url` with a cache under `cache_dir` of at most `cache_limit` bytes,
    /// and checks it with a probe object (written, read back, compared).
    ///
    /// # Errors
    /// A bad URL, settings the server refuses, or an unusable cache directory.
    pub fn open(url: &str, cache_dir: &Path, cache_limit: u64) -> Result<ObjectBlobStore, OpenError> {
        let (bucket, prefix) = bucket_and_prefix(url).ok_or_else(|| OpenError::Url(url.to_owned()))?;
        let unusable = |detail: String| OpenError::Unusable { url: url.to_owned(), detail };
        // A few quick retries, then the error: a request must not hang for minutes while the
        // bucket is down (it answers 503 and the client retries).
        let retry = object_store::RetryConfig {
            backoff: object_store::BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: Duration::from_secs(5),
        };
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry)
            .build()
            .map_err(|e| unusable(e.to_string()))?;
        let runtime = ClientRuntime::start("sieve-s3").map_err(|e| unusable(e.to_string()))?;
        let s = ObjectBlobStore {
            url: url.to_owned(),
            store: Arc::new(store),
            prefix,
            runtime,
            cache: FsBlobStore::open(cache_dir)?,
            cache_limit,
            cache_added: AtomicU64::new(0),
            evicting: Mutex::default(),
            corrupt: Mutex::default(),
        };
        s.probe().map_err(|e| unusable(e.to_string()))?;
        s.evict_if_over(true);
        Ok(s)
    }

    /// Writes, reads back and compares a small object: credentials, bucket and endpoint work.
    fn probe(&self) -> Result<(), BlobError> {
        let (store, key) = (self.store.clone(), Key::from(format!("{}.sieve-probe", self.prefix)));
        let body = b"sieve checks it can write and read here".to_vec();
        let expected = body.clone();
        let back = self.run(async move {
            store.put(&key, PutPayload::from(body)).await?;
            store.get(&key).await?.bytes().await
        })?;
        if back.as_ref() == expected.as_slice() {
            Ok(())
        } else {
            Err(BlobError::Io(std::io::Error::other("the probe object read back different bytes")))
        }
    }

    fn key(&self, hash: &str) -> Key {
        Key::from(format!("{}{hash}", self.prefix))
    }

    /// Runs a request on the client runtime; its failures are I/O errors (503, retried by clients).
    fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, object_store::Error>> + Send + 'static,
    ) -> Result<T, BlobError> {
        let url = self.url.clone();
        let io =
            move |detail: String| BlobError::Io(std::io::Error::other(format!("object storage at {url}: {detail}")));
        self.runtime.run(work).map_err(|e| io(e.to_string()))?.map_err(|e| io(e.to_string()))
    }

    /// The bytes of an object, or `None` when the bucket has none under `key`.
    fn object(&self, key: Key) -> Result<Option<bytes::Bytes>, BlobError> {
        let store = self.store.clone();
        self.run(async move {
            match store.get(&key).await {
                Ok(found) => found.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// A blob read from the bucket and checked against its address (no cache).
    fn fetch(&self, hash: &str) -> Result<Option<bytes::Bytes>, BlobError> {
        let fetched = self.object(self.key(hash))?;
        let Some(bytes) = fetched else { return Ok(None) };
        if engine::blob::hash(&bytes) != hash {
            self.corrupt.lock().unwrap_or_else(|p| p.into_inner()).insert(hash.to_owned());
            return Err(BlobError::Corrupt { hash: hash.to_owned() });
        }
        Ok(Some(bytes))
    }

    /// Keeps a copy of a blob in the cache, then trims the cache if it grew past its bound.
    fn cache_copy(&self, bytes: &[u8]) {
        if let Err(e) = self.cache.put(bytes) {
            // The cache is an optimisation: a full local disk must not fail reads from the bucket.
            tracing::warn!(error = %e, "could not keep a blob in the local cache");
            return;
        }
        self.cache_added.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.evict_if_over(false);
    }

    /// Removes the oldest cached blobs until the cache holds at most 90% of its bound. Measuring
    /// the cache lists it, so it is done only when enough was added since (or `now`).
    fn evict_if_over(&self, now: bool) {
        if !now && self.cache_added.load(Ordering::Relaxed) < self.cache_limit / 10 {
            return;
        }
        let Ok(_one) = self.evicting.try_lock() else { return };
        self.cache_added.store(0, Ordering::Relaxed);
        let Ok(mut files) = self.cache.files() else { return };
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        if total <= self.cache_limit {
            return;
        }
        files.sort_by_key(|f| f.2);
        let target = self.cache_limit / 10 * 9;
        for (hash, size, _) in files {
            if total <= target {
                break;
            }
            if matches!(self.cache.remove_unused(&hash, Duration::ZERO), Ok(true)) {
                total -= size;
            }
        }
    }
}

impl BlobStore for ObjectBlobStore {
    fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let hash = engine::blob::hash(bytes);
        let (store, key, body) = (self.store.clone(), self.key(&hash), bytes.to_vec());
        self.run(async move { store.put(&key, PutPayload::from(body)).await })?;
        self.corrupt.lock().unwrap_or_else(|p| p.into_inner()).remove(&hash);
        self.cache_copy(bytes);
        Ok(hash)
    }

    fn get(&self, hash: &str) -> Result<Option<Vec<u8>>, BlobError> {
        if !engine::blob::is_hash(hash) {
            return Ok(None);
        }
        // A damaged cached copy is the cache's problem, not the blob's: read the bucket instead.
        if let Ok(Some(bytes)) = self.cache.get(hash) {
            return Ok(Some(bytes));
        }
        let Some(bytes) = self.fetch(hash)? else { return Ok(None) };
        self.cache_copy(&bytes);
        Ok(Some(bytes.to_vec()))
    }

    fn get_referenced(&self, hash: &str) -> Result<Vec<u8>, BlobError> {
        match self.get(hash)? {
            Some(bytes) => Ok(bytes),
            None => {
                self.corrupt.lock().unwrap_or_else(|p| p.into_inner()).insert(hash.to_owned());
                Err(BlobError::Missing { hash: hash.to_owned() })
            }
        }
    }

    fn contains(&self, hash: &str) -> bool {
        if !engine::blob::is_hash(hash) {
            return false;
        }
        // The bucket, not the cache: a cached copy does not prove the bucket holds the blob.
        let (store, key) = (self.store.clone(), self.key(hash));
        self.run(async move { store.head(&key).await }).is_ok()
    }

    fn put_many(&self, blobs: &[&[u8]]) -> Result<(), BlobError> {
        let store = self.store.clone();
        let puts: Vec<(Key, Vec<u8>)> = blobs.iter().map(|b| (self.key(&engine::blob::hash(b)), b.to_vec())).collect();
        self.run(async move {
            futures_util::stream::iter(puts)
                .map(|(key, body)| {
                    let store = store.clone();
                    async move { store.put(&key, PutPayload::from(body)).await }
                })
                .buffer_unordered(PUT_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await
        })?;
        for b in blobs {
            self.cache_copy(b);
        }
        Ok(())
    }

    fn check_stored(&self, hash: &str) -> Result<(), BlobError> {
        match self.fetch(hash)? {
            Some(_) => Ok(()),
            None => Err(BlobError::Missing { hash: hash.to_owned() }),
        }
    }

    fn prefetch(&self, hashes: &[&str]) {
        let missing: Vec<(String, Key)> = hashes
            .iter()
            .filter(|h| engine::blob::is_hash(h) && !self.cache.contains(h))
            .map(|h| ((*h).to_owned(), self.key(h)))
            .collect();
        if missing.is_empty() {
            return;
        }
        let store = self.store.clone();
        let fetched = self.run(async move {
            Ok(futures_util::stream::iter(missing)
                .map(|(hash, key)| {
                    let store = store.clone();
                    async move {
                        let bytes = match store.get(&key).await {
                            Ok(found) => found.bytes().await.ok(),
                            Err(_) => None,
                        };
                        (hash, bytes)
                    }
                })
                .buffer_unordered(PUT_CONCURRENCY)
                .collect::<Vec<_>>()
                .await)
        });
        for (hash, bytes) in fetched.unwrap_or_default() {
            // Only what hashes to its address is kept; the read reports anything else.
            if let Some(bytes) = bytes.filter(|b| engine::blob::hash(b) == hash) {
                self.cache_copy(&bytes);
            }
        }
    }

    fn keeps_named(&self) -> bool {
        true
    }

    fn put_named(&self, name: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let (store, key) = (self.store.clone(), Key::from(format!("{}derived/{name}", self.prefix)));
        let mut body = engine::blob::hash(bytes).into_bytes();
        body.extend_from_slice(bytes);
        self.run(async move { store.put(&key, PutPayload::from(body)).await }).map(|_| ())
    }

    fn get_named(&self, name: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let fetched = self.object(Key::from(format!("{}derived/{name}", self.prefix)))?;
        // 64 hex digits of the payload's hash, then the payload: anything else is derived again.
        Ok(fetched.and_then(|b| {
            let (hash, payload) = (b.get(..64)?, b.get(64..)?);
            (engine::blob::hash(payload).as_bytes() == hash).then(|| payload.to_vec())
        }))
    }

    fn corrupt(&self) -> Vec<String> {
        self.corrupt.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    fn addresses(&self) -> Result<Vec<String>, BlobError> {
        let store = self.store.clone();
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.trim_end_matches('/')));
        let listed = self.run(async move { store.list(prefix.as_ref()).try_collect::<Vec<_>>().await })?;
        Ok(listed
            .into_iter()
            .filter_map(|meta| meta.location.filename().map(str::to_owned))
            .filter(|name| engine::blob::is_hash(name))
            .collect())
    }

    fn remove_unused(&self, hash: &str, grace: Duration) -> Result<bool, BlobError> {
        let (store, key) = (self.store.clone(), self.key(hash));
        let removed = self.run(async move {
            let meta = match store.head(&key).await {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(e),
            };
            let written: SystemTime = meta.last_modified.into();
            if written.elapsed().unwrap_or_default() < grace {
                return Ok(false);
            }
            store.delete(&key).await.map(|()| true)
        })?;
        if removed {
            let _ = self.cache.remove_unused(hash, Duration::ZERO);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_an_optional_prefix() {
        assert_eq!(bucket_and_prefix("s3://b"), Some(("b", String::new())));
        assert_eq!(bucket_and_prefix("s3://b/"), Some(("b", String::new())));
        assert_eq!(bucket_and_prefix("s3://b/x/y/"), Some(("b", "x/y/".to_owned())));
        assert_eq!(bucket_and_prefix("s3:///x"), None);
        assert_eq!(bucket_and_prefix("http://b/x"), None);
    }
}
