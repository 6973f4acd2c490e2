//! The `apps` and `tokens` tables: tenants, and app tokens kept as their BLAKE3 hash.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use wire::IdKind;

use super::{APPS, Meta, Role, StoreError, TOKENS, decode, encode, name, now_ms, seal, unseal};
use crate::store::records::KeyPart;

/// An app token's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The app the token belongs to.
    pub app: String,
    /// What it may do.
    pub role: Role,
}

/// An app (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// Display name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// What its user ids are (fixed at creation; apps from before the choice hold strings).
    #[serde(default)]
    pub ids: IdKind,
    /// For `u32` apps: the blob of every user published so far (the role the dictionary has
    /// for string ids), moved by each publish in its transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub universe: Option<String>,
}

impl Meta {
    /// Creates an app; `false` if it already exists (nothing changes then).
    pub fn create_app(&self, id: &str, name: &str, ids: IdKind) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(APPS)?;
            if t.get(id)?.is_some() {
                return Ok((false, false));
            }
            let record = encode(&AppRecord { name: name.to_owned(), created_ms: now_ms(), ids, universe: None });
            t.insert(id, seal(name::APPS, &[KeyPart::Text(id)], &record).as_slice())?;
            Ok((true, true))
        })
    }

    /// An app's record.
    pub fn app(&self, id: &str) -> Result<Option<AppRecord>, StoreError> {
        self.read(|txn| match txn.open_table(APPS)?.get(id)? {
            Some(v) => Ok(Some(app_record(id, v.value())?)),
            None => Ok(None),
        })
    }

    /// What an app's user ids are (`None`: no such app). Cached: the kind never changes.
    pub fn id_kind(&self, id: &str) -> Result<Option<IdKind>, StoreError> {
        if let Some(kind) = self.id_kinds.get(id) {
            return Ok(Some(kind));
        }
        let kind = self.app(id)?.map(|record| record.ids);
        if let Some(kind) = kind {
            self.id_kinds.insert(id.to_owned(), kind);
        }
        Ok(kind)
    }

    /// Whether an app exists.
    pub fn app_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.read(|txn| match txn.open_table(APPS)?.get(id)? {
            Some(v) => unseal(name::APPS, &[KeyPart::Text(id)], v.value()).map(|_| true),
            None => Ok(false),
        })
    }

    /// Every app, by id.
    pub fn apps(&self) -> Result<Vec<(String, AppRecord)>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(APPS)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                out.push((k.value().to_owned(), app_record(k.value(), v.value())?));
            }
            Ok(out)
        })
    }

    /// Creates a token for an app and returns its secret (shown once; only its hash is kept).
    pub fn create_token(&self, app: &str, role: Role) -> Result<String, StoreError> {
        let mut raw = [0u8; 24];
        rand::fill(&mut raw);
        let secret = format!("sv_{}", raw.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let key = token_key(&secret);
        let record = encode(&TokenInfo { app: app.to_owned(), role });
        self.write(|txn| {
            txn.open_table(TOKENS)?
                .insert(key.as_str(), seal(name::TOKENS, &[KeyPart::Text(&key)], &record).as_slice())?;
            Ok(((), true))
        })?;
        Ok(secret)
    }

    /// The scope of a token secret, if it is one of ours.
    pub fn lookup_token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        let key = token_key(secret);
        if let Some(info) = self.tokens.get(&key) {
            return Ok(Some(info));
        }
        let info: Option<TokenInfo> = self.read(|txn| match txn.open_table(TOKENS)?.get(key.as_str())? {
            Some(v) => Ok(Some(decode("token", unseal(name::TOKENS, &[KeyPart::Text(&key)], v.value())?)?)),
            None => Ok(None),
        })?;
        // Only found tokens are cached, so guessing cannot fill the cache.
        if let Some(info) = &info {
            self.tokens.insert(key, info.clone());
        }
        Ok(info)
    }
}

/// An app record, checked and decoded.
pub(super) fn app_record(id: &str, stored: &[u8]) -> Result<AppRecord, StoreError> {
    decode(id, unseal(name::APPS, &[KeyPart::Text(id)], stored)?)
}

/// Tokens are kept as their BLAKE3 hash, so a copy of the database does not leak them.
fn token_key(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}
