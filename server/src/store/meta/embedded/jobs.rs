//! The durable jobs table: job records sealed like every other record, queued inside the
//! transaction of the change that causes them (see `crate::jobs`).

use redb::{ReadableTable, WriteTransaction};

use super::{Embedded, JOBS, StoreError};
use crate::clock::now_ms;
use crate::jobs::{Job, JobKind, Transitions};
use crate::store::meta::codec::{job_record, sealed_job};

impl Embedded {
    /// A job's record.
    pub fn job_get(&self, app: &str, kind: JobKind) -> Result<Option<Job>, StoreError> {
        self.read(|txn| match txn.open_table(JOBS)?.get((app, kind.as_str()))? {
            Some(v) => Ok(Some(job_record(app, kind.as_str(), v.value())?)),
            None => Ok(None),
        })
    }

    /// Every job record (all apps), for the worker's scan.
    pub fn job_list(&self) -> Result<Vec<Job>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(JOBS)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                let (app, kind) = k.value();
                out.push(job_record(app, kind, v.value())?);
            }
            Ok(out)
        })
    }

    /// Reads, changes and stores a job in one transaction: `f` gets the current record and
    /// returns the one to store (`None`: leave it as it is). Returns what `f` returned.
    pub fn job_update(
        &self,
        app: &str,
        kind: JobKind,
        f: Box<dyn FnOnce(Option<Job>) -> Option<Job> + '_>,
    ) -> Result<Option<Job>, StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(JOBS)?;
            let current = match t.get((app, kind.as_str()))? {
                Some(v) => Some(job_record(app, kind.as_str(), v.value())?),
                None => None,
            };
            match f(current) {
                Some(job) => {
                    t.insert((app, kind.as_str()), sealed_job(&job).as_slice())?;
                    Ok((Some(job), true))
                }
                None => Ok((None, false)),
            }
        })
    }
}

/// Queues `days` on an app's job inside a write transaction (nothing when `days` is empty).
pub(super) fn enqueue(txn: &WriteTransaction, app: &str, kind: JobKind, days: &[String]) -> Result<(), StoreError> {
    if days.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(JOBS)?;
    let current = match t.get((app, kind.as_str()))? {
        Some(v) => Some(job_record(app, kind.as_str(), v.value())?),
        None => None,
    };
    let job = Job::enqueue(current, app, kind, days, now_ms());
    t.insert((app, kind.as_str()), sealed_job(&job).as_slice())?;
    Ok(())
}

/// An embedded store belongs to one process at a time (redb locks the file), so a claim found
/// when it is opened belongs to a process that died: released at once rather than waiting for
/// it to lapse.
pub(super) fn release_claims(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut t = txn.open_table(JOBS)?;
    let mut released = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let (app, kind) = k.value();
        let mut job = job_record(app, kind, v.value())?;
        if job.lease.is_some() {
            job.release();
            released.push(job);
        }
    }
    for job in released {
        t.insert((job.app.as_str(), job.kind.as_str()), sealed_job(&job).as_slice())?;
    }
    Ok(())
}

/// The published days of an app, oldest first (their keys: which days exist).
pub(super) fn days_of(
    t: &redb::Table<'_, (&'static str, &'static str), &'static [u8]>,
    app: &str,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for row in t.range((app, "")..)? {
        let (k, _) = row?;
        let (a, ds) = k.value();
        if a != app {
            break;
        }
        out.push(ds.to_owned());
    }
    Ok(out)
}
