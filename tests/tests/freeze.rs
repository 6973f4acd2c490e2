//! "Save as static (frozen now)" in one request, on the real binary: a rule's or a segment's
//! members on a day become a static segment whose export equals a naive recomputation from the
//! uploaded rows; bad requests name the field or the rule's path; and when any step fails (an
//! id already taken, a full disk) no segment is left behind.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "freeze-admin";
const DAY1: &str = "2026-11-19";
const DAY2: &str = "2026-11-20";

/// `u{i}` for i in 0..n, with gender by i % 3 and plan by i % 5.
fn upload(t: &TestServer, token: &str, ds: &str, n: usize) -> Result<(), Error> {
    let mut gender = String::from("user_id,value\n");
    let mut plan = String::from("user_id,value\n");
    for i in 0..n {
        gender.push_str(&format!("u{i},{}\n", if i % 3 == 0 { "male" } else { "female" }));
        plan.push_str(&format!("\"u{i}\",{}\n", if i % 5 == 0 { "pro" } else { "free" }));
    }
    t.ok("PUT", &format!("/api/v1/apps/f/days/{ds}/tags/gender"), token, Some(gender.as_bytes()))?;
    t.ok("PUT", &format!("/api/v1/apps/f/days/{ds}/tags/plan"), token, Some(plan.as_bytes()))?;
    Ok(())
}

/// The member export of a segment on a day, as a set of ids.
fn export(t: &TestServer, token: &str, id: &str, ds: &str) -> Result<BTreeSet<String>, Error> {
    let r = t.call("GET", &format!("/api/v1/apps/f/segments/{id}/members?ds={ds}"), token, None)?;
    if r.status != 200 {
        return Err(format!("export {id}: {} {}", r.status, r.body).into());
    }
    Ok(r.body.lines().skip(1).map(str::to_owned).collect())
}

fn naive(n: usize, pick: impl Fn(usize) -> bool) -> BTreeSet<String> {
    (0..n).filter(|&i| pick(i)).map(|i| format!("u{i}")).collect()
}

fn segment_ids(t: &TestServer, token: &str) -> Result<Vec<String>, Error> {
    let v = t.ok("GET", "/api/v1/apps/f/segments", token, None)?;
    Ok(v["segments"].as_array().ok_or("segments")?.iter().filter_map(|s| s["id"].as_str().map(str::to_owned)).collect())
}

#[test]
fn freezing_a_rule_or_a_segment_makes_a_static_segment_of_exactly_its_members() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("f", "editor")?;
    upload(&t, &token, DAY1, 400)?;
    upload(&t, &token, DAY2, 600)?;

    // A rule, on the latest day by default.
    let rule = json!({"all": [{"tag": "gender", "in": ["female"]}, {"tag": "plan", "in": ["pro"]}]});
    let body = json!({"name": "Pro women, frozen", "rule": rule});
    let r =
        t.call("POST", "/api/v1/apps/f/segments/pro-women-now/freeze", &token, Some(body.to_string().as_bytes()))?;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.header("etag").is_some());
    let v = r.json()?;
    let want = naive(600, |i| i % 3 != 0 && i % 5 == 0);
    assert_eq!((v["ds"].as_str(), v["members"].as_u64()), (Some(DAY2), Some(want.len() as u64)), "{v}");
    assert_eq!((v["segment"]["kind"].as_str(), v["segment"]["rule"].clone()), (Some("static"), Value::Null));
    assert_eq!(export(&t, &token, "pro-women-now", DAY2)?, want);

    // Frozen means frozen: a new day with more pro women does not change its members.
    upload(&t, &token, "2026-11-21", 900)?;
    assert_eq!(export(&t, &token, "pro-women-now", "2026-11-21")?, want);

    // A dynamic segment's members on an earlier day.
    let seg = json!({"id": "men", "name": "Men", "kind": "dynamic", "rule": {"tag": "gender", "in": ["male"]}});
    t.ok("POST", "/api/v1/apps/f/segments", &token, Some(seg.to_string().as_bytes()))?;
    // The earlier day's members come from the backfill: wait for it.
    t.wait_for_segments_job(&token, "f", "backfill", |j| j["state"] == "done")?;
    let body = json!({"name": "Men on the 19th", "segment": "men", "ds": DAY1});
    let v = t.ok("POST", "/api/v1/apps/f/segments/men-19/freeze", &token, Some(body.to_string().as_bytes()))?;
    assert_eq!(v["ds"], DAY1);
    let men = naive(400, |i| i % 3 == 0);
    // On the latest day at once; on the earlier days once the backfill has run.
    assert_eq!(export(&t, &token, "men-19", "2026-11-21")?, men);
    t.wait_for_segments_job(&token, "f", "backfill", |j| j["state"] == "done")?;
    assert_eq!(export(&t, &token, "men-19", DAY1)?, men);
    // It is a segment like any other: rules can use it.
    let est = json!({"rule": {"segment": "men-19"}, "ds": DAY2});
    let e = t.ok("POST", "/api/v1/apps/f/estimate", &token, Some(est.to_string().as_bytes()))?;
    assert_eq!(e["count"].as_u64(), Some(men.len() as u64));
    Ok(())
}

#[test]
fn a_freeze_that_fails_leaves_nothing_behind() -> Result<(), Error> {
    let control = tempfile::NamedTempFile::new()?;
    let path = control.path().to_owned();
    std::fs::remove_file(&path)?;
    let t = TestServer::start_with_env(ADMIN, &[], &[("SIEVE_FAULTS", path.as_os_str())])?;
    let token = t.app_with_token("f", "editor")?;
    let viewer = t.token("f", "viewer")?;
    upload(&t, &token, DAY2, 300)?;
    let rule = json!({"tag": "plan", "in": ["pro"]});
    let post = |id: &str, body: &Value, tok: &str| {
        t.call("POST", &format!("/api/v1/apps/f/segments/{id}/freeze"), tok, Some(body.to_string().as_bytes()))
    };

    // Bad requests name what is wrong, and create nothing.
    let r = post("x", &json!({"name": "x", "rule": {"all": [{"tag": "plan", "in": ["nope"]}]}}), &token)?;
    assert_eq!((r.status, r.json()?["path"].clone()), (400, json!("all[0].in[0]")), "{}", r.body);
    let r = post("x", &json!({"name": "x", "rule": rule, "segment": "s"}), &token)?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("rule")), "{}", r.body);
    let r = post("x", &json!({"name": "x"}), &token)?;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post("x", &json!({"name": "", "rule": rule}), &token)?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("name")), "{}", r.body);
    let r = post("x", &json!({"name": "x", "segment": "absent"}), &token)?;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = post("x", &json!({"name": "x", "rule": rule, "ds": "2026-01-01"}), &token)?;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = post("x", &json!({"name": "x", "rule": rule}), &viewer)?;
    assert_eq!(r.status, 403, "viewers may not create segments: {}", r.body);
    assert!(segment_ids(&t, &token)?.is_empty());

    // An id that is taken is a 409 and the existing segment is untouched.
    let first = post("pros", &json!({"name": "Pros", "rule": rule}), &token)?;
    assert_eq!(first.status, 201, "{}", first.body);
    let r = post("pros", &json!({"name": "Other", "rule": {"tag": "plan", "in": ["free"]}}), &token)?;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(export(&t, &token, "pros", DAY2)?, naive(300, |i| i % 5 == 0));

    // A full disk while the members are written: an error, and no segment.
    std::fs::write(&path, "blob enospc\n")?;
    // (Free men: a member set no stored blob has, so the write really happens.)
    let free_men = json!({"all": [{"tag": "plan", "in": ["free"]}, {"tag": "gender", "in": ["male"]}]});
    let r = post("later", &json!({"name": "Later", "rule": free_men}), &token)?;
    assert!(r.status == 507 || r.status == 503, "{} {}", r.status, r.body);
    std::fs::remove_file(&path)?;
    assert_eq!(segment_ids(&t, &token)?, ["pros"]);
    Ok(())
}
