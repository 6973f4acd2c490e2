//! Segment history on the real binary: a segment created after several days were published is
//! backfilled by the durable job; its size, entered, left and metric rates per day equal a
//! naive recomputation from the uploaded rows; a newly published day is computed on publish.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::json;
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "history-admin";
const DAYS: [&str; 5] = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];

/// Day-by-day data: per day, each user's gender and whether active.
fn data() -> Vec<BTreeMap<String, (&'static str, bool)>> {
    let mut x: u64 = 99;
    let mut next = move || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x >> 33
    };
    DAYS.iter()
        .enumerate()
        .map(|(d, _)| {
            // The population grows by 200 users a day; activity changes daily.
            (0..1000 + 200 * d)
                .map(|u| {
                    let gender = if u % 3 == 0 { "male" } else { "female" };
                    (format!("user{u}"), (gender, next() % 10 < 4))
                })
                .collect()
        })
        .collect()
}

#[test]
fn history_matches_a_naive_recomputation() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("h", "editor")?;
    let call = |method: &str, path: &str, body: Option<&[u8]>| t.ok(method, path, &token, body);
    let days = data();
    let upload = |d: usize| -> Result<(), Error> {
        let mut gender = String::from("user_id,value\n");
        let mut active = String::from("user_id,value\n");
        for (u, (g, a)) in &days[d] {
            gender.push_str(&format!("{u},{g}\n"));
            if *a {
                active.push_str(&format!("{u},true\n"));
            }
        }
        call("PUT", &format!("/api/v1/apps/h/days/{}/tags/gender", DAYS[d]), Some(gender.as_bytes()))?;
        call("PUT", &format!("/api/v1/apps/h/days/{}/tags/active_1d?kind=boolean", DAYS[d]), Some(active.as_bytes()))?;
        Ok(())
    };
    for d in 0..4 {
        upload(d)?;
    }
    let seg = json!({"id": "active-women", "name": "Active women", "kind": "dynamic",
        "rule": {"all": [{"tag": "gender", "in": ["female"]}, {"tag": "active_1d", "in": ["true"]}]}});
    call("POST", "/api/v1/apps/h/segments", Some(seg.to_string().as_bytes()))?;

    // Wait for the background backfill of the three older days.
    let path = "/api/v1/apps/h/segments/active-women/history?metrics=active_1d";
    let started = Instant::now();
    let mut h = call("GET", path, None)?;
    while h["backfill"]["state"] != "done" {
        assert!(started.elapsed() < Duration::from_secs(30), "backfill did not finish: {h}");
        std::thread::sleep(Duration::from_millis(100));
        h = call("GET", path, None)?;
    }
    // Every published day is queued with the change; the latest is computed before the answer.
    assert_eq!((h["backfill"]["total"].as_u64(), h["backfill"]["done"].as_u64()), (Some(4), Some(4)));
    // A new day is computed on publish, without a backfill.
    upload(4)?;
    let h = call("GET", path, None)?;
    let got = h["days"].as_array().ok_or("days")?;
    assert_eq!(got.len(), DAYS.len());

    let members: Vec<BTreeSet<&String>> =
        days.iter().map(|d| d.iter().filter(|(_, (g, a))| *g == "female" && *a).map(|(u, _)| u).collect()).collect();
    for (i, day) in got.iter().enumerate() {
        assert_eq!(day["ds"], DAYS[i]);
        assert_eq!(day["size"].as_u64(), Some(members[i].len() as u64), "{}", DAYS[i]);
        assert_eq!(day["universe"].as_u64(), Some(days[i].len() as u64), "{}", DAYS[i]);
        if i == 0 {
            assert!(day["entered"].is_null() && day["left"].is_null(), "no day before the first");
        } else {
            let entered = members[i].difference(&members[i - 1]).count() as u64;
            let left = members[i - 1].difference(&members[i]).count() as u64;
            assert_eq!((day["entered"].as_u64(), day["left"].as_u64()), (Some(entered), Some(left)), "{}", DAYS[i]);
        }
        // Every member is active, so the segment's activity rate is 1; all users' is the share active.
        let all = days[i].values().filter(|(_, a)| *a).count() as f64 / days[i].len() as f64;
        assert_eq!(day["metrics"]["active_1d"]["segment"].as_f64(), Some(1.0));
        let got_all = day["metrics"]["active_1d"]["all"].as_f64().ok_or("all")?;
        assert!((got_all - all).abs() < 1e-12, "{}: {got_all} vs {all}", DAYS[i]);
    }
    // A range starting mid-way still knows the day before it.
    let h = call("GET", "/api/v1/apps/h/segments/active-women/history?from=2026-11-18&to=2026-11-19", None)?;
    let got = h["days"].as_array().ok_or("days")?;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["entered"].as_u64(), Some(members[2].difference(&members[1]).count() as u64));
    // Bad input names the field.
    let r = t.call("GET", "/api/v1/apps/h/segments/active-women/history?from=yesterday", &token, None)?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("from")));
    Ok(())
}
