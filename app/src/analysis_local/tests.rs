//! The browser's analyses against naive per-user counts, and the questions left to the server.

use std::rc::Rc;

use engine::bsi::Bsi;
use engine::sample::SampleMap;
use engine::snapshot::{GroupData, build_event, build_segment, build_snapshot};
use engine::{IdSet, Manifest, TagKind};
use serde_json::json;
use wire::{FunnelRequest, FunnelStepRequest, OverlapRequest, PivotRequest, SetRef};

use super::*;

const USERS: u32 = 3_000;
const DAYS: [&str; 5] = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];

/// A reproducible pseudo-random number per (user, salt).
fn mix(user: u32, salt: u32) -> u32 {
    let mut x = user.wrapping_mul(0x9E37_79B9) ^ salt.wrapping_mul(0x85EB_CA6B);
    x ^= x >> 15;
    x = x.wrapping_mul(0x2C1B_3C6D);
    x ^ (x >> 12)
}

fn plan_of(u: u32) -> &'static str {
    ["free", "pro", "team"][(mix(u, 1) % 3) as usize]
}

/// Some users have no region.
fn region_of(u: u32) -> Option<&'static str> {
    [Some("north"), Some("south"), None][(mix(u, 2) % 3) as usize]
}

fn is_vip(u: u32) -> bool {
    mix(u, 3).is_multiple_of(7)
}

fn did(u: u32, event: &str, day: usize) -> bool {
    let salt = if event == "visit" { 10 } else { 20 } + day as u32;
    mix(u, salt).is_multiple_of(if event == "visit" { 3 } else { 5 })
}

fn users(f: impl Fn(u32) -> bool) -> IdSet {
    IdSet::from_sorted_iter((0..USERS).filter(|&u| f(u)))
}

struct Fixture {
    manifest: Manifest,
    window: EventWindow,
    blobs: Blobs,
}

/// The last day's snapshot (plan, region, the segment `vip`) and five days of `visit` and
/// `buy` events; day 2 (`2026-11-18`) is not published.
fn fixture() -> Fixture {
    let group = |name: &str, values: Vec<(String, IdSet)>| GroupData {
        name: name.into(),
        kind: TagKind::Categorical,
        category: "test".into(),
        values,
        loaded_ds: DAYS[4].into(),
        numeric: None,
    };
    let plans = ["free", "pro", "team"].map(|p| (p.to_owned(), users(|u| plan_of(u) == p))).to_vec();
    let regions = ["north", "south"].map(|r| (r.to_owned(), users(|u| region_of(u) == Some(r)))).to_vec();
    let mut built =
        build_snapshot("t", DAYS[4], IdSet::full_range(USERS), &[group("plan", plans), group("region", regions)], 8);
    let sample = SampleMap::new(&IdSet::full_range(USERS), 8);
    built.manifest.segments.push(build_segment("vip", 1, &users(is_vip), &sample, &mut built.blobs));
    let mut days = Vec::new();
    for (d, ds) in DAYS.iter().enumerate() {
        if d == 2 {
            continue;
        }
        let events = ["visit", "buy"]
            .map(|e| {
                let pairs = (0..USERS).filter(|&u| did(u, e, d)).map(|u| (u, 1 + u64::from(u % 3))).collect();
                build_event(e, Bsi::from_pairs(pairs), &sample, &mut built.blobs)
            })
            .to_vec();
        days.push(((*ds).to_owned(), events));
    }
    built.manifest.events = days.last().expect("days").1.clone();
    let blobs = built
        .blobs
        .iter()
        .map(|(hash, bytes)| (hash.clone(), Rc::new(engine::blob::decode_addressed(bytes, hash).expect("valid"))))
        .collect();
    Fixture { manifest: built.manifest, window: EventWindow { retained_days: 30, days }, blobs }
}

fn answer<L: Local>(f: &Fixture, local: &L) -> L::Answer {
    assert!(local.refs().iter().all(|r| f.blobs.contains_key(&r.blob)), "every blob it names exists");
    local.answer(&f.manifest, &f.window, &f.blobs).expect("answered")
}

fn pivot_request(audience: Option<serde_json::Value>) -> PivotRequest {
    PivotRequest { ds: None, rows: "plan".into(), columns: "region".into(), audience: audience.map(wire::Rule) }
}

#[test]
fn a_pivot_counts_what_a_naive_walk_over_the_users_counts() {
    let f = fixture();
    for (audience, inside) in [
        (None, (|_| true) as fn(u32) -> bool),
        (Some(json!({"segment": "vip"})), is_vip as fn(u32) -> bool),
        (Some(json!({"not": {"tag": "plan", "in": ["pro"]}})), |u| plan_of(u) != "pro"),
    ] {
        let local = LocalPivot::plan(&pivot_request(audience.clone()), &f.manifest, &f.window).expect("local");
        let p = answer(&f, &local);
        assert_eq!((p.rows.join(","), p.columns.join(",")), ("free,pro,team".to_owned(), "north,south".to_owned()));
        let size = (0..USERS).filter(|&u| inside(u)).count() as u64;
        assert_eq!(p.audience, Some(size), "{audience:?}");
        for (i, plan) in p.rows.iter().enumerate() {
            for (j, region) in p.columns.iter().enumerate() {
                let cell = |within: &dyn Fn(u32) -> bool| {
                    (0..USERS).filter(|&u| within(u) && plan_of(u) == plan && region_of(u) == Some(region)).count()
                        as u64
                };
                let (here, all) = (cell(&inside), cell(&|_| true));
                assert_eq!(p.counts[i][j], Some(here), "{audience:?} {plan} {region}");
                let tgi = 100.0 * (here as f64 / size as f64) / (all as f64 / f64::from(USERS));
                assert!((p.tgi[i][j].expect("tgi") - tgi).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn an_overlap_counts_each_region_as_a_naive_walk_does() {
    let f = fixture();
    let req = OverlapRequest {
        ds: Some(DAYS[4].into()),
        segments: vec![
            SetRef::Segment("vip".into()),
            SetRef::Rule(wire::Rule(json!({"tag": "plan", "in": ["pro", "team"]}))),
            SetRef::Rule(wire::Rule(json!({"tag": "region", "in": ["north"]}))),
        ],
    };
    let o = answer(&f, &LocalOverlap::plan(&req, &f.manifest, &f.window).expect("local"));
    let tests: [&dyn Fn(u32) -> bool; 3] = [&is_vip, &|u| plan_of(u) != "free", &|u| region_of(u) == Some("north")];
    assert_eq!(o.regions.len(), 7);
    for (mask, region) in (1u32..8).zip(&o.regions) {
        let naive = (0..USERS).filter(|&u| (0..3).all(|i| tests[i](u) == (mask & (1 << i) != 0))).count() as u64;
        assert_eq!(region.count, Some(naive), "region {mask}");
    }
    assert_eq!(o.regions[0].within, vec!["vip"]);
    assert_eq!(o.regions[6].within, vec!["vip", "segments[1]", "segments[2]"]);
}

#[test]
fn a_distribution_is_the_pivot_diagonal_and_the_naive_count() {
    let f = fixture();
    let rule = wire::Rule(json!({"segment": "vip"}));
    let d = answer(&f, &LocalDistribution::plan("plan", &rule, &f.manifest, &f.window).expect("local"));
    let req = PivotRequest { ds: None, rows: "plan".into(), columns: "plan".into(), audience: Some(rule) };
    let diagonal =
        crate::compare::diagonal(&answer(&f, &LocalPivot::plan(&req, &f.manifest, &f.window).expect("local")));
    assert_eq!(d, diagonal);
    for (plan, count) in &d {
        let naive = (0..USERS).filter(|&u| is_vip(u) && plan_of(u) == plan).count() as u64;
        assert_eq!(*count, Some(naive));
    }
}

fn funnel_request(events: &[&str], from: usize, to: usize, within_days: u32) -> FunnelRequest {
    FunnelRequest {
        steps: events.iter().map(|e| FunnelStepRequest { event: (*e).into() }).collect(),
        from: DAYS[from].into(),
        to: DAYS[to].into(),
        within_days,
        audience: None,
        by: None,
    }
}

/// Each day's users of `event` as the engine's funnel takes them, built straight from the
/// fixture's rules (the unpublished day empty), not from the window's blobs.
fn direct_days(event: &str, from: usize, to: usize) -> Vec<IdSet> {
    (from..=to).map(|d| if d == 2 { IdSet::new() } else { users(|u| did(u, event, d)) }).collect()
}

#[test]
fn a_funnel_reads_each_event_on_its_own_day() {
    let f = fixture();
    for (events, from, to, within) in
        [(&["visit", "buy"][..], 0, 4, 2), (&["visit", "visit", "buy"][..], 1, 4, 3), (&["buy"][..], 3, 4, 0)]
    {
        let req = funnel_request(events, from, to, within);
        let got = answer(&f, &LocalFunnel::plan(&req, &f.manifest, &f.window).expect("local"));
        let columns: Vec<Vec<IdSet>> = events.iter().map(|e| direct_days(e, from, to)).collect();
        let steps: Vec<funnel::StepDays<'_>> = events
            .iter()
            .zip(&columns)
            .map(|(event, days)| funnel::StepDays { event, days: days.iter().collect() })
            .collect();
        let reached = funnel::reach(&steps, None, within);
        let names: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
        let want = funnel::exact_answer((DAYS[from], DAYS[to]), &names, &reached, within, None);
        assert_eq!(got, want, "{events:?} {from}..{to}");
        // Step 1 is everyone with the first event on some day of the range.
        let entered = (0..USERS).filter(|&u| (from..=to).any(|d| d != 2 && did(u, events[0], d))).count() as u64;
        assert_eq!(got.steps[0].count, Some(entered));
    }
}

#[test]
fn a_funnel_split_by_a_group_counts_each_value_within_the_steps() {
    let f = fixture();
    let mut req = funnel_request(&["visit", "buy"], 0, 4, 1);
    req.by = Some("plan".into());
    let got = answer(&f, &LocalFunnel::plan(&req, &f.manifest, &f.window).expect("local"));
    let by = got.by.expect("by");
    assert_eq!(by.iter().map(|b| b.value.as_str()).collect::<Vec<_>>(), ["free", "pro", "team"]);
    for k in 0..2 {
        let sum: u64 = by.iter().map(|b| b.steps[k].count.expect("count")).sum();
        assert_eq!(Some(sum), got.steps[k].count, "every user has one plan");
    }
}

#[test]
fn the_server_answers_what_the_browser_cannot() {
    let f = fixture();
    let local = |req: &FunnelRequest| LocalFunnel::plan(req, &f.manifest, &f.window).is_some();
    assert!(local(&funnel_request(&["visit", "buy"], 0, 4, 7)));
    let mut with_audience = funnel_request(&["visit"], 0, 4, 7);
    with_audience.audience = Some(wire::Rule(json!({"segment": "vip"})));
    assert!(!local(&with_audience), "an audience is evaluated on every day");
    let mut before = funnel_request(&["visit"], 0, 4, 7);
    before.from = "2026-11-15".into();
    assert!(!local(&before), "a day before the window");
    assert!(!local(&funnel_request(&["checkout"], 0, 4, 7)), "an event never uploaded");
    assert!(!local(&funnel_request(&["visit"], 0, 4, 31)), "within_days beyond what is kept");
    let mut by_earlier = funnel_request(&["visit"], 0, 3, 7);
    by_earlier.by = Some("plan".into());
    assert!(!local(&by_earlier), "the split is read on 2026-11-19, not the loaded day");
    let mut by_unknown = funnel_request(&["visit"], 0, 4, 7);
    by_unknown.by = Some("nope".into());
    assert!(!local(&by_unknown));
    let pivot = |rows: &str, audience: Option<serde_json::Value>| {
        let mut req = pivot_request(audience);
        req.rows = rows.into();
        LocalPivot::plan(&req, &f.manifest, &f.window).is_some()
    };
    assert!(!pivot("nope", None));
    assert!(!pivot("plan", Some(json!({"tag": "nope", "in": ["x"]}))), "a rule that does not check");
    let other_day = PivotRequest { ds: Some(DAYS[3].into()), ..pivot_request(None) };
    assert!(LocalPivot::plan(&other_day, &f.manifest, &f.window).is_none());
    let missing = OverlapRequest { ds: None, segments: vec![SetRef::Segment("gone".into())] };
    assert!(LocalOverlap::plan(&missing, &f.manifest, &f.window).is_none());
}

#[test]
fn nothing_is_answered_before_every_blob_is_loaded() {
    let mut f = fixture();
    let local =
        LocalPivot::plan(&pivot_request(Some(json!({"segment": "vip"}))), &f.manifest, &f.window).expect("local");
    let refs = local.refs();
    assert_eq!(refs.len(), 1 + 3 + 2 + 1, "universe, the values, the segment");
    f.blobs.remove(&refs[refs.len() - 1].blob);
    assert!(local.answer(&f.manifest, &f.window, &f.blobs).is_none());
}
