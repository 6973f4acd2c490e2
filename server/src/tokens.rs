//! App tokens over their life: created with a name, role and optional expiry; listed; rotated
//! (a new secret, the old one valid for a grace period); revoked; their last use noted.
//!
//! A token is two kinds of record, changed together in one transaction
//! ([`Meta::token_change`]):
//! - its **record** in the `access` table at `token/<id>` ([`TokenRecord`]): name, role,
//!   creator, dates, and the hashes of its live secrets;
//! - one **secret** entry per live secret in the `tokens` table, keyed by the secret's hash:
//!   what a request's bearer token is looked up by ([`TokenInfo`]: app, role, id, and when the
//!   secret stops working).
//!
//! Revoking removes both, so the next lookup fails (see [`Meta::lookup_token`] for why that
//! holds on every replica). Expiry and grace periods are an `expires_ms` on the secret entry,
//! checked at lookup, so nothing has to run at the moment a token expires.
//!
//! Last use is noted in memory on each request ([`LastUse`]) and written at most once a minute
//! per token: a store write per request would double the cost of a membership lookup.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use wire::{Actor, Role, Token};

use crate::store::meta::{TokenInfo, token_key};
use crate::store::{Meta, StoreError};

/// Prefix of token records in the `access` table.
const PREFIX: &str = "token/";

/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Longest grace period of a rotation: 30 days.
pub const MAX_GRACE_SECS: u64 = 30 * 24 * 3600;

/// Grace period of a rotation when the request names none: one hour.
pub const DEFAULT_GRACE_SECS: u64 = 3600;

/// How often last use is written per token, at most.
const LAST_USE_EVERY_MS: u64 = 60_000;

/// One live secret of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// Its hash (the key of its entry in the `tokens` table).
    pub key: String,
    /// When it stops working (the end of a rotation's grace period); `None`: with the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
}

/// A token's record (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// What it is for.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Who created it.
    pub creator: Actor,
    /// When, ms since the epoch.
    pub created_ms: u64,
    /// When it stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// Last use, as last written (to the minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_ms: Option<u64>,
    /// Its live secrets: the current one last.
    pub secrets: Vec<Secret>,
}

impl TokenRecord {
    /// The token as admins see it.
    pub fn view(&self, id: &str, last_used_ms: Option<u64>, now_ms: u64) -> Token {
        Token {
            id: id.to_owned(),
            name: self.name.clone(),
            role: self.role,
            creator: self.creator.clone(),
            created_ms: self.created_ms,
            expires_ms: self.expires_ms,
            last_used_ms: self.last_used_ms.max(last_used_ms),
            previous_valid_until_ms: self
                .secrets
                .iter()
                .filter_map(|s| s.until_ms)
                .filter(|until| *until > now_ms)
                .max(),
        }
    }

    /// The secret entry of one of its secrets.
    fn entry(&self, app: &str, id: &str, secret: &Secret) -> (String, TokenInfo) {
        let expires_ms = match (self.expires_ms, secret.until_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (secret.key.clone(), TokenInfo { app: app.to_owned(), role: self.role, id: id.to_owned(), expires_ms })
    }
}

/// Why a token change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No live token with that id in the app.
    #[error("no token `{0}`")]
    Missing(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new random secret: `sv_` and 48 hex digits.
fn new_secret() -> String {
    let mut raw = [0u8; 24];
    rand::fill(&mut raw);
    format!("sv_{}", raw.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A new token id: `tk_` and 16 hex digits.
fn new_id() -> String {
    let mut raw = [0u8; 8];
    rand::fill(&mut raw);
    format!("tk_{}", raw.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn key_of(id: &str) -> String {
    format!("{PREFIX}{id}")
}

fn decode(bytes: &[u8]) -> Option<TokenRecord> {
    serde_json::from_slice(bytes).ok()
}

fn encode(record: &TokenRecord) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

/// What a new token is.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it stops working.
    pub expires_ms: Option<u64>,
    /// Who creates it.
    pub creator: Actor,
}

/// Creates a token; returns its id, its secret (shown once) and its record.
///
/// # Errors
/// The store failed.
pub fn create(meta: &Meta, app: &str, new: NewToken, now_ms: u64) -> Result<(String, String, TokenRecord), StoreError> {
    let (id, secret) = (new_id(), new_secret());
    let record = TokenRecord {
        name: new.name,
        role: new.role,
        creator: new.creator,
        created_ms: now_ms,
        expires_ms: new.expires_ms,
        last_used_ms: None,
        secrets: vec![Secret { key: token_key(&secret), until_ms: None }],
    };
    let entry = record.entry(app, &id, &record.secrets[0]);
    meta.token_change(app, &key_of(&id), Some(&encode(&record)), &[entry], &[])?;
    Ok((id, secret, record))
}

/// Creates a token named for its role, by `creator` (scripts, tests, `sieve synth`); returns
/// its secret.
///
/// # Errors
/// The store failed.
pub fn create_simple(meta: &Meta, app: &str, role: Role, creator: &str) -> Result<String, StoreError> {
    let new = NewToken {
        name: format!("{} token", role.as_str()),
        role,
        expires_ms: None,
        creator: Actor { id: None, name: creator.to_owned() },
    };
    Ok(create(meta, app, new, crate::clock::now_ms())?.1)
}

/// The app's live tokens, oldest first, with `last_use`'s unwritten notes.
///
/// # Errors
/// The store failed.
pub fn list(meta: &Meta, app: &str, last_use: &LastUse, now_ms: u64) -> Result<Vec<Token>, StoreError> {
    let mut out: Vec<Token> = meta
        .access_list(app, PREFIX, None, usize::MAX)?
        .into_iter()
        .filter_map(|(key, bytes)| {
            let id = key.strip_prefix(PREFIX)?.to_owned();
            let record = decode(&bytes)?;
            record.expires_ms.is_none_or(|end| end > now_ms).then(|| record.view(&id, last_use.get(app, &id), now_ms))
        })
        .collect();
    out.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
    Ok(out)
}

/// One token's record.
///
/// # Errors
/// [`TokenError::Missing`] when the app has no such token; the store failed.
pub fn get(meta: &Meta, app: &str, id: &str) -> Result<TokenRecord, TokenError> {
    meta.access_get(app, &key_of(id))?.as_deref().and_then(decode).ok_or_else(|| TokenError::Missing(id.to_owned()))
}

/// Gives a token a new secret; its other secrets keep working for `grace_ms` more (or less,
/// if they were to stop sooner). Returns the new secret and record.
///
/// # Errors
/// [`TokenError::Missing`]; the store failed.
pub fn rotate(
    meta: &Meta,
    app: &str,
    id: &str,
    grace_ms: u64,
    now_ms: u64,
) -> Result<(String, TokenRecord), TokenError> {
    let mut record = get(meta, app, id)?;
    let secret = new_secret();
    let until = now_ms + grace_ms;
    let (mut keep, mut gone) = (Vec::new(), Vec::new());
    for mut s in std::mem::take(&mut record.secrets) {
        s.until_ms = Some(s.until_ms.map_or(until, |u| u.min(until)));
        if grace_ms == 0 || s.until_ms.is_some_and(|u| u <= now_ms) {
            gone.push(s.key);
        } else {
            keep.push(s);
        }
    }
    keep.push(Secret { key: token_key(&secret), until_ms: None });
    record.secrets = keep;
    let entries: Vec<_> = record.secrets.iter().map(|s| record.entry(app, id, s)).collect();
    meta.token_change(app, &key_of(id), Some(&encode(&record)), &entries, &gone)?;
    Ok((secret, record))
}

/// Revokes a token: every secret of it stops working on the next request. Returns its record.
///
/// # Errors
/// [`TokenError::Missing`]; the store failed.
pub fn revoke(meta: &Meta, app: &str, id: &str) -> Result<TokenRecord, TokenError> {
    let record = get(meta, app, id)?;
    let keys: Vec<String> = record.secrets.iter().map(|s| s.key.clone()).collect();
    meta.token_change(app, &key_of(id), None, &[], &keys)?;
    Ok(record)
}

/// Gives every token made before token ids a record, so admins see and can revoke it; run at
/// start-up (a token record that exists is left alone, so replicas may race on it).
///
/// # Errors
/// The store failed.
pub fn adopt_legacy(meta: &Meta, now_ms: u64) -> Result<usize, StoreError> {
    let mut adopted = 0;
    for (key, info) in meta.token_secrets()? {
        if !info.id.is_empty() {
            continue;
        }
        let id = format!("tk_{}", &key[..16]);
        let record = TokenRecord {
            name: format!("{} token", info.role.as_str()),
            role: info.role,
            creator: Actor { id: None, name: "unknown (made before token records)".into() },
            created_ms: now_ms,
            expires_ms: None,
            last_used_ms: None,
            secrets: vec![Secret { key: key.clone(), until_ms: None }],
        };
        let entry = record.entry(&info.app, &id, &record.secrets[0]);
        meta.token_change(&info.app, &key_of(&id), Some(&encode(&record)), &[entry], &[])?;
        adopted += 1;
    }
    Ok(adopted)
}

/// Last uses noted in memory and not yet written (see the module docs).
#[derive(Debug, Default)]
pub struct LastUse {
    /// (app, token id) → (last use, when it was last written).
    seen: Mutex<HashMap<(String, String), (u64, u64)>>,
}

impl LastUse {
    /// Notes a use; `true` when it is time to write it (see [`LastUse::write`]).
    pub fn note(&self, app: &str, id: &str, now_ms: u64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let entry = seen.entry((app.to_owned(), id.to_owned())).or_insert((now_ms, 0));
        entry.0 = now_ms;
        if now_ms.saturating_sub(entry.1) >= LAST_USE_EVERY_MS {
            entry.1 = now_ms;
            true
        } else {
            false
        }
    }

    /// The last use noted in this process.
    pub fn get(&self, app: &str, id: &str) -> Option<u64> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&(app.to_owned(), id.to_owned())).map(|e| e.0)
    }

    /// Writes a use into the token's record (kept when a later one is there; nothing when the
    /// token is gone).
    ///
    /// # Errors
    /// The store failed.
    pub fn write(meta: &Meta, app: &str, id: &str, used_ms: u64) -> Result<(), StoreError> {
        meta.access_update(app, &key_of(id), |current| {
            let mut record = decode(&current?)?;
            (record.last_used_ms < Some(used_ms)).then(|| {
                record.last_used_ms = Some(used_ms);
                encode(&record)
            })
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_use_is_written_once_a_minute() {
        let l = LastUse::default();
        assert!(l.note("a", "t", 1_000_000));
        assert!(!l.note("a", "t", 1_030_000));
        assert_eq!(l.get("a", "t"), Some(1_030_000));
        assert!(l.note("a", "t", 1_060_000));
        assert!(l.note("a", "u", 1_060_001), "per token");
    }

    #[test]
    fn a_secret_ends_with_the_token_or_its_grace_whichever_first() {
        let r = TokenRecord {
            name: "n".into(),
            role: Role::Viewer,
            creator: Actor { id: None, name: "admin token".into() },
            created_ms: 0,
            expires_ms: Some(500),
            last_used_ms: None,
            secrets: vec![],
        };
        let e = |until| r.entry("a", "t", &Secret { key: "k".into(), until_ms: until }).1.expires_ms;
        assert_eq!(e(None), Some(500));
        assert_eq!(e(Some(300)), Some(300));
        assert_eq!(e(Some(900)), Some(500));
    }
}
