//! Records as stored, for copies between stores (`sieve migrate`): every table exported in key
//! order from one read transaction, and records imported verbatim (kept when already there).

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    ACCESS, APPS, DAYS, DICT, DICT_REV, EXPERIMENTS, Embedded, IDEMPOTENCY, JOBS, SEGMENTS, StoreError, TOKENS,
    catching, name,
};
use crate::store::meta::codec::{RawKey, RawRecord};

/// The (app, text)-keyed table of a name.
fn pair_table(table: &str) -> Option<TableDefinition<'static, (&'static str, &'static str), &'static [u8]>> {
    Some(match table {
        name::DICT => DICT,
        name::DAYS => DAYS,
        name::SEGMENTS => SEGMENTS,
        name::EXPERIMENTS => EXPERIMENTS,
        name::IDEMPOTENCY => IDEMPOTENCY,
        name::JOBS => JOBS,
        name::ACCESS => ACCESS,
        _ => return None,
    })
}

impl Embedded {
    /// See [`crate::store::meta::Backend::export_records`].
    pub fn export_records(
        &self,
        table: &'static str,
        f: &mut dyn FnMut(RawRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let run = || -> Result<(), StoreError> {
            let txn = db.begin_read()?;
            match table {
                name::APPS | name::TOKENS => {
                    let def = if table == name::APPS { APPS } else { TOKENS };
                    for row in txn.open_table(def)?.iter()? {
                        let (k, v) = row?;
                        f(RawRecord { table, key: RawKey::One(k.value().to_owned()), value: v.value().to_vec() })?;
                    }
                }
                name::DICT_REV => {
                    for row in txn.open_table(DICT_REV)?.iter()? {
                        let (k, v) = row?;
                        let (app, id) = k.value();
                        f(RawRecord { table, key: RawKey::Id(app.to_owned(), id), value: v.value().to_vec() })?;
                    }
                }
                other => {
                    let def = pair_table(other).ok_or(StoreError::Unsupported("no such table"))?;
                    for row in txn.open_table(def)?.iter()? {
                        let (k, v) = row?;
                        let (app, id) = k.value();
                        let key = RawKey::Pair(app.to_owned(), id.to_owned());
                        f(RawRecord { table, key, value: v.value().to_vec() })?;
                    }
                }
            }
            Ok(())
        };
        catching(run).unwrap_or_else(|panic| Err(StoreError::Panicked(panic))).map_err(|e| self.failed(&db, e))
    }

    /// See [`crate::store::meta::Backend::import_records`].
    pub fn import_records(&self, records: &[RawRecord]) -> Result<u64, StoreError> {
        self.write(|txn| {
            let mut new = 0;
            for r in records {
                let added = match (&r.key, r.table) {
                    (RawKey::One(k), name::APPS | name::TOKENS) => {
                        let mut t = txn.open_table(if r.table == name::APPS { APPS } else { TOKENS })?;
                        t.get(k.as_str())?.is_none() && t.insert(k.as_str(), r.value.as_slice())?.is_none()
                    }
                    (RawKey::Id(app, id), name::DICT_REV) => {
                        let mut t = txn.open_table(DICT_REV)?;
                        t.get((app.as_str(), *id))?.is_none()
                            && t.insert((app.as_str(), *id), r.value.as_slice())?.is_none()
                    }
                    (RawKey::Pair(app, id), table) => {
                        let def = pair_table(table).ok_or(StoreError::Unsupported("a record of no such table"))?;
                        let mut t = txn.open_table(def)?;
                        let key = (app.as_str(), id.as_str());
                        t.get(key)?.is_none() && t.insert(key, r.value.as_slice())?.is_none()
                    }
                    _ => return Err(StoreError::Unsupported("a record whose key does not fit its table")),
                };
                new += u64::from(added);
            }
            Ok((new, true))
        })
    }
}
