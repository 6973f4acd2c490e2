//! The one error type that HTTP handlers return.
//!
//! Every failure a client can see is an [`ApiError`]; it becomes a JSON body
//! `{"error": "<code>", "message": "<text>"}` with a matching status. The `code` is stable and
//! meant for programs; the message is for people and never carries internals (paths, SQL, panics).
//! Internal errors are logged here, once, with their cause, and answered with a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route or no resource at this path.
    #[error("no such resource: {path}")]
    NotFound {
        /// The path that was asked for.
        path: String,
    },
    /// The request was understood but is not valid (bad JSON, bad parameter, ...).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials.
    #[error("missing or invalid token")]
    Unauthorized,
    /// The path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A bug or an I/O failure on our side; the cause is logged, not sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code in the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal(_) => "internal",
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Stable code, e.g. `not_found`.
    pub error: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            // The one place internal errors are logged; the client only sees "internal error".
            tracing::error!(error = ?cause, "internal error");
        }
        let body = ErrorBody { error: self.code(), message: self.to_string() };
        (self.status(), Json(body)).into_response()
    }
}

impl From<std::io::Error> for ApiError {
    fn from(err: std::io::Error) -> Self {
        Self::Internal(Box::new(err))
    }
}
