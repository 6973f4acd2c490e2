//! Segment definitions over HTTP: `POST /api/v1/apps/{app}/segments`, `GET` (list), and
//! `GET` / `PUT` / `DELETE /api/v1/apps/{app}/segments/{id}`.
//!
//! The rules live in [`crate::segments::sync`]; this module is the HTTP shell around them:
//! - reads answer the live segment with an `ETag`; a tombstone is a 404 like an absent segment;
//! - writes take an optional `"version"` (body) or `?version=` (delete) for upstream sync, an
//!   optional `If-Match` (412 when stale), and an optional `Idempotency-Key`
//!   ([`crate::idempotency`]); they answer `{"applied","result","version","segment"}`: 201 for
//!   `created`, 200 for `updated`, `deleted` and `stale` (`"applied": false`);
//! - editors and service tokens write; viewers (and service tokens) read.
//!
//! Store work (redb reads and durable commits) runs on the blocking pool.

use crate::store::meta::{Held, LockName};
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::audit::{self, Event};
use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, BodyBytes, parse_json};
use crate::idempotency::{self, Decision, IdempotencyRecord};
use crate::privacy;
use crate::routes::blocking;
use crate::segments::sync::{Mutation, Op, SegmentSpec};
use crate::segments::{self, Written};
use crate::state::AppState;
use wire::AuditAction;

/// Query of `DELETE …/segments/{id}`.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    /// Sync version of the delete.
    pub version: Option<u64>,
}

/// A JSON answer with an optional `ETag`.
fn json_reply(status: StatusCode, body: String, etag: Option<&str>) -> Response {
    let mut res =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    if let Some(v) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| ApiError::BadRequest(format!("header {name} is not ASCII"))),
    }
}

/// `GET /api/v1/apps/{app}/segments` → `{"segments": [...]}` (live ones, by id).
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Response, ApiError> {
    let scope = auth.app(&state, &app, Access::SegmentRead)?;
    let meta = state.meta.clone();
    let (records, noise) = blocking(move || -> Result<_, ApiError> {
        Ok((segments::list_live(&meta, &scope.app)?, privacy::aggregate_noise(&meta, &scope.app, scope.role)?))
    })
    .await?;
    let segments = records
        .iter()
        .filter_map(segments::view)
        .map(|mut s| {
            if let Some(noise) = &noise {
                privacy::views::segment(&mut s, noise);
            }
            s
        })
        .collect();
    let body = serde_json::to_string(&wire::SegmentList { segments }).map_err(ApiError::internal)?;
    Ok(json_reply(StatusCode::OK, body, None))
}

/// `GET /api/v1/apps/{app}/segments/{id}` → the segment, with its `ETag`.
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let scope = auth.app(&state, &app, Access::SegmentRead)?;
    validate_id("segment", &id)?;
    let meta = state.meta.clone();
    let lookup = id.clone();
    let (stored, noise) = blocking(move || -> Result<_, ApiError> {
        Ok((segments::load(&meta, &scope.app, &lookup)?, privacy::aggregate_noise(&meta, &scope.app, scope.role)?))
    })
    .await?;
    let record = stored.map(|(_, r)| r).filter(|r| r.live().is_some());
    let (Some(record), Some(mut view)) = (record.as_ref(), record.as_ref().and_then(segments::view)) else {
        return Err(ApiError::Missing(format!("no segment `{id}`")));
    };
    if let Some(noise) = &noise {
        privacy::views::segment(&mut view, noise);
    }
    let body = serde_json::to_string(&view).map_err(ApiError::internal)?;
    Ok(json_reply(StatusCode::OK, body, Some(&record.etag())))
}

/// The body of a create or update, checked: the segment's id (the path's for an update, which
/// the body may repeat; the body's for a create), its sync version, and the definition, whose
/// rule (if any) names only what the latest day has (or the segment itself, which the write
/// then refuses as a cycle).
fn definition(
    state: &AppState,
    app: &str,
    body: &[u8],
    path_id: Option<&str>,
) -> Result<(String, Option<u64>, SegmentSpec), ApiError> {
    let parsed: wire::SegmentInput = parse_json(body)?;
    let (body_id, version) = (parsed.id.clone(), parsed.version);
    let (spec, rule) = segments::validate(parsed)?;
    let id = match (path_id, body_id) {
        (Some(path), Some(body)) if path != body => {
            return Err(ApiError::invalid_field("id", "differs from the id in the path"));
        }
        (Some(path), _) => path.to_owned(),
        (None, Some(body)) => body,
        (None, None) => return Err(ApiError::invalid_field("id", "required")),
    };
    validate_id("segment", &id)?;
    if let Some(rule) = &rule {
        segments::validate_rule_against_latest_day(state, app, &id, rule)?;
    }
    Ok((id, version, spec))
}

/// `POST /api/v1/apps/{app}/segments` `{"id","name","description"?,"kind"?,"rule"?,"version"?}`.
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let scope = auth.app(&state, &app, Access::SegmentWrite)?;
    let request = WriteRequest::new(&auth, "POST", &uri, &headers, body)?;
    request
        .execute(state, scope.app, |state, app, body| {
            let (id, version, spec) = definition(state, app, body, None)?;
            Ok((id, Mutation { op: Op::Create(spec), version }))
        })
        .await
}

/// `PUT /api/v1/apps/{app}/segments/{id}`: replace the definition (same body as POST; `id`
/// optional, and equal to the path's when given).
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let scope = auth.app(&state, &app, Access::SegmentWrite)?;
    validate_id("segment", &id)?;
    let request = WriteRequest::new(&auth, "PUT", &uri, &headers, body)?;
    request
        .execute(state, scope.app, move |state, app, body| {
            let (id, version, spec) = definition(state, app, body, Some(&id))?;
            Ok((id, Mutation { op: Op::Update(spec), version }))
        })
        .await
}

/// `DELETE /api/v1/apps/{app}/segments/{id}?version=`: leaves a tombstone (see
/// [`crate::segments::sync`]).
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let scope = auth.app(&state, &app, Access::SegmentWrite)?;
    validate_id("segment", &id)?;
    let request = WriteRequest::new(&auth, "DELETE", &uri, &headers, body)?;
    request
        .execute(state, scope.app, move |_, _, _| Ok((id, Mutation { op: Op::Delete, version: query.version })))
        .await
}

/// A segment write with its conditional and idempotency headers.
struct WriteRequest {
    /// Fingerprint of method, path and query, and body (only needed with a key).
    fingerprint: String,
    /// The `Idempotency-Key`, scoped to the calling token.
    idempotency_key: Option<String>,
    if_match: Option<String>,
    body: Bytes,
    /// Who writes (deletions are audited).
    actor: wire::Actor,
}

impl WriteRequest {
    fn new(
        auth: &Auth,
        method: &str,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Self, ApiError> {
        let idempotency_key = match header_str(headers, idempotency::HEADER)? {
            Some(key) => {
                idempotency::validate_key(key)?;
                Some(idempotency::scoped_key(auth.caller(), key))
            }
            None => None,
        };
        let if_match = header_str(headers, header::IF_MATCH.as_str())?.map(str::to_owned);
        let path = uri.path_and_query().map_or_else(|| uri.path(), |pq| pq.as_str());
        let fingerprint = idempotency::fingerprint(method, path, &body);
        Ok(Self { fingerprint, idempotency_key, if_match, body, actor: auth.actor() })
    }

    /// Replays or refuses a reused idempotency key; else parses the mutation with `parse`,
    /// applies it, records the answer under the key, and answers.
    async fn execute<F>(self, state: AppState, app: String, parse: F) -> Result<Response, ApiError>
    where
        F: FnOnce(&AppState, &str, &[u8]) -> Result<(String, Mutation), ApiError> + Send + 'static,
    {
        // Held until the answer is recorded, so a concurrent retry cannot run the write twice.
        let _claim = match &self.idempotency_key {
            Some(key) => Some(state.idempotency.claim(&app, key).ok_or(ApiError::IdempotencyInProgress)?),
            None => None,
        };
        let worker_state = state.clone();
        let worker_app = app.clone();
        let outcome = blocking(move || {
            let (state, app) = (worker_state, worker_app);
            // With replicas the key is claimed in the shared store as well (a retry sent to
            // another replica meanwhile is refused the same way), and definitions are written
            // one at a time per app, so two replicas cannot close a reference cycle together.
            let _key = match &self.idempotency_key {
                Some(key) => match state.meta.lock(LockName::Idempotency(&app, key), false)? {
                    Held::Busy => return Err(ApiError::IdempotencyInProgress),
                    held => Some(held),
                },
                None => None,
            };
            let _definitions = state.meta.lock(LockName::Segments(&app), true)?;
            let now = now_ms();
            if let Some(key) = &self.idempotency_key {
                let stored = match state.meta.idempotency_get(&app, key)? {
                    Some(bytes) => {
                        Some(serde_json::from_slice::<IdempotencyRecord>(&bytes).map_err(ApiError::internal)?)
                    }
                    None => None,
                };
                match idempotency::decide(stored.as_ref(), &self.fingerprint, now) {
                    Decision::Replay(rec) => return Ok(Outcome::Replay(rec.clone())),
                    Decision::Mismatch => return Err(ApiError::IdempotencyKeyReuse),
                    Decision::Proceed => {}
                }
            }
            let (id, mutation) = parse(&state, &app, &self.body)?;
            let written = segments::write(
                &state.meta,
                &state.segment_graphs,
                &app,
                &id,
                &mutation,
                self.if_match.as_deref(),
                now,
            )?;
            if let Written::Applied { change: segments::sync::Change::Deleted, .. } = &written {
                let event = Event::new(AuditAction::DeleteSegment, id.clone());
                audit::record(&state.meta, &app, &self.actor, event, now)?;
            }
            let status = match &written {
                Written::Applied { change: segments::sync::Change::Created, .. } => StatusCode::CREATED,
                _ => StatusCode::OK,
            };
            let body = serde_json::to_string(&written.result()).map_err(ApiError::internal)?;
            let etag = written.etag();
            if let Some(key) = &self.idempotency_key
                && idempotency::should_record(status.as_u16())
            {
                let record = IdempotencyRecord {
                    fingerprint: self.fingerprint.clone(),
                    status: status.as_u16(),
                    body: body.clone(),
                    etag: etag.clone(),
                    created_ms: now,
                };
                let stored = serde_json::to_vec(&record)
                    .map_err(ApiError::internal)
                    .and_then(|bytes| state.meta.idempotency_put(&app, key, &bytes).map_err(ApiError::from));
                if let Err(err) = stored {
                    // The write itself is durable; a retry will be re-executed (and found stale or conflicting).
                    tracing::warn!(error = %err, "could not record the idempotency key");
                }
            }
            Ok(Outcome::Done { written, status, body, etag })
        })
        .await?;
        match outcome {
            Outcome::Replay(rec) => {
                let status = StatusCode::from_u16(rec.status).map_err(ApiError::internal)?;
                let mut res = json_reply(status, rec.body, rec.etag.as_deref());
                res.headers_mut().insert(idempotency::REPLAYED_HEADER, HeaderValue::from_static("true"));
                Ok(res)
            }
            Outcome::Done { written, status, body, etag } => {
                if let Written::Applied { record, .. } = &written {
                    segments::on_segment_changed(&state, &app, record).await;
                }
                Ok(json_reply(status, body, etag.as_deref()))
            }
        }
    }
}

/// What the blocking part of a write produced.
#[expect(clippy::large_enum_variant, reason = "one per request, moved once")]
enum Outcome {
    Replay(IdempotencyRecord),
    Done { written: Written, status: StatusCode, body: String, etag: Option<String> },
}
