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
