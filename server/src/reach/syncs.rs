//! Sync records and their pure transitions (no clock, no I/O: the caller passes the time), and
//! the batches of a delivery.
//!
//! A sync's promise to its destination: deliveries in order, each one complete before the next
//! starts; the first (and any re-send) `full`, then for each published day after the last
//! delivered one, in day order, the `delta` against what the destination was last brought to.
//! The destination's state is the members stored for the last completed delivery
//! (`reach/bits/<sync>/<seq>`), not the day as published now, so a day recomputed after its
//! delivery (a late upload) is corrected by the next delta instead of leaving the destination
//! out of step.
//!
//! A delivery's batches are fixed when it starts (its target members are stored first), so a
//! batch retried after a failure or a kill carries the same ids under the same `delivery_id`.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use wire::{CurrentDelivery, DeliveryKind, SegmentSync, SyncMode, SyncState};

use super::{ReachError, SYNC, decode, encode};
use crate::jobs::Lease;
use crate::store::Meta;

/// How long a worker's claim on a sync holds without renewal (each batch renews it).
pub const LEASE_MS: u64 = 60_000;

/// A stored sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    /// Its id.
    pub id: String,
    /// The audience's key: a segment's id, or `<experiment>/<group>` (see [`SyncRecord::group`]).
    pub segment: String,
    /// The experiment and group sent, when the audience is a frozen experiment group.
    #[serde(default)]
    pub group: Option<(String, String)>,
    /// Day by day, or once.
    #[serde(default)]
    pub mode: SyncMode,
    /// The destination.
    pub destination: String,
    /// Active, paused or failed.
    pub state: SyncState,
    /// The prefix of its reached-users segments.
    pub reached_prefix: String,
    /// The last completed delivery: its number and day.
    #[serde(default)]
    pub delivered: Option<(u64, String)>,
    /// The members the destination holds after it.
    #[serde(default)]
    pub delivered_members: u64,
    /// The delivery under way.
    #[serde(default)]
    pub current: Option<CurrentDelivery>,
    /// Why it stopped before a delivery could start.
    #[serde(default)]
    pub problem: Option<String>,
    /// The next delivery is a full one (a new sync, or a re-send).
    pub full_next: bool,
    /// The last delivery number handed out.
    pub seq: u64,
    /// A worker's claim.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// Deleted (a tombstone: its log stays readable to nobody, its id stays taken).
    #[serde(default)]
    pub deleted: bool,
    /// Creation time (ms).
    pub created_ms: u64,
    /// Last change (ms).
    pub updated_ms: u64,
}

impl SyncRecord {
    /// A new sync of a segment, kept in sync day by day: a full delivery is due.
    pub fn new(id: &str, segment: &str, destination: &str, reached_prefix: &str, now_ms: u64) -> SyncRecord {
        SyncRecord {
            id: id.to_owned(),
            segment: segment.to_owned(),
            group: None,
            mode: SyncMode::Keep,
            destination: destination.to_owned(),
            state: SyncState::Active,
            reached_prefix: reached_prefix.to_owned(),
            delivered: None,
            delivered_members: 0,
            current: None,
            problem: None,
            full_next: true,
            seq: 0,
            lease: None,
            deleted: false,
            created_ms: now_ms,
            updated_ms: now_ms,
        }
    }

    /// The same sync sending an experiment's frozen group instead; its key becomes
    /// `<experiment>/<group>`.
    pub fn of_group(mut self, experiment: &str, group: &str) -> SyncRecord {
        self.segment = format!("{experiment}/{group}");
        self.group = Some((experiment.to_owned(), group.to_owned()));
        self
    }

    /// The answer.
    pub fn view(&self) -> SegmentSync {
        SegmentSync {
            id: self.id.clone(),
            segment: self.segment.clone(),
            experiment: self.group.as_ref().map(|(e, _)| e.clone()),
            group: self.group.as_ref().map(|(_, g)| g.clone()),
            mode: self.mode,
            destination: self.destination.clone(),
            state: self.state,
            reached_prefix: self.reached_prefix.clone(),
            delivered_ds: self.delivered.as_ref().map(|(_, ds)| ds.clone()),
            delivered_members: self.delivered_members,
            current: self.current.clone(),
            problem: self.problem.clone(),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
        }
    }

    /// Pauses an active or failed sync (a delivery under way stops after its batch in flight);
    /// a `done` sync has nothing to pause and stays done.
    pub fn pause(&mut self, now_ms: u64) {
        if self.state != SyncState::Done {
            self.state = SyncState::Paused;
            self.updated_ms = now_ms;
        }
    }

    /// Resumes: due at once, a failed batch with fresh attempts. A `done` sync stays done
    /// (resuming it would start sending deltas a `once` sync promised not to send).
    pub fn resume(&mut self, now_ms: u64) {
        if self.state == SyncState::Done {
            return;
        }
        self.state = SyncState::Active;
        self.problem = None;
        if let Some(c) = &mut self.current {
            c.attempts = 0;
            c.next_attempt_ms = now_ms;
        }
        self.updated_ms = now_ms;
    }

    /// Re-sends in full: the delivery under way is abandoned (its acknowledged batches stay in
    /// the log) and the next delivery is the whole member list of the latest day.
    pub fn resend(&mut self, now_ms: u64) {
        self.current = None;
        self.full_next = true;
        self.state = SyncState::Active;
        self.problem = None;
        self.updated_ms = now_ms;
    }

    /// Whether a worker may take the sync now.
    pub fn runnable(&self, now_ms: u64) -> bool {
        !self.deleted
            && self.state == SyncState::Active
            && self.current.as_ref().is_none_or(|c| c.next_attempt_ms <= now_ms)
            && self.lease.as_ref().is_none_or(|l| l.until_ms <= now_ms)
    }

    /// Claims (or renews `owner`'s claim on) the sync.
    pub fn claim(&self, owner: &str, now_ms: u64) -> Option<SyncRecord> {
        let mine = self.lease.as_ref().is_some_and(|l| l.owner == owner);
        if !(self.runnable(now_ms) || (mine && !self.deleted && self.state == SyncState::Active)) {
            return None;
        }
        let mut s = self.clone();
        s.lease = Some(Lease { owner: owner.to_owned(), until_ms: now_ms + LEASE_MS });
        Some(s)
    }

    /// The day the next delivery brings the destination to, among the published `days`
    /// (ascending), or `None` when it is up to date. A full delivery goes to the latest day;
    /// deltas go through every later day in order.
    pub fn next_day<'a>(&self, days: &'a [String]) -> Option<(&'a str, DeliveryKind)> {
        let latest = days.last()?;
        match (&self.delivered, self.full_next) {
            (None, _) | (_, true) => Some((latest.as_str(), DeliveryKind::Full)),
            (Some((_, done)), false) => {
                days.iter().find(|d| d.as_str() > done.as_str()).map(|d| (d.as_str(), DeliveryKind::Delta))
            }
        }
    }

    /// Starts delivery `self.seq + 1` of `ds` with these counts.
    pub fn start(&mut self, ds: &str, kind: DeliveryKind, added: u64, removed: u64, batch_size: u32, now_ms: u64) {
        self.seq += 1;
        let total = added + removed;
        let batches = if total == 0 { 1 } else { total.div_ceil(u64::from(batch_size.max(1))) as u32 };
        self.current = Some(CurrentDelivery {
            seq: self.seq,
            ds: ds.to_owned(),
            kind,
            added,
            removed,
            batches,
            batches_done: 0,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
        });
        self.full_next = false;
        self.updated_ms = now_ms;
    }

    /// Records that batch `batch` of delivery `seq` was acknowledged.
    pub fn batch_done(&mut self, seq: u64, batch: u32, now_ms: u64) {
        if let Some(c) = &mut self.current
            && c.seq == seq
            && c.batches_done == batch
        {
            c.batches_done += 1;
            c.attempts = 0;
            c.last_error = None;
        }
        if let Some(l) = &mut self.lease {
            l.until_ms = now_ms + LEASE_MS;
        }
        self.updated_ms = now_ms;
    }

    /// Records a failed attempt of the current batch: retried after `backoff_ms`, or the sync
    /// stops `failed` after `max_attempts`.
    pub fn batch_failed(&mut self, seq: u64, error: String, backoff_ms: u64, max_attempts: u32, now_ms: u64) {
        self.lease = None;
        let Some(c) = self.current.as_mut().filter(|c| c.seq == seq) else { return };
        c.attempts += 1;
        c.last_error = Some(error);
        c.next_attempt_ms = now_ms + backoff_ms;
        if c.attempts >= max_attempts {
            self.state = SyncState::Failed;
        }
        self.updated_ms = now_ms;
    }

    /// Stops the sync `failed` before a delivery could start (see [`SyncRecord::problem`]).
    pub fn stopped(&mut self, problem: String, now_ms: u64) {
        self.state = SyncState::Failed;
        self.problem = Some(problem);
        self.lease = None;
        self.updated_ms = now_ms;
    }

    /// Completes delivery `seq`: the destination now holds its target (`members` users); a
    /// `once` sync is then done.
    pub fn complete(&mut self, seq: u64, members: u64, now_ms: u64) {
        if let Some(c) = self.current.take_if(|c| c.seq == seq) {
            self.delivered = Some((seq, c.ds));
            self.delivered_members = members;
            if self.mode == SyncMode::Once && self.state == SyncState::Active {
                self.state = SyncState::Done;
                self.lease = None;
            }
        }
        self.updated_ms = now_ms;
    }
}

/// The ids of batch `batch` (of `size`) of a delivery from `from` to `to`: positions
/// `[batch * size, (batch + 1) * size)` of `added` (ascending) followed by `removed`.
///
/// ```
/// use roaring::RoaringBitmap;
/// use server::reach::syncs::batch_ids;
/// let from: RoaringBitmap = [1, 2, 3].into_iter().collect();
/// let to: RoaringBitmap = [3, 4, 5, 6].into_iter().collect();
/// assert_eq!(batch_ids(&from, &to, 2, 0), (vec![4, 5], vec![]));
/// assert_eq!(batch_ids(&from, &to, 2, 1), (vec![6], vec![1]));
/// assert_eq!(batch_ids(&from, &to, 2, 2), (vec![], vec![2]));
/// ```
pub fn batch_ids(from: &RoaringBitmap, to: &RoaringBitmap, size: u32, batch: u32) -> (Vec<u32>, Vec<u32>) {
    let added = to - from;
    let removed = from - to;
    let start = u64::from(batch) * u64::from(size);
    let end = start + u64::from(size);
    let n_added = added.len();
    let take = |set: &RoaringBitmap, lo: u64, hi: u64| -> Vec<u32> {
        if lo >= hi || lo >= set.len() {
            return Vec::new();
        }
        // `select` finds the first id in O(containers); the rest is a range walk.
        let Some(first) = u32::try_from(lo).ok().and_then(|lo| set.select(lo)) else { return Vec::new() };
        set.range(first..).take((hi - lo) as usize).collect()
    };
    let a = take(&added, start.min(n_added), end.min(n_added));
    let r = take(&removed, start.saturating_sub(n_added), end.saturating_sub(n_added));
    (a, r)
}

fn key(id: &str) -> String {
    format!("{SYNC}{id}")
}

/// A live sync.
///
/// # Errors
/// [`ReachError::NotFound`], or the store's.
pub fn get(meta: &Meta, app: &str, id: &str) -> Result<SyncRecord, ReachError> {
    meta.access_get(app, &key(id))?
        .map(|b| decode::<SyncRecord>(&format!("sync {id}"), &b))
        .transpose()?
        .filter(|r| !r.deleted)
        .ok_or_else(|| ReachError::NotFound(format!("no sync `{id}`")))
}

/// Every live sync of the app.
///
/// # Errors
/// The store's, or a record that does not decode.
pub fn list(meta: &Meta, app: &str) -> Result<Vec<SyncRecord>, ReachError> {
    let mut out = Vec::new();
    for (k, bytes) in meta.access_list(app, SYNC, None, usize::MAX)? {
        let r: SyncRecord = decode(&k, &bytes)?;
        if !r.deleted {
            out.push(r);
        }
    }
    Ok(out)
}

/// Stores a new sync; 409 when the id was ever used (its log keys would collide).
///
/// # Errors
/// [`ReachError::Conflict`], or the store's.
pub fn create(meta: &Meta, app: &str, record: &SyncRecord) -> Result<(), ReachError> {
    let bytes = encode(record);
    if meta.access_update(app, &key(&record.id), move |cur| cur.is_none().then_some(bytes))?.is_none() {
        return Err(ReachError::Conflict(format!("sync `{}` exists (ids of deleted syncs stay taken)", record.id)));
    }
    Ok(())
}

/// Reads, changes and stores a live sync in one transaction: `f` returns the record to store
/// (`None`: leave it). Returns what was stored.
///
/// # Errors
/// [`ReachError::NotFound`], or the store's.
pub fn update(
    meta: &Meta,
    app: &str,
    id: &str,
    f: impl FnOnce(SyncRecord) -> Option<SyncRecord>,
) -> Result<Option<SyncRecord>, ReachError> {
    let mut missing = false;
    let written = meta.access_update(app, &key(id), |cur| {
        let record = cur.and_then(|b| serde_json::from_slice::<SyncRecord>(&b).ok()).filter(|r| !r.deleted);
        match record {
            Some(r) => f(r).map(|r| encode(&r)),
            None => {
                missing = true;
                None
            }
        }
    })?;
    if missing {
        return Err(ReachError::NotFound(format!("no sync `{id}`")));
    }
    written.map(|b| decode(&format!("sync {id}"), &b)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn days(n: u32) -> Vec<String> {
        (1..=n).map(|d| format!("2026-11-{d:02}")).collect()
    }

    #[test]
    fn full_first_then_every_later_day_in_order() {
        let mut s = SyncRecord::new("s", "seg", "dest", "reached", 0);
        let d = days(3);
        assert_eq!(s.next_day(&d[..2]), Some(("2026-11-02", DeliveryKind::Full)));
        s.start("2026-11-02", DeliveryKind::Full, 5, 0, 2, 1);
        assert_eq!(s.current.as_ref().map(|c| c.batches), Some(3));
        for b in 0..3 {
            s.batch_done(1, b, 2);
        }
        s.batch_done(1, 1, 2); // a duplicate acknowledgement changes nothing
        assert_eq!(s.current.as_ref().map(|c| c.batches_done), Some(3));
        s.complete(1, 5, 3);
        assert_eq!(s.next_day(&d[..2]), None);
        assert_eq!(s.next_day(&d), Some(("2026-11-03", DeliveryKind::Delta)));
        s.resend(4);
        assert_eq!(s.next_day(&d), Some(("2026-11-03", DeliveryKind::Full)));
    }

    #[test]
    fn failures_back_off_then_fail_and_resume_rearms() {
        let mut s = SyncRecord::new("s", "seg", "dest", "reached", 0);
        s.start("d", DeliveryKind::Full, 1, 0, 10, 0);
        for i in 1..=3 {
            s = s.claim("w", s.current.as_ref().map_or(0, |c| c.next_attempt_ms)).expect("due");
            s.batch_failed(1, format!("500 #{i}"), 100, 3, 10);
            assert!(!s.runnable(109));
        }
        assert_eq!(s.state, SyncState::Failed);
        assert!(!s.runnable(u64::MAX));
        s.resume(500);
        assert!(s.runnable(500));
        assert_eq!(s.current.as_ref().map(|c| (c.attempts, c.batches_done)), Some((0, 0)));
    }

    #[test]
    fn a_once_sync_is_done_after_its_full_delivery_until_resent() {
        let mut s = SyncRecord { mode: SyncMode::Once, ..SyncRecord::new("s", "seg", "dest", "reached", 0) };
        let d = days(3);
        s.start("2026-11-01", DeliveryKind::Full, 3, 0, 10, 0);
        s.batch_done(1, 0, 1);
        s.complete(1, 3, 2);
        assert_eq!(s.state, SyncState::Done);
        assert!(!s.runnable(u64::MAX), "a later day is not sent");
        s.pause(3);
        s.resume(4);
        assert_eq!(s.state, SyncState::Done, "pause and resume leave it done");
        s.resend(5);
        assert!(s.runnable(5));
        assert_eq!(s.next_day(&d), Some(("2026-11-03", DeliveryKind::Full)));
        s.start("2026-11-03", DeliveryKind::Full, 4, 0, 10, 6);
        s.complete(2, 4, 7);
        assert_eq!((s.state, s.delivered.as_ref().map(|(q, _)| *q)), (SyncState::Done, Some(2)));
    }

    #[test]
    fn a_live_claim_keeps_others_out() {
        let s = SyncRecord::new("s", "seg", "dest", "reached", 0).claim("a", 0).expect("claim");
        assert!(s.claim("b", LEASE_MS - 1).is_none());
        assert!(s.claim("a", 1).is_some());
        assert!(s.claim("b", LEASE_MS).is_some());
    }

    proptest! {
        /// Every batch of a delivery, concatenated, is exactly added then removed: each id
        /// once, none lost, whatever the sets and the batch size.
        #[test]
        fn batches_partition_the_change(
            from in proptest::collection::btree_set(0u32..5_000, 0..300),
            to in proptest::collection::btree_set(0u32..5_000, 0..300),
            size in 1u32..50,
        ) {
            let from: RoaringBitmap = from.into_iter().collect();
            let to: RoaringBitmap = to.into_iter().collect();
            let total = (&to - &from).len() + (&from - &to).len();
            let batches = total.div_ceil(u64::from(size)).max(1) as u32;
            let (mut added, mut removed) = (Vec::new(), Vec::new());
            for b in 0..batches {
                let (a, r) = batch_ids(&from, &to, size, b);
                prop_assert!(a.len() + r.len() <= size as usize);
                added.extend(a);
                removed.extend(r);
            }
            prop_assert_eq!(added, (&to - &from).iter().collect::<Vec<_>>());
            prop_assert_eq!(removed, (&from - &to).iter().collect::<Vec<_>>());
        }
    }
}
