//! The one error type that HTTP handlers return.
//!
//! Every failure a client can see is an [`ApiError`]; it becomes a JSON body
//! `{"error": "<code>", "message": "<text>"}` with a matching status (plus `field` for a bad
//! parameter, `line` for a bad upload, `path` for a bad rule and `cycle` for a rule that would
//! make a segment depend on itself). The `code` is stable and meant for programs; the message is
//! for people and never carries internals (paths, SQL, panics). Internal errors are logged here,
//! once, with their cause, and answered with a generic message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route at this path.
    #[error("no such resource: {path}")]
    NotFound {
        /// The path that was asked for.
        path: String,
    },
    /// The route exists but the resource does not (an app, a segment, a day…). Also the answer
    /// for another app's resources, so a token never learns which other apps exist.
    #[error("{0}")]
    Missing(String),
    /// The request was understood but is not valid (bad JSON, bad parameter, ...).
    #[error("{0}")]
    BadRequest(String),
    /// A segment rule does not parse or does not fit the data.
    #[error("{message}")]
    InvalidRule {
        /// JSON path of the offending node inside the rule (`all[2].not`; `$` for the root).
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// A segment rule would make a segment depend on itself (answered as `invalid_rule`, with
    /// the cycle).
    #[error("{message}")]
    RuleCycle {
        /// JSON path of the reference inside the rule that closes (or leads to) the cycle.
        path: String,
        /// The segments along the cycle, the first repeated at the end (`["a", "b", "a"]`).
        cycle: Vec<String>,
        /// What is wrong, in a sentence.
        message: String,
    },
    /// Missing or wrong credentials.
    #[error("missing or invalid token")]
    Unauthorized,
    /// The token is valid for this app but its role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The resource exists already (or changed in a way that makes the write impossible).
    #[error("{0}")]
    Conflict(String),
    /// A request with the same `Idempotency-Key` is still running.
    #[error("a request with this Idempotency-Key is in progress; retry later")]
    IdempotencyInProgress,
    /// `If-Match` names a version that is no longer current.
    #[error("the resource changed: If-Match does not match the current ETag")]
    PreconditionFailed,
    /// The body is larger than the route accepts.
    #[error("request body larger than {limit_bytes} bytes")]
    PayloadTooLarge {
        /// The route's limit.
        limit_bytes: u64,
    },
    /// The `Idempotency-Key` was used before for a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReuse,
    /// Too many requests in flight: refused at once (load shedding).
    /// An export, sync, split or freeze of fewer users than the app's `min_audience` (409).
    #[error("{what} has {users} users, fewer than this app's minimum audience of {min_audience}")]
    BelowMinAudience {
        /// What was refused (`the segment's members`).
        what: String,
        /// Its users.
        users: u64,
        /// The app's minimum.
        min_audience: u64,
    },
    /// An `aggregate` token's privacy budget for the day is spent (429).
    #[error("{0}")]
    BudgetSpent(String),
    #[error("server overloaded; retry shortly")]
    Overloaded,
    /// This token already has as many uploads running as it may.
    #[error("this token already has {limit} uploads in progress; retry when one ends")]
    TooManyUploads {
        /// Concurrent uploads allowed per token.
        limit: usize,
    },
    /// The upload's body arrived too slowly (a stalled or trickling client); nothing was changed.
    #[error("the upload was too slow: at least {min_bytes_per_sec} bytes/s, with no pause over {idle_secs} s")]
    UploadTooSlow {
        /// The minimum rate.
        min_bytes_per_sec: u64,
        /// The longest pause.
        idle_secs: u64,
    },
    /// A JSON body does not decode into the route's type; `path` is where (`mode`,
    /// `groups[0].percent`), when the decoder got that far.
    #[error("invalid JSON body{}: {message}", path.as_ref().map(|p| format!(" at `{p}`")).unwrap_or_default())]
    InvalidJson {
        /// The path of the value at fault.
        path: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A query parameter, path parameter or JSON field is invalid.
    #[error("{field}: {message}")]
    InvalidField {
        /// The field at fault (`ds`, `kind`, `tier`, …).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An uploaded file is invalid; nothing was changed.
    #[error("{message}")]
    InvalidUpload {
        /// The line at fault (the header is line 1), when it is about one line.
        line: Option<u64>,
        /// The row at fault (1-based, a Parquet file's), when it is about one row.
        row: Option<u64>,
        /// The 1-based column at fault, when it is about one field.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// Storage is failing (an I/O error, a damaged file); a write did not happen, a read was
    /// not served from damaged data.
    #[error("storage unavailable; nothing was changed")]
    StorageUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data failed its integrity check (a blob's bytes do not hash to its address, a
    /// blob named by published data is missing, a metadata record fails its checksum); it is
    /// not served. Other data is unaffected. The message names it (a blob address, a record's
    /// table and key), never a path.
    #[error("stored data failed its integrity check and is not served: {0}")]
    DataCorrupt(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The disk is full; the write did not happen. Writes work again once there is space.
    #[error("the server's storage is full; nothing was changed")]
    InsufficientStorage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A bug or an I/O failure on our side; the cause is logged, not sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// An internal error from any cause (logged when answered, never shown).
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    /// A storage failure: 507 when the disk is full (`ENOSPC`, `EDQUOT` anywhere in the chain
    /// of causes), 503 `data_corrupt` for a damaged blob, else 503 `storage_unavailable`.
    pub fn storage(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        if is_disk_full(&err) {
            Self::InsufficientStorage(Box::new(err))
        } else if is_corrupt(&err) {
            Self::DataCorrupt(Box::new(err))
        } else {
            Self::StorageUnavailable(Box::new(err))
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } | Self::Missing(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) | Self::InvalidJson { .. } | Self::InvalidRule { .. } | Self::RuleCycle { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::IdempotencyInProgress => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::IdempotencyKeyReuse => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyUploads { .. } | Self::BudgetSpent(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BelowMinAudience { .. } => StatusCode::CONFLICT,
            Self::UploadTooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidField { .. } | Self::InvalidUpload { .. } => StatusCode::BAD_REQUEST,
            Self::StorageUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::DataCorrupt(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable, machine-readable code in the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } | Self::Missing(_) => "not_found",
            Self::BadRequest(_) | Self::InvalidJson { .. } => "bad_request",
            Self::InvalidRule { .. } | Self::RuleCycle { .. } => "invalid_rule",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::IdempotencyInProgress => "idempotency_in_progress",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::IdempotencyKeyReuse => "idempotency_key_reuse",
            Self::Overloaded => "overloaded",
            Self::TooManyUploads { .. } => "too_many_uploads",
            Self::BudgetSpent(_) => "privacy_budget_spent",
            Self::BelowMinAudience { .. } => "below_min_audience",
            Self::UploadTooSlow { .. } => "upload_too_slow",
            Self::Internal(_) => "internal",
            Self::InvalidField { .. } => "invalid_field",
            Self::InvalidUpload { .. } => "invalid_upload",
            Self::StorageUnavailable(_) => "storage_unavailable",
            Self::InsufficientStorage(_) => "insufficient_storage",
            Self::DataCorrupt(_) => "data_corrupt",
        }
    }

    /// A bad query parameter, path parameter or JSON field.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidField { field, message: message.into() }
    }

    /// The error a failed body read becomes: 413 when the route's size limit cut it off
    /// (see [`crate::limits`]), else 400 (the client went away or sent broken chunking).
    pub fn from_body_error(err: &(dyn std::error::Error + 'static), limit_bytes: u64) -> Self {
        if crate::limits::is_length_limit(err) {
            Self::PayloadTooLarge { limit_bytes }
        } else {
            Self::BadRequest("could not read the request body".into())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            // The one place internal errors are logged; the client only sees a generic message.
            Self::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            Self::StorageUnavailable(cause) => tracing::error!(error = ?cause, "storage failure"),
            Self::InsufficientStorage(cause) => tracing::error!(error = ?cause, "storage full"),
            Self::DataCorrupt(cause) => tracing::error!(error = %cause, "damaged data not served"),
            _ => {}
        }
        let (field, line, column, path) = match &self {
            Self::InvalidField { field, .. } => (Some((*field).to_owned()), None, None, None),
            // The field is the path's first step (`groups` of `groups[0].percent`).
            Self::InvalidJson { path: Some(p), .. } => {
                (p.split(['.', '[']).next().map(str::to_owned), None, None, Some(p.clone()))
            }
            Self::InvalidUpload { line, column, .. } => (None, *line, *column, None),
            Self::InvalidRule { path, .. } | Self::RuleCycle { path, .. } => (None, None, None, Some(path.clone())),
            _ => (None, None, None, None),
        };
        let row = match &self {
            Self::InvalidUpload { row, .. } => *row,
            _ => None,
        };
        let cycle = match &self {
            Self::RuleCycle { cycle, .. } => Some(cycle.clone()),
            _ => None,
        };
        // A shared store that cannot be reached is named (PostgreSQL at host:port/db, object
        // storage at s3://…; never a password), so an operator knows which one to look at.
        let message = match &self {
            Self::StorageUnavailable(cause) => match shared_store_failure(cause.as_ref()) {
                Some(what) => format!("{self}: {what}"),
                None => self.to_string(),
            },
            _ => self.to_string(),
        };
        let body = wire::ErrorBody { error: self.code().to_owned(), message, field, path, line, row, column, cycle };
        let mut res = (self.status(), Json(body)).into_response();
        match self {
            Self::Unauthorized => {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Overloaded
            | Self::TooManyUploads { .. }
            | Self::IdempotencyInProgress
            | Self::StorageUnavailable(_)
            | Self::InsufficientStorage(_) => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        res
    }
}

/// An error and its causes, outermost first (the chain `source()` walks).
///
/// ```
/// let inner = std::io::Error::other("disk");
/// let outer = server::store::BlobError::Io(inner);
/// assert_eq!(server::error::causes(&outer).count(), 2);
/// ```
pub fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

/// What a shared store (PostgreSQL, object storage) said when it could not be reached, if that
/// is somewhere in an error's chain of causes.
fn shared_store_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    causes(err).find_map(|e| {
        if let Some(store) = e.downcast_ref::<crate::store::StoreError>() {
            return match store {
                crate::store::StoreError::Unavailable(what) => Some(what.clone()),
                crate::store::StoreError::Postgres(pg) if store.is_io() => Some(format!("PostgreSQL: {pg}")),
                _ => None,
            };
        }
        match e.downcast_ref::<crate::store::BlobError>() {
            Some(crate::store::BlobError::Io(io)) if io.to_string().starts_with("object storage at") => {
                Some(io.to_string())
            }
            _ => None,
        }
    })
}

/// Whether damaged data (a blob, a metadata record) is somewhere in an error's chain of causes.
fn is_corrupt(err: &(dyn std::error::Error + 'static)) -> bool {
    causes(err).any(|e| {
        matches!(
            e.downcast_ref::<crate::store::BlobError>(),
            Some(crate::store::BlobError::Corrupt { .. } | crate::store::BlobError::Missing { .. })
        ) || e.downcast_ref::<crate::store::StoreError>().is_some_and(crate::store::StoreError::is_damage)
    })
}

/// Whether a full disk (or quota) is somewhere in an error's chain of causes. The metadata
/// store's errors do not expose their cause as `source()`, so they are asked directly.
pub fn is_disk_full(err: &(dyn std::error::Error + 'static)) -> bool {
    let full =
        |e: &std::io::Error| matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded);
    causes(err).any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(full)
            || e.downcast_ref::<crate::store::StoreError>()
                .and_then(crate::store::StoreError::io_error)
                .is_some_and(full)
    })
}

impl From<std::io::Error> for ApiError {
    fn from(err: std::io::Error) -> Self {
        if is_disk_full(&err) { Self::InsufficientStorage(Box::new(err)) } else { Self::Internal(Box::new(err)) }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        // A failing or full disk is a 503 / 507 the client may retry, damage a 503 `data_corrupt`;
        // anything else is a bug.
        if err.is_io() || err.is_damage() { Self::storage(err) } else { Self::Internal(Box::new(err)) }
    }
}

// Each domain's error becomes an HTTP answer here, and only here: the domain modules do not
// know HTTP, and the status, code and extra fields of every answer are decided in one file.

impl From<crate::blocking::Panicked> for ApiError {
    fn from(err: crate::blocking::Panicked) -> Self {
        Self::internal(err)
    }
}

impl From<crate::store::BlobError> for ApiError {
    fn from(err: crate::store::BlobError) -> Self {
        // Disk trouble or a damaged blob: nothing was (or will be) served from it.
        Self::storage(err)
    }
}

impl From<engine::RuleError> for ApiError {
    fn from(err: engine::RuleError) -> Self {
        Self::InvalidRule { path: err.path.clone(), message: err.to_string() }
    }
}

impl From<crate::snapshots::SnapshotError> for ApiError {
    fn from(err: crate::snapshots::SnapshotError) -> Self {
        use crate::snapshots::SnapshotError;
        match err {
            SnapshotError::Store(e) => Self::storage(e),
            SnapshotError::Blob(e) => Self::storage(e),
            other => Self::internal(other.to_string()),
        }
    }
}

impl From<crate::ids::IdsError> for ApiError {
    fn from(err: crate::ids::IdsError) -> Self {
        use crate::ids::IdsError;
        match err {
            IdsError::NoApp(app) => Self::Missing(format!("no app `{app}`")),
            IdsError::Store(e) => e.into(),
            IdsError::Snapshot(e) => e.into(),
            IdsError::Task(e) => e.into(),
        }
    }
}

impl From<crate::publish::PublishError> for ApiError {
    fn from(err: crate::publish::PublishError) -> Self {
        use crate::publish::PublishError;
        use crate::store::StoreError;
        match err {
            PublishError::OutOfRetention { .. } | PublishError::BeyondHorizon { .. } => {
                Self::invalid_field("ds", err.to_string())
            }
            PublishError::Store(StoreError::Conflict { what }) => {
                Self::Conflict(format!("{what} was changed by another publish meanwhile; retry"))
            }
            PublishError::Store(e) => Self::storage(e),
            PublishError::Blob(e) => Self::storage(e),
            PublishError::Snapshot(e) => e.into(),
        }
    }
}

impl From<crate::ingest::CsvError> for ApiError {
    fn from(err: crate::ingest::CsvError) -> Self {
        match err {
            crate::ingest::CsvError::Io(_) => Self::internal(err.to_string()),
            _ => Self::InvalidUpload { line: err.line(), row: None, column: err.column(), message: err.to_string() },
        }
    }
}

impl From<crate::ingest::parquet::ParquetError> for ApiError {
    fn from(err: crate::ingest::parquet::ParquetError) -> Self {
        use crate::ingest::parquet::ParquetError;
        let (row, column) = match &err {
            ParquetError::Row { row, column, .. } => (Some(*row), *column),
            ParquetError::Column { position, .. } => (None, Some(*position)),
            ParquetError::Unreadable(_) => (None, None),
        };
        Self::InvalidUpload { line: None, row, column, message: err.to_string() }
    }
}

impl From<crate::ingest::spool::SpoolError> for ApiError {
    fn from(err: crate::ingest::spool::SpoolError) -> Self {
        use crate::ingest::spool::SpoolError;
        match err {
            SpoolError::TooLarge { limit_bytes } => Self::PayloadTooLarge { limit_bytes },
            SpoolError::Body(_) => Self::BadRequest(err.to_string()),
            SpoolError::Stalled { min_bytes_per_sec, idle_secs } => {
                Self::UploadTooSlow { min_bytes_per_sec, idle_secs }
            }
            SpoolError::Csv(e) => e.into(),
            SpoolError::Parquet(e) => e.into(),
            SpoolError::Io(e) => Self::storage(e),
        }
    }
}

impl From<crate::governance::GovernanceError> for ApiError {
    fn from(err: crate::governance::GovernanceError) -> Self {
        use crate::governance::GovernanceError;
        match err {
            GovernanceError::InvalidField { field, message } => Self::InvalidField { field, message },
            GovernanceError::InvalidRule { path, message } => Self::InvalidRule { path, message },
            GovernanceError::Cycle { path, cycle, message } => Self::RuleCycle { path, cycle, message },
            GovernanceError::NotFound(m) => Self::Missing(m),
            GovernanceError::Conflict(m) => Self::Conflict(m),
            GovernanceError::Snapshot(e) => e.into(),
            GovernanceError::Store(e) => e.into(),
            GovernanceError::Blob(e) => e.into(),
            GovernanceError::Publish(e) => e.into(),
        }
    }
}

impl From<crate::segments::SegmentError> for ApiError {
    fn from(err: crate::segments::SegmentError) -> Self {
        use crate::segments::SegmentError;
        match err {
            SegmentError::InvalidField { field, message } => Self::InvalidField { field, message },
            SegmentError::InvalidRule(e) => e.into(),
            SegmentError::Cycle { path, cycle, message } => Self::RuleCycle { path, cycle, message },
            SegmentError::PreconditionFailed => Self::PreconditionFailed,
            SegmentError::Exists(_) | SegmentError::Contended(_) => Self::Conflict(err.to_string()),
            SegmentError::NotFound(_) => Self::Missing(err.to_string()),
            SegmentError::Store(e) => e.into(),
            SegmentError::Snapshot(e) => e.into(),
            SegmentError::Encode(e) => Self::internal(e),
        }
    }
}

impl From<crate::reach::ReachError> for ApiError {
    fn from(err: crate::reach::ReachError) -> Self {
        use crate::reach::ReachError;
        match err {
            ReachError::InvalidField { field, message } => Self::InvalidField { field, message },
            ReachError::NotFound(m) => Self::Missing(m),
            ReachError::Conflict(m) => Self::Conflict(m),
            ReachError::Record { .. } => Self::internal(err),
            ReachError::Store(e) => e.into(),
            ReachError::Snapshot(e) => e.into(),
            ReachError::Freeze(e) => e.into(),
            ReachError::Task(e) => e.into(),
        }
    }
}

impl From<crate::segments::freeze::FreezeError> for ApiError {
    fn from(err: crate::segments::freeze::FreezeError) -> Self {
        use crate::segments::freeze::FreezeError;
        match err {
            FreezeError::NoDay(_) => Self::Missing(err.to_string()),
            FreezeError::Rule(e) => e.into(),
            FreezeError::NotOnDay { .. } | FreezeError::Exists(_) | FreezeError::Contended(_) => {
                Self::Conflict(err.to_string())
            }
            FreezeError::Eval(e) => Self::internal(e),
            FreezeError::Snapshot(e) => e.into(),
            FreezeError::Store(e) => e.into(),
            FreezeError::Blob(e) => Self::storage(e),
            FreezeError::TooSmall(e) => e.into(),
        }
    }
}

impl From<crate::experiments::ExperimentError> for ApiError {
    fn from(err: crate::experiments::ExperimentError) -> Self {
        use crate::experiments::ExperimentError;
        match err {
            ExperimentError::NotFound(_) | ExperimentError::NoGroup { .. } | ExperimentError::NoDay => {
                Self::Missing(err.to_string())
            }
            ExperimentError::Exists(_) | ExperimentError::NoMembers { .. } => Self::Conflict(err.to_string()),
            ExperimentError::Invalid { field, message } => Self::invalid_field(field, message),
            ExperimentError::Record(e) => Self::internal(e),
            ExperimentError::Store(e) => e.into(),
            ExperimentError::Snapshot(e) => e.into(),
            ExperimentError::Blob(e) => e.into(),
            ExperimentError::Publish(e) => e.into(),
            ExperimentError::Ids(e) => e.into(),
            ExperimentError::TooSmall(e) => e.into(),
        }
    }
}

impl From<crate::idempotency::KeyError> for ApiError {
    fn from(err: crate::idempotency::KeyError) -> Self {
        Self::invalid_field("Idempotency-Key", err.to_string())
    }
}

impl From<crate::privacy::TooSmall> for ApiError {
    fn from(e: crate::privacy::TooSmall) -> Self {
        Self::BelowMinAudience { what: e.what, users: e.users, min_audience: e.min_audience }
    }
}

impl From<crate::privacy::BudgetError> for ApiError {
    fn from(e: crate::privacy::BudgetError) -> Self {
        match e {
            crate::privacy::BudgetError::Spent { .. } => Self::BudgetSpent(e.to_string()),
            crate::privacy::BudgetError::Store(e) => e.into(),
        }
    }
}

impl From<crate::privacy::SettingsError> for ApiError {
    fn from(e: crate::privacy::SettingsError) -> Self {
        match e {
            crate::privacy::SettingsError::Invalid(field, message) => Self::invalid_field(field, message),
            crate::privacy::SettingsError::Store(e) => e.into(),
        }
    }
}

impl From<crate::tokens::TokenError> for ApiError {
    fn from(e: crate::tokens::TokenError) -> Self {
        match e {
            crate::tokens::TokenError::Missing(_) => Self::Missing(e.to_string()),
            crate::tokens::TokenError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn body(err: ApiError) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let res = err.into_response();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (status, headers, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn extra_fields_only_where_they_belong() {
        let (s, _, v) = body(ApiError::invalid_field("app", "bad")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v, serde_json::json!({"error": "invalid_field", "message": "app: bad", "field": "app"}));
        let (_, _, v) = body(ApiError::InvalidRule { path: "all[2].not".into(), message: "m".into() }).await;
        assert_eq!(v, serde_json::json!({"error": "invalid_rule", "message": "m", "path": "all[2].not"}));
        let (_, _, v) = body(ApiError::PreconditionFailed).await;
        assert_eq!(v.as_object().map(|o| o.len()), Some(2));
    }

    #[tokio::test]
    async fn internals_are_not_sent() {
        let err = ApiError::internal(std::io::Error::other("/secret/path/meta.redb: disk full"));
        let (s, _, v) = body(err).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(v, serde_json::json!({"error": "internal", "message": "internal error"}));
    }

    #[tokio::test]
    async fn full_disk_is_507_other_storage_failures_503() {
        let enospc = std::io::Error::from_raw_os_error(28);
        let (s, h, v) = body(ApiError::storage(enospc)).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::INSUFFICIENT_STORAGE, Some("insufficient_storage")));
        assert_eq!(h[header::RETRY_AFTER], "1");
        // Wrapped in our own error types, the cause is still found.
        let deep = crate::store::BlobError::Io(std::io::Error::from_raw_os_error(28));
        assert_eq!(ApiError::from(deep).status(), StatusCode::INSUFFICIENT_STORAGE);
        let redb = crate::store::StoreError::Db(redb::Error::Io(std::io::Error::from_raw_os_error(28)));
        assert_eq!(ApiError::from(redb).status(), StatusCode::INSUFFICIENT_STORAGE);
        let latched = crate::store::StoreError::Db(redb::Error::PreviousIo);
        assert_eq!(ApiError::from(latched).status(), StatusCode::SERVICE_UNAVAILABLE);
        let eio = std::io::Error::from_raw_os_error(5);
        let (s, _, v) = body(ApiError::storage(eio)).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("storage_unavailable")));
        let corrupt = crate::snapshots::SnapshotError::Blob(crate::store::BlobError::Corrupt { hash: "ab".into() });
        let (s, _, v) = body(ApiError::from(corrupt)).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("data_corrupt")));
        // A missing blob and a damaged record are damage too, and the answer names them.
        let missing = crate::snapshots::SnapshotError::Blob(crate::store::BlobError::Missing { hash: "cd".into() });
        let (s, _, v) = body(ApiError::from(missing)).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("data_corrupt")));
        assert!(v["message"].as_str().is_some_and(|m| m.contains("blob cd is missing")), "{v}");
        let id = crate::store::RecordId { table: "days", key: "demo/2026-11-20".into() };
        let (s, _, v) = body(ApiError::from(crate::store::StoreError::Damaged(id))).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("data_corrupt")));
        assert!(v["message"].as_str().is_some_and(|m| m.contains("days record `demo/2026-11-20`")), "{v}");
        // A bad stored record is a bug, not a storage failure.
        let bad = serde_json::from_slice::<u8>(b"x").expect_err("not json");
        let record = crate::store::StoreError::Record { what: "day".into(), source: bad };
        assert_eq!(ApiError::from(record).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn helpful_headers() {
        let (_, h, _) = body(ApiError::Unauthorized).await;
        assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer");
        let (s, h, v) = body(ApiError::Overloaded).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("overloaded")));
        assert_eq!(h[header::RETRY_AFTER], "1");
    }
}
