//! Typed client for the server's REST API.
//!
//! Every call goes through [`get_json`], so every failure is one of the three
//! kinds in [`Error`]: the request never got an answer ([`Error::Fetch`]), the
//! server answered with an error status ([`Error::Api`]), or the answer was not
//! what this client expects ([`Error::Decode`]).
//!
//! In development, Trunk proxies `/api/` to the server (see `Trunk.toml`); in
//! production the server serves the app itself, so paths stay relative.

use gloo_net::http::Request;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Prefix of every API path.
pub const API_BASE: &str = "/api/v1";

/// Longest server error message shown to the user, in characters.
const MAX_MESSAGE_CHARS: usize = 200;

/// Everything that can go wrong when calling the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request did not get an answer (network down, server not running).
    #[error("could not reach the server: {0}")]
    Fetch(String),
    /// The server answered with a non-success status.
    #[error("the server answered {status}: {message}")]
    Api {
        /// HTTP status code.
        status: u16,
        /// What the server said was wrong.
        message: String,
    },
    /// The answer could not be read as the expected type.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

/// `GET /api/v1/health`: the server is up, and which version it runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Health {
    /// `"ok"` when the server is healthy.
    pub status: String,
    /// The server's version, e.g. `"0.1.0"`.
    pub version: String,
}

/// Ask the server whether it is healthy.
pub async fn health() -> Result<Health, Error> {
    get_json("/health").await
}

/// Full URL path of an API endpoint.
///
/// ```
/// assert_eq!(app::api::endpoint("/health"), "/api/v1/health");
/// ```
pub fn endpoint(path: &str) -> String {
    format!("{API_BASE}{path}")
}

/// `GET` an endpoint and decode its JSON answer.
async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, Error> {
    let response = Request::get(&endpoint(path))
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| Error::Fetch(e.to_string()))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| Error::Fetch(e.to_string()))?;
    if !response.ok() {
        let message = error_message(&body)
            .or_else(|| Some(response.status_text()).filter(|text| !text.is_empty()))
            .unwrap_or_else(|| "no details".to_owned());
        return Err(Error::Api { status, message });
    }
    decode(&body)
}

/// Decode a JSON answer into `T`.
///
/// ```
/// let health: app::api::Health =
///     app::api::decode(r#"{"status":"ok","version":"0.1.0"}"#).unwrap();
/// assert_eq!(health.version, "0.1.0");
/// assert!(app::api::decode::<app::api::Health>("<html>").is_err());
/// ```
pub fn decode<T: DeserializeOwned>(body: &str) -> Result<T, Error> {
    serde_json::from_str(body).map_err(|e| Error::Decode(e.to_string()))
}

/// What the server said was wrong, from an error answer's body: the `message`
/// or `error` field of a JSON body (also nested as `{"error": {"message": ...}}`),
/// or a short plain-text body. `None` for an empty or HTML body.
///
/// ```
/// use app::api::error_message;
/// assert_eq!(error_message(r#"{"error":"no such segment"}"#).as_deref(), Some("no such segment"));
/// assert_eq!(error_message(r#"{"error":{"code":"x","message":"bad rule"}}"#).as_deref(), Some("bad rule"));
/// assert_eq!(error_message("  Bad Gateway \n").as_deref(), Some("Bad Gateway"));
/// assert_eq!(error_message("<!DOCTYPE html><html>…"), None);
/// assert_eq!(error_message(""), None);
/// ```
pub fn error_message(body: &str) -> Option<String> {
    let from_json = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|value| {
        let error = value.get("error");
        value
            .get("message")
            .or_else(|| error.and_then(|e| e.get("message")))
            .or(error)
            .and_then(|m| m.as_str().map(str::to_owned))
    });
    let message = match from_json {
        Some(message) => message,
        None => {
            let text = body.trim();
            if text.is_empty() || text.starts_with('<') {
                return None;
            }
            text.to_owned()
        }
    };
    Some(shorten(message))
}

/// `message`, cut to [`MAX_MESSAGE_CHARS`] characters.
fn shorten(message: String) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message;
    }
    let short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    format!("{short}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_ignores_unknown_fields() {
        let health: Health = decode(r#"{"status":"ok","version":"1.2.3","uptime_s":5}"#).expect("decodes");
        assert_eq!(health, Health { status: "ok".into(), version: "1.2.3".into() });
    }

    #[test]
    fn missing_field_is_a_decode_error() {
        assert!(matches!(decode::<Health>(r#"{"status":"ok"}"#), Err(Error::Decode(_))));
    }

    #[test]
    fn long_messages_are_shortened() {
        let message = error_message(&"x".repeat(1000)).expect("plain text is a message");
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));
    }

    #[test]
    fn non_string_error_field_falls_back_to_body() {
        assert_eq!(error_message(r#"{"error":42}"#).as_deref(), Some(r#"{"error":42}"#));
    }

    #[test]
    fn errors_read_well() {
        let error = Error::Api { status: 503, message: "starting".into() };
        assert_eq!(error.to_string(), "the server answered 503: starting");
    }
}
