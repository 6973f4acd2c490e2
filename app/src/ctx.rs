//! The app-wide reactive state, provided as a context: who is signed in and what the token may
//! do, the chosen day, its manifest, the blobs loaded so far and what loading them cost.

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

use engine::Manifest;
use engine::manifest::BlobRef;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::access::Access;
use crate::api::{self, App, Day, Error};
use crate::blobs::{self, Origin};
use crate::estimate::{Blobs, EventWindow};
use crate::session::{self, Session};

/// Default download budget for exact counts in the browser, in megabytes.
pub const DEFAULT_BUDGET_MB: u64 = 64;
/// The error code of the manifest while there is no day to load (the days are loading, or none
/// is published). A resource keeps its last answer while it loads the next, so a view may read
/// this one after a day is chosen: [`crate::pages::analysis_common::runs`] waits past it.
pub const NO_DAY: &str = "no_day";
/// Local-storage key of the budget.
const BUDGET_KEY: &str = "sieve.budget_mb";

/// What loading blobs has cost so far (shown in the status line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Blobs downloaded from the server.
    pub fetched: u64,
    /// Bytes downloaded from the server.
    pub fetched_bytes: u64,
    /// Blobs read from the browser's cache.
    pub cached: u64,
    /// Bytes read from the browser's cache.
    pub cached_bytes: u64,
    /// Blobs being loaded now.
    pub pending: u64,
    /// Bytes being loaded now.
    pub pending_bytes: u64,
    /// Blobs that failed to load.
    pub failed: u64,
}

/// The app-wide state (every field is a cheap, copyable handle).
#[derive(Clone, Copy)]
pub struct AppState {
    /// The signed-in app and token.
    pub session: RwSignal<Option<Session>>,
    /// The signed-in app as the server describes it to this token (role, settings).
    pub app: LocalResource<Result<App, Error>>,
    /// What the token may do and see; `None` while the app's answer loads.
    pub access: Memo<Option<Access>>,
    /// The day chosen in a day picker; `None` means the latest.
    pub chosen_ds: RwSignal<Option<String>>,
    /// Published days of the app.
    pub days: LocalResource<Result<Vec<Day>, Error>>,
    /// The day in use: the chosen one, or the latest.
    pub ds: Memo<Option<String>>,
    /// The manifest of the day in use.
    pub manifest: LocalResource<Result<Arc<Manifest>, Error>>,
    /// The event uploads of the retained days up to the day in use (event conditions).
    pub events: LocalResource<Result<Arc<EventWindow>, Error>>,
    /// Decoded blobs by address.
    pub blobs: StoredValue<Blobs, LocalStorage>,
    /// Addresses being loaded.
    pending: StoredValue<HashSet<String>, LocalStorage>,
    /// Bumped whenever a blob lands, so evaluations re-run.
    pub blob_tick: RwSignal<u64>,
    /// Loading costs.
    pub stats: RwSignal<NetStats>,
    /// Most bytes the browser downloads for one exact count before asking the server.
    pub budget_mb: RwSignal<u64>,
}

impl AppState {
    /// Creates the state and reads the stored session.
    pub fn new() -> AppState {
        let session = RwSignal::new(session::load());
        let chosen_ds = RwSignal::new(None::<String>);
        let app = LocalResource::new(move || {
            let s = session.get();
            async move {
                match s {
                    Some(s) => api::app(&s).await,
                    None => Err(Error::api(401, "unauthorized", "not signed in")),
                }
            }
        });
        let access = Memo::new(move |_| {
            // Unreadable (an older server, a network error): a reader's powers; the server
            // refuses the rest anyway.
            app.get().map(|a| a.as_ref().map_or_else(|_| Access::fallback(), Access::from_app))
        });
        let days = LocalResource::new(move || {
            let s = session.get();
            async move {
                match s {
                    Some(s) => api::days(&s).await,
                    None => Ok(Vec::new()),
                }
            }
        });
        let ds = Memo::new(move |_| {
            chosen_ds.get().or_else(|| days.get().and_then(|d| d.ok()).and_then(|d| d.last().map(|d| d.ds.clone())))
        });
        let manifest = LocalResource::new(move || {
            let s = session.get();
            let ds = ds.get();
            async move {
                match (s, ds) {
                    (Some(s), Some(ds)) => api::manifest(&s, &ds).await.map(Arc::new),
                    (Some(_), None) => Err(Error::api(404, NO_DAY, "this app has no published day yet")),
                    (None, _) => Err(Error::api(401, "unauthorized", "not signed in")),
                }
            }
        });
        let events = LocalResource::new(move || {
            let s = session.get();
            let ds = ds.get();
            async move {
                match (s, ds) {
                    (Some(s), Some(ds)) => api::event_days(&s, &ds).await.map(Arc::new),
                    _ => Ok(Arc::new(EventWindow::default())),
                }
            }
        });
        let budget = session::setting(BUDGET_KEY).and_then(|b| b.parse().ok()).unwrap_or(DEFAULT_BUDGET_MB);
        AppState {
            session,
            app,
            access,
            chosen_ds,
            days,
            ds,
            manifest,
            events,
            blobs: StoredValue::new_local(Blobs::new()),
            pending: StoredValue::new_local(HashSet::new()),
            blob_tick: RwSignal::new(0),
            stats: RwSignal::new(NetStats::default()),
            budget_mb: RwSignal::new(budget),
        }
    }

    /// The state provided by the shell.
    pub fn get() -> AppState {
        expect_context::<AppState>()
    }

    /// Signs in (stores the session).
    pub fn sign_in(&self, s: Session) {
        session::store(&s);
        self.chosen_ds.set(None);
        self.session.set(Some(s));
    }

    /// Signs out (forgets the session; cached blobs stay, they are keyed by app).
    pub fn sign_out(&self) {
        session::forget();
        self.session.set(None);
    }

    /// Changes the download budget and remembers it.
    pub fn set_budget_mb(&self, mb: u64) {
        session::set_setting(BUDGET_KEY, &mb.to_string());
        self.budget_mb.set(mb);
    }

    /// The budget in bytes.
    pub fn budget_bytes(&self) -> u64 {
        self.budget_mb.get().saturating_mul(1_000_000)
    }

    /// Whether `missing` bytes are downloaded or the server asked: [`crate::estimate::full_tier`]
    /// against the budget and the token's access (tracks both; the server is asked while the
    /// access is not known yet, so no full-tier blob is fetched before it is).
    pub fn full_tier(&self, missing: u64) -> crate::estimate::FullTier {
        let may_download = self.access.with(|a| a.as_ref().is_some_and(Access::downloads_full_tier));
        crate::estimate::full_tier(missing, self.budget_bytes(), may_download)
    }

    /// The token's access, or a reader's while it loads (for what is shown, never for what is
    /// downloaded: see [`AppState::full_tier`]).
    pub fn access_or_default(&self) -> Access {
        self.access.get().unwrap_or_else(Access::fallback)
    }

    /// Whether every blob in `refs` is loaded (tracks [`AppState::blob_tick`]).
    pub fn has_all(&self, refs: &[BlobRef]) -> bool {
        self.blob_tick.track();
        self.blobs.with_value(|b| refs.iter().all(|r| b.contains_key(&r.blob)))
    }

    /// Starts loading, in parallel, every blob of `refs` not loaded or loading yet. A blob of
    /// 0 bytes is one the server withholds from this token (the full tier, for an aggregate
    /// token): it is never asked for.
    pub fn ensure(&self, refs: &[BlobRef]) {
        let Some(s) = self.session.get_untracked() else { return };
        let todo: Vec<BlobRef> = self.blobs.with_value(|have| {
            self.pending.with_value(|pending| {
                refs.iter()
                    .filter(|r| r.bytes > 0 && !have.contains_key(&r.blob) && !pending.contains(&r.blob))
                    .cloned()
                    .collect()
            })
        });
        if todo.is_empty() {
            return;
        }
        self.pending.update_value(|p| p.extend(todo.iter().map(|r| r.blob.clone())));
        self.stats.update(|st| {
            st.pending += todo.len() as u64;
            st.pending_bytes += todo.iter().map(|r| r.bytes).sum::<u64>();
        });
        let state = *self;
        for r in todo {
            let s = s.clone();
            spawn_local(async move {
                if let Err(e) = state.fetch(&s, &r).await {
                    leptos::logging::warn!("blob {}: {e}", r.blob);
                }
            });
        }
    }

    /// Loads every blob of `refs` not loaded yet, in parallel, and returns when all are there
    /// (or the first error). Blobs another view is loading are loaded again rather than
    /// waited for: the browser's cache answers the second request.
    pub async fn load(&self, refs: &[BlobRef]) -> Result<(), Error> {
        let Some(s) = self.session.get_untracked() else { return Err(Error::Fetch("signed out".into())) };
        let todo: Vec<BlobRef> = self
            .blobs
            .with_value(|have| refs.iter().filter(|r| r.bytes > 0 && !have.contains_key(&r.blob)).cloned().collect());
        self.stats.update(|st| {
            st.pending += todo.len() as u64;
            st.pending_bytes += todo.iter().map(|r| r.bytes).sum::<u64>();
        });
        let loads = todo.iter().map(|r| self.fetch(&s, r));
        futures::future::join_all(loads).await.into_iter().collect()
    }

    /// Loads one blob (counted as pending by the caller) and keeps it, with its cost.
    async fn fetch(&self, s: &Session, r: &BlobRef) -> Result<(), Error> {
        let result = blobs::load(s, &r.blob).await;
        self.pending.update_value(|p| {
            p.remove(&r.blob);
        });
        self.stats.update(|st| {
            st.pending = st.pending.saturating_sub(1);
            st.pending_bytes = st.pending_bytes.saturating_sub(r.bytes);
            match &result {
                Ok((_, Origin::Cache, bytes)) => {
                    st.cached += 1;
                    st.cached_bytes += bytes;
                }
                Ok((_, Origin::Network, bytes)) => {
                    st.fetched += 1;
                    st.fetched_bytes += bytes;
                }
                Err(_) => st.failed += 1,
            }
        });
        let (set, _, _) = result?;
        self.blobs.update_value(|b| {
            b.insert(r.blob.clone(), Rc::new(set));
        });
        self.blob_tick.update(|t| *t += 1);
        Ok(())
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("session", &self.session).field("ds", &self.ds).finish_non_exhaustive()
    }
}

impl Default for AppState {
    fn default() -> Self {
        AppState::new()
    }
}
