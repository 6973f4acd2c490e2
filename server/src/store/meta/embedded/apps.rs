//! The `apps` and `tokens` tables: tenants, and app tokens kept as their BLAKE3 hash.

use redb::ReadableTable;

use super::{APPS, Embedded, StoreError, TOKENS, encode, name, seal, unseal};
use crate::store::meta::codec::{AppRecord, TokenInfo, app_record, token_record};
use crate::store::records::KeyPart;

impl Embedded {
    /// Creates an app; `false` if it already exists (nothing changes then).
    pub fn create_app(&self, id: &str, record: &AppRecord) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(APPS)?;
            if t.get(id)?.is_some() {
                return Ok((false, false));
            }
            t.insert(id, seal(name::APPS, &[KeyPart::Text(id)], &encode(record)).as_slice())?;
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

    /// The scope stored under a token hash.
    pub fn token(&self, key: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.read(|txn| match txn.open_table(TOKENS)?.get(key)? {
            Some(v) => Ok(Some(token_record(key, v.value())?)),
            None => Ok(None),
        })
    }
}
