//! Tokens and the audit log (app admins): `…/tokens`, `…/tokens/{id}/rotate`, `…/audit`.

use serde::{Deserialize, Serialize};

use crate::apps::Role;

/// Body of `POST /api/v1/apps/{app}/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The token's role.
    pub role: Role,
    /// What it is for (1 to 100 characters); the role's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it stops working, ms since the epoch (in the future); never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

/// Who did something: a token (its id and name), or the server's admin token (no id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    /// The token's id; absent for the server's admin token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The token's name (`admin token` for the server's).
    pub name: String,
}

/// A token as admins see it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Token {
    /// Its id (what rotate and revoke name).
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Who created it.
    pub creator: Actor,
    /// When, ms since the epoch.
    pub created_ms: u64,
    /// When it stops working, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// When it was last used, ms since the epoch, to the minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_ms: Option<u64>,
    /// After a rotation: until when the previous secret still works, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_valid_until_ms: Option<u64>,
}

/// The answer of `POST …/tokens` and of `POST …/tokens/{id}/rotate`: the token with its
/// secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenCreated {
    /// The bearer secret.
    pub token: String,
    /// The app it is scoped to.
    pub app: String,
    /// Its id, name, role and dates.
    #[serde(flatten)]
    pub info: Token,
}

/// `GET …/tokens`: the app's live tokens (revoked and expired ones are gone), oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    /// The tokens.
    pub tokens: Vec<Token>,
}

/// Body of `POST …/tokens/{id}/rotate` (may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// How long the old secret keeps working, in seconds (0 to 2592000; 3600 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_secs: Option<u64>,
}

/// What an audited action was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A segment's members were exported.
    ExportSegment,
    /// An experiment group's members were exported.
    ExportExperimentGroup,
    /// A rule's or segment's members were frozen into a static segment.
    Freeze,
    /// An audience was split into experiment groups.
    Split,
    /// A segment was deleted.
    DeleteSegment,
    /// A published day was deleted.
    DeleteDay,
    /// A token was created.
    CreateToken,
    /// A token was rotated.
    RotateToken,
    /// A token was revoked.
    RevokeToken,
    /// The app's settings changed.
    ChangeSettings,
    /// A segment's sync to a destination was started (issue 17).
    StartSync,
    /// A sync was asked to send the segment in full again.
    ResendSync,
    /// A tag group's catalog entry changed: category, status, owner, quality policy… (issue 15).
    ChangeGroup,
    /// A held upload was approved and published.
    ApproveHold,
    /// A held upload was rejected.
    RejectHold,
    /// A group was published again as it was in an earlier version of a day.
    RestoreGroup,
    /// A composite tag was defined or redefined.
    DefineComposite,
    /// A composite tag was deleted.
    DeleteComposite,
}

impl AuditAction {
    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::ExportSegment => "export_segment",
            AuditAction::ExportExperimentGroup => "export_experiment_group",
            AuditAction::Freeze => "freeze",
            AuditAction::Split => "split",
            AuditAction::DeleteSegment => "delete_segment",
            AuditAction::DeleteDay => "delete_day",
            AuditAction::CreateToken => "create_token",
            AuditAction::RotateToken => "rotate_token",
            AuditAction::RevokeToken => "revoke_token",
            AuditAction::ChangeSettings => "change_settings",
            AuditAction::StartSync => "start_sync",
            AuditAction::ResendSync => "resend_sync",
            AuditAction::ChangeGroup => "change_group",
            AuditAction::ApproveHold => "approve_hold",
            AuditAction::RejectHold => "reject_hold",
            AuditAction::RestoreGroup => "restore_group",
            AuditAction::DefineComposite => "define_composite",
            AuditAction::DeleteComposite => "delete_composite",
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Its position in the log (ordered by time; what `after` takes).
    pub id: String,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: AuditAction,
    /// Which segment, experiment, group, day or token (absent for settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The day concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds: Option<String>,
    /// How many users it concerned (exports, freezes, splits, uploads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// More, in a sentence (the settings changed, a token's role, the export format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `GET …/audit`: a page of the log, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One day's membership lookups by one token (counted, not logged one by one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupCount {
    /// The day (UTC).
    pub ds: String,
    /// The token.
    pub actor: Actor,
    /// Lookups that day.
    pub lookups: u64,
}

/// `GET …/audit/lookups`: membership lookups per day and token, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupCounts {
    /// The counts.
    pub days: Vec<LookupCount>,
}
