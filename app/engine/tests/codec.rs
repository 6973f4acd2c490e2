//! The bitmap and blob codecs: agreement with roaring-rs (a second implementation) in both
//! directions, checked rejection of damaged bytes, and no panic on any input.

use engine::{FormatError, IdSet, blob, portable};
use proptest::prelude::*;
use roaring::RoaringBitmap;

/// Sets that exercise arrays, bitsets, runs and several chunks.
fn ids() -> impl Strategy<Value = Vec<u32>> {
    prop_oneof![
        prop::collection::vec(0u32..300_000, 0..2_000),
        (0u32..200_000, 1u32..140_000).prop_map(|(start, len)| (start..start + len).collect()),
        (0u32..4, 0.0f64..1.0).prop_map(|(chunk, density)| {
            let step = (1.0 / density.max(0.01)) as u32;
            (chunk << 16..(chunk + 1) << 16).step_by(step.max(1) as usize).collect()
        }),
        prop::collection::vec(any::<u32>(), 0..300),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn our_bytes_read_by_roaring_rs(ids in ids()) {
        let expected: RoaringBitmap = ids.iter().copied().collect();
        // Arrays and bitsets, then with runs kept in memory wherever they are smaller.
        let plain = IdSet::from_unsorted(ids);
        for set in [plain.clone(), plain.with_runs()] {
            let bytes = portable::encode(&set);
            let theirs = RoaringBitmap::deserialize_from(&bytes[..]).expect("roaring-rs reads our bytes");
            prop_assert_eq!(&theirs, &expected);
        }
    }

    #[test]
    fn roaring_rs_bytes_read_by_us(ids in ids(), optimize in any::<bool>()) {
        let mut theirs: RoaringBitmap = ids.iter().copied().collect();
        if optimize {
            theirs.optimize(); // run containers where they are smaller
        }
        let mut bytes = Vec::new();
        theirs.serialize_into(&mut bytes).expect("in-memory write");
        let ours = portable::decode(&bytes).expect("we read roaring-rs bytes");
        prop_assert_eq!(ours.iter().collect::<Vec<_>>(), theirs.iter().collect::<Vec<_>>());
        prop_assert_eq!(ours.len(), theirs.len());
    }

    #[test]
    fn blob_round_trip(ids in ids()) {
        let set = IdSet::from_unsorted(ids);
        let bytes = blob::encode(&set);
        prop_assert_eq!(blob::decode(&bytes).expect("round trip"), set.clone());
        prop_assert_eq!(blob::decode_addressed(&bytes, &blob::hash(&bytes)).expect("address"), set);
    }

    #[test]
    fn damaged_blobs_are_refused_not_panicked(ids in ids(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let bytes = blob::encode(&IdSet::from_unsorted(ids));
        let cut_at = cut.index(bytes.len());
        prop_assert!(blob::decode(&bytes[..cut_at]).is_err());
        let mut flipped = bytes.clone();
        let i = flip.index(flipped.len());
        flipped[i] ^= 1 << bit;
        prop_assert!(blob::decode(&flipped).is_err(), "a flipped bit at byte {} must be caught", i);
    }

    /// Untrusted portable bytes: whatever we accept, roaring-rs accepts with the same ids;
    /// and nothing panics.
    #[test]
    fn arbitrary_portable_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600), ids in ids(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let _ = portable::decode(&bytes);
        let mut valid = portable::encode(&IdSet::from_unsorted(ids));
        let i = flip.index(valid.len());
        valid[i] ^= 1 << bit;
        if let Ok(ours) = portable::decode(&valid) {
            let theirs = RoaringBitmap::deserialize_from(&valid[..]).expect("what we accept is valid");
            prop_assert_eq!(ours.iter().collect::<Vec<_>>(), theirs.iter().collect::<Vec<_>>());
        }
    }
}

/// The universe is one run a chunk in memory; a one-id last chunk is smaller on the wire as an
/// array, and every size must still write what roaring-rs reads as `0..n`.
#[test]
fn full_ranges_read_by_roaring_rs() {
    for n in [1u32, 2, 4_096, 65_536, 65_537, 65_538, 200_000] {
        let bytes = portable::encode(&IdSet::full_range(n));
        let theirs = RoaringBitmap::deserialize_from(&bytes[..]).expect("roaring-rs reads our bytes");
        assert_eq!(theirs, (0..n).collect::<RoaringBitmap>(), "0..{n}");
        assert_eq!(portable::decode(&bytes).expect("we read it back"), IdSet::full_range(n), "0..{n}");
    }
}

#[test]
fn typed_errors_name_both_sides() {
    let mut bytes = blob::encode(&IdSet::from_sorted(&[1, 2, 3]));
    bytes[4] = 9;
    assert_eq!(blob::decode(&bytes), Err(FormatError::IncompatibleVersion { found: 9, supported: 1 }));
    assert_eq!(blob::decode(b"PNG\x89 not a blob"), Err(FormatError::BadMagic { expected: "Sieve blob" }));
    assert!(matches!(blob::decode(b"SVBL"), Err(FormatError::Truncated { needed: 16, got: 4 })));
    let good = blob::encode(&IdSet::from_sorted(&[1]));
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(blob::decode(&longer), Err(FormatError::TrailingBytes { extra: 1 }));
    assert!(matches!(blob::decode_addressed(&good, &"0".repeat(64)), Err(FormatError::HashMismatch { .. })));
}

#[test]
fn portable_rejects_inconsistent_headers() {
    // Two containers with the same key.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&12346u32.to_le_bytes());
    bytes.extend_from_slice(&2u32.to_le_bytes());
    for _ in 0..2 {
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
    }
    bytes.extend_from_slice(&24u32.to_le_bytes());
    bytes.extend_from_slice(&26u32.to_le_bytes());
    bytes.extend_from_slice(&5u16.to_le_bytes());
    bytes.extend_from_slice(&6u16.to_le_bytes());
    assert!(matches!(portable::decode(&bytes), Err(FormatError::Malformed(m)) if m.contains("strictly increasing")));
    // A container count no 32-bit id space can hold.
    let mut huge = 12346u32.to_le_bytes().to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(portable::decode(&huge).is_err());
}

proptest! {
    #[test]
    fn set_sizes_match_a_naive_count(a in ids(), b in ids()) {
        let (sa, sb) = (IdSet::from_unsorted(a.clone()), IdSet::from_unsorted(b.clone()));
        let na: std::collections::BTreeSet<u32> = a.into_iter().collect();
        let nb: std::collections::BTreeSet<u32> = b.into_iter().collect();
        prop_assert_eq!(sa.intersection_len(&sb), na.intersection(&nb).count() as u64);
        prop_assert_eq!(sa.difference_len(&sb), na.difference(&nb).count() as u64);
    }
}
