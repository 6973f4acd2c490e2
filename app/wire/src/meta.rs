//! `GET /api/v1/health`.

use serde::{Deserialize, Serialize};

/// `ok`, or `degraded` while storage reports a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Everything is served.
    Ok,
    /// Storage reports a problem; everything not touching the damaged data is still served.
    Degraded,
}

impl HealthStatus {
    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Ok => "ok",
            HealthStatus::Degraded => "degraded",
        }
    }
}

/// Liveness, version and the state of storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `degraded` while storage reports a problem; everything not touching the damaged data is
    /// still served.
    pub status: HealthStatus,
    /// The server's version, e.g. `0.1.0`.
    pub version: String,
    /// What the storage layer has found.
    pub storage: StorageHealth,
    /// Held uploads and flagged tag groups (issue 15).
    #[serde(default)]
    pub governance: crate::governance::GovernanceHealth,
}

/// The storage part of [`Health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageHealth {
    /// `degraded` when a blob failed its hash check (or was missing) since start-up and was not
    /// rewritten since, a metadata record failed its checksum, or start-up rolled back.
    pub status: HealthStatus,
    /// Blobs whose bytes failed their hash check, or are missing, since start-up and were not
    /// rewritten since; they are never served.
    pub corrupt_blob_count: u64,
    /// Their addresses (the first 100).
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub corrupt_blobs: Vec<String>,
    /// Metadata records that failed their checksum since start-up (answered 503 `data_corrupt`).
    #[serde(default)]
    pub damaged_record_count: u64,
    /// The tables holding them (`days`, `dict`, `dict_rev`, …), each once; keys are left out
    /// (they hold app and user ids).
    #[serde(default)]
    pub damaged_records: Vec<String>,
    /// Whether start-up found the metadata's last commit damaged and fell back to the one
    /// before: right after a crash during that commit, a lost write otherwise (run `sieve
    /// check`, and restore if in doubt).
    #[serde(default)]
    pub rolled_back_at_start: bool,
}
