//! The engine as the browser runs it: compiled to wasm32 (+simd128) and run in headless
//! Chromium by `wasm-bindgen-test-runner` (`.dev/test.sh`, step "wasm tests"). Every test also
//! runs natively under `cargo test` (`unsupported = test`), so a difference between the two
//! builds shows up as one of them failing.
//!
//! - counts, members and funnel steps equal a naive per-user evaluator, on both tiers;
//! - blobs round-trip through `decode_addressed`, and damage is refused;
//! - sample-tier estimates equal the formula, bit for bit, and values pinned natively;
//! - manifests (the golden fixture and a freshly built snapshot) parse and check;
//! - the bitset kernels equal plain loops.

mod common;

use common::{Population, build, naive_matches, random_rule, rules};
use engine::sample::{DEFAULT_RATE, estimate};
use engine::snapshot::{GroupData, build_snapshot};
use engine::{EvalOptions, FormatError, IdSet, Manifest, Plan, Rule, Source, TagKind, blob, count, evaluate};
use rand::SeedableRng;
use rand::rngs::StdRng;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Two full chunks and a partial third: containers of every kind, chunk edges, and the
/// sparse values below the engine's 64-id candidate cut-off in some chunks.
const USERS: u32 = 150_000;

/// Checks one rule on one tier against the naive evaluator: count, members, funnel steps.
/// `ids` maps the tier's ids to rows of the population's table (identity on the full tier,
/// sample id → dense id on the sample tier).
fn check_rule(pop: &Population, rule: &Rule, source: &engine::MemorySource, ids: &dyn Fn(u32) -> usize) {
    let table = pop.table.as_ref().expect("table kept");
    let vip = pop.vip.as_ref().expect("table kept");
    let plan = Plan::validate(rule, &source.catalog()).expect("generated rules name known tags");
    let got = evaluate(&plan, source, EvalOptions { steps: true, members: true }).expect("all loaded");
    let tier: Vec<u32> = source.universe().iter().collect();
    let expected: Vec<u32> = tier.iter().copied().filter(|&id| naive_matches(rule, table, vip, ids(id))).collect();
    let members: Vec<u32> = got.members.as_ref().expect("asked for members").iter().collect();
    assert_eq!(got.count, expected.len() as u64, "count of {}", rule.to_json());
    assert_eq!(members, expected, "members of {}", rule.to_json());
    assert_eq!(count(&plan, source).expect("all loaded"), got.count, "count alone of {}", rule.to_json());
    // Funnel: step i counts users matching conditions 0..=i of the top-level `all`.
    let parts: Vec<Rule> = match rule {
        Rule::All(parts) => parts.clone(),
        other => vec![other.clone()],
    };
    let mut naive_steps = vec![0u64; parts.len()];
    for &id in &tier {
        for (i, part) in parts.iter().enumerate() {
            if !naive_matches(part, table, vip, ids(id)) {
                break;
            }
            naive_steps[i] += 1;
        }
    }
    let got_steps: Vec<u64> = got.steps.iter().filter_map(|s| s.count).collect();
    assert_eq!(got_steps, naive_steps, "funnel of {}", rule.to_json());
    let paths: Vec<&str> = got.steps.iter().map(|s| s.path.as_str()).collect();
    let expected_paths: Vec<String> = match rule {
        Rule::All(parts) => (0..parts.len()).map(|i| format!("all[{i}]")).collect(),
        _ => vec!["$".to_owned()],
    };
    assert_eq!(paths, expected_paths);
}

#[wasm_bindgen_test(unsupported = test)]
fn counts_members_and_funnel_match_a_naive_evaluator() {
    let pop = build(USERS, true);
    let mut rng = StdRng::seed_from_u64(20_261_122);
    let mut all: Vec<Rule> = rules().iter().map(|(_, _, text)| Rule::parse(text).expect("bench rule parses")).collect();
    all.extend((0..48).map(|_| random_rule(&mut rng, 3)));
    // The sparse 10-condition rule must not be trivially empty, or it checks little.
    let sparse = Plan::validate(&all[4], &pop.full.catalog()).expect("valid");
    assert!(count(&sparse, &pop.full).expect("loaded") > 0);
    for rule in &all {
        check_rule(&pop, rule, &pop.full, &|id| id as usize);
        check_rule(&pop, rule, &pop.sample, &|id| pop.map.dense_id(id).expect("sampled") as usize);
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn blobs_round_trip_through_decode_addressed() {
    let pop = build(USERS, false);
    let empty = IdSet::new();
    let mut sets: Vec<&IdSet> = vec![pop.full.universe(), pop.sample.universe(), &empty];
    for (group, values) in common::groups() {
        for (value, _) in values {
            sets.push(pop.full.tag_value(group, value).expect("present"));
            sets.push(pop.sample.tag_value(group, value).expect("present"));
        }
    }
    for set in sets {
        let bytes = blob::encode(set);
        let address = blob::hash(&bytes);
        assert!(blob::is_hash(&address));
        assert_eq!(&blob::decode_addressed(&bytes, &address).expect("round trip"), set);
        // Another set's address is refused before decoding.
        let other = blob::hash(b"not this blob");
        assert!(matches!(blob::decode_addressed(&bytes, &other), Err(FormatError::HashMismatch { .. })));
        // A flipped payload bit: the address no longer matches, and without the address
        // the checksum catches it. Never a panic.
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0x10;
        assert!(matches!(blob::decode_addressed(&damaged, &address), Err(FormatError::HashMismatch { .. })));
        assert!(blob::decode_addressed(&damaged, &blob::hash(&damaged)).is_err());
        // Truncated at every header length.
        for cut in 0..blob::HEADER_BYTES.min(bytes.len()) {
            assert!(blob::decode(&bytes[..cut]).is_err());
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn golden_blobs_decode_and_reencode_byte_for_byte() {
    let fixtures: [&[u8]; 5] = [
        include_bytes!("../engine/tests/fixtures/blob_v1_elias_fano.bin"),
        include_bytes!("../engine/tests/fixtures/blob_v1_bitset.bin"),
        include_bytes!("../engine/tests/fixtures/blob_v1_empty.bin"),
        include_bytes!("../engine/tests/fixtures/blob_v1_runs.bin"),
        // Written as roaring before Elias–Fano existed; the engine now writes its set shorter.
        include_bytes!("../engine/tests/fixtures/blob_v1_array.bin"),
    ];
    for bytes in fixtures {
        let set = blob::decode_addressed(bytes, &blob::hash(bytes)).expect("golden blob decodes");
        let again = blob::encode(&set);
        assert_eq!(blob::decode(&again).expect("re-encoded"), set);
    }
    // Elias–Fano, bitset and empty fixtures are written exactly as the engine writes them today.
    for bytes in [fixtures[0], fixtures[1], fixtures[2]] {
        assert_eq!(blob::encode(&blob::decode(bytes).expect("decodes")), bytes);
    }
}

/// The estimate formula transcribed independently from `engine::sample::estimate`'s
/// documentation: Wilson 95% interval on k/n with the finite-population correction, clamped
/// to what is certain.
fn reference_estimate(k: u64, n: u64, big_n: u64) -> (f64, f64, f64) {
    let big = big_n as f64;
    if n == 0 {
        return (0.0, 0.0, big);
    }
    let k = k.min(n) as f64;
    let n = n as f64;
    let p = k / n;
    let fpc = if big > 1.0 { ((big - n) / (big - 1.0)).max(0.0) } else { 0.0 };
    let (lo, hi) = if fpc == 0.0 {
        (p, p)
    } else {
        let ne = n / fpc;
        let z = 1.959_963_984_540_054_f64;
        let z2 = z * z;
        let centre = (p + z2 / (2.0 * ne)) / (1.0 + z2 / ne);
        let half = z / (1.0 + z2 / ne) * (p * (1.0 - p) / ne + z2 / (4.0 * ne * ne)).sqrt();
        (centre - half, centre + half)
    };
    (p * big, (lo * big).max(k).min(p * big), (hi * big).min(big - (n - k)).max(p * big))
}

/// Values computed by the native build (x86-64), as f64 bits: WASM must give the same bits.
const PINNED: [((u64, u64, u64), [u64; 3]); 4] = [
    ((100, 1_000, 64_000), [0x40b9_0000_0000_0000, 0x40b4_c20b_ba6d_abba, 0x40bd_fed6_5c8b_17c8]),
    ((1_234, 156_250, 10_000_000), [0x40f3_4800_0000_0000, 0x40f2_3f2f_4fd1_c449, 0x40f4_5fb3_9ff4_8e20]),
    ((3, 1_562_500, 100_000_000), [0x4067_ffff_ffff_ffff, 0x4050_7377_b1f1_21e3, 0x4081_81a6_52bc_af3f]),
    ((156_250, 156_250, 10_000_000), [0x4163_12d0_0000_0000, 0x4163_12b1_bfce_3fd9, 0x4163_12d0_0000_0000]),
];

#[wasm_bindgen_test(unsupported = test)]
fn sample_estimates_equal_the_native_formula() {
    let mut cases = vec![(0, 0, 0), (0, 0, 10), (0, 10, 10), (5, 10, 10), (0, 1, 64), (1, 1, 64), (7, 9, 1)];
    for &(k, n, big_n) in &[(100u64, 1_000u64, 64_000u64), (0, 156_250, 10_000_000), (156_250, 156_250, 10_000_000)] {
        cases.push((k, n, big_n));
    }
    let mut rng = StdRng::seed_from_u64(64);
    for _ in 0..2_000 {
        use rand::Rng;
        let big_n: u64 = rng.random_range(1..200_000_000);
        let n = rng.random_range(0..=big_n.min(3_200_000));
        let k = rng.random_range(0..=n + 2); // k above n is clamped
        cases.push((k, n, big_n));
    }
    for (k, n, big_n) in cases {
        let e = estimate(k, n, big_n);
        let (count, lo, hi) = reference_estimate(k, n, big_n);
        assert_eq!(
            [e.count.to_bits(), e.lo.to_bits(), e.hi.to_bits()],
            [count.to_bits(), lo.to_bits(), hi.to_bits()],
            "estimate({k}, {n}, {big_n})"
        );
        assert!(e.lo <= e.count && e.count <= e.hi, "estimate({k}, {n}, {big_n}) = {e:?}");
    }
    for ((k, n, big_n), bits) in PINNED {
        let e = estimate(k, n, big_n);
        assert_eq!([e.count.to_bits(), e.lo.to_bits(), e.hi.to_bits()], bits, "pinned estimate({k}, {n}, {big_n})");
    }
    // An estimate from the sample tier as the app computes it: count on the sample tier,
    // scaled to the full tier.
    let pop = build(USERS, false);
    let (_, _, text) = rules()[2];
    let plan = Plan::parse(text, &pop.sample.catalog()).expect("valid on the sample tier");
    let k = count(&plan, &pop.sample).expect("loaded");
    let e = estimate(k, pop.map.len(), u64::from(pop.users));
    let exact = count(&Plan::parse(text, &pop.full.catalog()).expect("valid"), &pop.full).expect("loaded");
    assert!(e.lo <= exact as f64 && exact as f64 <= e.hi, "{exact} outside {e:?}");
}

#[wasm_bindgen_test(unsupported = test)]
fn manifests_parse_and_check() {
    let fixture = include_str!("../engine/tests/fixtures/manifest_v1.json");
    let m = Manifest::from_json(fixture.as_bytes()).expect("golden manifest parses");
    m.check().expect("golden manifest checks");
    assert_eq!((m.format, m.app.as_str(), m.ds.as_str()), (1, "demo", "2026-11-20"));
    assert_eq!(Manifest::from_json(m.to_json().as_bytes()).expect("round trip"), m);
    let catalog = engine::Catalog::from_manifest(&m);
    assert_eq!(catalog.value_count("gender", "female"), Some(500));
    // Damage is an error, never a panic.
    assert!(Manifest::from_json(&fixture.as_bytes()[..fixture.len() / 2]).is_err());
    assert!(Manifest::from_json(b"{\"format\": 99}").is_err());

    // A snapshot built in the browser: its manifest round-trips and names blobs that decode
    // by their addresses to the sets they came from.
    let pop = build(70_000, false);
    let groups: Vec<GroupData> = common::groups()
        .into_iter()
        .map(|(group, values)| GroupData {
            name: group.to_owned(),
            kind: TagKind::Categorical,
            category: "test".to_owned(),
            loaded_ds: "2026-11-22".to_owned(),
            values: values
                .iter()
                .map(|(v, _)| ((*v).to_owned(), pop.full.tag_value(group, v).expect("present").clone()))
                .collect(),
            numeric: None,
        })
        .collect();
    let built = build_snapshot("wasm", "2026-11-22", pop.full.universe().clone(), &groups, DEFAULT_RATE);
    let text = built.manifest.to_json();
    let parsed = Manifest::from_json(text.as_bytes()).expect("built manifest parses");
    parsed.check().expect("built manifest checks");
    assert_eq!(parsed, built.manifest);
    for hash in parsed.blob_hashes() {
        blob::decode_addressed(&built.blobs[hash], hash).expect("named blob decodes");
    }
    for g in &parsed.groups {
        for v in &g.values {
            let full = blob::decode_addressed(&built.blobs[&v.full.blob], &v.full.blob).expect("decodes");
            assert_eq!(&full, pop.full.tag_value(&g.name, &v.value).expect("present"));
            let sample = blob::decode_addressed(&built.blobs[&v.sample.blob], &v.sample.blob).expect("decodes");
            assert_eq!(&sample, pop.sample.tag_value(&g.name, &v.value).expect("present"));
            assert_eq!((v.count, v.full.count, v.sample.count), (full.len(), full.len(), sample.len()));
        }
    }
}

/// The bitset kernels (SIMD128 in the browser, AVX2 or the plain loops natively) against plain
/// per-word loops, on words that are empty, full, single bits and random, so every byte and
/// lane sum is crossed. `.dev/test.sh` also runs this file with the shipped (optimised)
/// profile: a first SIMD128 kernel passed here unoptimised and summed wrongly once optimised.
#[wasm_bindgen_test(unsupported = test)]
fn bitset_kernels_match_plain_loops() {
    use engine::idset::{BITSET_WORDS, Words};
    use engine::kernels::{and_count, andnot_count, popcount};
    use rand::Rng;
    let mut rng = StdRng::seed_from_u64(19);
    for round in 0..200 {
        let word = |rng: &mut StdRng| match rng.random_range(0..4) {
            0 => 0,
            1 => u64::MAX,
            2 => 1u64 << rng.random_range(0..64),
            _ => rng.random(),
        };
        let (mut a, mut b) = (Words::ZERO, Words::ZERO);
        for i in 0..BITSET_WORDS {
            (a[i], b[i]) = (word(&mut rng), word(&mut rng));
        }
        if round == 0 {
            a = Words([u64::MAX; BITSET_WORDS]);
        }
        let plain = |f: &dyn Fn(u64, u64) -> u64| {
            a.iter().zip(b.iter()).map(|(x, y)| f(*x, *y).count_ones() as usize).sum::<usize>()
        };
        assert_eq!(popcount(&a), plain(&|x, _| x), "popcount, round {round}");
        assert_eq!(popcount(&b), b.iter().map(|x| x.count_ones() as usize).sum::<usize>(), "popcount, round {round}");
        assert_eq!(and_count(&a, &b), plain(&|x, y| x & y), "and, round {round}");
        assert_eq!(andnot_count(&a, &b), plain(&|x, y| x & !y), "andnot, round {round}");
    }
}
