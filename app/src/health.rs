//! What the Overview says about the server, computed from its health answer.

use crate::api::{Error, Health, HealthStatus};

/// How a status should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Healthy.
    Good,
    /// Up, but reporting a problem.
    Warning,
    /// Not reachable or failing.
    Bad,
}

impl Tone {
    /// CSS class modifier for this tone.
    pub const fn class(self) -> &'static str {
        match self {
            Tone::Good => "tone-good",
            Tone::Warning => "tone-warning",
            Tone::Bad => "tone-bad",
        }
    }
}

/// The server's status as the Overview shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    /// Status word, as the server reported it (`"ok"` when healthy).
    pub status: String,
    /// Server version.
    pub version: String,
    /// How to show it.
    pub tone: Tone,
}

/// Summarise a health answer.
///
/// ```
/// use app::api::{Health, HealthStatus};
/// use app::health::{server_status, Tone};
/// let ok: Health = app::api::decode(
///     r#"{"status":"ok","version":"0.1.0","storage":{"status":"ok","corrupt_blob_count":0,"corrupt_blobs":[]}}"#,
/// ).unwrap();
/// assert_eq!(server_status(&ok).tone, Tone::Good);
/// ```
pub fn server_status(health: &Health) -> ServerStatus {
    let tone = if health.status == HealthStatus::Ok { Tone::Good } else { Tone::Warning };
    ServerStatus { status: health.status.as_str().to_owned(), version: health.version.clone(), tone }
}

/// A short headline for an error, for the status card; the details come from
/// the error's `Display`.
///
/// ```
/// use app::api::Error;
/// use app::health::error_headline;
/// assert_eq!(error_headline(&Error::Fetch("refused".into())), "unreachable");
/// ```
pub fn error_headline(error: &Error) -> &'static str {
    match error {
        Error::Fetch(_) => "unreachable",
        Error::Api { .. } => "error",
        Error::Decode(_) => "incompatible",
    }
}

/// [`error_headline`] for any error: API errors get their own headline, anything
/// else is an `"error"`.
///
/// ```
/// use app::api::Error;
/// use app::health::headline_of;
/// assert_eq!(headline_of(&Error::Decode("eof".into())), "incompatible");
/// assert_eq!(headline_of(&std::fmt::Error), "error");
/// ```
pub fn headline_of(error: &(dyn std::error::Error + 'static)) -> &'static str {
    error.downcast_ref::<Error>().map_or("error", error_headline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(status: HealthStatus) -> Health {
        let storage = crate::api::StorageHealth {
            status,
            corrupt_blob_count: 0,
            corrupt_blobs: Vec::new(),
            damaged_record_count: 0,
            damaged_records: Vec::new(),
            rolled_back_at_start: false,
        };
        Health { status, version: "9.9.9".into(), storage, governance: Default::default() }
    }

    #[test]
    fn ok_is_good_and_keeps_the_version() {
        let status = server_status(&health(HealthStatus::Ok));
        assert_eq!(status.status, "ok");
        assert_eq!(status.version, "9.9.9");
        assert_eq!(status.tone, Tone::Good);
    }

    #[test]
    fn anything_else_is_a_warning() {
        assert_eq!(server_status(&health(HealthStatus::Degraded)).tone, Tone::Warning);
    }

    #[test]
    fn every_error_kind_has_a_headline() {
        let api = Error::api(500, "internal", "boom");
        assert_eq!(error_headline(&api), "error");
        assert_eq!(error_headline(&Error::Decode("eof".into())), "incompatible");
    }
}
