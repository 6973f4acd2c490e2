//! Tag governance (issue 15): the catalog of tag groups (`…/groups`), quality checks and held
//! uploads (`…/holds`), and the versions of a day (`…/days/{ds}/versions`, `…/restore`).

use serde::{Deserialize, Serialize};

use crate::access::Actor;

/// Whether a tag group is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GroupStatus {
    /// In the builder, the profile, carried forward to new days.
    #[default]
    Active,
    /// Out of the builder and the profile, and not carried forward to days first published
    /// after the change; days already published keep it.
    Offline,
}

/// How often a group is expected to be loaded (what staleness is measured against).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    /// Every data day: stale when the app's latest day does not have its own load of it.
    Daily,
    /// Stale when its latest load is 7 or more days older than the app's latest day.
    Weekly,
    /// Stale when its latest load is 31 or more days older than the app's latest day.
    Monthly,
    /// Loaded when needed: never stale.
    #[default]
    Adhoc,
}

/// What a failed quality check does to an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum QualityAction {
    /// Publish, and flag the group.
    #[default]
    Warn,
    /// Publish nothing: stage the upload until an editor approves or rejects it.
    Hold,
}

/// A group's quality policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QualityPolicy {
    /// `warn` (default) or `hold`.
    #[serde(default)]
    pub policy: QualityAction,
    /// Largest change of holders (total, and each value's) accepted, in percent (default 30;
    /// 0 to 1000).
    #[serde(default = "default_max_change_pct")]
    pub max_change_pct: f64,
}

fn default_max_change_pct() -> f64 {
    30.0
}

impl Default for QualityPolicy {
    fn default() -> Self {
        QualityPolicy { policy: QualityAction::Warn, max_change_pct: default_max_change_pct() }
    }
}

/// Which quality check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The upload has no data row (empty, or a header only).
    Empty,
    /// Users holding any value, against the previous version.
    Holders,
    /// One value's holders, against the previous version (`value` names it).
    ValueHolders,
    /// Values the previous version did not have.
    ValuesAppeared,
    /// Values of the previous version this upload lacks.
    ValuesDisappeared,
    /// The share of the universe holding no value, in percent.
    NoValueShare,
    /// A numeric group's range, against the previous version's.
    NumericRange,
    /// A group whose cadence says it should have been loaded since.
    Stale,
}

/// One quality check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QualityCheck {
    /// Which check.
    pub check: CheckKind,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, in a sentence.
    pub message: String,
    /// The value checked, when it is one (`value_holders`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The measure in the previous version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<f64>,
    /// The measure in this upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<f64>,
}

/// What the checks decided for an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// A check failed and the policy is `warn`: published and flagged.
    Warn,
    /// A check failed and the policy is `hold`: staged, nothing published.
    Hold,
    /// A held upload an editor approved (published).
    Approved,
}

/// The quality part of an upload's answer (tag groups).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quality {
    /// The verdict.
    pub verdict: Verdict,
    /// Every check run, passed or not.
    pub checks: Vec<QualityCheck>,
}

/// The `202` answer to a held upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldUpload {
    /// The hold's id (for `…/holds/{id}/approve` or `…/reject`).
    pub held: String,
    /// Every check run; at least one failed.
    pub checks: Vec<QualityCheck>,
}

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HoldState {
    /// Waiting for an editor.
    Held,
    /// Published.
    Approved,
    /// Discarded.
    Rejected,
}

/// A held upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hold {
    /// Its id.
    pub id: String,
    /// The day uploaded to.
    pub ds: String,
    /// The tag group.
    pub group: String,
    /// Where it stands.
    pub state: HoldState,
    /// Data rows in the upload.
    pub rows: u64,
    /// Distinct users in the upload.
    pub users: u64,
    /// Its bytes.
    pub size_bytes: u64,
    /// The checks run when it was uploaded.
    pub checks: Vec<QualityCheck>,
    /// Who uploaded it.
    pub by: Actor,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who approved or rejected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Actor>,
    /// When, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_ms: Option<u64>,
    /// The day's version its approval published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// `GET …/holds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HoldList {
    /// Held uploads waiting for a decision, oldest first (`?all=true`: decided ones too).
    pub holds: Vec<Hold>,
}

/// What references a group (or a value of it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    /// Live segments whose rule names it (directly).
    pub segments: Vec<String>,
    /// Composite tags whose rules name it.
    pub composites: Vec<String>,
    /// Experiments over those segments.
    pub experiments: Vec<String>,
    /// Estimates whose rule named it in the last 30 days (UTC days, this one included).
    pub estimates_30d: u64,
}

/// One value of a group in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueInfo {
    /// The value.
    pub value: String,
    /// Its holders on the app's latest day.
    pub holders: u64,
    /// What references it.
    pub usage: Usage,
}

/// One tag group in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupInfo {
    /// The group's name (its id in rules and uploads).
    pub name: String,
    /// A name for people (the group's name when never set).
    pub display_name: String,
    /// What it means.
    pub description: String,
    /// Who answers for it.
    pub owner: String,
    /// Category path (`demographics/location`); metadata only.
    pub category: String,
    /// `categorical`, `boolean` or `numeric` (from its latest load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether it is a composite tag (its values are rules, computed on every day).
    #[serde(default)]
    pub composite: bool,
    /// `active` or `offline`.
    pub status: GroupStatus,
    /// The first data day it is not carried to (set when it went offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_from: Option<String>,
    /// Expected loading cadence.
    pub cadence: Cadence,
    /// Quality policy.
    pub quality: QualityPolicy,
    /// The day of its latest load, as of the app's latest day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_loaded_ds: Option<String>,
    /// Whether its cadence says a newer load is missing.
    pub stale: bool,
    /// Failed checks of its latest load (`warn`), until a load passes them.
    pub flags: Vec<QualityCheck>,
    /// Uploads of it held for a decision.
    pub held: u64,
    /// What references the group.
    pub usage: Usage,
    /// Its values on the latest day (none for numeric groups), with what references each.
    pub values: Vec<ValueInfo>,
}

/// `GET …/groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupList {
    /// The app's latest published day, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ds: Option<String>,
    /// Every group on the latest day or in the catalog, by name.
    pub groups: Vec<GroupInfo>,
}

/// Body of `PATCH …/groups/{group}`: absent fields stay.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    /// At most 100 characters; empty resets it to the group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// At most 2,000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// At most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// A path like `demographics/location` (letters, digits, `_ - .` and spaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `active` or `offline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<GroupStatus>,
    /// `daily`, `weekly`, `monthly` or `adhoc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cadence: Option<Cadence>,
    /// The quality policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityPolicy>,
    /// Only say what would change and who is affected; change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// What a status change affects: the users of the group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Affected {
    /// Segments whose rule names the group (directly or through other segments).
    pub segments: Vec<String>,
    /// Composite tags whose rules name it.
    pub composites: Vec<String>,
    /// Experiments over those segments.
    pub experiments: Vec<String>,
}

/// The answer to `PATCH …/groups/{group}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupChange {
    /// Whether the change was made (false for a dry run).
    pub applied: bool,
    /// The group as it is after the change (as it would be, for a dry run).
    pub group: GroupInfo,
    /// Who stops finding the group when it goes offline (empty otherwise).
    pub affected: Affected,
}

/// Why a day got a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VersionCause {
    /// A tag group or event was uploaded to this day.
    Upload,
    /// An upload to an earlier day flowed forward to this day (the day carried the group).
    Backfill,
    /// A held upload was approved.
    Approve,
    /// A group was restored from an earlier version.
    Restore,
    /// Segments were recomputed (a definition changed, or a later upload reached them).
    Segments,
}

/// One version of a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayVersion {
    /// The version number.
    pub version: u64,
    /// Why it was made.
    pub cause: VersionCause,
    /// The tag group or event that changed (none for segment recomputes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Who made it (none for background recomputes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Actor>,
    /// Rows of the upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Users holding any value of the group before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holders_before: Option<u64>,
    /// And after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holders_after: Option<u64>,
    /// The quality verdict of the upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The checks that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<QualityCheck>,
    /// For a restore: the version restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u64>,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Address of the version's manifest.
    pub manifest: String,
    /// Whether its groups can still be restored (its manifest and blobs are kept).
    pub restorable: bool,
}

/// `GET …/days/{ds}/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayVersions {
    /// The day.
    pub ds: String,
    /// Its current version.
    pub current: u64,
    /// Every recorded version, newest first.
    pub versions: Vec<DayVersion>,
}

/// Body of `POST …/days/{ds}/groups/{group}/restore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The version of the day whose copy of the group is published again.
    pub version: u64,
}

/// Governance in `/api/v1/health`: counts only (the probe is public; names stay in the apps).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GovernanceHealth {
    /// Uploads held for a decision, over all apps.
    pub held_uploads: u64,
    /// Groups whose latest load failed a check (`warn`), over all apps.
    pub flagged_groups: u64,
}

/// Body of `PUT …/composites/{group}`: a tag group whose values are rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompositeInput {
    /// Each value's rule, in order (`{"champions": <rule>, "at_risk": <rule>}`): with `multi`
    /// false a user gets the first value whose rule matches. 1 to 64 values.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub values: serde_json::Map<String, serde_json::Value>,
    /// Category path (as an upload's).
    #[serde(default)]
    pub category: String,
    /// Whether a user may hold several values (every matching one); default false.
    #[serde(default)]
    pub multi: bool,
}

/// One value of a composite tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompositeValue {
    /// The value.
    pub value: String,
    /// Its rule, in canonical form.
    pub rule: crate::rule::Rule,
}

/// A composite tag's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Composite {
    /// The tag group it defines.
    pub group: String,
    /// Its values in order.
    pub values: Vec<CompositeValue>,
    /// Category path.
    pub category: String,
    /// Whether a user may hold several values.
    pub multi: bool,
    /// Who last changed it.
    pub by: Actor,
    /// When, ms since the epoch.
    pub updated_ms: u64,
}

/// `GET …/composites`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompositeList {
    /// Every composite tag, by group.
    pub composites: Vec<Composite>,
}
