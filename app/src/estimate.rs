//! Evaluating the audience in the browser: which blobs a rule needs on each tier, a
//! [`Source`] over the blobs loaded so far, the estimate (sample tier, with its 95%
//! interval) or exact count (full tier), and the per-condition funnel. Plain Rust, tested
//! natively.

use std::collections::HashMap;
use std::rc::Rc;

use engine::manifest::BlobRef;
use engine::plan::Needs;
use engine::{EvalOptions, IdSet, Manifest, Plan, Source};

/// Decoded bitmaps by blob address.
pub type Blobs = HashMap<String, Rc<IdSet>>;

/// Which set of blobs a number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The 1-in-`rate` sample: small blobs, an estimate with an interval.
    Sample,
    /// Every user: the exact count.
    Full,
}

/// The blob of one value on a tier.
fn pick(full: &BlobRef, sample: &BlobRef, tier: Tier) -> BlobRef {
    match tier {
        Tier::Sample => sample.clone(),
        Tier::Full => full.clone(),
    }
}

/// The universe blob of a tier.
pub fn universe_ref(manifest: &Manifest, tier: Tier) -> BlobRef {
    pick(&manifest.universe, &manifest.sample.universe, tier)
}

/// The blob of `group = value` on a tier.
pub fn value_ref(manifest: &Manifest, group: &str, value: &str, tier: Tier) -> Option<BlobRef> {
    let v = manifest.group(group)?.values.iter().find(|v| v.value == value)?;
    Some(pick(&v.full, &v.sample, tier))
}

/// The members blob of a segment on a tier.
pub fn segment_ref(manifest: &Manifest, id: &str, tier: Tier) -> Option<BlobRef> {
    let s = manifest.segment(id)?;
    Some(pick(&s.members.full, &s.members.sample, tier))
}

/// Every blob an evaluation of `needs` reads on `tier`, universe first, without repeats.
pub fn needed(manifest: &Manifest, needs: &Needs, tier: Tier) -> Vec<BlobRef> {
    let mut refs = vec![universe_ref(manifest, tier)];
    refs.extend(needs.tag_values.iter().filter_map(|(g, v)| value_ref(manifest, g, v, tier)));
    refs.extend(needs.segments.iter().filter_map(|id| segment_ref(manifest, id, tier)));
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r| seen.insert(r.blob.clone()));
    refs
}

/// Every blob of a tag group's values on a tier.
pub fn group_refs(manifest: &Manifest, group: &str, tier: Tier) -> Vec<BlobRef> {
    manifest.group(group).map(|g| g.values.iter().map(|v| pick(&v.full, &v.sample, tier)).collect()).unwrap_or_default()
}

/// Bytes of `refs` not in `blobs` yet.
pub fn missing_bytes(refs: &[BlobRef], blobs: &Blobs) -> u64 {
    refs.iter().filter(|r| !blobs.contains_key(&r.blob)).map(|r| r.bytes).sum()
}

/// A [`Source`] over one tier of a manifest, reading the blobs loaded so far.
#[derive(Debug)]
pub struct TierSource<'a> {
    manifest: &'a Manifest,
    blobs: &'a Blobs,
    tier: Tier,
    universe: &'a IdSet,
}

impl<'a> TierSource<'a> {
    /// `None` while the tier's universe is not loaded.
    pub fn new(manifest: &'a Manifest, blobs: &'a Blobs, tier: Tier) -> Option<TierSource<'a>> {
        let universe = blobs.get(&universe_ref(manifest, tier).blob)?;
        Some(TierSource { manifest, blobs, tier, universe })
    }
}

impl Source for TierSource<'_> {
    fn universe(&self) -> &IdSet {
        self.universe
    }

    fn tag_value(&self, group: &str, value: &str) -> Option<&IdSet> {
        let r = value_ref(self.manifest, group, value, self.tier)?;
        self.blobs.get(&r.blob).map(|set| &**set)
    }

    fn segment(&self, id: &str) -> Option<&IdSet> {
        let r = segment_ref(self.manifest, id, self.tier)?;
        self.blobs.get(&r.blob).map(|set| &**set)
    }
}

/// The audience's size on one tier, scaled to all users.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Where the number comes from.
    pub tier: Tier,
    /// Users in the audience (estimated on the sample tier).
    pub count: f64,
    /// 95% interval (equal to `count` on the full tier).
    pub lo: f64,
    /// 95% interval (equal to `count` on the full tier).
    pub hi: f64,
    /// All users of the day.
    pub universe: u64,
    /// Users left after each top-level condition (scaled like `count`).
    pub steps: Vec<f64>,
}

impl Outcome {
    /// The audience's share of all users.
    pub fn share(&self) -> f64 {
        if self.universe == 0 { 0.0 } else { self.count / self.universe as f64 }
    }
}

/// Evaluates `plan` on `tier`; `None` until every blob it needs is loaded.
///
/// The sample tier's counts are scaled up with [`engine::sample::estimate`].
pub fn evaluate(plan: &Plan, manifest: &Manifest, blobs: &Blobs, tier: Tier) -> Option<Outcome> {
    let needs = plan.needs();
    if needed(manifest, &needs, tier).iter().any(|r| !blobs.contains_key(&r.blob)) {
        return None;
    }
    let source = TierSource::new(manifest, blobs, tier)?;
    let eval = engine::evaluate(plan, &source, EvalOptions { steps: true, members: false }).ok()?;
    let universe = manifest.universe.count;
    Some(match tier {
        Tier::Full => Outcome {
            tier,
            count: eval.count as f64,
            lo: eval.count as f64,
            hi: eval.count as f64,
            universe,
            steps: eval.steps.iter().map(|s| s.count as f64).collect(),
        },
        Tier::Sample => {
            let n = source.universe.len();
            let e = engine::sample::estimate(eval.count, n, universe);
            Outcome {
                tier,
                count: e.count,
                lo: e.lo,
                hi: e.hi,
                universe,
                steps: eval.steps.iter().map(|s| engine::sample::estimate(s.count, n, universe).count).collect(),
            }
        }
    })
}

/// The audience's members on `tier` (ids of that tier), once its blobs are loaded.
pub fn audience(plan: &Plan, manifest: &Manifest, blobs: &Blobs, tier: Tier) -> Option<IdSet> {
    let source = TierSource::new(manifest, blobs, tier)?;
    engine::members(plan, &source).ok()
}

/// One row of the per-condition funnel.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelRow {
    /// Users left after this condition.
    pub remaining: f64,
    /// Users this condition removed from those left before it.
    pub removed: f64,
    /// `remaining` as a share of all users.
    pub share: f64,
}

/// The funnel from the users left after each top-level condition.
///
/// ```
/// let rows = app::estimate::funnel(1000, &[600.0, 150.0]);
/// assert_eq!(rows[0].removed, 400.0);
/// assert_eq!(rows[1].removed, 450.0);
/// assert_eq!(rows[1].share, 0.15);
/// ```
pub fn funnel(universe: u64, steps: &[f64]) -> Vec<FunnelRow> {
    let all = universe as f64;
    let mut before = all;
    steps
        .iter()
        .map(|&remaining| {
            let row = FunnelRow {
                remaining,
                removed: (before - remaining).max(0.0),
                share: if all > 0.0 { remaining / all } else { 0.0 },
            };
            before = remaining;
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::snapshot::{GroupData, build_snapshot};
    use engine::{Catalog, TagKind};

    /// A 10,000-user snapshot: gender by parity, city by id % 5.
    pub(crate) fn fixture() -> (Manifest, Blobs) {
        let n = 10_000u32;
        let gender = GroupData {
            name: "gender".into(),
            kind: TagKind::Categorical,
            category: "demographics".into(),
            values: vec![
                ("female".into(), IdSet::from_sorted_iter((0..n).filter(|i| i % 2 == 0))),
                ("male".into(), IdSet::from_sorted_iter((0..n).filter(|i| i % 2 == 1))),
            ],
            loaded_ds: "2026-11-20".into(),
            numeric: None,
        };
        let city = GroupData {
            name: "city".into(),
            kind: TagKind::Categorical,
            category: "demographics/location".into(),
            values: (0..5)
                .map(|c| (format!("c{c}"), IdSet::from_sorted_iter((0..n).filter(move |i| i % 5 == c))))
                .collect(),
            loaded_ds: "2026-11-20".into(),
            numeric: None,
        };
        let built = build_snapshot("t", "2026-11-20", IdSet::full_range(n), &[gender, city], 8);
        let blobs = built
            .blobs
            .iter()
            .map(|(hash, bytes)| (hash.clone(), Rc::new(engine::blob::decode_addressed(bytes, hash).expect("valid"))))
            .collect();
        (built.manifest, blobs)
    }

    fn plan(manifest: &Manifest, rule: &str) -> Plan {
        Plan::parse(rule, &Catalog::from_manifest(manifest)).expect("valid rule")
    }

    #[test]
    fn exact_and_sample_agree_within_the_interval() {
        let (m, blobs) = fixture();
        let p = plan(&m, r#"{"all":[{"tag":"gender","in":["female"]},{"not":{"tag":"city","in":["c0"]}}]}"#);
        let exact = evaluate(&p, &m, &blobs, Tier::Full).expect("all loaded");
        assert_eq!(exact.count, 4_000.0);
        assert_eq!(exact.steps, [5_000.0, 4_000.0]);
        let sample = evaluate(&p, &m, &blobs, Tier::Sample).expect("all loaded");
        assert!(sample.lo <= 4_000.0 && 4_000.0 <= sample.hi, "{sample:?}");
        assert_eq!(sample.steps.len(), 2);
    }

    #[test]
    fn nothing_until_the_blobs_are_there() {
        let (m, mut blobs) = fixture();
        let p = plan(&m, r#"{"all":[{"tag":"city","in":["c1","c2"]}]}"#);
        let refs = needed(&m, &p.needs(), Tier::Full);
        assert_eq!(refs.len(), 3);
        blobs.remove(&refs[2].blob);
        assert!(missing_bytes(&refs, &blobs) > 0);
        assert!(evaluate(&p, &m, &blobs, Tier::Full).is_none());
        assert!(evaluate(&p, &m, &blobs, Tier::Sample).is_some());
    }
}
