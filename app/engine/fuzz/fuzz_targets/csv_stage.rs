//! Untrusted upload bytes through staging (CSV parsing, dictionary mapping, value checks) for
//! every kind of upload: never a panic; a success accounts for every row and user it read.
#![no_main]

use engine::TagKind;
use libfuzzer_sys::fuzz_target;
use server::ingest::{AppDict, StagedData, Upload, stage};

fuzz_target!(|data: &[u8]| {
    let dict = AppDict::from_ids(vec!["known-1".into(), "known-2".into()]);
    let uploads = [
        Upload::Tag { group: "g".into(), kind: TagKind::Categorical, category: String::new(), scale: 0 },
        Upload::Tag { group: "b".into(), kind: TagKind::Boolean, category: String::new(), scale: 0 },
        Upload::Tag { group: "n".into(), kind: TagKind::Numeric, category: String::new(), scale: 2 },
        Upload::Event { name: "visit".into() },
    ];
    for upload in &uploads {
        if let Ok(staged) = stage(data, upload, &dict) {
            assert!(staged.users <= staged.rows);
            assert_eq!(staged.first_new_id, 2);
            let listed = match &staged.data {
                StagedData::Values(v) => v.iter().map(|(_, ids)| ids.len() as u64).sum::<u64>(),
                StagedData::Numbers(v) => v.len() as u64,
                StagedData::Counts(v) => v.len() as u64,
            };
            assert_eq!(listed, staged.rows, "every row lands somewhere");
        }
    }
});
