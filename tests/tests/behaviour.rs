//! Numeric and event conditions on the real binary: uploads of a numeric tag (with decimals)
//! and of daily event counts over several days (one day missing, one with only the header);
//! `/estimate` on both tiers, a dynamic segment recomputed on publish, and `/user/tags` agree
//! with a naive computation from the uploaded rows; bad rules are 400s naming the JSON path.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "behaviour-admin";
/// Days of the window; 2026-11-17 gets no purchase upload, 2026-11-18 only the header.
const DAYS: [&str; 5] = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];
const USERS: usize = 3_000;

/// Generated data: spend per user (cents, some users without), purchases per user per day.
struct Data {
    spend: Vec<Option<i64>>,
    /// `purchases[d][u]`; all zero on days without (useful) uploads.
    purchases: Vec<Vec<u64>>,
}

fn data() -> Data {
    let mut x: u64 = 7;
    let mut next = move |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let spend = (0..USERS).map(|_| (next(10) < 8).then(|| i64::try_from(next(50_000)).unwrap_or(0))).collect();
    let purchases = DAYS
        .iter()
        .map(|ds| {
            (0..USERS)
                .map(|_| {
                    let roll = next(100);
                    if *ds == "2026-11-17" || *ds == "2026-11-18" || roll >= 30 { 0 } else { 1 + next(4) }
                })
                .collect()
        })
        .collect();
    Data { spend, purchases }
}

fn user(u: usize) -> String {
    format!("u{u:05}")
}

fn cents(v: i64) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

#[test]
fn numeric_and_event_conditions_end_to_end() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("b", "editor")?;
    let call = |method: &str, path: &str, body: Option<&[u8]>| t.ok(method, path, &token, body);
    let d = data();
    for (di, ds) in DAYS.iter().enumerate() {
        // Everyone appears every day through a plain tag, so the universe is all users.
        let mut seen = String::from("user_id,value\n");
        (0..USERS).for_each(|u| seen.push_str(&format!("{},true\n", user(u))));
        call("PUT", &format!("/api/v1/apps/b/days/{ds}/tags/seen?kind=boolean"), Some(seen.as_bytes()))?;
        if *ds == "2026-11-17" {
            continue; // no purchase upload at all: a missing day
        }
        let mut buys = String::from("user_id,count\n");
        for (u, c) in d.purchases[di].iter().enumerate().filter(|(_, c)| **c > 0) {
            buys.push_str(&format!("{},{c}\n", user(u)));
        }
        call("PUT", &format!("/api/v1/apps/b/days/{ds}/events/purchase"), Some(buys.as_bytes()))?;
    }
    let mut spend = String::from("user_id,value\n");
    for (u, v) in d.spend.iter().enumerate() {
        if let Some(v) = v {
            spend.push_str(&format!("{},{}\n", user(u), cents(*v)));
        }
    }
    call("PUT", "/api/v1/apps/b/days/2026-11-20/tags/spend_30d?kind=numeric&scale=2", Some(spend.as_bytes()))?;

    // The oracle: plain loops over the generated rows.
    let window = |last: usize| DAYS.len() - last..DAYS.len();
    let count_in = |u: usize, last: usize| window(last).map(|di| d.purchases[di][u]).sum::<u64>();
    let days_in = |u: usize, last: usize| window(last).filter(|&di| d.purchases[di][u] > 0).count() as u64;
    let naive = |pred: &dyn Fn(usize) -> bool| (0..USERS).filter(|&u| pred(u)).count() as u64;

    let estimate = |rule: Value, tier: &str| -> Result<Value, Error> {
        call("POST", "/api/v1/apps/b/estimate", Some(json!({"rule": rule, "tier": tier}).to_string().as_bytes()))
    };
    let cases: Vec<(Value, u64)> = vec![
        (json!({"tag": "spend_30d", ">=": 100}), naive(&|u| d.spend[u].is_some_and(|v| v >= 10_000))),
        (
            json!({"tag": "spend_30d", "between": [12.5, 250.75]}),
            naive(&|u| d.spend[u].is_some_and(|v| (1_250..=25_075).contains(&v))),
        ),
        (json!({"tag": "spend_30d", "!=": 0}), naive(&|u| d.spend[u].is_some_and(|v| v != 0))),
        (json!({"tag": "spend_30d", "<": 0.005}), naive(&|u| d.spend[u].is_some_and(|v| v == 0))),
        (json!({"event": "purchase", "last_days": 5, "count": {">=": 3}}), naive(&|u| count_in(u, 5) >= 3)),
        (json!({"event": "purchase", "last_days": 2, "count": {"<=": 1}}), naive(&|u| count_in(u, 2) <= 1)),
        (
            json!({"event": "purchase", "last_days": 5, "days": {"between": [1, 2]}}),
            naive(&|u| (1..=2).contains(&days_in(u, 5))),
        ),
        (
            json!({"all": [{"tag": "spend_30d", ">": 200}, {"not": {"event": "purchase", "last_days": 3, "count": {">=": 1}}}]}),
            naive(&|u| d.spend[u].is_some_and(|v| v > 20_000) && count_in(u, 3) == 0),
        ),
    ];
    for (rule, expected) in &cases {
        let exact = estimate(rule.clone(), "exact")?;
        assert_eq!(exact["count"].as_u64(), Some(*expected), "{rule}: {exact}");
        let sample = estimate(rule.clone(), "sample")?;
        let ci = &sample["ci95"];
        let (lo, hi) = (ci[0].as_u64().unwrap_or(u64::MAX), ci[1].as_u64().unwrap_or(0));
        assert!(lo <= *expected && *expected <= hi, "{rule}: sample interval {ci} misses {expected}");
    }

    // Windows reaching the missing day say so; the header-only day is data (nobody bought).
    let e = estimate(json!({"event": "purchase", "last_days": 5, "count": {">=": 1}}), "exact")?;
    assert_eq!(e["warnings"].as_array().map(Vec::len), Some(1), "{e}");
    assert_eq!(e["warnings"][0]["missing_days"], json!(["2026-11-17"]));
    assert_eq!(e["warnings"][0]["path"], json!("$"));
    let e = estimate(json!({"event": "purchase", "last_days": 3, "count": {">=": 1}}), "exact")?;
    assert_eq!(e["warnings"], json!([]), "2026-11-18 had an upload (header only)");
    // Days before the first published day are missing too.
    let e = estimate(json!({"all": [{"event": "purchase", "last_days": 7, "days": {">=": 1}}]}), "exact")?;
    assert_eq!(e["warnings"][0]["missing_days"], json!(["2026-11-14", "2026-11-15", "2026-11-17"]));
    assert_eq!(e["warnings"][0]["path"], json!("all[0]"));

    // The browser's view of the window: the published days with their event entries.
    let w = call("GET", "/api/v1/apps/b/days/2026-11-20/events?last_days=5", None)?;
    let listed: Vec<(&str, usize)> = w["days"]
        .as_array()
        .ok_or("days")?
        .iter()
        .map(|day| (day["ds"].as_str().unwrap_or(""), day["events"].as_array().map_or(0, Vec::len)))
        .collect();
    assert_eq!(listed, [("2026-11-16", 1), ("2026-11-17", 0), ("2026-11-18", 1), ("2026-11-19", 1), ("2026-11-20", 1)]);
    assert_eq!(w["days"][2]["events"][0]["users"], json!(0));

    // Bad rules: 400 naming the path; nothing else changes.
    for (rule, path) in [
        (json!({"all": [{"event": "refund", "last_days": 7, "count": {">=": 1}}]}), "all[0].event"),
        (json!({"event": "purchase", "last_days": 91, "count": {">=": 1}}), "last_days"),
        (json!({"event": "purchase", "last_days": 7, "count": {"~": 1}}), "count"),
        (json!({"tag": "spend_30d", "between": [300, 100]}), "between"),
        (json!({"tag": "seen", ">=": 1}), ">="),
        (json!({"tag": "spend_30d", "in": ["1"]}), "in"),
    ] {
        let r =
            t.call("POST", "/api/v1/apps/b/estimate", &token, Some(json!({"rule": rule}).to_string().as_bytes()))?;
        assert_eq!(r.status, 400, "{rule}: {}", r.body);
        let body = r.json()?;
        assert_eq!(body["path"], json!(path), "{rule}: {body}");
    }
    let r = t.call("GET", "/api/v1/apps/b/days/2026-11-20/events?last_days=0", &token, None)?;
    assert_eq!(r.status, 400, "{}", r.body);

    // A dynamic segment with an event window: members on the latest day equal the oracle.
    let rule =
        json!({"all": [{"event": "purchase", "last_days": 5, "count": {">=": 2}}, {"tag": "spend_30d", "<": 300}]});
    let seg = json!({"id": "repeat-buyers", "name": "Repeat buyers", "kind": "dynamic", "rule": rule});
    call("POST", "/api/v1/apps/b/segments", Some(seg.to_string().as_bytes()))?;
    let members = t.call("GET", "/api/v1/apps/b/segments/repeat-buyers/members?ds=2026-11-20", &token, None)?;
    assert_eq!(members.status, 200, "{}", members.body);
    let mut got: Vec<String> = members.body.lines().skip(1).map(str::to_owned).collect();
    got.sort();
    let expected: Vec<String> =
        (0..USERS).filter(|&u| count_in(u, 5) >= 2 && d.spend[u].is_some_and(|v| v < 30_000)).map(user).collect();
    assert_eq!(got, expected);

    // Membership: numeric values as decimals and the day's event counts.
    let buyer = (0..USERS).find(|&u| d.purchases[4][u] > 0 && d.spend[u].is_some()).ok_or("a buyer with spend")?;
    let tags = call("GET", &format!("/api/v1/apps/b/users/{}/tags", user(buyer)), None)?;
    let spend_text = d.spend[buyer].map(cents).ok_or("spend")?;
    assert_eq!(tags["tags"]["spend_30d"], json!([spend_text]));
    assert_eq!(tags["events"], json!({"purchase": d.purchases[4][buyer]}));
    let idle = (0..USERS).find(|&u| d.purchases[4][u] == 0).ok_or("an idle user")?;
    let tags = call("GET", &format!("/api/v1/apps/b/users/{}/tags", user(idle)), None)?;
    assert_eq!(tags["events"], json!({}));
    let earlier: BTreeMap<String, Value> = serde_json::from_value(
        call("GET", &format!("/api/v1/apps/b/users/{}/tags?ds=2026-11-19", user(buyer)), None)?["events"].clone(),
    )?;
    let expected_then = d.purchases[3][buyer];
    assert_eq!(earlier.get("purchase").and_then(Value::as_u64), (expected_then > 0).then_some(expected_then));
    Ok(())
}
