//! What the Overview says about the server, computed from its health answer.

use crate::api::{Error, Health};

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
/// use app::api::Health;
/// use app::health::{server_status, Tone};
/// let ok = Health { status: "ok".into(), version: "0.1.0".into() };
/// assert_eq!(server_status(&ok).tone, Tone::Good);
/// ```
pub fn server_status(health: &Health) -> ServerStatus {
    let tone = if health.status.eq_ignore_ascii_case("ok") { Tone::Good } else { Tone::Warning };
    ServerStatus { status: health.status.clone(), version: health.version.clone(), tone }
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

    fn health(status: &str) -> Health {
        Health { status: status.into(), version: "9.9.9".into() }
    }

    #[test]
    fn ok_is_good_and_keeps_the_version() {
        let status = server_status(&health("ok"));
        assert_eq!(status.status, "ok");
        assert_eq!(status.version, "9.9.9");
        assert_eq!(status.tone, Tone::Good);
    }

    #[test]
    fn anything_else_is_a_warning() {
        assert_eq!(server_status(&health("degraded")).tone, Tone::Warning);
    }

    #[test]
    fn every_error_kind_has_a_headline() {
        let api = Error::Api { status: 500, message: "boom".into() };
        assert_eq!(error_headline(&api), "error");
        assert_eq!(error_headline(&Error::Decode("eof".into())), "incompatible");
    }
}
