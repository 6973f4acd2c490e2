//! Extractors whose rejections are [`ApiError`]s, so every bad request gets the JSON error body.
//!
//! | extractor | instead of | notes |
//! |---|---|---|
//! | [`ApiPath`] | `Path` | percent-decoded; a bad encoding is a 400 |
//! | [`ApiQuery`] | `Query` | |
//! | [`JsonBody`] | `Json` | no `Content-Type` check (`curl -d` works); 413 over the route's limit |
//! | [`BodyBytes`] | `Bytes` | the raw body (for fingerprints); 413 over the route's limit |

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::limits::BodyLimit;

/// `Path<T>` with a JSON 400 on failure.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// `Query<T>` with a JSON 400 on failure.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// The whole request body, read within the route's [`BodyLimit`].
#[derive(Debug, Clone)]
pub struct BodyBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().copied().map_or(u64::MAX, |l| l.0);
        match axum::body::to_bytes(req.into_body(), usize::MAX).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(err) => Err(ApiError::from_body_error(&err, limit)),
        }
    }
}

/// A JSON body decoded into `T`; 400 names what is wrong (`missing field `name``…).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let BodyBytes(bytes) = BodyBytes::from_request(req, state).await?;
        parse_json(&bytes).map(Self)
    }
}

/// Decodes a JSON body, with a 400 that says what is wrong and where (the body's `field` and
/// `path`).
///
/// # Errors
/// [`ApiError::InvalidJson`] when the bytes are not JSON of the expected shape.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::InvalidJson { path: (path != ".").then_some(path), message: e.into_inner().to_string() }
    })?;
    // Trailing bytes after the value are an error, as with `serde_json::from_slice`.
    de.end().map_err(|e| ApiError::InvalidJson { path: None, message: e.to_string() })?;
    Ok(value)
}
