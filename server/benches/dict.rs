//! The dictionary workload on the metadata store (redb): appending a day's new users in one
//! transaction, point lookups (`/user/tags`, member uploads), loading a whole dictionary (first
//! upload after a restart). `cargo bench -p server --bench dict` prints rates for BENCHMARKS.md.
//! `SIEVE_DICT_USERS` sets the size (default 1,000,000).

use std::time::Instant;

use server::store::{Meta, Publish};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Without `--bench` (`cargo test --all-targets`), a small run checks the code path only.
    let default_users = if std::env::args().any(|a| a == "--bench") { 1_000_000 } else { 10_000 };
    let users: u32 = std::env::var("SIEVE_DICT_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(default_users);
    let dir = tempfile::tempdir()?;
    let meta = Meta::open(&dir.path().join("meta.redb"))?;
    let ids: Vec<String> =
        (0..users).map(|i| format!("u{:010}", u64::from(i).wrapping_mul(2_654_435_761) % 10_000_000_000)).collect();

    let t = Instant::now();
    meta.publish(&Publish { app: "a", first_new_id: 0, new_ids: &ids, ..Publish::default() })?;
    let insert = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut found = 0u64;
    let mut x: u64 = 1;
    for _ in 0..users {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let i = (x >> 33) as usize % ids.len();
        found += u64::from(meta.dict_lookup("a", &ids[i])?.is_some());
    }
    let lookup = t.elapsed().as_secs_f64();
    assert_eq!(found, u64::from(users));

    let t = Instant::now();
    let loaded = meta.dict_load("a")?;
    let load = t.elapsed().as_secs_f64();
    assert_eq!(loaded.len(), ids.len());

    let size = std::fs::metadata(dir.path().join("meta.redb"))?.len();
    println!("| users | append (one txn) | point lookups | load all | file |");
    println!("|---|---|---|---|---|");
    println!(
        "| {users} | {:.2} s ({:.0} ids/s) | {:.2} µs each ({:.0}/s, 1 thread) | {:.2} s ({:.0} ids/s) | {:.0} MiB |",
        insert,
        f64::from(users) / insert,
        lookup * 1e6 / f64::from(users),
        f64::from(users) / lookup,
        load,
        f64::from(users) / load,
        size as f64 / (1 << 20) as f64
    );
    Ok(())
}
