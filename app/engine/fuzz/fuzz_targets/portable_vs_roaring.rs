//! Our checked portable-format reader against roaring-rs (a second implementation): whatever we
//! accept, roaring-rs accepts and reads as the same ids; we never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ours) = engine::portable::decode(data) {
        let theirs = roaring::RoaringBitmap::deserialize_from(data).expect("what we accept is valid portable format");
        assert!(ours.iter().eq(theirs.iter()), "same ids");
        let back = engine::portable::decode(&engine::portable::encode(&ours)).expect("round trip");
        assert_eq!(back, ours);
    }
});
