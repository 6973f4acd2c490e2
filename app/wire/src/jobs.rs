//! Durable background jobs as `GET …/jobs` and `GET …/jobs/{kind}` answer them; the server
//! stores the same record (its transitions are in the server's `jobs` module).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which job of an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Recompute every segment of the app on the pending days (backfills, late uploads).
    Segments,
}

impl JobKind {
    /// Every kind, for listing.
    pub const ALL: [JobKind; 1] = [JobKind::Segments];

    /// The kind's name: its id in the API and its key in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::Segments => "segments",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Days are pending and no worker runs it.
    Queued,
    /// A worker holds the claim.
    Running,
    /// The last attempt failed; it runs again at `next_attempt_ms`.
    Retrying,
    /// It failed too often and waits for the next change.
    Failed,
    /// Nothing is pending.
    Done,
}

/// A worker's claim on a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    /// The worker (a random id per server process).
    pub owner: String,
    /// When the claim lapses unless renewed (ms since the epoch).
    pub until_ms: u64,
}

/// A segment that could not be computed on a day, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// The day.
    pub ds: String,
    /// The segment.
    pub segment: String,
    /// Why (the rule's error on that day).
    pub message: String,
}

/// One durable job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    /// The app.
    pub app: String,
    /// Which job.
    pub kind: JobKind,
    /// Where it stands.
    pub state: JobState,
    /// Days still to do → the generation that queued them last.
    pub pending: BTreeMap<String, u64>,
    /// Days done since the job was last armed.
    pub done: u32,
    /// Days to do since the job was last armed (done + pending).
    pub total: u32,
    /// Bumped by every change that queues days.
    pub generation: u64,
    /// Failed attempts since the job was last armed.
    pub attempts: u32,
    /// Not before this time (ms since the epoch).
    pub next_attempt_ms: u64,
    /// The last failure, kept while the job retries or has failed.
    pub last_error: Option<String>,
    /// Segments that could not be computed on days this job did (latest day first).
    pub problems: Vec<Problem>,
    /// The claim, while a worker holds it.
    pub lease: Option<Lease>,
    /// When the job was first created (ms since the epoch).
    pub created_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
}
