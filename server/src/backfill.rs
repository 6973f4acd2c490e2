//! Backfilling segments over the retained days, in the background.
//!
//! A segment change recomputes members on the latest day before the answer goes out
//! ([`crate::segments::on_segment_changed`]); the other published days follow here, newest
//! first, one day per publish (each a new version of that day, under the app's publish lock,
//! so uploads interleave). Every refresh recomputes all of the app's segments on that day, so
//! one backfill per app suffices: a newer change supersedes a running one, which stops at its
//! next day. Progress is kept in memory and shown by the API (and the UI).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::state::AppState;

/// The progress of an app's backfill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// `running`, `done` or `failed`.
    pub state: &'static str,
    /// Days recomputed so far.
    pub done: u32,
    /// Days to recompute.
    pub total: u32,
    /// The failure, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which backfill of the app this is (a newer one supersedes).
    #[serde(skip)]
    generation: u64,
}

/// Backfill progress of every app.
#[derive(Debug, Default)]
pub struct Backfills {
    apps: Mutex<HashMap<String, Progress>>,
}

impl Backfills {
    /// The progress of an app's latest backfill, if any ran since start-up.
    pub fn progress(&self, app: &str) -> Option<Progress> {
        self.apps.lock().unwrap_or_else(|p| p.into_inner()).get(app).cloned()
    }

    fn update(&self, app: &str, generation: u64, f: impl FnOnce(&mut Progress)) -> bool {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        match apps.get_mut(app) {
            Some(p) if p.generation == generation => {
                f(p);
                true
            }
            _ => false,
        }
    }
}

/// Starts (or restarts) the backfill of an app's segments over its published days except the
/// latest.
pub fn start(state: &AppState, app: &str) {
    let generation = {
        let mut apps = state.backfills.apps.lock().unwrap_or_else(|p| p.into_inner());
        let generation = apps.get(app).map_or(1, |p| p.generation + 1);
        apps.insert(app.to_owned(), Progress { state: "running", done: 0, total: 0, error: None, generation });
        generation
    };
    let (state, app) = (state.clone(), app.to_owned());
    tokio::spawn(async move {
        let result = run(&state, &app, generation).await;
        state.backfills.update(&app, generation, |p| match result {
            Ok(()) => p.state = "done",
            Err(e) => {
                tracing::error!(app, error = %e, "segment backfill failed");
                p.state = "failed";
                p.error = Some("recomputing segments failed; the next publish retries".into());
            }
        });
    });
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run(state: &AppState, app: &str, generation: u64) -> Result<(), BoxError> {
    let (meta, app_id) = (state.meta.clone(), app.to_owned());
    let mut days: Vec<String> =
        tokio::task::spawn_blocking(move || meta.days(&app_id)).await??.into_iter().map(|(ds, _)| ds).collect();
    days.pop(); // the latest day was recomputed before the change was answered
    days.reverse(); // newest first: the days most looked at fill first
    let total = days.len() as u32;
    if !state.backfills.update(app, generation, |p| p.total = total) {
        return Ok(());
    }
    for ds in days {
        let lock = state.app_locks.get(app);
        let _publishing = lock.lock().await;
        let (st, app_id) = (state.clone(), app.to_owned());
        tokio::task::spawn_blocking(move || -> Result<(), BoxError> {
            let specs = crate::publish::segment_specs(&st.meta, &app_id)?;
            st.publisher.refresh_segments(&app_id, &[ds], &specs)?;
            Ok(())
        })
        .await??;
        if !state.backfills.update(app, generation, |p| p.done += 1) {
            return Ok(()); // superseded by a newer change
        }
    }
    Ok(())
}
