//! Apps and their settings: `POST /api/v1/apps`, `GET`/`PATCH /api/v1/apps/{app}`; roles.

use serde::{Deserialize, Serialize};

/// An app (tenant): the body of `POST /api/v1/apps` and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct App {
    /// The app id, used in every path of the app.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._-]{1,64}$"))]
    pub id: String,
    /// Display name (trimmed).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// What the app's user ids are; fixed when the app is created (`strings` when absent).
    #[serde(default)]
    pub ids: IdKind,
    /// The app's privacy settings (answers only; set them with `PATCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<AppSettings>,
    /// The calling token's role in the app (answers only; absent for the server's admin token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// An app's privacy settings, as `GET /api/v1/apps/{app}` answers them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppSettings {
    /// The smallest audience anyone may export, sync, split or freeze, and below which
    /// `aggregate` tokens see no count (`null` with `suppressed: true`); `0` is off.
    pub min_audience: u64,
    /// The privacy loss ε of one noisy answer to an `aggregate` token (Laplace noise of scale
    /// 1/ε on each count, the same for the same set of users on the same day).
    pub epsilon: f64,
    /// The ε an `aggregate` token may spend per day on answers about new sets of users; past
    /// it, counts are refused (429) until the next day (UTC).
    pub daily_budget: f64,
}

/// Body of `PATCH /api/v1/apps/{app}` (app admins): the settings to change; absent fields
/// stay as they are (the name and kind of ids are fixed at creation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    /// See [`AppSettings::min_audience`]; `0` turns it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_audience: Option<u64>,
    /// See [`AppSettings::epsilon`] (0.01 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// See [`AppSettings::daily_budget`] (at least `epsilon`, at most 100000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget: Option<f64>,
}

/// What an app's user ids are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// Any text up to 256 bytes, kept in the app's dictionary (which numbers them densely).
    #[default]
    Strings,
    /// The warehouse's own unsigned 32-bit numbers, written as decimal text (`0` to
    /// `4294967295`, no sign or leading zeros); no dictionary is kept.
    U32,
}

impl IdKind {
    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdKind::Strings => "strings",
            IdKind::U32 => "u32",
        }
    }
}

/// What a token may do in its app (the route table says which roles each route allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything an editor does, and the app's tokens, settings and audit log.
    Admin,
    /// Also uploads data and writes segments.
    Editor,
    /// Reads snapshots, segments, estimates, member lists.
    Viewer,
    /// Reads membership and syncs segments (for other services).
    Service,
    /// Sees counts only: no member id, no export, no full-tier bitmap; its counts are noisy
    /// and suppressed below the app's `min_audience`.
    Aggregate,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 5] = [Role::Admin, Role::Editor, Role::Viewer, Role::Service, Role::Aggregate];

    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
            Role::Service => "service",
            Role::Aggregate => "aggregate",
        }
    }
}
