//! Shared state handed to every handler.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Settings the server runs with; built by `main` from flags and environment.
#[derive(Clone)]
pub struct Config {
    /// Where snapshots, dictionaries and metadata live (used by ingest, a later issue).
    pub data_dir: PathBuf,
    /// The built SPA (`trunk build` output): `index.html` plus hashed assets.
    pub dist_dir: PathBuf,
    /// Token for admin endpoints (ingest, publish). `None`: admin endpoints are closed.
    pub admin_token: Option<String>,
    /// Longest a request may run before it is answered `408 Request Timeout`.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token itself.
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("dist_dir", &self.dist_dir)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl Config {
    /// A config with the defaults `sieve serve` uses, for the given directories.
    pub fn new(data_dir: impl Into<PathBuf>, dist_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            dist_dir: dist_dir.into(),
            admin_token: None,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// State shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The settings the server was started with.
    pub config: Arc<Config>,
}

impl AppState {
    /// State for the given config.
    pub fn new(config: Config) -> Self {
        Self { config: Arc::new(config) }
    }
}
