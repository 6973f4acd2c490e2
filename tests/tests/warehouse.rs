//! Data where the warehouse keeps it, with the real ClickHouse (chDB) as the other side: a `u32`
//! app fed only `groupBitmapState` bitmaps made by ClickHouse from rows must publish the very
//! same bitmaps, and answer estimates, funnels, membership and exports exactly as an app fed
//! the rows as CSV; its exports in ClickHouse's format load back into ClickHouse as the same
//! users; and bad bitmaps (64-bit, not base64, not a bitmap) are 400s naming the row that change
//! nothing.

use std::collections::BTreeSet;

use serde_json::json;
use sieve_tests::{Error, Rng, TestServer, chdb};

const ADMIN: &str = "warehouse-admin";
const DAYS: [&str; 2] = ["2026-11-19", "2026-11-20"];

/// One upload of a day: its route (with query), the key column of its bitmap form, and its
/// rows (`user_id`, value).
type Table = (&'static str, &'static str, Vec<(String, String)>);

/// Rows (`user_id`, value) per table of a day: plan (with a value of 7 users, a ClickHouse
/// small set), vip (boolean), score (numeric, one decimal) and visit counts.
fn tables(rng: &mut Rng, users: &[u32]) -> Vec<Table> {
    let mut plan = Vec::new();
    let mut vip = Vec::new();
    let mut score = Vec::new();
    let mut visit = Vec::new();
    for (i, &u) in users.iter().enumerate() {
        let p = if i < 7 { "rare" } else { ["free", "pro", "team"][rng.below(3)] };
        plan.push((u.to_string(), p.to_owned()));
        if rng.below(4) == 0 {
            plan.push((u.to_string(), "beta".to_owned())); // multi-valued
        }
        vip.push((u.to_string(), if rng.below(5) == 0 { "true" } else { "false" }.to_owned()));
        if rng.below(3) > 0 {
            score.push((u.to_string(), format!("{}.{}", rng.below(200) as i64 - 50, rng.below(10))));
        }
        if rng.below(2) == 0 {
            visit.push((u.to_string(), (1 + rng.below(5)).to_string()));
        }
    }
    vec![
        ("tags/plan", "value", plan),
        ("tags/vip?kind=boolean", "value", vip),
        ("tags/score?kind=numeric&scale=1", "number", score),
        ("events/visit", "count", visit),
    ]
}

fn csv_of(header: &str, rows: &[(String, String)]) -> String {
    let mut out = format!("user_id,{header}\n");
    for (u, v) in rows {
        out.push_str(&format!("{u},{v}\n"));
    }
    out
}

#[test]
fn bitmaps_made_by_clickhouse_publish_and_answer_exactly_as_csv_rows() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let mut tokens = Vec::new();
    for app in ["rows", "bits"] {
        t.ok(
            "POST",
            "/api/v1/apps",
            ADMIN,
            Some(json!({"id": app, "name": app, "ids": "u32"}).to_string().as_bytes()),
        )?;
        tokens.push(t.token(app, "editor")?);
    }
    let (rows_token, bits_token) = (&tokens[0], &tokens[1]);
    let mut rng = Rng(7);
    let mut all: Vec<u32> = vec![0, u32::MAX];
    all.extend((0..4_000).map(|_| (rng.next_u64() >> 32) as u32));
    all.extend(1_000_000..1_003_000); // a dense run: bitset containers in the states
    let all: Vec<u32> = all.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    for (d, ds) in DAYS.iter().enumerate() {
        let users: Vec<u32> = all.iter().copied().filter(|u| d == 1 || u % 3 != 0).collect();
        let day = tables(&mut rng, &users);
        let request =
            json!({"tables": day.iter().map(|(_, key, rows)| json!({"key": key, "rows": rows})).collect::<Vec<_>>()});
        let made = chdb(&request)?;
        for (i, (path, header, rows)) in day.iter().enumerate() {
            let (route, query) = path.split_once('?').map_or((*path, ""), |(r, q)| (r, q));
            let sep = if query.is_empty() { "" } else { "&" };
            let csv = csv_of(if *header == "count" { "count" } else { "value" }, rows);
            t.ok("PUT", &format!("/api/v1/apps/rows/days/{ds}/{route}?{query}"), rows_token, Some(csv.as_bytes()))?;
            let bitmaps = made["csv"][i].as_str().ok_or("csv")?;
            let url = format!("/api/v1/apps/bits/days/{ds}/{route}?{query}{sep}format=bitmaps");
            let r = t.ok("PUT", &url, bits_token, Some(bitmaps.as_bytes()))?;
            assert_eq!(r["users"].as_u64(), Some(rows.iter().map(|r| &r.0).collect::<BTreeSet<_>>().len() as u64));
        }
    }

    // The same bitmaps were published: every blob of both manifests is the same.
    for ds in DAYS {
        let a = t.ok("GET", &format!("/api/v1/apps/rows/days/{ds}/manifest"), rows_token, None)?;
        let b = t.ok("GET", &format!("/api/v1/apps/bits/days/{ds}/manifest"), bits_token, None)?;
        for key in ["universe", "sample", "groups", "events"] {
            assert_eq!(a[key], b[key], "{ds}: {key}");
        }
    }

    // Estimates with funnels, a segment's members (CSV and bitmaps), membership: the same.
    let rules = [
        json!({"all": [{"tag": "plan", "in": ["pro", "rare"]}, {"tag": "vip", "in": ["true"]}, {"tag": "score", ">=": 10.5}]}),
        json!({"all": [{"event": "visit", "last_days": 2, "count": {">=": 5}}, {"not": {"tag": "plan", "in": ["beta"]}}]}),
        json!({"tag": "plan", "in": ["rare"]}),
    ];
    for rule in &rules {
        let body = json!({"rule": rule, "tier": "exact"}).to_string();
        let a = t.ok("POST", "/api/v1/apps/rows/estimate", rows_token, Some(body.as_bytes()))?;
        let b = t.ok("POST", "/api/v1/apps/bits/estimate", bits_token, Some(body.as_bytes()))?;
        assert_eq!((&a["count"], &a["steps"]), (&b["count"], &b["steps"]), "{rule}");
    }
    let seg = json!({"id": "keen", "name": "Keen", "rule": rules[0]}).to_string();
    let mut members = Vec::new();
    for (app, token) in [("rows", rows_token), ("bits", bits_token)] {
        t.ok("POST", &format!("/api/v1/apps/{app}/segments"), token, Some(seg.as_bytes()))?;
        t.wait_for_segments_job(token, app, "backfill", |j| j["state"] == "done")?;
        let r = t.call("GET", &format!("/api/v1/apps/{app}/segments/keen/members"), token, None)?;
        members.push(r.body.lines().skip(1).map(|l| l.parse::<u32>()).collect::<Result<Vec<u32>, _>>()?);
    }
    assert_eq!(members[0], members[1], "CSV exports");
    assert!(members[0].len() > 10, "the segment has members: {}", members[0].len());
    let exported = t.call("GET", "/api/v1/apps/bits/segments/keen/members?format=clickhouse", bits_token, None)?;
    assert_eq!(exported.status, 200);
    let state = exported.bytes.clone();
    let roaring = t.call("GET", "/api/v1/apps/bits/segments/keen/members?format=roaring", bits_token, None)?;
    let portable = roaring::RoaringBitmap::deserialize_from(&roaring.bytes[..])?;
    assert_eq!(portable.iter().collect::<Vec<_>>(), members[0], "roaring-rs reads the portable export");
    let b64 = base64_of(&state);
    let back = chdb(&json!({"read": [b64]}))?;
    let read: Vec<u32> = serde_json::from_value(back["read"][0].clone())?;
    assert_eq!(read, members[0], "ClickHouse reads the groupBitmap export as the segment");
    for &u in members[0].iter().step_by(13).chain(&[all[0], all[all.len() - 1]]) {
        let mut a = t.ok("GET", &format!("/api/v1/apps/rows/users/{u}/tags"), rows_token, None)?;
        let mut b = t.ok("GET", &format!("/api/v1/apps/bits/users/{u}/tags"), bits_token, None)?;
        for v in [&mut a, &mut b] {
            v.as_object_mut().ok_or("object")?.remove("version");
        }
        assert_eq!(a, b, "user {u}");
    }

    // Bad bitmaps are 400s naming the row; nothing changes.
    let before = t.ok("GET", &format!("/api/v1/apps/bits/days/{}/manifest", DAYS[1]), bits_token, None)?;
    let wide =
        chdb(&json!({"tables": [{"key": "value", "type": "UInt64", "rows": [["5000000000", "x"], ["1", "y"]]}]}))?;
    let good_row = format!("a,{}\n", base64_of(&state));
    let cases: Vec<(String, u64, &str)> = vec![
        (wide["csv"][0].as_str().ok_or("csv")?.to_owned(), 2, "64-bit"),
        (format!("value,bitmap\n{good_row}b,@@@\n"), 3, "base64"),
        (format!("value,bitmap\n{good_row}b,eyJ4IjoxfQ==\n"), 3, "not a bitmap"),
        (format!("value,bitmap\n{good_row}b,{}\n", &base64_of(&state)[..8]), 3, ""),
    ];
    for (body, line, says) in &cases {
        let r = t.call(
            "PUT",
            &format!("/api/v1/apps/bits/days/{}/tags/plan?format=bitmaps", DAYS[1]),
            bits_token,
            Some(body.as_bytes()),
        )?;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let e = r.json()?;
        assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(*line), Some(2)), "{e}");
        assert!(e["message"].as_str().unwrap_or_default().contains(says), "{e} should say {says}");
    }
    let after = t.ok("GET", &format!("/api/v1/apps/bits/days/{}/manifest", DAYS[1]), bits_token, None)?;
    assert_eq!(before, after, "refused uploads change nothing");

    // A string app takes neither bitmap uploads nor bitmap exports, and says why.
    let strings = t.app_with_token("names", "editor")?;
    let r = t.call(
        "PUT",
        &format!("/api/v1/apps/names/days/{}/tags/plan?format=bitmaps", DAYS[1]),
        &strings,
        Some(good_row.as_bytes()),
    )?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("format")), "{}", r.body);
    t.ok("PUT", &format!("/api/v1/apps/names/days/{}/tags/plan", DAYS[1]), &strings, Some(b"user_id,value\nu1,a\n"))?;
    t.ok(
        "POST",
        "/api/v1/apps/names/segments",
        &strings,
        Some(json!({"id": "a", "name": "A", "rule": {"tag": "plan", "in": ["a"]}}).to_string().as_bytes()),
    )?;
    let r = t.call("GET", "/api/v1/apps/names/segments/a/members?format=clickhouse", &strings, None)?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("format")), "{}", r.body);
    Ok(())
}

fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
