//! Reach (issue 17) on the real binary, against a receiver of our own on 127.0.0.1: a segment
//! synced to a webhook that answers 500 to a third of requests, times out on some and is down
//! for a while, and to a directory of CSV files, across days of publishes and a kill -9 of the
//! server in the middle of the full delivery. The receiver checks every signature with its own
//! HMAC. The oracle for each day's membership is a recount of the uploaded rows (and the
//! members export agrees with it): the full delivery plus the deltas must equal it exactly on
//! every delivered day, at both destinations; every member arrives at least once; batches
//! arrive in order; the delivery log matches what the receiver saw; the reached users are a
//! segment rules can use. Experiment groups and `once` syncs are in `reach/once.rs`. Also: a
//! batch that always fails stops the sync `failed` with the last response and resumes;
//! destinations on loopback, private and link-local addresses are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sieve_tests::{Error, Rng, TestServer};

#[path = "reach/receiver.rs"]
mod receiver;

#[path = "reach/once.rs"]
mod once;

use receiver::*;

const ADMIN: &str = "reach-admin";

fn days(n: usize) -> Vec<String> {
    (0..n).map(|d| format!("2026-11-{:02}", 10 + d)).collect()
}

/// Waits for `cond` (checked every 50 ms) up to `limit`.
fn wait(what: &str, limit: Duration, mut cond: impl FnMut() -> Result<bool, Error>) -> Result<(), Error> {
    let started = Instant::now();
    while !cond()? {
        if started.elapsed() > limit {
            return Err(format!("timed out waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Per day, who is on plan `pro`: 1,200 users on the first day, 60 more each day, a tenth of
/// them switching plan every day.
fn plans(n_days: usize) -> Vec<BTreeMap<String, bool>> {
    let mut rng = Rng(17);
    let mut pro: BTreeMap<String, bool> = BTreeMap::new();
    (0..n_days)
        .map(|d| {
            for u in 0..1_200 + 60 * d {
                let e = pro.entry(format!("u{u}")).or_insert_with(|| rng.below(3) == 0);
                if rng.below(10) == 0 {
                    *e = !*e;
                }
            }
            pro.clone()
        })
        .collect()
}

fn members_of(day: &BTreeMap<String, bool>) -> BTreeSet<String> {
    day.iter().filter(|(_, pro)| **pro).map(|(u, _)| u.clone()).collect()
}

fn upload(t: &TestServer, token: &str, app: &str, ds: &str, day: &BTreeMap<String, bool>) -> Result<(), Error> {
    let mut csv = String::from("user_id,value\n");
    for (u, pro) in day {
        csv.push_str(&format!("{u},{}\n", if *pro { "pro" } else { "free" }));
    }
    t.ok("PUT", &format!("/api/v1/apps/{app}/days/{ds}/tags/plan"), token, Some(csv.as_bytes()))?;
    Ok(())
}

fn export(t: &TestServer, token: &str, app: &str, segment: &str, ds: &str) -> Result<BTreeSet<String>, Error> {
    let r = t.call("GET", &format!("/api/v1/apps/{app}/segments/{segment}/members?ds={ds}"), token, None)?;
    if r.status != 200 {
        return Err(format!("export {segment} {ds}: {} {}", r.status, r.body).into());
    }
    Ok(r.body.lines().skip(1).map(str::to_owned).collect())
}

fn post(t: &TestServer, path: &str, token: &str, body: &Value) -> Result<Value, Error> {
    t.ok("POST", path, token, Some(body.to_string().as_bytes()))
}

/// A delivery as a destination saw it: day, kind, added, removed.
type Delivery = (String, String, Vec<String>, Vec<String>);

/// `<sync>.<seq>.<batch>` → (seq, batch).
fn seq_batch(delivery_id: &str) -> (u64, u64) {
    let mut parts = delivery_id.rsplitn(3, '.');
    let batch = parts.next().and_then(|b| b.parse().ok()).unwrap_or(u64::MAX);
    let seq = parts.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    (seq, batch)
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Replays deliveries `(seq, ds, kind, added, removed)` in order, checking the destination's
/// state against the oracle after each complete delivery; returns the days checked.
fn replay(
    what: &str,
    deliveries: &BTreeMap<u64, Delivery>,
    oracle: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut state: BTreeSet<String> = BTreeSet::new();
    let mut checked = Vec::new();
    for (seq, (ds, kind, added, removed)) in deliveries {
        if kind == "full" {
            state.clear();
            assert!(removed.is_empty(), "{what}: a full delivery removes nothing");
        }
        for u in added {
            assert!(state.insert(u.clone()), "{what}: delivery {seq} adds {u}, already there");
        }
        for u in removed {
            assert!(state.remove(u), "{what}: delivery {seq} removes {u}, not there");
        }
        assert_eq!(&state, &oracle[ds], "{what}: after delivery {seq} ({kind} of {ds})");
        checked.push(ds.clone());
    }
    checked
}

#[test]
fn a_synced_segment_arrives_exactly_through_failures_and_a_kill() -> Result<(), Error> {
    const N: usize = 5;
    let flags = [
        "--allow-private-destinations",
        "--delivery-timeout-secs",
        "1",
        "--delivery-backoff-ms",
        "50",
        "--delivery-max-attempts",
        "40",
    ];
    let mut t = TestServer::start(ADMIN, &flags)?;
    let token = t.app_with_token("r", "editor")?;
    let (ds, plans) = (days(N), plans(N));
    let oracle: BTreeMap<String, BTreeSet<String>> = ds.iter().cloned().zip(plans.iter().map(members_of)).collect();
    upload(&t, &token, "r", &ds[0], &plans[0])?;
    let seg = json!({"id": "pro", "name": "Pro", "kind": "dynamic", "rule": {"tag": "plan", "in": ["pro"]}});
    post(&t, "/api/v1/apps/r/segments", &token, &seg)?;
    assert_eq!(export(&t, &token, "r", "pro", &ds[0])?, oracle[&ds[0]], "the API agrees with the recount");

    let rx = Receiver::start(Mode::Flaky)?;
    let dir = tempfile::tempdir()?;
    let hook = json!({"id": "hook", "kind": "webhook", "url": rx.url(), "secret": SECRET, "batch_size": 20});
    let created = post(&t, "/api/v1/apps/r/destinations", &token, &hook)?;
    assert_eq!(created["has_secret"], true);
    assert!(!created.to_string().contains(SECRET), "the secret is never answered: {created}");
    let files =
        json!({"id": "files", "kind": "files", "url": format!("file://{}", dir.path().display()), "format": "csv"});
    post(&t, "/api/v1/apps/r/destinations", &token, &files)?;
    let listed = t.ok("GET", "/api/v1/apps/r/destinations", &token, None)?;
    assert!(!listed.to_string().contains(SECRET), "{listed}");

    let sync =
        post(&t, "/api/v1/apps/r/segments/pro/syncs", &token, &json!({"destination": "hook", "id": "pro.hook"}))?;
    assert_eq!((sync["state"].as_str(), sync["id"].as_str()), (Some("active"), Some("pro.hook")));
    post(&t, "/api/v1/apps/r/segments/pro/syncs", &token, &json!({"destination": "files"}))?;

    // Kill -9 in the middle of the full delivery (~20 batches of 20).
    let full_batches = oracle[&ds[0]].len().div_ceil(20);
    wait("a few batches", Duration::from_secs(60), || Ok(rx.accepted().len() >= 4))?;
    let at_kill = rx.accepted().len();
    t.kill_and_restart(&flags)?;
    assert!(at_kill < full_batches, "the kill landed mid-delivery: {at_kill} of {full_batches} batches in");

    // More days; the receiver is down for a while in between.
    rx.down.store(true, Ordering::SeqCst);
    upload(&t, &token, "r", &ds[1], &plans[1])?;
    wait("refused requests", Duration::from_secs(60), || Ok(rx.lock().refused >= 3))?;
    rx.down.store(false, Ordering::SeqCst);
    for d in 2..N {
        upload(&t, &token, "r", &ds[d], &plans[d])?;
    }
    let last = ds[N - 1].clone();
    for id in ["pro.hook", "pro.files"] {
        wait(&format!("{id} delivered up to the last day"), Duration::from_secs(180), || {
            let s = t.ok("GET", &format!("/api/v1/apps/r/segments/pro/syncs/{id}"), &token, None)?;
            assert_ne!(s["state"], "failed", "{s}");
            Ok(s["delivered_ds"] == last.as_str() && s["current"].is_null())
        })?;
    }
    for d in 0..N {
        assert_eq!(export(&t, &token, "r", "pro", &ds[d])?, oracle[&ds[d]], "API vs recount on {}", ds[d]);
    }

    // The webhook: every signature verified, batches in order, full + deltas = each day.
    let log = rx.lock();
    assert_eq!(log.forged, 0, "every request the server sent verifies");
    assert!(log.got.iter().all(|g| signed(SECRET, &g.header, &g.body, unix_now(), 3_600)));
    let failures = log.got.iter().filter(|g| g.status == 500).count();
    assert!(failures >= 5, "the receiver failed {failures} requests");
    drop(log);
    let accepted = rx.accepted();
    let order: Vec<(u64, u64)> =
        accepted.iter().map(|g| seq_batch(g.json["delivery_id"].as_str().unwrap_or(""))).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "batches arrive in order: {order:?}");
    let mut deliveries: BTreeMap<u64, Delivery> = BTreeMap::new();
    for (g, (seq, batch)) in accepted.iter().zip(&order) {
        let e = deliveries.entry(*seq).or_insert_with(|| {
            (
                g.json["ds"].as_str().unwrap_or("").to_owned(),
                g.json["kind"].as_str().unwrap_or("").to_owned(),
                vec![],
                vec![],
            )
        });
        assert_eq!(g.json["segment"], "pro");
        assert_eq!(e.0, g.json["ds"].as_str().unwrap_or(""), "one day per delivery");
        let expected_batch = order.iter().filter(|(s, _)| s == seq).position(|(_, b)| b == batch);
        assert_eq!(expected_batch, Some(*batch as usize), "batches of delivery {seq} counted from 0 without gaps");
        e.2.extend(ids(&g.json["added"]));
        e.3.extend(ids(&g.json["removed"]));
    }
    assert_eq!(deliveries.keys().copied().collect::<Vec<_>>(), (1..=N as u64).collect::<Vec<_>>());
    assert_eq!(replay("webhook", &deliveries, &oracle), ds, "the full of day 1, then every day's delta");
    let everyone: BTreeSet<&String> = oracle.values().flatten().collect();
    let delivered: BTreeSet<&String> = deliveries.values().flat_map(|d| &d.2).collect();
    assert_eq!(delivered, everyone, "every member was delivered at least once");

    // The delivery log matches what the receiver saw.
    let dl = t.ok("GET", "/api/v1/apps/r/segments/pro/syncs/pro.hook/deliveries", &token, None)?;
    let entries = dl["deliveries"].as_array().ok_or("no deliveries")?;
    assert_eq!(dl["more"], false);
    // Paged, the log is the same.
    let (mut paged, mut after) = (Vec::new(), String::new());
    loop {
        let q = if after.is_empty() { "limit=7".to_owned() } else { format!("limit=7&after={after}") };
        let page = t.ok("GET", &format!("/api/v1/apps/r/segments/pro/syncs/pro.hook/deliveries?{q}"), &token, None)?;
        let rows = page["deliveries"].as_array().ok_or("page")?.clone();
        after = rows.last().and_then(|r| r["delivery_id"].as_str()).unwrap_or_default().to_owned();
        paged.extend(rows);
        if page["more"] != true {
            break;
        }
    }
    assert_eq!(&paged, entries, "pages of 7 give the whole log");
    let bad = t.call("GET", "/api/v1/apps/r/segments/pro/syncs/pro.hook/deliveries?after=other.1.0", &token, None)?;
    assert_eq!((bad.status, bad.json()?["field"].clone()), (400, json!("after")), "{}", bad.body);
    assert_eq!(entries.len(), accepted.len(), "one log entry per batch the receiver took");
    let by_id: BTreeMap<&str, &Got> =
        accepted.iter().map(|g| (g.json["delivery_id"].as_str().unwrap_or(""), g)).collect();
    let got = rx.lock().got.clone();
    let mut slack = 1; // a 500 answered just before the kill may not have been recorded
    for e in entries {
        let id = e["delivery_id"].as_str().ok_or("delivery_id")?;
        let g = by_id.get(id).ok_or_else(|| format!("log entry {id} never reached the receiver"))?;
        assert_eq!(e["status"], "delivered", "{e}");
        assert_eq!(e["response_code"], 200, "{e}");
        let n = (ids(&g.json["added"]).len() + ids(&g.json["removed"]).len()) as u64;
        assert_eq!(e["ids"].as_u64(), Some(n), "{e}");
        let refused_500 = got.iter().filter(|x| x.json["delivery_id"] == id && x.status == 500).count() as u64;
        let attempts = e["attempts"].as_u64().unwrap_or(0);
        if attempts < refused_500 + 1 {
            slack -= 1;
            assert!(
                slack >= 0 && attempts == refused_500,
                "{id}: {attempts} attempts logged, {refused_500} answered 500"
            );
        }
    }

    // Replays and forgeries are detectable: a captured request's time ages out, its
    // delivery_id was seen, and any change to the body or the secret breaks the signature.
    let first = &accepted[0];
    assert!(!signed(SECRET, &first.header, &first.body, unix_now() + 600, 300), "a replay ten minutes on is stale");
    assert!(rx.lock().got.iter().filter(|g| g.json["delivery_id"] == first.json["delivery_id"]).count() >= 1);
    let mut tampered = first.body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    assert!(!signed(SECRET, &first.header, &tampered, unix_now(), 3_600), "a changed body does not verify");
    let t_part = first.header.split(',').next().unwrap_or_default().trim_start_matches("t=").to_owned();
    let forged = format!("t={t_part},v1={}", mac_hex(b"not-the-secret-at-all", &t_part, &first.body));
    assert!(!signed(SECRET, &forged, &first.body, unix_now(), 3_600), "another secret does not verify");
    let mut s = TcpStream::connect(rx.addr)?;
    write!(
        s,
        "POST /hook HTTP/1.1\r\nhost: x\r\nx-sieve-signature: {forged}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        first.body.len()
    )?;
    s.write_all(&first.body)?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // The files destination: one CSV per delivery; full + deltas = each day too.
    let mut file_deliveries = BTreeMap::new();
    for entry in std::fs::read_dir(dir.path().join("pro.files"))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
        let parts: Vec<&str> = name.split('.').collect();
        assert_eq!(parts.len(), 4, "{name}: <ds>.<seq>.<kind>.csv, no temporary file left");
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        let text = std::fs::read_to_string(&path)?;
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("user_id,change"));
        for line in lines {
            match line.split_once(',') {
                Some((u, "added")) => added.push(u.to_owned()),
                Some((u, "removed")) => removed.push(u.to_owned()),
                _ => panic!("{name}: bad line {line}"),
            }
        }
        file_deliveries.insert(parts[1].parse::<u64>()?, (parts[0].to_owned(), parts[2].to_owned(), added, removed));
    }
    assert_eq!(replay("files", &file_deliveries, &oracle), ds);

    // Who was reached is a segment: day 1's full reached everyone, day 2 the newcomers.
    t.wait_for_segments_job(&token, "r", "reached segments computed", |j| j["state"] == "done")?;
    assert_eq!(export(&t, &token, "r", &format!("reached.pro.hook.{}", ds[0]), &last)?, oracle[&ds[0]]);
    let newcomers: BTreeSet<String> = oracle[&ds[1]].difference(&oracle[&ds[0]]).cloned().collect();
    let reached = format!("reached.pro.hook.{}", ds[1]);
    assert_eq!(export(&t, &token, "r", &reached, &last)?, newcomers);
    let seg = t.ok("GET", &format!("/api/v1/apps/r/segments/{reached}"), &token, None)?;
    assert_eq!(seg["name"], format!("reached:pro.hook:{}", ds[1]));
    let est = json!({"ds": last, "rule": {"all": [{"segment": reached}, {"not": {"segment": "pro"}}]}});
    let e = post(&t, "/api/v1/apps/r/estimate", &token, &est)?;
    let expected = newcomers.difference(&oracle[&last]).count() as u64;
    assert_eq!(e["count"].as_u64(), Some(expected), "reached on day 2 and no longer pro: {e}");

    // Starting a sync and re-sending are audited.
    post(&t, "/api/v1/apps/r/segments/pro/syncs/pro.hook/resend", &token, &json!({}))?;
    let admin = t.token("r", "admin")?;
    let audit = t.ok("GET", "/api/v1/apps/r/audit", &admin, None)?;
    let actions: Vec<&str> =
        audit["entries"].as_array().ok_or("entries")?.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "start_sync").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "resend_sync").count(), 1, "{actions:?}");
    Ok(())
}

const FAILING_FLAGS: [&str; 5] =
    ["--allow-private-destinations", "--delivery-backoff-ms", "20", "--delivery-max-attempts", "3"];

#[test]
fn a_batch_that_always_fails_stops_the_sync_failed_then_resumes() -> Result<(), Error> {
    failing_flow(&TestServer::start(ADMIN, &FAILING_FLAGS)?)
}

#[test]
fn the_same_on_postgresql_and_object_storage() -> Result<(), Error> {
    // Destinations, syncs, their members and log are `access` records: the same flow with the
    // metadata in PostgreSQL (and the reached segments' blobs in S3-compatible storage).
    let store = sieve_tests::services::shared()?.store("reach")?;
    let t = TestServer::start_with_env(ADMIN, &FAILING_FLAGS, &store.vars())?;
    failing_flow(&t)?;
    // A files destination in the bucket: the CSV is uploaded whole and holds the members.
    let (bucket, prefix) = store.blob_url.trim_start_matches("s3://").split_once('/').ok_or("blob url")?;
    let out = format!("{}-out", prefix.trim_end_matches('/'));
    let token = t.token("f", "editor")?;
    let dest = json!({"id": "bucket", "kind": "files", "url": format!("s3://{bucket}/{out}"), "format": "csv"});
    post(&t, "/api/v1/apps/f/destinations", &token, &dest)?;
    post(&t, "/api/v1/apps/f/segments/pro/syncs", &token, &json!({"destination": "bucket", "id": "b"}))?;
    let ds = days(2);
    let path = "/api/v1/apps/f/segments/pro/syncs/b";
    wait("the upload", Duration::from_secs(60), || {
        let s = t.ok("GET", path, &token, None)?;
        assert_ne!(s["state"], "failed", "{s}");
        Ok(s["delivered_ds"] == ds[1].as_str())
    })?;
    let env: BTreeMap<&str, &str> = store.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(env["AWS_ENDPOINT"])
        .with_allow_http(true)
        .with_region(env["AWS_DEFAULT_REGION"])
        .with_access_key_id(env["AWS_ACCESS_KEY_ID"])
        .with_secret_access_key(env["AWS_SECRET_ACCESS_KEY"])
        .with_bucket_name(bucket)
        .build()?;
    let key = object_store::path::Path::from(format!("{out}/b/{}.1.full.csv", ds[1]));
    let bytes = tokio::runtime::Runtime::new()?.block_on(async {
        use object_store::ObjectStoreExt as _;
        s3.get(&key).await?.bytes().await
    })?;
    let text = String::from_utf8(bytes.to_vec())?;
    let got: BTreeSet<String> = text
        .lines()
        .skip(1)
        .map(|l| l.strip_suffix(",added").map(str::to_owned).ok_or(l.to_owned()))
        .collect::<Result<_, _>>()?;
    assert_eq!(got, members_of(&plans(2)[1]), "the uploaded CSV holds the day's members");
    Ok(())
}

fn failing_flow(t: &TestServer) -> Result<(), Error> {
    let token = t.app_with_token("f", "editor")?;
    let ds = days(2);
    let plans = plans(2);
    upload(t, &token, "f", &ds[0], &plans[0])?;
    post(
        t,
        "/api/v1/apps/f/segments",
        &token,
        &json!({"id": "pro", "name": "Pro", "kind": "dynamic", "rule": {"tag": "plan", "in": ["pro"]}}),
    )?;
    let rx = Receiver::start(Mode::AlwaysFail)?;
    let hook = json!({"id": "h", "kind": "webhook", "url": rx.url(), "secret": SECRET, "batch_size": 100000});
    post(t, "/api/v1/apps/f/destinations", &token, &hook)?;
    post(t, "/api/v1/apps/f/segments/pro/syncs", &token, &json!({"destination": "h", "id": "s"}))?;
    let path = "/api/v1/apps/f/segments/pro/syncs/s";
    wait("the sync to fail", Duration::from_secs(60), || Ok(t.ok("GET", path, &token, None)?["state"] == "failed"))?;
    let s = t.ok("GET", path, &token, None)?;
    assert_eq!(s["current"]["attempts"], 3, "{s}");
    assert!(
        s["current"]["last_error"].as_str().is_some_and(|e| e.contains("500") && e.contains("flaky receiver says no")),
        "{s}"
    );
    let log = t.ok("GET", &format!("{path}/deliveries"), &token, None)?;
    let entry = &log["deliveries"][0];
    assert_eq!(
        (entry["status"].as_str(), entry["attempts"].as_u64(), entry["response_code"].as_u64()),
        (Some("failed"), Some(3), Some(500)),
        "{log}"
    );
    let seen = rx.lock().got.clone();
    assert_eq!(seen.len(), 3, "exactly the attempts allowed");
    assert!(seen.iter().all(|g| g.json["delivery_id"] == entry["delivery_id"]), "the same delivery_id on every retry");

    *rx.mode.lock().unwrap_or_else(|p| p.into_inner()) = Mode::Fine;
    post(t, &format!("{path}/resume"), &token, &json!({}))?;
    wait("the delivery after resume", Duration::from_secs(60), || {
        Ok(t.ok("GET", path, &token, None)?["delivered_ds"] == ds[0].as_str())
    })?;
    let last = rx.accepted();
    assert_eq!(last.len(), 1);
    let got: BTreeSet<String> = ids(&last[0].json["added"]).into_iter().collect();
    assert_eq!(got, members_of(&plans[0]));

    // Paused, a new day waits; resumed, its delta goes.
    post(t, &format!("{path}/pause"), &token, &json!({}))?;
    upload(t, &token, "f", &ds[1], &plans[1])?;
    let paused = t.ok("GET", path, &token, None)?;
    assert_eq!((paused["state"].as_str(), paused["delivered_ds"].as_str()), (Some("paused"), Some(ds[0].as_str())));
    post(t, &format!("{path}/resume"), &token, &json!({}))?;
    wait("the delta after resume", Duration::from_secs(60), || {
        Ok(t.ok("GET", path, &token, None)?["delivered_ds"] == ds[1].as_str())
    })?;
    let delta = &rx.accepted()[1].json;
    assert_eq!(delta["kind"], "delta");
    let (before, after) = (members_of(&plans[0]), members_of(&plans[1]));
    assert_eq!(ids(&delta["added"]).into_iter().collect::<BTreeSet<_>>(), after.difference(&before).cloned().collect());
    assert_eq!(
        ids(&delta["removed"]).into_iter().collect::<BTreeSet<_>>(),
        before.difference(&after).cloned().collect()
    );
    // Deleting a destination a sync sends to is refused; after the sync, it goes.
    assert_eq!(t.call("DELETE", "/api/v1/apps/f/destinations/h", &token, None)?.status, 409);
    assert_eq!(t.call("DELETE", path, &token, None)?.status, 204);
    assert_eq!(t.call("DELETE", "/api/v1/apps/f/destinations/h", &token, None)?.status, 204);
    assert_eq!(t.call("GET", "/api/v1/apps/f/destinations/h", &token, None)?.status, 404);
    Ok(())
}

#[test]
fn destinations_on_private_addresses_are_refused_and_bad_input_names_its_field() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("s", "editor")?;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://172.20.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/x",
        "http://[fd00::1]/x",
        "http://0.0.0.0/x",
        "http://[::ffff:127.0.0.1]/x",
    ] {
        let body = json!({"id": "d", "kind": "webhook", "url": url, "secret": SECRET});
        let r = t.call("POST", "/api/v1/apps/s/destinations", &token, Some(body.to_string().as_bytes()))?;
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        assert_eq!(r.json()?["field"], "url", "{url}: {}", r.body);
    }
    // A public address literal passes (nothing is sent at creation).
    let public = json!({"id": "pub", "kind": "webhook", "url": "https://93.184.216.34/hook", "secret": SECRET});
    post(&t, "/api/v1/apps/s/destinations", &token, &public)?;
    // A change to a private address is refused too, and changes nothing.
    let r = t.call("PATCH", "/api/v1/apps/s/destinations/pub", &token, Some(br#"{"url":"http://127.0.0.1/x"}"#))?;
    assert_eq!((r.status, r.json()?["field"].as_str().map(str::to_owned)), (400, Some("url".to_owned())));
    assert_eq!(t.ok("GET", "/api/v1/apps/s/destinations/pub", &token, None)?["url"], "https://93.184.216.34/hook");
    for (body, field) in [
        (json!({"id": "x", "kind": "webhook", "url": "https://93.184.216.34/", "secret": "short"}), "secret"),
        (json!({"id": "x", "kind": "webhook", "url": "https://93.184.216.34/"}), "secret"),
        (json!({"id": "x", "kind": "webhook", "url": "ftp://93.184.216.34/", "secret": SECRET}), "url"),
        (
            json!({"id": "x", "kind": "webhook", "url": "https://93.184.216.34/", "secret": SECRET, "batch_size": 0}),
            "batch_size",
        ),
        (json!({"id": "x/y", "kind": "webhook", "url": "https://93.184.216.34/", "secret": SECRET}), "id"),
        (json!({"id": "x", "kind": "files", "url": "file://relative/dir"}), "url"),
    ] {
        let r = t.call("POST", "/api/v1/apps/s/destinations", &token, Some(body.to_string().as_bytes()))?;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()?["field"], field, "{body}: {}", r.body);
    }
    let dup = t.call("POST", "/api/v1/apps/s/destinations", &token, Some(public.to_string().as_bytes()))?;
    assert_eq!(dup.status, 409, "{}", dup.body);
    let list = t.ok("GET", "/api/v1/apps/s/destinations", &token, None)?;
    assert_eq!(list["destinations"].as_array().map(Vec::len), Some(1), "nothing refused was stored: {list}");
    // A sync whose reached segments' ids would be too long is refused at once.
    let long = json!({"destination": "pub", "id": "x".repeat(60)});
    let r = t.call("POST", "/api/v1/apps/s/segments/nope/syncs", &token, Some(long.to_string().as_bytes()))?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("id")), "{}", r.body);
    // A sync of a missing segment or to a missing destination is a 404.
    let r = t.call("POST", "/api/v1/apps/s/segments/nope/syncs", &token, Some(br#"{"destination":"pub"}"#))?;
    assert_eq!(r.status, 404, "{}", r.body);
    Ok(())
}

/// Delivery throughput to a local receiver that answers every request at once (BENCHMARKS.md):
/// `SIEVE_BIN=$CARGO_TARGET_DIR/release/sieve cargo test -p sieve-tests --test reach -- --ignored
/// --nocapture throughput` (after `cargo build --release -p server`; without `SIEVE_BIN`, the
/// debug server). Prints ids per second of the full delivery.
#[test]
#[ignore = "a benchmark, run by hand"]
fn throughput() -> Result<(), Error> {
    const USERS: usize = 200_000;
    let t = TestServer::start(ADMIN, &["--allow-private-destinations"])?;
    let token = t.app_with_token("b", "editor")?;
    let mut csv = String::from("user_id,value\n");
    for u in 0..USERS {
        csv.push_str(&format!("user-{u:08},pro\n"));
    }
    t.ok("PUT", "/api/v1/apps/b/days/2026-11-10/tags/plan", &token, Some(csv.as_bytes()))?;
    post(
        &t,
        "/api/v1/apps/b/segments",
        &token,
        &json!({"id": "pro", "name": "Pro", "kind": "dynamic", "rule": {"tag": "plan", "in": ["pro"]}}),
    )?;
    let rx = Receiver::start(Mode::Fine)?;
    for batch in [1_000, 10_000] {
        let id = format!("h{batch}");
        let hook = json!({"id": id, "kind": "webhook", "url": rx.url(), "secret": SECRET, "batch_size": batch});
        post(&t, "/api/v1/apps/b/destinations", &token, &hook)?;
        let started = Instant::now();
        post(&t, "/api/v1/apps/b/segments/pro/syncs", &token, &json!({"destination": id, "id": id}))?;
        let path = format!("/api/v1/apps/b/segments/pro/syncs/{id}");
        wait("the full delivery", Duration::from_secs(600), || {
            Ok(t.ok("GET", &path, &token, None)?["delivered_ds"] == "2026-11-10")
        })?;
        let secs = started.elapsed().as_secs_f64();
        println!("batch_size {batch}: {USERS} ids in {secs:.2} s = {:.0} ids/s", USERS as f64 / secs);
    }
    Ok(())
}

#[test]
fn an_address_allowed_once_is_checked_again_at_delivery() -> Result<(), Error> {
    // A destination on 127.0.0.1 made while private addresses were allowed; the server then
    // restarts without the flag (as after DNS moving a name onto the private network).
    let mut t = TestServer::start(ADMIN, &["--allow-private-destinations"])?;
    let token = t.app_with_token("d", "editor")?;
    let plans = plans(1);
    upload(&t, &token, "d", &days(1)[0], &plans[0])?;
    let seg = json!({"id": "pro", "name": "Pro", "kind": "dynamic", "rule": {"tag": "plan", "in": ["pro"]}});
    post(&t, "/api/v1/apps/d/segments", &token, &seg)?;
    let rx = Receiver::start(Mode::Fine)?;
    post(
        &t,
        "/api/v1/apps/d/destinations",
        &token,
        &json!({"id": "h", "kind": "webhook", "url": rx.url(), "secret": SECRET}),
    )?;
    t.kill_and_restart(&["--delivery-max-attempts", "2", "--delivery-backoff-ms", "20"])?;
    post(&t, "/api/v1/apps/d/segments/pro/syncs", &token, &json!({"destination": "h", "id": "s"}))?;
    let path = "/api/v1/apps/d/segments/pro/syncs/s";
    wait(
        "the refused delivery",
        Duration::from_secs(60),
        || Ok(t.ok("GET", path, &token, None)?["state"] == "failed"),
    )?;
    let s = t.ok("GET", path, &token, None)?;
    let error = s["current"]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("127.0.0.1") && error.contains("loopback"), "{s}");
    assert!(rx.lock().got.is_empty(), "nothing reached the private address");
    Ok(())
}
