//! The `dict` and `dict_rev` tables: each app's external user ids and their dense ids, both
//! ways (written by a publish, in its transaction; see `days`).

use redb::ReadableDatabase as _;

use super::{DICT, DICT_REV, Embedded, StoreError, catching, dense_id, external_id, name};
use crate::store::records::KeyPart;
use crate::store::records::RecordId;

impl Embedded {
    /// The dense id of an external user id.
    pub fn dict_lookup(&self, app: &str, external: &str) -> Result<Option<u32>, StoreError> {
        self.read(|txn| match txn.open_table(DICT)?.get((app, external))? {
            Some(v) => dense_id(name::DICT, &[KeyPart::Text(app), KeyPart::Text(external)], v.value()).map(Some),
            None => Ok(None),
        })
    }

    /// The external id of a dense id.
    pub fn dict_external(&self, app: &str, id: u32) -> Result<Option<String>, StoreError> {
        self.read(|txn| match txn.open_table(DICT_REV)?.get((app, id))? {
            Some(v) => {
                Ok(Some(external_id(name::DICT_REV, &[KeyPart::Text(app), KeyPart::Id(id)], v.value())?.to_owned()))
            }
            None => Ok(None),
        })
    }

    /// The external ids from dense id `from` on, in order (index + `from` = dense id).
    pub fn dict_load_from(&self, app: &str, from: u32) -> Result<Vec<String>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(DICT_REV)?;
            let mut out = Vec::new();
            for row in t.range((app, from)..=(app, u32::MAX))? {
                let (k, v) = row?;
                let id = k.value().1;
                let expected = from + out.len() as u32;
                if id != expected {
                    // Ids are dense: a gap means a lost entry, and every later id would shift.
                    return Err(StoreError::Damaged(RecordId::new(
                        name::DICT_REV,
                        &[KeyPart::Text(app), KeyPart::Id(expected)],
                    )));
                }
                out.push(external_id(name::DICT_REV, &[KeyPart::Text(app), KeyPart::Id(id)], v.value())?.to_owned());
            }
            Ok(out)
        })
    }

    /// External ids of many dense ids (sorted ascending), streamed to `f` in order. An id with
    /// no entry is skipped; a damaged entry stops the stream with [`StoreError::Damaged`].
    ///
    /// Not retried after an I/O failure (`f` may have seen some ids already).
    pub fn dict_externals(
        &self,
        app: &str,
        ids: &mut dyn Iterator<Item = u32>,
        f: &mut dyn FnMut(u32, &str),
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let run = || -> Result<(), StoreError> {
            let txn = db.begin_read()?;
            let t = txn.open_table(DICT_REV)?;
            for id in ids {
                if let Some(v) = t.get((app, id))? {
                    f(id, external_id(name::DICT_REV, &[KeyPart::Text(app), KeyPart::Id(id)], v.value())?);
                }
            }
            Ok(())
        };
        catching(run).unwrap_or_else(|panic| Err(StoreError::Panicked(panic))).map_err(|e| self.failed(&db, e))
    }
}
