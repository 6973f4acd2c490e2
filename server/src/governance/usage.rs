//! Estimates counted per tag group and value, cheaply: each estimate adds to a map in memory
//! (no store write on the request path), and [`Counts::flush`] adds the counts to one record
//! per group and UTC day (`usage/<group>/<day>`) every few seconds, like the audit module's
//! lookup counter. A kill loses at most those seconds of counts; a failed flush keeps them for
//! the next. The catalog sums the last 30 days' records.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::ds::Ds;
use crate::store::{Meta, StoreError};

const PREFIX: &str = "usage/";

/// (app, UTC day, group).
type Key = (String, String, String);

/// Estimates counted in memory until [`Counts::flush`].
#[derive(Debug, Default)]
pub struct Counts {
    pending: Mutex<HashMap<Key, Stored>>,
}

/// One group's estimates on one day, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// Estimates whose rule named the group.
    pub total: u64,
    /// Of those, per value named.
    pub values: BTreeMap<String, u64>,
}

impl Stored {
    fn add(&mut self, other: &Stored) {
        self.total += other.total;
        for (v, n) in &other.values {
            *self.values.entry(v.clone()).or_default() += n;
        }
    }
}

impl Counts {
    /// Counts one estimate on `day` (UTC) naming `refs` (group → values).
    pub fn count(&self, app: &str, day: &str, refs: &BTreeMap<String, BTreeSet<String>>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (group, values) in refs {
            let s = pending.entry((app.to_owned(), day.to_owned(), group.clone())).or_default();
            s.total += 1;
            for v in values {
                *s.values.entry(v.clone()).or_default() += 1;
            }
        }
    }

    /// Adds the counts so far to the store; those that fail are kept for the next flush.
    ///
    /// # Errors
    /// The first store failure.
    pub fn flush(&self, meta: &Meta) -> Result<(), StoreError> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let mut first_error = None;
        for ((app, day, group), add) in taken {
            let key = format!("{PREFIX}{group}/{day}");
            let a = add.clone();
            let written = meta.access_update(&app, &key, move |current| {
                let mut s: Stored = current.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
                s.add(&a);
                serde_json::to_vec(&s).ok()
            });
            if let Err(e) = written {
                self.pending.lock().unwrap_or_else(|p| p.into_inner()).entry((app, day, group)).or_default().add(&add);
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Each group's estimates over the 30 UTC days ending with `today`.
///
/// # Errors
/// The store failed.
pub fn last_30_days(meta: &Meta, app: &str, today: &str) -> Result<BTreeMap<String, Stored>, StoreError> {
    let first = today.parse::<Ds>().map(|d| d.add_days(-29).to_string()).unwrap_or_default();
    let mut out: BTreeMap<String, Stored> = BTreeMap::new();
    for (key, bytes) in meta.access_list(app, PREFIX, None, usize::MAX)? {
        let Some((group, day)) = key.strip_prefix(PREFIX).and_then(|k| k.rsplit_once('/')) else { continue };
        if day < first.as_str() || day > today {
            continue;
        }
        if let Ok(s) = serde_json::from_slice::<Stored>(&bytes) {
            out.entry(group.to_owned()).or_default().add(&s);
        }
    }
    Ok(out)
}

/// How often counts are written.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes counted estimates every few seconds, for the life of the server.
pub async fn flush_periodically(state: crate::state::AppState) {
    crate::blocking::every(FLUSH_EVERY, "estimate counts", state, |st| st.usage.flush(&st.meta)).await;
}
