//! `GET /api/v1/health`: liveness, version, and the state of storage.
//!
//! Public (no token), like a load balancer's probe expects. `status` is `"ok"`, or
//! `"degraded"` while storage reports a problem; the server still answers everything that does
//! not touch the damaged data. Blob addresses are content hashes: they name no tenant and open
//! nothing without a token of an app that owns them. Damaged metadata records are listed by
//! table only (their keys hold app and user ids); the log names each one.

use axum::Json;
use axum::extract::State;
use wire::{GovernanceHealth, Health, HealthStatus, StorageHealth};

use crate::state::AppState;

/// At most this many damaged blobs are listed (all are counted, and all are in the log).
pub const MAX_LISTED: usize = 100;

/// `GET /api/v1/health` → `{"status":"ok","version":"0.1.0","storage":{"status":"ok",…}}`.
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let corrupt = state.snapshots.blobs().corrupt();
    let damaged = state.meta.damaged();
    let rolled_back = state.meta.rolled_back();
    let status = if corrupt.is_empty() && damaged.is_empty() && !rolled_back {
        HealthStatus::Ok
    } else {
        HealthStatus::Degraded
    };
    let mut tables: Vec<String> = damaged.iter().map(|r| r.table.to_owned()).collect();
    tables.sort_unstable();
    tables.dedup();
    let storage = StorageHealth {
        status,
        corrupt_blob_count: corrupt.len() as u64,
        corrupt_blobs: corrupt.into_iter().take(MAX_LISTED).collect(),
        damaged_record_count: damaged.len() as u64,
        damaged_records: tables,
        rolled_back_at_start: rolled_back,
    };
    let st = state.clone();
    // Counts only: the probe is public, and group names belong to their apps. A store that
    // cannot be read leaves them 0 (storage health above says why).
    let governance = tokio::task::spawn_blocking(move || governance_counts(&st.meta)).await.unwrap_or_default();
    Json(Health { status, version: env!("CARGO_PKG_VERSION").to_owned(), storage, governance })
}

fn governance_counts(meta: &crate::store::Meta) -> GovernanceHealth {
    let mut out = GovernanceHealth::default();
    let Ok(apps) = meta.apps() else { return out };
    for (app, _) in apps {
        out.held_uploads += crate::governance::holds::list(meta, &app, false).map_or(0, |h| h.len() as u64);
        out.flagged_groups += crate::governance::flagged(meta, &app).unwrap_or(0);
    }
    out
}
