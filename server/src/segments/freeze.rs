//! Freezing an audience: the members of a rule, or of an existing segment, on one day become a
//! new static segment, in one step.
//!
//! The members are computed from the day's published version (the exact tier), written as one
//! blob, and the segment is created *with* its members by one compare-and-swap, so there is
//! never a temporary segment, an empty static segment, or a half-made one: if any step fails,
//! no segment exists (a blob written before a failed create is unreferenced, and collected like
//! any orphan). The app's browser used to stitch this from five requests.

use engine::{IdSet, Plan, Rule, RuleError};

use super::sync::{self, Mutation, Op, Outcome, SegmentRecord, SegmentSpec, SegmentState, StaticMembers};
use crate::snapshots::{SnapshotError, Snapshots, Tier};
use crate::store::{BlobError, StoreError};

/// Where the members come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Whoever matches this rule on the day.
    Rule(Rule),
    /// The members of this segment on the day.
    Segment(String),
    /// Users the caller computed (a funnel step's, by `routes::analysis::funnel_step_users`).
    Users(IdSet),
}

/// Why a freeze failed.
#[derive(Debug, thiserror::Error)]
pub enum FreezeError {
    /// No published day (with that date).
    #[error("no published day{}", .0.as_ref().map(|d| format!(" {d}")).unwrap_or_default())]
    NoDay(Option<String>),
    /// The rule does not fit the day.
    #[error(transparent)]
    Rule(RuleError),
    /// The source segment has no members on the day.
    #[error("segment `{segment}` has no members on {ds}{}", .reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    NotOnDay {
        /// The source segment.
        segment: String,
        /// The day.
        ds: String,
        /// Why, when the day recorded it.
        reason: Option<String>,
    },
    /// Fewer members than the app's minimum audience.
    #[error(transparent)]
    TooSmall(#[from] crate::privacy::TooSmall),
    /// A live segment has this id already.
    #[error("segment `{0}` exists; choose another id")]
    Exists(String),
    /// Another write kept winning the race for this id.
    #[error("segment `{0}` is changing too fast; retry")]
    Contended(String),
    /// Evaluating the rule failed.
    #[error("evaluating the rule failed: {0}")]
    Eval(String),
    /// Reading the day failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the members failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// What a freeze made.
#[derive(Debug, Clone)]
pub struct Frozen {
    /// The new static segment's record.
    pub record: SegmentRecord,
    /// The day whose members were frozen.
    pub ds: String,
}

/// What to freeze.
#[derive(Debug, Clone)]
pub struct FreezeRequest {
    /// The new segment's id.
    pub id: String,
    /// Its name and description (kind static, no rule).
    pub spec: SegmentSpec,
    /// Where the members come from.
    pub source: Source,
    /// The day; the latest published day when `None`.
    pub ds: Option<String>,
    /// The app's minimum audience (0: off): fewer members are refused.
    pub min_audience: u64,
}

/// Freezes the members of `req.source` on the day into the new static segment `req.id`.
///
/// # Errors
/// See [`FreezeError`]; on any error no segment was created.
pub fn freeze(
    snaps: &Snapshots,
    retention_days: u32,
    app: &str,
    req: &FreezeRequest,
    now_ms: u64,
) -> Result<Frozen, FreezeError> {
    let (id, ds) = (req.id.as_str(), req.ds.as_deref());
    let (ds, day) = snaps.day(app, ds)?.ok_or_else(|| FreezeError::NoDay(ds.map(str::to_owned)))?;
    let manifest = snaps.manifest(&day.manifest)?;
    let members: IdSet = match &req.source {
        Source::Segment(segment) => match manifest.segment(segment) {
            Some(entry) => (*snaps.set(&entry.members.full.blob)?).clone(),
            None => {
                let reason = manifest.segment_errors.iter().find(|e| &e.id == segment).map(|e| e.message.clone());
                return Err(FreezeError::NotOnDay { segment: segment.clone(), ds, reason });
            }
        },
        Source::Rule(rule) => {
            let earlier = snaps.earlier_days(app, &ds, rule.longest_window())?;
            let plan = Plan::validate(rule, &Snapshots::catalog(&manifest, &earlier, retention_days))
                .map_err(FreezeError::Rule)?;
            let src = snaps.source(&manifest, Tier::Exact, &plan.needs(), &earlier)?;
            engine::members(&plan, &src).map_err(|e| FreezeError::Eval(e.to_string()))?
        }
        Source::Users(users) => users.clone(),
    };
    crate::privacy::check_audience(req.min_audience, members.len(), "the frozen audience")?;
    let blob = snaps.blobs().put(&engine::blob::encode(&members))?;
    let frozen = StaticMembers { blob, count: members.len(), uploaded_rows: members.len(), uploaded_ms: now_ms };
    let meta = snaps.meta();
    for _ in 0..8 {
        let stored = super::load(meta, app, id)?;
        let (bytes, current) = match stored {
            Some((bytes, record)) => (Some(bytes), Some(record)),
            None => (None, None),
        };
        let create = Mutation { op: Op::Create(req.spec.clone()), version: None };
        let mut record = match sync::apply(current.as_ref(), id, &create, now_ms) {
            Outcome::Applied { record, .. } => record,
            _ => return Err(FreezeError::Exists(id.to_owned())),
        };
        if let SegmentState::Live(live) = &mut record.state {
            live.members = Some(frozen.clone());
        }
        let encoded = serde_json::to_vec(&record)
            .map_err(|source| StoreError::Record { what: format!("segment {id}"), source })?;
        if meta.segment_cas(app, id, bytes.as_deref(), &encoded)? {
            return Ok(Frozen { record, ds });
        }
    }
    Err(FreezeError::Contended(id.to_owned()))
}
