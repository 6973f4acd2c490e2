//! Inputs the server used to accept and should not (issue 12), and small defects a newcomer
//! hits (issue 11), on the real binary: each test reproduced its problem before the fix.

use serde_json::{Value, json};
use sieve_tests::{Error, Reply, TestServer};

const ADMIN: &str = "inputs-admin-token";

/// A server started with `extra` flags, with app `shop` and an editor token for it.
fn shop(extra: &[&str]) -> Result<(TestServer, String), Error> {
    let t = TestServer::start(ADMIN, extra)?;
    let editor = t.app_with_token("shop", "editor")?;
    Ok((t, editor))
}

/// One request with a bearer token, optional extra headers and an optional body.
fn send(
    t: &TestServer,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply, Error> {
    let auth = format!("Bearer {token}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    t.http.send(method, &t.server.url(path), &all, body)
}

fn json_call(t: &TestServer, method: &str, path: &str, token: &str, body: &Value) -> Result<Reply, Error> {
    send(t, method, path, token, &[("content-type", "application/json")], Some(body.to_string().as_bytes()))
}

/// Uploads `user_id,<column>` rows to a tag group (`kind` as a query) or, with `event`, an event.
fn upload(t: &TestServer, app: &str, ds: &str, what: &str, rows: &[(&str, &str)], token: &str) -> Result<Reply, Error> {
    let column = if what.starts_with("events/") { "count" } else { "value" };
    let mut body = format!("user_id,{column}\n");
    for (user, value) in rows {
        body.push_str(&format!("{user},{value}\n"));
    }
    send(t, "PUT", &format!("/api/v1/apps/{app}/days/{ds}/{what}"), token, &[], Some(body.as_bytes()))
}

fn days(t: &TestServer, app: &str, token: &str) -> Result<Vec<String>, Error> {
    let v = t.ok("GET", &format!("/api/v1/apps/{app}/days"), token, None)?;
    Ok(v["days"].as_array().ok_or("days")?.iter().filter_map(|d| d["ds"].as_str().map(str::to_owned)).collect())
}

/// Today's date in UTC, and `n` days from it, as the server's clock sees it.
fn day_from_today(n: i32) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let epoch = engine::ds::Ds::from_ymd(1970, 1, 1).expect("a date");
    epoch.add_days(i32::try_from(secs / 86_400).unwrap_or(0) + n).to_string()
}

fn estimate(t: &TestServer, app: &str, token: &str, body: &Value) -> Result<Reply, Error> {
    json_call(t, "POST", &format!("/api/v1/apps/{app}/estimate"), token, body)
}

#[test]
fn days_beyond_the_horizon_are_refused() -> Result<(), Error> {
    let (t, editor) = shop(&[])?;
    let gender = [("a", "female"), ("b", "male"), ("c", "female")];
    assert_eq!(upload(&t, "shop", "2026-11-20", "tags/gender", &gender, &editor)?.status, 200);
    // Before: 200, after which every real day was "older than the retention window".
    let r = upload(&t, "shop", "2062-11-20", "tags/gender", &gender, &editor)?;
    assert_eq!(r.status, 400, "{}", r.body);
    let v = r.json()?;
    let tomorrow = day_from_today(1);
    assert_eq!(v["field"], "ds");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.contains("2062-11-20") && message.contains(&tomorrow), "{message}");
    let r = upload(&t, "shop", &day_from_today(3), "events/buy", &[("a", "1")], &editor)?;
    assert_eq!((r.status, r.json()?["field"].as_str().map(str::to_owned)), (400, Some("ds".to_owned())));
    // Nothing was written.
    assert_eq!(days(&t, "shop", &editor)?, ["2026-11-20"]);
    // Tomorrow is within the default horizon (data days of another time zone).
    assert_eq!(upload(&t, "shop", &tomorrow, "tags/gender", &gender, &editor)?.status, 200);

    // A server that allows no future days refuses tomorrow too.
    let (t, editor) = shop(&["--max-future-days", "0"])?;
    assert_eq!(upload(&t, "shop", &day_from_today(-1), "tags/gender", &gender, &editor)?.status, 200);
    let r = upload(&t, "shop", &day_from_today(2), "tags/gender", &gender, &editor)?;
    assert_eq!(r.status, 400, "{}", r.body);
    Ok(())
}

#[test]
fn a_day_that_should_not_exist_can_be_deleted() -> Result<(), Error> {
    // A far-future day from before the horizon existed (allowed here by a wide horizon).
    let (t, editor) = shop(&["--max-future-days", "20000"])?;
    let viewer = t.token("shop", "viewer")?;
    let interests = [("a", "books"), ("b", "sports")];
    assert_eq!(upload(&t, "shop", "2026-11-19", "tags/interests", &interests, &editor)?.status, 200);
    let gender = [("a", "female"), ("b", "male"), ("c", "female")];
    assert_eq!(upload(&t, "shop", "2026-11-20", "tags/gender", &gender, &editor)?.status, 200);
    assert_eq!(upload(&t, "shop", "2062-11-20", "tags/gender", &gender, &editor)?.status, 200);
    // The symptom: a real day is refused, and default-day reads go to 2062.
    let r = upload(&t, "shop", "2026-11-21", "tags/gender", &gender, &editor)?;
    assert_eq!(r.status, 400, "{}", r.body);
    let e = estimate(&t, "shop", &viewer, &json!({"rule": {"tag": "gender", "in": ["female"]}}))?;
    assert_eq!(e.json()?["ds"], "2062-11-20");

    // Only editors delete days; other apps' tokens get the 404 of a missing app.
    let path = "/api/v1/apps/shop/days/2062-11-20";
    assert_eq!(send(&t, "DELETE", path, &viewer, &[], None)?.status, 403);
    let other = t.app_with_token("other", "editor")?;
    assert_eq!(send(&t, "DELETE", path, &other, &[], None)?.status, 404);
    let r = send(&t, "DELETE", "/api/v1/apps/shop/days/2062-13-01", &editor, &[], None)?;
    assert_eq!((r.status, r.json()?["field"].as_str().map(str::to_owned)), (400, Some("ds".to_owned())));
    let m2062 = t.ok("GET", "/api/v1/apps/shop/days/2062-11-20/manifest", &viewer, None)?;

    let r = send(&t, "DELETE", path, &editor, &[], None)?;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json()?;
    assert_eq!((v["ds"].as_str(), v["version"].as_u64()), (Some("2062-11-20"), Some(1)));
    assert!(v["manifest"].as_str().is_some_and(|m| m.len() == 64), "{v}");
    assert_eq!(m2062["ds"], "2062-11-20");
    // Readers see the new state at once.
    assert_eq!(days(&t, "shop", &viewer)?, ["2026-11-19", "2026-11-20"]);
    assert_eq!(t.call("GET", "/api/v1/apps/shop/days/2062-11-20/manifest", &viewer, None)?.status, 404);
    let e = estimate(&t, "shop", &viewer, &json!({"rule": {"tag": "gender", "in": ["female"]}}))?;
    assert_eq!(
        (e.json()?["ds"].as_str().map(str::to_owned), e.json()?["count"].as_u64()),
        (Some("2026-11-20".into()), Some(2))
    );
    assert_eq!(send(&t, "DELETE", path, &editor, &[], None)?.status, 404, "gone already");
    // Real days are accepted again.
    assert_eq!(upload(&t, "shop", "2026-11-21", "tags/gender", &gender, &editor)?.status, 200);

    // Deleting a day whose tag group later days carried: they keep their own versions.
    let before = t.ok("GET", "/api/v1/apps/shop/days/2026-11-20/manifest", &viewer, None)?;
    let carried = before["groups"].as_array().ok_or("groups")?.iter().find(|g| g["name"] == "interests").cloned();
    assert_eq!(carried.as_ref().map(|g| g["loaded_ds"].clone()), Some(json!("2026-11-19")));
    assert_eq!(send(&t, "DELETE", "/api/v1/apps/shop/days/2026-11-19", &editor, &[], None)?.status, 200);
    let after = t.ok("GET", "/api/v1/apps/shop/days/2026-11-20/manifest", &viewer, None)?;
    assert_eq!(after, before, "the later day is unchanged");
    assert_eq!(days(&t, "shop", &viewer)?, ["2026-11-20", "2026-11-21"]);
    Ok(())
}

#[test]
fn segment_cycles_are_refused_with_their_path() -> Result<(), Error> {
    let (t, editor) = shop(&[])?;
    let service = t.token("shop", "service")?;
    let base = "/api/v1/apps/shop/segments";
    let female = json!({"tag": "gender", "in": ["female"]});
    let seg = |id: &str, rule: Value| json!({"id": id, "name": id, "kind": "dynamic", "rule": rule});
    let cycle_of = |r: &Reply| -> Result<(Vec<String>, String), Error> {
        assert_eq!(r.status, 400, "{}", r.body);
        let v = r.json()?;
        assert_eq!(v["error"], "invalid_rule", "{v}");
        let cycle = v["cycle"]
            .as_array()
            .ok_or("no cycle in the answer")?
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        Ok((cycle, v["path"].as_str().unwrap_or_default().to_owned()))
    };
    // Before any day is published, nothing else checks segment names: a segment naming itself.
    let r = json_call(&t, "POST", base, &editor, &seg("me", json!({"all": [female, {"segment": "me"}]})))?;
    assert_eq!(cycle_of(&r)?, (vec!["me".to_owned(), "me".into()], "all[1].segment".to_owned()));

    let gender = [("a", "female"), ("b", "male"), ("c", "female")];
    assert_eq!(upload(&t, "shop", "2026-11-20", "tags/gender", &gender, &editor)?.status, 200);
    assert_eq!(json_call(&t, "POST", base, &editor, &seg("a", female.clone()))?.status, 201);
    assert_eq!(json_call(&t, "POST", base, &editor, &seg("b", json!({"segment": "a"})))?.status, 201);
    assert_eq!(json_call(&t, "POST", base, &editor, &seg("c", json!({"not": {"segment": "b"}})))?.status, 201);
    // Before: 200 for each of these, then "unknown segment" in every estimate.
    let r = json_call(&t, "PUT", &format!("{base}/a"), &editor, &seg("a", json!({"any": [female, {"segment": "a"}]})))?;
    assert_eq!(cycle_of(&r)?, (vec!["a".to_owned(), "a".into()], "any[1].segment".to_owned()));
    let r = json_call(&t, "PUT", &format!("{base}/a"), &editor, &seg("a", json!({"all": [female, {"segment": "b"}]})))?;
    assert_eq!(cycle_of(&r)?, (vec!["a".to_owned(), "b".into(), "a".into()], "all[1].segment".to_owned()));
    let r = json_call(&t, "PUT", &format!("{base}/a"), &editor, &seg("a", json!({"not": {"segment": "c"}})))?;
    assert_eq!(cycle_of(&r)?, (vec!["a".to_owned(), "c".into(), "b".into(), "a".into()], "not.segment".to_owned()));
    // Versioned sync writes too (an update with a version, and a create replacing a live one).
    let mut synced = seg("a", json!({"segment": "c"}));
    synced["version"] = json!(5);
    let r = json_call(&t, "PUT", &format!("{base}/a"), &service, &synced)?;
    assert_eq!(cycle_of(&r)?.0, ["a", "c", "b", "a"]);
    let r = json_call(&t, "POST", base, &service, &synced)?;
    assert_eq!(cycle_of(&r)?.0, ["a", "c", "b", "a"]);
    // Nothing changed: `a` keeps its rule and every estimate still works.
    let a = t.ok("GET", &format!("{base}/a"), &editor, None)?;
    assert_eq!((a["rule"].clone(), a["revision"].as_u64()), (female, Some(1)));
    for id in ["a", "b", "c"] {
        let r = estimate(&t, "shop", &editor, &json!({"rule": {"segment": id}}))?;
        assert_eq!(r.status, 200, "{id}: {}", r.body);
    }
    // Breaking a chain is not a cycle: `c` may stop using `b`, then `a` may use `c`.
    let r = json_call(&t, "PUT", &format!("{base}/c"), &editor, &seg("c", json!({"tag": "gender", "in": ["male"]})))?;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = json_call(&t, "PUT", &format!("{base}/a"), &editor, &seg("a", json!({"not": {"segment": "c"}})))?;
    assert_eq!(r.status, 200, "{}", r.body);
    Ok(())
}

#[test]
fn event_counts_that_could_overflow_a_window_are_refused() -> Result<(), Error> {
    let (t, editor) = shop(&[])?;
    // Before: accepted, and 2^64 - 1 plus 1 matched `= 2^64 - 1`.
    let r = upload(&t, "shop", "2026-11-19", "events/buy", &[("a", "1"), ("b", "18446744073709551615")], &editor)?;
    assert_eq!(r.status, 400, "{}", r.body);
    let v = r.json()?;
    assert_eq!(v["line"], 3);
    assert!(v["message"].as_str().is_some_and(|m| m.contains("100000000000000000")), "{v}");
    let max = "100000000000000000";
    assert_eq!(upload(&t, "shop", "2026-11-19", "events/buy", &[("a", max), ("b", max)], &editor)?.status, 200);
    assert_eq!(upload(&t, "shop", "2026-11-20", "events/buy", &[("a", max), ("b", "1")], &editor)?.status, 200);
    let count = |test: Value| -> Result<Option<u64>, Error> {
        let rule = json!({"event": "buy", "last_days": 2, "count": test});
        Ok(estimate(&t, "shop", &editor, &json!({"rule": rule}))?.json()?["count"].as_u64())
    };
    assert_eq!(count(json!({"=": 200_000_000_000_000_000u64}))?, Some(1));
    assert_eq!(count(json!({"=": 100_000_000_000_000_001u64}))?, Some(1));
    assert_eq!(count(json!({">": 200_000_000_000_000_000u64}))?, Some(0));
    assert_eq!(count(json!({"=": u64::MAX}))?, Some(0));
    // Many users at the bound on one day: the day's total may pass 2^64, the upload still works.
    let many: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let rows: Vec<(&str, &str)> = many.iter().map(|u| (u.as_str(), max)).collect();
    let r = upload(&t, "shop", "2026-11-21", "events/buy", &rows, &editor)?;
    assert_eq!(r.status, 200, "{}", r.body);
    Ok(())
}

#[test]
fn dot_ids_are_refused_everywhere() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let field = |r: &Reply| -> Option<String> { r.json().ok()?["field"].as_str().map(str::to_owned) };
    for id in [".", ".."] {
        // Before: 201, and then no ordinary HTTP client could reach `/apps/..`.
        let r = json_call(&t, "POST", "/api/v1/apps", ADMIN, &json!({"id": id, "name": "dots"}))?;
        assert_eq!((r.status, field(&r)), (400, Some("id".to_owned())), "{}", r.body);
    }
    let editor = t.app_with_token("shop", "editor")?;
    let gender = [("a", "female"), ("b", "male")];
    assert_eq!(upload(&t, "shop", "2026-11-20", "tags/gender", &gender, &editor)?.status, 200);
    let r = json_call(
        &t,
        "POST",
        "/api/v1/apps/shop/segments",
        &editor,
        &json!({"id": "..", "name": "x", "kind": "dynamic", "rule": {"tag": "gender", "in": ["female"]}}),
    )?;
    assert_eq!((r.status, field(&r)), (400, Some("segment".to_owned())), "{}", r.body);
    // Path segments spelled with percent escapes reach the handlers as `.` and `..`.
    for (what, name, rows) in
        [("tags", "%2E%2E", &gender), ("tags", "%2e", &gender), ("events", "%2E%2E", &[("a", "1"), ("b", "2")])]
    {
        let r = upload(&t, "shop", "2026-11-20", &format!("{what}/{name}"), rows, &editor)?;
        assert_eq!(r.status, 400, "{what}/{name}: {}", r.body);
    }
    assert_eq!(days(&t, "shop", &editor)?, ["2026-11-20"]);
    let m = t.ok("GET", "/api/v1/apps/shop/days/2026-11-20/manifest", &editor, None)?;
    assert_eq!(m["groups"].as_array().map(Vec::len), Some(1), "only `gender` was stored");
    assert_eq!(
        json_call(
            &t,
            "POST",
            "/api/v1/apps/shop/segments",
            &editor,
            &json!({"id": "women", "name": "W", "kind": "dynamic", "rule": {"tag": "gender", "in": ["female"]}})
        )?
        .status,
        201
    );
    let split = |id: &str, group: &str| json!({"id": id, "segment": "women", "salt": "s", "groups": [{"name": "control", "percent": 50}, {"name": group, "percent": 50}]});
    let r = json_call(&t, "POST", "/api/v1/apps/shop/experiments", &editor, &split("..", "treatment"))?;
    assert_eq!((r.status, field(&r)), (400, Some("experiment".to_owned())), "{}", r.body);
    let r = json_call(&t, "POST", "/api/v1/apps/shop/experiments", &editor, &split("exp", ".."))?;
    assert_eq!((r.status, field(&r)), (400, Some("groups".to_owned())), "{}", r.body);
    assert_eq!(
        json_call(&t, "POST", "/api/v1/apps/shop/experiments", &editor, &split("exp", "treatment"))?.status,
        201
    );
    Ok(())
}

#[test]
fn idempotency_keys_belong_to_their_token() -> Result<(), Error> {
    let (t, first) = shop(&[])?;
    let second = t.token("shop", "editor")?;
    let body = json!({"id": "women", "name": "Women", "kind": "dynamic", "rule": {"tag": "gender", "in": ["female"]}})
        .to_string();
    let key = [("idempotency-key", "create-women"), ("content-type", "application/json")];
    let path = "/api/v1/apps/shop/segments";
    let r = send(&t, "POST", path, &first, &key, Some(body.as_bytes()))?;
    assert_eq!(r.status, 201, "{}", r.body);
    // Before: the second token got the first token's answer replayed.
    let r = send(&t, "POST", path, &second, &key, Some(body.as_bytes()))?;
    assert_eq!((r.status, r.header("idempotent-replayed")), (409, None), "its own request: {}", r.body);
    // Each token's own retries still replay.
    let r = send(&t, "POST", path, &first, &key, Some(body.as_bytes()))?;
    assert_eq!((r.status, r.header("idempotent-replayed")), (201, Some("true")));
    let other =
        json!({"id": "men", "name": "Men", "kind": "dynamic", "rule": {"tag": "gender", "in": ["male"]}}).to_string();
    let r = send(&t, "POST", path, &second, &key, Some(other.as_bytes()))?;
    assert_eq!(r.status, 201, "the key is free for the second token: {}", r.body);
    let r = send(&t, "POST", path, &second, &key, Some(other.as_bytes()))?;
    assert_eq!((r.status, r.header("idempotent-replayed")), (201, Some("true")));
    Ok(())
}

#[test]
fn numbers_in_rules_are_read_as_written() -> Result<(), Error> {
    let (t, editor) = shop(&[])?;
    let spend = [("a", "12.5"), ("b", "-3"), ("c", "0")];
    let r = upload(&t, "shop", "2026-11-20", "tags/spend?kind=numeric&scale=1", &spend, &editor)?;
    assert_eq!(r.status, 200, "{}", r.body);
    // The rule is sent as raw text: a JSON value would already hold the big number as a float.
    let raw = |rule: &str| {
        let body = format!(r#"{{"rule":{rule}}}"#);
        send(
            &t,
            "POST",
            "/api/v1/apps/shop/estimate",
            &editor,
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        )
    };
    // Before: "write the number without an exponent".
    let r = raw(r#"{"tag":"spend",">=":123456789012345678901234567890}"#)?;
    assert_eq!(r.status, 400, "{}", r.body);
    let v = r.json()?;
    assert_eq!(v["path"], ">=");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.contains("out of range") && !message.contains("exponent"), "{message}");
    // Before: "out of range".
    let r = raw(r#"{"tag":"spend",">=":-9223372036854775808}"#)?;
    assert_eq!((r.status, r.json()?["count"].as_u64()), (200, Some(3)), "{}", r.body);
    Ok(())
}

#[test]
fn an_empty_rule_is_every_user() -> Result<(), Error> {
    let (t, editor) = shop(&[])?;
    // Enough users that the sample tier (one in 64) is not empty.
    let ids: Vec<String> = (0..3000).map(|i| format!("u{i}")).collect();
    let gender: Vec<(&str, &str)> =
        ids.iter().enumerate().map(|(i, u)| (u.as_str(), if i % 2 == 0 { "female" } else { "male" })).collect();
    assert_eq!(upload(&t, "shop", "2026-11-20", "tags/gender", &gender, &editor)?.status, 200);
    for tier in ["exact", "sample"] {
        // Before: 400 "empty all".
        let r = estimate(&t, "shop", &editor, &json!({"rule": {"all": []}, "tier": tier}))?;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json()?;
        assert_eq!((v["count"].as_u64(), v["universe"].as_u64()), (Some(3000), Some(3000)), "{tier}: {v}");
        assert_eq!(v["steps"], json!([]));
    }
    Ok(())
}

#[test]
fn a_segment_body_says_its_kind() -> Result<(), Error> {
    let (t, editor) = shop(&[])?;
    let base = "/api/v1/apps/shop/segments";
    // Before: 400 "missing field kind".
    let r = json_call(&t, "POST", base, &editor, &json!({"id": "w", "name": "W", "rule": {"segment": "x"}}))?;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()?["segment"]["kind"], "dynamic");
    let r = json_call(&t, "POST", base, &editor, &json!({"id": "list", "name": "L"}))?;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()?["segment"]["kind"], "static");
    let r = json_call(
        &t,
        "POST",
        base,
        &editor,
        &json!({"id": "s", "name": "S", "kind": "static", "rule": {"segment": "w"}}),
    )?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("kind")), "{}", r.body);
    let r = json_call(&t, "POST", base, &editor, &json!({"id": "s", "name": "S", "kind": "dynamic"}))?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("rule")), "{}", r.body);
    let r = json_call(&t, "POST", base, &editor, &json!({"id": "s", "name": "S", "kind": "sometimes"}))?;
    assert_eq!(r.status, 400, "{}", r.body);
    Ok(())
}
