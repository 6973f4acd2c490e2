//! Composite tags (issue 15) on the real binary: a tag group whose values are rules counts, on
//! every retained day and on days published later, exactly what a recount of the uploaded
//! rows says its rules select (first match with `multi: false`, every match with `multi:
//! true`); it is then a tag like any other (rules, segments, membership, the catalog); cycles
//! between composites and segments are refused with the path, from either side; bad input is a
//! 400 naming the field or rule path and changes nothing; deleting it takes its group out of
//! every day.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "composites-admin";
const DAYS: [&str; 3] = ["2026-11-17", "2026-11-18", "2026-11-19"];
const LATER: &str = "2026-11-20";
const USERS: usize = 400;

/// Day `k`'s data, the test's own truth: user `i` is female when `(i + k)` is even, and pro
/// when `i` is a multiple of `7 + k`.
fn female(i: usize, k: usize) -> bool {
    (i + k).is_multiple_of(2)
}

fn pro(i: usize, k: usize) -> bool {
    i.is_multiple_of(7 + k)
}

fn upload_day(t: &TestServer, token: &str, ds: &str, k: usize) -> Result<(), Error> {
    let mut gender = String::from("user_id,value\n");
    let mut plan = String::from("user_id,value\n");
    for i in 0..USERS {
        gender.push_str(&format!("u{i},{}\n", if female(i, k) { "female" } else { "male" }));
        plan.push_str(&format!("u{i},{}\n", if pro(i, k) { "pro" } else { "free" }));
    }
    t.ok("PUT", &format!("/api/v1/apps/mix/days/{ds}/tags/gender"), token, Some(gender.as_bytes()))?;
    t.ok("PUT", &format!("/api/v1/apps/mix/days/{ds}/tags/plan"), token, Some(plan.as_bytes()))?;
    Ok(())
}

/// What each value of `grade` must count on day `k` (first match: champions, then pro, then rest).
fn grade_oracle(k: usize) -> [(&'static str, u64); 3] {
    let (mut champions, mut pro_only, mut rest) = (0, 0, 0);
    for i in 0..USERS {
        match (pro(i, k), female(i, k)) {
            (true, true) => champions += 1,
            (true, false) => pro_only += 1,
            (false, _) => rest += 1,
        }
    }
    [("champions", champions), ("pro", pro_only), ("rest", rest)]
}

fn count(t: &TestServer, token: &str, ds: &str, rule: Value) -> Result<u64, Error> {
    let body = json!({"ds": ds, "rule": rule}).to_string();
    let e = t.ok("POST", "/api/v1/apps/mix/estimate", token, Some(body.as_bytes()))?;
    e["count"].as_u64().ok_or_else(|| format!("no count: {e}").into())
}

fn put(t: &TestServer, token: &str, group: &str, body: Value) -> Result<sieve_tests::Reply, Error> {
    t.call("PUT", &format!("/api/v1/apps/mix/composites/{group}"), token, Some(body.to_string().as_bytes()))
}

fn wait(t: &TestServer, token: &str) -> Result<(), Error> {
    t.wait_for_segments_job(token, "mix", "backfill", |j| j["state"] == "idle" || j["state"] == "done")?;
    Ok(())
}

fn groups_of(t: &TestServer, token: &str, ds: &str) -> Result<BTreeSet<String>, Error> {
    let m = t.ok("GET", &format!("/api/v1/apps/mix/days/{ds}/manifest"), token, None)?;
    Ok(m["groups"].as_array().ok_or("groups")?.iter().filter_map(|g| g["name"].as_str().map(str::to_owned)).collect())
}

#[test]
fn a_composite_counts_what_its_rules_count_on_every_day() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("mix", "editor")?;
    let viewer = t.token("mix", "viewer")?;
    for (k, ds) in DAYS.iter().enumerate() {
        upload_day(&t, &editor, ds, k)?;
    }
    let seg = json!({"id": "pros", "name": "pros", "rule": {"tag": "plan", "in": ["pro"]}}).to_string();
    t.ok("POST", "/api/v1/apps/mix/segments", &editor, Some(seg.as_bytes()))?;
    wait(&t, &editor)?;

    let grade = json!({"values": {
        "champions": {"all": [{"segment": "pros"}, {"tag": "gender", "in": ["female"]}]},
        "pro": {"tag": "plan", "in": ["pro"]},
        "rest": {"all": []},
    }, "category": "value/rfm"});
    let r = put(&t, &editor, "grade", grade)?;
    assert_eq!(r.status, 200, "{}", r.body);
    let def = r.json()?;
    let order: Vec<&str> =
        def["values"].as_array().ok_or("values")?.iter().filter_map(|v| v["value"].as_str()).collect();
    assert_eq!(order, ["champions", "pro", "rest"], "the order given");
    assert_eq!(def["multi"], false);
    let flags = json!({"values": {"a": {"tag": "plan", "in": ["pro"]}, "b": {"tag": "gender", "in": ["female"]}}, "multi": true});
    assert_eq!(put(&t, &editor, "flags", flags)?.status, 200);
    // The latest day before the answer, the others by the durable job.
    wait(&t, &editor)?;
    for (k, ds) in DAYS.iter().enumerate() {
        for (value, expected) in grade_oracle(k) {
            let got = count(&t, &viewer, ds, json!({"tag": "grade", "in": [value]}))?;
            assert_eq!(got, expected, "{ds} grade={value}");
        }
        let (pros, females) =
            ((0..USERS).filter(|&i| pro(i, k)).count() as u64, (0..USERS).filter(|&i| female(i, k)).count() as u64);
        assert_eq!(count(&t, &viewer, ds, json!({"tag": "flags", "in": ["a"]}))?, pros, "{ds} multi a");
        assert_eq!(count(&t, &viewer, ds, json!({"tag": "flags", "in": ["b"]}))?, females, "{ds} multi b");
    }
    // A day published later gets it too.
    upload_day(&t, &editor, LATER, 3)?;
    for (value, expected) in grade_oracle(3) {
        assert_eq!(count(&t, &viewer, LATER, json!({"tag": "grade", "in": [value]}))?, expected, "{LATER} {value}");
    }
    // A tag like any other: a user's tags, segments over it, the catalog.
    let u14 = t.ok("GET", &format!("/api/v1/apps/mix/users/u14/tags?ds={}", DAYS[0]), &editor, None)?;
    // Day 0: 14 is a multiple of 7 (pro) and even (female): a champion.
    assert_eq!(u14["tags"]["grade"], json!(["champions"]), "{u14}");
    let seg = json!({"id": "champs", "name": "champs", "rule": {"tag": "grade", "in": ["champions"]}}).to_string();
    t.ok("POST", "/api/v1/apps/mix/segments", &editor, Some(seg.as_bytes()))?;
    wait(&t, &editor)?;
    let h = t.ok("GET", "/api/v1/apps/mix/segments/champs/history", &viewer, None)?;
    for (k, ds) in DAYS.iter().enumerate() {
        let day = h["days"].as_array().ok_or("days")?.iter().find(|d| d["ds"] == *ds).ok_or("day")?;
        assert_eq!(day["size"].as_u64(), Some(grade_oracle(k)[0].1), "{ds}");
    }
    let catalog = t.ok("GET", "/api/v1/apps/mix/groups", &viewer, None)?;
    let find = |name: &str| catalog["groups"].as_array().and_then(|g| g.iter().find(|g| g["name"] == name)).cloned();
    let g = find("grade").ok_or("grade in the catalog")?;
    assert_eq!((g["composite"].as_bool(), g["category"].as_str()), (Some(true), Some("value/rfm")));
    assert_eq!(g["usage"]["segments"], json!(["champs"]));
    assert_eq!(find("plan").ok_or("plan")?["usage"]["composites"], json!(["flags", "grade"]));
    // Offline asks about composites too.
    let dry = t
        .call("PATCH", "/api/v1/apps/mix/groups/gender", &editor, Some(br#"{"status":"offline","dry_run":true}"#))?
        .json()?;
    assert_eq!(dry["affected"]["composites"], json!(["flags", "grade"]));
    assert_eq!(dry["affected"]["segments"], json!(["champs"]), "through grade");
    Ok(())
}

#[test]
fn cycles_and_bad_definitions_are_refused_and_change_nothing() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("mix", "editor")?;
    let viewer = t.token("mix", "viewer")?;
    upload_day(&t, &editor, DAYS[0], 0)?;
    let seg = |id: &str, rule: Value| json!({"id": id, "name": id, "rule": rule}).to_string();
    t.ok(
        "POST",
        "/api/v1/apps/mix/segments",
        &editor,
        Some(seg("s2", json!({"tag": "plan", "in": ["pro"]})).as_bytes()),
    )?;
    assert_eq!(put(&t, &editor, "g2", json!({"values": {"v": {"segment": "s2"}}}))?.status, 200);
    // Segment side: s2 naming g2 would make s2 depend on itself through the composite.
    let r = t.call(
        "PUT",
        "/api/v1/apps/mix/segments/s2",
        &editor,
        Some(seg("s2", json!({"tag": "g2", "in": ["v"]})).as_bytes()),
    )?;
    let body = r.json()?;
    assert_eq!((r.status, body["cycle"].clone()), (400, json!(["s2", "tag:g2", "s2"])), "{}", r.body);
    assert_eq!(body["path"], "tag");
    // Composite side: g3 → segment s3 → g3.
    assert_eq!(put(&t, &editor, "g3", json!({"values": {"v": {"tag": "plan", "in": ["pro"]}}}))?.status, 200);
    t.ok("POST", "/api/v1/apps/mix/segments", &editor, Some(seg("s3", json!({"tag": "g3", "in": ["v"]})).as_bytes()))?;
    let r = put(
        &t,
        &editor,
        "g3",
        json!({"values": {"v": {"tag": "plan", "in": ["pro"]}, "w": {"not": {"segment": "s3"}}}}),
    )?;
    let body = r.json()?;
    assert_eq!((r.status, body["cycle"].clone()), (400, json!(["tag:g3", "s3", "tag:g3"])), "{}", r.body);
    assert_eq!(body["path"], "values.w.not.segment");
    let r = put(&t, &editor, "self", json!({"values": {"v": {"tag": "self", "in": ["v"]}}}))?;
    assert_eq!(r.json()?["cycle"], json!(["tag:self", "tag:self"]));

    let before = (
        t.ok("GET", "/api/v1/apps/mix/composites", &editor, None)?,
        t.ok("GET", "/api/v1/apps/mix/days", &editor, None)?,
    );
    for (body, field) in [
        (json!({"values": {}}), "values"),
        (json!({"values": {"v": {"tag": "plan", "in": ["pro"]}}, "category": "a//b"}), "category"),
        (json!({"values": {"": {"all": []}}}), "values"),
    ] {
        let r = put(&t, &editor, "bad", body)?;
        assert_eq!((r.status, r.json()?["field"].clone()), (400, json!(field)), "{}", r.body);
    }
    for (body, path) in [
        (json!({"values": {"v": {"tag": 3}}}), "values.v.tag"),
        (json!({"values": {"v": {"all": [{"tag": "plna", "in": ["pro"]}]}}}), "values.v.all[0].tag"),
    ] {
        let r = put(&t, &editor, "bad", body)?;
        assert_eq!((r.status, r.json()?["path"].clone()), (400, json!(path)), "{}", r.body);
    }
    assert_eq!(put(&t, &editor, "bad", json!({"values": {"v": {"all": []}}, "colour": 1}))?.status, 400);
    assert_eq!(put(&t, &viewer, "bad", json!({"values": {"v": {"all": []}}}))?.status, 403);
    // An uploaded group's name is taken, and a composite's name cannot be uploaded.
    assert_eq!(put(&t, &editor, "gender", json!({"values": {"v": {"all": []}}}))?.status, 409);
    let r =
        t.call("PUT", &format!("/api/v1/apps/mix/days/{}/tags/g2", DAYS[0]), &editor, Some(b"user_id,value\nu1,x\n"))?;
    assert_eq!(r.status, 409, "{}", r.body);
    let after = (
        t.ok("GET", "/api/v1/apps/mix/composites", &editor, None)?,
        t.ok("GET", "/api/v1/apps/mix/days", &editor, None)?,
    );
    assert_eq!(after, before, "nothing changed");

    // Deleting one takes its group out of the day.
    assert!(groups_of(&t, &editor, DAYS[0])?.contains("g2"));
    t.ok("DELETE", "/api/v1/apps/mix/composites/g2", &editor, None)?;
    assert!(!groups_of(&t, &editor, DAYS[0])?.contains("g2"));
    assert_eq!(t.call("DELETE", "/api/v1/apps/mix/composites/g2", &editor, None)?.status, 404);
    Ok(())
}
