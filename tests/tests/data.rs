//! Data routes on the real binary: uploads, hot publish, carry-forward and backfill, retention,
//! snapshots and blobs, estimates, membership, static members. Expected answers are computed
//! here from the rows the test uploads (a plain-Rust oracle), not by the engine.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sieve_tests::{Error, Reply, TestServer};

const ADMIN: &str = "test-admin-token";

struct Env {
    t: TestServer,
}

impl Env {
    fn start(extra: &[&str]) -> Result<Env, Error> {
        Ok(Env { t: TestServer::start(ADMIN, extra)? })
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<&[u8]>) -> Result<Reply, Error> {
        self.t.call(method, path, token, body)
    }

    fn ok(&self, method: &str, path: &str, token: &str, body: Option<&[u8]>) -> Result<Value, Error> {
        self.t.ok(method, path, token, body)
    }

    /// Creates an app and returns (editor, viewer) tokens.
    fn app(&self, id: &str) -> Result<(String, String), Error> {
        Ok((self.t.app_with_token(id, "editor")?, self.t.token(id, "viewer")?))
    }

    fn put_tag(&self, app: &str, ds: &str, group: &str, query: &str, csv: &str, token: &str) -> Result<Reply, Error> {
        self.call("PUT", &format!("/api/v1/apps/{app}/days/{ds}/tags/{group}?{query}"), token, Some(csv.as_bytes()))
    }

    fn manifest(&self, app: &str, ds: &str, token: &str) -> Result<Value, Error> {
        self.ok("GET", &format!("/api/v1/apps/{app}/days/{ds}/manifest"), token, None)
    }

    fn estimate(&self, app: &str, token: &str, body: Value) -> Result<Value, Error> {
        self.ok("POST", &format!("/api/v1/apps/{app}/estimate"), token, Some(body.to_string().as_bytes()))
    }
}

fn csv(header: &str, rows: &[(&str, &str)]) -> String {
    let mut s = format!("user_id,{header}\n");
    for (u, v) in rows {
        s.push_str(&format!("{u},{v}\n"));
    }
    s
}

fn group<'a>(m: &'a Value, name: &str) -> Option<&'a Value> {
    m["groups"].as_array()?.iter().find(|g| g["name"] == name)
}

#[test]
fn upload_publish_estimate_and_lookup() -> Result<(), Error> {
    let env = Env::start(&[])?;
    let (editor, viewer) = env.app("shop")?;
    let gender = [("a", "female"), ("b", "female"), ("c", "male"), ("d", "female"), ("e", "male"), ("f", "female")];
    let province = [("a", "Guangdong"), ("b", "Zhejiang"), ("c", "Guangdong"), ("d", "Sichuan"), ("f", "Guangdong")];
    let active = [("a", "true"), ("c", "true"), ("e", "true")];
    let interests = [("a", "books"), ("a", "sports"), ("b", "sports"), ("f", "beauty")];
    let spend = [("a", "129.50"), ("b", "0"), ("d", "12.05")];
    let ds = "2026-11-20";
    let r = env.put_tag(
        "shop",
        ds,
        "gender",
        "kind=categorical&category=demographics/basic",
        &csv("value", &gender),
        &editor,
    )?;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json()?;
    assert_eq!(
        (v["rows"].as_u64(), v["users"].as_u64(), v["values"].as_u64(), v["new_ids"].as_u64()),
        (Some(6), Some(6), Some(2), Some(6))
    );
    assert_eq!(v["changed"], true);
    env.put_tag("shop", ds, "province", "category=demographics/location", &csv("value", &province), &editor)?;
    env.put_tag("shop", ds, "active_7d", "kind=boolean", &csv("value", &active), &editor)?;
    env.put_tag("shop", ds, "interests", "", &csv("value", &interests), &editor)?;
    let r = env.put_tag("shop", ds, "spend_30d", "kind=numeric&scale=2", &csv("value", &spend), &editor)?;
    assert_eq!(r.status, 200, "{}", r.body);

    // Days and manifest.
    let days = env.ok("GET", "/api/v1/apps/shop/days", &viewer, None)?;
    assert_eq!(days["days"].as_array().map(Vec::len), Some(1));
    let m = env.manifest("shop", ds, &viewer)?;
    assert_eq!(m["universe"]["count"], 6);
    let female =
        group(&m, "gender").and_then(|g| g["values"].as_array()?.iter().find(|v| v["value"] == "female").cloned());
    assert_eq!(female.map(|v| v["count"].clone()), Some(json!(4)));
    assert_eq!(group(&m, "province").map(|g| g["category"].clone()), Some(json!("demographics/location")));
    assert_eq!(group(&m, "spend_30d").map(|g| g["kind"].clone()), Some(json!("numeric")));

    // Estimate against the oracle: female AND (Guangdong OR Zhejiang) AND NOT active_7d.
    let users: BTreeSet<&str> = gender.iter().map(|r| r.0).collect();
    let has = |rows: &[(&str, &str)], vals: &[&str]| -> BTreeSet<String> {
        rows.iter().filter(|r| vals.contains(&r.1)).map(|r| r.0.to_owned()).collect()
    };
    let step0 = has(&gender, &["female"]);
    let step1: BTreeSet<String> = step0.intersection(&has(&province, &["Guangdong", "Zhejiang"])).cloned().collect();
    let step2: BTreeSet<String> = step1.difference(&has(&active, &["true"])).cloned().collect();
    let rule = json!({"all": [{"tag": "gender", "in": ["female"]}, {"any": [{"tag": "province", "in": ["Guangdong", "Zhejiang"]}]}, {"not": {"tag": "active_7d", "in": ["true"]}}]});
    let e = env.estimate("shop", &viewer, json!({"rule": rule}))?;
    assert_eq!(e["count"].as_u64(), Some(step2.len() as u64));
    assert_eq!(e["universe"].as_u64(), Some(users.len() as u64));
    let steps: Vec<u64> = e["steps"].as_array().ok_or("steps")?.iter().filter_map(|s| s["count"].as_u64()).collect();
    assert_eq!(steps, vec![step0.len() as u64, step1.len() as u64, step2.len() as u64]);

    // Rule errors carry the JSON path.
    let r = env.call(
        "POST",
        "/api/v1/apps/shop/estimate",
        &viewer,
        Some(
            json!({"rule": {"all": [{"tag": "gender", "in": ["female"]}, {"not": {"tag": "nope", "in": ["x"]}}]}})
                .to_string()
                .as_bytes(),
        ),
    )?;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()?["path"], "all[1].not.tag");

    // Membership: every uploaded row of user `a`, and a number in its decimal form.
    let t = env.ok("GET", "/api/v1/apps/shop/users/a/tags", &viewer, None)?;
    assert_eq!(t["tags"]["gender"], json!(["female"]));
    assert_eq!(t["tags"]["interests"], json!(["books", "sports"]));
    assert_eq!(t["tags"]["active_7d"], json!(["true"]));
    assert_eq!(t["tags"]["spend_30d"], json!(["129.50"]));
    let t = env.ok("GET", "/api/v1/apps/shop/users/d/tags", &viewer, None)?;
    assert_eq!(t["tags"]["spend_30d"], json!(["12.05"]));
    assert!(t["tags"].get("active_7d").is_none());
    assert_eq!(env.call("GET", "/api/v1/apps/shop/users/zz/tags", &viewer, None)?.status, 404);

    // Another app's token sees none of it.
    let (other, _) = env.app("other")?;
    assert_eq!(env.call("GET", "/api/v1/apps/shop/users/a/tags", &other, None)?.status, 404);
    assert_eq!(env.call("GET", "/api/v1/apps/shop/days", &other, None)?.status, 404);
    assert_eq!(
        env.call("POST", "/api/v1/apps/shop/estimate", &other, Some(json!({"rule": rule}).to_string().as_bytes()))?
            .status,
        404
    );
    // Viewers may not upload.
    assert_eq!(env.put_tag("shop", ds, "gender", "", &csv("value", &gender), &viewer)?.status, 403);
    Ok(())
}

#[test]
fn blobs_are_immutable_ranged_and_private() -> Result<(), Error> {
    let env = Env::start(&[])?;
    let (editor, viewer) = env.app("shop")?;
    let rows: Vec<(String, &str)> = (0..5000).map(|i| (format!("u{i}"), if i % 3 == 0 { "x" } else { "y" })).collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(u, v)| (u.as_str(), *v)).collect();
    env.put_tag("shop", "2026-11-20", "g", "", &csv("value", &rows), &editor)?;
    let m = env.manifest("shop", "2026-11-20", &viewer)?;
    let blob = m["groups"][0]["values"][0]["full"]["blob"].as_str().ok_or("blob")?.to_owned();
    let path = format!("/api/v1/apps/shop/blobs/{blob}");
    let whole = env.call("GET", &path, &viewer, None)?;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("etag"), Some(format!("\"{blob}\"").as_str()));
    assert!(whole.header("cache-control").is_some_and(|c| c.contains("immutable") && c.contains("private")));
    let auth = format!("Bearer {viewer}");
    let etag = format!("\"{blob}\"");
    let again = env.t.http.send(
        "GET",
        &env.t.server.url(&path),
        &[("authorization", &auth), ("if-none-match", &etag)],
        None,
    )?;
    assert_eq!(again.status, 304);
    let part =
        env.t.http.send("GET", &env.t.server.url(&path), &[("authorization", &auth), ("range", "bytes=0-3")], None)?;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes, b"SVBL", "the first bytes of a blob are its magic");
    // The whole body is the blob: it hashes to its own address.
    assert_eq!(engine::blob::hash(&whole.bytes), blob);
    // Compressed as the client asks (arrays of nearby ids compress well); still the same ETag.
    for encoding in ["gzip", "zstd"] {
        let headers = [("authorization", auth.as_str()), ("accept-encoding", encoding)];
        let z = env.t.http.send("GET", &env.t.server.url(&path), &headers, None)?;
        assert_eq!((z.status, z.header("content-encoding")), (200, Some(encoding)));
        assert!(z.bytes.len() < whole.bytes.len(), "{encoding}: {} of {} bytes", z.bytes.len(), whole.bytes.len());
    }
    let bad = env.t.http.send(
        "GET",
        &env.t.server.url(&path),
        &[("authorization", &auth), ("range", "bytes=999999-")],
        None,
    )?;
    assert_eq!(bad.status, 416);
    // Not an address, or not this app's: no bytes.
    assert_eq!(env.call("GET", "/api/v1/apps/shop/blobs/xyz", &viewer, None)?.status, 400);
    let (other_editor, other_viewer) = env.app("other")?;
    env.put_tag("other", "2026-11-20", "g", "", &csv("value", &[("q", "x")]), &other_editor)?;
    assert_eq!(env.call("GET", &format!("/api/v1/apps/other/blobs/{blob}"), &other_viewer, None)?.status, 404);
    Ok(())
}

#[test]
fn bad_uploads_say_where_and_change_nothing() -> Result<(), Error> {
    let env = Env::start(&["--upload-limit-mb", "1"])?;
    let (editor, viewer) = env.app("shop")?;
    let ds = "2026-11-20";
    env.put_tag("shop", ds, "gender", "", "user_id,value\na,female\nb,male\n", &editor)?;
    let before = env.manifest("shop", ds, &viewer)?;
    let cases: Vec<(&str, &str, &str, Option<u64>, &str)> = vec![
        ("gender", "", "user_id,value\na,female\nb\n", Some(3), "invalid_upload"),
        ("gender", "", "id,value\na,female\n", Some(1), "invalid_upload"),
        ("gender", "", "user_id,value\na,female\n,male\n", Some(3), "invalid_upload"),
        ("gender", "", "user_id,value\na,\n", Some(2), "invalid_upload"),
        ("gender", "", "user_id,value\na,female,extra\n", Some(2), "invalid_upload"),
        ("active", "kind=boolean", "user_id,value\na,true\nb,perhaps\n", Some(3), "invalid_upload"),
        ("age", "kind=numeric", "user_id,value\na,31\nb,thirty\n", Some(3), "invalid_upload"),
        ("spend", "kind=numeric&scale=2", "user_id,value\na,1.234\n", Some(2), "invalid_upload"),
        ("age", "kind=numeric", "user_id,value\na,31\na,32\n", Some(3), "invalid_upload"),
        ("gender", "kind=weird", "user_id,value\na,female\n", None, "invalid_field"),
        ("bad/group", "", "user_id,value\na,female\n", None, "not_found"),
        ("gender", "category=a//b", "user_id,value\na,female\n", None, "invalid_field"),
    ];
    for (grp, query, body, line, code) in cases {
        let r = env.put_tag("shop", ds, grp, query, body, &editor)?;
        assert!((400..500).contains(&r.status), "{grp}?{query}: {} {}", r.status, r.body);
        let v = r.json()?;
        assert_eq!(v["error"], code, "{grp}?{query}: {}", r.body);
        assert_eq!(v["line"].as_u64(), line, "{grp}?{query}: {}", r.body);
    }
    let r = env.put_tag("shop", "2026-13-01", "gender", "", "user_id,value\na,f\n", &editor)?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("ds")));
    // Over the upload limit (1 MiB here): 413 before a byte of the body is read when the size
    // is declared, and when a chunked body crosses the limit while streaming.
    let head = format!(
        "PUT /api/v1/apps/shop/days/{ds}/tags/gender HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {editor}\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n"
    );
    let answer = sieve_tests::raw_exchange(env.t.server.addr, head.as_bytes(), std::time::Duration::from_secs(5))?;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let chunk = format!("user_id,value\n{}", "someone,somewhere\n".repeat(64_000));
    let chunked = format!(
        "PUT /api/v1/apps/shop/days/{ds}/tags/gender HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {editor}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    let answer = sieve_tests::raw_exchange(env.t.server.addr, chunked.as_bytes(), std::time::Duration::from_secs(10))?;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Events need their own header and whole counts.
    let r =
        env.call("PUT", &format!("/api/v1/apps/shop/days/{ds}/events/visit"), &editor, Some(b"user_id,count\na,-2\n"))?;
    assert_eq!((r.status, r.json()?["line"].clone()), (400, json!(2)));
    // Nothing changed: same manifest, and the users of refused files were not added.
    assert_eq!(env.manifest("shop", ds, &viewer)?, before);
    assert_eq!(env.call("GET", "/api/v1/apps/shop/users/someone/tags", &viewer, None)?.status, 404);
    Ok(())
}

#[test]
fn hot_publish_carry_forward_backfill_and_retention() -> Result<(), Error> {
    let env = Env::start(&["--retention-days", "5"])?;
    let (editor, viewer) = env.app("shop")?;
    let (d1, d2, d3) = ("2026-11-18", "2026-11-19", "2026-11-20");
    env.put_tag("shop", d1, "gender", "", "user_id,value\na,female\nb,male\n", &editor)?;
    env.put_tag("shop", d1, "province", "", "user_id,value\na,Guangdong\n", &editor)?;
    env.call("PUT", &format!("/api/v1/apps/shop/days/{d1}/events/visit"), &editor, Some(b"user_id,count\na,3\n"))?;
    // Day 2 gets only a new province file: gender is carried from day 1, events are not.
    env.put_tag("shop", d2, "province", "", "user_id,value\na,Zhejiang\nb,Guangdong\n", &editor)?;
    let m2 = env.manifest("shop", d2, &viewer)?;
    assert_eq!(group(&m2, "gender").map(|g| g["loaded_ds"].clone()), Some(json!(d1)));
    assert_eq!(group(&m2, "province").map(|g| g["loaded_ds"].clone()), Some(json!(d2)));
    assert!(m2.get("events").is_none_or(|e| e.as_array().is_some_and(Vec::is_empty)));
    let m1 = env.manifest("shop", d1, &viewer)?;
    assert_eq!(m1["events"][0]["name"], "visit");
    assert_eq!(m1["events"][0]["total"], 3);
    // Hot publish: replacing province on day 2 left gender's blobs alone.
    assert_eq!(group(&m2, "gender"), group(&m1, "gender"));

    // An identical re-upload is a no-op: same version, same manifest.
    let v2 = env.ok("GET", "/api/v1/apps/shop/days", &viewer, None)?["days"][1]["version"].clone();
    let r = env.put_tag("shop", d2, "province", "", "user_id,value\nb,Guangdong\na,Zhejiang\n", &editor)?.json()?;
    assert_eq!((r["changed"].clone(), r["version"].clone()), (json!(false), v2));

    // Backfill: a new gender for day 1 flows into day 2, which carried it.
    let r = env.put_tag("shop", d1, "gender", "", "user_id,value\na,male\nb,male\n", &editor)?.json()?;
    assert_eq!(r["days_updated"], json!([d2]));
    let t = env.ok("GET", &format!("/api/v1/apps/shop/users/a/tags?ds={d2}"), &viewer, None)?;
    assert_eq!(t["tags"]["gender"], json!(["male"]));
    // Once day 2 has its own gender upload, a day-1 backfill no longer reaches it.
    env.put_tag("shop", d2, "gender", "", "user_id,value\na,female\n", &editor)?;
    let r = env.put_tag("shop", d1, "gender", "", "user_id,value\na,female\nb,female\n", &editor)?.json()?;
    assert_eq!(r["days_updated"], json!([]));
    assert_eq!(
        env.ok("GET", &format!("/api/v1/apps/shop/users/b/tags?ds={d2}"), &viewer, None)?["tags"].get("gender"),
        None
    );

    // Retention counts back from the latest day, not the clock.
    env.put_tag("shop", d3, "gender", "", "user_id,value\na,female\n", &editor)?;
    let r = env.put_tag("shop", "2026-11-10", "gender", "", "user_id,value\na,female\n", &editor)?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("ds")));
    Ok(())
}

#[test]
fn sample_estimates_cover_the_exact_count() -> Result<(), Error> {
    let env = Env::start(&[])?;
    let (editor, viewer) = env.app("big")?;
    // 60,000 users with a deterministic pseudo-random value; the oracle counts rows here.
    let mut rows = String::from("user_id,value\n");
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    let mut x: u64 = 12345;
    for i in 0..60_000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let v = if (x >> 33) % 10 < 3 { "a" } else { "b" };
        *expected.entry(v).or_default() += 1;
        rows.push_str(&format!("user{i},{v}\n"));
    }
    env.put_tag("big", "2026-11-20", "g", "", &rows, &editor)?;
    let rule = json!({"tag": "g", "in": ["a"]});
    let exact = env.estimate("big", &viewer, json!({"rule": rule, "tier": "exact"}))?;
    assert_eq!(exact["count"].as_u64(), Some(expected["a"]));
    let sample = env.estimate("big", &viewer, json!({"rule": rule, "tier": "sample"}))?;
    let (lo, hi) = (sample["ci95"][0].as_u64().ok_or("lo")?, sample["ci95"][1].as_u64().ok_or("hi")?);
    assert!(lo <= expected["a"] && expected["a"] <= hi, "{lo}..{hi} misses {}", expected["a"]);
    assert!(hi - lo < 60_000 / 5, "the interval is informative: {lo}..{hi}");
    Ok(())
}

#[test]
fn segments_are_computed_on_publish_and_static_members_export() -> Result<(), Error> {
    let env = Env::start(&[])?;
    let (editor, viewer) = env.app("shop")?;
    let ds = "2026-11-20";
    env.put_tag("shop", ds, "gender", "", "user_id,value\na,female\nb,male\nc,female\n", &editor)?;
    let seg = json!({"id": "women", "name": "Women", "kind": "dynamic", "rule": {"tag": "gender", "in": ["female"]}});
    env.ok("POST", "/api/v1/apps/shop/segments", &editor, Some(seg.to_string().as_bytes()))?;
    // A rule naming what the day lacks is refused when saved, with its path.
    let bad = json!({"id": "x", "name": "X", "kind": "dynamic", "rule": {"all": [{"tag": "gender", "in": ["robot"]}]}});
    let r = env.call("POST", "/api/v1/apps/shop/segments", &editor, Some(bad.to_string().as_bytes()))?;
    assert_eq!((r.status, r.json()?["path"].clone()), (400, json!("all[0].in[0]")));
    // Members are part of the day's version: estimates and membership see them.
    let e = env.estimate("shop", &viewer, json!({"rule": {"segment": "women"}}))?;
    assert_eq!(e["count"], 2);
    assert_eq!(env.ok("GET", "/api/v1/apps/shop/users/c/tags", &viewer, None)?["segments"], json!(["women"]));
    // A new upload recomputes them.
    env.put_tag("shop", ds, "gender", "", "user_id,value\na,female\nb,female\nc,male\nd,female\n", &editor)?;
    let e = env.estimate("shop", &viewer, json!({"rule": {"segment": "women"}}))?;
    assert_eq!(e["count"], 3);
    let export = env.call("GET", "/api/v1/apps/shop/segments/women/members", &viewer, None)?;
    assert_eq!(export.status, 200);
    // Compressed exports complete too (browsers always ask for compression).
    let auth = format!("Bearer {viewer}");
    let headers = [("authorization", auth.as_str()), ("accept-encoding", "gzip")];
    let gz = env.t.http.send("GET", &env.t.server.url("/api/v1/apps/shop/segments/women/members"), &headers, None)?;
    assert_eq!((gz.status, gz.header("content-encoding")), (200, Some("gzip")));
    assert!(!gz.bytes.is_empty());
    let mut lines: Vec<&str> = export.body.lines().collect();
    assert_eq!(lines.remove(0), "user_id");
    lines.sort_unstable();
    assert_eq!(lines, vec!["a", "b", "d"]);

    // Static: an uploaded list, with every row accounted for.
    let st = json!({"id": "vip", "name": "VIP", "kind": "static"});
    env.ok("POST", "/api/v1/apps/shop/segments", &editor, Some(st.to_string().as_bytes()))?;
    let r =
        env.ok("PUT", "/api/v1/apps/shop/segments/vip/members", &editor, Some(b"user_id\nb\nnobody\nb\n\"a,b\"\nd\n"))?;
    assert_eq!(
        (
            r["rows"].as_u64(),
            r["accepted"].as_u64(),
            r["duplicate"].as_u64(),
            r["unknown"].as_u64(),
            r["malformed"].as_u64()
        ),
        // `"a,b"` is a quoted id (RFC 4180), not a malformed row: no such user, so unknown.
        (Some(5), Some(2), Some(1), Some(2), Some(0))
    );
    assert_eq!(env.ok("GET", "/api/v1/apps/shop/users/d/tags", &viewer, None)?["segments"], json!(["vip", "women"]));
    // A dynamic segment takes no list.
    let r = env.call("PUT", "/api/v1/apps/shop/segments/women/members", &editor, Some(b"user_id\na\n"))?;
    assert_eq!(r.status, 409);
    Ok(())
}

/// The demo loader goes through the same routes; a small population loads and answers.
#[test]
fn demo_loads_through_the_http_routes() -> Result<(), Error> {
    let env = Env::start(&[])?;
    let dir = tempfile::tempdir()?;
    let demo = dir.path().join("demo");
    let status = sieve_tests::sieve().args(["demo", "--users", "3000", "--days", "3", "--out"]).arg(&demo).status()?;
    assert!(status.success());
    let tokens = dir.path().join("tokens.json");
    let out = sieve_tests::sieve()
        // Two uploads at once: the concurrent path must count every row as the single one does.
        .args(["load", "--parallel", "2", "--url", &env.t.server.url(""), "--admin-token", ADMIN, "--dir"])
        .arg(&demo)
        .arg("--tokens-out")
        .arg(&tokens)
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tokens: Value = serde_json::from_slice(&std::fs::read(&tokens)?)?;
    let viewer = tokens["viewer"].as_str().ok_or("viewer")?;
    let days = env.ok("GET", "/api/v1/apps/demo/days", viewer, None)?;
    assert_eq!(days["days"].as_array().map(Vec::len), Some(3));
    // Every gender row of the first day is counted once.
    let first = std::fs::read_dir(&demo)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .min()
        .ok_or("no day")?;
    let rows = std::fs::read_to_string(first.join("tags/gender.csv"))?;
    let female = rows.lines().filter(|l| l.ends_with(",female")).count() as u64;
    let ds = first.file_name().and_then(|n| n.to_str()).ok_or("ds")?;
    let e = env.estimate("demo", viewer, json!({"ds": ds, "rule": {"tag": "gender", "in": ["female"]}}))?;
    assert_eq!(e["count"].as_u64(), Some(female));
    let segs = env.ok("GET", "/api/v1/apps/demo/segments", viewer, None)?;
    assert!(segs["segments"].as_array().is_some_and(|s| s.len() >= 3));
    // The load ends when the example segments' backfill is done (the run command stops the
    // loading server at once): every segment has a size on every loaded day, with no error.
    let job = env.ok("GET", "/api/v1/apps/demo/jobs/segments", viewer, None)?;
    assert_eq!((job["state"].as_str(), job["pending"].as_object().map(|p| p.len())), (Some("done"), Some(0)), "{job}");
    for seg in segs["segments"].as_array().ok_or("segments")? {
        let id = seg["id"].as_str().ok_or("id")?;
        let h = env.ok("GET", &format!("/api/v1/apps/demo/segments/{id}/history"), viewer, None)?;
        let days = h["days"].as_array().ok_or("days")?;
        assert_eq!(days.len(), 3, "{id}");
        for day in days {
            assert!(day["size"].is_u64() && day.get("error").is_none(), "{id}: {day}");
        }
    }
    Ok(())
}
