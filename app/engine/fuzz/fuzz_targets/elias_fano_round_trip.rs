//! Elias–Fano (blob payload encoding 1) against a sorted-`Vec` oracle: any list of ids, scaled
//! into a universe chosen by the first byte (so dense, sparse and top-of-range sets all occur),
//! encodes and decodes to the oracle's ids, alone and inside a blob; and the same bytes read as
//! an untrusted payload never panic, and what they decode to encodes and decodes back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = engine::elias_fano::decode(data) {
        let again = engine::elias_fano::encode(&set).expect("decoded sets are not empty");
        assert_eq!(engine::elias_fano::decode(&again).expect("our own encoding decodes"), set);
    }
    let Some((&shift, rest)) = data.split_first() else { return };
    let mut oracle: Vec<u32> = rest
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) >> (shift % 32))
        .map(|id| if shift & 0x80 != 0 { !id } else { id })
        .collect();
    let set = engine::IdSet::from_unsorted(oracle.clone());
    oracle.sort_unstable();
    oracle.dedup();
    match engine::elias_fano::encode(&set) {
        None => assert!(oracle.is_empty()),
        Some(bytes) => {
            assert_eq!(Some(bytes.len()), engine::elias_fano::encoded_len(&set));
            let back = engine::elias_fano::decode(&bytes).expect("round trip");
            assert_eq!(back.iter().collect::<Vec<_>>(), oracle);
        }
    }
    let blob = engine::blob::decode(&engine::blob::encode(&set)).expect("blob round trip");
    assert_eq!(blob.iter().collect::<Vec<_>>(), oracle);
});
