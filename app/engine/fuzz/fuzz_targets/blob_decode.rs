//! Untrusted blob bytes: decoding never panics, and whatever decodes re-encodes to bytes that
//! decode to the same set (decode → encode → decode).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = engine::blob::decode(data) {
        let again = engine::blob::decode(&engine::blob::encode(&set)).expect("our own encoding decodes");
        assert_eq!(again, set);
    }
});
