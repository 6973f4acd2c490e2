//! Segments: definitions and their writes, static member uploads, and history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Rule;

/// Whether a segment is a rule or a frozen member list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    /// Defined by a rule, recomputed for every new day.
    Dynamic,
    /// Frozen members (an uploaded list).
    Static,
}

impl SegmentKind {
    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Dynamic => "dynamic",
            SegmentKind::Static => "static",
        }
    }
}

/// Body of `POST …/segments` and `PUT …/segments/{id}`. Unknown fields are ignored, so a client
/// may send back what it read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentInput {
    /// Required by POST; if given to PUT, must equal the path's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._-]{1,64}$"))]
    pub id: Option<String>,
    /// Display name.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub description: Option<String>,
    /// `dynamic` (a rule) or `static` (uploaded members). Optional: a body with a rule is a
    /// dynamic segment, one without a static one; a kind that contradicts the body is a 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SegmentKind>,
    /// Required for dynamic segments, refused for static ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    /// Sync version, monotonic per segment: a lower or equal one is ignored (`applied: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// The uploaded members of a static segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaticMembers {
    /// Content address of the members bitmap blob.
    pub blob: String,
    /// Number of members.
    pub count: u64,
    /// Rows in the uploaded list (duplicates and blank lines included).
    #[serde(default)]
    pub uploaded_rows: u64,
    /// When the list was uploaded, ms since the epoch.
    pub uploaded_ms: u64,
}

/// A live segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Segment {
    /// Segment id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text (may be empty).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub description: String,
    /// `dynamic` or `static`.
    pub kind: SegmentKind,
    /// The rule of a dynamic segment, in canonical form.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub rule: Option<Rule>,
    /// The uploaded members of a static segment, once uploaded.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub members: Option<StaticMembers>,
    /// Highest sync version applied, if any.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub version: Option<u64>,
    /// Bumped by every applied change (the `ETag` is made of it).
    pub revision: u64,
    /// When the segment was created, ms since the epoch.
    pub created_ms: u64,
    /// When it last changed, ms since the epoch.
    pub updated_ms: u64,
}

/// `GET …/segments`: live segments by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentList {
    /// The segments, by id.
    pub segments: Vec<Segment>,
}

/// What a segment write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WriteOutcome {
    /// A new segment (201).
    Created,
    /// Its definition was replaced.
    Updated,
    /// It was deleted (a tombstone was recorded).
    Deleted,
    /// Ignored: the stored version is as high or higher.
    Stale,
}

impl WriteOutcome {
    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            WriteOutcome::Created => "created",
            WriteOutcome::Updated => "updated",
            WriteOutcome::Deleted => "deleted",
            WriteOutcome::Stale => "stale",
        }
    }
}

/// The answer of a segment write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WriteResult {
    /// False when the write was ignored as stale.
    pub applied: bool,
    /// What the write did.
    pub result: WriteOutcome,
    /// The version stored after the write (the higher one, when stale).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub version: Option<u64>,
    /// The segment after the write; null when it is deleted.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub segment: Option<Segment>,
}

/// `POST …/segments/{id}/freeze`: the members of a rule, or of a segment, on a day, frozen into
/// the new static segment `id`. Exactly one of `rule` and `segment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FreezeInput {
    /// Display name of the new segment.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The day whose members are frozen; the latest published day when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds: Option<String>,
    /// Freeze whoever matches this rule…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::Rule>))]
    pub rule: Option<serde_json::Value>,
    /// …or the members of this segment…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// …or the users of a funnel's step (`step`, and `dropped`), computed as `POST …/funnel`
    /// computes them. The day defaults to the funnel's `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funnel: Option<Box<crate::FunnelRequest>>,
    /// With `funnel`: the step, counted from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// With `funnel`: only the step's users who did not reach the next step (who dropped).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
}

/// The answer of a freeze: the write's result, the day frozen and how many members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Frozen {
    /// The new segment, as any segment write answers it (`created`).
    #[serde(flatten)]
    pub write: WriteResult,
    /// The day whose members were frozen.
    pub ds: String,
    /// How many members it has.
    pub members: u64,
}

/// What a static member upload did: every row is counted in exactly one of accepted,
/// duplicate, unknown, malformed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembersReport {
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Rows whose user is now a member.
    pub accepted: u64,
    /// Rows repeating a user already listed.
    pub duplicate: u64,
    /// Rows naming a user the app has never seen.
    pub unknown: u64,
    /// Rows that are not a user id (empty, too long, extra columns).
    pub malformed: u64,
    /// First lines with unknown users.
    pub unknown_lines: Vec<u64>,
    /// First malformed lines.
    pub malformed_lines: Vec<u64>,
    /// Members stored.
    pub members: u64,
    /// The segment's new revision.
    pub revision: u64,
}

/// A metric on one day of a segment's history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricRates {
    /// Share of the segment's members with the tag (null: no members, or no such tag that day).
    #[cfg_attr(feature = "openapi", schema(required = true, minimum = 0, maximum = 1))]
    pub segment: Option<f64>,
    /// Share of all users with the tag (大盘).
    #[cfg_attr(feature = "openapi", schema(required = true, minimum = 0, maximum = 1))]
    pub all: Option<f64>,
}

/// One day of a segment's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryDay {
    /// The day.
    pub ds: String,
    /// Members that day (null: not computed that day yet).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub size: Option<u64>,
    /// Members that day who were not members the previous published day.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub entered: Option<u64>,
    /// Members of the previous published day who are no longer members.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub left: Option<u64>,
    /// Why the segment could not be computed that day (its rule names what the day lacks);
    /// absent when it was computed, or has not been yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Users in the app that day.
    pub universe: u64,
    /// `size`, `entered` or `left` is below the app's `min_audience` and withheld (`null`;
    /// `aggregate` tokens only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// The requested metrics by tag group.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub metrics: BTreeMap<String, MetricRates>,
}

/// Where a backfill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BackfillState {
    /// Days are queued or being recomputed.
    Running,
    /// The last attempt failed; it runs again at `next_attempt_ms`.
    Retrying,
    /// Every day was recomputed.
    Done,
    /// It failed too often and waits for the next change.
    Failed,
}

impl BackfillState {
    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            BackfillState::Running => "running",
            BackfillState::Retrying => "retrying",
            BackfillState::Done => "done",
            BackfillState::Failed => "failed",
        }
    }
}

/// Progress of an app's segment backfill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Backfill {
    /// Where it is.
    pub state: BackfillState,
    /// Days recomputed so far.
    pub done: u32,
    /// Days to recompute.
    pub total: u32,
    /// The last failure, while retrying or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the next attempt runs (ms since the epoch), while retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_ms: Option<u64>,
}

/// `GET …/segments/{id}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct History {
    /// Segment id.
    pub segment: String,
    /// The days, oldest first.
    pub days: Vec<HistoryDay>,
    /// The app's durable segment backfill job, if it ever ran.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub backfill: Option<Backfill>,
}
