//! Browser benchmark of estimates (DESIGN.md §6): counting rules of 2, 5 and 10 conditions on
//! the sample tier and the full tier of the native bench's synthetic population
//! (`app/engine/benches/eval.rs`; 10M users by default), timed with `performance.now()` in
//! Chromium and with `Instant` natively, so one run of `bash .dev/bench-browser.sh` compares
//! the two on the same data. Also the sample tier of 100M users, drawn directly (only the
//! sampled users get values), for the "sample tier of 100M users" aim.
//!
//! `#[ignore]`d: the test step never runs it. It prints one `BENCH|…` line per measurement,
//! which the script turns into a table. Compile-time knobs (`option_env!`, so they reach the
//! browser build): `SIEVE_BENCH_USERS` (full tier, default 10,000,000),
//! `SIEVE_BENCH_SAMPLE_USERS` (sample-only population, default 100,000,000; 0 skips it),
//! `SIEVE_BENCH_SECONDS` (measuring time per row, default 1.5).

mod common;

use common::{build, groups, now_ms, rules};
use engine::sample::{DEFAULT_RATE, estimate, is_sampled};
use engine::{EvalOptions, IdSet, MemorySource, Plan, count, evaluate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

/// One line of output: `console.log` in the browser (shown with `--nocapture`), stdout natively.
macro_rules! console_log {
    ($($t:tt)*) => {{
        #[cfg(target_family = "wasm")]
        wasm_bindgen_test::console_log!($($t)*);
        #[cfg(not(target_family = "wasm"))]
        println!($($t)*);
    }};
}

wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_family = "wasm")]
const TARGET: &str = "wasm";
#[cfg(not(target_family = "wasm"))]
const TARGET: &str = "native";

fn knob(value: Option<&str>, default: f64) -> f64 {
    value.and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// Bytes of linear memory (wasm) — what the tab holds for the engine and its data.
#[cfg(target_family = "wasm")]
fn memory_mb() -> f64 {
    (core::arch::wasm32::memory_size(0) * 65_536) as f64 / 1e6
}
#[cfg(not(target_family = "wasm"))]
fn memory_mb() -> f64 {
    f64::NAN
}

/// Times `op`: calibrates a batch size so that one batch takes ≥ 2 ms (`performance.now()`
/// is coarsened to 0.1 ms in a page without cross-origin isolation), then times batches for
/// `seconds`. Returns (median, p90) per operation in ms, batches, batch size.
fn measure(seconds: f64, mut op: impl FnMut() -> u64) -> (f64, f64, usize, usize) {
    let mut sink = 0u64;
    // Warm-up and calibration.
    let mut batch = 1usize;
    loop {
        let t0 = now_ms();
        for _ in 0..batch {
            sink = sink.wrapping_add(op());
        }
        let took = now_ms() - t0;
        if took >= 2.0 || batch >= 1 << 20 {
            break;
        }
        batch *= if took < 0.2 { 10 } else { 2 };
    }
    let mut times = Vec::new();
    let started = now_ms();
    while (now_ms() - started < seconds * 1e3 || times.len() < 15) && times.len() < 5_000 {
        let t0 = now_ms();
        for _ in 0..batch {
            sink = sink.wrapping_add(op());
        }
        times.push((now_ms() - t0) / batch as f64);
    }
    std::hint::black_box(sink);
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), times.len(), batch)
}

/// The sample tier of a large population without its full tier: only sampled users get
/// values, drawn with the same shares (a different draw from the native bench's, same shape).
fn sample_only(users: u32) -> (MemorySource, u64) {
    let mut rng = StdRng::seed_from_u64(u64::from(users));
    let groups = groups();
    let mut members: Vec<Vec<Vec<u32>>> = groups.iter().map(|(_, v)| vec![Vec::new(); v.len()]).collect();
    let mut n = 0u32;
    for id in 0..users {
        if !is_sampled(id, DEFAULT_RATE) {
            continue;
        }
        for ((_, values), lists) in groups.iter().zip(members.iter_mut()) {
            let mut x: f64 = rng.random();
            for (i, (_, share)) in values.iter().enumerate() {
                if x < *share {
                    lists[i].push(n);
                    break;
                }
                x -= share;
            }
        }
        n += 1;
    }
    let mut source = MemorySource::new(IdSet::full_range(n));
    for ((group, values), lists) in groups.iter().zip(members) {
        for ((value, _), ids) in values.iter().zip(lists) {
            source.insert_tag_value(group, value, IdSet::from_sorted(&ids));
        }
    }
    (source, u64::from(n))
}

#[allow(clippy::too_many_arguments)]
/// The behaviour rule of the benchmark.
const EVENT_RULE: &str = r#"{"event":"purchase","last_days":30,"count":{">=":3}}"#;

/// 30 days of purchase counts for `users` users, drawn from a hash of (user, day): one user in
/// ten buys on a fifth of the days, the others on one day in fifty; 1–3 purchases a time.
fn purchases(users: u32) -> MemorySource {
    use engine::sample::splitmix64;
    let mut source = MemorySource::new(IdSet::full_range(users));
    let days = engine::window::window_days("2026-11-20", 30).expect("a date");
    for (d, ds) in days.iter().enumerate() {
        let pairs: Vec<(u32, u64)> = (0..users)
            .filter_map(|id| {
                let heavy = splitmix64(u64::from(id)).is_multiple_of(10);
                let h = splitmix64(u64::from(id) | (d as u64) << 40);
                let buys = h % 100 < if heavy { 20 } else { 2 };
                buys.then_some((id, 1 + (h >> 32) % 3))
            })
            .collect();
        source.insert_event_day("purchase", ds, engine::bsi::Bsi::from_pairs(pairs));
    }
    source
}

fn report(rule: &str, conds: usize, tier: &str, kind: &str, users: u64, result: u64, m: (f64, f64, usize, usize)) {
    console_log!("BENCH|{TARGET}|{rule}|{conds}|{tier}|{kind}|{users}|{result}|{:.4}|{:.4}|{}|{}", m.0, m.1, m.2, m.3);
}

#[wasm_bindgen_test(unsupported = test)]
#[ignore = "benchmark: run by `bash .dev/bench-browser.sh`"]
fn bench_estimate() {
    let users = knob(option_env!("SIEVE_BENCH_USERS"), 10_000_000.0) as u32;
    let sample_users = knob(option_env!("SIEVE_BENCH_SAMPLE_USERS"), 100_000_000.0) as u32;
    let seconds = knob(option_env!("SIEVE_BENCH_SECONDS"), 1.5);

    // performance.now() granularity, as this page sees it.
    let mut step = f64::INFINITY;
    for _ in 0..20 {
        let a = now_ms();
        let mut b = now_ms();
        while b == a {
            b = now_ms();
        }
        step = step.min(b - a);
    }
    console_log!("INFO|{TARGET}|clock_step_us|{:.3}", step * 1e3);
    console_log!("INFO|{TARGET}|simd128|{}", cfg!(target_feature = "simd128"));

    let t0 = now_ms();
    let pop = build(users, false);
    console_log!("INFO|{TARGET}|generate_{users}_ms|{:.0}", now_ms() - t0);
    console_log!("INFO|{TARGET}|heap_full_tier_mb|{:.1}", pop.full.heap_size_bytes() as f64 / 1e6);
    console_log!("INFO|{TARGET}|heap_sample_tier_mb|{:.2}", pop.sample.heap_size_bytes() as f64 / 1e6);
    console_log!("INFO|{TARGET}|linear_memory_mb|{:.0}", memory_mb());
    let (n, big_n) = (pop.map.len(), u64::from(users));
    for (name, conds, text) in rules() {
        let sample_plan = Plan::parse(text, &pop.sample.catalog()).expect("valid on the sample tier");
        let full_plan = Plan::parse(text, &pop.full.catalog()).expect("valid on the full tier");
        // Estimate: count on the sample tier, scaled with its interval (what the app shows
        // while the rule is edited).
        let k = count(&sample_plan, &pop.sample).expect("loaded");
        let m = measure(seconds, || {
            let k = count(&sample_plan, &pop.sample).expect("loaded");
            estimate(k, n, big_n).count as u64
        });
        report(name, conds, "sample", "estimate", n, k, m);
        let exact = count(&full_plan, &pop.full).expect("loaded");
        let m = measure(seconds, || count(&full_plan, &pop.full).expect("loaded"));
        report(name, conds, "full", "count", big_n, exact, m);
        if conds == 10 {
            let opts = EvalOptions { steps: true, members: false };
            let m = measure(seconds, || evaluate(&sample_plan, &pop.sample, opts).expect("loaded").count);
            report(name, conds, "sample", "funnel", n, k, m);
            let m = measure(seconds, || evaluate(&full_plan, &pop.full, opts).expect("loaded").count);
            report(name, conds, "full", "funnel", big_n, exact, m);
        }
    }
    drop(pop);

    // Behaviour: `purchase count >= 3 in the last 30 days` over the full tier (30 daily
    // bit-sliced columns summed with saturation; see engine::window).
    let t0 = now_ms();
    let events = purchases(users);
    console_log!("INFO|{TARGET}|generate_events_30d_ms|{:.0}", now_ms() - t0);
    let plan = Plan::parse(EVENT_RULE, &events.catalog()).expect("valid");
    let k = count(&plan, &events).expect("loaded");
    let m = measure(seconds, || count(&plan, &events).expect("loaded"));
    report("count>=3/30d", 1, "full", "count", big_n, k, m);
    drop(events);

    if sample_users > 0 {
        let t0 = now_ms();
        let (sample, n) = sample_only(sample_users);
        console_log!("INFO|{TARGET}|sample_population|{sample_users}");
        console_log!("INFO|{TARGET}|generate_sample_of_{sample_users}_ms|{:.0}", now_ms() - t0);
        console_log!("INFO|{TARGET}|linear_memory_mb_after_sample_only|{:.0}", memory_mb());
        for (name, conds, text) in rules() {
            let plan = Plan::parse(text, &sample.catalog()).expect("valid");
            let k = count(&plan, &sample).expect("loaded");
            let m = measure(seconds, || {
                let k = count(&plan, &sample).expect("loaded");
                estimate(k, n, u64::from(sample_users)).count as u64
            });
            report(name, conds, "sample-of-big", "estimate", n, k, m);
        }
    }
}
