//! Getting blobs into the browser: from memory, from the Cache API (hash-addressed, so never
//! stale, and kept across reloads and day switches), or from the server; every blob is checked
//! against its address before use.

use engine::IdSet;
use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::api::{self, Error};
use crate::session::{Session, encode_component};

/// Name of the browser cache holding blobs.
const CACHE_NAME: &str = "sieve-blobs-v1";

/// Where a blob came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The browser's cache.
    Cache,
    /// The server.
    Network,
}

/// The synthetic cache key of a blob: per app, so one app's cached blobs never answer for
/// another's (the server also refuses blobs the app's manifests do not name).
///
/// ```
/// assert_eq!(app::blobs::cache_key("demo", "ab12"), "/__sieve_cache/demo/ab12");
/// ```
pub fn cache_key(app: &str, hash: &str) -> String {
    format!("/__sieve_cache/{}/{hash}", encode_component(app))
}

/// Loads and decodes one blob; returns the set, where it came from and its size in bytes.
pub async fn load(session: &Session, hash: &str) -> Result<(IdSet, Origin, u64), Error> {
    let key = cache_key(&session.app, hash);
    let cache = open_cache().await;
    if let Some(cache) = &cache
        && let Some(bytes) = cached(cache, &key).await
    {
        // A damaged cache entry is ignored and fetched again.
        if let Ok(set) = engine::blob::decode_addressed(&bytes, hash) {
            return Ok((set, Origin::Cache, bytes.len() as u64));
        }
    }
    let bytes = api::blob_bytes(session, hash).await?;
    let set = engine::blob::decode_addressed(&bytes, hash).map_err(|e| Error::Decode(format!("blob {hash}: {e}")))?;
    if let Some(cache) = &cache {
        store(cache, &key, &bytes).await;
    }
    Ok((set, Origin::Network, bytes.len() as u64))
}

async fn open_cache() -> Option<web_sys::Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok()?.dyn_into().ok()
}

async fn cached(cache: &web_sys::Cache, key: &str) -> Option<Vec<u8>> {
    let found = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    let response: web_sys::Response = found.dyn_into().ok()?;
    let buffer: ArrayBuffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?.dyn_into().ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}

async fn store(cache: &web_sys::Cache, key: &str, bytes: &[u8]) {
    let array = Uint8Array::from(bytes);
    let Ok(response) = web_sys::Response::new_with_opt_buffer_source(Some(array.as_ref())) else { return };
    // A full or unavailable cache only costs a later download.
    let _ = JsFuture::from(cache.put_with_str(key, &response)).await;
}
