//! What the signed-in token may do and see, from the app's answer to `GET /api/v1/apps/{app}`
//! (its `role` and `settings`): which pages and buttons exist, whether the builder downloads
//! the full tier, and how counts below the app's `min_audience` read. Plain Rust, tested
//! natively; the server enforces every rule here, the app only avoids offering what it refuses.

use crate::api::{App, AppSettings, Role};
use crate::format;

/// What an `aggregate` token is told instead of the buttons it cannot use.
pub const AGGREGATE_NOTE: &str = "An aggregate token sees counts only: no member lists, exports, \
     lookups, saved segments or splits, and no full-tier data. Counts come from the server with a \
     little noise, and counts below the app's minimum audience are withheld.";

/// The signed-in token's powers in its app.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    /// The token's role; `None` for the server's admin token (every power).
    pub role: Option<Role>,
    /// The app's privacy settings, when the server said them.
    pub settings: Option<AppSettings>,
}

impl Access {
    /// The powers the app's answer gives.
    ///
    /// ```
    /// use app::access::Access;
    /// use app::api::{App, IdKind, Role};
    /// let app = App { id: "demo".into(), name: "Demo".into(), ids: IdKind::Strings, settings: None, role: Some(Role::Aggregate) };
    /// assert!(Access::from_app(&app).is_aggregate());
    /// ```
    pub fn from_app(app: &App) -> Access {
        Access { role: app.role, settings: app.settings.clone() }
    }

    /// The powers assumed when the app's answer could not be read: a reader's (the server
    /// still refuses what the token may not do).
    pub fn fallback() -> Access {
        Access { role: Some(Role::Viewer), settings: None }
    }

    /// The app's `min_audience` (0: off).
    pub fn min_audience(&self) -> u64 {
        self.settings.as_ref().map_or(0, |s| s.min_audience)
    }

    /// Whether the token sees counts only (noisy, suppressed below `min_audience`).
    pub fn is_aggregate(&self) -> bool {
        self.role == Some(Role::Aggregate)
    }

    /// Whether the token manages the app: tokens, settings, the audit log (the Settings page).
    ///
    /// ```
    /// use app::access::Access;
    /// use app::api::Role;
    /// assert!(Access { role: None, settings: None }.is_admin(), "the server's admin token");
    /// assert!(Access { role: Some(Role::Admin), settings: None }.is_admin());
    /// assert!(!Access { role: Some(Role::Editor), settings: None }.is_admin());
    /// ```
    pub fn is_admin(&self) -> bool {
        matches!(self.role, None | Some(Role::Admin))
    }

    /// Whether the token may read member ids: exports, lookups, member lists, splits' previews.
    pub fn sees_members(&self) -> bool {
        !self.is_aggregate()
    }

    /// Whether the token may write segments and experiments (save, freeze, rename, delete,
    /// split). Viewers are still offered the buttons (the server's 403 says why); aggregate
    /// tokens are not, as nothing they could write would work.
    pub fn writes(&self) -> bool {
        !self.is_aggregate()
    }

    /// Whether the browser may download full-tier blobs (aggregate tokens get 403 on them).
    pub fn downloads_full_tier(&self) -> bool {
        !self.is_aggregate()
    }

    /// Whether a count of `n` users is below the app's `min_audience` for this token (only
    /// aggregate tokens have counts withheld; the manifest gives them `0` for those).
    pub fn hides(&self, n: u64) -> bool {
        self.is_aggregate() && n < self.min_audience()
    }

    /// A count as this token may see it: `12,345`, or `< 100` below `min_audience` (`None` is
    /// a count the server withheld).
    ///
    /// ```
    /// use app::access::Access;
    /// use app::api::{AppSettings, Role};
    /// let settings = Some(AppSettings { min_audience: 100, epsilon: 1.0, daily_budget: 10.0 });
    /// let agg = Access { role: Some(Role::Aggregate), settings: settings.clone() };
    /// assert_eq!(agg.count(Some(42)), "< 100");
    /// assert_eq!(agg.count(None), "< 100");
    /// assert_eq!(agg.count(Some(1_234)), "1,234");
    /// let viewer = Access { role: Some(Role::Viewer), settings };
    /// assert_eq!(viewer.count(Some(42)), "42");
    /// ```
    pub fn count(&self, n: Option<u64>) -> String {
        match n {
            Some(n) if !self.hides(n) => format::int(n),
            _ => self.withheld(),
        }
    }

    /// What a withheld count reads: `< k`, or `withheld` when the app's `min_audience` is
    /// unknown or off.
    pub fn withheld(&self) -> String {
        match self.min_audience() {
            0 => "withheld".to_owned(),
            k => format!("< {}", format::int(k)),
        }
    }

    /// An estimate (the sample's, scaled) as this token may see it: `≈ 12,300`, or `< k` below
    /// `min_audience` for an aggregate token.
    ///
    /// ```
    /// use app::access::Access;
    /// use app::api::{AppSettings, Role};
    /// let agg = Access { role: Some(Role::Aggregate), settings: Some(AppSettings { min_audience: 50, epsilon: 1.0, daily_budget: 10.0 }) };
    /// assert_eq!(agg.estimate(12.4), "< 50");
    /// assert_eq!(agg.estimate(12_345.0), "≈ 12,345");
    /// ```
    pub fn estimate(&self, n: f64) -> String {
        let rounded = n.max(0.0).round() as u64;
        if self.hides(rounded) { self.withheld() } else { format!("≈ {}", format::int(rounded)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(role: Option<Role>, k: u64) -> Access {
        Access { role, settings: Some(AppSettings { min_audience: k, epsilon: 1.0, daily_budget: 10.0 }) }
    }

    #[test]
    fn only_admins_and_the_server_admin_token_manage_the_app() {
        let admins: Vec<Option<Role>> =
            std::iter::once(None).chain(Role::ALL.map(Some)).filter(|r| access(*r, 0).is_admin()).collect();
        assert_eq!(admins, [None, Some(Role::Admin)]);
    }

    #[test]
    fn aggregate_tokens_get_no_members_no_writes_and_no_full_tier() {
        for role in Role::ALL {
            let a = access(Some(role), 10);
            let aggregate = role == Role::Aggregate;
            assert_eq!(a.sees_members(), !aggregate, "{role:?}");
            assert_eq!(a.writes(), !aggregate, "{role:?}");
            assert_eq!(a.downloads_full_tier(), !aggregate, "{role:?}");
        }
        assert!(access(None, 10).downloads_full_tier());
        assert!(Access::fallback().downloads_full_tier());
    }

    #[test]
    fn counts_below_k_read_as_less_than_k_for_aggregate_tokens_only() {
        let agg = access(Some(Role::Aggregate), 1_000);
        assert_eq!(agg.count(Some(999)), "< 1,000");
        assert_eq!(agg.count(Some(0)), "< 1,000", "the manifest's suppressed count");
        assert_eq!(agg.count(Some(1_000)), "1,000");
        assert_eq!(agg.estimate(999.4), "< 1,000");
        assert_eq!(access(Some(Role::Admin), 1_000).count(Some(3)), "3");
        // min_audience off: nothing is hidden, and a withheld count (never sent then) still reads.
        let off = access(Some(Role::Aggregate), 0);
        assert_eq!(off.count(Some(3)), "3");
        assert_eq!(off.count(None), "withheld");
    }
}
