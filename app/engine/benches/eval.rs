//! Engine benchmarks: counting rules of 2, 5 and 10 conditions over 1M and 10M users (dense
//! and sparse tags), next to pairwise roaring-rs operations on the same data; blob decoding;
//! sample-tier estimates. `cargo bench -p engine` runs them all and ends with a summary table
//! (times and ratios) for BENCHMARKS.md. `SIEVE_BENCH_100M=1` adds 100M users.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use engine::sample::SampleMap;
use engine::{IdSet, MemorySource, Plan, Rule, blob};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

/// One synthetic population: each group's values with their users, in both representations.
struct Data {
    users: u32,
    engine: MemorySource,
    sample: MemorySource,
    roaring: BTreeMap<(String, String), RoaringBitmap>,
    universe: RoaringBitmap,
}

/// (group, values with their share of users; shares summing below 1 leave users without a
/// value). Independent draws: correlation does not change the work an evaluator does.
fn groups() -> Vec<(&'static str, Vec<(&'static str, f64)>)> {
    vec![
        ("gender", vec![("female", 0.49), ("male", 0.49)]),
        ("age_band", vec![("18-24", 0.2), ("25-30", 0.25), ("31-40", 0.3), ("41+", 0.2)]),
        ("province", vec![("p0", 0.2), ("p1", 0.12), ("p2", 0.09), ("p3", 0.07), ("p4", 0.05), ("p5", 0.47)]),
        ("device", vec![("Apple", 0.3), ("Huawei", 0.25), ("Xiaomi", 0.2), ("OPPO", 0.15), ("other", 0.1)]),
        ("channel", vec![("organic", 0.4), ("ads", 0.3), ("referral", 0.2), ("store", 0.1)]),
        ("member_level", vec![("none", 0.6), ("silver", 0.25), ("gold", 0.12), ("diamond", 0.03)]),
        ("active_30d", vec![("true", 0.55)]),
        ("active_1d", vec![("true", 0.15)]),
        ("paid_30d", vec![("true", 0.18)]),
        ("interest_sports", vec![("true", 0.2)]),
        ("interest_beauty", vec![("true", 0.22)]),
        ("sparse_1pct", vec![("true", 0.01)]),
        ("sparse_01pct", vec![("true", 0.001)]),
    ]
}

fn build(users: u32) -> Data {
    let mut rng = StdRng::seed_from_u64(u64::from(users));
    let universe_set = IdSet::full_range(users);
    let map = SampleMap::new(&universe_set, engine::sample::DEFAULT_RATE);
    let mut engine = MemorySource::new(universe_set);
    let mut sample = MemorySource::new(map.universe());
    let mut roaring = BTreeMap::new();
    for (group, values) in groups() {
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); values.len()];
        for id in 0..users {
            let mut x: f64 = rng.random();
            for (i, (_, share)) in values.iter().enumerate() {
                if x < *share {
                    members[i].push(id);
                    break;
                }
                x -= share;
            }
        }
        for ((value, _), ids) in values.iter().zip(members) {
            let set = IdSet::from_sorted(&ids);
            sample.insert_tag_value(group, value, map.project(&set));
            engine.insert_tag_value(group, value, set);
            let rb = RoaringBitmap::from_sorted_iter(ids).unwrap_or_default();
            roaring.insert((group.to_owned(), (*value).to_owned()), rb);
        }
    }
    Data { users, engine, sample, roaring, universe: (0..users).collect() }
}

fn rules() -> Vec<(&'static str, &'static str)> {
    vec![
        ("2cond-dense", r#"{"all":[{"tag":"gender","in":["female"]},{"tag":"active_30d","in":["true"]}]}"#),
        (
            "5cond-dense",
            r#"{"all":[{"tag":"gender","in":["female"]},{"tag":"active_30d","in":["true"]},
            {"tag":"province","in":["p0","p1","p2"]},{"tag":"age_band","in":["18-24","25-30"]},
            {"not":{"tag":"active_1d","in":["true"]}}]}"#,
        ),
        (
            "10cond-dense",
            r#"{"all":[{"tag":"gender","in":["female"]},{"tag":"active_30d","in":["true"]},
            {"tag":"province","in":["p0","p1","p2"]},{"tag":"age_band","in":["18-24","25-30","31-40"]},
            {"not":{"tag":"active_1d","in":["true"]}},{"tag":"device","in":["Apple","Huawei","Xiaomi"]},
            {"tag":"channel","in":["organic","ads","referral"]},{"not":{"tag":"member_level","in":["none"]}},
            {"any":[{"tag":"interest_sports","in":["true"]},{"tag":"interest_beauty","in":["true"]}]},
            {"not":{"tag":"paid_30d","in":["true"]}}]}"#,
        ),
        ("2cond-sparse", r#"{"all":[{"tag":"sparse_1pct","in":["true"]},{"tag":"active_30d","in":["true"]}]}"#),
        // One operator over two tags, as the benchmark report's pairs (its weakest queries).
        ("and-sparse-sparse", r#"{"all":[{"tag":"sparse_1pct","in":["true"]},{"tag":"sparse_01pct","in":["true"]}]}"#),
        ("or-dense", r#"{"any":[{"tag":"gender","in":["female"]},{"tag":"interest_beauty","in":["true"]}]}"#),
        (
            "andnot-dense",
            r#"{"all":[{"tag":"gender","in":["female"]},{"not":{"tag":"interest_beauty","in":["true"]}}]}"#,
        ),
        (
            "10cond-sparse",
            r#"{"all":[{"tag":"sparse_01pct","in":["true"]},{"tag":"active_30d","in":["true"]},
            {"tag":"province","in":["p0","p1","p2","p3"]},{"tag":"age_band","in":["18-24","25-30","31-40"]},
            {"not":{"tag":"active_1d","in":["true"]}},{"tag":"device","in":["Apple","Huawei","Xiaomi"]},
            {"tag":"channel","in":["organic","ads","referral"]},{"tag":"gender","in":["female"]},
            {"any":[{"tag":"interest_sports","in":["true"]},{"tag":"sparse_1pct","in":["true"]}]},
            {"not":{"tag":"paid_30d","in":["true"]}}]}"#,
        ),
    ]
}

/// The peer: the same rule with roaring-rs operators, one result bitmap per operator, AND
/// operands smallest first (the same courtesy the engine gets).
fn roaring_eval(rule: &Rule, d: &Data) -> RoaringBitmap {
    match rule {
        Rule::All(members) => {
            let mut parts: Vec<RoaringBitmap> = members.iter().map(|m| roaring_eval(m, d)).collect();
            parts.sort_by_key(RoaringBitmap::len);
            let mut it = parts.into_iter();
            let first = it.next().unwrap_or_default();
            it.fold(first, |acc, b| acc & b)
        }
        Rule::Any(members) => members.iter().map(|m| roaring_eval(m, d)).fold(RoaringBitmap::new(), |acc, b| acc | b),
        Rule::Not(inner) => &d.universe - roaring_eval(inner, d),
        Rule::Tag { tag, values } => {
            values.iter().map(|v| &d.roaring[&(tag.clone(), v.clone())]).fold(RoaringBitmap::new(), |acc, b| acc | b)
        }
        Rule::Segment(_) => RoaringBitmap::new(),
        // This bench's rules are tags only; numeric and event conditions are `benches/window.rs`.
        Rule::Number { .. } | Rule::Event { .. } => unreachable!("no numeric or event rule here: {rule:?}"),
    }
}

fn bench_counts(c: &mut Criterion, d: &Data) {
    let label = format!("{}M", d.users / 1_000_000);
    let mut g = c.benchmark_group(format!("count/{label}"));
    // Below 1M (test mode) the label reads 0M; the figures are not reported then.
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for (name, text) in rules() {
        let rule = Rule::parse(text).expect("bench rule parses");
        let plan = Plan::validate(&rule, &d.engine.catalog()).expect("bench rule is valid");
        let exact = engine::count(&plan, &d.engine).expect("loaded");
        assert_eq!(exact, roaring_eval(&rule, d).len(), "{name}: engine and roaring-rs disagree");
        g.bench_function(BenchmarkId::new("engine", name), |b| {
            b.iter(|| engine::count(black_box(&plan), &d.engine).expect("loaded"))
        });
        g.bench_function(BenchmarkId::new("roaring-rs", name), |b| b.iter(|| roaring_eval(black_box(&rule), d).len()));
        // Every core, with the engine's break-even, and always split (to measure that break-even).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        g.bench_function(BenchmarkId::new("engine-all-cores", name), |b| {
            b.iter(|| engine::count_parallel(black_box(&plan), &d.engine, threads).expect("loaded"))
        });
        g.bench_function(BenchmarkId::new("engine-always-split", name), |b| {
            b.iter(|| {
                let options = engine::EvalOptions::default();
                engine::eval::evaluate_split(black_box(&plan), &d.engine, options, threads, 0).expect("loaded").count
            })
        });
        if name.starts_with("10cond") {
            let splan = Plan::validate(&rule, &d.sample.catalog()).expect("valid on sample tier");
            g.bench_function(BenchmarkId::new("engine-sample-tier", name), |b| {
                b.iter(|| engine::count(black_box(&splan), &d.sample).expect("loaded"))
            });
            g.bench_function(BenchmarkId::new("engine-funnel", name), |b| {
                b.iter(|| {
                    engine::evaluate(black_box(&plan), &d.engine, engine::EvalOptions { steps: true, members: false })
                        .expect("loaded")
                })
            });
        }
    }
    g.finish();
}

fn bench_decode(c: &mut Criterion, d: &Data) {
    let label = format!("{}M", d.users / 1_000_000);
    let mut g = c.benchmark_group(format!("decode/{label}"));
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for (group, value) in [("gender", "female"), ("sparse_1pct", "true"), ("sparse_01pct", "true")] {
        let set = engine::Source::tag_value(&d.engine, group, value).expect("present");
        let bytes = blob::encode(set);
        g.throughput(criterion::Throughput::Bytes(bytes.len() as u64));
        g.bench_function(BenchmarkId::new("engine-blob", group), |b| {
            b.iter(|| blob::decode(black_box(&bytes)).expect("valid"))
        });
        // roaring-rs reads roaring portable bytes; a sparse value's blob holds Elias–Fano.
        let payload = engine::portable::encode(set);
        g.bench_function(BenchmarkId::new("roaring-rs", group), |b| {
            b.iter(|| RoaringBitmap::deserialize_from(black_box(&payload[..])).expect("valid"))
        });
    }
    g.finish();
}

/// Where criterion writes its reports: beside the build, wherever the target dir is.
fn criterion_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("criterion")
}

/// Reads criterion's median for one benchmark, in milliseconds. Criterion stores group
/// `count/10M` in the folder `count_10M`.
fn median_ms(group: &str, function: &str, param: &str) -> Option<f64> {
    let path = criterion_dir().join(group.replace('/', "_")).join(function).join(param).join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(v["median"]["point_estimate"].as_f64()? / 1e6)
}

fn main() {
    let mut c = Criterion::default().output_directory(&criterion_dir()).configure_from_args();
    // `cargo test --all-targets` runs benches once as tests (without `--bench`): a small
    // population keeps that a quick check that the rules agree with roaring-rs.
    if !std::env::args().any(|a| a == "--bench") {
        let d = build(200_000);
        bench_counts(&mut c, &d);
        return;
    }
    let mut sizes = vec![1_000_000u32, 10_000_000];
    if std::env::var_os("SIEVE_BENCH_100M").is_some() {
        sizes.push(100_000_000);
    }
    for &users in &sizes {
        let d = build(users);
        bench_counts(&mut c, &d);
        bench_decode(&mut c, &d);
    }
    c.final_summary();

    println!("\n| users | rule | engine ms | all cores ms | roaring-rs ms | speed-up | sample tier ms | funnel ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for &users in &sizes {
        let group = format!("count/{}M", users / 1_000_000);
        for (name, _) in rules() {
            let ours = median_ms(&group, "engine", name);
            let theirs = median_ms(&group, "roaring-rs", name);
            let fmt = |x: Option<f64>| x.map_or("–".to_owned(), |v| format!("{v:.3}"));
            let ratio = match (ours, theirs) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:.1}×", b / a),
                _ => "–".into(),
            };
            println!(
                "| {}M | {name} | {} | {} | {} | {ratio} | {} | {} |",
                users / 1_000_000,
                fmt(ours),
                fmt(median_ms(&group, "engine-all-cores", name)),
                fmt(theirs),
                fmt(median_ms(&group, "engine-sample-tier", name)),
                fmt(median_ms(&group, "engine-funnel", name)),
            );
        }
    }
}
