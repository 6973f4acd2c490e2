//! Experiments (A/B splits, 拆包): a segment's members on a day split into groups by
//! `engine::split` (salted hashes of external ids, the same in the browser), frozen as bitmaps,
//! then checked for balance and read for outcomes on later days.
//!
//! # Layout
//!
//! | module | what it does |
//! |---|---|
//! | [`record`] | the stored record ([`wire::Experiment`]): load, list, create once; the frozen groups of an app (for `/user/tags`) and of one group (for its export) |
//! | [`freeze`] | checks a request and splits the segment's members into frozen groups |
//! | [`balance`] | the balance check ([`engine::balance`], the arithmetic the browser's preview runs) and the outcome of a metric per group ([`engine::stats`]) |
//!
//! The record is the wire type itself: an experiment never changes after creation, and what
//! the API shows is exactly what was frozen. Functions here return [`ExperimentError`]; the HTTP
//! layer ([`crate::routes::experiments`]) turns it into the HTTP answer.

pub mod balance;
pub mod freeze;
pub mod record;

use crate::publish::PublishError;
use crate::snapshots::SnapshotError;
use crate::store::{BlobError, StoreError};

/// Why an experiment operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// No experiment with this id in the app.
    #[error("no experiment `{0}`")]
    NotFound(String),
    /// The experiment has no such group.
    #[error("experiment `{id}` has no group `{group}`")]
    NoGroup {
        /// Experiment id.
        id: String,
        /// The group asked for.
        group: String,
    },
    /// No published day with the date asked for (or none at all).
    #[error("no published day with that date")]
    NoDay,
    /// The audience is smaller than the app's minimum.
    #[error(transparent)]
    TooSmall(#[from] crate::privacy::TooSmall),
    /// An experiment with this id exists: experiments are frozen, never replaced.
    #[error("experiment `{0}` exists; experiments are frozen")]
    Exists(String),
    /// The segment has no members on the day (unknown, or its rule names what the day lacks).
    #[error("segment `{segment}` has no members on {ds} (unknown, or its rule names what the day lacks)")]
    NoMembers {
        /// The segment.
        segment: String,
        /// The day.
        ds: String,
    },
    /// A field of the request is not valid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A stored record does not decode (a bug or damage, never the client's fault).
    #[error("experiment record does not decode: {0}")]
    Record(#[from] serde_json::Error),
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading a snapshot failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Writing a group's bitmap failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Computing the segment's missing members failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Reading the app's kind of ids failed.
    #[error(transparent)]
    Ids(#[from] crate::ids::IdsError),
}
