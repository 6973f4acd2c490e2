//! Several `sieve serve` processes on one PostgreSQL and one S3 bucket (Garage), both real
//! servers started by `.dev/services.sh`: writes through one replica are read through another
//! at once; concurrent publishes of one app through two replicas lose nothing (the dictionary
//! included); a backfill whose replica is killed is finished by the survivor; a stopped
//! PostgreSQL (or bucket) gives 503s that name it, and service returns with it, losing nothing
//! acknowledged. Expected answers are computed from the uploaded rows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sieve_tests::services::{self, Services, Store};
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "replicas-admin";

fn replica(store: &Store, extra: &[&str]) -> Result<TestServer, Error> {
    TestServer::start_with_env(ADMIN, extra, &store.vars())
}

/// `user_id,value` rows for users `from..to` with value `v{u % values}`.
fn rows(from: u32, to: u32, values: u32, salt: u32) -> (String, BTreeMap<String, String>) {
    let mut csv = String::from("user_id,value\n");
    let mut truth = BTreeMap::new();
    for u in from..to {
        let v = format!("v{}", (u.wrapping_mul(2_654_435_761) ^ salt) % values);
        csv.push_str(&format!("user-{u},{v}\n"));
        truth.insert(format!("user-{u}"), v);
    }
    (csv, truth)
}

/// The published version of a day, as a replica lists it.
fn version(t: &TestServer, token: &str, app: &str, ds: &str) -> Result<u64, Error> {
    let days = t.ok("GET", &format!("/api/v1/apps/{app}/days"), token, None)?;
    let day = days["days"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["ds"] == ds))
        .ok_or_else(|| format!("no {ds} in {days}"))?;
    day["version"].as_u64().ok_or_else(|| format!("no version in {day}").into())
}

fn count(t: &TestServer, token: &str, app: &str, ds: &str, rule: Value) -> Result<u64, Error> {
    let body = json!({"ds": ds, "rule": rule}).to_string();
    let e = t.ok("POST", &format!("/api/v1/apps/{app}/estimate"), token, Some(body.as_bytes()))?;
    e["count"].as_u64().ok_or_else(|| format!("no count in {e}").into())
}

#[test]
fn a_write_through_one_replica_is_read_through_the_other_at_once() -> Result<(), Error> {
    let store = services::shared()?.store("read_your_writes")?;
    // Logged at info: which replica built the version's membership index.
    let mut vars = store.vars();
    vars.push(("RUST_LOG", std::ffi::OsStr::new("info")));
    let a = TestServer::start_with_env(ADMIN, &[], &vars)?;
    let b = TestServer::start_with_env(ADMIN, &[], &vars)?;
    let token = a.app_with_token("shop", "editor")?;
    // The token made through A works on B: tokens live in the shared store.
    let ds = "2026-11-20";
    let (csv, truth) = rows(0, 500, 4, 1);
    a.ok("PUT", &format!("/api/v1/apps/shop/days/{ds}/tags/tier"), &token, Some(csv.as_bytes()))?;
    let days = b.ok("GET", "/api/v1/apps/shop/days", &token, None)?;
    assert_eq!(days["days"][0]["ds"], ds, "B lists the day A published: {days}");
    for v in ["v0", "v1", "v2", "v3"] {
        let naive = truth.values().filter(|x| *x == v).count() as u64;
        assert_eq!(count(&b, &token, "shop", ds, json!({"tag": "tier", "in": [v]}))?, naive, "{v} through B");
    }
    // A segment saved through B is listed by A, and its members follow on both.
    let seg = json!({"id": "top", "name": "Top", "kind": "dynamic", "rule": {"tag": "tier", "in": ["v3"]}});
    b.ok("POST", "/api/v1/apps/shop/segments", &token, Some(seg.to_string().as_bytes()))?;
    let listed = a.ok("GET", "/api/v1/apps/shop/segments", &token, None)?;
    assert!(listed["segments"].as_array().is_some_and(|s| s.iter().any(|s| s["id"] == "top")), "{listed}");
    let user = truth.iter().find(|(_, v)| *v == "v3").map(|(u, _)| u.clone()).ok_or("a v3 user")?;
    for t in [&a, &b] {
        let tags = t.ok("GET", &format!("/api/v1/apps/shop/users/{user}/tags"), &token, None)?;
        assert_eq!(tags["tags"]["tier"], json!(["v3"]), "{tags}");
        assert!(tags["segments"].as_array().is_some_and(|s| s.iter().any(|s| s == "top")), "{tags}");
    }
    // The version's membership index was built once, by A, and B took it from the blob store;
    // every user's answer through B (from the shared index) matches the uploaded rows.
    let log_a = a.server.stderr_when(Duration::from_secs(5), |l| l.contains("membership index built"));
    let log_b = b.server.stderr_when(Duration::from_secs(5), |l| l.contains("membership index taken"));
    assert!(log_a.contains("membership index built"), "A built it: {log_a}");
    assert!(log_b.contains("membership index taken from the blob store"), "B took it: {log_b}");
    assert!(!log_b.contains("membership index built"), "B did not build it again: {log_b}");
    for (u, v) in truth.iter().step_by(23) {
        let tags = b.ok("GET", &format!("/api/v1/apps/shop/users/{u}/tags"), &token, None)?;
        assert_eq!(tags["tags"]["tier"], json!([v]), "{u}: {tags}");
        assert_eq!(tags["segments"].as_array().is_some_and(|s| s.iter().any(|s| s == "top")), v == "v3", "{u}: {tags}");
    }
    // A second group through B joins A's on the same day: one version more (the segment's
    // recompute made one already), both groups there.
    let before = version(&a, &token, "shop", ds)?;
    let (csv2, truth2) = rows(300, 800, 2, 7);
    b.ok("PUT", &format!("/api/v1/apps/shop/days/{ds}/tags/plan"), &token, Some(csv2.as_bytes()))?;
    assert_eq!(version(&a, &token, "shop", ds)?, before + 1);
    let both = json!({"all": [{"tag": "tier", "in": ["v1"]}, {"tag": "plan", "in": ["v0"]}]});
    let naive = truth.iter().filter(|(u, v)| *v == "v1" && truth2.get(*u).is_some_and(|p| p == "v0")).count() as u64;
    assert_eq!(count(&a, &token, "shop", ds, both.clone())?, naive);
    assert_eq!(count(&b, &token, "shop", ds, both)?, naive);
    Ok(())
}

#[test]
fn a_token_revoked_or_rotated_through_one_replica_is_refused_by_the_other_at_once() -> Result<(), Error> {
    let store = services::shared()?.store("revocation")?;
    let a = replica(&store, &[])?;
    let b = replica(&store, &[])?;
    let editor = a.app_with_token("rev", "editor")?;
    let admin = a.token("rev", "admin")?;
    let (csv, _) = rows(0, 50, 3, 7);
    a.ok("PUT", "/api/v1/apps/rev/days/2026-11-20/tags/g", &editor, Some(csv.as_bytes()))?;
    let make = |name: &str| -> Result<(String, String), Error> {
        let body = json!({"role": "viewer", "name": name}).to_string();
        let v = a.ok("POST", "/api/v1/apps/rev/tokens", &admin, Some(body.as_bytes()))?;
        Ok((v["id"].as_str().ok_or("id")?.to_owned(), v["token"].as_str().ok_or("token")?.to_owned()))
    };
    let (id, secret) = make("to revoke")?;
    // B has used (and, were it cached, would have cached) the token before the revocation.
    for _ in 0..3 {
        assert_eq!(b.call("GET", "/api/v1/apps/rev/days", &secret, None)?.status, 200);
    }
    assert_eq!(a.call("DELETE", &format!("/api/v1/apps/rev/tokens/{id}"), &admin, None)?.status, 204);
    assert_eq!(
        b.call("GET", "/api/v1/apps/rev/days", &secret, None)?.status,
        401,
        "the next request, on the other replica"
    );
    // A rotation without grace through B: A refuses the old secret and takes the new one.
    let (id, secret) = make("to rotate")?;
    assert_eq!(a.call("GET", "/api/v1/apps/rev/days", &secret, None)?.status, 200);
    let body = json!({"grace_secs": 0}).to_string();
    let rotated = b.ok("POST", &format!("/api/v1/apps/rev/tokens/{id}/rotate"), &admin, Some(body.as_bytes()))?;
    assert_eq!(a.call("GET", "/api/v1/apps/rev/days", &secret, None)?.status, 401);
    let new = rotated["token"].as_str().ok_or("token")?;
    assert_eq!(a.call("GET", "/api/v1/apps/rev/days", new, None)?.status, 200);
    // Both replicas' audit entries are in one log, in order.
    let log = b.ok("GET", "/api/v1/apps/rev/audit", &admin, None)?;
    let actions: Vec<&str> =
        log["entries"].as_array().ok_or("entries")?.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["create_token", "create_token", "create_token", "revoke_token", "create_token", "rotate_token"]
    );
    Ok(())
}

#[test]
fn concurrent_publishes_through_two_replicas_lose_no_group_and_no_user() -> Result<(), Error> {
    let store = services::shared()?.store("concurrent_publishes")?;
    let (a, b) = (replica(&store, &[])?, replica(&store, &[])?);
    let token = a.app_with_token("race", "editor")?;
    let ds = "2026-11-21";
    // Each upload brings users no other has seen (and some it shares), so both replicas grow
    // the dictionary at once: a lost or doubled entry would shift every later id.
    let uploads: Vec<(String, String, BTreeMap<String, String>)> = (0..8u32)
        .map(|g| {
            let (csv, truth) = rows(g * 150, g * 150 + 400, 3, g);
            (format!("g{g}"), csv, truth)
        })
        .collect();
    std::thread::scope(|s| -> Result<(), Error> {
        let handles: Vec<_> = uploads
            .iter()
            .enumerate()
            .map(|(i, (group, csv, _))| {
                let (t, token) = (if i % 2 == 0 { &a } else { &b }, &token);
                s.spawn(move || {
                    t.ok("PUT", &format!("/api/v1/apps/race/days/{ds}/tags/{group}"), token, Some(csv.as_bytes()))
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "upload thread panicked")??;
        }
        Ok(())
    })?;
    assert_eq!(version(&b, &token, "race", ds)?, 8, "every upload made one version");
    let all_users: std::collections::BTreeSet<&String> = uploads.iter().flat_map(|u| u.2.keys()).collect();
    for (group, _, truth) in &uploads {
        for v in ["v0", "v1", "v2"] {
            let naive = truth.values().filter(|x| *x == v).count() as u64;
            for t in [&a, &b] {
                assert_eq!(count(t, &token, "race", ds, json!({"tag": group, "in": [v]}))?, naive, "{group}={v}");
            }
        }
    }
    // Every user's tags, through either replica, are exactly what the uploads said.
    for (i, user) in all_users.iter().enumerate().step_by(37) {
        let t = if i % 2 == 0 { &a } else { &b };
        let tags = t.ok("GET", &format!("/api/v1/apps/race/users/{user}/tags"), &token, None)?;
        for (group, _, truth) in &uploads {
            let expected = truth.get(*user).map_or(Value::Null, |v| json!([v]));
            assert_eq!(tags["tags"][group.as_str()], expected, "{user} {group}: {tags}");
        }
    }
    Ok(())
}

#[test]
fn a_backfill_whose_replica_is_killed_is_finished_by_the_survivor() -> Result<(), Error> {
    const N: usize = 6;
    let store = services::shared()?.store("backfill_takeover")?;
    let mut a = replica(&store, &["--job-step-delay-ms", "700"])?;
    let token = a.app_with_token("k", "editor")?;
    let days: Vec<String> = (0..N).map(|d| format!("2026-11-{:02}", 10 + d)).collect();
    let mut truths = Vec::new();
    for (d, ds) in days.iter().enumerate() {
        let (csv, truth) = rows(0, 200 + 30 * d as u32, 3, d as u32);
        a.ok("PUT", &format!("/api/v1/apps/k/days/{ds}/tags/tier"), &token, Some(csv.as_bytes()))?;
        truths.push(truth);
    }
    let seg = json!({"id": "t1", "name": "T1", "kind": "dynamic", "rule": {"tag": "tier", "in": ["v1"]}});
    a.ok("POST", "/api/v1/apps/k/segments", &token, Some(seg.to_string().as_bytes()))?;
    let job = a.wait_for_segments_job(&token, "k", "started", |j| j["done"].as_u64() >= Some(2))?;
    assert!(job["done"].as_u64() < Some(N as u64 - 1), "the kill must land mid-backfill: {job}");
    // B starts, then A dies holding the job's claim: B takes it over once the claim lapses.
    let b = replica(&store, &[])?;
    a.server.kill();
    let started = Instant::now();
    let job =
        b.wait_for_segments_job_within(&token, "k", "taken over", Duration::from_secs(120), |j| j["state"] == "done")?;
    assert_eq!((job["done"].as_u64(), job["total"].as_u64()), (Some(N as u64), Some(N as u64)), "{job}");
    eprintln!("takeover finished {:.1} s after the kill", started.elapsed().as_secs_f64());
    let h = b.ok("GET", "/api/v1/apps/k/segments/t1/history", &token, None)?;
    let got = h["days"].as_array().ok_or("days")?;
    assert_eq!(got.len(), N);
    for (d, day) in got.iter().enumerate() {
        let naive = truths[d].values().filter(|v| *v == "v1").count() as u64;
        assert_eq!(day["size"].as_u64(), Some(naive), "{}: {day}", days[d]);
    }
    Ok(())
}

#[test]
fn a_stopped_postgresql_answers_503_and_service_returns_with_nothing_lost() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let private = Services::private(dir.path())?;
    let store = private.store("outage")?;
    let a = replica(&store, &[])?;
    let token = a.app_with_token("o", "editor")?;
    let ds = "2026-11-22";
    let (csv, truth) = rows(0, 300, 2, 3);
    a.ok("PUT", &format!("/api/v1/apps/o/days/{ds}/tags/tier"), &token, Some(csv.as_bytes()))?;
    private.stop()?;
    for (method, path, body) in [
        ("GET", "/api/v1/apps/o/days".to_owned(), None),
        ("PUT", format!("/api/v1/apps/o/days/{ds}/tags/other"), Some(csv.as_bytes())),
    ] {
        let r = a.call(method, &path, &token, body)?;
        assert_eq!(r.status, 503, "{method} {path} while PostgreSQL is down: {}", r.body);
        assert!(r.body.contains("PostgreSQL at 127.0.0.1"), "names the store: {}", r.body);
    }
    private.restart()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let days = loop {
        let r = a.call("GET", "/api/v1/apps/o/days", &token, None)?;
        if r.status == 200 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(days.status, 200, "service returns with PostgreSQL: {}", days.body);
    let naive = truth.values().filter(|v| *v == "v1").count() as u64;
    assert_eq!(count(&a, &token, "o", ds, json!({"tag": "tier", "in": ["v1"]}))?, naive, "the acknowledged upload");
    Ok(())
}

#[test]
fn a_stopped_object_store_answers_503_for_what_needs_it_and_service_returns() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let private = Services::private(dir.path())?;
    let store = private.store("s3_outage")?;
    let a = replica(&store, &[])?;
    let token = a.app_with_token("s", "editor")?;
    let ds = "2026-11-22";
    let (csv, truth) = rows(0, 300, 2, 5);
    a.ok("PUT", &format!("/api/v1/apps/s/days/{ds}/tags/tier"), &token, Some(csv.as_bytes()))?;
    private.stop_one("garage")?;
    // A publish needs the bucket: refused, saying which store, and nothing changes.
    let (csv2, _) = rows(0, 300, 3, 6);
    let r = a.call("PUT", &format!("/api/v1/apps/s/days/{ds}/tags/plan"), &token, Some(csv2.as_bytes()))?;
    assert_eq!(r.status, 503, "an upload while the bucket is down: {}", r.body);
    assert!(r.body.contains("object storage"), "says which store: {}", r.body);
    // What this replica holds in its cache still answers.
    let naive = truth.values().filter(|v| *v == "v0").count() as u64;
    assert_eq!(count(&a, &token, "s", ds, json!({"tag": "tier", "in": ["v0"]}))?, naive, "served from the cache");
    private.restart()?;
    a.ok("PUT", &format!("/api/v1/apps/s/days/{ds}/tags/plan"), &token, Some(csv2.as_bytes()))?;
    assert_eq!(version(&a, &token, "s", ds)?, 2, "the refused upload left nothing; the retry is the second version");
    Ok(())
}

#[test]
fn bad_store_settings_fail_at_start_up_naming_the_setting() -> Result<(), Error> {
    let shared = services::shared()?;
    let store = shared.store("bad_settings")?;
    let bad_meta: Vec<(String, String)> = store
        .env
        .iter()
        .map(|(k, v)| match k.as_str() {
            "SIEVE_META_URL" => (k.clone(), "postgres://sieve@127.0.0.1:1/nothing".to_owned()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let bad_key: Vec<(String, String)> = store
        .env
        .iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_SECRET_ACCESS_KEY" => (k.clone(), "not-the-secret".to_owned()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    for (env, says) in [(bad_meta, "PostgreSQL"), (bad_key, "object storage")] {
        let dir = tempfile::tempdir()?;
        let out = sieve_tests::sieve()
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--dist")
            .arg(dir.path())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()?;
        assert!(!out.status.success(), "refused at start-up");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "the message names the store: {stderr}");
        assert!(!stderr.contains("not-the-secret"), "no secret in messages: {stderr}");
    }
    Ok(())
}
