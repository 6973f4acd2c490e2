//! Durable background work: a job is a record in the metadata store, written in the same
//! transaction as the change that caused it, claimed by a worker, resumed after a restart or a
//! kill, retried with backoff when it fails, and readable from the API.
//!
//! # Layout
//!
//! | item | what it does |
//! |---|---|
//! | [`Job`] (a wire type: the API answers the record as stored) and its [`Transitions`] (enqueue, claim, day done, failed, release) | the pure core: no clock, no I/O, so a property test can show that no queued day is ever lost |
//! | [`worker`] | the I/O edge: the loop that claims runnable jobs and runs them day by day, and [`worker::run_day`], the one step both the worker and a segment write run |
//!
//! # The one kind of job today: recomputing segments on days
//! Every refresh of a day recomputes *all* of the app's segments on it (they may refer to each
//! other), so one job per app suffices: its `pending` set holds the days still to recompute.
//! Causes, each committed with the job in one transaction:
//! - a segment change (create, update, delete, members upload): every published day;
//! - an event upload to a day that is not the latest: the later published days whose event
//!   windows can reach it (see [`crate::publish`]).
//!
//! A new cause while the job runs adds its days with a new *generation*; finishing a day removes
//! it only if it was not queued again meanwhile (the day's generation is unchanged), so a change
//! that lands while its day is being computed is never lost. Days run newest first: the days
//! most looked at fill first.
//!
//! # Failures
//! A step that fails (storage unavailable, disk full, a damaged blob) leaves its day pending,
//! records the error, and the job is retried after an exponential backoff with jitter; after
//! [`MAX_ATTEMPTS`] attempts it stays `failed`, visible in the API and on the Trends page, until
//! the next change re-arms it. A segment whose rule cannot be computed on a day (it names a tag
//! that day lacks) is not a failure of the job (retrying would give the same answer): the day's
//! version records why (`segment_errors` in its manifest) and the job lists it as a problem.

pub mod worker;

use std::collections::BTreeMap;

/// Attempts before a failing job stops retrying and stays `failed`.
pub const MAX_ATTEMPTS: u32 = 8;
/// First retry delay; it doubles with every attempt, up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: u64 = 1_000;
/// Longest retry delay.
pub const MAX_BACKOFF_MS: u64 = 10 * 60 * 1_000;
/// How long a claim holds without being renewed (each finished day renews it). A worker that
/// dies loses its claim after this, so another one takes the job over.
pub const LEASE_MS: u64 = 60_000;

pub use wire::{Job, JobKind, JobState, Lease, Problem};

/// Most problems kept on a record (one per segment and day; the history shows every day).
const MAX_PROBLEMS: usize = 100;

/// The transitions of a [`Job`] (the record is a wire type: the API answers it as stored).
pub trait Transitions: Sized {
    /// Queues `days` on the job (creating it if `current` is `None`), arming it to run now.
    fn enqueue(current: Option<Self>, app: &str, kind: JobKind, days: &[String], now_ms: u64) -> Self;
    /// Whether a worker may claim the job now.
    fn runnable(&self, now_ms: u64) -> bool;
    /// Claims the job for `owner` (or renews `owner`'s claim).
    fn claim(&self, owner: &str, now_ms: u64) -> Option<Self>;
    /// The pending days in the order they run: newest first.
    fn next_days(&self) -> impl Iterator<Item = (&str, u64)>;
    /// Records that `ds` was computed as queued by `generation`.
    fn day_done(&mut self, ds: &str, generation: u64, problems: Vec<Problem>, now_ms: u64);
    /// Records a failed attempt.
    fn failed(&mut self, error: String, jitter: f64, now_ms: u64);
    /// Releases a claim its owner's process no longer has.
    fn release(&mut self);
}

impl Transitions for Job {
    /// Queues `days` on the job (creating it if `current` is `None`), arming it to run now.
    ///
    /// ```
    /// use server::jobs::{Job, JobKind, JobState, Transitions};
    /// let job = Job::enqueue(None, "shop", JobKind::Segments, &["2026-11-01".into()], 5);
    /// assert_eq!((job.state, job.total, job.done), (JobState::Queued, 1, 0));
    /// let again = Job::enqueue(Some(job), "shop", JobKind::Segments, &["2026-11-01".into(), "2026-11-02".into()], 6);
    /// assert_eq!((again.total, again.pending.len()), (2, 2));
    /// ```
    fn enqueue(current: Option<Job>, app: &str, kind: JobKind, days: &[String], now_ms: u64) -> Job {
        let mut job = current.unwrap_or_else(|| Job {
            app: app.to_owned(),
            kind,
            state: JobState::Done,
            pending: BTreeMap::new(),
            done: 0,
            total: 0,
            generation: 0,
            attempts: 0,
            next_attempt_ms: 0,
            last_error: None,
            problems: Vec::new(),
            lease: None,
            created_ms: now_ms,
            updated_ms: now_ms,
        });
        if days.is_empty() {
            return job;
        }
        if matches!(job.state, JobState::Done | JobState::Failed) {
            // A new round: progress counts from here.
            job.done = 0;
            job.total = job.pending.len() as u32;
        }
        job.generation += 1;
        for ds in days {
            if job.pending.insert(ds.clone(), job.generation).is_none() {
                job.total += 1;
            }
        }
        job.attempts = 0;
        job.next_attempt_ms = now_ms;
        job.last_error = None;
        if job.state != JobState::Running {
            job.state = JobState::Queued;
        }
        job.updated_ms = now_ms;
        job
    }

    /// Whether a worker may claim the job now: days are pending, it is due, and nobody holds a
    /// live claim.
    fn runnable(&self, now_ms: u64) -> bool {
        !self.pending.is_empty()
            && self.state != JobState::Failed
            && self.next_attempt_ms <= now_ms
            && self.lease.as_ref().is_none_or(|l| l.until_ms <= now_ms)
    }

    /// Claims the job for `owner` (or renews `owner`'s claim). `None` when someone else holds a
    /// live claim or the job is not runnable.
    fn claim(&self, owner: &str, now_ms: u64) -> Option<Job> {
        let mine = self.lease.as_ref().is_some_and(|l| l.owner == owner);
        if !(self.runnable(now_ms) || (mine && !self.pending.is_empty())) {
            return None;
        }
        let mut job = self.clone();
        job.state = JobState::Running;
        job.lease = Some(Lease { owner: owner.to_owned(), until_ms: now_ms + LEASE_MS });
        job.updated_ms = now_ms;
        Some(job)
    }

    /// The pending days in the order they run: newest first.
    fn next_days(&self) -> impl Iterator<Item = (&str, u64)> {
        self.pending.iter().rev().map(|(ds, generation)| (ds.as_str(), *generation))
    }

    /// Records that `ds` was computed as queued by `generation`: the day leaves `pending`
    /// unless a newer cause queued it again meanwhile. `problems` replace the day's earlier
    /// ones. When nothing is pending any more the job is done and the claim released.
    fn day_done(&mut self, ds: &str, generation: u64, problems: Vec<Problem>, now_ms: u64) {
        if self.pending.get(ds) == Some(&generation) {
            self.pending.remove(ds);
            self.done += 1;
        }
        self.problems.retain(|p| p.ds != ds);
        self.problems.extend(problems);
        self.problems.sort_by(|a, b| b.ds.cmp(&a.ds).then_with(|| a.segment.cmp(&b.segment)));
        self.problems.truncate(MAX_PROBLEMS);
        if let Some(lease) = &mut self.lease {
            lease.until_ms = now_ms + LEASE_MS;
        }
        if self.pending.is_empty() {
            self.state = JobState::Done;
            self.lease = None;
            self.attempts = 0;
            self.last_error = None;
        }
        self.updated_ms = now_ms;
    }

    /// Records a failed attempt: the claim is released and the job retries after a backoff
    /// (`jitter` in `[0, 1)` spreads retries of many jobs), or stays `failed` after
    /// [`MAX_ATTEMPTS`].
    fn failed(&mut self, error: String, jitter: f64, now_ms: u64) {
        self.attempts += 1;
        self.last_error = Some(error);
        self.lease = None;
        if self.attempts >= MAX_ATTEMPTS {
            self.state = JobState::Failed;
        } else {
            self.state = JobState::Retrying;
            self.next_attempt_ms = now_ms + backoff_ms(self.attempts, jitter);
        }
        self.updated_ms = now_ms;
    }

    /// Releases a claim its owner's process no longer has (the store is opened by a new
    /// process: an embedded store belongs to one process at a time).
    fn release(&mut self) {
        if self.lease.take().is_some() && self.state == JobState::Running {
            self.state = JobState::Queued;
        }
    }
}

/// The delay before retry number `attempt` (from 1): doubling from [`FIRST_BACKOFF_MS`], capped
/// at [`MAX_BACKOFF_MS`], then between half and all of that ("equal jitter"), so jobs that
/// failed together do not retry together.
///
/// ```
/// use server::jobs::backoff_ms;
/// assert_eq!(backoff_ms(1, 0.0), 500);
/// assert_eq!(backoff_ms(2, 0.999_999), 2_000 - 1);
/// assert_eq!(backoff_ms(40, 0.0), 300_000);
/// ```
pub fn backoff_ms(attempt: u32, jitter: f64) -> u64 {
    let full = FIRST_BACKOFF_MS.saturating_mul(1u64 << attempt.saturating_sub(1).min(30)).min(MAX_BACKOFF_MS);
    let half = full / 2;
    half + (half as f64 * jitter.clamp(0.0, 1.0)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn days(list: &[&str]) -> Vec<String> {
        list.iter().map(|d| (*d).to_owned()).collect()
    }

    #[test]
    fn a_job_runs_newest_first_and_finishes() {
        let job = Job::enqueue(None, "a", JobKind::Segments, &days(&["d1", "d3", "d2"]), 10);
        let mut job = job.claim("w1", 10).expect("runnable");
        assert!(job.claim("w2", 11).is_none(), "another worker cannot take a live claim");
        let order: Vec<_> = job.next_days().map(|(d, g)| (d.to_owned(), g)).collect();
        assert_eq!(order.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(), ["d3", "d2", "d1"]);
        for (ds, generation) in order {
            job.day_done(&ds, generation, Vec::new(), 20);
        }
        assert_eq!((job.state, job.done, job.total, job.lease.is_none()), (JobState::Done, 3, 3, true));
    }

    #[test]
    fn a_day_queued_again_while_it_runs_stays_pending() {
        let job = Job::enqueue(None, "a", JobKind::Segments, &days(&["d1"]), 0);
        let mut running = job.claim("w", 0).expect("claim");
        let (_, seen) = running.next_days().next().expect("a day");
        // A segment changes while d1 is computed: the store applies the enqueue to the record.
        running = Job::enqueue(Some(running), "a", JobKind::Segments, &days(&["d1"]), 1);
        running.day_done("d1", seen, Vec::new(), 2);
        assert_eq!(running.pending.len(), 1, "the newer change must still be computed");
        assert_eq!(running.state, JobState::Running);
    }

    #[test]
    fn failures_back_off_then_stop_and_a_change_rearms() {
        let mut job = Job::enqueue(None, "a", JobKind::Segments, &days(&["d1"]), 0);
        for attempt in 1..MAX_ATTEMPTS {
            job = job.claim("w", job.next_attempt_ms).expect("due");
            job.failed("disk full".into(), 0.5, 100);
            assert_eq!(job.state, JobState::Retrying);
            assert_eq!(job.next_attempt_ms, 100 + backoff_ms(attempt, 0.5));
            assert!(!job.runnable(job.next_attempt_ms - 1));
        }
        job = job.claim("w", job.next_attempt_ms).expect("due");
        job.failed("disk full".into(), 0.5, 200);
        assert_eq!(job.state, JobState::Failed);
        assert!(!job.runnable(u64::MAX), "a failed job waits for the next change");
        assert_eq!(job.last_error.as_deref(), Some("disk full"));
        let job = Job::enqueue(Some(job), "a", JobKind::Segments, &days(&["d2"]), 300);
        assert_eq!((job.state, job.attempts, job.total, job.done), (JobState::Queued, 0, 2, 0));
        assert!(job.runnable(300));
    }

    #[test]
    fn a_dead_workers_claim_lapses() {
        let job = Job::enqueue(None, "a", JobKind::Segments, &days(&["d1"]), 0).claim("dead", 0).expect("claim");
        assert!(job.claim("alive", LEASE_MS - 1).is_none());
        assert!(job.claim("alive", LEASE_MS).is_some());
        let mut released = job.clone();
        released.release();
        assert_eq!(released.state, JobState::Queued);
        assert!(released.claim("alive", 1).is_some());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Enqueue(Vec<u8>),
        /// A worker starts the newest pending day; it finishes at a later `Finish`.
        Start,
        Finish,
        Fail,
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            proptest::collection::vec(0u8..6, 1..4).prop_map(Op::Enqueue),
            Just(Op::Start),
            Just(Op::Finish),
            Just(Op::Fail),
        ]
    }

    proptest! {
        /// The promise: every day queued is computed *after* its last enqueue, whatever the
        /// interleaving of enqueues, steps and failures. The oracle is a plain set of "dirty"
        /// days: a day is dirty from an enqueue until a computation that started after it.
        #[test]
        fn no_queued_day_is_lost(ops in proptest::collection::vec(arb_op(), 1..60)) {
            let mut job: Option<Job> = None;
            let mut dirty = std::collections::BTreeSet::new();
            let mut in_flight: Option<(String, u64, bool)> = None; // (day, generation, still clean since start)
            let mut now = 0;
            for op in ops {
                now += 1;
                match op {
                    Op::Enqueue(ds) => {
                        let ds: Vec<String> = ds.iter().map(|d| format!("d{d}")).collect();
                        for d in &ds {
                            dirty.insert(d.clone());
                            if let Some((f, _, clean)) = &mut in_flight && f == d {
                                *clean = false;
                            }
                        }
                        job = Some(Job::enqueue(job.take(), "a", JobKind::Segments, &ds, now));
                    }
                    Op::Start => {
                        let claimed = job.as_ref().filter(|_| in_flight.is_none()).and_then(|j| j.claim("w", u64::MAX / 2));
                        if let Some(claimed) = claimed {
                            let (d, g) = claimed.next_days().next().map(|(d, g)| (d.to_owned(), g)).expect("pending");
                            in_flight = Some((d, g, true));
                            job = Some(claimed);
                        }
                    }
                    Op::Finish => {
                        if let (Some((d, g, clean)), Some(j)) = (in_flight.take(), job.as_mut()) {
                            j.day_done(&d, g, Vec::new(), now);
                            if clean { dirty.remove(&d); }
                        }
                    }
                    Op::Fail => {
                        if let (Some(_), Some(j)) = (in_flight.take(), job.as_mut()) {
                            j.failed("x".into(), 0.0, now);
                        }
                    }
                }
                if let Some(j) = &job {
                    let pending: std::collections::BTreeSet<String> = j.pending.keys().cloned().collect();
                    prop_assert!(dirty.is_subset(&pending), "dirty {:?} not all pending {:?}", dirty, pending);
                    prop_assert_eq!(j.total, j.done + j.pending.len() as u32);
                    prop_assert_eq!(j.state == JobState::Done, j.pending.is_empty());
                }
            }
        }
    }
}
