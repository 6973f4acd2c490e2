//! Untrusted manifest bytes (the snapshot's index, fetched by the browser and read back by the
//! server): parsing never panics, whatever parses passes its own checks, names only well-formed
//! blob addresses, builds a catalog, and round-trips (decode → encode → decode).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = engine::Manifest::from_json(data) {
        m.check().expect("from_json checked it");
        assert!(m.blob_hashes().iter().all(|h| engine::blob::is_hash(h)));
        let catalog = engine::Catalog::from_manifest(&m);
        assert_eq!(catalog.universe, m.universe.count);
        let again = engine::Manifest::from_json(m.to_json().as_bytes()).expect("our own encoding parses");
        assert_eq!(again, m);
    }
});
