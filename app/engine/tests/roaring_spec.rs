//! The roaring format specification's own test files (`bitmapwithruns.bin`,
//! `bitmapwithoutruns.bin`, written by CRoaring; shipped in the roaring 0.12.0 crate on
//! crates.io, copied to `tests/fixtures/roaring-spec/`): our strict portable reader accepts
//! both, reads the set the spec describes, agrees with roaring-rs, and refuses every truncation.
//! The same bytes seed the `portable_vs_roaring` and `blob_decode` fuzz corpora.

use std::path::PathBuf;

use engine::{IdSet, blob, portable};
use roaring::RoaringBitmap;

fn spec_file(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/roaring-spec").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The set both files hold (roaring-rs `tests/serialization.rs`, CRoaring `tests/format_portability_unit.c`):
/// 100 sparse ids, 100,000 multiples of 3, and one run of 100,000.
fn spec_ids() -> Vec<u32> {
    (0..100).map(|i| i * 1000).chain((100_000..200_000).map(|i| i * 3)).chain(700_000..800_000).collect()
}

/// A blob around an arbitrary payload (the layout of `engine::blob`, format version 1).
fn wrap_in_blob(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(blob::HEADER_BYTES + payload.len());
    out.extend_from_slice(&blob::MAGIC);
    out.extend_from_slice(&blob::FORMAT_VERSION.to_le_bytes());
    out.push(blob::ENCODING_ROARING);
    out.push(0);
    out.extend_from_slice(&u32::try_from(payload.len()).expect("small").to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn spec_files_decode_to_the_documented_set() {
    let expected = IdSet::from_sorted(&spec_ids());
    for name in ["bitmapwithoutruns.bin", "bitmapwithruns.bin"] {
        let bytes = spec_file(name);
        let ours = portable::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ours, expected, "{name}");
        assert_eq!(ours.len(), 200_100, "{name}");
        let theirs = RoaringBitmap::deserialize_from(&bytes[..]).expect("roaring-rs reads the spec file");
        assert!(ours.iter().eq(theirs.iter()), "{name}: same ids as roaring-rs");
        // Wrapped in our blob header, the spec payload is a valid blob of the same set.
        assert_eq!(blob::decode(&wrap_in_blob(&bytes)).expect("wrapped"), expected, "{name}");
    }
}

#[test]
fn our_encoding_of_the_spec_set_is_read_by_roaring_rs() {
    let set = IdSet::from_sorted(&spec_ids());
    let bytes = portable::encode(&set);
    let theirs = RoaringBitmap::deserialize_from(&bytes[..]).expect("roaring-rs reads ours");
    let mut expected: RoaringBitmap = spec_ids().into_iter().collect();
    expected.optimize();
    assert_eq!(theirs, expected);
    // The run container (700,000..800,000) is written as runs, like the with-runs spec file.
    assert!(bytes.len() < spec_file("bitmapwithoutruns.bin").len());
}

#[test]
fn every_truncation_of_a_spec_file_is_refused() {
    for name in ["bitmapwithoutruns.bin", "bitmapwithruns.bin"] {
        let bytes = spec_file(name);
        // Every cut in the headers, then every 97th byte of the containers.
        let cuts = (0..bytes.len().min(512)).chain((512..bytes.len()).step_by(97));
        for cut in cuts {
            assert!(portable::decode(&bytes[..cut]).is_err(), "{name} cut at {cut} was accepted");
        }
    }
}
