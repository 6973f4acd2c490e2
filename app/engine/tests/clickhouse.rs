//! `engine::warehouse` against the real ClickHouse: chDB (ClickHouse 26.9 in-process, in the
//! venv `bash .dev/setup.sh --warehouse` makes) run through `tests/warehouse/chdb_bitmaps.py`,
//! one Python process for every case.
//!
//! - the `groupBitmapState(toUInt32(x))` bytes ClickHouse writes for many sets (empty, 1, 31, 32,
//!   33 ids around the small/large boundary, dense, sparse, near `u32::MAX`) decode to exactly
//!   those sets;
//! - what `encode_clickhouse_state` writes, ClickHouse reads back as the same cardinality and ids;
//! - ClickHouse's `UInt64` states (small and large, ids above 2^32 or not) are refused as 64-bit;
//! - roaring-rs portable bytes with run containers decode (and ClickHouse reads them wrapped in a
//!   state), and roaring-rs `RoaringTreemap` bytes are refused as 64-bit;
//! - small sets of more than 32 ids are refused by ClickHouse and by us alike.
//!
//! Where we are stricter than ClickHouse's reader (checked by hand with chDB 4.4.0): it accepts
//! a small set listing an id twice (and counts it twice) and overlong varints; ClickHouse never
//! writes either, so we refuse both.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use engine::error::Bitmap64;
use engine::warehouse::{BitmapEncoding, SMALL_SET_MAX, decode_bitmap, encode_clickhouse_state};
use engine::{BitmapError, IdSet};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::{RoaringBitmap, RoaringTreemap};
use serde_json::{Value, json};

fn venv() -> PathBuf {
    match std::env::var_os("SIEVE_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/sieve/venv"),
    }
}

/// Sends one request to `chdb_bitmaps.py` and returns its answer.
fn chdb(request: &Value) -> Value {
    let python = venv().join("bin/python");
    assert!(
        python.exists(),
        "no Python venv with chDB at {}: run `bash .dev/setup.sh --warehouse` (or set SIEVE_VENV)",
        venv().display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/warehouse/chdb_bitmaps.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {} {}: {e}", python.display(), script.display()));
    let input = serde_json::to_vec(request).expect("JSON");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written from another thread: the answer can be larger than a pipe holds.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("wait for python");
    writer.join().expect("writer thread").expect("write the request");
    assert!(
        output.status.success(),
        "chdb_bitmaps.py failed ({}); if chdb is missing run `bash .dev/setup.sh --warehouse`:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script answers JSON")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex {text}");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// `n` distinct random ids from `range`.
fn distinct(rng: &mut StdRng, n: usize, range: std::ops::RangeInclusive<u32>) -> Vec<u32> {
    let mut ids = BTreeSet::new();
    while ids.len() < n {
        ids.insert(rng.random_range(range.clone()));
    }
    ids.into_iter().collect()
}

/// The 32-bit sets: (what it is, its ids in a random order, as ClickHouse would see them).
fn sets_32(rng: &mut StdRng) -> Vec<(String, Vec<u32>)> {
    let mut sets: Vec<(String, Vec<u32>)> = vec![
        ("empty".into(), vec![]),
        ("one id".into(), vec![42]),
        ("u32::MAX alone".into(), vec![u32::MAX]),
        ("32 consecutive".into(), (1000..1032).collect()),
        ("33 consecutive".into(), (1000..1033).collect()),
        ("last 100 ids".into(), (u32::MAX - 99..=u32::MAX).collect()),
        ("dense range 0..150000".into(), (0..150_000).collect()),
    ];
    for n in [1, 2, 31, 32, 33, 34] {
        sets.push((format!("{n} random ids"), distinct(rng, n, 0..=u32::MAX)));
    }
    for n in [31, 32, 33, 5_000] {
        sets.push((format!("{n} ids near u32::MAX"), distinct(rng, n, u32::MAX - 40_000..=u32::MAX)));
    }
    sets.push(("dense with holes".into(), (1_000_000..1_070_000).filter(|_| rng.random_bool(0.9)).collect()));
    sets.push(("sparse, 3000 ids".into(), distinct(rng, 3_000, 0..=u32::MAX)));
    let mixed = (0..5_000)
        .chain((70_000..200_000).step_by(3))
        .chain(distinct(rng, 500, 0..=u32::MAX))
        .collect::<BTreeSet<u32>>();
    sets.push(("runs, bitsets and arrays".into(), mixed.into_iter().collect()));
    for i in 0..40 {
        let n = rng.random_range(0..=70);
        // Ids from a random span, from a few hundred to all of u32 (at least 2n ids wide).
        let span = (1u32 << rng.random_range(8..32)) - 1;
        sets.push((format!("random size #{i} ({n} ids)"), distinct(rng, n, 0..=span)));
    }
    for (_, ids) in &mut sets {
        // ClickHouse sees the rows in any order; its small set keeps that order.
        for i in (1..ids.len()).rev() {
            ids.swap(i, rng.random_range(0..=i));
        }
    }
    sets
}

/// The 64-bit sets: (what it is, ids).
fn sets_64(rng: &mut StdRng) -> Vec<(String, Vec<u64>)> {
    vec![
        ("small, above 2^32".into(), vec![1, 1 << 32, (1 << 40) + 5]),
        ("small, all below 2^32".into(), vec![1, 2, 3]),
        ("one id".into(), vec![7]),
        ("32 ids".into(), (0..32).map(|i| i << 20).collect()),
        ("large, above 2^32".into(), (0..1_000).map(|_| rng.random::<u64>()).collect()),
        ("large, all below 2^32".into(), (0..100).collect()),
        ("large, from 2^32".into(), ((1 << 32)..(1 << 32) + 50).collect()),
    ]
}

#[test]
fn bitmaps_agree_with_clickhouse() {
    let mut rng = StdRng::seed_from_u64(13);
    let sets = sets_32(&mut rng);
    let sets64 = sets_64(&mut rng);

    // roaring-rs portable bytes with run containers, and that bitmap wrapped as a ClickHouse state.
    let mut runs: RoaringBitmap = (0..100_000).chain(200_000..200_010).chain([1 << 20, u32::MAX]).collect();
    runs.optimize();
    let mut runs_bytes = Vec::new();
    runs.serialize_into(&mut runs_bytes).expect("in-memory write");
    assert_eq!(runs_bytes[..2], [0x3b, 0x30], "roaring-rs wrote run containers (cookie 12347)");
    let mut runs_state = vec![1u8];
    let mut len = runs_bytes.len();
    while len > 0x7f {
        runs_state.push((len as u8 & 0x7f) | 0x80); // LEB128, as ClickHouse's writeVarUInt
        len >>= 7;
    }
    runs_state.push(len as u8);
    runs_state.extend_from_slice(&runs_bytes);

    let ours: Vec<Vec<u8>> =
        sets.iter().map(|(_, ids)| encode_clickhouse_state(&IdSet::from_unsorted(ids.clone()))).collect();
    let writes: Vec<Value> = sets
        .iter()
        .map(|(_, ids)| json!({"type": "UInt32", "ids": ids}))
        .chain(sets64.iter().map(|(_, ids)| json!({"type": "UInt64", "ids": ids})))
        .collect();
    // Small sets past ClickHouse's limit: both it and we refuse them.
    let oversized: Vec<Vec<u8>> = [33u8, 40]
        .iter()
        .map(|&n| [0, n].into_iter().chain((0..u32::from(n)).flat_map(u32::to_le_bytes)).collect())
        .collect();
    let reads: Vec<String> =
        ours.iter().map(|b| hex(b)).chain([hex(&runs_state)]).chain(oversized.iter().map(|b| hex(b))).collect();
    let started = std::time::Instant::now();
    let answer = chdb(&json!({"write": writes, "read": reads}));
    eprintln!("ClickHouse {} (chDB) answered in {:?}", answer["clickhouse"], started.elapsed());
    let written: Vec<Vec<u8>> =
        answer["written"].as_array().expect("written").iter().map(|h| unhex(h.as_str().expect("hex string"))).collect();
    let read = answer["read"].as_array().expect("read");
    assert_eq!(written.len(), sets.len() + sets64.len());
    assert_eq!(read.len(), reads.len());

    // ClickHouse's UInt32 states decode to exactly the sets.
    let mut kinds_seen = BTreeSet::new();
    for ((what, ids), state) in sets.iter().zip(&written) {
        let expected = IdSet::from_unsorted(ids.clone());
        let (set, encoding) =
            decode_bitmap(state).unwrap_or_else(|e| panic!("{what}: ClickHouse's state {}: {e}", hex(state)));
        assert_eq!(set, expected, "{what}: ClickHouse's state {}", hex(state));
        let small = ids.len() <= SMALL_SET_MAX;
        let want = if small { BitmapEncoding::ClickHouseSmall } else { BitmapEncoding::ClickHouseLarge };
        assert_eq!(encoding, want, "{what}: {} ids", ids.len());
        if small {
            // ClickHouse writes the small set in its own order, which is not sorted.
            let stored: Vec<u32> =
                state[2..].chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            assert_eq!(stored.iter().copied().collect::<BTreeSet<_>>(), ids.iter().copied().collect(), "{what}");
        }
        kinds_seen.insert(format!("{encoding:?}"));
    }
    assert_eq!(kinds_seen.len(), 2, "both kinds of state were tested");

    // ClickHouse reads our states as the same sets (ours write small sets ascending).
    for (((what, ids), bytes), answer) in sets.iter().zip(&ours).zip(read) {
        let expected: Vec<u64> = IdSet::from_unsorted(ids.clone()).iter().map(u64::from).collect();
        assert!(
            answer.get("error").is_none(),
            "{what}: ClickHouse refused our state {}: {}",
            hex(bytes),
            answer["error"]
        );
        assert_eq!(answer["cardinality"].as_u64(), Some(expected.len() as u64), "{what}: cardinality");
        let theirs: Vec<u64> = answer["ids"].as_array().expect("ids").iter().map(|v| v.as_u64().expect("id")).collect();
        assert_eq!(theirs, expected, "{what}: ids ClickHouse read from {}", hex(bytes));
    }

    // ClickHouse's UInt64 states are refused, with the 64-bit reason.
    for ((what, ids), state) in sets64.iter().zip(&written[sets.len()..]) {
        let distinct = ids.iter().collect::<BTreeSet<_>>().len();
        let kind = if distinct <= SMALL_SET_MAX { Bitmap64::ClickHouseSmall } else { Bitmap64::ClickHouseLarge };
        let err = decode_bitmap(state).expect_err(what);
        assert_eq!(err, BitmapError::SixtyFourBit(kind), "UInt64 {what}: {}", hex(state));
        assert!(err.to_string().contains("only 32-bit user ids are supported"), "{err}");
    }

    // roaring-rs bytes with run containers: ours to read, and ClickHouse's inside a state.
    let expected: IdSet = IdSet::from_roaring(&runs);
    assert_eq!(decode_bitmap(&runs_bytes).expect("roaring-rs bytes"), (expected.clone(), BitmapEncoding::Portable));
    assert_eq!(decode_bitmap(&runs_state).expect("wrapped"), (expected.clone(), BitmapEncoding::ClickHouseLarge));
    let theirs = &read[sets.len()];
    assert_eq!(theirs["cardinality"].as_u64(), Some(expected.len()), "ClickHouse reads roaring-rs runs: {theirs}");

    for (bytes, theirs) in oversized.iter().zip(&read[sets.len() + 1..]) {
        let ours = decode_bitmap(bytes).expect_err("more than 32 ids in a small set");
        assert!(matches!(ours, BitmapError::SmallSetTooLarge { .. }), "{ours}");
        let theirs = theirs["error"].as_str().unwrap_or_else(|| panic!("ClickHouse read {theirs}"));
        assert!(theirs.contains("Illegal size"), "{theirs}");
    }
}

/// roaring-rs `RoaringTreemap` bytes (the 64-bit portable layout, whatever their first byte)
/// are refused as 64-bit.
#[test]
fn treemaps_are_refused_as_64_bit() {
    let cases: [&[u64]; 5] = [&[], &[7], &[1, 1 << 32], &[5 << 32, 9 << 32, 11 << 32], &[u64::MAX]];
    for ids in cases {
        let mut treemap: RoaringTreemap = ids.iter().copied().collect();
        treemap.insert_range(0..1000);
        let mut bytes = Vec::new();
        treemap.serialize_into(&mut bytes).expect("in-memory write");
        let err = decode_bitmap(&bytes).expect_err("refused");
        assert_eq!(err, BitmapError::SixtyFourBit(Bitmap64::Portable), "{ids:?}");
        assert_eq!(
            err.to_string(),
            "a 64-bit bitmap (64-bit roaring portable format, as RoaringTreemap or Roaring64Map write it): \
             only 32-bit user ids are supported"
        );
    }
}
