//! The sample tier's estimates: unbiased over many random rules, and their 95% intervals
//! cover the exact count about 95% of the time. Exact counts come from the full tier,
//! checked elsewhere against a naive evaluator.

use engine::sample::{SampleMap, estimate, is_sampled};
use engine::{IdSet, MemorySource, Plan, Rule, count};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const USERS: u32 = 400_000;
const RATE: u32 = 64;

struct Tiers {
    full: MemorySource,
    sample: MemorySource,
    map: SampleMap,
}

fn tiers(seed: u64) -> Tiers {
    let mut rng = StdRng::seed_from_u64(seed);
    let universe = IdSet::full_range(USERS);
    let map = SampleMap::new(&universe, RATE);
    let mut full = MemorySource::new(universe);
    let mut sample = MemorySource::new(map.universe());
    for g in 0..6 {
        for v in 0..3 {
            let density: f64 = rng.random_range(0.002..0.8);
            let set = IdSet::from_sorted_iter((0..USERS).filter(|_| rng.random_bool(density)));
            sample.insert_tag_value(&format!("g{g}"), &format!("v{v}"), map.project(&set));
            full.insert_tag_value(&format!("g{g}"), &format!("v{v}"), set);
        }
    }
    Tiers { full, sample, map }
}

fn random_rule(rng: &mut StdRng) -> Rule {
    let leaf = |rng: &mut StdRng| {
        let tag = Rule::Tag {
            tag: format!("g{}", rng.random_range(0..6)),
            values: vec![format!("v{}", rng.random_range(0..3))],
        };
        if rng.random_bool(0.25) { Rule::Not(Box::new(tag)) } else { tag }
    };
    let n = rng.random_range(1..4);
    let mut parts: Vec<Rule> = (0..n).map(|_| leaf(rng)).collect();
    if rng.random_bool(0.4) {
        parts.push(Rule::Any(vec![leaf(rng), leaf(rng)]));
    }
    Rule::All(parts)
}

#[test]
fn sample_is_about_one_in_rate_and_stable() {
    let kept = (0..USERS).filter(|&id| is_sampled(id, RATE)).count() as f64;
    let expected = f64::from(USERS) / f64::from(RATE);
    assert!((kept - expected).abs() < 4.0 * expected.sqrt(), "kept {kept}, expected about {expected}");
    // Ranks of existing users do not move when the universe grows (append-only dictionary).
    let small = SampleMap::new(&IdSet::full_range(100_000), RATE);
    let big = SampleMap::new(&IdSet::full_range(200_000), RATE);
    for rank in 0..small.len() as u32 {
        assert_eq!(small.dense_id(rank), big.dense_id(rank));
    }
}

#[test]
fn estimates_are_unbiased_and_intervals_cover() {
    let t = tiers(7);
    let universe = t.full.catalog().universe;
    let mut rng = StdRng::seed_from_u64(11);
    let (mut covered, mut tried, mut z_sum) = (0u32, 0u32, 0.0f64);
    while tried < 300 {
        let rule = random_rule(&mut rng);
        let plan = Plan::validate(&rule, &t.full.catalog()).expect("valid");
        let exact = count(&plan, &t.full).expect("loaded") as f64;
        let k = count(&Plan::validate(&rule, &t.sample.catalog()).expect("valid"), &t.sample).expect("loaded");
        let e = estimate(k, t.map.len(), universe);
        // Rules matching almost nobody or almost everybody say little about bias.
        let p = exact / universe as f64;
        if !(0.01..=0.99).contains(&p) {
            continue;
        }
        tried += 1;
        if e.lo <= exact && exact <= e.hi {
            covered += 1;
        }
        let se = (p * (1.0 - p) / t.map.len() as f64).sqrt() * universe as f64;
        z_sum += (e.count - exact) / se;
    }
    let coverage = f64::from(covered) / f64::from(tried);
    let mean_z = z_sum / f64::from(tried);
    // 300 rules over one fixed sample are correlated, so the bounds are loose but meaningful:
    // a biased estimator (say off by 2%) gives |mean z| of several units here.
    assert!((0.88..=1.0).contains(&coverage), "95% intervals covered {coverage:.3}");
    assert!(mean_z.abs() < 0.6, "mean standardised error {mean_z:.3} suggests bias");
}

#[test]
fn interval_bounds_are_certain_where_they_can_be() {
    // Nobody in the sample matches: the estimate is 0 and the upper end is still positive.
    let e = estimate(0, 1000, 64_000);
    assert_eq!((e.count, e.lo), (0.0, 0.0));
    assert!(e.hi > 0.0);
    // Everybody in the sample matches: at most N users, at least the sampled ones.
    let e = estimate(1000, 1000, 64_000);
    assert_eq!(e.hi, 64_000.0);
    assert!(e.lo >= 1000.0);
    // The whole population sampled: the interval is the exact count.
    let e = estimate(37, 100, 100);
    assert_eq!((e.lo, e.count, e.hi), (37.0, 37.0, 37.0));
}
