//! Untrusted upload bytes through staging (CSV parsing, id mapping, value checks, bitmap rows)
//! for every kind of upload and both kinds of app: never a panic; a success accounts for every
//! row and user it read.
#![no_main]

use engine::{IdSet, TagKind};
use libfuzzer_sys::fuzz_target;
use server::ids::{AppDict, AppIds, NewUsers};
use server::ingest::{StagedData, Upload, bitmaps, stage};

fuzz_target!(|data: &[u8]| {
    let strings = AppIds::Strings(AppDict::from_ids(vec!["known-1".into(), "known-2".into()]));
    let numbers = AppIds::U32(IdSet::from_sorted(&[1, 2]));
    let uploads = [
        Upload::Tag { group: "g".into(), kind: TagKind::Categorical, category: String::new(), scale: 0 },
        Upload::Tag { group: "b".into(), kind: TagKind::Boolean, category: String::new(), scale: 0 },
        Upload::Tag { group: "n".into(), kind: TagKind::Numeric, category: String::new(), scale: 2 },
        Upload::Event { name: "visit".into() },
    ];
    for upload in &uploads {
        for ids in [&strings, &numbers] {
            if let Ok(staged) = stage(data, upload, ids) {
                assert!(staged.users <= staged.rows);
                if let NewUsers::Strings { first, .. } = &staged.new_users {
                    assert_eq!(*first, 2);
                }
                let listed = match &staged.data {
                    StagedData::Values(v) => v.iter().map(|(_, ids)| ids.len() as u64).sum::<u64>(),
                    StagedData::Numbers(v) => v.len() as u64,
                    StagedData::Counts(v) => v.len() as u64,
                    other => panic!("a CSV upload staged as {other:?}"),
                };
                assert_eq!(listed, staged.rows, "every row lands somewhere");
            }
        }
        // The same bytes as a bitmap upload (value,bitmap rows): never a panic, and a success
        // names no more users than its sets hold.
        if let Ok(staged) = bitmaps::stage(data, upload, &numbers, 1 << 16) {
            if let NewUsers::U32(new) = &staged.new_users {
                assert!(new.len() <= staged.users);
            }
        }
    }
});
