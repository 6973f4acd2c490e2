//! The `days` table: the pointer from each (app, day) to its published manifest, and the
//! publish transaction that moves pointers, adds dictionary entries (or moves a `u32` app's
//! universe) and queues recomputes together.

use redb::ReadableTable;

use super::{ACCESS, APPS, DAYS, DICT, DICT_REV, Embedded, StoreError, app_rows, encode, jobs, name, seal};
use crate::jobs::JobKind;
use crate::store::meta::codec::{DayRecord, Publish, app_record, day_record, dict_entries};
use crate::store::records::KeyPart;

impl Embedded {
    /// The published version of a day.
    pub fn day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        self.read(|txn| match txn.open_table(DAYS)?.get((app, ds))? {
            Some(v) => Ok(Some(day_record(app, ds, v.value())?)),
            None => Ok(None),
        })
    }

    /// The latest published day of an app.
    pub fn latest_day(&self, app: &str) -> Result<Option<(String, DayRecord)>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(DAYS)?;
            // Days sort as text (YYYY-MM-DD), so the app's last key is its latest day; `\u{10ffff}`
            // sorts after any ds.
            let last = t.range((app, "")..(app, "\u{10ffff}"))?.next_back().transpose()?;
            match last {
                Some((k, v)) => {
                    let ds = k.value().1;
                    Ok(Some((ds.to_owned(), day_record(app, ds, v.value())?)))
                }
                None => Ok(None),
            }
        })
    }

    /// Every published day of an app, oldest first.
    pub fn days(&self, app: &str) -> Result<Vec<(String, DayRecord)>, StoreError> {
        self.read(|txn| app_rows(txn, DAYS, app, |ds, v| day_record(app, ds, v)))
    }

    /// Commits a publish in one transaction: the new dictionary entries and every day pointer,
    /// each only if the day is still at the version the publisher started from.
    pub fn publish(&self, p: &Publish<'_>) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut days = txn.open_table(DAYS)?;
            // The dictionary must still end where the publisher's copy of it did.
            let len = dict_len(&txn.open_table(DICT_REV)?, p.app)?;
            if !p.new_ids.is_empty() && len != p.first_new_id {
                return Err(StoreError::Conflict { what: "the dictionary".to_owned() });
            }
            for (ds, expected, record) in &p.days {
                let current = match days.get((p.app, ds.as_str()))? {
                    Some(v) => day_record(p.app, ds, v.value())?.version,
                    None => 0,
                };
                if current != *expected {
                    return Err(StoreError::Conflict { what: format!("day {ds}") });
                }
                let key = [KeyPart::Text(p.app), KeyPart::Text(ds)];
                days.insert((p.app, ds.as_str()), seal(name::DAYS, &key, &encode(record)).as_slice())?;
            }
            let mut dict = txn.open_table(DICT)?;
            let mut rev = txn.open_table(DICT_REV)?;
            for (i, ext) in p.new_ids.iter().enumerate() {
                let id = p.first_new_id + i as u32;
                let (forward, reverse) = dict_entries(p.app, id, ext);
                dict.insert((p.app, ext.as_str()), forward.as_slice())?;
                rev.insert((p.app, id), reverse.as_slice())?;
            }
            if let Some(universe) = p.universe {
                let mut apps = txn.open_table(APPS)?;
                let stored = apps.get(p.app)?.map(|v| v.value().to_vec());
                let mut record = match stored {
                    Some(v) => app_record(p.app, &v)?,
                    None => return Err(StoreError::NoApp(p.app.to_owned())),
                };
                record.universe = Some(universe.to_owned());
                apps.insert(p.app, seal(name::APPS, &[KeyPart::Text(p.app)], &encode(&record)).as_slice())?;
            }
            jobs::enqueue(txn, p.app, JobKind::Segments, &p.recompute)?;
            let mut access = txn.open_table(ACCESS)?;
            for (id, value) in &p.records {
                let key = [KeyPart::Text(p.app), KeyPart::Text(id)];
                access.insert((p.app, id.as_str()), seal(name::ACCESS, &key, value).as_slice())?;
            }
            Ok(((), true))
        })
    }

    /// Removes a day pointer in one transaction; the removed record, or `None` (nothing
    /// changes) when the day has none. The day's blobs stay: later days may name them.
    pub fn delete_day(&self, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
        self.write(|txn| {
            let mut days = txn.open_table(DAYS)?;
            let removed = match days.remove((app, ds))? {
                Some(v) => Some(day_record(app, ds, v.value())?),
                None => None,
            };
            let changed = removed.is_some();
            if changed {
                // Event windows of later days may have read the deleted day: their segments
                // are recomputed by the app's durable job, queued with the delete.
                let later: Vec<String> = jobs::days_of(&days, app)?.into_iter().filter(|d| d.as_str() > ds).collect();
                drop(days);
                jobs::enqueue(txn, app, JobKind::Segments, &later)?;
            }
            Ok((removed, changed))
        })
    }
}

/// How many entries an app's dictionary has: its last dense id + 1 (ids are dense from 0).
fn dict_len(t: &redb::Table<'_, (&'static str, u32), &'static [u8]>, app: &str) -> Result<u32, StoreError> {
    let last = t.range((app, 0u32)..=(app, u32::MAX))?.next_back().transpose()?;
    Ok(last.map_or(0, |(k, _)| k.value().1 + 1))
}
