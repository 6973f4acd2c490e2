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

use engine::Manifest;

use crate::session::{Session, encode_component};

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

/// One published day of an app.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DayInfo {
    /// The data date, `YYYY-MM-DD`.
    pub ds: String,
    /// Address of the day's manifest.
    pub manifest: String,
    /// Published version of the day.
    pub version: u64,
    /// When it was published, in ms since the epoch.
    pub published_ms: u64,
}

/// `GET …/days`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Days {
    days: Vec<DayInfo>,
}

/// One step of the server's funnel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StepAnswer {
    /// `all[i]`, or `$`.
    pub path: String,
    /// Users left after it.
    pub count: u64,
}

/// `POST …/estimate`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EstimateAnswer {
    /// Users matching the rule.
    pub count: u64,
    /// All users of the day.
    pub universe: u64,
    /// 95% interval (sample tier only).
    #[serde(default)]
    pub ci95: Option<[u64; 2]>,
    /// The funnel.
    #[serde(default)]
    pub steps: Vec<StepAnswer>,
}

/// A saved segment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Segment {
    /// Id (`[A-Za-z0-9._-]{1,64}`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `dynamic` or `static`.
    pub kind: String,
    /// The rule of a dynamic segment.
    #[serde(default)]
    pub rule: Option<serde_json::Value>,
    /// Bumped by every applied change.
    pub revision: u64,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
}

/// `GET …/segments`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct SegmentList {
    segments: Vec<Segment>,
}

/// What a segment write sends.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SegmentInput {
    /// Id (required by create).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `dynamic` or `static`.
    pub kind: String,
    /// The rule (dynamic only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<serde_json::Value>,
}

/// `GET …/users/{id}/tags`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserTags {
    /// The external user id.
    pub user: String,
    /// The day answered.
    pub ds: String,
    /// Tag values by group.
    pub tags: std::collections::BTreeMap<String, Vec<String>>,
    /// Segment ids.
    pub segments: Vec<String>,
}

/// Published days of the signed-in app, oldest first.
pub async fn days(s: &Session) -> Result<Vec<DayInfo>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/days"), None, None).await?;
    Ok(decode::<Days>(&body)?.days)
}

/// The manifest of a day, parsed and checked by the engine.
pub async fn manifest(s: &Session, ds: &str) -> Result<Manifest, Error> {
    let (body, _) = call(s, "GET", &app_path(s, &format!("/days/{ds}/manifest")), None, None).await?;
    Manifest::from_json(body.as_bytes()).map_err(|e| Error::Decode(e.to_string()))
}

/// The answer of the event-days route.
#[derive(Debug, Deserialize)]
struct EventDays {
    retained_days: u32,
    days: Vec<EventDay>,
}

#[derive(Debug, Deserialize)]
struct EventDay {
    ds: String,
    events: Vec<engine::manifest::EventEntry>,
}

/// The event uploads of the retained days up to `ds` (what event conditions read).
pub async fn event_days(s: &Session, ds: &str) -> Result<crate::estimate::EventWindow, Error> {
    let (body, _) = call(s, "GET", &app_path(s, &format!("/days/{ds}/events")), None, None).await?;
    let d = decode::<EventDays>(&body)?;
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
        return Err(Error::Api { status, message: error_message(&body).unwrap_or_else(|| "no details".into()) });
    }
    response.binary().await.map_err(|e| Error::Fetch(e.to_string()))
}

/// The server's count of a rule (`tier`: `exact` or `sample`).
pub async fn estimate(s: &Session, ds: &str, rule: &serde_json::Value, tier: &str) -> Result<EstimateAnswer, Error> {
    let body = serde_json::json!({ "ds": ds, "rule": rule, "tier": tier }).to_string();
    let (body, _) = call(s, "POST", &app_path(s, "/estimate"), Some(body), None).await?;
    decode(&body)
}

/// Live segments.
pub async fn segments(s: &Session) -> Result<Vec<Segment>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/segments"), None, None).await?;
    Ok(decode::<SegmentList>(&body)?.segments)
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

/// Replaces a segment's definition; `if_match` makes a stale write a 412.
pub async fn update_segment(
    s: &Session,
    input: &SegmentInput,
    if_match: Option<&str>,
) -> Result<Option<String>, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    let path = app_path(s, &format!("/segments/{}", encode_component(&input.id)));
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

/// Uploads a static segment's members (CSV with a `user_id` header).
pub async fn put_segment_members(s: &Session, id: &str, csv: String) -> Result<(), Error> {
    let path = app_path(s, &format!("/segments/{}/members", encode_component(id)));
    call_with_type(s, "PUT", &path, Some(csv), None, "text/csv").await.map(|_| ())
}

/// One user's tags and segments on a day.
pub async fn user_tags(s: &Session, user: &str, ds: &str) -> Result<UserTags, Error> {
    let path = app_path(s, &format!("/users/{}/tags?ds={ds}", encode_component(user)));
    let (body, _) = call(s, "GET", &path, None, None).await?;
    decode(&body)
}

/// A metric on one day of a segment's history.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct MetricRates {
    /// Share of the segment's members with the tag (`None`: no members, or no such tag).
    pub segment: Option<f64>,
    /// Share of all users with the tag (大盘).
    pub all: Option<f64>,
}

/// One day of a segment's history.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HistoryDay {
    /// The day.
    pub ds: String,
    /// Members that day (`None`: not computed that day yet).
    pub size: Option<u64>,
    /// Members who were not members the previous published day.
    pub entered: Option<u64>,
    /// Members of the previous published day who are no longer members.
    pub left: Option<u64>,
    /// Users in the app that day.
    pub universe: u64,
    /// The requested metrics by tag group.
    #[serde(default)]
    pub metrics: std::collections::BTreeMap<String, MetricRates>,
}

/// Progress of the app's segment backfill.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Backfill {
    /// `running`, `done` or `failed`.
    pub state: String,
    /// Days recomputed so far.
    pub done: u32,
    /// Days to recompute.
    pub total: u32,
    /// The failure, if it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET …/segments/{id}/history`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct History {
    /// Segment id.
    pub segment: String,
    /// The days, oldest first.
    pub days: Vec<HistoryDay>,
    /// The app's backfill, if one ran since the server started.
    #[serde(default)]
    pub backfill: Option<Backfill>,
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

/// A frozen group of an experiment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExperimentGroup {
    /// Name.
    pub name: String,
    /// Planned percentage of the segment.
    pub percent: f64,
    /// Members.
    pub count: u64,
}

/// An experiment (A/B split) as stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Experiment {
    /// Id.
    pub id: String,
    /// The segment split.
    pub segment: String,
    /// The day of the members.
    pub ds: String,
    /// The salt of the hashes.
    pub salt: String,
    /// Members of the segment that day.
    pub audience: u64,
    /// The groups, frozen.
    pub groups: Vec<ExperimentGroup>,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
}

/// One row of a balance check's tag mix.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MixRow {
    /// Tag group.
    pub tag: String,
    /// Value.
    pub value: String,
    /// Share of each experiment group holding it, in group order.
    pub shares: Vec<f64>,
    /// Largest minus smallest share.
    pub spread: f64,
}

/// The server's balance check of an experiment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Balance {
    /// Chi-square statistic of the sizes against the plan.
    pub chi_square: f64,
    /// Its p-value.
    pub p_value: f64,
    /// Whether the p-value flags a sample-ratio mismatch.
    pub srm: bool,
    /// Planned share of each group among the assigned users.
    pub planned: Vec<f64>,
    /// Observed share of each group among the assigned users.
    pub observed: Vec<f64>,
    /// Tag mix per group, largest differences first.
    pub mix: Vec<MixRow>,
}

/// `GET …/experiments/{id}`: the experiment with its balance check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExperimentView {
    /// The experiment.
    #[serde(flatten)]
    pub experiment: Experiment,
    /// The balance check on the experiment's day.
    pub balance: Balance,
}

/// `GET …/experiments`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct ExperimentList {
    experiments: Vec<Experiment>,
}

/// What creating an experiment sends.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewExperiment {
    /// Experiment id.
    pub id: String,
    /// The segment to split.
    pub segment: String,
    /// The day of the members.
    pub ds: String,
    /// The salt.
    pub salt: String,
    /// Groups with their percentages.
    pub groups: Vec<engine::split::Group>,
}

/// One group's outcome.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GroupOutcome {
    /// Group.
    pub name: String,
    /// Members.
    pub members: u64,
    /// Members with the metric that day.
    pub with_metric: u64,
    /// The rate with its 95% interval.
    pub rate: engine::stats::Rate,
    /// Difference from the first group with its 95% interval (none for the first group).
    #[serde(default)]
    pub difference: Option<engine::stats::Rate>,
}

/// `GET …/experiments/{id}/outcome`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Outcome {
    /// Experiment id.
    pub experiment: String,
    /// Metric tag group.
    pub metric: String,
    /// The day read.
    pub ds: String,
    /// Whether the day is after the split's day.
    pub after_split: bool,
    /// Per group, in the experiment's order.
    pub groups: Vec<GroupOutcome>,
}

/// The app's experiments.
pub async fn experiments(s: &Session) -> Result<Vec<Experiment>, Error> {
    let (body, _) = call(s, "GET", &app_path(s, "/experiments"), None, None).await?;
    Ok(decode::<ExperimentList>(&body)?.experiments)
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
        let message = error_message(&text)
            .or_else(|| Some(response.status_text()).filter(|t| !t.is_empty()))
            .unwrap_or_else(|| "no details".to_owned());
        return Err(Error::Api { status, message });
    }
    Ok((text, etag))
}

impl Error {
    /// Whether the server refused a write because the resource changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Api { status: 412, .. })
    }

    /// Whether the token was refused (signed out, or a token for another app).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Api { status: 401, .. })
    }
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
