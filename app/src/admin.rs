//! The Settings page's decisions (`pages/settings/` binds them): the new-token and
//! privacy forms read into request bodies (checked as the server would, naming the field), the
//! audit log's pages joined, and how audit entries and actors read. Plain Rust, tested natively.

use crate::api::{Actor, AppPatch, AppSettings, AuditAction, AuditEntry, AuditPage, Error, NewToken, Role};

/// Audit entries asked for per page.
pub const AUDIT_PAGE: u32 = 50;

/// A 400 naming `field`, as the server answers a bad field.
fn invalid(field: &str, message: impl Into<String>) -> Error {
    let mut error = Error::api(400, "invalid_field", message);
    if let Error::Api { body, .. } = &mut error {
        body.field = Some(field.to_owned());
    }
    error
}

/// The field an error is about (the server's `field`), to show the message beside it.
///
/// ```
/// let e = app::api::decode::<app::api::Role>("1").unwrap_err();
/// assert_eq!(app::admin::field_of(&e), None);
/// ```
pub fn field_of(error: &Error) -> Option<&str> {
    match error {
        Error::Api { body, .. } => body.field.as_deref(),
        _ => None,
    }
}

/// A role by its API name.
///
/// ```
/// use app::api::Role;
/// assert_eq!(app::admin::role(" aggregate"), Some(Role::Aggregate));
/// assert_eq!(app::admin::role("root"), None);
/// ```
pub fn role(name: &str) -> Option<Role> {
    Role::ALL.into_iter().find(|r| r.as_str() == name.trim())
}

/// What a role may do, in a few words (the role select's hints).
pub const fn role_hint(role: Role) -> &'static str {
    match role {
        Role::Admin => "everything, and tokens, settings, audit",
        Role::Editor => "uploads data, writes segments",
        Role::Viewer => "reads data, segments, members",
        Role::Service => "membership lookups and segment sync",
        Role::Aggregate => "noisy counts only, nothing below the minimum audience",
    }
}

/// Milliseconds since the epoch at 00:00 UTC of a `YYYY-MM-DD` date.
///
/// ```
/// assert_eq!(app::admin::date_ms("1970-01-02"), Some(86_400_000));
/// assert_eq!(app::admin::date_ms("2025-11-21"), Some(1_763_683_200_000));
/// assert_eq!(app::admin::date_ms("2025-13-01"), None);
/// ```
pub fn date_ms(date: &str) -> Option<u64> {
    let mut parts = date.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    // Days-from-civil (Howard Hinnant's algorithm), the inverse of `format::utc_ms`'s.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days).ok().map(|days| days * 86_400_000)
}

/// The body of `POST …/tokens` from the create form: a name (optional: the server names it by
/// its role), a role and an optional expiry date (the token stops working at 00:00 UTC that
/// day, which must be after `now_ms`).
///
/// ```
/// use app::api::Role;
/// let t = app::admin::new_token(" CRM export ", "viewer", "", 0).unwrap();
/// assert_eq!((t.name.as_deref(), t.role, t.expires_ms), (Some("CRM export"), Role::Viewer, None));
/// let e = app::admin::new_token("x", "viewer", "2020-01-01", 1_763_683_200_000).unwrap_err();
/// assert_eq!(app::admin::field_of(&e), Some("expires_ms"));
/// ```
pub fn new_token(name: &str, role_name: &str, expires: &str, now_ms: u64) -> Result<NewToken, Error> {
    let role = role(role_name).ok_or_else(|| invalid("role", "choose a role"))?;
    let name = name.trim();
    if name.chars().count() > 100 {
        return Err(invalid("name", "name: at most 100 characters"));
    }
    let expires_ms = match expires.trim() {
        "" => None,
        date => match date_ms(date) {
            Some(ms) if ms > now_ms => Some(ms),
            Some(_) => return Err(invalid("expires_ms", "the expiry date must be in the future")),
            None => return Err(invalid("expires_ms", "the expiry date is not a date (YYYY-MM-DD)")),
        },
    };
    Ok(NewToken { role, name: (!name.is_empty()).then(|| name.to_owned()), expires_ms })
}

/// The body of `PATCH /apps/{app}` from the privacy form: only the fields that differ from
/// `current`; `None` when nothing changed. A field that is not a number is refused here,
/// naming it; the server checks the ranges (and names the field it refuses).
///
/// ```
/// use app::api::AppSettings;
/// let now = AppSettings { min_audience: 0, epsilon: 1.0, daily_budget: 10.0 };
/// let patch = app::admin::settings_patch(&now, "100", "1", "10").unwrap().unwrap();
/// assert_eq!((patch.min_audience, patch.epsilon, patch.daily_budget), (Some(100), None, None));
/// assert_eq!(app::admin::settings_patch(&now, "0", "1.0", "10").unwrap(), None);
/// let e = app::admin::settings_patch(&now, "-3", "1", "10").unwrap_err();
/// assert_eq!(app::admin::field_of(&e), Some("min_audience"));
/// ```
pub fn settings_patch(
    current: &AppSettings,
    min_audience: &str,
    epsilon: &str,
    daily_budget: &str,
) -> Result<Option<AppPatch>, Error> {
    let k: u64 = min_audience
        .trim()
        .parse()
        .map_err(|_| invalid("min_audience", "min_audience: a whole number of users (0 turns it off)"))?;
    let number = |field: &str, text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| invalid(field, format!("{field}: a number")))
    };
    let eps = number("epsilon", epsilon)?;
    let budget = number("daily_budget", daily_budget)?;
    let patch = AppPatch {
        min_audience: (k != current.min_audience).then_some(k),
        epsilon: (eps != current.epsilon).then_some(eps),
        daily_budget: (budget != current.daily_budget).then_some(budget),
    };
    Ok((patch != AppPatch::default()).then_some(patch))
}

/// Who did something, as the tables show it: the token's name, `admin token` for the
/// server's.
pub fn actor_label(actor: &Actor) -> String {
    actor.name.clone()
}

/// An audited action in words.
pub const fn action_label(action: AuditAction) -> &'static str {
    match action {
        AuditAction::ExportSegment => "exported a segment",
        AuditAction::ExportExperimentGroup => "exported a split group",
        AuditAction::Freeze => "froze a segment",
        AuditAction::Split => "split an audience",
        AuditAction::DeleteSegment => "deleted a segment",
        AuditAction::DeleteDay => "deleted a day",
        AuditAction::CreateToken => "created a token",
        AuditAction::RotateToken => "rotated a token",
        AuditAction::RevokeToken => "revoked a token",
        AuditAction::ChangeSettings => "changed settings",
        AuditAction::StartSync => "started a sync",
        AuditAction::ResendSync => "re-sent a sync in full",
        AuditAction::ChangeGroup => "changed a tag group's catalog entry",
        AuditAction::ApproveHold => "approved a held upload",
        AuditAction::RejectHold => "rejected a held upload",
        AuditAction::RestoreGroup => "restored a tag group's earlier version",
        AuditAction::DefineComposite => "defined a composite tag",
        AuditAction::DeleteComposite => "deleted a composite tag",
    }
}

/// The audit log loaded so far: pages appended in order, and where the next one starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditLog {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// What `after` the next page is asked with; `None` once the last page is in.
    pub next: Option<String>,
    /// Whether a page has been loaded at all.
    pub loaded: bool,
}

impl AuditLog {
    /// Adds the next page (entries already held are not repeated).
    pub fn append(&mut self, page: AuditPage) {
        for entry in page.entries {
            if !self.entries.iter().any(|e| e.id == entry.id) {
                self.entries.push(entry);
            }
        }
        self.next = page.next;
        self.loaded = true;
    }

    /// Whether "Load more" has anything to load.
    pub fn has_more(&self) -> bool {
        self.next.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, action: AuditAction) -> AuditEntry {
        AuditEntry {
            id: id.into(),
            at_ms: 0,
            actor: Actor { id: None, name: "admin token".into() },
            action,
            target: None,
            ds: None,
            users: None,
            detail: None,
        }
    }

    #[test]
    fn pages_append_in_order_without_repeats() {
        let mut log = AuditLog::default();
        assert!(!log.loaded && !log.has_more());
        log.append(AuditPage {
            entries: vec![entry("1", AuditAction::CreateToken), entry("2", AuditAction::ChangeSettings)],
            next: Some("2".into()),
        });
        assert!(log.has_more());
        log.append(AuditPage {
            entries: vec![entry("2", AuditAction::ChangeSettings), entry("3", AuditAction::RevokeToken)],
            next: None,
        });
        let ids: Vec<&str> = log.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert!(log.loaded && !log.has_more());
        assert_eq!(action_label(log.entries[2].action), "revoked a token");
    }

    #[test]
    fn the_token_form_names_the_field_at_fault() {
        let e = new_token("x", "root", "", 0).expect_err("refused");
        assert_eq!(field_of(&e), Some("role"));
        let e = new_token(&"n".repeat(101), "viewer", "", 0).expect_err("refused");
        assert_eq!(field_of(&e), Some("name"));
        let e = new_token("x", "viewer", "tomorrow", 0).expect_err("refused");
        assert_eq!(field_of(&e), Some("expires_ms"));
        let t = new_token("", "aggregate", "2030-01-01", 0).expect("valid");
        assert_eq!((t.name, t.role, t.expires_ms), (None, Role::Aggregate, date_ms("2030-01-01")));
        // The body is what the server's `NewToken` reads (it refuses unknown fields).
        let body = serde_json::to_value(new_token("CRM", "viewer", "", 0).expect("valid")).expect("valid");
        assert_eq!(body, serde_json::json!({"role": "viewer", "name": "CRM"}));
    }

    #[test]
    fn dates_round_trip_with_the_display_format() {
        for date in ["1970-01-01", "2000-02-29", "2026-12-31", "2100-03-01"] {
            let ms = date_ms(date).expect("a date");
            assert_eq!(crate::format::utc_ms(ms), format!("{date} 00:00 UTC"));
        }
    }

    #[test]
    fn the_privacy_form_sends_only_what_changed() {
        let now = AppSettings { min_audience: 50, epsilon: 0.5, daily_budget: 20.0 };
        let p = settings_patch(&now, "50", "0.25", " 40 ").expect("valid").expect("changed");
        assert_eq!((p.min_audience, p.epsilon, p.daily_budget), (None, Some(0.25), Some(40.0)));
        let e = settings_patch(&now, "50", "lots", "40").expect_err("refused");
        assert_eq!(
            (field_of(&e), e.to_string().as_str()),
            (Some("epsilon"), "the server answered 400: epsilon: a number")
        );
        assert_eq!(field_of(&settings_patch(&now, "50", "1", "NaN").expect_err("refused")), Some("daily_budget"));
    }
}
