//! What a day computes from its tags: segment members and composite tag groups (issue 15), in
//! rounds, since they may name each other.

use std::collections::BTreeMap;

use engine::manifest::{SegmentEntry, SegmentError};
use engine::sample::SampleMap;
use engine::snapshot::{Blobs, GroupData, build_group, build_segment};
use engine::{IdSet, Manifest, Plan, Rule, TagKind};

use super::{PublishError, Publisher, SegmentDef, replace_by};
use crate::snapshots::{Snapshots, Tier};

impl Publisher {
    /// Members of every segment, and the groups of every composite tag, on one day's manifest
    /// (set into it). Segments and composites may refer to each other, so they are computed in
    /// rounds until no more can be; one that names something the day lacks (or is part of a
    /// cycle) is left out of the day, with the reason (in `segment_errors`; a composite under
    /// `tag:<group>`). Composite groups are always computed, never carried.
    pub(super) fn compute_segments(
        &self,
        m: &mut Manifest,
        sample: &SampleMap,
        specs: &[SegmentDef],
    ) -> Result<(), PublishError> {
        use crate::governance::composites::{self, Def};
        enum Item<'a> {
            Segment(&'a SegmentDef),
            Composite(&'a Def),
        }
        impl Item<'_> {
            fn id(&self) -> String {
                match self {
                    Item::Segment(s) => s.id().to_owned(),
                    Item::Composite(c) => composites::node(&c.group),
                }
            }
        }
        let (defs, names) = composites::defs(self.snapshots.meta(), &m.app)?;
        m.groups.retain(|g| !names.contains(&g.name));
        let mut blobs = Blobs::new();
        // Event windows read the days before this one (as published).
        let longest = specs
            .iter()
            .map(|s| match s {
                SegmentDef::Dynamic { rule, .. } => rule.longest_window(),
                SegmentDef::Static { .. } => 0,
            })
            .chain(defs.iter().flat_map(|d| d.values.iter().map(|(_, r)| r.longest_window())))
            .max()
            .unwrap_or(0);
        let earlier = self.snapshots.earlier_days(&m.app, &m.ds, longest)?;
        let mut done: Vec<SegmentEntry> = Vec::new();
        let mut groups_done: Vec<engine::manifest::GroupEntry> = Vec::new();
        let mut pending: Vec<Item<'_>> =
            specs.iter().map(Item::Segment).chain(defs.iter().map(Item::Composite)).collect();
        // Why each definition still pending could not be computed in the last round.
        let mut why: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            for item in pending {
                let mut partial = m.clone();
                partial.segments = done.clone();
                for g in &groups_done {
                    replace_by(&mut partial.groups, g.clone(), |g| &g.name);
                }
                let eval = |rule: &Rule| -> Result<Result<IdSet, String>, PublishError> {
                    let catalog = Snapshots::catalog(&partial, &earlier, self.retention_days);
                    Ok(match Plan::validate(rule, &catalog) {
                        Ok(plan) => {
                            let src = self.snapshots.source(&partial, Tier::Exact, &plan.needs(), &earlier)?;
                            engine::members(&plan, &src).map_err(|e| e.to_string())
                        }
                        Err(e) => Err(format!("{} (at {})", e, e.path)),
                    })
                };
                let outcome = match &item {
                    Item::Segment(SegmentDef::Static { members, .. }) => Ok((*self.snapshots.set(members)?).clone()),
                    Item::Segment(SegmentDef::Dynamic { rule, .. }) => eval(rule)?,
                    Item::Composite(def) => {
                        let mut sets = Vec::new();
                        let mut failed = None;
                        for (value, rule) in &def.values {
                            match eval(rule)? {
                                Ok(set) => sets.push((value.clone(), set)),
                                Err(e) => {
                                    failed = Some(format!("value `{value}`: {e}"));
                                    break;
                                }
                            }
                        }
                        match failed {
                            Some(e) => Err(e),
                            None => {
                                let data = GroupData {
                                    name: def.group.clone(),
                                    kind: TagKind::Categorical,
                                    category: def.category.clone(),
                                    loaded_ds: m.ds.clone(),
                                    values: composites::first_match(sets, def.multi),
                                    numeric: None,
                                };
                                groups_done.push(build_group(&data, sample, &mut blobs));
                                Ok(IdSet::new())
                            }
                        }
                    }
                };
                match (outcome, &item) {
                    (Err(message), _) => {
                        why.insert(item.id(), message);
                        still.push(item);
                    }
                    (Ok(_), Item::Composite(_)) => {}
                    (Ok(set), Item::Segment(spec)) => {
                        let revision = match spec {
                            SegmentDef::Dynamic { revision, .. } | SegmentDef::Static { revision, .. } => *revision,
                        };
                        // Static members may include users beyond this day's universe only if
                        // they were uploaded later; keep the universe invariant.
                        let set = self.within_universe(set, m)?;
                        done.push(build_segment(spec.id(), revision, &set, sample, &mut blobs));
                    }
                }
            }
            pending = still;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        // A segment stopped by an offline tag group says so (its history shows the reason).
        let offline = if pending.is_empty() {
            BTreeMap::new()
        } else {
            crate::governance::offline_on(self.snapshots.meta(), &m.app, &m.ds)?
        };
        let offline_reason = |rule: &Rule| {
            crate::governance::tag_refs(rule)
                .keys()
                .find(|g| offline.contains_key(*g) && m.group(g).is_none())
                .map(|g| format!("tag group `{g}` is offline from {} (catalog)", offline[g]))
        };
        let mut errors: Vec<SegmentError> = pending
            .iter()
            .map(|item| {
                let stopped = match item {
                    Item::Segment(SegmentDef::Dynamic { rule, .. }) => offline_reason(rule),
                    Item::Composite(def) => def.values.iter().find_map(|(_, r)| offline_reason(r)),
                    Item::Segment(SegmentDef::Static { .. }) => None,
                };
                let id = item.id();
                let message = stopped.unwrap_or_else(|| {
                    why.get(&id).cloned().unwrap_or_else(|| "not computable on this day".to_owned())
                });
                SegmentError { id, message }
            })
            .collect();
        for e in &errors {
            tracing::warn!(segment = %e.id, ds = %m.ds, reason = %e.message, "segment not computed on this day");
        }
        self.write_blobs(&blobs)?;
        done.sort_by(|a, b| a.id.cmp(&b.id));
        errors.sort_by(|a, b| a.id.cmp(&b.id));
        for g in groups_done {
            replace_by(&mut m.groups, g, |g| &g.name);
        }
        m.segments = done;
        m.segment_errors = errors;
        Ok(())
    }
}
