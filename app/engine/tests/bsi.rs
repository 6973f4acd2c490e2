//! Bit-sliced columns: every stored value reads back exactly, through the blob codec too,
//! and decimal text converts exactly.

use engine::bsi::{Bsi, NumericColumn, format_scaled, parse_scaled};
use proptest::prelude::*;
use std::collections::BTreeMap;

proptest! {
    #[test]
    fn values_read_back(pairs in prop::collection::vec((0u32..200_000, any::<u64>()), 0..400)) {
        let b = Bsi::from_pairs(pairs.clone());
        // Oracle: the last value per user wins.
        let expected: BTreeMap<u32, u64> = pairs.into_iter().collect();
        prop_assert_eq!(b.exists().len(), expected.len() as u64);
        for (&id, &v) in &expected {
            prop_assert_eq!(b.value(id), Some(v));
        }
        prop_assert_eq!(b.value(200_001), None);
        // Through blobs and back.
        let decoded = Bsi::from_parts(
            engine::blob::decode(&engine::blob::encode(b.exists())).expect("codec"),
            b.slices().iter().map(|s| engine::blob::decode(&engine::blob::encode(s)).expect("codec")).collect(),
        );
        prop_assert_eq!(decoded, b);
    }

    #[test]
    fn scaled_numbers_round_trip(v in -1_000_000_000i64..1_000_000_000, scale in 0u32..5) {
        let text = format_scaled(v, scale);
        prop_assert_eq!(parse_scaled(&text, scale), Ok(v));
    }

    #[test]
    fn numeric_columns_keep_signed_values(pairs in prop::collection::vec((0u32..5_000, -100_000i64..100_000), 1..200)) {
        let col = NumericColumn::from_scaled(2, pairs.clone());
        let expected: BTreeMap<u32, i64> = pairs.into_iter().collect();
        for (&id, &v) in &expected {
            prop_assert_eq!(col.scaled_value(id), Some(v));
        }
    }

    #[test]
    fn number_parsing_never_panics(s in ".{0,40}", scale in 0u32..7) {
        let _ = parse_scaled(&s, scale);
    }
}

#[test]
fn parsing_rejects_what_it_should() {
    for bad in ["", "-", ".", "1.2.3", "1e5", "abc", "12 3", "--1", "0x10"] {
        assert!(parse_scaled(bad, 2).is_err(), "{bad:?} must be refused");
    }
    assert_eq!(parse_scaled("129.5", 2), Ok(12950));
    assert_eq!(parse_scaled(".5", 1), Ok(5));
    assert_eq!(parse_scaled("7.", 0), Ok(7));
    assert_eq!(parse_scaled("1.230", 2), Ok(123), "trailing zeros are not extra precision");
    assert!(parse_scaled("1.234", 2).is_err());
    assert!(parse_scaled("99999999999999999999", 0).is_err());
}

use engine::IdSet;
use engine::bsi::Cmp;

fn cmp_holds(cmp: Cmp, v: u64, c: u64) -> bool {
    match cmp {
        Cmp::Gt => v > c,
        Cmp::Ge => v >= c,
        Cmp::Eq => v == c,
        Cmp::Ne => v != c,
        Cmp::Lt => v < c,
        Cmp::Le => v <= c,
    }
}

fn column() -> impl Strategy<Value = Vec<(u32, u64)>> {
    prop::collection::vec((0u32..150_000, prop_oneof![0u64..20, 0u64..5_000, any::<u64>()]), 0..300)
}

proptest! {
    /// Every comparator equals a naive scan of the values (the oracle), for constants inside,
    /// at and beyond the stored range.
    #[test]
    fn comparisons_match_a_naive_scan(pairs in column(), c in prop_oneof![0u64..30, 0u64..6_000, any::<u64>()]) {
        let b = Bsi::from_pairs(pairs.clone());
        let values: BTreeMap<u32, u64> = pairs.into_iter().collect();
        for cmp in [Cmp::Gt, Cmp::Ge, Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le] {
            let expected: Vec<u32> = values.iter().filter(|(_, v)| cmp_holds(cmp, **v, c)).map(|(id, _)| *id).collect();
            prop_assert_eq!(b.compare(cmp, c).iter().collect::<Vec<_>>(), expected, "{:?} {}", cmp, c);
        }
        let (lo, hi) = (c / 2, c);
        let expected: Vec<u32> = values.iter().filter(|(_, v)| (lo..=hi).contains(*v)).map(|(id, _)| *id).collect();
        prop_assert_eq!(b.between(lo, hi).iter().collect::<Vec<_>>(), expected);
    }

    /// Summing daily columns (a window) equals summing the values per user.
    #[test]
    fn window_sums_match(days in prop::collection::vec(prop::collection::vec((0u32..100_000, 0u64..50), 0..200), 1..8)) {
        let mut expected: BTreeMap<u32, u64> = BTreeMap::new();
        let mut active: BTreeMap<u32, u64> = BTreeMap::new();
        let mut sum = Bsi::default();
        let mut day_count = Bsi::default();
        for day in &days {
            let b = Bsi::from_pairs(day.clone());
            let per_day: BTreeMap<u32, u64> = day.iter().copied().collect();
            for (id, v) in &per_day {
                *expected.entry(*id).or_default() += v;
                *active.entry(*id).or_default() += 1;
            }
            sum = sum.add(&b);
            day_count = day_count.add(&Bsi::indicator(b.exists()));
        }
        for (id, v) in &expected {
            prop_assert_eq!(sum.value(*id), Some(*v));
            prop_assert_eq!(day_count.value(*id), active.get(id).copied());
        }
        prop_assert_eq!(sum.exists().len(), expected.len() as u64);
    }

    #[test]
    fn set_operations_match(a in prop::collection::btree_set(0u32..200_000, 0..500), b in prop::collection::btree_set(0u32..200_000, 0..500)) {
        let (sa, sb) = (IdSet::from_sorted_iter(a.iter().copied()), IdSet::from_sorted_iter(b.iter().copied()));
        prop_assert_eq!(sa.and(&sb).iter().collect::<Vec<_>>(), a.intersection(&b).copied().collect::<Vec<_>>());
        prop_assert_eq!(sa.or(&sb).iter().collect::<Vec<_>>(), a.union(&b).copied().collect::<Vec<_>>());
        prop_assert_eq!(sa.and_not(&sb).iter().collect::<Vec<_>>(), a.difference(&b).copied().collect::<Vec<_>>());
        prop_assert_eq!(sa.xor(&sb).iter().collect::<Vec<_>>(), a.symmetric_difference(&b).copied().collect::<Vec<_>>());
    }
}
