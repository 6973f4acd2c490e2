//! Tag governance's part of a publish (issue 15): who publishes and why ([`Context`]), the
//! quality gate ([`Gate`]), what became of an upload ([`Outcome`]), and the version log
//! record each changed day gets in the publish's own transaction.

use engine::IdSet;
use engine::snapshot::GroupData;

use super::{Draft, PublishReport};

/// Whether a tag group upload is checked (issue 15).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gate {
    /// Not checked (events, restores).
    Skip,
    /// Checked against the group's previous version under this policy.
    Check(wire::QualityPolicy),
    /// Checked and recorded, never held (an approved hold).
    Approved,
}

/// Who publishes and why, for the day's version log.
#[derive(Debug, Clone)]
pub struct Context {
    /// Who (none for background recomputes).
    pub by: Option<wire::Actor>,
    /// Why the uploaded day gets a version.
    pub cause: wire::VersionCause,
    /// The quality gate.
    pub gate: Gate,
    /// For a restore: the version restored.
    pub restored_from: Option<u64>,
    /// More `access` records to commit with the publish (a hold's decision).
    pub records: Vec<(String, Vec<u8>)>,
}

impl Context {
    /// An upload by `by` under `gate`.
    pub fn upload(by: wire::Actor, gate: Gate) -> Context {
        Context { by: Some(by), cause: wire::VersionCause::Upload, gate, restored_from: None, records: Vec::new() }
    }
}

/// What became of an upload.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Published, with its checks (tag groups).
    Published(PublishReport, Option<wire::Quality>),
    /// A check failed under a `hold` policy: nothing was written.
    Held(Vec<wire::QualityCheck>),
}

/// What the version log says of one changed day.
#[derive(Debug, Clone)]
pub(super) struct Note {
    pub(super) cause: wire::VersionCause,
    pub(super) group: Option<String>,
    pub(super) rows: Option<u64>,
    pub(super) holders_before: Option<u64>,
    pub(super) holders_after: Option<u64>,
}

/// What the quality checks need of a group about to be published.
pub(super) fn new_group_side(g: &GroupData, universe: u64) -> crate::governance::quality::Side {
    let (holders, range) = match &g.numeric {
        Some(c) => (c.bsi.exists().len(), Some(crate::governance::decimal_range(c.offset, c.max, c.scale))),
        None => (g.values.iter().fold(IdSet::new(), |acc, (_, s)| acc.or(s)).len(), None),
    };
    let values = g.values.iter().map(|(v, s)| (v.clone(), s.len())).collect();
    crate::governance::quality::Side { holders, universe, values, range }
}

/// The version log's part of a commit.
pub(super) struct Log<'a> {
    pub(super) ctx: &'a Context,
    pub(super) quality: Option<&'a wire::Quality>,
    pub(super) records: Vec<(String, Vec<u8>)>,
}

impl Log<'_> {
    /// The version record of one changed day.
    pub(super) fn entry(&self, d: &Draft, version: u64, manifest: &str, now: u64) -> (String, Vec<u8>) {
        let first = d.note.cause == self.ctx.cause;
        let v = wire::DayVersion {
            version,
            cause: d.note.cause,
            group: d.note.group.clone(),
            by: self.ctx.by.clone(),
            rows: d.note.rows.filter(|_| first && self.ctx.cause != wire::VersionCause::Restore),
            holders_before: d.note.holders_before,
            holders_after: d.note.holders_after,
            verdict: self.quality.filter(|_| first).map(|q| q.verdict),
            failed: self
                .quality
                .filter(|_| first)
                .map(|q| q.checks.iter().filter(|c| !c.ok).cloned().collect())
                .unwrap_or_default(),
            restored_from: self.ctx.restored_from.filter(|_| first),
            at_ms: now,
            manifest: manifest.to_owned(),
            restorable: true,
        };
        (crate::governance::versions::key(&d.ds, version), serde_json::to_vec(&v).unwrap_or_default())
    }
}
