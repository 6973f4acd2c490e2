//! The audit log: who exported, synced, split, froze, deleted, changed a token or a setting,
//! when, what and how many users; and membership lookups counted per day and token.
//!
//! Entries live in the `access` table at `audit/<ms>-<random>`: the time first, so the log
//! reads in order with a range scan, and a random tail, so replicas append without agreeing on
//! a counter. Entries are only ever added (no route changes or removes one).
//!
//! An entry is written before the answer that reports the action is sent: an action whose
//! entry could not be written fails with it (a 503), so the log never misses an action a
//! client saw succeed. Lookups are different: a per-request write would be the cost of the
//! lookup itself, so they are counted in memory and added to `lookups/<ds>/<token id>` every
//! few seconds ([`Lookups::flush`]); a kill loses at most those seconds of counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use wire::{Actor, AuditAction, AuditEntry, LookupCount};

use crate::store::{Meta, StoreError};

const PREFIX: &str = "audit/";

/// The time of this process's last entry (see [`record`]).
static LAST_MS: AtomicU64 = AtomicU64::new(0);
const LOOKUPS: &str = "lookups/";

/// Most entries one page of the log holds.
pub const MAX_PAGE: usize = 1000;

/// What happened, for [`record`].
#[derive(Debug, Clone)]
pub struct Event {
    /// What.
    pub action: AuditAction,
    /// Which segment, experiment, group, day or token.
    pub target: Option<String>,
    /// The day concerned.
    pub ds: Option<String>,
    /// How many users.
    pub users: Option<u64>,
    /// More, in a sentence.
    pub detail: Option<String>,
}

impl Event {
    /// An event with only its action and target.
    pub fn new(action: AuditAction, target: impl Into<Option<String>>) -> Event {
        Event { action, target: target.into(), ds: None, users: None, detail: None }
    }

    /// With the day concerned.
    pub fn on(mut self, ds: impl Into<String>) -> Event {
        self.ds = Some(ds.into());
        self
    }

    /// With how many users it concerned.
    pub fn users(mut self, users: u64) -> Event {
        self.users = Some(users);
        self
    }

    /// With more, in a sentence.
    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = Some(detail.into());
        self
    }
}

/// Appends an entry to an app's log.
///
/// # Errors
/// The store failed (the caller fails the action with it).
pub fn record(meta: &Meta, app: &str, actor: &Actor, event: Event, now_ms: u64) -> Result<AuditEntry, StoreError> {
    let mut actor = actor.clone();
    if let Some(id) = &actor.id
        && let Ok(token) = crate::tokens::get(meta, app, id)
    {
        actor.name = token.name;
    }
    // Strictly increasing in this process, so one client's actions list in the order it made
    // them even within a millisecond; the random tail keeps replicas' entries apart.
    let now_ms = match LAST_MS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now_ms.max(last + 1))) {
        Ok(last) | Err(last) => now_ms.max(last + 1),
    };
    let mut tail = [0u8; 4];
    rand::fill(&mut tail);
    let id = format!("{now_ms:013}-{}", tail.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let entry = AuditEntry {
        id: id.clone(),
        at_ms: now_ms,
        actor,
        action: event.action,
        target: event.target,
        ds: event.ds,
        users: event.users,
        detail: event.detail,
    };
    let bytes = serde_json::to_vec(&entry).unwrap_or_default();
    meta.access_update(app, &format!("{PREFIX}{id}"), |current| current.is_none().then_some(bytes))?;
    Ok(entry)
}

/// Up to `limit` entries after `after` (an entry id), oldest first, and whether more follow.
///
/// # Errors
/// The store failed.
pub fn page(meta: &Meta, app: &str, after: Option<&str>, limit: usize) -> Result<(Vec<AuditEntry>, bool), StoreError> {
    let after = after.map(|a| format!("{PREFIX}{a}"));
    let mut rows = meta.access_list(app, PREFIX, after.as_deref(), limit + 1)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let entries = rows.into_iter().filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok()).collect();
    Ok((entries, more))
}

/// The CSV header of the log.
pub const CSV_HEADER: &str = "id,at_ms,actor_id,actor_name,action,target,ds,users,detail\n";

/// One entry as a CSV line (fields quoted where they need it).
pub fn csv_line(e: &AuditEntry) -> String {
    let fields = [
        e.id.clone(),
        e.at_ms.to_string(),
        e.actor.id.clone().unwrap_or_default(),
        e.actor.name.clone(),
        e.action.as_str().to_owned(),
        e.target.clone().unwrap_or_default(),
        e.ds.clone().unwrap_or_default(),
        e.users.map(|u| u.to_string()).unwrap_or_default(),
        e.detail.clone().unwrap_or_default(),
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

/// A CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@']) { format!("'{f}") } else { f.to_owned() };
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f }
}

/// (app, ds, token id).
type LookupKey = (String, String, String);

/// Membership lookups counted in memory until [`Lookups::flush`].
#[derive(Debug, Default)]
pub struct Lookups {
    /// (app, ds, token id) → (token name, lookups not yet written).
    pending: Mutex<HashMap<LookupKey, (String, u64)>>,
}

/// A day's lookups by one token, as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    name: String,
    lookups: u64,
}

impl Lookups {
    /// Counts one lookup.
    pub fn count(&self, app: &str, ds: &str, actor: &Actor) {
        let id = actor.id.clone().unwrap_or_else(|| "admin".into());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.entry((app.to_owned(), ds.to_owned(), id)).or_insert_with(|| (actor.name.clone(), 0)).1 += 1;
    }

    /// Adds the counts so far to the store; counts that fail to be written are kept for the
    /// next flush.
    ///
    /// # Errors
    /// The first store failure.
    pub fn flush(&self, meta: &Meta) -> Result<(), StoreError> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let mut first_error = None;
        for ((app, ds, id), (name, n)) in taken {
            let key = format!("{LOOKUPS}{ds}/{id}");
            let name_for_store = name.clone();
            let written = meta.access_update(&app, &key, move |current| {
                let before = current.and_then(|b| serde_json::from_slice::<Stored>(&b).ok()).map_or(0, |s| s.lookups);
                serde_json::to_vec(&Stored { name: name_for_store, lookups: before + n }).ok()
            });
            if let Err(e) = written {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                pending.entry((app, ds, id)).or_insert_with(|| (name, 0)).1 += n;
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The stored counts of an app, by day then token.
    ///
    /// # Errors
    /// The store failed.
    pub fn stored(meta: &Meta, app: &str) -> Result<Vec<LookupCount>, StoreError> {
        Ok(meta
            .access_list(app, LOOKUPS, None, usize::MAX)?
            .into_iter()
            .filter_map(|(key, bytes)| {
                let (ds, id) = key.strip_prefix(LOOKUPS)?.split_once('/')?;
                let s: Stored = serde_json::from_slice(&bytes).ok()?;
                let id = (id != "admin").then(|| id.to_owned());
                Some(LookupCount { ds: ds.to_owned(), actor: Actor { id, name: s.name }, lookups: s.lookups })
            })
            .collect())
    }
}

/// How often counted lookups are written.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes counted lookups every few seconds, for the life of the server.
pub async fn flush_periodically(state: crate::state::AppState) {
    crate::blocking::every(FLUSH_EVERY, "membership lookup counts", state, |st| st.lookups.flush(&st.meta)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
