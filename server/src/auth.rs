//! Who is calling, and what they may do: the [`Auth`] extractor, roles, and path id rules.
//!
//! Every `/api/v1` route except `GET /api/v1/health` and `GET /api/v1/openapi.json` takes an
//! [`Auth`], so a request without `Authorization: Bearer <token>`, or with a token we do not
//! know, is a 401 before anything else is looked at. A token is either
//! - the **admin token** (`SIEVE_ADMIN_TOKEN`), compared in constant time: it creates apps and
//!   tokens and may do everything in every app, or
//! - an **app token** ([`crate::tokens::create`]), scoped to one
//!   app with one [`Role`].
//!
//! Handlers of `/apps/{app}/…` routes call [`Auth::app`] with the [`Access`] they need. The app
//! comes from the token's scope, never from the body: a token of another app gets the same 404
//! as an app that does not exist, so tokens cannot probe which apps exist. A role that may not
//! do something in its own app gets a 403.
//!
//! | access | admin | editor | viewer | service | aggregate |
//! |---|---|---|---|---|---|
//! | [`Access::Describe`] (the app's record) | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | [`Access::Read`] (days, manifests, sample-tier blobs, estimates, histories, experiments) | ✓ | ✓ | ✓ | | ✓ (counts noisy) |
//! | full-tier blobs (checked by the blob route) | ✓ | ✓ | ✓ | | |
//! | [`Access::Write`] (uploads, static members, freezes, splits, day deletes) | ✓ | ✓ | | | |
//! | [`Access::SegmentRead`] | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | [`Access::SegmentWrite`] (create, update, delete, sync) | ✓ | ✓ | | ✓ | |
//! | [`Access::Membership`] (`/users/{id}/tags`, member exports) | ✓ | ✓ | ✓ | ✓ | |
//! | [`Access::Manage`] (tokens, settings, audit log) | ✓ | | | | |
//!
//! The server's admin token may do everything in every app. Each route of the table
//! ([`crate::routes::table`]) states its access, so its roles appear in the OpenAPI document,
//! and a test walks every route with every role.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use wire::Actor;

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::routes::Who;
use crate::state::AppState;
use crate::store::{Role, TokenInfo};

/// Longest bearer token looked at, in bytes (ours are 51; anything much longer is not one).
const MAX_TOKEN_BYTES: usize = 512;

/// Longest user id in a path, in bytes (after percent-decoding).
pub const MAX_USER_ID_BYTES: usize = 256;

/// Longest app, group, segment (and other) id, in bytes.
pub const MAX_ID_BYTES: usize = engine::id::MAX_ID_BYTES;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The admin token.
    Admin,
    /// An app token.
    App(TokenInfo),
}

/// Extracts and checks `Authorization: Bearer <token>`; rejects with a JSON 401.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Who is calling.
    pub principal: Principal,
    /// A stable name of the token itself (not the token): what per-token state such as
    /// idempotency keys is kept under.
    caller: String,
}

/// What a route needs to be allowed to do (see the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read the app's own record (its name, its kind of ids): any token of the app.
    Describe,
    /// Manage the app: its tokens, settings and audit log.
    Manage,
    /// Read snapshots: days, manifests, blobs, estimates.
    Read,
    /// Upload data, static segment members.
    Write,
    /// Read segment definitions.
    SegmentRead,
    /// Create, update, delete segments (HTTP edits and upstream sync).
    SegmentWrite,
    /// Read membership: a user's tags and segments, a segment's members.
    Membership,
}

impl Access {
    /// Whether `role` grants this access.
    pub fn allowed_for(self, role: Role) -> bool {
        match role {
            _ if self == Access::Describe => true,
            Role::Admin => true,
            Role::Editor => self != Access::Manage,
            Role::Viewer => matches!(self, Access::Read | Access::SegmentRead | Access::Membership),
            Role::Service => matches!(self, Access::SegmentRead | Access::SegmentWrite | Access::Membership),
            Role::Aggregate => matches!(self, Access::Read | Access::SegmentRead),
        }
    }

    /// The roles allowed, most powerful first.
    pub fn roles(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.allowed_for(*r)).collect()
    }
}

/// An app the caller may act on, with the needed access checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppScope {
    /// The app id (valid, existing).
    pub app: String,
    /// The caller's role in it; `None` for the admin token.
    pub role: Option<Role>,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let caller = caller_id(secret);
        if let Some(admin) = &state.config.admin_token
            && constant_time_eq(secret, admin)
        {
            return Ok(Self { principal: Principal::Admin, caller });
        }
        let now = now_ms();
        let info = if state.meta.shared() {
            // A round trip to the shared store: not on an async worker.
            let meta = state.meta.clone();
            let secret = secret.to_owned();
            crate::routes::blocking(move || meta.lookup_token(&secret, now)).await?
        } else {
            // The embedded store answers from its cache, or from a local read.
            state.meta.lookup_token(secret, now)?
        };
        let Some(info) = info else { return Err(ApiError::Unauthorized) };
        // The route's own rule (from the route table), checked before its body is read.
        match parts.extensions.get::<Who>() {
            Some(Who::ServerAdmin) => return Err(ApiError::Forbidden("this needs the admin token".into())),
            Some(Who::App(access))
                if path_app(parts.uri.path()) == Some(info.app.as_str()) && !access.allowed_for(info.role) =>
            {
                return Err(forbidden(info.role));
            }
            _ => {}
        }
        if !info.id.is_empty() && state.last_use.note(&info.app, &info.id, now) {
            let (meta, app, id) = (state.meta.clone(), info.app.clone(), info.id.clone());
            // Off the request's path: a failure to note a use must not fail the request.
            tokio::task::spawn_blocking(move || {
                if let Err(e) = crate::tokens::LastUse::write(&meta, &app, &id, now) {
                    tracing::warn!(%app, token = %id, error = %e, "could not write a token's last use");
                }
            });
        }
        Ok(Self { principal: Principal::App(info), caller })
    }
}

impl Auth {
    /// Who is calling, as the audit log names them (the name is the role's until
    /// [`crate::audit::record`] reads the token's own).
    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::Admin => Actor { id: None, name: "admin token".into() },
            Principal::App(info) => Actor {
                id: (!info.id.is_empty()).then(|| info.id.clone()),
                name: format!("{} token", info.role.as_str()),
            },
        }
    }

    /// The caller's role in its app (`None` for the server's admin token).
    pub fn role(&self) -> Option<Role> {
        match &self.principal {
            Principal::Admin => None,
            Principal::App(info) => Some(info.role),
        }
    }

    /// The calling token's id (what its budget and counters are kept under): the token id, or
    /// `admin` for the server's admin token.
    pub fn token_id(&self) -> &str {
        match &self.principal {
            Principal::App(info) if !info.id.is_empty() => &info.id,
            Principal::App(_) => &self.caller,
            Principal::Admin => "admin",
        }
    }

    /// A stable name of the calling token, distinct per token (two editor tokens of one app
    /// differ) and useless as a credential: 32 hex digits derived from the token with a key
    /// of its own, so it matches nothing else the server stores.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// Allows the admin token only (403 for app tokens).
    ///
    /// # Errors
    /// [`ApiError::Forbidden`] for an app token.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.principal {
            Principal::Admin => Ok(()),
            Principal::App(_) => Err(ApiError::Forbidden("this needs the admin token".into())),
        }
    }

    /// Checks that the caller may act on `app` with `access`: validates the id (400), hides
    /// other apps and missing apps alike (404), checks the role (403).
    ///
    /// # Errors
    /// As above; [`ApiError::Internal`] if the metadata store fails.
    pub fn app(&self, state: &AppState, app: &str, access: Access) -> Result<AppScope, ApiError> {
        validate_id("app", app)?;
        let not_found = || ApiError::Missing(format!("no app `{app}`"));
        match &self.principal {
            Principal::Admin => {
                if state.meta.app_exists(app)? {
                    Ok(AppScope { app: app.to_owned(), role: None })
                } else {
                    Err(not_found())
                }
            }
            Principal::App(info) if info.app != app => Err(not_found()),
            Principal::App(info) if access.allowed_for(info.role) => {
                Ok(AppScope { app: app.to_owned(), role: Some(info.role) })
            }
            Principal::App(info) => Err(forbidden(info.role)),
        }
    }
}

/// The 403 of a role that may not do something in its own app.
fn forbidden(role: Role) -> ApiError {
    ApiError::Forbidden(format!(
        "a{} {} token may not do this{}",
        if matches!(role, Role::Admin | Role::Aggregate) { "n" } else { "" },
        role.as_str(),
        if role == Role::Aggregate { ": it sees counts only, never members" } else { "" }
    ))
}

/// The app of an `/…/v1/apps/{app}/…` path (as the nested router or the whole server sees it).
fn path_app(path: &str) -> Option<&str> {
    let mut parts = path.split('/').skip_while(|p| *p != "v1").skip(1);
    (parts.next() == Some("apps")).then(|| parts.next()).flatten().filter(|a| !a.is_empty())
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive). Also what
/// [`crate::limits::per_token`] counts uploads by.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= MAX_TOKEN_BYTES).then_some(token)
}

/// The name per-token state is kept under (see [`Auth::caller`]).
fn caller_id(secret: &str) -> String {
    let key = blake3::derive_key("sieve 2026 caller id for per-token state", secret.as_bytes());
    key[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time that depends on neither's content nor on where they differ.
///
/// Both are hashed first (BLAKE3's `Hash` equality is constant-time), which also hides the
/// length of the admin token.
fn constant_time_eq(a: &str, b: &str) -> bool {
    blake3::hash(a.as_bytes()) == blake3::hash(b.as_bytes())
}

/// Checks an app, group, segment (or other) id with the one id rule
/// ([`engine::id::check_id`]): `[A-Za-z0-9._-]{1,64}`, and not `.` or `..`, which HTTP
/// clients remove from paths.
///
/// ```
/// use server::auth::validate_id;
/// assert!(validate_id("segment", "vip-2026.v1_a").is_ok());
/// assert!(validate_id("segment", "").is_err());
/// assert!(validate_id("segment", "a/b").is_err());
/// assert!(validate_id("segment", "..").is_err());
/// assert!(validate_id("app", &"x".repeat(65)).is_err());
/// ```
///
/// # Errors
/// [`ApiError::InvalidField`] naming `field`.
pub fn validate_id(field: &'static str, value: &str) -> Result<(), ApiError> {
    engine::id::check_id(value).map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

/// Checks an external user id from a path: any UTF-8 (the path is percent-decoded already),
/// 1 to [`MAX_USER_ID_BYTES`] bytes.
///
/// # Errors
/// [`ApiError::InvalidField`] naming `user_id`.
pub fn validate_user_id(value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > MAX_USER_ID_BYTES {
        return Err(ApiError::invalid_field(
            "user_id",
            format!("a user id is 1 to {MAX_USER_ID_BYTES} bytes of UTF-8"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table() {
        use Access::*;
        for a in [Read, Write, SegmentRead, SegmentWrite, Membership] {
            assert!(a.allowed_for(Role::Editor) && a.allowed_for(Role::Admin));
        }
        assert!(Manage.allowed_for(Role::Admin) && !Manage.allowed_for(Role::Editor));
        assert_eq!(Read.roles(), [Role::Admin, Role::Editor, Role::Viewer, Role::Aggregate]);
        assert_eq!(Membership.roles(), [Role::Admin, Role::Editor, Role::Viewer, Role::Service]);
        assert!(!Write.allowed_for(Role::Aggregate) && !SegmentWrite.allowed_for(Role::Aggregate));
        assert!(Read.allowed_for(Role::Viewer) && SegmentRead.allowed_for(Role::Viewer));
        assert!(!Write.allowed_for(Role::Viewer) && !SegmentWrite.allowed_for(Role::Viewer));
        assert!(SegmentWrite.allowed_for(Role::Service) && Membership.allowed_for(Role::Service));
        assert!(!Read.allowed_for(Role::Service) && !Write.allowed_for(Role::Service));
    }

    fn parts(auth: Option<&str>) -> Parts {
        let mut b = axum::http::Request::builder();
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn the_app_of_a_path() {
        assert_eq!(path_app("/v1/apps/demo/days"), Some("demo"));
        assert_eq!(path_app("/api/v1/apps/demo"), Some("demo"));
        assert_eq!(path_app("/v1/apps"), None);
        assert_eq!(path_app("/v1/health"), None);
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(&parts(Some("Bearer abc"))), Some("abc"));
        assert_eq!(bearer(&parts(Some("bearer   abc "))), Some("abc"));
        assert_eq!(bearer(&parts(Some("Basic abc"))), None);
        assert_eq!(bearer(&parts(Some("Bearer "))), None);
        assert_eq!(bearer(&parts(Some("Bearer"))), None);
        assert_eq!(bearer(&parts(None)), None);
        let long = format!("Bearer {}", "x".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(bearer(&parts(Some(&long))), None);
    }

    #[test]
    fn callers_are_per_token_and_not_the_token() {
        let a = caller_id("token-a");
        assert_eq!(a, caller_id("token-a"));
        assert_ne!(a, caller_id("token-b"));
        assert_eq!(a.len(), 32);
        assert!(!a.contains("token"));
        assert_ne!(a, blake3::hash(b"token-a").to_hex()[..32], "not the hash tokens are stored under");
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(constant_time_eq("s3cret", "s3cret"));
        assert!(!constant_time_eq("s3cret", "s3creT"));
        assert!(!constant_time_eq("s3cret", "s3cret "));
    }

    #[test]
    fn ids() {
        assert!(validate_id("app", &"a".repeat(MAX_ID_BYTES)).is_ok());
        for bad in ["", "a b", "ä", "a%2Fb", "a/b", "a?b", ".", ".."] {
            let err = validate_id("group", bad).expect_err(bad);
            assert!(matches!(err, ApiError::InvalidField { field: "group", .. }), "{bad}");
        }
        assert!(validate_user_id("用户/42 with space").is_ok());
        assert!(validate_user_id("").is_err());
        assert!(validate_user_id(&"é".repeat(129)).is_err(), "258 bytes");
    }
}
