//! The OpenAPI operation of every route, in the route table's order: summary, parameters, body
//! and answers, with the body and answer types taken from crate `wire` (see [`super::openapi`]).
//! A route in [`super::table`] names its operation here, so adding a route means writing its
//! operation too.

use engine::manifest::EventEntry;
use serde_json::json;
use wire::{
    App, AppPatch, AuditPage, Day, DayList, Estimate, EstimateRequest, EventDays, ExperimentList, ExperimentView,
    FreezeInput, Frozen, Funnel, FunnelRequest, Health, History, IngestResult, Job, LookupCounts, MembersReport,
    NewExperiment, NewToken, Outcome, Overlap, OverlapRequest, Pivot, PivotRequest, Rotate, Segment, SegmentInput,
    SegmentList, TokenCreated, TokenList, UserTags, WriteResult,
};

use super::openapi::Op;
use wire::{
    Composite, CompositeInput, CompositeList, DayVersions, GroupChange, GroupList, GroupPatch, HeldUpload, Hold,
    HoldList, RestoreRequest,
};

/// Errors of a read of an app's data (a viewer may read).
const READ: [u16; 5] = [400, 401, 403, 404, 503];
/// Errors of a read any app token may do (no 403).
const READ_ANY: [u16; 4] = [400, 401, 404, 503];
/// Errors of an upload.
const UPLOAD: [u16; 9] = [400, 401, 403, 404, 408, 413, 429, 503, 507];
/// Errors of a segment write (conditional and idempotent).
const SEGMENT_WRITE: [u16; 10] = [400, 401, 403, 404, 409, 412, 413, 422, 503, 507];

fn experiment_id() -> serde_json::Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}})
}

fn day_query(description: &str) -> serde_json::Value {
    json!({"name": "ds", "in": "query", "schema": {"type": "string", "format": "date"}, "description": description})
}

/// A list of users as CSV, or (`u32` apps) as one bitmap.
fn members_answer(description: &str) -> serde_json::Value {
    json!({"description": description, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    }})
}

/// The `format` of a member export.
fn export_format() -> serde_json::Value {
    json!({"name": "format", "in": "query", "required": false,
        "schema": {"type": "string", "enum": ["csv", "clickhouse", "roaring"], "default": "csv"},
        "description": "csv: header user_id, one id a line. For apps of u32 ids only: clickhouse, the raw bytes of an AggregateFunction(groupBitmap, UInt32) state; roaring, the roaring portable format."})
}

/// The `format` of an upload.
fn upload_format(rows: &str, bitmap_header: &str) -> serde_json::Value {
    json!({"name": "format", "in": "query", "required": false,
        "schema": {"type": "string", "enum": ["csv", "bitmaps", "parquet"], "default": "csv"},
        "description": format!("csv: one row per user. parquet: the same rows as a Parquet file, columns user_id (string or integer) and {rows} (any row-group size; errors name the row). bitmaps (apps of u32 ids): header {bitmap_header}, one row per value with the base64 of its users' bitmap, a ClickHouse groupBitmap state or roaring portable bytes, told apart per row; 64-bit bitmaps are refused.")})
}

/// `GET /v1/health`.
pub fn health() -> Op {
    Op::new("health", "meta", "Liveness and version").public().answer::<Health>(200, "Up")
}

/// `GET /v1/openapi.json`.
pub fn openapi() -> Op {
    Op::new("openapi", "meta", "This document")
        .describe("Public like /health: the document is the same for everyone and names no tenant data; tools fetch it before they have a token.")
        .public()
        .answer_raw(200, json!({"description": "The OpenAPI 3.1 document", "content": {"application/json": {"schema": {"type": "object"}}}}))
}

/// `POST /v1/apps`.
pub fn create_app() -> Op {
    Op::new("createApp", "apps", "Create an app (admin token)")
        .body::<App>()
        .answer::<App>(201, "Created")
        .errors(&[400, 401, 403, 409, 413, 503, 507])
}

/// `GET /v1/apps/{app}`.
pub fn get_app() -> Op {
    Op::new("getApp", "apps", "The app: its name and what its user ids are (admin token or any token of the app)")
        .params(&["app"])
        .answer::<App>(200, "The app")
        .errors(&[400, 401, 404, 503])
}

/// `PATCH /v1/apps/{app}`.
pub fn patch_app() -> Op {
    Op::new("patchApp", "apps", "Change the app's privacy settings (app admins)")
        .describe("min_audience (0 turns it off), epsilon and daily_budget; absent fields stay. Audited.")
        .params(&["app"])
        .body::<AppPatch>()
        .answer::<App>(200, "The app with its settings")
        .errors(&[400, 401, 403, 404, 413, 503, 507])
}

fn token_id() -> serde_json::Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The token's id (`tk_…`)"})
}

/// `GET /v1/apps/{app}/tokens`.
pub fn list_tokens() -> Op {
    Op::new("listTokens", "apps", "The app's live tokens, never their secrets (app admins)")
        .params(&["app"])
        .answer::<TokenList>(200, "The tokens, oldest first")
        .errors(&READ)
}

/// `POST /v1/apps/{app}/tokens`.
pub fn create_token() -> Op {
    Op::new("createToken", "apps", "Create a token scoped to the app (app admins)")
        .describe("The answer carries the token's `id` and its secret, shown this once. Audited.")
        .params(&["app"])
        .body::<NewToken>()
        .answer::<TokenCreated>(201, "Created; the secret is shown this once")
        .errors(&[400, 401, 403, 404, 413, 503, 507])
}

/// `POST /v1/apps/{app}/tokens/{id}/rotate`.
pub fn rotate_token() -> Op {
    Op::new("rotateToken", "apps", "Give a token a new secret; the old one works for a grace period (app admins)")
        .params(&["app"])
        .param(token_id())
        .body::<Rotate>()
        .answer::<TokenCreated>(200, "The new secret, shown this once")
        .errors(&[400, 401, 403, 404, 413, 503, 507])
}

/// `DELETE /v1/apps/{app}/tokens/{id}`.
pub fn revoke_token() -> Op {
    Op::new("revokeToken", "apps", "Revoke a token: refused from the next request on, on every replica (app admins)")
        .params(&["app"])
        .param(token_id())
        .answer_raw(204, json!({"description": "Revoked"}))
        .errors(&[400, 401, 403, 404, 503, 507])
}

/// `GET /v1/apps/{app}/audit`.
pub fn audit_log() -> Op {
    Op::new("auditLog", "apps", "The audit log: exports, syncs, splits, freezes, deletions, token and settings changes (app admins)")
        .params(&["app"])
        .param(json!({"name": "after", "in": "query", "schema": {"type": "string"}, "description": "An entry id: the page starts after it"}))
        .param(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}))
        .param(json!({"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}, "description": "csv: the whole log from `after` on"}))
        .answer::<AuditPage>(200, "A page of the log, oldest first (or text/csv)")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/audit/lookups`.
pub fn audit_lookups() -> Op {
    Op::new("auditLookups", "apps", "Membership lookups per day and token: counted, not logged one by one (app admins)")
        .params(&["app"])
        .answer::<LookupCounts>(200, "The counts, by day then token")
        .errors(&READ)
}

/// `PUT /v1/apps/{app}/days/{ds}/tags/{group}`.
pub fn put_tag() -> Op {
    Op::new("putTag", "data", "Upload one tag group for a day (vertical table CSV) and publish it")
        .params(&["app", "ds", "group"])
        .param(json!({"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["categorical", "boolean", "numeric"], "default": "categorical"}}))
        .param(json!({"name": "category", "in": "query", "schema": {"type": "string"}, "description": "Category path, e.g. demographics/location"}))
        .param(json!({"name": "scale", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 6}, "description": "Decimal places kept (numeric groups; default 0)"}))
        .param(upload_format("value", "`value,bitmap` (`number,bitmap` for numeric groups)"))
        .text_body("text/csv", "Header `user_id,value`; one row per user and value (or see `format`). Editor token.")
        .answer::<IngestResult>(200, "Published (with its quality checks against the group's previous version)")
        .answer::<HeldUpload>(202, "A check failed and the group's quality policy is `hold`: nothing was published; approve or reject it under …/holds")
        .errors(&UPLOAD)
}

/// `PUT /v1/apps/{app}/days/{ds}/events/{event}`.
pub fn put_event() -> Op {
    Op::new("putEvent", "data", "Upload one event's per-user counts for a day (CSV) and publish it")
        .params(&["app", "ds", "event"])
        .param(upload_format("count", "`count,bitmap`"))
        .text_body("text/csv", "Header `user_id,count` (or see `format`). Editor token.")
        .answer::<IngestResult>(200, "Published")
        .errors(&UPLOAD)
}

/// `GET /v1/apps/{app}/days`.
pub fn list_days() -> Op {
    Op::new("listDays", "data", "Published days")
        .params(&["app"])
        .answer::<DayList>(200, "Days, oldest first")
        .errors(&READ)
}

/// `DELETE /v1/apps/{app}/days/{ds}`.
pub fn delete_day() -> Op {
    Op::new("deleteDay", "data", "Delete a published day that should not exist (editors)")
        .describe("Removes the day's pointer in one transaction: `/days`, manifests, estimates and exports no longer see it, and the latest day moves back if it was the latest. Later days keep their versions (tag groups they carried from it included); their segments are recomputed by the durable segments job, the latest before the answer. Uploading the day again publishes it anew from version 1.")
        .params(&["app", "ds"])
        .answer::<Day>(200, "The version that was removed")
        .errors(&[400, 401, 403, 404, 503, 507])
}

/// `GET /v1/apps/{app}/days/{ds}/manifest`.
pub fn get_manifest() -> Op {
    Op::new("getManifest", "data", "A day's published manifest")
        .params(&["app", "ds"])
        .answer_raw(
            200,
            json!({
                "description": "The manifest (engine format)",
                "content": {"application/json": {"schema": {"type": "object"}}},
                "headers": {"ETag": {"$ref": "#/components/headers/ETag"}}
            }),
        )
        .answer_raw(304, json!({"description": "Not modified (If-None-Match)"}))
        .errors(&READ)
}

/// `GET /v1/apps/{app}/days/{ds}/events`.
pub fn get_event_days() -> Op {
    Op::new("getEventDays", "data", "Event uploads of the published days of a window ending with ds (what event conditions read)")
        .params(&["app", "ds"])
        .param(json!({"name": "last_days", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 90}, "description": "Window length in days (default: the retained days, at most 90)"}))
        .answer::<EventDays<EventEntry>>(200, "Days oldest first; days never published are absent")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/blobs/{hash}`.
pub fn get_blob() -> Op {
    Op::new("getBlob", "data", "An immutable, content-addressed blob (bitmap) named by a manifest")
        .params(&["app"])
        .param(json!({"name": "hash", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}))
        .answer_raw(
            200,
            json!({
                "description": "The blob",
                "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}},
                "headers": {"ETag": {"$ref": "#/components/headers/ETag"}}
            }),
        )
        .answer_raw(206, json!({"description": "A byte range (Range: bytes=…)"}))
        .answer_raw(304, json!({"description": "Not modified"}))
        .answer_raw(416, json!({"description": "Range not satisfiable"}))
        .errors(&READ)
}

/// `POST /v1/apps/{app}/estimate`.
pub fn estimate() -> Op {
    Op::new("estimate", "data", "Size of a rule on a day, with the per-condition funnel")
        .params(&["app"])
        .body::<EstimateRequest>()
        .answer::<Estimate>(200, "The estimate")
        .errors(&[400, 401, 403, 404, 413, 503])
}

/// `POST /v1/apps/{app}/funnel`.
pub fn funnel() -> Op {
    Op::new("funnel", "analysis", "Ordered event funnel over the days from `from` to `to`")
        .describe("Day-granular: a user enters step 1 on the earliest day in [from, to] with the event (count ≥ 1) and, with `audience`, in the audience that day; reaches step k on the earliest day on or after the day of step k−1 (strictly after when the two steps are the same event) with the event, no more than `within_days` days after their step-1 day and no later than `to`. Per step: users, conversion from the previous step and from step 1, the median days from the previous step; with `by`, the same per value of that tag group (its values on the latest published day of the range). At most 8 steps; `from` to `to` and `within_days` at most the retained days. Aggregate tokens get noisy counts (withheld below the app's minimum audience), charged to their daily budget.")
        .params(&["app"])
        .body::<FunnelRequest>()
        .answer::<Funnel>(200, "The funnel")
        .errors(&[400, 401, 403, 404, 413, 429, 503])
}

/// `POST /v1/apps/{app}/overlap`.
pub fn overlap() -> Op {
    Op::new("overlap", "analysis", "Sizes of every region of up to 5 segments or rules")
        .describe("Region `in: [a, b]` counts the users in a and b and in none of the other sets; all 2^n − 1 regions are listed, in the order of their bit masks. A set is a segment id (its members on the day) or a rule (named `segments[i]`). Aggregate tokens get noisy counts, charged to their daily budget.")
        .params(&["app"])
        .body::<OverlapRequest>()
        .answer::<Overlap>(200, "The regions")
        .errors(&[400, 401, 403, 404, 413, 429, 503])
}

/// `POST /v1/apps/{app}/pivot`.
pub fn pivot() -> Op {
    Op::new("pivot", "analysis", "Cross-tab of two tag groups, optionally within an audience")
        .describe("Counts `[row][column]` of the users (of the audience) holding both values, each cell's share of its row and of its column, and TGI: 100 × (cell / audience) / (cell among all users / all users). Groups of at most 200 values. Aggregate tokens get noisy counts (shares and TGI from them), charged to their daily budget.")
        .params(&["app"])
        .body::<PivotRequest>()
        .answer::<Pivot>(200, "The cross-tab")
        .errors(&[400, 401, 403, 404, 413, 429, 503])
}

/// `GET /v1/apps/{app}/segments`.
pub fn list_segments() -> Op {
    Op::new("listSegments", "segments", "Live segments (tombstones left out)")
        .params(&["app"])
        .answer::<SegmentList>(200, "Segments by id")
        .errors(&READ_ANY)
}

/// `POST /v1/apps/{app}/segments`.
pub fn create_segment() -> Op {
    Op::new("createSegment", "segments", "Create a segment (or sync one with a version)")
        .describe("409 when the segment exists and no version is given; 409 `idempotency_in_progress` while a request with the same key runs.")
        .params(&["app", "IfMatch", "IdempotencyKey"])
        .body::<SegmentInput>()
        .answer_with_etag::<WriteResult>(201, "Created")
        .answer_with_etag::<WriteResult>(200, "Applied as an update (higher version), or ignored as stale (`applied: false`)")
        .errors(&SEGMENT_WRITE)
}

/// `GET /v1/apps/{app}/segments/{id}`.
pub fn get_segment() -> Op {
    Op::new("getSegment", "segments", "A live segment")
        .params(&["app", "segment"])
        .answer_with_etag::<Segment>(200, "The segment")
        .errors(&READ_ANY)
}

/// `PUT /v1/apps/{app}/segments/{id}`.
pub fn update_segment() -> Op {
    Op::new("updateSegment", "segments", "Replace a segment's definition")
        .params(&["app", "segment", "IfMatch", "IdempotencyKey"])
        .body::<SegmentInput>()
        .answer_with_etag::<WriteResult>(200, "Updated, or ignored as stale (`applied: false`)")
        .answer_with_etag::<WriteResult>(201, "Created (a versioned update of a segment not seen yet)")
        .errors(&SEGMENT_WRITE)
}

/// `DELETE /v1/apps/{app}/segments/{id}`.
pub fn delete_segment() -> Op {
    Op::new("deleteSegment", "segments", "Delete a segment, leaving a tombstone (kept 30 days)")
        .params(&["app", "segment"])
        .param(json!({"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "Sync version of the delete"}))
        .params(&["IfMatch", "IdempotencyKey"])
        .answer::<WriteResult>(200, "Deleted (or tombstone recorded), or ignored as stale")
        .errors(&[400, 401, 403, 404, 409, 412, 422, 503, 507])
}

/// `PUT /v1/apps/{app}/segments/{id}/members`.
pub fn put_segment_members() -> Op {
    Op::new("putSegmentMembers", "segments", "Upload a static segment's members (CSV of user_id)")
        .params(&["app", "segment"])
        .text_body("text/csv", "Header `user_id`; one user id per line (RFC 4180 quoting). Editor token.")
        .describe("409 when the segment is dynamic (only static segments take a member list); nothing is written then.")
        .answer::<MembersReport>(200, "Stored")
        .errors(&[400, 401, 403, 404, 408, 409, 413, 429, 503, 507])
}

/// `GET /v1/apps/{app}/segments/{id}/members`.
pub fn get_segment_members() -> Op {
    Op::new("getSegmentMembers", "segments", "A segment's members on a day (CSV of user_id, or one bitmap)")
        .describe(
            "CSV is streamed in dense-id order (the order of the members bitmap), so the i-th row is the i-th member.",
        )
        .params(&["app", "segment"])
        .param(day_query("The day; the latest when absent"))
        .param(export_format())
        .answer_raw(200, members_answer("Members"))
        .errors(&READ)
}

/// `GET /v1/apps/{app}/segments/{id}/history`.
pub fn segment_history() -> Op {
    Op::new("segmentHistory", "segments", "A segment day by day: size, entered, left, metric rates vs all users")
        .describe("Days where the segment was not computed have size null: the backfill job has not reached them (see `backfill`), or the rule cannot be computed there (see the day's `error`); entered/left compare with the previous published day (null on the first day of the range when that day is unknown or the segment was not computed). Metrics are tag groups with a `true` value: the share inside the segment next to the share across all users.")
        .params(&["app", "segment"])
        .param(json!({"name": "from", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "description": "first day (inclusive)"}))
        .param(json!({"name": "to", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "description": "last day (inclusive)"}))
        .param(json!({"name": "metrics", "in": "query", "required": false, "schema": {"type": "string"}, "description": "comma-separated tag groups (at most 16), e.g. active_1d,paid_1d"}))
        .answer::<History>(200, "the history")
        .errors(&READ)
}

/// `POST /v1/apps/{app}/segments/{id}/freeze`.
pub fn freeze_segment() -> Op {
    Op::new("freezeSegment", "segments", "Freeze a rule's, a segment's or a funnel step's members into a new static segment")
        .describe("One step: the segment is created with its members, or not at all (nothing temporary is left when a step fails). The source is exactly one of `rule` (its members on the day), `segment` (its members on the day) and `funnel` with `step` (from 0) and `dropped`: the users who reached the step (with `dropped`, who reached it but not the next), computed as `POST …/funnel` computes them; the day defaults to the funnel's `to`. Fewer members than the app's `min_audience` are refused. 409 when the id is taken or the source segment has no members that day. Editors only.")
        .params(&["app", "segment"])
        .body::<FreezeInput>()
        .answer::<Frozen>(201, "The new static segment, with its members")
        .errors(&[400, 401, 403, 404, 409, 413, 503, 507])
}

/// `GET /v1/apps/{app}/jobs`.
pub fn list_jobs() -> Op {
    Op::new("listJobs", "jobs", "The app's durable background jobs (segment backfills and recomputes)")
        .describe("A job is stored with the change that caused it, resumed after a restart, retried with exponential backoff on failure, and `failed` after 8 attempts until the next change re-arms it.")
        .params(&["app"])
        .answer::<Vec<Job>>(200, "The jobs that ever ran in the app")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/jobs/{kind}`.
pub fn get_job() -> Op {
    Op::new("getJob", "jobs", "One background job of the app")
        .params(&["app"])
        .param(json!({"name": "kind", "in": "path", "required": true, "schema": {"type": "string", "enum": ["segments"]}, "description": "the job kind"}))
        .answer::<Job>(200, "The job")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/experiments`.
pub fn list_experiments() -> Op {
    Op::new("listExperiments", "segments", "List experiments")
        .params(&["app"])
        .answer::<ExperimentList>(200, "The app's experiments")
        .errors(&READ_ANY)
}

/// `POST /v1/apps/{app}/experiments`.
pub fn create_experiment() -> Op {
    Op::new(
        "createExperiment",
        "segments",
        "Split a segment's members on a day into frozen groups (salted hash of external ids)",
    )
    .describe("409 when the id is taken (experiments are frozen) or the segment has no members on the day.")
    .params(&["app"])
    .body::<NewExperiment>()
    .answer::<ExperimentView>(201, "The experiment, frozen, with its balance check")
    .errors(&[400, 401, 403, 404, 409, 413, 503, 507])
}

/// `GET /v1/apps/{app}/experiments/{id}`.
pub fn get_experiment() -> Op {
    Op::new("getExperiment", "segments", "An experiment with its balance check (SRM p-value, tag mix)")
        .params(&["app"])
        .param(experiment_id())
        .answer::<ExperimentView>(200, "An experiment with its balance check (SRM p-value, tag mix)")
        .errors(&READ_ANY)
}

/// `GET /v1/apps/{app}/experiments/{id}/outcome`.
pub fn experiment_outcome() -> Op {
    Op::new("experimentOutcome", "segments", "A metric's rate per group with 95% intervals, and differences from the first group")
        .params(&["app"])
        .param(experiment_id())
        .param(json!({"name": "metric", "in": "query", "required": true, "schema": {"type": "string"}, "description": "A tag group with a `true` value"}))
        .param(day_query("The day to read; the latest when absent"))
        .answer::<Outcome>(200, "A metric's rate per group with 95% intervals, and differences from the first group")
        .errors(&READ_ANY)
}

/// `GET /v1/apps/{app}/experiments/{id}/groups/{group}/members`.
pub fn experiment_group_members() -> Op {
    Op::new("experimentGroupMembers", "segments", "A group's members as CSV (header user_id), or one bitmap")
        .params(&["app"])
        .param(experiment_id())
        .param(json!({"name": "group", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}))
        .param(export_format())
        .answer_raw(200, members_answer("Members"))
        .errors(&READ_ANY)
}

/// `GET /v1/apps/{app}/users/{user_id}/tags`.
pub fn user_tags() -> Op {
    Op::new("userTags", "membership", "One user's tags and segments on a day")
        .params(&["app"])
        .param(json!({"name": "user_id", "in": "path", "required": true, "description": "External user id, any UTF-8 up to 256 bytes, percent-encoded", "schema": {"type": "string", "minLength": 1}}))
        .param(day_query("The day; the latest when absent"))
        .answer::<UserTags>(200, "Tags and segments")
        .errors(&READ)
}

fn hold_id() -> serde_json::Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The hold's id (`h…`)"})
}

/// `GET /v1/apps/{app}/groups`.
pub fn list_groups() -> Op {
    Op::new("listGroups", "governance", "The catalog: every tag group with its metadata, status, quality and usage")
        .describe("Groups of the latest published day and those only in the catalog. Display name, description, owner, category (the catalog's, else the latest upload's), kind, status, cadence, quality policy, latest loaded day, staleness, the failed checks of its latest load, held uploads, and usage: live segments, composite tags and experiments referencing it and each value, and estimates naming it in the last 30 UTC days.")
        .params(&["app"])
        .answer::<GroupList>(200, "The catalog")
        .errors(&READ)
}

/// `PATCH /v1/apps/{app}/groups/{group}`.
pub fn patch_group() -> Op {
    Op::new("patchGroup", "governance", "Change a tag group's catalog metadata (editors)")
        .describe("display_name, description, owner, category, status, cadence, quality; absent fields stay. Metadata only: no blob, manifest or day version changes, and every day reads it at once. `status: offline` takes the group out of carry-forward from the day after the latest day (and out of the app's builder and profile); the answer lists the segments (directly or through others), composite tags and experiments affected. `dry_run: true` answers the same and changes nothing.")
        .params(&["app", "group"])
        .body::<GroupPatch>()
        .answer::<GroupChange>(200, "The group after the change, and who is affected")
        .errors(&[400, 401, 403, 404, 413, 503, 507])
}

/// `GET /v1/apps/{app}/holds`.
pub fn list_holds() -> Op {
    Op::new("listHolds", "governance", "Uploads held by their quality checks")
        .params(&["app"])
        .param(json!({"name": "all", "in": "query", "schema": {"type": "boolean", "default": false}, "description": "Decided holds too"}))
        .answer::<HoldList>(200, "Holds, oldest first")
        .errors(&READ)
}

/// `POST /v1/apps/{app}/holds/{id}/approve`.
pub fn approve_hold() -> Op {
    Op::new("approveHold", "governance", "Publish a held upload as if uploaded now (editors)")
        .describe("Stages the held bytes again (new users get ids now; checks run against what is published now and are recorded, verdict `approved`) and publishes them in one transaction with the hold's decision.")
        .params(&["app"])
        .param(hold_id())
        .answer::<IngestResult>(200, "Published")
        .errors(&[400, 401, 403, 404, 409, 503, 507])
}

/// `POST /v1/apps/{app}/holds/{id}/reject`.
pub fn reject_hold() -> Op {
    Op::new("rejectHold", "governance", "Discard a held upload (editors)")
        .params(&["app"])
        .param(hold_id())
        .answer::<Hold>(200, "The hold, rejected")
        .errors(&[400, 401, 403, 404, 409, 503, 507])
}

/// `GET /v1/apps/{app}/days/{ds}/versions`.
pub fn day_versions() -> Op {
    Op::new(
        "dayVersions",
        "governance",
        "Every version of a day: what changed, by whom, holders before and after, the quality verdict",
    )
    .describe("Newest first. The newest 20 versions are restorable (their manifests and blobs are kept).")
    .params(&["app", "ds"])
    .answer::<DayVersions>(200, "The versions")
    .errors(&READ)
}

/// `POST /v1/apps/{app}/days/{ds}/groups/{group}/restore`.
pub fn restore_group() -> Op {
    Op::new("restoreGroup", "governance", "Publish a tag group again as it was in an earlier version of the day (editors)")
        .describe("A new version of the day (nothing is rewritten); later days that carried the group from this day or earlier follow, as with a backfill upload.")
        .params(&["app", "ds", "group"])
        .body::<RestoreRequest>()
        .answer::<IngestResult>(200, "Published")
        .errors(&[400, 401, 403, 404, 409, 413, 503, 507])
}

/// `GET /v1/apps/{app}/composites`.
pub fn list_composites() -> Op {
    Op::new("listComposites", "governance", "Composite tags: tag groups whose values are rules")
        .params(&["app"])
        .answer::<CompositeList>(200, "Every composite tag, by group")
        .errors(&READ)
}

/// `PUT /v1/apps/{app}/composites/{group}`.
pub fn put_composite() -> Op {
    Op::new("putComposite", "governance", "Define a composite tag (editors)")
        .describe("`values` maps each value to its rule, in order; with `multi: false` (the default) a user gets the first value whose rule matches. The group is materialised on every published day like a dynamic segment: the latest day before the answer, the others by the app's durable segments job (queued in the same transaction). It is then a tag like any other: in rules, the builder, the profile, the membership API and the catalog. A rule naming what the latest day lacks is a 400 with its path (`values.<value>.…`); a definition that would make a composite or a segment depend on itself is a 400 with `cycle` (composites as `tag:<group>`) and `path`; a name already used by an uploaded group is a 409.")
        .params(&["app", "group"])
        .body::<CompositeInput>()
        .answer::<Composite>(200, "The definition stored")
        .errors(&[400, 401, 403, 404, 409, 413, 503, 507])
}

/// `DELETE /v1/apps/{app}/composites/{group}`.
pub fn delete_composite() -> Op {
    Op::new("deleteComposite", "governance", "Delete a composite tag (editors)")
        .describe("Its group leaves each day when the day is next computed (the latest before the answer, the others by the durable job). The name stays reserved for composites.")
        .params(&["app", "group"])
        .answer::<Composite>(200, "The definition deleted")
        .errors(&[400, 401, 403, 404, 503, 507])
}
