//! Numeric and event-window conditions: `purchase count >= 3 in the last 30 days` and
//! `age between 18 and 25` over 10M users, on bit-sliced columns, next to plain per-user
//! arrays (the raw values a column store would scan); and the bytes a numeric tag takes as
//! blobs next to raw values. `cargo bench -p engine --bench window` prints a summary table for
//! BENCHMARKS.md; without `--bench` (as `cargo test --all-targets` runs it) a small population
//! checks that both ways agree.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use engine::bsi::{Bsi, NumericColumn};
use engine::rule::Measure;
use engine::window::{Select, saturating_sum, select_window};
use engine::{IdSet, MemorySource, Plan, blob};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAYS: usize = 30;

/// A population: per-day purchase counts (about 3% of users buy on a day, a few often) and
/// ages, as bit-sliced columns and as plain arrays.
struct Data {
    users: u32,
    source: MemorySource,
    days: Vec<String>,
    /// `counts[d][user]`.
    counts: Vec<Vec<u8>>,
    ages: Vec<u8>,
    age: NumericColumn,
    spend: NumericColumn,
}

fn build(users: u32) -> Data {
    let mut rng = StdRng::seed_from_u64(u64::from(users) ^ 0x5eed);
    let days: Vec<String> = engine::window::window_days("2026-11-20", DAYS as u32).unwrap_or_default();
    let mut source = MemorySource::new(IdSet::full_range(users));
    // A tenth of the users buy often (a 20% daily chance), the rest rarely (2%).
    let heavy: Vec<bool> = (0..users).map(|_| rng.random_bool(0.1)).collect();
    let mut counts = Vec::with_capacity(DAYS);
    for ds in &days {
        let mut today = vec![0u8; users as usize];
        let mut pairs = Vec::new();
        for id in 0..users {
            let p = if heavy[id as usize] { 0.2 } else { 0.02 };
            if rng.random_bool(p) {
                let c = if rng.random_bool(0.8) { 1 } else { rng.random_range(2..=5) };
                today[id as usize] = c;
                pairs.push((id, u64::from(c)));
            }
        }
        source.insert_event_day("purchase", ds, Bsi::from_pairs(pairs));
        counts.push(today);
    }
    let ages: Vec<u8> = (0..users).map(|_| if rng.random_bool(0.9) { rng.random_range(16..=80) } else { 0 }).collect();
    let age = NumericColumn::from_scaled(
        0,
        ages.iter().enumerate().filter(|(_, a)| **a > 0).map(|(id, a)| (id as u32, i64::from(*a))).collect(),
    );
    let mut spend_pairs = Vec::new();
    for id in 0..users {
        if rng.random_bool(0.4) {
            spend_pairs.push((id, rng.random_range(0..2_000_000i64)));
        }
    }
    let spend = NumericColumn::from_scaled(2, spend_pairs);
    source.insert_column("age", &age);
    source.insert_column("spend_30d", &spend);
    Data { users, source, days, counts, ages, age, spend }
}

/// The raw-array way: sum each user's counts over the window, compare.
fn scan_count_at_least(d: &Data, k: u32) -> u64 {
    let mut sums = vec![0u32; d.users as usize];
    for day in &d.counts {
        for (s, c) in sums.iter_mut().zip(day) {
            *s += u32::from(*c);
        }
    }
    sums.iter().filter(|s| **s >= k).count() as u64
}

fn scan_age_between(d: &Data, lo: u8, hi: u8) -> u64 {
    d.ages.iter().filter(|a| **a > 0 && (lo..=hi).contains(*a)).count() as u64
}

/// Without saturation: the whole 30-day sum, then one comparison (what saturation saves).
fn unsaturated_count_at_least(d: &Data, k: u64) -> u64 {
    let mut sum = Bsi::default();
    for ds in &d.days {
        if let Some(day) = engine::Source::event_day(&d.source, "purchase", ds) {
            sum = sum.view().add(&day);
        }
    }
    sum.compare(engine::bsi::Cmp::Ge, k).len()
}

fn plan(d: &Data, rule: &str) -> Plan {
    Plan::parse(rule, &d.source.catalog()).unwrap_or_else(|e| panic!("{rule}: {e}"))
}

const COUNT_RULE: &str = r#"{"event":"purchase","last_days":30,"count":{">=":3}}"#;
const DAYS_RULE: &str = r#"{"event":"purchase","last_days":30,"days":{">=":5}}"#;
const AGE_RULE: &str = r#"{"tag":"age","between":[18,25]}"#;
const SPEND_RULE: &str = r#"{"tag":"spend_30d",">=":100}"#;
const BOTH_RULE: &str =
    r#"{"all":[{"tag":"age","between":[18,25]},{"event":"purchase","last_days":30,"count":{">=":3}}]}"#;

fn bench(c: &mut Criterion, d: &Data) {
    let label = format!("{}M", d.users / 1_000_000);
    let mut g = c.benchmark_group(format!("window/{label}"));
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    // Every way agrees before anything is timed.
    let engine_count = engine::count(&plan(d, COUNT_RULE), &d.source).unwrap_or(u64::MAX);
    assert_eq!(engine_count, scan_count_at_least(d, 3), "count >= 3");
    assert_eq!(engine_count, unsaturated_count_at_least(d, 3), "count >= 3 (unsaturated)");
    assert_eq!(engine::count(&plan(d, AGE_RULE), &d.source).unwrap_or(u64::MAX), scan_age_between(d, 18, 25));
    for (name, rule) in [
        ("count>=3/30d", COUNT_RULE),
        ("days>=5/30d", DAYS_RULE),
        ("age 18-25", AGE_RULE),
        ("spend>=100", SPEND_RULE),
        ("age+count", BOTH_RULE),
    ] {
        let p = plan(d, rule);
        g.bench_function(BenchmarkId::new("engine", name), |b| b.iter(|| engine::count(black_box(&p), &d.source)));
    }
    g.bench_function(BenchmarkId::new("scan-arrays", "count>=3/30d"), |b| {
        b.iter(|| scan_count_at_least(black_box(d), 3))
    });
    g.bench_function(BenchmarkId::new("scan-arrays", "age 18-25"), |b| {
        b.iter(|| scan_age_between(black_box(d), 18, 25))
    });
    g.bench_function(BenchmarkId::new("engine-unsaturated", "count>=3/30d"), |b| {
        b.iter(|| unsaturated_count_at_least(black_box(d), 3))
    });
    // The window alone, without the evaluator around it.
    let views: Vec<_> = d.days.iter().filter_map(|ds| engine::Source::event_day(&d.source, "purchase", ds)).collect();
    let universe = IdSet::full_range(d.users);
    let select = Select { lo: 3, hi: u64::MAX, negate: false };
    g.bench_function(BenchmarkId::new("select_window", "count>=3/30d"), |b| {
        b.iter(|| select_window(&universe, black_box(&views), Measure::Count, &select).len())
    });
    g.bench_function(BenchmarkId::new("saturating_sum", "count>=3/30d"), |b| {
        b.iter(|| saturating_sum(black_box(&views), Measure::Count, 3).1.len())
    });
    g.finish();
}

/// Blob bytes of a column (existence + slices) and of raw storage.
fn column_bytes(col: &NumericColumn) -> (u64, u64) {
    let sets = std::iter::once(col.bsi.exists()).chain(col.bsi.slices());
    let blobs: u64 = sets.map(|s| blob::encode(s).len() as u64).sum();
    (blobs, col.bsi.exists().len())
}

fn criterion_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("criterion")
}

fn median_ms(group: &str, function: &str, param: &str) -> Option<f64> {
    let dir = criterion_dir().join(group.replace('/', "_")).join(function);
    // Criterion writes characters that are unsafe in file names (`>`, `/`, …) as `_`.
    let param: String = param.chars().map(|c| if "<>/\\:\"|?*".contains(c) { '_' } else { c }).collect();
    let path = dir.join(param).join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(v["median"]["point_estimate"].as_f64()? / 1e6)
}

fn main() {
    let mut c = Criterion::default().output_directory(&criterion_dir()).configure_from_args();
    if !std::env::args().any(|a| a == "--bench") {
        let d = build(100_000);
        bench(&mut c, &d);
        return;
    }
    let d = build(10_000_000);
    bench(&mut c, &d);
    c.final_summary();
    let fmt = |x: Option<f64>| x.map_or("–".to_owned(), |v| format!("{v:.2}"));
    println!("\n| 10M users | engine ms | plain arrays ms | ratio |");
    println!("|---|---|---|---|");
    for name in ["count>=3/30d", "days>=5/30d", "age 18-25", "spend>=100", "age+count"] {
        let ours = median_ms("window/10M", "engine", name);
        let theirs = median_ms("window/10M", "scan-arrays", name);
        let ratio = match (ours, theirs) {
            (Some(a), Some(b)) if a > 0.0 => format!("{:.1}×", b / a),
            _ => "–".into(),
        };
        println!("| {name} | {} | {} | {ratio} |", fmt(ours), fmt(theirs));
    }
    println!(
        "| count>=3/30d without saturation | {} | | |",
        fmt(median_ms("window/10M", "engine-unsaturated", "count>=3/30d"))
    );
    println!(
        "\n| numeric tag | users with a value | blob bytes | bytes/user | raw u32 per user (4 B × users) | raw (id, value) pairs |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, col) in [("age (16–80)", &d.age), ("spend_30d (0.00–19,999.99)", &d.spend)] {
        let (bytes, n) = column_bytes(col);
        println!(
            "| {name} | {n} | {bytes} | {:.2} | {} | {} |",
            bytes as f64 / n.max(1) as f64,
            4 * u64::from(d.users),
            8 * n
        );
    }
}
