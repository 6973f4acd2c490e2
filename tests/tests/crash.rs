//! Crash safety on the real binary: uploads, segment writes and readers run while the server is
//! killed with SIGKILL at a random moment; after a restart on the same data directory (under
//! 5 s) every acknowledged write is there, no write is half-present (each day holds one whole
//! upload, every listed segment reads back, no half-written temp or spooled file survives the
//! restart), and every read during the run saw one complete version (a manifest whose blobs
//! are all served intact, holding one whole upload). `SIEVE_CRASH_ROUNDS` sets the number of
//! kills (default 3; BENCHMARKS.md has a long local run).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sieve_tests::{Error, Http, Server};

const ADMIN: &str = "crash-admin";
const DAYS: [&str; 3] = ["2026-11-18", "2026-11-19", "2026-11-20"];

fn call(
    http: &Http,
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&[u8]>,
) -> Result<sieve_tests::Reply, Error> {
    let auth = format!("Bearer {token}");
    http.send(method, &format!("{base}{path}"), &[("authorization", auth.as_str())], body)
}

/// A group upload whose every row carries `round` and `n`, so the stored version is readable back.
fn upload_body(round: u32, n: u32) -> String {
    let mut s = String::from("user_id,value\n");
    for u in 0..200 {
        s.push_str(&format!("user{u},r{round}n{n}\n"));
    }
    s
}

#[derive(Debug, Default)]
struct Acks {
    /// (ds, n) of every acknowledged upload, in order per day.
    uploads: Vec<(String, u32)>,
    /// Every (ds, n) sent, acknowledged or not.
    sent: Vec<(String, u32)>,
    /// Segments whose create was acknowledged.
    segments: Vec<String>,
}

#[test]
fn acknowledged_writes_survive_sigkill() -> Result<(), Error> {
    crash_loop(&[])
}

/// The same loop on PostgreSQL and Garage, with a second replica: the reader reads through the
/// replica that is never killed, so it must see only whole versions while the other dies
/// mid-publish, and the dead replica's publish lock must not outlive it.
#[test]
fn acknowledged_writes_survive_sigkill_on_postgresql_and_object_storage() -> Result<(), Error> {
    let store = sieve_tests::services::shared()?.store("crash")?;
    crash_loop(&store.env)
}

/// `sieve serve` on `data` with the admin token and `env`.
fn start(dist: &std::path::Path, data: &std::path::Path, env: &[(String, String)]) -> Result<Server, Error> {
    let mut cmd = sieve_tests::sieve();
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--admin-token", ADMIN, "--dist"])
        .arg(dist)
        .arg("--data-dir")
        .arg(data)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Server::spawn(cmd)
}

/// Kills the writing server `SIEVE_CRASH_ROUNDS` times; with `env` (shared stores) a second
/// replica, never killed, serves the reads.
fn crash_loop(env: &[(String, String)]) -> Result<(), Error> {
    let rounds: u32 = std::env::var("SIEVE_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir()?;
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist)?;
    std::fs::write(dist.join("index.html"), "<!doctype html>")?;
    let data = dir.path().join("data");
    let http = Http::default();

    let mut server = start(&dist, &data, env)?;
    let survivor = if env.is_empty() { None } else { Some(start(&dist, &dir.path().join("data-b"), env)?) };
    let base = server.url("");
    call(&http, &base, "POST", "/api/v1/apps", ADMIN, Some(br#"{"id":"c","name":"c"}"#))?;
    let token =
        call(&http, &base, "POST", "/api/v1/apps/c/tokens", ADMIN, Some(br#"{"role":"editor"}"#))?.json()?["token"]
            .as_str()
            .ok_or("token")?
            .to_owned();

    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        seed >> 33
    };
    let acks = Arc::new(Mutex::new(Acks::default()));
    let bad_reads = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut slowest_restart = Duration::ZERO;
    for round in 0..rounds {
        let base = server.url("");
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        // Writer: uploads to the three days in turn.
        {
            let (base, token, acks, stop) = (base.clone(), token.clone(), acks.clone(), stop.clone());
            workers.push(std::thread::spawn(move || {
                let http = Http::default();
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let ds = DAYS[n as usize % DAYS.len()];
                    if let Ok(mut a) = acks.lock() {
                        a.sent.push((ds.to_owned(), round * 100_000 + n));
                    }
                    let path = format!("/api/v1/apps/c/days/{ds}/tags/g");
                    match call(
                        &http,
                        &base,
                        "PUT",
                        &path,
                        &token,
                        Some(upload_body(round, round * 100_000 + n).as_bytes()),
                    ) {
                        Ok(r) if r.status == 200 => {
                            if let Ok(mut a) = acks.lock() {
                                a.uploads.push((ds.to_owned(), round * 100_000 + n));
                            }
                        }
                        _ => break, // killed
                    }
                    n += 1;
                }
            }));
        }
        // Segment writer.
        {
            let (base, token, acks, stop) = (base.clone(), token.clone(), acks.clone(), stop.clone());
            workers.push(std::thread::spawn(move || {
                let http = Http::default();
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("s{round}-{i}");
                    let body = json!({"id": id, "name": id, "kind": "static"}).to_string();
                    match call(&http, &base, "POST", "/api/v1/apps/c/segments", &token, Some(body.as_bytes())) {
                        Ok(r) if r.status == 201 || r.status == 200 => {
                            if let Ok(mut a) = acks.lock() {
                                a.segments.push(id);
                            }
                        }
                        _ => break,
                    }
                    i += 1;
                }
            }));
        }
        // Reader: every manifest it gets must be complete (all its blobs served and intact).
        {
            let reader = survivor.as_ref().map_or_else(|| base.clone(), |b| b.url(""));
            let (base, token, bad, stop) = (reader, token.clone(), bad_reads.clone(), stop.clone());
            workers.push(std::thread::spawn(move || {
                let http = Http::default();
                while !stop.load(Ordering::Relaxed) {
                    for ds in DAYS {
                        let Ok(r) =
                            call(&http, &base, "GET", &format!("/api/v1/apps/c/days/{ds}/manifest"), &token, None)
                        else {
                            return;
                        };
                        if r.status != 200 {
                            continue;
                        }
                        let Ok(m) = r.json() else { continue };
                        if let Err(e) = one_whole_upload(&m)
                            && let Ok(mut bad) = bad.lock()
                        {
                            bad.push(format!("{ds}: {e}"));
                        }
                        for blob in sieve_tests::manifest_blobs(&m) {
                            match call(&http, &base, "GET", &format!("/api/v1/apps/c/blobs/{blob}"), &token, None) {
                                Ok(b) if b.status == 200 && engine::blob::hash(&b.bytes) == blob => {}
                                Ok(b) => {
                                    if let Ok(mut bad) = bad.lock() {
                                        bad.push(format!("{ds}: blob {blob} answered {}", b.status));
                                    }
                                }
                                Err(_) => return,
                            }
                        }
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(300 + next() % 1500));
        drop(server); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            let _ = w.join();
        }
        let started = Instant::now();
        server = start(&dist, &data, env)?;
        let base = server.url("");
        let health = http.get(&format!("{base}/api/v1/health"))?;
        assert_eq!(health.status, 200);
        let restart = started.elapsed();
        assert!(restart < Duration::from_secs(5), "restart took {restart:?}");
        slowest_restart = slowest_restart.max(restart);
        // Start-up removed whatever the kill left half-written (blob temp files, spooled uploads).
        for dir in ["tmp", "uploads"] {
            let left: Vec<_> =
                std::fs::read_dir(data.join(dir)).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
            assert!(left.is_empty(), "round {round}: files left in {dir}/ after the restart: {left:?}");
        }
        verify(&http, &base, &token, &acks)?;
        if let Some(b) = &survivor {
            verify(&http, &b.url(""), &token, &acks)?;
        }
    }
    let bad = bad_reads.lock().map(|b| b.clone()).unwrap_or_default();
    assert!(bad.is_empty(), "reads saw incomplete versions: {bad:?}");
    let a = acks.lock().map_err(|_| "poisoned")?;
    assert!(!a.uploads.is_empty() && !a.segments.is_empty(), "the run must have acknowledged writes to check");
    eprintln!(
        "{rounds} kills: {} uploads acknowledged of {} sent, {} segments acknowledged; slowest restart {:.0} ms",
        a.uploads.len(),
        a.sent.len(),
        a.segments.len(),
        slowest_restart.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// A day's manifest holds one whole upload: group `g` has exactly one value, held by all 200
/// users (an upload half-present would show as a partial count or a mix of values).
fn one_whole_upload(m: &Value) -> Result<String, String> {
    let groups = m["groups"].as_array().ok_or("manifest without groups")?;
    let g = groups.iter().find(|g| g["name"] == "g").ok_or("manifest without group g")?;
    let values = g["values"].as_array().ok_or("group g without values")?;
    match values.as_slice() {
        [v] if v["count"] == 200 && m["universe"]["count"].as_u64() >= Some(200) => {
            Ok(v["value"].as_str().ok_or("value")?.to_owned())
        }
        _ => Err(format!("group g is not one whole upload: {values:?}")),
    }
}

/// After a restart: each day holds its last acknowledged upload or a later one that was sent
/// (a write can commit just before the kill without its answer getting out), whole, with every
/// blob intact and the membership API agreeing; every acknowledged segment exists, and every
/// listed segment (acknowledged or not) reads back whole.
fn verify(http: &Http, base: &str, token: &str, acks: &Mutex<Acks>) -> Result<(), Error> {
    let a = acks.lock().map_err(|_| "poisoned")?;
    for ds in DAYS {
        let Some(last_ack) = a.uploads.iter().filter(|(d, _)| d == ds).map(|(_, n)| *n).max() else { continue };
        let r = call(http, base, "GET", "/api/v1/apps/c/users/user0/tags", token, None)?;
        assert_eq!(r.status, 200, "{}", r.body);
        let t = call(http, base, "GET", &format!("/api/v1/apps/c/users/user0/tags?ds={ds}"), token, None)?.json()?;
        let value = t["tags"]["g"][0].as_str().ok_or_else(|| format!("{ds}: no value for user0: {t}"))?.to_owned();
        let n: u32 = value.rsplit('n').next().and_then(|x| x.parse().ok()).ok_or("value format")?;
        let allowed = n == last_ack || (n > last_ack && a.sent.iter().any(|(d, s)| d == ds && *s == n));
        assert!(allowed, "{ds}: holds upload {n}, last acknowledged {last_ack}");
        let m = call(http, base, "GET", &format!("/api/v1/apps/c/days/{ds}/manifest"), token, None)?.json()?;
        assert_eq!(
            one_whole_upload(&m).map_err(|e| format!("{ds}: {e}"))?,
            value,
            "{ds}: manifest and membership agree"
        );
        for blob in sieve_tests::manifest_blobs(&m) {
            let b = call(http, base, "GET", &format!("/api/v1/apps/c/blobs/{blob}"), token, None)?;
            assert_eq!(b.status, 200, "{ds}: blob {blob}: {}", b.body);
            assert_eq!(engine::blob::hash(&b.bytes), blob, "{ds}: blob {blob} intact");
        }
    }
    let listed = call(http, base, "GET", "/api/v1/apps/c/segments", token, None)?.json()?;
    let ids: Vec<&str> = listed["segments"].as_array().ok_or("list")?.iter().filter_map(|s| s["id"].as_str()).collect();
    for id in &a.segments {
        assert!(ids.contains(&id.as_str()), "acknowledged segment {id} is missing after restart");
    }
    for id in &ids {
        let r = call(http, base, "GET", &format!("/api/v1/apps/c/segments/{id}"), token, None)?;
        assert_eq!(r.status, 200, "listed segment {id} does not read back: {}", r.body);
        assert_eq!((r.json()?["id"].as_str(), r.json()?["kind"].as_str()), (Some(*id), Some("static")));
    }
    Ok(())
}
