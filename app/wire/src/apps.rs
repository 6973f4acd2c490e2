//! Apps and tokens (admin token): `POST /api/v1/apps`, `GET /api/v1/apps/{app}`,
//! `POST /api/v1/apps/{app}/tokens`.

use serde::{Deserialize, Serialize};

/// An app (tenant): the body of `POST /api/v1/apps` and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads snapshots, segments, estimates.
    Viewer,
    /// Also uploads data and writes segments.
    Editor,
    /// Reads membership and syncs segments (for other services).
    Service,
}

impl Role {
    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Service => "service",
        }
    }
}

/// Body of `POST /api/v1/apps/{app}/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewToken {
    /// The token's role.
    pub role: Role,
}

/// Answer of `POST /api/v1/apps/{app}/tokens`: the secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenCreated {
    /// The bearer token.
    pub token: String,
    /// The app it is scoped to.
    pub app: String,
    /// Its role.
    pub role: Role,
}
