//! The A/B assignment pinned by golden vectors: for 320 (salt, user id) pairs, the two hashes
//! and the group of three plans, as `examples/split_vectors.rs` wrote them once into
//! `tests/fixtures/split_v1.tsv`. Other services assign users by the same hashes and rely on
//! groups never moving, so a change to the hash, to its input bytes or to how groups are
//! picked fails here. The fixture is never regenerated to make this test pass.

mod split_vectors;

use engine::split::{Group, Split};
use split_vectors::{PLANS, SALTS, hash53, users};

const FIXTURE: &str = include_str!("fixtures/split_v1.tsv");

#[test]
fn assignments_never_move() {
    let mut lines = FIXTURE.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let plan_names: Vec<&str> = PLANS.iter().map(|(n, _)| *n).collect();
    assert_eq!(header[..4], ["salt", "user_id", "exposure", "group"]);
    assert_eq!(header[4..], plan_names[..], "the fixture's plans are the ones pinned here");
    let mut rows = 0;
    let mut exposed = vec![0usize; PLANS.len()];
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4 + PLANS.len(), "{line}");
        let (salt, user) = (cols[0], cols[1]);
        // The documented hashes, computed apart from the engine.
        assert_eq!(cols[2].parse::<u64>(), Ok(hash53(salt, "exposure", user)), "exposure of {user:?} with {salt:?}");
        assert_eq!(cols[3].parse::<u64>(), Ok(hash53(salt, "group", user)), "group hash of {user:?} with {salt:?}");
        // The engine's assignment.
        for (p, (_, groups)) in PLANS.iter().enumerate() {
            let groups = groups.iter().map(|(n, pct)| Group { name: (*n).into(), percent: *pct }).collect();
            let split = Split::new(salt, groups).expect("valid plan");
            let got = split.assign(user).map_or("-", |g| split.groups()[g].name.as_str());
            assert_eq!(got, cols[4 + p], "{user:?} with salt {salt:?} in plan {}", PLANS[p].0);
            exposed[p] += usize::from(got != "-");
        }
        rows += 1;
    }
    assert_eq!(rows, SALTS.len() * users().len(), "every pair is in the fixture");
    assert!(rows >= 300);
    // The fixture exercises both sides of every plan's exposure (sanity of the vectors).
    assert_eq!(exposed[0], rows, "a 100% plan exposes everyone");
    assert!(exposed.iter().skip(1).all(|&e| e > 0 && e < rows), "{exposed:?}");
}
