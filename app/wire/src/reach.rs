//! Reach (issue 17): destinations a segment is sent to, syncs that keep a destination up to
//! date with a segment day by day, and the log of every delivery batch.
//!
//! A webhook receives JSON [`WebhookBody`]s signed in the `X-Sieve-Signature` header; a files
//! destination receives one CSV file per delivery. The server stores these records and
//! answers them as they are here, except that a destination's secret is never answered.

use serde::{Deserialize, Serialize};

/// What kind of place a destination is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// HTTP(S) POSTs of JSON batches, signed with the destination's secret.
    Webhook,
    /// One file per delivery in a `file://` directory or an `s3://` bucket.
    Files,
}

/// The format of a files destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// `user_id,change` rows (`change` is `added` or `removed`), with that header.
    #[default]
    Csv,
    /// The same two columns as Parquet (strings).
    Parquet,
}

/// `POST …/destinations`: a new destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DestinationInput {
    /// The destination's id (letters, digits, `.`, `_`, `-`).
    pub id: String,
    /// `webhook` or `files`.
    pub kind: DestinationKind,
    /// `http(s)://…` for a webhook; `file:///absolute/dir` or `s3://bucket[/prefix]` (the
    /// server's object storage settings) for files.
    pub url: String,
    /// A webhook's signing secret (16 to 256 bytes); never answered after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Ids per webhook request (1 to 100,000; default 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// A files destination's format (default `csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
}

/// `PATCH …/destinations/{id}`: the fields to change (absent: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DestinationPatch {
    /// A new URL (checked as at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A new signing secret (webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A new batch size (webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// A new format (files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
}

/// A destination as answered (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Destination {
    /// Its id.
    pub id: String,
    /// `webhook` or `files`.
    pub kind: DestinationKind,
    /// Where deliveries go.
    pub url: String,
    /// Ids per webhook request (webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// The file format (files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// Whether a signing secret is set (the secret itself is never answered).
    pub has_secret: bool,
    /// When it was created (ms since the epoch).
    pub created_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
}

/// `GET …/destinations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DestinationList {
    /// Every destination of the app, by id.
    pub destinations: Vec<Destination>,
}

/// `POST …/segments/{id}/syncs`: start sending a segment to a destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    /// The destination's id.
    pub destination: String,
    /// The sync's id (default `<segment>.<destination>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The prefix of the static segments of reached users, `<prefix>.<sync>.<ds>` (default
    /// `reached`; ids cannot hold `:`, so the issue's `reached:<sync>:<ds>` is the segment's
    /// name and this its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached_prefix: Option<String>,
    /// `keep` (default): the full list, then every new day's change; `once`: the full list of
    /// the latest day and nothing after (a re-send sends it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SyncMode>,
}

/// Whether a sync follows its audience day by day or sends it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// The full member list first, then after every publish of a new day who entered and left.
    #[default]
    Keep,
    /// The full member list of the latest day, then `done`.
    Once,
}

/// Where a sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Delivering, or waiting for the next published day.
    Active,
    /// Paused by an editor: nothing is sent until resumed (days published meanwhile are sent
    /// in order after).
    Paused,
    /// A batch failed every attempt; resume retries it, resend starts over in full.
    Failed,
    /// A `once` sync whose delivery completed: nothing more is sent unless it is re-sent.
    Done,
}

/// Whether a delivery is the whole member list or the change since the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// Every member of the day (in `added`); the receiver replaces what it had.
    Full,
    /// Who entered (`added`) and left (`removed`) since the last delivered day.
    Delta,
}

/// The delivery a sync is working on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrentDelivery {
    /// The delivery's number within the sync (from 1).
    pub seq: u64,
    /// The day delivered.
    pub ds: String,
    /// Full or delta.
    pub kind: DeliveryKind,
    /// Users added.
    pub added: u64,
    /// Users removed.
    pub removed: u64,
    /// Batches in all.
    pub batches: u32,
    /// Batches acknowledged.
    pub batches_done: u32,
    /// Failed attempts of the batch being sent.
    pub attempts: u32,
    /// When the next attempt is due (ms since the epoch).
    pub next_attempt_ms: u64,
    /// The last failure of the batch being sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A sync as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentSync {
    /// Its id.
    pub id: String,
    /// The audience sent: a segment's id, or `<experiment>/<group>` for an experiment group
    /// (`/` is in no id, so the two never collide); webhook bodies carry the same string.
    pub segment: String,
    /// The experiment, when the audience is one of its frozen groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// That experiment's group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `keep` or `once`.
    #[serde(default)]
    pub mode: SyncMode,
    /// The destination it goes to.
    pub destination: String,
    /// Active, paused or failed.
    pub state: SyncState,
    /// The prefix of its reached-users segments.
    pub reached_prefix: String,
    /// The last day delivered completely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_ds: Option<String>,
    /// The members the destination holds after that delivery.
    pub delivered_members: u64,
    /// The delivery under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<CurrentDelivery>,
    /// Why it stopped `failed` before a delivery could start (its segment has no members on
    /// the day, its destination was deleted); a batch's failure is in `current`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// When it was started (ms since the epoch).
    pub created_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
}

/// `GET …/segments/{id}/syncs`, `GET …/experiments/{id}/groups/{group}/syncs`, `GET …/syncs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncList {
    /// The syncs of the segment, the group or the app, by id.
    pub syncs: Vec<SegmentSync>,
}

/// Where one delivery batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Sent and not acknowledged yet (a failed attempt waits for its retry).
    Pending,
    /// Acknowledged with a 2xx (or written, for files).
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// One batch in the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryBatch {
    /// The id the receiver sees; the same on every retry of the batch.
    pub delivery_id: String,
    /// The delivery's number within the sync.
    pub seq: u64,
    /// The day delivered.
    pub ds: String,
    /// Full or delta.
    pub kind: DeliveryKind,
    /// The batch's number within the delivery (from 0).
    pub batch: u32,
    /// Ids in the batch (added and removed).
    pub ids: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Pending, delivered or failed.
    pub status: BatchStatus,
    /// The last HTTP status answered, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    /// The last failure (a status and the start of its body, a time-out, a refused address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the last attempt ended (ms since the epoch).
    pub updated_ms: u64,
}

/// `GET …/syncs/{sync}/deliveries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryList {
    /// Batches, oldest first.
    pub deliveries: Vec<DeliveryBatch>,
    /// More batches follow: ask again with `after` set to the last `delivery_id` here.
    #[serde(default)]
    pub more: bool,
}

/// The JSON body of a webhook request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookBody {
    /// `<sync>.<seq>.<batch>`: the same on every retry, so receivers can drop duplicates.
    pub delivery_id: String,
    /// The audience's key: the segment's id, or `<experiment>/<group>`.
    pub segment: String,
    /// The experiment, when an experiment group is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// That experiment's group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The day delivered.
    pub ds: String,
    /// Full or delta.
    pub kind: DeliveryKind,
    /// User ids that entered (every member, in a full delivery).
    pub added: Vec<String>,
    /// User ids that left.
    pub removed: Vec<String>,
}
