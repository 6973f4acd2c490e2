//! The `access` table (token records, settings, the audit log, counters: records the domain
//! encodes, keyed by (app, kind-prefixed id)) and token changes, which write it together with
//! the `tokens` table.

use redb::{ReadableTable, WriteTransaction};

use super::{ACCESS, Embedded, StoreError, TOKENS, name, seal, unseal};
use crate::store::meta::backend::Change;
use crate::store::meta::codec::{TokenInfo, encode};
use crate::store::records::KeyPart;

impl Embedded {
    /// See [`crate::store::meta::Backend::access_get`].
    pub fn access_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| match txn.open_table(ACCESS)?.get((app, id))? {
            Some(v) => Ok(Some(unseal(name::ACCESS, &[KeyPart::Text(app), KeyPart::Text(id)], v.value())?.to_vec())),
            None => Ok(None),
        })
    }

    /// See [`crate::store::meta::Backend::access_list`].
    pub fn access_list(
        &self,
        app: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(ACCESS)?;
            let start = after.filter(|a| *a >= prefix).unwrap_or(prefix);
            let mut out = Vec::new();
            for row in t.range((app, start)..)? {
                let (k, v) = row?;
                let (a, id) = k.value();
                if a != app || !id.starts_with(prefix) || out.len() >= limit {
                    break;
                }
                if after == Some(id) {
                    continue;
                }
                let value = unseal(name::ACCESS, &[KeyPart::Text(app), KeyPart::Text(id)], v.value())?;
                out.push((id.to_owned(), value.to_vec()));
            }
            Ok(out)
        })
    }

    /// See [`crate::store::meta::Backend::access_update`].
    pub fn access_update(&self, app: &str, id: &str, f: Change<'_>) -> Result<Option<Vec<u8>>, StoreError> {
        let key = [KeyPart::Text(app), KeyPart::Text(id)];
        self.write(|txn| {
            let mut t = txn.open_table(ACCESS)?;
            let current = match t.get((app, id))? {
                Some(v) => Some(unseal(name::ACCESS, &key, v.value())?.to_vec()),
                None => None,
            };
            match f(current) {
                Some(new) => {
                    t.insert((app, id), seal(name::ACCESS, &key, &new).as_slice())?;
                    Ok((Some(new), true))
                }
                None => Ok((None, false)),
            }
        })
    }

    /// See [`crate::store::meta::Backend::token_change`].
    pub fn token_change(
        &self,
        app: &str,
        id: &str,
        record: Option<&[u8]>,
        put: &[(String, TokenInfo)],
        delete: &[String],
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            change_token(txn, app, id, record, put, delete)?;
            Ok(((), true))
        })
    }
}

fn change_token(
    txn: &WriteTransaction,
    app: &str,
    id: &str,
    record: Option<&[u8]>,
    put: &[(String, TokenInfo)],
    delete: &[String],
) -> Result<(), StoreError> {
    let mut secrets = txn.open_table(TOKENS)?;
    for key in delete {
        secrets.remove(key.as_str())?;
    }
    for (key, info) in put {
        secrets.insert(key.as_str(), seal(name::TOKENS, &[KeyPart::Text(key)], &encode(info)).as_slice())?;
    }
    let mut records = txn.open_table(ACCESS)?;
    match record {
        Some(r) => {
            records.insert((app, id), seal(name::ACCESS, &[KeyPart::Text(app), KeyPart::Text(id)], r).as_slice())?;
        }
        None => {
            records.remove((app, id))?;
        }
    }
    Ok(())
}
