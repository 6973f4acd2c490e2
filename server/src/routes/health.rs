//! `GET /api/v1/health`: liveness, version, and the state of storage.
//!
//! Public (no token), like a load balancer's probe expects. `status` is `"ok"`, or
//! `"degraded"` while storage reports a problem; the server still answers everything that does
//! not touch the damaged data. Blob addresses are content hashes: they name no tenant and open
//! nothing without a token of an app that owns them.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::state::AppState;

/// At most this many damaged blobs are listed (all are counted, and all are in the log).
pub const MAX_LISTED: usize = 100;

/// Body of `GET /api/v1/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `"ok"`, or `"degraded"` when [`Storage::status`] is.
    pub status: &'static str,
    /// The server's crate version.
    pub version: &'static str,
    /// What the storage layer has found.
    pub storage: Storage,
}

/// The storage part of the health answer.
#[derive(Debug, Serialize)]
pub struct Storage {
    /// `"ok"`, or `"degraded"` when a blob failed its hash check since start-up and has not
    /// been healed (rewritten with good bytes) since.
    pub status: &'static str,
    /// How many blobs are damaged.
    pub corrupt_blob_count: usize,
    /// Their addresses (the first [`MAX_LISTED`]).
    pub corrupt_blobs: Vec<String>,
}

/// `GET /api/v1/health` → `{"status":"ok","version":"0.1.0","storage":{"status":"ok",…}}`.
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let corrupt = state.snapshots.blobs().corrupt();
    let status = if corrupt.is_empty() { "ok" } else { "degraded" };
    let storage = Storage {
        status,
        corrupt_blob_count: corrupt.len(),
        corrupt_blobs: corrupt.into_iter().take(MAX_LISTED).collect(),
    };
    Json(Health { status, version: env!("CARGO_PKG_VERSION"), storage })
}
