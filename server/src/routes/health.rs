//! `GET /api/v1/health`: liveness and version.

use axum::Json;
use serde::Serialize;

/// Body of `GET /api/v1/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `"ok"` when the server answers.
    pub status: &'static str,
    /// The server's crate version.
    pub version: &'static str,
}

/// `GET /api/v1/health` → `{"status":"ok","version":"0.1.0"}`.
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}
