//! Golden fixtures: committed bytes of format version 1. Decoding them must keep giving the
//! same sets, and encoding those sets must keep giving the same bytes, so a format change is
//! always a deliberate, versioned one. `SIEVE_BLESS=1 cargo test -p engine --test golden`
//! rewrites the fixtures (review the diff!).

use std::path::PathBuf;

use engine::{IdSet, Manifest, TagKind, blob, snapshot};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The ids of `blob_v1_array.bin` and `blob_v1_elias_fano.bin`: a few scattered ids.
fn scattered() -> IdSet {
    IdSet::from_sorted(&[0, 1, 2, 1000, 65_535, 65_536, 1_000_000])
}

/// The fixture sets, built by hand so the test does not depend on any generator, with the
/// payload encoding `blob::encode` picks for each.
fn sets() -> Vec<(&'static str, IdSet, u8)> {
    vec![
        ("blob_v1_elias_fano.bin", scattered(), blob::ENCODING_ELIAS_FANO),
        ("blob_v1_bitset.bin", IdSet::from_sorted_iter((0..65_536u32).step_by(3)), blob::ENCODING_ROARING),
        ("blob_v1_runs.bin", IdSet::full_range(150_000), blob::ENCODING_ROARING),
        ("blob_v1_empty.bin", IdSet::new(), blob::ENCODING_ROARING),
    ]
}

fn check_or_bless(name: &str, bytes: &[u8]) {
    let path = fixture(name);
    if std::env::var_os("SIEVE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write fixture");
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(golden == bytes, "{name}: encoding changed; bump the format version or bless deliberately");
}

#[test]
fn blob_fixtures_decode_and_reencode() {
    for (name, set, encoding) in sets() {
        check_or_bless(name, &blob::encode(&set));
        let golden = std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(golden[6], encoding, "{name}: payload encoding");
        assert_eq!(blob::decode(&golden).expect("golden decodes"), set, "{name}");
    }
}

/// `blob_v1_array.bin` was written before encoding 1 (Elias–Fano) existed, as roaring: its set
/// is now written as `blob_v1_elias_fano.bin`, but blobs already stored keep decoding. Never
/// blessed: these bytes are history.
#[test]
fn blobs_written_before_elias_fano_still_decode() {
    let golden = std::fs::read(fixture("blob_v1_array.bin")).expect("fixture");
    assert_eq!(golden[6], blob::ENCODING_ROARING);
    assert_eq!(blob::decode(&golden).expect("old blob decodes"), scattered());
    assert_eq!(blob::encode(&scattered())[6], blob::ENCODING_ELIAS_FANO, "now written shorter");
}

#[test]
fn blob_fixture_header_is_as_documented() {
    let golden = std::fs::read(fixture("blob_v1_array.bin")).expect("fixture");
    assert_eq!(&golden[..4], b"SVBL");
    assert_eq!(u16::from_le_bytes([golden[4], golden[5]]), 1, "format version");
    assert_eq!(golden[6], 0, "roaring portable encoding");
    let len = u32::from_le_bytes([golden[8], golden[9], golden[10], golden[11]]) as usize;
    assert_eq!(golden.len(), 16 + len);
    // Payload is plain roaring portable format: roaring-rs reads it.
    let theirs = roaring::RoaringBitmap::deserialize_from(&golden[16..]).expect("portable");
    assert_eq!(theirs.len(), 7);
}

#[test]
fn manifest_fixture() {
    let g = snapshot::GroupData {
        name: "gender".into(),
        kind: TagKind::Categorical,
        category: "demographics".into(),
        loaded_ds: "2026-11-20".into(),
        values: vec![
            ("female".into(), IdSet::from_sorted_iter((0..1000u32).filter(|x| x % 2 == 0))),
            ("male".into(), IdSet::from_sorted_iter((0..1000u32).filter(|x| x % 2 == 1))),
        ],
        numeric: None,
    };
    let built = snapshot::build_snapshot("demo", "2026-11-20", IdSet::full_range(1000), &[g], 64);
    let json = serde_json::to_string_pretty(&built.manifest).expect("serialise");
    check_or_bless("manifest_v1.json", json.as_bytes());
    let parsed = Manifest::from_json(&std::fs::read(fixture("manifest_v1.json")).expect("fixture")).expect("valid");
    assert_eq!(parsed, built.manifest);
    assert_eq!(parsed.groups[0].values[0].count, 500);
    // Every named blob exists and decodes to its declared count.
    for v in &parsed.groups[0].values {
        for r in [&v.full, &v.sample] {
            let bytes = &built.blobs[&r.blob];
            assert_eq!(blob::decode_addressed(bytes, &r.blob).expect("blob").len(), r.count);
            assert_eq!(bytes.len() as u64, r.bytes);
        }
    }
}

#[test]
fn manifest_rejects_damage() {
    let text = std::fs::read_to_string(fixture("manifest_v1.json")).expect("fixture");
    let bad_hash = text.replacen("\"blob\": \"", "\"blob\": \"zz", 1);
    assert!(Manifest::from_json(bad_hash.as_bytes()).is_err());
    let bad_ds = text.replace("2026-11-20", "2026-99-20");
    assert!(Manifest::from_json(bad_ds.as_bytes()).is_err());
    assert!(Manifest::from_json(b"{not json").is_err());
}

/// Numeric columns and event counts: the bit-sliced encoding (offset, one bitmap per bit, an
/// existence bitmap) is pinned by a golden manifest, whose blob addresses pin every slice's
/// bytes, and the slices are checked against hand-computed sets.
#[test]
fn bsi_fixture() {
    use engine::bsi::NumericColumn;
    // Ages 18, 25, 40, 18 → stored from offset 18 as 0, 7 (0b111), 22 (0b10110), 0.
    let age = NumericColumn::from_scaled(0, vec![(0, 18), (1, 25), (2, 40), (3, 18)]);
    // Spend 129.50 and 0.05 at two decimals → 12950 and 5, stored from 5 as 12945 and 0.
    let spend = NumericColumn::from_scaled(2, vec![(1, 12_950), (4, 5)]);
    let group = |name: &str, col: NumericColumn| snapshot::GroupData {
        name: name.into(),
        kind: TagKind::Numeric,
        category: "numbers".into(),
        loaded_ds: "2026-11-20".into(),
        values: Vec::new(),
        numeric: Some(col),
    };
    let mut built = snapshot::build_snapshot(
        "demo",
        "2026-11-20",
        IdSet::full_range(5),
        &[group("age", age), group("spend", spend)],
        1,
    );
    let sample = engine::sample::SampleMap::new(&IdSet::full_range(5), 1);
    // Purchases: user 0 three times, user 2 once, user 3 zero times (left out).
    let purchase = snapshot::build_event(
        "purchase",
        engine::bsi::Bsi::from_pairs(vec![(0, 3), (2, 1), (3, 0)]),
        &sample,
        &mut built.blobs,
    );
    built.manifest.events.push(purchase);
    let json = serde_json::to_string_pretty(&built.manifest).expect("serialise");
    check_or_bless("manifest_v1_bsi.json", json.as_bytes());
    let parsed = Manifest::from_json(&std::fs::read(fixture("manifest_v1_bsi.json")).expect("fixture")).expect("valid");
    assert_eq!(parsed, built.manifest);

    let decode = |r: &engine::manifest::BlobRef| -> Vec<u32> {
        blob::decode_addressed(&built.blobs[&r.blob], &r.blob).expect("blob").iter().collect()
    };
    let age = parsed.group("age").and_then(|g| g.numeric.as_ref()).expect("numeric age");
    assert_eq!((age.scale, age.offset, age.min, age.max), (0, 18, 18, 40));
    assert_eq!(decode(&age.bsi.exists.full), [0, 1, 2, 3]);
    let slices: Vec<Vec<u32>> = age.bsi.slices.iter().map(|s| decode(&s.full)).collect();
    assert_eq!(slices, [vec![1], vec![1, 2], vec![1, 2], vec![], vec![2]]);
    let spend = parsed.group("spend").and_then(|g| g.numeric.as_ref()).expect("numeric spend");
    assert_eq!((spend.scale, spend.offset, spend.max), (2, 5, 12_950));
    // 12945 = 0b11_0010_1001_0001: bits 0, 4, 7, 9, 12, 13.
    let set_bits: Vec<usize> =
        (0..spend.bsi.slices.len()).filter(|&b| decode(&spend.bsi.slices[b].full) == [1]).collect();
    assert_eq!(set_bits, [0, 4, 7, 9, 12, 13]);
    let purchase = parsed.event("purchase").expect("event");
    assert_eq!((purchase.users, purchase.total), (2, 4));
    assert_eq!(decode(&purchase.bsi.exists.full), [0, 2]);
    assert_eq!(purchase.bsi.slices.iter().map(|s| decode(&s.full)).collect::<Vec<_>>(), [vec![0, 2], vec![0]]);
}
