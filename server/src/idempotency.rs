//! `Idempotency-Key` semantics (DESIGN.md §7), as pure decisions plus a small in-process guard.
//!
//! A client that may retry a write sends `Idempotency-Key: <key>`. The first response to a key
//! is recorded with a **fingerprint** of the request (method, path with query, BLAKE3 of the
//! body). Keys belong to the token that sent them ([`scoped_key`]), as Stripe scopes keys to an
//! API key: two clients of one app that happen to pick the same key (a counter, a date) each
//! get their own request run, never each other's answer. Then, per app, token and key:
//! - same key, same fingerprint: the recorded response is **replayed** (status, body, `ETag`),
//!   marked `Idempotent-Replayed: true`, and nothing is executed again;
//! - same key, different fingerprint: **422** (`idempotency_key_reuse`): the key names another
//!   request, and guessing which one the client meant would be wrong either way;
//! - a request with a key that is still executing: **409** (`idempotency_in_progress`), so two
//!   concurrent retries cannot both run (the [`InFlight`] guard).
//!
//! Only successful (2xx) responses are recorded: a failed request changed nothing, so running
//! it again is the honest answer to a retry (and lets a client fix, say, a stale `If-Match`
//! with the same key). Records expire after [`IDEMPOTENCY_TTL_MS`] (24 h, like common payment
//! APIs); sync messages older than that are still ordered by their versions.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// How long a recorded response is replayed: 24 hours, in milliseconds.
pub const IDEMPOTENCY_TTL_MS: u64 = 24 * 60 * 60 * 1000;

/// Longest accepted key, in bytes.
pub const MAX_KEY_BYTES: usize = 255;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// The header set on a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A recorded first response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// [`fingerprint`] of the request that produced it.
    pub fingerprint: String,
    /// HTTP status.
    pub status: u16,
    /// The JSON body, byte for byte.
    pub body: String,
    /// The `ETag` header, if the response had one.
    #[serde(default)]
    pub etag: Option<String>,
    /// When it was recorded (Unix milliseconds).
    pub created_ms: u64,
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// First use (or the record expired): execute, then record a 2xx response.
    Proceed,
    /// A retry: answer with this record.
    Replay(&'a IdempotencyRecord),
    /// The key was used for a different request: 422.
    Mismatch,
}

/// The fingerprint of a request: BLAKE3 over method, path and query, and the body's hash.
///
/// ```
/// use server::idempotency::fingerprint;
/// let a = fingerprint("POST", "/api/v1/apps/a/segments", b"{}");
/// assert_eq!(a, fingerprint("POST", "/api/v1/apps/a/segments", b"{}"));
/// assert_ne!(a, fingerprint("POST", "/api/v1/apps/a/segments", b"{ }"));
/// assert_ne!(a, fingerprint("PUT", "/api/v1/apps/a/segments", b"{}"));
/// ```
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut h = blake3::Hasher::new();
    // Lengths first, so no two (method, path) pairs can run together into the same bytes.
    for part in [method.as_bytes(), path_and_query.as_bytes()] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(blake3::hash(body).as_bytes());
    h.finalize().to_hex().to_string()
}

/// Decides what a request with fingerprint `fp` does, given the record stored under its key.
///
/// ```
/// use server::idempotency::*;
/// let rec = IdempotencyRecord { fingerprint: "f".into(), status: 201, body: "{}".into(),
///     etag: None, created_ms: 0 };
/// assert_eq!(decide(None, "f", 5), Decision::Proceed);
/// assert_eq!(decide(Some(&rec), "f", 5), Decision::Replay(&rec));
/// assert_eq!(decide(Some(&rec), "g", 5), Decision::Mismatch);
/// assert_eq!(decide(Some(&rec), "g", IDEMPOTENCY_TTL_MS), Decision::Proceed);
/// ```
pub fn decide<'a>(stored: Option<&'a IdempotencyRecord>, fp: &str, now_ms: u64) -> Decision<'a> {
    match stored {
        Some(rec) if now_ms.saturating_sub(rec.created_ms) >= IDEMPOTENCY_TTL_MS => Decision::Proceed,
        Some(rec) if rec.fingerprint == fp => Decision::Replay(rec),
        Some(_) => Decision::Mismatch,
        None => Decision::Proceed,
    }
}

/// Whether a response with this status is recorded for replay (2xx only; see the module docs).
pub fn should_record(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The name a key is recorded (and claimed) under: the calling token's name
/// ([`crate::auth::Auth::caller`], fixed-length hex) and the key, so the same key sent by two
/// tokens names two records.
///
/// ```
/// use server::idempotency::scoped_key;
/// assert_ne!(scoped_key("aa", "k"), scoped_key("bb", "k"));
/// assert_eq!(scoped_key("aa", "k"), "aa/k");
/// ```
pub fn scoped_key(caller: &str, key: &str) -> String {
    format!("{caller}/{key}")
}

/// Why an `Idempotency-Key` is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Empty, or longer than [`MAX_KEY_BYTES`].
    #[error("Idempotency-Key must be 1 to {MAX_KEY_BYTES} characters")]
    Length,
    /// A space, a control character or a non-ASCII byte.
    #[error("Idempotency-Key must be visible ASCII characters")]
    Characters,
}

/// Checks a key: 1 to [`MAX_KEY_BYTES`] visible ASCII characters.
///
/// # Errors
/// [`KeyError`] saying what is wrong.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(KeyError::Length);
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeyError::Characters);
    }
    Ok(())
}

/// Keys being executed right now, per app (and token, through [`scoped_key`]); a second
/// request with the same key is refused while the first runs (one process; replicas would use
/// the metadata store instead).
#[derive(Debug, Default)]
pub struct InFlight {
    keys: Mutex<HashSet<(String, String)>>,
}

/// Holds a key in [`InFlight`] until dropped.
#[derive(Debug)]
pub struct InFlightGuard {
    owner: Arc<InFlight>,
    key: (String, String),
}

impl InFlight {
    /// Claims `(app, key)`; `None` when another request holds it.
    pub fn claim(self: &Arc<Self>, app: &str, key: &str) -> Option<InFlightGuard> {
        let pair = (app.to_owned(), key.to_owned());
        let mut keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.insert(pair.clone()).then(|| InFlightGuard { owner: Arc::clone(self), key: pair })
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut keys = self.owner.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(validate_key("abc-123_XYZ.:/=").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key("has space").is_err());
        assert!(validate_key("ünï").is_err());
        assert!(validate_key(&"k".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(validate_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
    }

    #[test]
    fn only_successes_are_recorded() {
        assert!(should_record(200) && should_record(201));
        assert!(!should_record(400) && !should_record(412) && !should_record(500));
    }

    #[test]
    fn fingerprint_separates_fields() {
        assert_ne!(fingerprint("PO", "ST/x", b""), fingerprint("POST", "/x", b""));
        assert_ne!(fingerprint("DELETE", "/s?version=1", b""), fingerprint("DELETE", "/s?version=2", b""));
    }

    #[test]
    fn in_flight_keys_are_exclusive_until_released() {
        let f = Arc::new(InFlight::default());
        let g = f.claim("app", "k");
        assert!(g.is_some());
        assert!(f.claim("app", "k").is_none());
        assert!(f.claim("other", "k").is_some(), "keys are per app");
        drop(g);
        assert!(f.claim("app", "k").is_some());
    }

    #[test]
    fn record_round_trips() {
        let rec = IdempotencyRecord {
            fingerprint: fingerprint("POST", "/p", b"{}"),
            status: 201,
            body: "{\"applied\":true}".into(),
            etag: Some("\"1-2\"".into()),
            created_ms: 9,
        };
        let bytes = serde_json::to_vec(&rec).expect("encode");
        assert_eq!(serde_json::from_slice::<IdempotencyRecord>(&bytes).expect("decode"), rec);
    }
}
