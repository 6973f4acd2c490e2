//! The I/O edge of durable jobs: one worker task per server process claims runnable jobs from
//! the metadata store and runs them one day at a time; [`run_day`] is the step, shared with the
//! segment write path (which runs the latest day itself before answering).
//!
//! The worker wakes when a change queues work ([`Jobs::wake`]) and otherwise scans the store
//! every [`SCAN_EVERY`] (jobs due for a retry, claims of dead workers that lapsed). Each day is
//! computed under the app's publish lock, so uploads interleave with a long backfill.

use std::time::Duration;

use engine::manifest::SegmentError;
use tokio::sync::Notify;

use super::{Job, JobKind, Problem, Transitions};
use crate::clock::now_ms;
use crate::publish::PublishError;
use crate::state::AppState;
use crate::store::StoreError;

/// How often the worker looks for due jobs without being woken.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Recomputing or publishing the day failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Reading or writing the job failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking task died.
    #[error("the step's task failed: {0}")]
    Task(#[from] crate::blocking::Panicked),
    /// Taking the app's publish lock failed (the shared store is unreachable).
    #[error(transparent)]
    Lock(#[from] crate::ids::IdsError),
}

/// The process's worker identity and its wake-up signal.
#[derive(Debug)]
pub struct Jobs {
    /// This process's worker id (claims carry it).
    pub owner: String,
    wake: Notify,
}

impl Default for Jobs {
    fn default() -> Self {
        let mut raw = [0u8; 8];
        rand::fill(&mut raw);
        Jobs { owner: raw.iter().map(|b| format!("{b:02x}")).collect(), wake: Notify::new() }
    }
}

impl Jobs {
    /// Tells the worker that work was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// [`crate::blocking::run`] with the error pinned to [`JobError`] (the closures below build it
/// with `?`, which alone does not say which error type they return).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, JobError> + Send + 'static) -> Result<T, JobError> {
    crate::blocking::run(f).await
}

/// Starts the worker; it runs until the process ends.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = scan(&state).await {
                tracing::error!(error = %e, "job scan failed; trying again");
            }
            // Woken by new work, or after SCAN_EVERY for retries and lapsed claims.
            let _ = tokio::time::timeout(SCAN_EVERY, state.jobs.wake.notified()).await;
        }
    })
}

/// Runs every job that is due, one after another.
async fn scan(state: &AppState) -> Result<(), JobError> {
    let meta = state.meta.clone();
    let jobs = blocking(move || Ok(meta.job_list()?)).await?;
    let now = now_ms();
    for job in jobs.into_iter().filter(|j| j.runnable(now)) {
        run_job(state, &job.app, job.kind).await;
    }
    Ok(())
}

/// Claims a job and runs its pending days until none is left, the claim is lost, or a step
/// fails (then the job records the failure and backs off).
async fn run_job(state: &AppState, app: &str, kind: JobKind) {
    loop {
        // Claim (or renew the claim) before every day, reading the pending days afresh.
        let (meta, a, owner) = (state.meta.clone(), app.to_owned(), state.jobs.owner.clone());
        let claimed =
            blocking(move || Ok(meta.job_update(&a, kind, |j| j.and_then(|j| j.claim(&owner, now_ms())))?)).await;
        let job = match claimed {
            Ok(Some(job)) => job,
            Ok(None) => return, // done, failed, or someone else's
            Err(e) => {
                tracing::error!(app, error = %e, "claiming a job failed");
                return;
            }
        };
        let Some((ds, _)) = job.next_days().next() else { return };
        let ds = ds.to_owned();
        if let Err(e) = run_day(state, app, &ds).await {
            tracing::error!(app, ds, error = %e, "job step failed; it will be retried");
            let (meta, a, message) = (state.meta.clone(), app.to_owned(), format!("{ds}: {e}"));
            let jitter: f64 = rand::random();
            let recorded = blocking(move || {
                Ok(meta.job_update(&a, kind, |j| {
                    j.map(|mut j| {
                        j.failed(message, jitter, now_ms());
                        j
                    })
                })?)
            })
            .await;
            if let Err(e) = recorded {
                tracing::error!(app, error = %e, "recording a job failure failed; the claim lapses instead");
            }
            return;
        }
        if !state.config.job_step_delay.is_zero() {
            tokio::time::sleep(state.config.job_step_delay).await;
        }
    }
}

/// Recomputes every segment of `app` on day `ds` under the app's publish lock and marks the day
/// done on the app's segments job (unless a newer change queued it again meanwhile). Used by
/// the worker, and by segment writes for the latest day before they answer.
pub async fn run_day(state: &AppState, app: &str, ds: &str) -> Result<Vec<Problem>, JobError> {
    let _publishing = state.publishing(app).await?;
    let (st, app, ds) = (state.clone(), app.to_owned(), ds.to_owned());
    blocking(move || {
        // The generation is read before the segments: a change committed after this point
        // queues the day again with a newer generation, so it stays pending.
        let generation = st.meta.job_get(&app, JobKind::Segments)?.and_then(|j| j.pending.get(&ds).copied());
        let specs = crate::publish::segment_specs(&st.meta, &app)?;
        let (_, errors) = st.publisher.refresh_segments(&app, &ds, &specs)?;
        let problems = problems_of(&ds, errors);
        if let Some(generation) = generation {
            let done = problems.clone();
            st.meta.job_update(&app, JobKind::Segments, move |j| {
                j.map(|mut j| {
                    j.day_done(&ds, generation, done, now_ms());
                    j
                })
            })?;
        }
        Ok(problems)
    })
    .await
}

fn problems_of(ds: &str, errors: Vec<SegmentError>) -> Vec<Problem> {
    errors.into_iter().map(|e| Problem { ds: ds.to_owned(), segment: e.id, message: e.message }).collect()
}

/// The app's jobs, for the API.
pub fn list(state: &AppState, app: &str) -> Result<Vec<Job>, StoreError> {
    let mut out = Vec::new();
    for kind in JobKind::ALL {
        out.extend(state.meta.job_get(app, kind)?);
    }
    Ok(out)
}
