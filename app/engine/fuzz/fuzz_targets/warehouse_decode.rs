//! Untrusted warehouse bitmap bytes (ClickHouse groupBitmap states, portable bitmaps, 64-bit
//! layouts to refuse): decoding never panics, and whatever is accepted re-encodes, as a
//! ClickHouse state and as a portable bitmap, to bytes that decode to the same set.
#![no_main]

use engine::warehouse::{BitmapEncoding, SMALL_SET_MAX, decode_bitmap, encode_clickhouse_state};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((set, encoding)) = decode_bitmap(data) {
        let state = encode_clickhouse_state(&set);
        assert_eq!(decode_bitmap(&state).expect("our state decodes").0, set);
        let portable = engine::portable::encode(&set);
        assert_eq!(
            decode_bitmap(&portable).expect("our portable bytes decode"),
            (set.clone(), BitmapEncoding::Portable)
        );
        if encoding == BitmapEncoding::ClickHouseSmall {
            // An accepted small set is canonical but for its order: minimal varint, no repeated
            // id, nothing after it, so ours (sorted) has exactly its length.
            assert!(set.len() <= SMALL_SET_MAX as u64);
            assert_eq!(state.len(), data.len());
        }
        if encoding == BitmapEncoding::Portable {
            let theirs =
                roaring::RoaringBitmap::deserialize_from(data).expect("what we accept is valid portable format");
            assert!(set.iter().eq(theirs.iter()), "same ids as roaring-rs");
        }
    }
});
