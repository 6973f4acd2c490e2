//! Warehouse bitmaps (`engine::warehouse`): every set round-trips through the ClickHouse state
//! and the portable format; 64-bit layouts are refused as such; cut, lengthened or arbitrary
//! bytes are refused, never panicked on. `clickhouse.rs` checks the same against real ClickHouse.

use engine::error::Bitmap64;
use engine::warehouse::{BitmapEncoding, SMALL_SET_MAX, decode_bitmap, encode_clickhouse_state};
use engine::{BitmapError, IdSet, portable};
use proptest::prelude::*;
use roaring::{RoaringBitmap, RoaringTreemap};

/// Sets around the small/large boundary, dense ranges, sparse sets and ids near `u32::MAX`.
fn ids() -> impl Strategy<Value = Vec<u32>> {
    prop_oneof![
        prop::collection::vec(any::<u32>(), 0..=40),
        prop::collection::vec(0u32..300_000, 0..2_000),
        (0u32..200_000, 1u32..140_000).prop_map(|(start, len)| (start..start + len).collect()),
        prop::collection::vec(u32::MAX - 100_000.., 0..500),
    ]
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value > 0x7f {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

fn treemap_bytes(ids: &[u64]) -> Vec<u8> {
    let treemap: RoaringTreemap = ids.iter().copied().collect();
    let mut bytes = Vec::new();
    treemap.serialize_into(&mut bytes).expect("in-memory write");
    bytes
}

/// Every valid encoding of a set that the tests cut and lengthen.
fn encodings(set: &IdSet) -> Vec<Vec<u8>> {
    vec![encode_clickhouse_state(set), portable::encode(set)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn clickhouse_state_round_trip(ids in ids()) {
        let set = IdSet::from_unsorted(ids);
        let (back, encoding) = decode_bitmap(&encode_clickhouse_state(&set)).expect("our state decodes");
        let small = set.len() <= SMALL_SET_MAX as u64;
        prop_assert_eq!(encoding, if small { BitmapEncoding::ClickHouseSmall } else { BitmapEncoding::ClickHouseLarge });
        prop_assert_eq!(back, set);
    }

    #[test]
    fn portable_round_trip(ids in ids(), optimize in any::<bool>()) {
        let set = IdSet::from_unsorted(ids.clone());
        prop_assert_eq!(decode_bitmap(&portable::encode(&set)).expect("ours"), (set.clone(), BitmapEncoding::Portable));
        let mut theirs: RoaringBitmap = ids.into_iter().collect();
        if optimize {
            theirs.optimize();
        }
        let mut bytes = Vec::new();
        theirs.serialize_into(&mut bytes).expect("in-memory write");
        prop_assert_eq!(decode_bitmap(&bytes).expect("roaring-rs"), (set, BitmapEncoding::Portable));
    }

    /// ClickHouse writes its small set in hash-table order: any order of distinct ids is read.
    #[test]
    fn small_sets_in_any_order(ids in prop::collection::btree_set(any::<u32>(), 0..=SMALL_SET_MAX), seed in any::<u64>()) {
        let mut order: Vec<u32> = ids.iter().copied().collect();
        // A cheap deterministic shuffle.
        order.sort_by_key(|id| (u64::from(*id) ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut state = vec![0u8];
        state.extend(varint(order.len() as u64));
        order.iter().for_each(|id| state.extend_from_slice(&id.to_le_bytes()));
        let (set, encoding) = decode_bitmap(&state).expect("a small set");
        prop_assert_eq!(encoding, BitmapEncoding::ClickHouseSmall);
        prop_assert!(set.iter().eq(ids.iter().copied()));
    }

    #[test]
    fn cut_or_lengthened_encodings_are_refused(ids in ids(), cut in any::<prop::sample::Index>(), extra in prop::collection::vec(any::<u8>(), 1..16)) {
        for bytes in encodings(&IdSet::from_unsorted(ids)) {
            prop_assert!(decode_bitmap(&bytes[..cut.index(bytes.len())]).is_err());
            let mut longer = bytes.clone();
            longer.extend_from_slice(&extra);
            prop_assert!(decode_bitmap(&longer).is_err());
        }
    }

    #[test]
    fn uint64_layouts_are_refused_as_64_bit(ids in prop::collection::vec(any::<u64>(), 0..300), low in any::<bool>()) {
        let ids: Vec<u64> = if low { ids.iter().map(|id| id & 0xffff_ffff).collect() } else { ids };
        let treemap = treemap_bytes(&ids);
        prop_assert_eq!(decode_bitmap(&treemap), Err(BitmapError::SixtyFourBit(Bitmap64::Portable)));

        let mut large = vec![1u8];
        large.extend(varint(treemap.len() as u64));
        large.extend_from_slice(&treemap);
        prop_assert_eq!(decode_bitmap(&large), Err(BitmapError::SixtyFourBit(Bitmap64::ClickHouseLarge)));

        let distinct: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
        if (1..=SMALL_SET_MAX).contains(&distinct.len()) {
            let mut small = vec![0u8];
            small.extend(varint(distinct.len() as u64));
            distinct.iter().for_each(|id| small.extend_from_slice(&id.to_le_bytes()));
            prop_assert_eq!(decode_bitmap(&small), Err(BitmapError::SixtyFourBit(Bitmap64::ClickHouseSmall)));
        }
    }

    /// Arbitrary bytes, and bytes that start like each format so the reader gets past the first
    /// check: never a panic, and whatever is accepted re-encodes to the same set.
    #[test]
    fn arbitrary_bytes(head in prop_oneof![Just(vec![]), Just(vec![0]), Just(vec![1]), Just(vec![0x3a, 0x30]), Just(vec![0x3b, 0x30])],
                       tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = head;
        bytes.extend(tail);
        if let Ok((set, _)) = decode_bitmap(&bytes) {
            prop_assert_eq!(&decode_bitmap(&encode_clickhouse_state(&set)).expect("re-encoded").0, &set);
            prop_assert_eq!(decode_bitmap(&portable::encode(&set)).expect("re-encoded").0, set);
        }
    }
}

/// Each prefix of a small and a large state, one byte at a time.
#[test]
fn every_prefix_is_refused() {
    for set in [
        IdSet::from_sorted(&[1, 2, u32::MAX]),
        IdSet::full_range(1000),
        IdSet::from_sorted_iter((0..50).map(|i| i * 70_000)),
    ] {
        for bytes in encodings(&set) {
            for cut in 0..bytes.len() {
                assert!(decode_bitmap(&bytes[..cut]).is_err(), "{cut} of {} bytes accepted", bytes.len());
            }
        }
    }
}

/// The `warehouse_decode` fuzz seeds, most of them ClickHouse's own bytes, decode (or are
/// refused) as their names say.
#[test]
fn fuzz_seeds_decode_as_named() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/warehouse_decode");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the seed folder") {
        let path = entry.expect("a seed").path();
        let name = path.file_stem().and_then(|n| n.to_str()).expect("a name").to_owned();
        let bytes = std::fs::read(&path).expect("read a seed");
        let result = decode_bitmap(&bytes);
        match name.as_str() {
            "ch32_empty" => assert_eq!(result, Ok((IdSet::new(), BitmapEncoding::ClickHouseSmall))),
            "ch32_small" => {
                assert_eq!(result, Ok((IdSet::from_sorted(&[1, 3, 5, u32::MAX]), BitmapEncoding::ClickHouseSmall)))
            }
            "ch32_small_32" => {
                let set = IdSet::from_sorted_iter((0..32).map(|i| i * 7919));
                assert_eq!(result, Ok((set, BitmapEncoding::ClickHouseSmall)));
            }
            "ch32_large_runs" => assert_eq!(result, Ok((IdSet::full_range(33), BitmapEncoding::ClickHouseLarge))),
            "ch32_large_arrays" => {
                let set = IdSet::from_sorted_iter((0..40).map(|i| i * 100_000));
                assert_eq!(result, Ok((set, BitmapEncoding::ClickHouseLarge)));
            }
            "ch32_large_bitset" => {
                let set = IdSet::from_sorted_iter((0..10_000).map(|i| i * 3));
                assert_eq!(result, Ok((set, BitmapEncoding::ClickHouseLarge)));
            }
            "ch64_small" => assert_eq!(result, Err(BitmapError::SixtyFourBit(Bitmap64::ClickHouseSmall))),
            "ch64_large" => assert_eq!(result, Err(BitmapError::SixtyFourBit(Bitmap64::ClickHouseLarge))),
            "portable64" => assert_eq!(result, Err(BitmapError::SixtyFourBit(Bitmap64::Portable))),
            "portable_array" | "portable_spec_runs" => {
                assert_eq!(result.map(|(_, e)| e), Ok(BitmapEncoding::Portable), "{name}")
            }
            "small_40_ids" => assert!(matches!(result, Err(BitmapError::SmallSetTooLarge { declared: 40, .. }))),
            "small_duplicate" => assert_eq!(result, Err(BitmapError::SmallSetDuplicate(5))),
            "small_overlong_count" => assert!(matches!(result, Err(BitmapError::Varint { .. })), "{result:?}"),
            "large_truncated" => assert!(matches!(result, Err(BitmapError::LargeStateLength { .. })), "{result:?}"),
            "json" => assert!(matches!(result, Err(BitmapError::NotABitmap { .. }))),
            // Inputs a direct `cargo fuzz run` adds (named by their hash) are not ours to check.
            _ => continue,
        }
        seen += 1;
    }
    assert_eq!(seen, 16, "every named seed is there");
}
