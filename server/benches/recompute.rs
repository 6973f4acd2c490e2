//! Routine recompute (例行化): 1,000 dynamic segments over 10M users on one day, through the same
//! publish path a new day takes (evaluate every segment, write member blobs on both tiers, commit
//! the day's new version). `cargo bench -p server --bench recompute` prints the time for
//! BENCHMARKS.md. `SIEVE_RECOMPUTE_USERS` / `SIEVE_RECOMPUTE_SEGMENTS` change the size.

use std::time::Instant;

use server::segments::sync::{LiveSegment, SegmentKind, SegmentRecord, SegmentSpec, SegmentState};
use server::state::{AppState, Config};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bench = std::env::args().any(|a| a == "--bench");
    let env = |k: &str, d: u32| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    // Without `--bench` (`cargo test --all-targets`) a small run checks the code path only.
    let users = env("SIEVE_RECOMPUTE_USERS", if bench { 10_000_000 } else { 20_000 });
    let segments = env("SIEVE_RECOMPUTE_SEGMENTS", if bench { 1_000 } else { 20 });
    let (groups, values) = (20u32, 10u32);
    let dir = tempfile::tempdir()?;
    let ds: server::ds::Ds = "2026-11-20".parse().map_err(|_| "ds")?;
    let t = Instant::now();
    let opts = server::synth::SynthOptions {
        app: "bench".into(),
        users,
        groups,
        values_per_group: values,
        ds,
        ids: wire::IdKind::Strings,
    };
    server::synth::synth(dir.path(), &opts, |_| {})?;
    let synth_s = t.elapsed().as_secs_f64();

    let state = AppState::open(Config::new(dir.path(), "dist"))?;
    let mut x: u64 = 7;
    let mut next = move |n: u32| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((x >> 33) % u64::from(n)) as u32
    };
    for s in 0..segments {
        // 2 to 5 conditions, some negated, some with several values.
        let parts: Vec<serde_json::Value> = (0..2 + next(4))
            .map(|_| {
                let tag = format!("g{:03}", next(groups));
                let vals: Vec<String> = (0..1 + next(3)).map(|_| format!("v{}", next(values))).collect();
                let leaf = serde_json::json!({"tag": tag, "in": vals});
                if next(5) == 0 { serde_json::json!({"not": leaf}) } else { leaf }
            })
            .collect();
        let record = SegmentRecord {
            id: format!("s{s:04}"),
            version: None,
            revision: 1,
            created_ms: 0,
            updated_ms: 0,
            state: SegmentState::Live(LiveSegment {
                spec: SegmentSpec {
                    name: format!("segment {s}"),
                    description: String::new(),
                    kind: SegmentKind::Dynamic,
                    rule: Some(serde_json::json!({"all": parts})),
                },
                members: None,
            }),
        };
        state.meta.segment_cas("bench", &record.id, None, &serde_json::to_vec(&record)?)?;
    }
    let specs = server::publish::segment_specs(&state.meta, "bench")?;
    let t = Instant::now();
    state.publisher.refresh_segments("bench", &ds.to_string(), &specs)?;
    let recompute_s = t.elapsed().as_secs_f64();
    let (_, day) = state.snapshots.day("bench", None)?.ok_or("no day")?;
    let computed = state.snapshots.manifest(&day.manifest)?.segments.len();
    assert_eq!(computed, segments as usize, "every segment computed");
    println!("| users | tag values | segments | recompute (one day) | per segment | synthesis |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {users} | {} | {segments} | {recompute_s:.1} s | {:.1} ms | {synth_s:.1} s |",
        groups * values,
        recompute_s * 1000.0 / f64::from(segments)
    );
    Ok(())
}
