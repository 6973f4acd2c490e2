//! Writes the A/B assignment's golden vectors (`tests/fixtures/split_v1.tsv`) to stdout.
//!
//! Run once, when the assignment was designed; the file is committed and checked by
//! `tests/split_golden.rs`. Other services put users in the same groups by the same hashes, so
//! the assignment must never change: do not regenerate the file to make that test pass.
//!
//! ```text
//! cargo run -p engine --example split_vectors > app/engine/tests/fixtures/split_v1.tsv
//! ```
//!
//! Columns (tab-separated, one pair a line after the header): the salt, the user id, the two
//! 53-bit hash values of the assignment (`exposure`, `group`: the first 8 bytes of
//! BLAKE3(`salt ‖ 0x00 ‖ purpose ‖ 0x00 ‖ user_id`) as a little-endian u64, shifted right by
//! 11), then the group each plan of `PLANS` puts the user in (`-` when not exposed).

use engine::split::{Group, Split};

#[path = "../tests/split_vectors/mod.rs"]
mod split_vectors;

use split_vectors::{PLANS, SALTS, hash53, users};

fn main() {
    let names: Vec<&str> = PLANS.iter().map(|(n, _)| *n).collect();
    println!("salt\tuser_id\texposure\tgroup\t{}", names.join("\t"));
    for salt in SALTS {
        let plans: Vec<Split> = PLANS
            .iter()
            .map(|(_, groups)| {
                let groups = groups.iter().map(|(n, p)| Group { name: (*n).into(), percent: *p }).collect();
                Split::new(salt, groups).expect("valid plan")
            })
            .collect();
        for user in users() {
            let mut row = vec![
                salt.to_owned(),
                user.clone(),
                hash53(salt, "exposure", &user).to_string(),
                hash53(salt, "group", &user).to_string(),
            ];
            for plan in &plans {
                row.push(plan.assign(&user).map_or("-".to_owned(), |g| plan.groups()[g].name.clone()));
            }
            println!("{}", row.join("\t"));
        }
    }
}
