//! Reach (issue 17): destinations a segment is sent to, syncs that keep a destination up to
//! date with the segment day by day, and durable, signed, logged deliveries.
//!
//! # Layout
//!
//! | module | what it does |
//! |---|---|
//! | here | [`ReachError`], the keys of the records, [`Reach`] (the worker's wake-up and HTTP client) |
//! | [`destinations`] | destination records: validation, create, list, patch, delete; the secret kept, never answered |
//! | [`syncs`] | sync records and their pure transitions: start, pause, resume, resend, the delivery under way, its batches |
//! | [`deliver`] | the I/O edge: the worker that claims due syncs, freezes a day's change, sends it batch by batch, retries, logs |
//! | [`files`] | a files destination: one CSV or Parquet file per delivery, written whole then renamed, or uploaded to a bucket |
//! | [`signature`] | `X-Sieve-Signature`: signing, and the check a receiver runs |
//! | [`address`] | refusing loopback, private and link-local addresses, at creation and on every connection |
//!
//! # Records
//! Everything lives in the metadata store's `access` table (both backends, sealed and checked
//! like every record there; nothing to migrate), under these keys:
//!
//! | key | value |
//! |---|---|
//! | `reach/dest/<id>` | [`destinations::DestinationRecord`] (with the secret; a tombstone once deleted) |
//! | `reach/sync/<id>` | [`syncs::SyncRecord`]: state, the cursor (last delivered day and its members' record), the delivery under way and the worker's lease |
//! | `reach/bits/<sync>/<seq>` | the members a delivery brings the destination to (a roaring bitmap), written before the delivery starts and never changed |
//! | `reach/log/<sync>/<seq>/<batch>` | [`wire::DeliveryBatch`]: one batch's attempts, status, response |
//!
//! The work a sync has is derived, not queued: a published day later than the sync's cursor is
//! due. A publish's commit is thus the durable cause of its delta (nothing else to write in its
//! transaction), and a kill at any point leaves either the old cursor (the day is due again) or
//! a delivery under way (resumed at its first unacknowledged batch).

pub mod address;
pub mod deliver;
pub mod destinations;
pub mod files;
pub mod signature;
pub mod syncs;

use crate::segments::freeze::FreezeError;
use crate::snapshots::SnapshotError;
use crate::store::StoreError;

/// Key prefix of destinations.
pub const DEST: &str = "reach/dest/";
/// Key prefix of syncs.
pub const SYNC: &str = "reach/sync/";
/// Key prefix of the members a delivery brings a destination to.
pub const BITS: &str = "reach/bits/";
/// Key prefix of the delivery log.
pub const LOG: &str = "reach/log/";

/// Why a reach operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// A field of the request is wrong (400 naming it).
    #[error("{message}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No such destination, sync or segment (404).
    #[error("{0}")]
    NotFound(String),
    /// The id is taken, or the change does not fit the record's state (409).
    #[error("{0}")]
    Conflict(String),
    /// A stored record does not decode.
    #[error("reach record {what}: {reason}")]
    Record {
        /// Which record.
        what: String,
        /// The decoder's message.
        reason: String,
    },
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading a published day failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Saving the reached users failed.
    #[error(transparent)]
    Freeze(#[from] FreezeError),
    /// A step's blocking task died.
    #[error(transparent)]
    Task(#[from] crate::blocking::Panicked),
}

impl ReachError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> ReachError {
        ReachError::InvalidField { field, message: message.into() }
    }
}

/// Decodes a stored JSON record.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ReachError> {
    serde_json::from_slice(bytes).map_err(|e| ReachError::Record { what: what.to_owned(), reason: e.to_string() })
}

/// Encodes a record (our own types: cannot fail).
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The process's delivery worker: its identity (leases carry it), wake-up and HTTP client.
#[derive(Debug)]
pub struct Reach {
    /// This process's worker id.
    pub owner: String,
    /// Tells the worker that something is due (a sync started, resumed, a day published).
    pub wake: tokio::sync::Notify,
    /// The guarded client (see [`address::client`]).
    pub client: reqwest::Client,
    /// The syncs (app, id) this process is delivering now, one task each.
    pub running: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
}

impl Reach {
    /// A worker identity and client for `config`.
    ///
    /// # Errors
    /// The HTTP client cannot be built (its TLS roots).
    pub fn new(config: &crate::state::Config) -> Result<Reach, reqwest::Error> {
        let mut raw = [0u8; 8];
        rand::fill(&mut raw);
        Ok(Reach {
            owner: raw.iter().map(|b| format!("{b:02x}")).collect(),
            wake: tokio::sync::Notify::new(),
            client: address::client(config.allow_private_destinations, config.delivery_timeout)?,
            running: std::sync::Mutex::default(),
        })
    }
}
