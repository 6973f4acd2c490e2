//! Durable background jobs on the real binary: a segment backfill survives SIGKILL and completes
//! after a restart with no new write; a rule that cannot be computed on a day shows why through
//! the API; a failing step is visible while it retries and completes once storage recovers; a
//! late event upload recomputes the later days whose windows reach it. Every count is checked
//! against a naive recomputation from the uploaded rows.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "jobs-admin";

fn days(n: usize) -> Vec<String> {
    (0..n).map(|d| format!("2026-11-{:02}", 10 + d)).collect()
}

/// Per day, each user's gender and whether active; the population grows daily.
fn population(n_days: usize) -> Vec<BTreeMap<String, (&'static str, bool)>> {
    let mut x: u64 = 7;
    let mut next = move || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x >> 33
    };
    (0..n_days)
        .map(|d| {
            (0..300 + 40 * d)
                .map(|u| (format!("u{u}"), (if u % 3 == 0 { "male" } else { "female" }, next() % 10 < 4)))
                .collect()
        })
        .collect()
}

fn upload_day(
    t: &TestServer,
    token: &str,
    app: &str,
    ds: &str,
    day: &BTreeMap<String, (&str, bool)>,
) -> Result<(), Error> {
    let mut gender = String::from("user_id,value\n");
    let mut active = String::from("user_id,value\n");
    for (u, (g, a)) in day {
        gender.push_str(&format!("{u},{g}\n"));
        if *a {
            active.push_str(&format!("{u},true\n"));
        }
    }
    t.ok("PUT", &format!("/api/v1/apps/{app}/days/{ds}/tags/gender"), token, Some(gender.as_bytes()))?;
    t.ok("PUT", &format!("/api/v1/apps/{app}/days/{ds}/tags/active_1d?kind=boolean"), token, Some(active.as_bytes()))?;
    Ok(())
}

#[test]
fn a_backfill_killed_midway_completes_after_restart_with_no_new_write() -> Result<(), Error> {
    const N: usize = 8;
    let mut t = TestServer::start(ADMIN, &["--job-step-delay-ms", "400"])?;
    let token = t.app_with_token("k", "editor")?;
    let (ds, pop) = (days(N), population(N));
    for d in 0..N {
        upload_day(&t, &token, "k", &ds[d], &pop[d])?;
    }
    let seg = json!({"id": "active-women", "name": "Active women", "kind": "dynamic",
        "rule": {"all": [{"tag": "gender", "in": ["female"]}, {"tag": "active_1d", "in": ["true"]}]}});
    t.ok("POST", "/api/v1/apps/k/segments", &token, Some(seg.to_string().as_bytes()))?;
    // Every day is queued with the change; the latest is computed before the answer, the
    // others by the worker, one every 400 ms here.
    let job = t.wait_for_segments_job(&token, "k", "a few days in", |j| j["done"].as_u64() >= Some(2))?;
    assert_eq!(job["total"], N as u64, "{job}");
    assert!(job["done"].as_u64() < Some(N as u64 - 1), "the kill must land mid-backfill: {job}");

    t.kill_and_restart(&[])?;
    // No write after the restart: the worker resumes what the store says is pending.
    let job = t.wait_for_segments_job(&token, "k", "after the restart", |j| j["state"] == "done")?;
    assert_eq!((job["done"].as_u64(), job["total"].as_u64()), (Some(N as u64), Some(N as u64)), "{job}");
    assert_eq!(job["pending"], json!({}));
    assert_eq!(job["lease"], Value::Null, "a finished job holds no claim");

    let h = t.ok("GET", "/api/v1/apps/k/segments/active-women/history", &token, None)?;
    assert_eq!(h["backfill"]["state"], "done");
    let got = h["days"].as_array().ok_or("days")?;
    assert_eq!(got.len(), N);
    for (d, day) in got.iter().enumerate() {
        let naive = pop[d].values().filter(|(g, a)| *g == "female" && *a).count() as u64;
        assert_eq!(day["size"].as_u64(), Some(naive), "{}: {day}", ds[d]);
    }
    Ok(())
}

#[test]
fn a_rule_that_cannot_be_computed_on_a_day_says_why() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("r", "editor")?;
    let (ds, pop) = (days(3), population(3));
    for d in 0..3 {
        upload_day(&t, &token, "r", &ds[d], &pop[d])?;
    }
    // `vip` exists only on the latest day: the rule validates, but the earlier days lack it.
    t.ok("PUT", &format!("/api/v1/apps/r/days/{}/tags/vip", ds[2]), &token, Some(b"user_id,value\nu1,yes\nu2,yes\n"))?;
    let seg = json!({"id": "vips", "name": "VIPs", "kind": "dynamic", "rule": {"tag": "vip", "in": ["yes"]}});
    t.ok("POST", "/api/v1/apps/r/segments", &token, Some(seg.to_string().as_bytes()))?;
    let job = t.wait_for_segments_job(&token, "r", "backfill", |j| j["state"] == "done")?;
    let problems = job["problems"].as_array().ok_or("problems")?;
    let listed: BTreeSet<(&str, &str)> =
        problems.iter().filter_map(|p| Some((p["ds"].as_str()?, p["segment"].as_str()?))).collect();
    assert_eq!(listed, BTreeSet::from([(ds[0].as_str(), "vips"), (ds[1].as_str(), "vips")]), "{job}");
    assert!(problems.iter().all(|p| p["message"].as_str().is_some_and(|m| m.contains("vip"))), "{job}");

    let h = t.ok("GET", "/api/v1/apps/r/segments/vips/history", &token, None)?;
    let got = h["days"].as_array().ok_or("days")?;
    for day in &got[..2] {
        assert!(day["size"].is_null(), "{day}");
        assert!(day["error"].as_str().is_some_and(|e| e.contains("vip")), "the day says why: {day}");
    }
    assert_eq!(got[2]["size"], 2);
    assert!(got[2].get("error").is_none(), "{}", got[2]);
    // Once the tag is uploaded for an earlier day, that day computes and the error is gone.
    t.ok("PUT", &format!("/api/v1/apps/r/days/{}/tags/vip", ds[0]), &token, Some(b"user_id,value\nu1,yes\n"))?;
    let h = t.ok("GET", "/api/v1/apps/r/segments/vips/history", &token, None)?;
    // The upload carried `vip` forward into day 2 as well (it had no newer load there).
    assert_eq!((h["days"][0]["size"].as_u64(), h["days"][1]["size"].as_u64()), (Some(1), Some(1)), "{h}");
    assert!(h["days"][0].get("error").is_none());
    Ok(())
}

#[test]
fn a_failing_step_is_visible_while_it_retries_and_completes_after_recovery() -> Result<(), Error> {
    let control = tempfile::NamedTempFile::new()?;
    let path = control.path().to_owned();
    std::fs::remove_file(&path)?; // no control file: no faults yet
    let t = TestServer::start_with_env(ADMIN, &["--job-step-delay-ms", "300"], &[("SIEVE_FAULTS", path.as_os_str())])?;
    let token = t.app_with_token("f", "editor")?;
    let (ds, pop) = (days(4), population(4));
    for d in 0..4 {
        upload_day(&t, &token, "f", &ds[d], &pop[d])?;
    }
    let seg = json!({"id": "men", "name": "Men", "kind": "dynamic", "rule": {"tag": "gender", "in": ["male"]}});
    t.ok("POST", "/api/v1/apps/f/segments", &token, Some(seg.to_string().as_bytes()))?;
    // The disk fills while the backfill runs: a step fails and the job backs off, saying why.
    // Blobs only: the job must still be able to record its failure in the metadata store.
    std::fs::write(&path, "blob enospc\n")?;
    let job = t.wait_for_segments_job(&token, "f", "a failed attempt", |j| j["state"] == "retrying")?;
    assert!(job["attempts"].as_u64() >= Some(1), "{job}");
    assert!(job["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{job}");
    let h = t.ok("GET", "/api/v1/apps/f/segments/men/history", &token, None)?;
    assert_eq!(h["backfill"]["state"], "retrying", "{h}");
    assert!(h["backfill"]["error"].is_string() && h["backfill"]["next_attempt_ms"].is_u64(), "{h}");
    // Space again: the retry completes every day.
    std::fs::remove_file(&path)?;
    t.wait_for_segments_job(&token, "f", "recovery", |j| j["state"] == "done")?;
    let h = t.ok("GET", "/api/v1/apps/f/segments/men/history", &token, None)?;
    for (d, day) in h["days"].as_array().ok_or("days")?.iter().enumerate() {
        let naive = pop[d].values().filter(|(g, _)| *g == "male").count() as u64;
        assert_eq!(day["size"].as_u64(), Some(naive), "{day}");
    }
    Ok(())
}

#[test]
fn a_late_event_upload_recomputes_the_later_days_its_windows_reach() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("e", "editor")?;
    let (ds, pop) = (days(5), population(5));
    // Buyers per day: day d's buyers are users whose number ≡ d (mod 7).
    let mut buyers: Vec<BTreeSet<String>> = (0..5)
        .map(|d| pop[d].keys().filter(|u| u[1..].parse::<usize>().is_ok_and(|n| n % 7 == d)).cloned().collect())
        .collect();
    let events = |set: &BTreeSet<String>| {
        let mut csv = String::from("user_id,count\n");
        for u in set {
            csv.push_str(&format!("{u},1\n"));
        }
        csv
    };
    for d in 0..5 {
        upload_day(&t, &token, "e", &ds[d], &pop[d])?;
        t.ok(
            "PUT",
            &format!("/api/v1/apps/e/days/{}/events/purchase", ds[d]),
            &token,
            Some(events(&buyers[d]).as_bytes()),
        )?;
    }
    let seg = json!({"id": "recent", "name": "Bought in 3 days", "kind": "dynamic",
        "rule": {"event": "purchase", "last_days": 3, "count": {">=": 1}}});
    t.ok("POST", "/api/v1/apps/e/segments", &token, Some(seg.to_string().as_bytes()))?;
    t.wait_for_segments_job(&token, "e", "backfill", |j| j["state"] == "done")?;
    // A corrected upload for day 1 (index 1): many more buyers. Days 2 and 3 see it in their
    // windows; day 4's window (2..4) does not, and day 1 itself is republished at once.
    buyers[1] = pop[1].keys().filter(|u| u[1..].parse::<usize>().is_ok_and(|n| n % 2 == 0)).cloned().collect();
    t.ok(
        "PUT",
        &format!("/api/v1/apps/e/days/{}/events/purchase", ds[1]),
        &token,
        Some(events(&buyers[1]).as_bytes()),
    )?;
    let job = t.wait_for_segments_job(&token, "e", "recompute", |j| j["state"] == "done")?;
    assert_eq!(job["total"], 3, "the later days inside the longest window (90 days) are queued: {job}");
    let h = t.ok("GET", "/api/v1/apps/e/segments/recent/history", &token, None)?;
    for (d, day) in h["days"].as_array().ok_or("days")?.iter().enumerate() {
        let window: BTreeSet<&String> = (d.saturating_sub(2)..=d).flat_map(|w| buyers[w].iter()).collect();
        assert_eq!(day["size"].as_u64(), Some(window.len() as u64), "{}: {day}", ds[d]);
    }
    Ok(())
}
