//! Sparse blob encoding (issue 19): wire bytes of uniformly random tags against the information
//! floor log2 C(n, k) in both payload encodings (1%, 0.1%, 0.01% of 10M and 100M users), and
//! decode throughput of 1% and 0.1% tags of 10M users in both (through `blob::decode`, checksum
//! included). `cargo bench -p engine --bench blob` ends with the tables for BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use engine::{IdSet, blob, elias_fano, portable};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// About `n · density` distinct ids drawn uniformly from `0..n`: every k-subset equally likely,
/// the case the floor is the floor of.
fn random_tag(n: u32, density: f64) -> IdSet {
    let mut rng = StdRng::seed_from_u64(u64::from(n) ^ density.to_bits());
    let k = (f64::from(n) * density) as usize;
    IdSet::from_unsorted((0..k).map(|_| rng.random_range(0..n)).collect())
}

/// log2 C(n, k), summed term by term.
fn floor_bits(n: u64, k: u64) -> f64 {
    (0..k).map(|i| ((n - i) as f64 / (i + 1) as f64).log2()).sum()
}

/// Both blobs of a set: (roaring, Elias–Fano).
fn both(set: &IdSet) -> (Vec<u8>, Vec<u8>) {
    let ef = elias_fano::encode(set).expect("not empty");
    (blob::wrap(blob::ENCODING_ROARING, &portable::encode(set)), blob::wrap(blob::ENCODING_ELIAS_FANO, &ef))
}

const DENSITIES: [(&str, f64); 3] = [("1%", 0.01), ("0.1%", 0.001), ("0.01%", 0.0001)];

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("criterion")
}

/// (median, min) seconds per decode from criterion's samples of one benchmark.
fn median_min_secs(function: &str, param: &str) -> Option<(f64, f64)> {
    let path = criterion_dir().join("blob_decode_10M").join(function).join(param).join("new/sample.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let iters = v["iters"].as_array()?;
    let times = v["times"].as_array()?;
    let mut per: Vec<f64> =
        iters.iter().zip(times).filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()? / 1e9)).collect();
    per.sort_by(f64::total_cmp);
    Some((*per.get(per.len() / 2)?, *per.first()?))
}

fn main() {
    let mut c = Criterion::default().output_directory(&criterion_dir()).configure_from_args();
    // `cargo test --all-targets` runs benches once without `--bench`: a quick round trip.
    if !std::env::args().any(|a| a == "--bench") {
        let set = random_tag(1_000_000, 0.01);
        let (roaring, ef) = both(&set);
        assert_eq!(blob::decode(&roaring).expect("roaring"), set);
        assert_eq!(blob::decode(&ef).expect("Elias–Fano"), set);
        return;
    }

    println!("| users | density | ids | floor B | roaring blob B | ÷ floor | Elias–Fano blob B | ÷ floor |");
    println!("|---|---|---|---|---|---|---|---|");
    for users in [10_000_000u32, 100_000_000] {
        for (label, density) in DENSITIES {
            let set = random_tag(users, density);
            let (roaring, ef) = both(&set);
            assert_eq!(blob::encode(&set), ef, "the blob picks Elias–Fano for a random sparse tag");
            let floor = floor_bits(u64::from(users), set.len()) / 8.0;
            println!(
                "| {}M | {label} | {} | {floor:.0} | {} | {:.2}× | {} | {:.3}× |",
                users / 1_000_000,
                set.len(),
                roaring.len(),
                roaring.len() as f64 / floor,
                ef.len(),
                ef.len() as f64 / floor,
            );
        }
    }

    let mut g = c.benchmark_group("blob_decode/10M");
    g.sample_size(50).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    let mut rows = Vec::new();
    for (label, density) in &DENSITIES[..2] {
        let set = random_tag(10_000_000, *density);
        let (roaring, ef) = both(&set);
        for (name, bytes) in [("roaring", &roaring), ("elias-fano", &ef)] {
            g.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter(|| blob::decode(black_box(bytes)).expect("valid"))
            });
            rows.push((name, *label, bytes.len(), set.len()));
        }
    }
    g.finish();

    println!(
        "\n| 10M users | encoding | blob B | ids | median µs | min µs | MB/s (median, min time) | M ids/s (median, min time) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, label, bytes, ids) in rows {
        let Some((median, min)) = median_min_secs(name, label) else { continue };
        println!(
            "| {label} | {name} | {bytes} | {ids} | {:.0} | {:.0} | {:.0}, {:.0} | {:.0}, {:.0} |",
            median * 1e6,
            min * 1e6,
            bytes as f64 / median / 1e6,
            bytes as f64 / min / 1e6,
            ids as f64 / median / 1e6,
            ids as f64 / min / 1e6,
        );
    }
}
