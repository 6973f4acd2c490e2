//! The analyses computed in this browser (issue 16): for a funnel, a pivot, an overlap or a
//! group's distribution within an audience, the full-tier blobs it reads and its answer from
//! them. Each answer is built by the same `engine::analysis` function the server's route calls
//! (`exact_answer`, `answer`), so a page computed here shows the route's numbers to the last
//! digit; the browser tests compare the two.
//!
//! A question the browser does not answer on its own gives `None` from `plan`, and the page asks
//! the server:
//! - a funnel with an audience: the audience is evaluated on every day of the range, which needs
//!   every day's manifest and tags, not only the loaded day's;
//! - a funnel whose range leaves the loaded event window, or whose split is read on another day
//!   than the loaded one (the server splits by the latest published day of the range);
//! - anything the server would refuse (an unknown group or event, too many values, a rule that
//!   does not check): the server's answer carries the error with its field.
//!
//! Plain Rust over [`Blobs`], tested natively against a naive recomputation.

use std::collections::HashSet;

use engine::analysis::{funnel, overlap, pivot};
use engine::manifest::BlobRef;
use engine::{IdSet, Manifest, Plan, Rule};
use wire::{Funnel, FunnelRequest, Overlap, OverlapRequest, Pivot, PivotRequest, SetRef};

use crate::estimate::{self, Blobs, EventWindow, Tier};

/// An analysis the browser can answer from full-tier blobs.
pub trait Local {
    /// What it answers (the server route's answer type).
    type Answer;
    /// Every blob it reads, without repeats.
    fn refs(&self) -> Vec<BlobRef>;
    /// The answer, once every blob of [`Local::refs`] is in `blobs` (`None` before).
    fn answer(&self, manifest: &Manifest, window: &EventWindow, blobs: &Blobs) -> Option<Self::Answer>;
}

fn set<'a>(blobs: &'a Blobs, r: &BlobRef) -> Option<&'a IdSet> {
    blobs.get(&r.blob).map(|s| &**s)
}

fn unique(mut refs: Vec<BlobRef>) -> Vec<BlobRef> {
    let mut seen = HashSet::new();
    refs.retain(|r| seen.insert(r.blob.clone()));
    refs
}

/// A tag group's values on the manifest's day with their full-tier blobs, as the server's
/// routes accept them (not numeric, at most [`pivot::MAX_VALUES`] values).
fn group_values(manifest: &Manifest, group: &str) -> Option<Vec<(String, BlobRef)>> {
    let g = manifest.group(group).filter(|g| g.numeric.is_none() && g.values.len() <= pivot::MAX_VALUES)?;
    Some(g.values.iter().map(|v| (v.value.clone(), v.full.clone())).collect())
}

fn names(values: &[(String, BlobRef)]) -> Vec<String> {
    values.iter().map(|(v, _)| v.clone()).collect()
}

/// An audience given as a rule: its checked plan and the blobs it reads.
#[derive(Debug, Clone)]
struct Audience {
    plan: Plan,
    refs: Vec<BlobRef>,
}

impl Audience {
    fn plan(rule: &wire::Rule, manifest: &Manifest, window: &EventWindow) -> Option<Audience> {
        let rule = Rule::from_json(&rule.0).ok()?;
        let plan = Plan::validate(&rule, &estimate::catalog(manifest, window)).ok()?;
        let refs = estimate::needed(manifest, window, &plan.needs(), Tier::Full);
        Some(Audience { plan, refs })
    }

    fn members(&self, manifest: &Manifest, window: &EventWindow, blobs: &Blobs) -> Option<IdSet> {
        if self.refs.iter().any(|r| !blobs.contains_key(&r.blob)) {
            return None;
        }
        estimate::audience(&self.plan, manifest, window, blobs, Tier::Full)
    }
}

/// A funnel the browser answers: each step's event column on each day of the range.
#[derive(Debug, Clone)]
pub struct LocalFunnel {
    from: String,
    to: String,
    events: Vec<String>,
    within_days: u32,
    /// Per step, per day, the event's users (`None`: no upload that day, nobody).
    columns: Vec<Vec<Option<BlobRef>>>,
    /// The split's values on the loaded day.
    by: Option<Vec<(String, BlobRef)>>,
}

impl LocalFunnel {
    /// The funnel `req` over the loaded day's event window, or `None` when the server must
    /// answer it (module docs).
    pub fn plan(req: &FunnelRequest, manifest: &Manifest, window: &EventWindow) -> Option<LocalFunnel> {
        if req.audience.is_some() || req.steps.is_empty() || req.steps.len() > funnel::MAX_STEPS {
            return None;
        }
        let (from, to): (engine::ds::Ds, engine::ds::Ds) = (req.from.parse().ok()?, req.to.parse().ok()?);
        let n_days = to.days_since_epoch() - from.days_since_epoch() + 1;
        let retained = i32::try_from(window.retained_days).ok()?;
        if n_days < 1 || n_days > retained || req.within_days > window.retained_days {
            return None;
        }
        let days: Vec<String> = (0..n_days).map(|i| from.add_days(i).to_string()).collect();
        // Every day of the range must lie in the window (a day it lacks is then unpublished).
        let (first, last) = (window.days.first()?, window.days.last()?);
        if days[0] < first.0 || days[days.len() - 1] > last.0 {
            return None;
        }
        let mut columns = Vec::with_capacity(req.steps.len());
        for step in &req.steps {
            let column: Vec<Option<BlobRef>> =
                days.iter().map(|ds| window.entry(&step.event, ds).map(|e| e.bsi.exists.full.clone())).collect();
            if column.iter().all(Option::is_none) {
                return None;
            }
            columns.push(column);
        }
        let by = match &req.by {
            None => None,
            Some(group) => {
                // The server splits by the latest published day of the range.
                let latest = window.days.iter().rev().find(|(ds, _)| *ds <= days[days.len() - 1])?;
                if latest.0 != manifest.ds || latest.0 < days[0] {
                    return None;
                }
                Some(group_values(manifest, group)?)
            }
        };
        Some(LocalFunnel {
            from: days[0].clone(),
            to: days[days.len() - 1].clone(),
            events: req.steps.iter().map(|s| s.event.clone()).collect(),
            within_days: req.within_days,
            columns,
            by,
        })
    }
}

impl Local for LocalFunnel {
    type Answer = Funnel;

    fn refs(&self) -> Vec<BlobRef> {
        let columns = self.columns.iter().flatten().flatten().cloned();
        unique(columns.chain(self.by.iter().flatten().map(|(_, r)| r.clone())).collect())
    }

    fn answer(&self, _manifest: &Manifest, _window: &EventWindow, blobs: &Blobs) -> Option<Funnel> {
        let empty = IdSet::new();
        let mut steps = Vec::with_capacity(self.events.len());
        for (event, column) in self.events.iter().zip(&self.columns) {
            let days = column
                .iter()
                .map(|r| match r {
                    Some(r) => set(blobs, r),
                    None => Some(&empty),
                })
                .collect::<Option<Vec<&IdSet>>>()?;
            steps.push(funnel::StepDays { event, days });
        }
        let by = match &self.by {
            Some(values) => {
                Some(values.iter().map(|(v, r)| Some((v.clone(), set(blobs, r)?))).collect::<Option<Vec<_>>>()?)
            }
            None => None,
        };
        let reached = funnel::reach(&steps, None, self.within_days);
        Some(funnel::exact_answer((&self.from, &self.to), &self.events, &reached, self.within_days, by.as_deref()))
    }
}

/// A pivot the browser answers on the loaded day.
#[derive(Debug, Clone)]
pub struct LocalPivot {
    universe: BlobRef,
    rows: Vec<(String, BlobRef)>,
    columns: Vec<(String, BlobRef)>,
    audience: Option<Audience>,
}

impl LocalPivot {
    /// The pivot `req` on the loaded day, or `None` when the server must answer it.
    pub fn plan(req: &PivotRequest, manifest: &Manifest, window: &EventWindow) -> Option<LocalPivot> {
        if req.ds.as_deref().is_some_and(|ds| ds != manifest.ds) {
            return None;
        }
        let audience = match &req.audience {
            Some(rule) => Some(Audience::plan(rule, manifest, window)?),
            None => None,
        };
        Some(LocalPivot {
            universe: manifest.universe.clone(),
            rows: group_values(manifest, &req.rows)?,
            columns: group_values(manifest, &req.columns)?,
            audience,
        })
    }
}

impl Local for LocalPivot {
    type Answer = Pivot;

    fn refs(&self) -> Vec<BlobRef> {
        let values = self.rows.iter().chain(&self.columns).map(|(_, r)| r.clone());
        let audience = self.audience.iter().flat_map(|a| a.refs.iter().cloned());
        unique(std::iter::once(self.universe.clone()).chain(values).chain(audience).collect())
    }

    fn answer(&self, manifest: &Manifest, window: &EventWindow, blobs: &Blobs) -> Option<Pivot> {
        let universe = set(blobs, &self.universe)?;
        let sets = |values: &[(String, BlobRef)]| values.iter().map(|(_, r)| set(blobs, r)).collect::<Option<Vec<_>>>();
        let (rows, columns) = (sets(&self.rows)?, sets(&self.columns)?);
        let audience = match &self.audience {
            Some(a) => Some(a.members(manifest, window, blobs)?),
            None => None,
        };
        let given = pivot::Given::exact(&rows, &columns, audience.as_ref(), universe);
        Some(pivot::answer(&manifest.ds, names(&self.rows), names(&self.columns), given))
    }
}

/// One set of an overlap: a saved segment's members on the day, or a rule's.
#[derive(Debug, Clone)]
enum OverlapSet {
    Segment(BlobRef),
    Rule(Audience),
}

/// An overlap the browser answers on the loaded day.
#[derive(Debug, Clone)]
pub struct LocalOverlap {
    /// Each set's name in the answer (the segment's id, or `segments[i]` for a rule).
    names: Vec<String>,
    sets: Vec<OverlapSet>,
}

impl LocalOverlap {
    /// The overlap `req` on the loaded day, or `None` when the server must answer it.
    pub fn plan(req: &OverlapRequest, manifest: &Manifest, window: &EventWindow) -> Option<LocalOverlap> {
        if req.ds.as_deref().is_some_and(|ds| ds != manifest.ds)
            || req.segments.is_empty()
            || req.segments.len() > overlap::MAX_SETS
        {
            return None;
        }
        let mut names = Vec::with_capacity(req.segments.len());
        let mut sets = Vec::with_capacity(req.segments.len());
        for (i, s) in req.segments.iter().enumerate() {
            match s {
                SetRef::Segment(id) => {
                    sets.push(OverlapSet::Segment(manifest.segment(id)?.members.full.clone()));
                    names.push(id.clone());
                }
                SetRef::Rule(rule) => {
                    sets.push(OverlapSet::Rule(Audience::plan(rule, manifest, window)?));
                    names.push(format!("segments[{i}]"));
                }
            }
        }
        Some(LocalOverlap { names, sets })
    }
}

impl Local for LocalOverlap {
    type Answer = Overlap;

    fn refs(&self) -> Vec<BlobRef> {
        let refs = self.sets.iter().flat_map(|s| match s {
            OverlapSet::Segment(r) => vec![r.clone()],
            OverlapSet::Rule(a) => a.refs.clone(),
        });
        unique(refs.collect())
    }

    fn answer(&self, manifest: &Manifest, window: &EventWindow, blobs: &Blobs) -> Option<Overlap> {
        let owned = self
            .sets
            .iter()
            .map(|s| match s {
                OverlapSet::Segment(r) => set(blobs, r).cloned(),
                OverlapSet::Rule(a) => a.members(manifest, window, blobs),
            })
            .collect::<Option<Vec<IdSet>>>()?;
        let refs: Vec<&IdSet> = owned.iter().collect();
        Some(overlap::exact_answer(&manifest.ds, &self.names, &refs))
    }
}

/// A tag group's distribution within an audience on the loaded day: each value's users in it
/// (what the server's pivot of the group with itself gives on its diagonal).
#[derive(Debug, Clone)]
pub struct LocalDistribution {
    values: Vec<(String, BlobRef)>,
    audience: Audience,
}

impl LocalDistribution {
    /// The distribution of `group` within the rule `audience`, or `None` when the server must
    /// answer it.
    pub fn plan(group: &str, audience: &wire::Rule, manifest: &Manifest, window: &EventWindow) -> Option<Self> {
        Some(LocalDistribution {
            values: group_values(manifest, group)?,
            audience: Audience::plan(audience, manifest, window)?,
        })
    }
}

impl Local for LocalDistribution {
    type Answer = Vec<(String, Option<u64>)>;

    fn refs(&self) -> Vec<BlobRef> {
        unique(self.values.iter().map(|(_, r)| r.clone()).chain(self.audience.refs.iter().cloned()).collect())
    }

    fn answer(&self, manifest: &Manifest, window: &EventWindow, blobs: &Blobs) -> Option<Self::Answer> {
        let members = self.audience.members(manifest, window, blobs)?;
        self.values.iter().map(|(v, r)| Some((v.clone(), Some(set(blobs, r)?.intersection_len(&members))))).collect()
    }
}

#[cfg(test)]
mod tests;
