//! Evaluating the audience in the browser: which blobs a rule needs on each tier, a
//! [`Source`] over the blobs loaded so far, the estimate (sample tier, with its 95%
//! interval) or exact count (full tier), and the per-condition funnel. Plain Rust, tested
//! natively.

use std::collections::HashMap;
use std::rc::Rc;

use engine::bsi::BsiView;
use engine::catalog::NumericInfo;
use engine::manifest::{BlobRef, BsiEntry, EventEntry};
use engine::plan::Needs;
use engine::window::{Select, select_column};
use engine::{Catalog, EvalOptions, IdSet, Manifest, Plan, Source};

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

/// The event uploads of the days a window can read (from the server's event-days route):
/// what event conditions are validated against and read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventWindow {
    /// Days the server keeps (the longest window).
    pub retained_days: u32,
    /// Published days, oldest first, with their events.
    pub days: Vec<(String, Vec<EventEntry>)>,
}

impl EventWindow {
    /// An event's entry on a day.
    pub fn entry(&self, event: &str, ds: &str) -> Option<&EventEntry> {
        self.days.iter().find(|(d, _)| d == ds)?.1.iter().find(|e| e.name == event)
    }

    /// Every event name uploaded on some day of the window, sorted.
    pub fn event_names(&self) -> Vec<String> {
        let names: std::collections::BTreeSet<&str> =
            self.days.iter().flat_map(|(_, events)| events.iter().map(|e| e.name.as_str())).collect();
        names.into_iter().map(str::to_owned).collect()
    }
}

/// The catalog rules are checked against: the day's names plus the window's event uploads.
pub fn catalog(manifest: &Manifest, window: &EventWindow) -> Catalog {
    let mut catalog = Catalog::from_manifest(manifest);
    for (ds, events) in &window.days {
        catalog.events.days.insert(ds.clone(), events.iter().map(|e| e.name.clone()).collect());
    }
    if window.retained_days > 0 {
        catalog.events.retained_days = window.retained_days;
    }
    catalog
}

/// The blobs of a bit-sliced column on a tier.
fn column_refs(bsi: &BsiEntry, tier: Tier) -> impl Iterator<Item = BlobRef> + '_ {
    std::iter::once(&bsi.exists).chain(&bsi.slices).map(move |t| pick(&t.full, &t.sample, tier))
}

/// Every blob an evaluation of `needs` reads on `tier`, universe first, without repeats.
pub fn needed(manifest: &Manifest, window: &EventWindow, needs: &Needs, tier: Tier) -> Vec<BlobRef> {
    let mut refs = vec![universe_ref(manifest, tier)];
    refs.extend(needs.tag_values.iter().filter_map(|(g, v)| value_ref(manifest, g, v, tier)));
    refs.extend(needs.segments.iter().filter_map(|id| segment_ref(manifest, id, tier)));
    for group in &needs.columns {
        if let Some(n) = manifest.group(group).and_then(|g| g.numeric.as_ref()) {
            refs.extend(column_refs(&n.bsi, tier));
        }
    }
    for (event, ds) in &needs.event_days {
        if let Some(e) = window.entry(event, ds) {
            refs.extend(column_refs(&e.bsi, tier));
        }
    }
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r| seen.insert(r.blob.clone()));
    refs
}

/// Every blob of a numeric group's column on a tier.
pub fn numeric_refs(manifest: &Manifest, group: &str, tier: Tier) -> Vec<BlobRef> {
    manifest
        .group(group)
        .and_then(|g| g.numeric.as_ref())
        .map(|n| column_refs(&n.bsi, tier).collect())
        .unwrap_or_default()
}

/// Every blob of a tag group's values on a tier.
pub fn group_refs(manifest: &Manifest, group: &str, tier: Tier) -> Vec<BlobRef> {
    manifest.group(group).map(|g| g.values.iter().map(|v| pick(&v.full, &v.sample, tier)).collect()).unwrap_or_default()
}

/// Bytes of `refs` not in `blobs` yet.
pub fn missing_bytes(refs: &[BlobRef], blobs: &Blobs) -> u64 {
    refs.iter().filter(|r| !blobs.contains_key(&r.blob)).map(|r| r.bytes).sum()
}

/// Where full-tier answers come from: the browser downloads the blobs, or asks the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullTier {
    /// The missing blobs fit the download budget: load them and count here.
    Download,
    /// They do not: the server answers (or, where it has no such answer, the sample tier does).
    Server,
}

/// The one place that decides whether the full tier is downloaded: when the token may download
/// it (`may_download`: [`crate::access::Access::downloads_full_tier`]; aggregate tokens may not)
/// and the bytes still missing fit the budget. The builder's count, the profile panels and the
/// split preview's tag mix all ask this.
///
/// ```
/// use app::estimate::{FullTier, full_tier};
/// assert_eq!(full_tier(64_000_000, 64_000_000, true), FullTier::Download);
/// assert_eq!(full_tier(64_000_001, 64_000_000, true), FullTier::Server);
/// assert_eq!(full_tier(0, 64_000_000, false), FullTier::Server);
/// ```
pub fn full_tier(missing_bytes: u64, budget_bytes: u64, may_download: bool) -> FullTier {
    if may_download && missing_bytes <= budget_bytes { FullTier::Download } else { FullTier::Server }
}

/// A [`Source`] over one tier of a manifest, reading the blobs loaded so far.
#[derive(Debug)]
pub struct TierSource<'a> {
    manifest: &'a Manifest,
    window: &'a EventWindow,
    blobs: &'a Blobs,
    tier: Tier,
    universe: &'a IdSet,
}

impl<'a> TierSource<'a> {
    /// `None` while the tier's universe is not loaded.
    pub fn new(
        manifest: &'a Manifest,
        window: &'a EventWindow,
        blobs: &'a Blobs,
        tier: Tier,
    ) -> Option<TierSource<'a>> {
        let universe = blobs.get(&universe_ref(manifest, tier).blob)?;
        Some(TierSource { manifest, window, blobs, tier, universe })
    }

    /// A column whose every blob is loaded.
    fn view(&self, bsi: &BsiEntry) -> Option<BsiView<'a>> {
        let blobs: &'a Blobs = self.blobs;
        let set = |t: &engine::manifest::TierRefs| blobs.get(&pick(&t.full, &t.sample, self.tier).blob).map(|s| &**s);
        let exists = set(&bsi.exists)?;
        let slices = bsi.slices.iter().map(set).collect::<Option<Vec<_>>>()?;
        Some(BsiView { exists, slices })
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

    fn column(&self, group: &str) -> Option<BsiView<'_>> {
        self.view(&self.manifest.group(group)?.numeric.as_ref()?.bsi)
    }

    fn event_day(&self, event: &str, ds: &str) -> Option<BsiView<'_>> {
        self.view(&self.window.entry(event, ds)?.bsi)
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
pub fn evaluate(plan: &Plan, manifest: &Manifest, window: &EventWindow, blobs: &Blobs, tier: Tier) -> Option<Outcome> {
    let needs = plan.needs();
    if needed(manifest, window, &needs, tier).iter().any(|r| !blobs.contains_key(&r.blob)) {
        return None;
    }
    let source = TierSource::new(manifest, window, blobs, tier)?;
    let eval = engine::evaluate(plan, &source, EvalOptions { steps: true, members: false }).ok()?;
    let universe = manifest.universe.count;
    Some(match tier {
        Tier::Full => Outcome {
            tier,
            count: eval.count as f64,
            lo: eval.count as f64,
            hi: eval.count as f64,
            universe,
            steps: eval.steps.iter().map(|s| s.count.unwrap_or(0) as f64).collect(),
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
                steps: eval
                    .steps
                    .iter()
                    .map(|s| engine::sample::estimate(s.count.unwrap_or(0), n, universe).count)
                    .collect(),
            }
        }
    })
}

/// The audience's members on `tier` (ids of that tier), once its blobs are loaded.
pub fn audience(plan: &Plan, manifest: &Manifest, window: &EventWindow, blobs: &Blobs, tier: Tier) -> Option<IdSet> {
    let source = TierSource::new(manifest, window, blobs, tier)?;
    engine::members(plan, &source).ok()
}

/// One bar of a numeric tag's histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Lowest value in the bucket, as text.
    pub lo: String,
    /// Highest value in the bucket, as text.
    pub hi: String,
    /// Users of the whole day in the bucket.
    pub all: u64,
    /// Users of the audience in the bucket (when an audience is given).
    pub audience: u64,
}

/// A numeric tag's distribution in up to `buckets` equal-width bars over its range, for all
/// users and inside `audience`; each bar is a range query on the column (no value decoded).
///
/// ```
/// use engine::bsi::NumericColumn;
/// use engine::catalog::NumericInfo;
/// let col = NumericColumn::from_scaled(0, (0..100u32).map(|id| (id, i64::from(id % 50))).collect());
/// let info = NumericInfo { scale: 0, offset: col.offset, max: col.max, count: 100 };
/// let evens = engine::IdSet::from_sorted_iter((0..100u32).step_by(2));
/// let bars = app::estimate::histogram(&col.bsi.view(), &info, Some(&evens), 5);
/// assert_eq!(bars.len(), 5);
/// assert_eq!((bars[0].lo.as_str(), bars[0].hi.as_str(), bars[0].all, bars[0].audience), ("0", "9", 20, 10));
/// assert_eq!(bars.iter().map(|b| b.all).sum::<u64>(), 100);
/// ```
pub fn histogram(column: &BsiView<'_>, info: &NumericInfo, audience: Option<&IdSet>, buckets: u64) -> Vec<Bucket> {
    let span = info.max.abs_diff(info.offset) + 1;
    let n = buckets.clamp(1, span);
    let width = span.div_ceil(n);
    (0..n)
        .map(|i| i * width)
        .take_while(|&lo| lo < span)
        .map(|lo| {
            let hi = (lo + width - 1).min(span - 1);
            let users = select_column(column, &Select { lo, hi, negate: false });
            let text = |v: u64| engine::bsi::format_scaled(info.offset.saturating_add_unsigned(v), info.scale);
            Bucket {
                lo: text(lo),
                hi: text(hi),
                all: users.len(),
                audience: audience.map_or(0, |a| users.intersection_len(a)),
            }
        })
        .collect()
}

/// One row of the per-condition funnel.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelRow {
    /// Users left after this condition (`None`: withheld, below the app's `min_audience`).
    pub remaining: Option<f64>,
    /// Users this condition removed from those left before it (`None` when either is withheld).
    pub removed: Option<f64>,
    /// `remaining` as a share of all users.
    pub share: Option<f64>,
}

/// The funnel from the users left after each top-level condition (`None`: withheld).
///
/// ```
/// let rows = app::estimate::funnel(1000, &[Some(600.0), Some(150.0), None]);
/// assert_eq!(rows[0].removed, Some(400.0));
/// assert_eq!(rows[1].removed, Some(450.0));
/// assert_eq!(rows[1].share, Some(0.15));
/// assert_eq!((rows[2].remaining, rows[2].removed), (None, None));
/// ```
pub fn funnel(universe: u64, steps: &[Option<f64>]) -> Vec<FunnelRow> {
    let all = universe as f64;
    let mut before = Some(all);
    steps
        .iter()
        .map(|&remaining| {
            let row = FunnelRow {
                remaining,
                removed: before.zip(remaining).map(|(b, r)| (b - r).max(0.0)),
                share: remaining.map(|r| if all > 0.0 { r / all } else { 0.0 }),
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
        let w = EventWindow::default();
        let exact = evaluate(&p, &m, &w, &blobs, Tier::Full).expect("all loaded");
        assert_eq!(exact.count, 4_000.0);
        assert_eq!(exact.steps, [5_000.0, 4_000.0]);
        let sample = evaluate(&p, &m, &w, &blobs, Tier::Sample).expect("all loaded");
        assert!(sample.lo <= 4_000.0 && 4_000.0 <= sample.hi, "{sample:?}");
        assert_eq!(sample.steps.len(), 2);
    }

    /// The builder before its first condition: the engine, and so the headline, count every
    /// user (before the fix: 0 under "the audience is every user").
    #[test]
    fn no_conditions_is_every_user() {
        let (m, blobs) = fixture();
        let rule = crate::draft::Draft::default().compile().rule;
        assert_eq!(rule.to_json().to_string(), r#"{"all":[]}"#);
        let p = Plan::validate(&rule, &Catalog::from_manifest(&m)).expect("valid");
        let w = EventWindow::default();
        let exact = evaluate(&p, &m, &w, &blobs, Tier::Full).expect("all loaded");
        assert_eq!((exact.count, exact.universe), (10_000.0, 10_000));
        assert!(exact.steps.is_empty());
        let sample = evaluate(&p, &m, &w, &blobs, Tier::Sample).expect("all loaded");
        // Every sampled user matches; the interval still allows for the users outside the sample.
        assert_eq!((sample.count, sample.hi), (10_000.0, 10_000.0));
        assert!(sample.lo > 9_900.0 && sample.lo < 10_000.0, "{sample:?}");
        assert_eq!(audience(&p, &m, &w, &blobs, Tier::Full).map(|a| a.len()), Some(10_000));
    }

    #[test]
    fn nothing_until_the_blobs_are_there() {
        let (m, mut blobs) = fixture();
        let p = plan(&m, r#"{"all":[{"tag":"city","in":["c1","c2"]}]}"#);
        let w = EventWindow::default();
        let refs = needed(&m, &w, &p.needs(), Tier::Full);
        assert_eq!(refs.len(), 3);
        blobs.remove(&refs[2].blob);
        assert!(missing_bytes(&refs, &blobs) > 0);
        assert!(evaluate(&p, &m, &w, &blobs, Tier::Full).is_none());
        assert!(evaluate(&p, &m, &w, &blobs, Tier::Sample).is_some());
    }
}
