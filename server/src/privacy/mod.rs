//! What `aggregate` tokens may learn: an app's privacy settings, the minimum audience, and
//! deterministic noise with a daily privacy budget.
//!
//! # The defence against differencing
//!
//! Two large counts that differ by one user (A, and A without the target) reveal that user's
//! tags if both are exact. Every count an `aggregate` token gets is therefore the true count
//! plus Laplace noise of scale 1/ε ([`AppSettings::epsilon`], 0.5 by default: a standard
//! deviation of 2.8 users), rounded and never below zero: one answer is ε-differentially
//! private for any one user.
//!
//! The noise is **seeded** ([`Noise::seed_of_set`], a hash keyed with a secret each app keeps)
//! by the users counted (the address their blob would have) and, for a rule an `aggregate`
//! token writes, by the rule in canonical form ([`canonical_rule`]: `A and B` is `B and A`).
//! Asking again gets the same answer, so repeating averages nothing out. Seeding by the users
//! alone would not do: "A" and "A without the target" would get *equal* answers exactly when
//! the target is not in A, which tells the asker as much as exact counts (a test showed the
//! classic attack right 81% of the time that way). Every new question gets fresh noise, and
//! the privacy loss of the answers to different questions adds up. The sets a differencing attack needs are sets the attacker
//! chooses, and the only route where an `aggregate` token chooses a set is the estimate: the
//! other counts it sees (published tag values, saved segments and their histories, experiment
//! groups) are sets others defined, seeded by their users alone and answered the same every
//! time. So each token may spend [`AppSettings::daily_budget`] of ε per UTC day on new
//! questions ([`Budget`]; 500 by default, so 1,000 new counts a day at ε = 0.5, a funnel's
//! steps counting one each), after which estimates are refused (429) until the next day. An attacker who averages pairs of sets that
//! differ by the target needs about 128 answers to tell 0 from 1 at two standard deviations,
//! so a day's budget bounds what one token can learn that way; admins see the spend per token
//! in the log.
//!
//! Counts whose noisy value is below [`AppSettings::min_audience`] are withheld (`null` with
//! `suppressed: true`): comparing the noisy value, not the true one, keeps the threshold from
//! being a noiseless oracle of "at least k".

pub mod views;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use wire::{AppSettings, Role};

use crate::store::{Meta, StoreError};

/// The record key of an app's settings in the `access` table.
const SETTINGS: &str = "settings";
/// Prefix of the budget spent per (day, token).
const BUDGET: &str = "budget/";

/// ε of one answer when an app sets none.
pub const DEFAULT_EPSILON: f64 = 0.5;
/// ε a token may spend per day when an app sets none.
pub const DEFAULT_DAILY_BUDGET: f64 = 500.0;
/// Smallest and largest ε an app may set.
pub const EPSILON_RANGE: (f64, f64) = (0.01, 10.0);
/// Largest daily budget an app may set.
pub const MAX_DAILY_BUDGET: f64 = 100_000.0;

/// An app's privacy settings as stored, with the secret key its noise is seeded with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// See [`AppSettings::min_audience`].
    #[serde(default)]
    pub min_audience: u64,
    /// See [`AppSettings::epsilon`].
    pub epsilon: f64,
    /// See [`AppSettings::daily_budget`].
    pub daily_budget: f64,
    /// 32 random bytes, hex: the key of [`Noise`] (never leaves the server).
    pub noise_key: String,
}

impl Settings {
    fn fresh() -> Settings {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        Settings {
            min_audience: 0,
            epsilon: DEFAULT_EPSILON,
            daily_budget: DEFAULT_DAILY_BUDGET,
            noise_key: key.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// The settings as the API shows them.
    pub fn view(&self) -> AppSettings {
        AppSettings { min_audience: self.min_audience, epsilon: self.epsilon, daily_budget: self.daily_budget }
    }

    /// The noise these settings give.
    pub fn noise(&self) -> Noise {
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = self.noise_key.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
        }
        Noise { key, scale: 1.0 / self.epsilon, min_audience: self.min_audience }
    }
}

/// An app's settings, created with defaults (and a new noise key) on first use; the first
/// writer wins, so replicas agree on the key.
///
/// # Errors
/// The store failed.
pub fn settings(meta: &Meta, app: &str) -> Result<Settings, StoreError> {
    if let Some(s) = meta.access_get(app, SETTINGS)?.and_then(|b| serde_json::from_slice(&b).ok()) {
        return Ok(s);
    }
    let fresh = serde_json::to_vec(&Settings::fresh()).unwrap_or_default();
    meta.access_update(app, SETTINGS, |current| current.is_none().then_some(fresh))?;
    meta.access_get(app, SETTINGS)?
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| StoreError::Unavailable("the app's settings could not be stored".into()))
}

/// The app's noise when the caller's role is `aggregate`; `None` for every other role.
///
/// # Errors
/// The store failed.
pub fn aggregate_noise(meta: &Meta, app: &str, role: Option<Role>) -> Result<Option<Noise>, StoreError> {
    Ok(match role {
        Some(Role::Aggregate) => Some(settings(meta, app)?.noise()),
        _ => None,
    })
}

/// A set too small to leave the server: fewer users than the app's `min_audience`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} has {users} users, fewer than this app's minimum audience of {min_audience}")]
pub struct TooSmall {
    /// What was refused (`the segment's members`).
    pub what: String,
    /// Its users.
    pub users: u64,
    /// The app's minimum.
    pub min_audience: u64,
}

/// Refuses an export, sync, split or freeze of fewer than `min_audience` users (0: off), for
/// every role.
///
/// # Errors
/// [`TooSmall`].
pub fn check_audience(min_audience: u64, users: u64, what: impl Into<String>) -> Result<(), TooSmall> {
    if users < min_audience {
        return Err(TooSmall { what: what.into(), users, min_audience });
    }
    Ok(())
}

/// Why a settings change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value out of range: the field and why.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Changes an app's settings; returns them before and after.
///
/// # Errors
/// [`SettingsError::Invalid`] naming the field (nothing changes); the store failed.
pub fn change(
    meta: &Meta,
    app: &str,
    min_audience: Option<u64>,
    epsilon: Option<f64>,
    daily_budget: Option<f64>,
) -> Result<(Settings, Settings), SettingsError> {
    let before = settings(meta, app)?;
    let mut after = before.clone();
    if let Some(k) = min_audience {
        if k > 1_000_000_000 {
            return Err(SettingsError::Invalid("min_audience", "0 (off) to 1000000000".into()));
        }
        after.min_audience = k;
    }
    if let Some(e) = epsilon {
        if !(EPSILON_RANGE.0..=EPSILON_RANGE.1).contains(&e) {
            return Err(SettingsError::Invalid("epsilon", format!("{} to {}", EPSILON_RANGE.0, EPSILON_RANGE.1)));
        }
        after.epsilon = e;
    }
    if let Some(b) = daily_budget {
        if !(b.is_finite() && b >= after.epsilon && b <= MAX_DAILY_BUDGET) {
            return Err(SettingsError::Invalid("daily_budget", format!("epsilon to {MAX_DAILY_BUDGET}")));
        }
        after.daily_budget = b;
    } else if after.daily_budget < after.epsilon {
        return Err(SettingsError::Invalid("epsilon", "larger than the daily budget".into()));
    }
    let bytes = serde_json::to_vec(&after).unwrap_or_default();
    meta.access_update(app, SETTINGS, |_| Some(bytes))?;
    Ok((before, after))
}

/// A count as an `aggregate` token gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protected {
    /// The noisy count; `None` when withheld.
    pub count: Option<u64>,
    /// Withheld because the noisy count is below `min_audience`.
    pub suppressed: bool,
}

/// The noise of one app (see the module docs).
#[derive(Debug, Clone)]
pub struct Noise {
    key: [u8; 32],
    scale: f64,
    min_audience: u64,
}

/// What a noisy count is seeded by: 32 bytes derived from the counted set.
pub type Seed = [u8; 32];

impl Noise {
    /// The seed of a set of users, from the address of its blob (the blob is content-addressed:
    /// the same users give the same address whatever rule produced them), and a label telling
    /// apart counts of different kinds over the same sets (`entered` between two days).
    pub fn seed_of_set(&self, label: &str, blobs: &[&str]) -> Seed {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(label.as_bytes());
        for b in blobs {
            h.update(&[0]);
            h.update(b.as_bytes());
        }
        *h.finalize().as_bytes()
    }

    /// The count with its noise: `count + Laplace(1/ε)` from `seed`, rounded, at least 0,
    /// withheld below `min_audience`.
    pub fn protect(&self, count: u64, seed: &Seed) -> Protected {
        let noisy = (count as f64 + laplace(seed, self.scale)).round().max(0.0) as u64;
        if noisy < self.min_audience {
            Protected { count: None, suppressed: true }
        } else {
            Protected { count: Some(noisy), suppressed: false }
        }
    }

    /// A count for a storage format whose counts are numbers (manifests): withheld is `0`.
    pub fn protect_or_zero(&self, count: u64, seed: &Seed) -> u64 {
        self.protect(count, seed).count.unwrap_or(0)
    }

    /// The app's `min_audience` (0: off).
    pub fn min_audience(&self) -> u64 {
        self.min_audience
    }
}

/// A Laplace(0, `scale`) draw from `seed`, by the inverse of its distribution function.
fn laplace(seed: &Seed, scale: f64) -> f64 {
    let bits = u64::from_le_bytes(seed[..8].try_into().unwrap_or_default()) >> 11;
    // Uniform in (-0.5, 0.5), never exactly ±0.5 (where the logarithm is infinite).
    let u = (bits as f64 + 0.5) / (1u64 << 53) as f64 - 0.5;
    -scale * u.signum() * (1.0 - 2.0 * u.abs()).ln()
}

/// A rule's JSON in a form that does not depend on how it was written: object keys sorted,
/// the members of `all`, `any` and `in` sorted (their order means nothing).
pub fn canonical_rule(rule: &serde_json::Value) -> String {
    use serde_json::Value;
    fn walk(v: &Value, unordered: bool) -> String {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let fields: Vec<String> = keys
                    .into_iter()
                    .map(|k| {
                        format!(
                            "{}:{}",
                            Value::String(k.clone()),
                            walk(&map[k], matches!(k.as_str(), "all" | "any" | "in"))
                        )
                    })
                    .collect();
                format!("{{{}}}", fields.join(","))
            }
            Value::Array(items) => {
                let mut parts: Vec<String> = items.iter().map(|i| walk(i, false)).collect();
                if unordered {
                    parts.sort();
                }
                format!("[{}]", parts.join(","))
            }
            other => other.to_string(),
        }
    }
    walk(rule, false)
}

/// The UTC day of `now_ms` (`YYYY-MM-DD`): what budgets are kept per.
pub fn utc_day(now_ms: u64) -> String {
    let days = i32::try_from(now_ms / 86_400_000).unwrap_or(0);
    engine::ds::Ds::from_ymd(1970, 1, 1).map(|d| d.add_days(days).to_string()).unwrap_or_default()
}

/// Why a count was refused.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// The token's budget for today is spent.
    #[error("this token's privacy budget for today ({budget} ε) is spent; counts resume at 00:00 UTC")]
    Spent {
        /// The daily budget.
        budget: f64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The privacy budget each `aggregate` token spends on new sets, per UTC day (see the module
/// docs). Sets already answered today in this process cost nothing again; a set answered by
/// another replica may be charged twice, which errs on the side of privacy.
#[derive(Debug, Default)]
pub struct Budget {
    /// (app, token, day) → seeds answered.
    seen: Mutex<HashMap<(String, String, String), HashSet<Seed>>>,
}

#[derive(Serialize, Deserialize)]
struct Spent {
    spent: f64,
}

impl Budget {
    /// Charges a token for the sets of one answer (all or nothing).
    ///
    /// # Errors
    /// [`BudgetError::Spent`] when the new sets would overspend today's budget (nothing is
    /// charged then); the store failed.
    pub fn charge(
        &self,
        meta: &Meta,
        app: &str,
        token: &str,
        day: &str,
        settings: &Settings,
        seeds: &[Seed],
    ) -> Result<(), BudgetError> {
        let key = (app.to_owned(), token.to_owned(), day.to_owned());
        let new: Vec<Seed> = {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let known = seen.get(&key);
            let mut new: Vec<Seed> = seeds.iter().filter(|s| known.is_none_or(|k| !k.contains(*s))).copied().collect();
            new.sort_unstable();
            new.dedup();
            new
        };
        if new.is_empty() {
            return Ok(());
        }
        let cost = settings.epsilon * new.len() as f64;
        let mut over = false;
        meta.access_update(app, &format!("{BUDGET}{day}/{token}"), |current| {
            let spent = current.and_then(|b| serde_json::from_slice::<Spent>(&b).ok()).map_or(0.0, |s| s.spent);
            if spent + cost > settings.daily_budget + 1e-9 {
                over = true;
                return None;
            }
            serde_json::to_vec(&Spent { spent: spent + cost }).ok()
        })?;
        if over {
            return Err(BudgetError::Spent { budget: settings.daily_budget });
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|(_, _, d), _| d == day);
        seen.entry(key).or_default().extend(new);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(min_audience: u64) -> Noise {
        Noise { key: [7; 32], scale: 2.0, min_audience }
    }

    #[test]
    fn the_same_set_gets_the_same_answer_and_other_sets_other_noise() {
        let n = noise(0);
        let a = n.seed_of_set("count", &["aa"]);
        assert_eq!(n.protect(1000, &a), n.protect(1000, &a));
        let answers: HashSet<u64> =
            (0..50).map(|i| n.protect(1000, &n.seed_of_set("count", &[&format!("b{i}")])).count.unwrap_or(0)).collect();
        assert!(answers.len() > 5, "fresh noise per set: {answers:?}");
        let other_key = Noise { key: [8; 32], ..n.clone() };
        assert_ne!(n.seed_of_set("count", &["aa"]), other_key.seed_of_set("count", &["aa"]));
    }

    #[test]
    fn the_noise_is_laplace_of_the_chosen_scale() {
        // Mean ~0 and mean absolute deviation ~scale, over many seeds.
        let n = noise(0);
        let draws: Vec<f64> = (0..20_000u32)
            .map(|i| {
                let s = n.seed_of_set("x", &[&i.to_string()]);
                laplace(&s, 2.0)
            })
            .collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let mad = draws.iter().map(|d| d.abs()).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((mad - 2.0).abs() < 0.1, "mean absolute deviation {mad}");
    }

    #[test]
    fn a_rule_written_in_another_order_has_one_canonical_form() {
        let a = serde_json::json!({"all": [{"tag": "g", "in": ["b", "a"]}, {"not": {"segment": "s"}}]});
        let b = serde_json::json!({"all": [{"not": {"segment": "s"}}, {"in": ["a", "b"], "tag": "g"}]});
        assert_eq!(canonical_rule(&a), canonical_rule(&b));
        let c = serde_json::json!({"all": [{"tag": "g", "in": ["a"]}, {"not": {"segment": "s"}}]});
        assert_ne!(canonical_rule(&a), canonical_rule(&c));
        // Order matters where it means something: a between's bounds.
        let lo = serde_json::json!({"tag": "age", "between": [1, 2]});
        let hi = serde_json::json!({"tag": "age", "between": [2, 1]});
        assert_ne!(canonical_rule(&lo), canonical_rule(&hi));
    }

    #[test]
    fn budgets_are_per_utc_day() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_780_000_000_000), "2026-05-28");
    }

    #[test]
    fn small_noisy_counts_are_withheld() {
        let n = noise(100);
        let s = n.seed_of_set("count", &["z"]);
        assert_eq!(n.protect(3, &s), Protected { count: None, suppressed: true });
        assert!(n.protect(10_000, &s).count.is_some_and(|c| c.abs_diff(10_000) < 60));
        assert_eq!(n.protect_or_zero(3, &s), 0);
    }
}
