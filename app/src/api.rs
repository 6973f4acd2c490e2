//! Typed client for the server's REST API.
//!
//! Requests and answers are the types of crate `wire`, the ones the server's handlers use
//! (re-exported here), so the client cannot drift from the server. Every failure is one of
//! the three kinds in [`Error`]: the request never got an answer ([`Error::Fetch`]), the
//! server answered with an error status ([`Error::Api`], keeping the server's error body:
//! its code, message, and the `field`, rule `path` or upload `line` at fault, which the
//! error's message shows), or the answer was not what this client expects ([`Error::Decode`]).
//!
//! In development, Trunk proxies `/api/` to the server (see `Trunk.toml`); in
//! production the server serves the app itself, so paths stay relative.

use gloo_net::http::Request;
use serde::de::DeserializeOwned;

use engine::Manifest;
use engine::manifest::EventEntry;

use crate::session::{Session, encode_component};

pub mod reach;

// The bodies of the API, shared with the server (crate `wire`): what the server answers is
// what these decode, field for field.
pub use wire::{
    Actor, App, AppPatch, AppSettings, AuditAction, AuditEntry, AuditPage, Backfill, BackfillState, Balance, Day,
    ErrorBody, Estimate, EstimateRequest, Experiment, ExperimentGroup, ExperimentView, FreezeInput, Frozen,
    GroupOutcome, Health, HealthStatus, History, HistoryDay, IdKind, LookupCount, LookupCounts, MetricRates, MixRow,
    NewExperiment, NewToken, Outcome, Role, Rotate, Rule, Segment, SegmentInput, SegmentKind, Step, StorageHealth,
    Tier, Token, TokenCreated, TokenList, UserTags, WriteResult,
};

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
    #[error("the server answered {status}: {}{}", body.message, place(body))]
    Api {
        /// HTTP status code.
        status: u16,
        /// What the server said: its error code, message (cut to 200 characters), and where
        /// the problem is (`field`, rule `path`, upload `line`, a `cycle`) when it said so.
        /// Boxed: it is large, and every `Result` of the client carries this enum.
        body: Box<ErrorBody>,
    },
    /// The answer could not be read as the expected type.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

/// Where an error is, as a suffix of its message: `` (field `name`)``, `` (at `all[1].tag`)``,
/// ` (line 3)`, ` (line 3, column 2)`, ` (row 7)` (a Parquet file's); empty when the server did
/// not say.
fn location(body: &ErrorBody) -> String {
    match (&body.field, &body.path, body.line.map(|l| ("line", l)).or(body.row.map(|r| ("row", r))), body.column) {
        (Some(field), _, _, _) if !body.message.contains(field.as_str()) => format!(" (field `{field}`)"),
        (_, Some(path), _, _) => format!(" (at `{path}`)"),
        (_, _, Some((what, n)), Some(column)) => format!(" ({what} {n}, column {column})"),
        (_, _, Some((what, n)), None) => format!(" ({what} {n})"),
        _ => String::new(),
    }
}

impl Error {
    /// An API error made by the app itself (a check done before asking, or a state the server
    /// would answer this way), with the server's code for it.
    pub fn api(status: u16, code: &str, message: impl Into<String>) -> Error {
        let body = ErrorBody {
            error: code.to_owned(),
            message: message.into(),
            field: None,
            path: None,
            line: None,
            row: None,
            column: None,
            cycle: None,
        };
        Error::Api { status, body: Box::new(body) }
    }

    /// The server's error code (`not_found`, `invalid_rule`…), for an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { body, .. } => Some(&body.error),
            _ => None,
        }
    }

    /// Whether the server refused a write because the resource changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Api { status: 412, .. })
    }

    /// Whether the token was refused (signed out, or a token for another app).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Api { status: 401, .. })
    }
}

/// Ask the server whether it is healthy.
pub async fn health() -> Result<Health, Error> {
    get_json("/health").await
}

/// Published days of the signed-in app, oldest first.
pub async fn days(s: &Session) -> Result<Vec<Day>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/days"), None, None).await?;
    Ok(decode::<wire::DayList>(&body)?.days)
}

/// The manifest of a day, parsed and checked by the engine.
pub async fn manifest(s: &Session, ds: &str) -> Result<Manifest, Error> {
    let (body, _) = call(s, "GET", &app_path(s, &format!("/days/{ds}/manifest")), None, None).await?;
    Manifest::from_json(body.as_bytes()).map_err(|e| Error::Decode(e.to_string()))
}

/// The event uploads of the retained days up to `ds` (what event conditions read).
pub async fn event_days(s: &Session, ds: &str) -> Result<crate::estimate::EventWindow, Error> {
    let (body, _) = call(s, "GET", &app_path(s, &format!("/days/{ds}/events")), None, None).await?;
    let d = decode::<wire::EventDays<EventEntry>>(&body)?;
    Ok(crate::estimate::EventWindow {
        retained_days: d.retained_days,
        days: d.days.into_iter().map(|day| (day.ds, day.events)).collect(),
    })
}

/// The raw bytes of a blob (the caller checks them against the address).
pub async fn blob_bytes(s: &Session, hash: &str) -> Result<Vec<u8>, Error> {
    let response = Request::get(&endpoint(&app_path(s, &format!("/blobs/{hash}"))))
        .header("Authorization", &format!("Bearer {}", s.token))
        .send()
        .await
        .map_err(|e| Error::Fetch(e.to_string()))?;
    if !response.ok() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(api_error(status, &body, &response.status_text()));
    }
    response.binary().await.map_err(|e| Error::Fetch(e.to_string()))
}

/// The server's count of a rule on a tier.
pub async fn estimate(s: &Session, ds: &str, rule: &serde_json::Value, tier: Tier) -> Result<Estimate, Error> {
    let request = EstimateRequest { ds: Some(ds.to_owned()), rule: Rule(rule.clone()), tier };
    let body = serde_json::to_string(&request).map_err(|e| Error::Decode(e.to_string()))?;
    let (body, _) = call(s, "POST", &app_path(s, "/estimate"), Some(body), None).await?;
    decode(&body)
}

/// An ordered event funnel (`POST …/funnel`).
pub async fn funnel(s: &Session, request: &wire::FunnelRequest) -> Result<wire::Funnel, Error> {
    let body = serde_json::to_string(request).map_err(|e| Error::Decode(e.to_string()))?;
    let (body, _) = call(s, "POST", &app_path(s, "/funnel"), Some(body), None).await?;
    decode(&body)
}

/// The regions of up to five sets (`POST …/overlap`).
pub async fn overlap(s: &Session, request: &wire::OverlapRequest) -> Result<wire::Overlap, Error> {
    let body = serde_json::to_string(request).map_err(|e| Error::Decode(e.to_string()))?;
    let (body, _) = call(s, "POST", &app_path(s, "/overlap"), Some(body), None).await?;
    decode(&body)
}

/// A cross-tab of two tag groups (`POST …/pivot`).
pub async fn pivot(s: &Session, request: &wire::PivotRequest) -> Result<wire::Pivot, Error> {
    let body = serde_json::to_string(request).map_err(|e| Error::Decode(e.to_string()))?;
    let (body, _) = call(s, "POST", &app_path(s, "/pivot"), Some(body), None).await?;
    decode(&body)
}

/// Live segments.
pub async fn segments(s: &Session) -> Result<Vec<Segment>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/segments"), None, None).await?;
    Ok(decode::<wire::SegmentList>(&body)?.segments)
}

/// One segment and its ETag.
pub async fn segment(s: &Session, id: &str) -> Result<(Segment, Option<String>), Error> {
    let (body, etag) = call(s, "GET", &app_path(s, &format!("/segments/{}", encode_component(id))), None, None).await?;
    Ok((decode(&body)?, etag))
}

/// Creates a segment.
pub async fn create_segment(s: &Session, input: &SegmentInput) -> Result<Option<String>, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    Ok(call(s, "POST", &app_path(s, "/segments"), Some(body), None).await?.1)
}

/// Freezes the members of a rule (or of a segment) on a day into the new static segment `id`,
/// in one request: nothing is left behind when it fails. Answers what was frozen and the
/// segment's ETag.
pub async fn freeze_segment(s: &Session, id: &str, input: &FreezeInput) -> Result<(Frozen, Option<String>), Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    let path = app_path(s, &format!("/segments/{}/freeze", encode_component(id)));
    let (body, etag) = call(s, "POST", &path, Some(body), None).await?;
    Ok((decode(&body)?, etag))
}

/// Replaces a segment's definition; `if_match` makes a stale write a 412.
pub async fn update_segment(
    s: &Session,
    input: &SegmentInput,
    if_match: Option<&str>,
) -> Result<Option<String>, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    let id = input.id.as_deref().unwrap_or_default();
    let path = app_path(s, &format!("/segments/{}", encode_component(id)));
    Ok(call(s, "PUT", &path, Some(body), if_match).await?.1)
}

/// Deletes a segment; `if_match` makes a stale delete a 412.
pub async fn delete_segment(s: &Session, id: &str, if_match: Option<&str>) -> Result<(), Error> {
    call(s, "DELETE", &app_path(s, &format!("/segments/{}", encode_component(id))), None, if_match).await.map(|_| ())
}

/// A segment's members on a day, as the CSV the server sends (`user_id` header).
pub async fn segment_members_csv(s: &Session, id: &str, ds: Option<&str>) -> Result<String, Error> {
    let query = ds.map(|d| format!("?ds={d}")).unwrap_or_default();
    let path = app_path(s, &format!("/segments/{}/members{query}", encode_component(id)));
    Ok(call(s, "GET", &path, None, None).await?.0)
}

/// Uploads a static segment's members (CSV with a `user_id` header); answers the server's
/// accounting of the rows.
pub async fn put_segment_members(s: &Session, id: &str, csv: String) -> Result<wire::MembersReport, Error> {
    let path = app_path(s, &format!("/segments/{}/members", encode_component(id)));
    decode(&call_with_type(s, "PUT", &path, Some(csv), None, "text/csv").await?.0)
}

/// A segment's members on `ds` as a file in `format` (`csv`, `clickhouse`, `roaring`), read as
/// it arrives: `progress` is told each chunk (for the bytes and rows so far).
pub async fn segment_members_file(
    s: &Session,
    id: &str,
    ds: &str,
    format: &str,
    mut progress: impl FnMut(&[u8]),
) -> Result<Vec<u8>, Error> {
    use wasm_bindgen::JsCast;
    let path = app_path(s, &format!("/segments/{}/members?ds={ds}&format={format}", encode_component(id)));
    let response = Request::get(&endpoint(&path))
        .header("Authorization", &format!("Bearer {}", s.token))
        .send()
        .await
        .map_err(|e| Error::Fetch(e.to_string()))?;
    if !response.ok() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(api_error(status, &body, &response.status_text()));
    }
    let fail = |e: wasm_bindgen::JsValue| Error::Fetch(format!("{e:?}"));
    let Some(body) = response.body() else { return Ok(Vec::new()) };
    let reader: web_sys::ReadableStreamDefaultReader =
        body.get_reader().dyn_into().map_err(|_| Error::Fetch("the body is not a byte stream".into()))?;
    let mut bytes = Vec::new();
    loop {
        let chunk = wasm_bindgen_futures::JsFuture::from(reader.read()).await.map_err(fail)?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map_err(fail)?.as_bool().unwrap_or(true);
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(fail)?;
        let piece = js_sys::Uint8Array::new(&value).to_vec();
        progress(&piece);
        bytes.extend_from_slice(&piece);
    }
    Ok(bytes)
}

/// One user's tags and segments on a day.
pub async fn user_tags(s: &Session, user: &str, ds: &str) -> Result<UserTags, Error> {
    let path = app_path(s, &format!("/users/{}/tags?ds={ds}", encode_component(user)));
    let (body, _) = call(s, "GET", &path, None, None).await?;
    decode(&body)
}

/// A segment day by day between `from` and `to` (inclusive; `None`: open), with the rates of
/// `metrics` (tag groups with a `true` value).
pub async fn history(
    s: &Session,
    id: &str,
    from: Option<&str>,
    to: Option<&str>,
    metrics: &[String],
) -> Result<History, Error> {
    let mut query = Vec::new();
    if let Some(from) = from {
        query.push(format!("from={}", encode_component(from)));
    }
    if let Some(to) = to {
        query.push(format!("to={}", encode_component(to)));
    }
    if !metrics.is_empty() {
        let list: Vec<String> = metrics.iter().map(|m| encode_component(m)).collect();
        query.push(format!("metrics={}", list.join(",")));
    }
    let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
    let path = app_path(s, &format!("/segments/{}/history{query}", encode_component(id)));
    let (body, _) = call(s, "GET", &path, None, None).await?;
    decode(&body)
}

/// The app's experiments.
pub async fn experiments(s: &Session) -> Result<Vec<Experiment>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/experiments"), None, None).await?;
    Ok(decode::<wire::ExperimentList>(&body)?.experiments)
}

/// One experiment with its balance check.
pub async fn experiment(s: &Session, id: &str) -> Result<ExperimentView, Error> {
    let (body, _) = call(s, "GET", &app_path(s, &format!("/experiments/{}", encode_component(id))), None, None).await?;
    decode(&body)
}

/// Splits a segment into frozen groups; answers the experiment with its balance check.
pub async fn create_experiment(s: &Session, input: &NewExperiment) -> Result<ExperimentView, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    let (body, _) = call(s, "POST", &app_path(s, "/experiments"), Some(body), None).await?;
    decode(&body)
}

/// A metric's rate per group of an experiment on a day.
pub async fn outcome(s: &Session, id: &str, metric: &str, ds: &str) -> Result<Outcome, Error> {
    let path = app_path(
        s,
        &format!(
            "/experiments/{}/outcome?metric={}&ds={}",
            encode_component(id),
            encode_component(metric),
            encode_component(ds)
        ),
    );
    let (body, _) = call(s, "GET", &path, None, None).await?;
    decode(&body)
}

/// A group's members as the CSV the server sends (`user_id` header).
pub async fn experiment_group_csv(s: &Session, id: &str, group: &str) -> Result<String, Error> {
    let path =
        app_path(s, &format!("/experiments/{}/groups/{}/members", encode_component(id), encode_component(group)));
    Ok(call(s, "GET", &path, None, None).await?.0)
}

/// The signed-in app: its name, the token's role (absent for the server's admin token) and
/// the privacy settings.
pub async fn app(s: &Session) -> Result<App, Error> {
    let (body, _) = call(s, "GET", &app_path(s, ""), None, None).await?;
    decode(&body)
}

/// Changes the app's name or privacy settings (app admins); answers the app as it is now.
pub async fn patch_app(s: &Session, patch: &AppPatch) -> Result<App, Error> {
    let body = serde_json::to_string(patch).map_err(|e| Error::Decode(e.to_string()))?;
    let (body, _) = call(s, "PATCH", &app_path(s, ""), Some(body), None).await?;
    decode(&body)
}

/// The app's live tokens, oldest first (app admins).
pub async fn tokens(s: &Session) -> Result<Vec<Token>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/tokens"), None, None).await?;
    Ok(decode::<TokenList>(&body)?.tokens)
}

/// Creates a token; its secret is in the answer, this once.
pub async fn create_token(s: &Session, input: &NewToken) -> Result<TokenCreated, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    let (body, _) = call(s, "POST", &app_path(s, "/tokens"), Some(body), None).await?;
    decode(&body)
}

/// Gives a token a new secret; the old one works until `previous_valid_until_ms`.
pub async fn rotate_token(s: &Session, id: &str, input: &Rotate) -> Result<TokenCreated, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    let path = app_path(s, &format!("/tokens/{}/rotate", encode_component(id)));
    let (body, _) = call(s, "POST", &path, Some(body), None).await?;
    decode(&body)
}

/// Revokes a token at once.
pub async fn revoke_token(s: &Session, id: &str) -> Result<(), Error> {
    call(s, "DELETE", &app_path(s, &format!("/tokens/{}", encode_component(id))), None, None).await.map(|_| ())
}

/// A page of the audit log, oldest first: up to `limit` entries after the entry `after`.
pub async fn audit(s: &Session, after: Option<&str>, limit: u32) -> Result<AuditPage, Error> {
    let after = after.map(|a| format!("&after={}", encode_component(a))).unwrap_or_default();
    let (body, _) = call(s, "GET", &app_path(s, &format!("/audit?limit={limit}{after}")), None, None).await?;
    decode(&body)
}

/// The whole audit log as the CSV the server sends.
pub async fn audit_csv(s: &Session) -> Result<String, Error> {
    Ok(call(s, "GET", &app_path(s, "/audit?format=csv"), None, None).await?.0)
}

/// The tag catalog: every group with its metadata, quality and usage (issue 15).
pub async fn groups(s: &Session) -> Result<wire::GroupList, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/groups"), None, None).await?;
    decode(&body)
}

/// Changes a group's catalog metadata (editors); with `dry_run`, only says what would change
/// and who is affected.
pub async fn patch_group(s: &Session, group: &str, patch: &wire::GroupPatch) -> Result<wire::GroupChange, Error> {
    let body = serde_json::to_string(patch).map_err(|e| Error::Decode(e.to_string()))?;
    let path = app_path(s, &format!("/groups/{}", encode_component(group)));
    let (body, _) = call(s, "PATCH", &path, Some(body), None).await?;
    decode(&body)
}

/// Uploads held by their quality checks, waiting for a decision.
pub async fn holds(s: &Session) -> Result<Vec<wire::Hold>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/holds"), None, None).await?;
    Ok(decode::<wire::HoldList>(&body)?.holds)
}

/// Approves (`approve`) or rejects a held upload (editors).
pub async fn decide_hold(s: &Session, id: &str, approve: bool) -> Result<(), Error> {
    let what = if approve { "approve" } else { "reject" };
    let path = app_path(s, &format!("/holds/{}/{what}", encode_component(id)));
    call(s, "POST", &path, None, None).await.map(|_| ())
}

/// Every version of a day, newest first.
pub async fn day_versions(s: &Session, ds: &str) -> Result<wire::DayVersions, Error> {
    let (body, _) = call(s, "GET", &app_path(s, &format!("/days/{ds}/versions")), None, None).await?;
    decode(&body)
}

/// Publishes a group again as it was in `version` of day `ds` (editors).
pub async fn restore_group(s: &Session, ds: &str, group: &str, version: u64) -> Result<wire::IngestResult, Error> {
    let body = serde_json::to_string(&wire::RestoreRequest { version }).map_err(|e| Error::Decode(e.to_string()))?;
    let path = app_path(s, &format!("/days/{ds}/groups/{}/restore", encode_component(group)));
    let (body, _) = call(s, "POST", &path, Some(body), None).await?;
    decode(&body)
}

/// Composite tags.
pub async fn composites(s: &Session) -> Result<Vec<wire::Composite>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/composites"), None, None).await?;
    Ok(decode::<wire::CompositeList>(&body)?.composites)
}

/// Defines a composite tag (editors).
pub async fn put_composite(s: &Session, group: &str, input: &wire::CompositeInput) -> Result<wire::Composite, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    let path = app_path(s, &format!("/composites/{}", encode_component(group)));
    let (body, _) = call(s, "PUT", &path, Some(body), None).await?;
    decode(&body)
}

/// Deletes a composite tag (editors).
pub async fn delete_composite(s: &Session, group: &str) -> Result<(), Error> {
    let path = app_path(s, &format!("/composites/{}", encode_component(group)));
    call(s, "DELETE", &path, None, None).await.map(|_| ())
}

/// Membership lookups per day and token.
pub async fn lookup_counts(s: &Session) -> Result<Vec<LookupCount>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/audit/lookups"), None, None).await?;
    Ok(decode::<LookupCounts>(&body)?.days)
}

/// `/apps/{app}{rest}`.
fn app_path(s: &Session, rest: &str) -> String {
    format!("/apps/{}{rest}", encode_component(&s.app))
}

/// Sends an authorized JSON request; returns the body and the ETag.
async fn call(
    s: &Session,
    method: &str,
    path: &str,
    body: Option<String>,
    if_match: Option<&str>,
) -> Result<(String, Option<String>), Error> {
    call_with_type(s, method, path, body, if_match, "application/json").await
}

async fn call_with_type(
    s: &Session,
    method: &str,
    path: &str,
    body: Option<String>,
    if_match: Option<&str>,
    content_type: &str,
) -> Result<(String, Option<String>), Error> {
    let url = endpoint(path);
    let builder = match method {
        "POST" => Request::post(&url),
        "PUT" => Request::put(&url),
        "PATCH" => Request::patch(&url),
        "DELETE" => Request::delete(&url),
        _ => Request::get(&url),
    };
    let mut builder =
        builder.header("Accept", "application/json").header("Authorization", &format!("Bearer {}", s.token));
    if let Some(tag) = if_match {
        builder = builder.header("If-Match", tag);
    }
    let request = match body {
        Some(body) => {
            builder.header("Content-Type", content_type).body(body).map_err(|e| Error::Fetch(e.to_string()))?
        }
        None => builder.build().map_err(|e| Error::Fetch(e.to_string()))?,
    };
    let response = request.send().await.map_err(|e| Error::Fetch(e.to_string()))?;
    let status = response.status();
    let etag = response.headers().get("etag");
    let text = response.text().await.map_err(|e| Error::Fetch(e.to_string()))?;
    if !response.ok() {
        return Err(api_error(status, &text, &response.status_text()));
    }
    Ok((text, etag))
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
        return Err(api_error(status, &body, &response.status_text()));
    }
    decode(&body)
}

/// Decode a JSON answer into `T`.
///
/// ```
/// let day: app::api::Day =
///     app::api::decode(r#"{"ds":"2026-01-02","manifest":"ab","version":3,"published_ms":1}"#).unwrap();
/// assert_eq!(day.version, 3);
/// assert!(app::api::decode::<app::api::Day>("<html>").is_err());
/// ```
pub fn decode<T: DeserializeOwned>(body: &str) -> Result<T, Error> {
    serde_json::from_str(body).map_err(|e| Error::Decode(e.to_string()))
}

/// [`location`], unless the message already names the rule path: the server's messages for
/// rules start with it (`all[1]: …`), so it is not said twice.
fn place(body: &ErrorBody) -> String {
    match &body.path {
        Some(path) if body.field.is_none() && body.message.contains(path.as_str()) => String::new(),
        _ => location(body),
    }
}

/// The error of a non-success answer: the server's JSON error body as it is (message cut to
/// [`MAX_MESSAGE_CHARS`]); a JSON body with only an `error` (a gateway's, or an older server's)
/// shows that text; for anything else (a proxy's page, plain text) a body with the code
/// `http_{status}` and the text, or the status text when the body is empty or HTML.
///
/// ```
/// use app::api::{Error, api_error};
/// let e = api_error(400, r#"{"error":"invalid_rule","message":"unknown tag `x`","path":"all[1].tag"}"#, "Bad Request");
/// assert_eq!(e.code(), Some("invalid_rule"));
/// assert_eq!(e.to_string(), "the server answered 400: unknown tag `x` (at `all[1].tag`)");
/// let e = api_error(502, "<!DOCTYPE html><html>…", "Bad Gateway");
/// assert_eq!(e.to_string(), "the server answered 502: Bad Gateway");
/// assert_eq!(api_error(503, "  starting \n", "").to_string(), "the server answered 503: starting");
/// let e = api_error(503, r#"{"error":"starting up"}"#, "");
/// assert_eq!((e.code(), e.to_string().as_str()), (Some("starting up"), "the server answered 503: starting up"));
/// assert_eq!(api_error(500, "", "").to_string(), "the server answered 500: no details");
/// ```
pub fn api_error(status: u16, body: &str, status_text: &str) -> Error {
    if let Ok(mut parsed) = serde_json::from_str::<ErrorBody>(body) {
        parsed.message = shorten(parsed.message);
        return Error::Api { status, body: Box::new(parsed) };
    }
    // Only an `error`: it is the message too.
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(serde_json::Value::String(code)) = map.get("error")
    {
        return Error::api(status, code, shorten(code.clone()));
    }
    let text = body.trim();
    let message = if text.is_empty() || text.starts_with('<') {
        Some(status_text.trim()).filter(|t| !t.is_empty()).unwrap_or("no details").to_owned()
    } else {
        shorten(text.to_owned())
    };
    Error::api(status, &format!("http_{status}"), message)
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
        let health: Health = decode(
            r#"{"status":"ok","version":"1.2.3","uptime_s":5,"storage":{"status":"ok","corrupt_blob_count":0,"corrupt_blobs":[]}}"#,
        )
        .expect("decodes");
        assert_eq!((health.status, health.version.as_str()), (HealthStatus::Ok, "1.2.3"));
    }

    #[test]
    fn missing_field_is_a_decode_error() {
        assert!(matches!(decode::<Health>(r#"{"status":"ok"}"#), Err(Error::Decode(_))));
    }

    #[test]
    fn long_messages_are_shortened() {
        let Error::Api { body, .. } = api_error(500, &"x".repeat(1000), "") else { panic!("an API error") };
        assert_eq!(body.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(body.message.ends_with('…'));
        let json = format!(r#"{{"error":"bad_request","message":"{}"}}"#, "y".repeat(500));
        let Error::Api { body, .. } = api_error(400, &json, "") else { panic!("an API error") };
        assert_eq!(body.message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn a_json_body_that_is_not_an_error_body_is_shown_as_text() {
        let e = api_error(500, r#"{"error":42}"#, "");
        assert_eq!(e.to_string(), r#"the server answered 500: {"error":42}"#);
        assert_eq!(e.code(), Some("http_500"));
    }

    #[test]
    fn the_server_s_field_path_and_line_are_kept_and_shown() {
        let e = api_error(400, r#"{"error":"invalid_field","message":"bad","field":"salt"}"#, "");
        assert_eq!(e.to_string(), "the server answered 400: bad (field `salt`)");
        // The server's messages for fields usually start with the field: not said twice.
        let e = api_error(400, r#"{"error":"invalid_field","message":"name: 1 to 200 characters","field":"name"}"#, "");
        assert_eq!(e.to_string(), "the server answered 400: name: 1 to 200 characters");
        let Error::Api { body, .. } = &e else { panic!("an API error") };
        assert_eq!(body.field.as_deref(), Some("name"));
        let e = api_error(400, r#"{"error":"invalid_upload","message":"not a number","line":7}"#, "");
        assert_eq!(e.to_string(), "the server answered 400: not a number (line 7)");
        let e = api_error(400, r#"{"error":"invalid_rule","message":"all[1]: unknown keys","path":"all[1]"}"#, "");
        assert_eq!(e.to_string(), "the server answered 400: all[1]: unknown keys");
    }

    #[test]
    fn errors_read_well() {
        let error = Error::api(503, "overloaded", "starting");
        assert_eq!(error.to_string(), "the server answered 503: starting");
        assert!(Error::api(412, "precondition_failed", "changed").is_conflict());
    }
}

thread_local! {
    /// Manifests already read, by app and address (a published manifest never changes; a new
    /// version of a day has a new address).
    static MANIFESTS: std::cell::RefCell<std::collections::HashMap<(String, String), std::sync::Arc<Manifest>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The manifest of a published day, read once per address and then kept in memory (the
/// Overview reads every retained day's).
pub async fn manifest_of_day(s: &Session, day: &Day) -> Result<std::sync::Arc<Manifest>, Error> {
    let key = (s.app.clone(), day.manifest.clone());
    if let Some(m) = MANIFESTS.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(m);
    }
    let m = std::sync::Arc::new(manifest(s, &day.ds).await?);
    MANIFESTS.with(|c| c.borrow_mut().insert(key, m.clone()));
    Ok(m)
}
