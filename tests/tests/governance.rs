//! Tag governance (issue 15) on the real binary: the catalog is metadata (moving a group to
//! another category leaves every blob, manifest and version unchanged), `offline` lists who is
//! affected before the change and leaves carry-forward from the next day, a truncated upload
//! of a held group answers 202 and changes no estimate, membership or version until approved,
//! restoring a version brings its counts back on the day and on the days that carried it, and
//! estimates are counted per group and value. Every count is checked against a recount of the
//! CSV rows the test wrote.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sieve_tests::{Error, TestServer, files_under, services};

const ADMIN: &str = "governance-admin";
const D1: &str = "2026-11-18";
const D2: &str = "2026-11-19";
const D3: &str = "2026-11-20";

/// `user_id,value` rows for users `0..n` with `value(i)` (users with `None` are left out).
fn csv(n: usize, value: impl Fn(usize) -> Option<&'static str>) -> String {
    let mut out = String::from("user_id,value\n");
    for i in 0..n {
        if let Some(v) = value(i) {
            out.push_str(&format!("u{i},{v}\n"));
        }
    }
    out
}

/// How many rows of a CSV `csv` made hold `value` (the oracle: a recount of the text).
fn recount(text: &str, value: &str) -> u64 {
    text.lines().skip(1).filter(|l| l.split(',').nth(1) == Some(value)).count() as u64
}

fn gender(i: usize) -> Option<&'static str> {
    Some(if i.is_multiple_of(2) { "female" } else { "male" })
}

fn put(t: &TestServer, token: &str, app: &str, ds: &str, group: &str, body: &str) -> Result<sieve_tests::Reply, Error> {
    t.call("PUT", &format!("/api/v1/apps/{app}/days/{ds}/tags/{group}"), token, Some(body.as_bytes()))
}

fn send(t: &TestServer, method: &str, path: &str, token: &str, body: Value) -> Result<sieve_tests::Reply, Error> {
    t.call(method, path, token, Some(body.to_string().as_bytes()))
}

fn count(t: &TestServer, token: &str, app: &str, ds: &str, group: &str, value: &str) -> Result<u64, Error> {
    let body = json!({"ds": ds, "rule": {"tag": group, "in": [value]}}).to_string();
    let e = t.ok("POST", &format!("/api/v1/apps/{app}/estimate"), token, Some(body.as_bytes()))?;
    e["count"].as_u64().ok_or_else(|| format!("no count: {e}").into())
}

fn manifest(t: &TestServer, token: &str, app: &str, ds: &str) -> Result<Value, Error> {
    t.ok("GET", &format!("/api/v1/apps/{app}/days/{ds}/manifest"), token, None)
}

fn group<'a>(list: &'a Value, name: &str) -> Result<&'a Value, Error> {
    list["groups"]
        .as_array()
        .ok_or("groups")?
        .iter()
        .find(|g| g["name"] == name)
        .ok_or_else(|| format!("no group {name}").into())
}

fn field_error(r: &sieve_tests::Reply, status: u16, field: &str) -> Result<(), Error> {
    let body = r.json()?;
    if r.status != status || body["field"] != field {
        return Err(format!("expected {status} naming `{field}`, got {} {}", r.status, r.body).into());
    }
    Ok(())
}

/// The full-tier blobs of the `gender` group's values in a manifest.
fn gender_blobs(m: &Value) -> Vec<String> {
    let groups = m["groups"].as_array().into_iter().flatten().filter(|g| g["name"] == "gender");
    let values = groups.flat_map(|g| g["values"].as_array().cloned().unwrap_or_default());
    values.filter_map(|v| v["full"]["blob"].as_str().map(str::to_owned)).collect()
}

/// Everything a reader could see of the app's days: each day's manifest address and version.
fn days_state(t: &TestServer, token: &str, app: &str) -> Result<Value, Error> {
    t.ok("GET", &format!("/api/v1/apps/{app}/days"), token, None)
}

#[test]
fn the_catalog_is_metadata_and_offline_lists_the_affected_before_leaving_carry_forward() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("cat", "editor")?;
    let viewer = t.token("cat", "viewer")?;
    let plan = |i: usize| Some(if i.is_multiple_of(10) { "pro" } else { "free" });
    for ds in [D1, D2] {
        put(&t, &editor, "cat", ds, "gender", &csv(200, gender))?;
        put(&t, &editor, "cat", ds, "plan", &csv(200, plan))?;
    }
    let blobs = t.data_dir().join("blobs");
    let (files_before, days_before) = (files_under(&blobs), days_state(&t, &editor, "cat")?);
    let manifests_before = [manifest(&t, &editor, "cat", D1)?, manifest(&t, &editor, "cat", D2)?];

    // Moving a group in the category tree, and the rest of its metadata.
    let patch = json!({"category": "people/basic", "display_name": "Gender", "owner": "data team",
        "description": "Self-declared.", "cadence": "daily"});
    let r = send(&t, "PATCH", "/api/v1/apps/cat/groups/gender", &editor, patch)?;
    assert_eq!(r.status, 200, "{}", r.body);
    let change = r.json()?;
    assert_eq!(change["applied"], true);
    assert_eq!(change["group"]["category"], "people/basic");
    let list = t.ok("GET", "/api/v1/apps/cat/groups", &viewer, None)?;
    let g = group(&list, "gender")?;
    assert_eq!(
        (g["display_name"].as_str(), g["owner"].as_str(), g["cadence"].as_str()),
        (Some("Gender"), Some("data team"), Some("daily"))
    );
    assert_eq!(g["category"], "people/basic");
    assert_eq!(g["latest_loaded_ds"], D2);
    assert_eq!(g["stale"], false);
    assert_eq!(g["quality"], json!({"policy": "warn", "max_change_pct": 30.0}));
    let female = g["values"].as_array().ok_or("values")?.iter().find(|v| v["value"] == "female").ok_or("female")?;
    assert_eq!(female["holders"].as_u64(), Some(recount(&csv(200, gender), "female")));
    // No blob, no manifest, no version changed: the change is metadata.
    assert_eq!(files_under(&blobs), files_before, "no blob file written");
    assert_eq!(days_state(&t, &editor, "cat")?, days_before, "no day version");
    assert_eq!([manifest(&t, &editor, "cat", D1)?, manifest(&t, &editor, "cat", D2)?], manifests_before);

    // Bad input names the field and changes nothing; viewers read only.
    let catalog = t.ok("GET", "/api/v1/apps/cat/groups", &editor, None)?;
    for (body, field) in [
        (json!({"category": "a//b"}), "category"),
        (json!({"quality": {"policy": "hold", "max_change_pct": -1}}), "quality"),
        (json!({"display_name": "x".repeat(101)}), "display_name"),
    ] {
        field_error(&send(&t, "PATCH", "/api/v1/apps/cat/groups/gender", &editor, body)?, 400, field)?;
    }
    for body in [json!({"colour": "red"}), json!({"status": "gone"}), json!({"cadence": 3})] {
        let r = send(&t, "PATCH", "/api/v1/apps/cat/groups/gender", &editor, body)?;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    assert_eq!(send(&t, "PATCH", "/api/v1/apps/cat/groups/nope", &editor, json!({"owner": "x"}))?.status, 404);
    assert_eq!(send(&t, "PATCH", "/api/v1/apps/cat/groups/gender", &viewer, json!({"owner": "x"}))?.status, 403);
    assert_eq!(t.ok("GET", "/api/v1/apps/cat/groups", &editor, None)?, catalog, "nothing changed");

    // Offline: who is affected is answered before anything changes.
    let seg = |id: &str, rule: Value| json!({"id": id, "name": id, "rule": rule}).to_string();
    t.ok(
        "POST",
        "/api/v1/apps/cat/segments",
        &editor,
        Some(seg("women", json!({"tag": "gender", "in": ["female"]})).as_bytes()),
    )?;
    t.ok(
        "POST",
        "/api/v1/apps/cat/segments",
        &editor,
        Some(seg("pro-women", json!({"all": [{"segment": "women"}, {"tag": "plan", "in": ["pro"]}]})).as_bytes()),
    )?;
    t.ok(
        "POST",
        "/api/v1/apps/cat/segments",
        &editor,
        Some(seg("pros", json!({"tag": "plan", "in": ["pro"]})).as_bytes()),
    )?;
    t.wait_for_segments_job(&editor, "cat", "segments computed", |j| j["state"] == "idle" || j["state"] == "done")?;
    let dry =
        send(&t, "PATCH", "/api/v1/apps/cat/groups/gender", &editor, json!({"status": "offline", "dry_run": true}))?
            .json()?;
    assert_eq!(dry["applied"], false);
    assert_eq!(dry["affected"]["segments"], json!(["pro-women", "women"]), "directly and through another segment");
    assert_eq!(group(&t.ok("GET", "/api/v1/apps/cat/groups", &editor, None)?, "gender")?["status"], "active");
    let done = send(&t, "PATCH", "/api/v1/apps/cat/groups/gender", &editor, json!({"status": "offline"}))?.json()?;
    assert_eq!(done["applied"], true);
    assert_eq!(done["affected"]["segments"], json!(["pro-women", "women"]));
    assert_eq!(done["group"]["offline_from"], D3);
    assert_eq!(days_state(&t, &editor, "cat")?["days"].as_array().map(Vec::len), Some(2), "no day changed");

    // The next day is published without it; the days before keep it.
    put(&t, &editor, "cat", D3, "plan", &csv(200, plan))?;
    let m3 = manifest(&t, &editor, "cat", D3)?;
    let names: BTreeSet<&str> =
        m3["groups"].as_array().ok_or("groups")?.iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(names, BTreeSet::from(["plan"]));
    assert_eq!(count(&t, &editor, "cat", D2, "gender", "female")?, recount(&csv(200, gender), "female"));
    // A backfill of D2 does not bring it back into D3.
    put(&t, &editor, "cat", D2, "gender", &csv(180, gender))?;
    assert!(
        manifest(&t, &editor, "cat", D3)?["groups"].as_array().ok_or("groups")?.iter().all(|g| g["name"] != "gender")
    );
    // The segments that used it say why they stop on D3.
    let h = t.ok("GET", "/api/v1/apps/cat/segments/women/history", &editor, None)?;
    let d3 = h["days"].as_array().ok_or("days")?.iter().find(|d| d["ds"] == D3).ok_or("D3")?.clone();
    assert!(d3["error"].as_str().is_some_and(|e| e.contains("offline")), "{d3}");
    // Back online: the status changes, nothing else.
    let back = send(&t, "PATCH", "/api/v1/apps/cat/groups/gender", &editor, json!({"status": "active"}))?.json()?;
    assert_eq!(back["group"]["status"], "active");
    assert!(back["group"].get("offline_from").is_none());
    Ok(())
}

#[test]
fn a_truncated_upload_of_a_held_group_changes_nothing_until_approved() -> Result<(), Error> {
    held_upload_flow(&TestServer::start(ADMIN, &[])?)
}

#[test]
fn holds_and_restores_on_postgresql_and_object_storage() -> Result<(), Error> {
    // The same flows with the metadata in PostgreSQL and the blobs (held chunks included) in
    // S3-compatible storage: the version log and a hold's decision commit with the publish there too.
    let store = services::shared()?.store("governance")?;
    let t = TestServer::start_with_env(ADMIN, &[], &store.vars())?;
    held_upload_flow(&t)?;
    restore_flow(&t)
}

fn held_upload_flow(t: &TestServer) -> Result<(), Error> {
    let editor = t.app_with_token("hold", "editor")?;
    let viewer = t.token("hold", "viewer")?;
    let full = csv(1000, gender);
    put(t, &editor, "hold", D1, "gender", &full)?;
    put(t, &editor, "hold", D1, "plan", &csv(1000, |_| Some("free")))?;
    let r = send(t, "PATCH", "/api/v1/apps/hold/groups/gender", &editor, json!({"quality": {"policy": "hold"}}))?;
    assert_eq!(r.status, 200, "{}", r.body);
    let female = recount(&full, "female");
    assert_eq!(count(t, &viewer, "hold", D1, "gender", "female")?, female);

    // A truncated file: the first 300 rows.
    let truncated: String = full.lines().take(301).map(|l| format!("{l}\n")).collect();
    let before = (days_state(t, &editor, "hold")?, t.ok("GET", "/api/v1/apps/hold/users/u900/tags", &editor, None)?);
    let r = put(t, &editor, "hold", D1, "gender", &truncated)?;
    assert_eq!(r.status, 202, "{}", r.body);
    let held = r.json()?;
    let id = held["held"].as_str().ok_or("hold id")?.to_owned();
    let holders =
        held["checks"].as_array().ok_or("checks")?.iter().find(|c| c["check"] == "holders").ok_or("holders")?;
    assert_eq!(
        (holders["ok"].as_bool(), holders["before"].as_f64(), holders["after"].as_f64()),
        (Some(false), Some(1000.0), Some(300.0))
    );
    // Nothing readable changed: estimates, versions, membership.
    assert_eq!(count(t, &viewer, "hold", D1, "gender", "female")?, female);
    let after = (days_state(t, &editor, "hold")?, t.ok("GET", "/api/v1/apps/hold/users/u900/tags", &editor, None)?);
    assert_eq!(after, before);
    let versions = t.ok("GET", &format!("/api/v1/apps/hold/days/{D1}/versions"), &viewer, None)?;
    assert_eq!(versions["current"], 2, "gender then plan");
    // It is listed, counted in the catalog and in /health.
    let holds = t.ok("GET", "/api/v1/apps/hold/holds", &viewer, None)?;
    assert_eq!(holds["holds"].as_array().map(Vec::len), Some(1));
    assert_eq!((holds["holds"][0]["id"].as_str(), holds["holds"][0]["rows"].as_u64()), (Some(id.as_str()), Some(300)));
    assert_eq!(group(&t.ok("GET", "/api/v1/apps/hold/groups", &viewer, None)?, "gender")?["held"], 1);
    assert_eq!(t.ok("GET", "/api/v1/health", "", None)?["governance"]["held_uploads"], 1);
    // Viewers may not decide; an unknown hold is a 404.
    assert_eq!(t.call("POST", &format!("/api/v1/apps/hold/holds/{id}/approve"), &viewer, None)?.status, 403);
    assert_eq!(t.call("POST", "/api/v1/apps/hold/holds/nope/approve", &editor, None)?.status, 404);

    // Approved: published as if uploaded now.
    let published = t.ok("POST", &format!("/api/v1/apps/hold/holds/{id}/approve"), &editor, None)?;
    assert_eq!(published["version"], 3);
    assert_eq!(published["quality"]["verdict"], "approved");
    assert_eq!(count(t, &viewer, "hold", D1, "gender", "female")?, recount(&truncated, "female"));
    let versions = t.ok("GET", &format!("/api/v1/apps/hold/days/{D1}/versions"), &viewer, None)?;
    let v3 = &versions["versions"][0];
    assert_eq!(
        (v3["version"].as_u64(), v3["cause"].as_str(), v3["verdict"].as_str()),
        (Some(3), Some("approve"), Some("approved"))
    );
    assert_eq!((v3["holders_before"].as_u64(), v3["holders_after"].as_u64()), (Some(1000), Some(300)));
    assert_eq!(t.call("POST", &format!("/api/v1/apps/hold/holds/{id}/approve"), &editor, None)?.status, 409, "once");
    assert_eq!(t.ok("GET", "/api/v1/health", "", None)?["governance"]["held_uploads"], 0);
    assert_eq!(t.ok("GET", "/api/v1/health", "", None)?["governance"]["flagged_groups"], 0, "an editor approved it");
    assert_eq!(
        v3["failed"].as_array().map(|f| f.iter().any(|c| c["check"] == "holders")),
        Some(true),
        "kept in the log"
    );
    let all = t.ok("GET", "/api/v1/apps/hold/holds?all=true", &viewer, None)?;
    assert_eq!((all["holds"][0]["state"].as_str(), all["holds"][0]["version"].as_u64()), (Some("approved"), Some(3)));

    // A second bad upload, rejected: nothing changes, and it cannot be approved afterwards.
    let state = days_state(t, &editor, "hold")?;
    let r = put(t, &editor, "hold", D1, "gender", "user_id,value\n")?;
    assert_eq!(r.status, 202, "a header-only upload: {}", r.body);
    let empty = r.json()?;
    assert!(empty["checks"].as_array().ok_or("checks")?.iter().any(|c| c["check"] == "empty" && c["ok"] == false));
    let id2 = empty["held"].as_str().ok_or("id")?;
    assert_eq!(t.ok("POST", &format!("/api/v1/apps/hold/holds/{id2}/reject"), &editor, None)?["state"], "rejected");
    assert_eq!(t.call("POST", &format!("/api/v1/apps/hold/holds/{id2}/approve"), &editor, None)?.status, 409);
    assert_eq!(days_state(t, &editor, "hold")?, state);
    assert_eq!(count(t, &viewer, "hold", D1, "gender", "female")?, recount(&truncated, "female"));

    // Under `warn` the same kind of upload publishes and flags the group.
    send(
        t,
        "PATCH",
        "/api/v1/apps/hold/groups/gender",
        &editor,
        json!({"quality": {"policy": "warn", "max_change_pct": 10}}),
    )?;
    let smaller: String = full.lines().take(201).map(|l| format!("{l}\n")).collect();
    let r = put(t, &editor, "hold", D1, "gender", &smaller)?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()?["quality"]["verdict"], "warn");
    assert_eq!(count(t, &viewer, "hold", D1, "gender", "female")?, recount(&smaller, "female"));
    let flags = group(&t.ok("GET", "/api/v1/apps/hold/groups", &viewer, None)?, "gender")?["flags"].clone();
    assert!(flags.as_array().is_some_and(|f| f.iter().any(|c| c["check"] == "holders")), "{flags}");
    assert_eq!(t.ok("GET", "/api/v1/health", "", None)?["governance"]["flagged_groups"], 1);
    // A load that passes clears the flag.
    put(t, &editor, "hold", D1, "gender", &smaller)?;
    assert_eq!(group(&t.ok("GET", "/api/v1/apps/hold/groups", &viewer, None)?, "gender")?["flags"], json!([]));
    Ok(())
}

#[test]
fn restoring_a_version_brings_the_old_counts_back_on_the_day_and_the_days_that_carried_it() -> Result<(), Error> {
    restore_flow(&TestServer::start(ADMIN, &[])?)
}

fn restore_flow(t: &TestServer) -> Result<(), Error> {
    let editor = t.app_with_token("rest", "editor")?;
    let viewer = t.token("rest", "viewer")?;
    let first = csv(300, gender);
    let second = csv(300, |i| Some(if i.is_multiple_of(3) { "female" } else { "male" }));
    put(t, &editor, "rest", D1, "gender", &first)?;
    let v1_blobs = gender_blobs(&manifest(t, &editor, "rest", D1)?);
    assert_eq!(v1_blobs.len(), 2);
    put(t, &editor, "rest", D2, "plan", &csv(300, |_| Some("free")))?;
    // A backfill of D1 flows into D2, which carried gender from D1.
    let r = put(t, &editor, "rest", D1, "gender", &second)?.json()?;
    assert_eq!(r["days_updated"], json!([D2]));
    for ds in [D1, D2] {
        assert_eq!(count(t, &viewer, "rest", ds, "gender", "female")?, recount(&second, "female"));
    }
    let v = t.ok("GET", &format!("/api/v1/apps/rest/days/{D1}/versions"), &viewer, None)?;
    assert_eq!(v["current"], 2);
    let causes: Vec<(u64, &str)> = v["versions"]
        .as_array()
        .ok_or("versions")?
        .iter()
        .filter_map(|x| Some((x["version"].as_u64()?, x["cause"].as_str()?)))
        .collect();
    assert_eq!(causes, vec![(2, "upload"), (1, "upload")]);
    assert_eq!(v["versions"][0]["rows"], 300);
    assert!(v["versions"][0]["by"]["id"].is_string(), "the token is named");
    let v2 = t.ok("GET", &format!("/api/v1/apps/rest/days/{D2}/versions"), &viewer, None)?;
    assert_eq!(v2["versions"][0]["cause"], "backfill");

    // Bad requests name the field and change nothing.
    let state = days_state(t, &editor, "rest")?;
    let restore = format!("/api/v1/apps/rest/days/{D1}/groups/gender/restore");
    field_error(&send(t, "POST", &restore, &editor, json!({"version": 99}))?, 400, "version")?;
    field_error(
        &send(t, "POST", &format!("/api/v1/apps/rest/days/{D1}/groups/plan/restore"), &editor, json!({"version": 1}))?,
        400,
        "version",
    )?;
    assert_eq!(send(t, "POST", &restore, &editor, json!({"version": "one"}))?.status, 400);
    assert_eq!(send(t, "POST", &restore, &viewer, json!({"version": 1}))?.status, 403);
    assert_eq!(days_state(t, &editor, "rest")?, state);

    // Restoring version 1: a new version whose counts are version 1's, on D1 and on D2.
    let r = send(t, "POST", &restore, &editor, json!({"version": 1}))?;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = r.json()?;
    assert_eq!((r["version"].as_u64(), r["days_updated"].clone()), (Some(3), json!([D2])));
    for ds in [D1, D2] {
        assert_eq!(count(t, &viewer, "rest", ds, "gender", "female")?, recount(&first, "female"), "{ds}");
        assert_eq!(count(t, &viewer, "rest", ds, "gender", "male")?, recount(&first, "male"), "{ds}");
    }
    // The very same full-tier bitmaps as version 1 (the sample tier is rebuilt from them).
    assert_eq!(gender_blobs(&manifest(t, &editor, "rest", D1)?), v1_blobs);
    let v = t.ok("GET", &format!("/api/v1/apps/rest/days/{D1}/versions"), &viewer, None)?;
    let top = &v["versions"][0];
    assert_eq!((top["cause"].as_str(), top["restored_from"].as_u64()), (Some("restore"), Some(1)));
    assert_eq!((top["holders_before"].as_u64(), top["holders_after"].as_u64()), (Some(300), Some(300)));
    Ok(())
}

#[test]
fn estimates_are_counted_per_group_and_value_and_references_listed() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("use", "editor")?;
    put(&t, &editor, "use", D1, "gender", &csv(50, gender))?;
    put(&t, &editor, "use", D1, "plan", &csv(50, |_| Some("free")))?;
    let seg = json!({"id": "women", "name": "women", "rule": {"tag": "gender", "in": ["female"]}}).to_string();
    t.ok("POST", "/api/v1/apps/use/segments", &editor, Some(seg.as_bytes()))?;
    count(&t, &editor, "use", D1, "gender", "female")?;
    count(&t, &editor, "use", D1, "gender", "female")?;
    count(&t, &editor, "use", D1, "gender", "male")?;
    count(&t, &editor, "use", D1, "plan", "free")?;
    // Counted in memory and written every few seconds: wait for all of them (a write can fall
    // between the gender estimates and the plan one, so gender's alone is not enough).
    let started = Instant::now();
    let list = loop {
        let list = t.ok("GET", "/api/v1/apps/use/groups", &editor, None)?;
        let done = group(&list, "gender")?["usage"]["estimates_30d"] == 3
            && group(&list, "plan")?["usage"]["estimates_30d"] == 1;
        if done || started.elapsed() > Duration::from_secs(20) {
            break list;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let g = group(&list, "gender")?;
    assert_eq!(g["usage"]["estimates_30d"], 3);
    assert_eq!(g["usage"]["segments"], json!(["women"]));
    let value = |name: &str| g["values"].as_array().and_then(|vs| vs.iter().find(|v| v["value"] == name)).cloned();
    assert_eq!(
        value("female").ok_or("female")?["usage"],
        json!({"segments": ["women"], "composites": [], "experiments": [], "estimates_30d": 2})
    );
    assert_eq!(value("male").ok_or("male")?["usage"]["estimates_30d"], 1);
    assert_eq!(value("male").ok_or("male")?["usage"]["segments"], json!([]));
    assert_eq!(group(&list, "plan")?["usage"]["estimates_30d"], 1);
    // A rule that does not validate is not an estimate that used anything.
    let bad = json!({"ds": D1, "rule": {"tag": "plan", "in": ["free"], "oops": 1}}).to_string();
    assert_eq!(t.call("POST", "/api/v1/apps/use/estimate", &editor, Some(bad.as_bytes()))?.status, 400);

    // An aggregate token reads the catalog with holders as its manifest shows them: a value
    // under the minimum audience is withheld (0), never its exact count.
    // The minimum applies to the noisy count (so the threshold itself leaks nothing), and the
    // app's noise key is random: with the default epsilon, 25 + noise reached 30 in one CI run.
    // At epsilon 10 the noise is Laplace(0.1), so 25 + noise < 30 but with probability ~1e-20.
    t.ok("PATCH", "/api/v1/apps/use", ADMIN, Some(br#"{"min_audience":30,"epsilon":10,"daily_budget":100}"#))?;
    let aggregate = t.token("use", "aggregate")?;
    let agg = t.ok("GET", "/api/v1/apps/use/groups", &aggregate, None)?;
    let holders = |list: &Value, v: &str| {
        group(list, "gender").ok().and_then(|g| {
            g["values"].as_array().and_then(|vs| vs.iter().find(|x| x["value"] == v)).map(|x| x["holders"].clone())
        })
    };
    assert_eq!(holders(&list, "female"), Some(json!(25)), "exact for an editor");
    assert_eq!(holders(&agg, "female"), Some(json!(0)), "25 < 30: withheld");
    Ok(())
}

#[test]
fn restorable_versions_and_waiting_holds_survive_the_orphan_collector() -> Result<(), Error> {
    // A collector that runs every second and deletes what was unreferenced for a second: a
    // version replaced by a newer one, and a held upload, must still be there when asked for;
    // a rejected hold's bytes must go (which also shows the collector ran).
    let mut t = TestServer::start(ADMIN, &["--blob-gc-interval-secs", "1", "--blob-gc-grace-secs", "1"])?;
    let editor = t.app_with_token("gc", "editor")?;
    let first = csv(500, gender);
    let second = csv(500, |i| Some(if i.is_multiple_of(3) { "female" } else { "male" }));
    put(&t, &editor, "gc", D1, "gender", &first)?;
    put(&t, &editor, "gc", D1, "gender", &second)?;
    send(&t, "PATCH", "/api/v1/apps/gc/groups/gender", &editor, json!({"quality": {"policy": "hold"}}))?;
    let blobs = t.data_dir().join("blobs");
    let before_a = files_under(&blobs);
    let rejected: String = first.lines().take(201).map(|l| format!("{l}\n")).collect();
    let a = put(&t, &editor, "gc", D1, "gender", &rejected)?;
    assert_eq!(a.status, 202, "{}", a.body);
    let chunk_a: BTreeSet<_> = files_under(&blobs).difference(&before_a).cloned().collect();
    assert_eq!(chunk_a.len(), 1, "one chunk of held bytes");
    let kept: String = first.lines().take(101).map(|l| format!("{l}\n")).collect();
    let b = put(&t, &editor, "gc", D1, "gender", &kept)?;
    assert_eq!(b.status, 202, "{}", b.body);
    let id_a = a.json()?["held"].as_str().ok_or("id")?.to_owned();
    let id_b = b.json()?["held"].as_str().ok_or("id")?.to_owned();
    t.ok("POST", &format!("/api/v1/apps/gc/holds/{id_a}/reject"), &editor, None)?;
    let started = Instant::now();
    while files_under(&blobs).intersection(&chunk_a).next().is_some() {
        assert!(started.elapsed() < Duration::from_secs(30), "the rejected hold's bytes were never collected");
        std::thread::sleep(Duration::from_millis(250));
    }
    // Several more passes, and a restart (no cache of decoded bitmaps or manifests left, and a
    // collection at start-up), then what is kept must still work.
    std::thread::sleep(Duration::from_secs(3));
    t.restart()?;
    std::thread::sleep(Duration::from_secs(3));
    let restore = format!("/api/v1/apps/gc/days/{D1}/groups/gender/restore");
    let r = send(&t, "POST", &restore, &editor, json!({"version": 1}))?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(count(&t, &editor, "gc", D1, "gender", "female")?, recount(&first, "female"));
    t.ok("POST", &format!("/api/v1/apps/gc/holds/{id_b}/approve"), &editor, None)?;
    assert_eq!(count(&t, &editor, "gc", D1, "gender", "female")?, recount(&kept, "female"));
    Ok(())
}

#[test]
fn governance_actions_are_in_the_audit_log() -> Result<(), Error> {
    // Each change of the catalog, a hold's decision, a restore and a composite's definition and
    // deletion leave one entry naming who, what and on which group and day; a dry run and a
    // refused change leave none.
    let t = TestServer::start(ADMIN, &[])?;
    let admin = t.app_with_token("aud", "admin")?;
    let full = csv(400, gender);
    put(&t, &admin, "aud", D1, "gender", &full)?;
    put(&t, &admin, "aud", D1, "gender", &csv(400, |i| Some(if i.is_multiple_of(4) { "female" } else { "male" })))?;
    let patch = |body: Value| send(&t, "PATCH", "/api/v1/apps/aud/groups/gender", &admin, body);
    assert_eq!(patch(json!({"category": "people/basic", "dry_run": true}))?.status, 200);
    assert_eq!(patch(json!({"quality": {"policy": "nope"}}))?.status, 400);
    assert_eq!(patch(json!({"category": "people/basic", "owner": "data team"}))?.status, 200);
    assert_eq!(patch(json!({"quality": {"policy": "hold"}}))?.status, 200);
    let truncated: String = full.lines().take(101).map(|l| format!("{l}\n")).collect();
    let first = put(&t, &admin, "aud", D1, "gender", &truncated)?.json()?;
    let first = first["held"].as_str().ok_or("held")?.to_owned();
    t.ok("POST", &format!("/api/v1/apps/aud/holds/{first}/reject"), &admin, None)?;
    let second = put(&t, &admin, "aud", D1, "gender", &truncated)?.json()?;
    let second = second["held"].as_str().ok_or("held")?.to_owned();
    t.ok("POST", &format!("/api/v1/apps/aud/holds/{second}/approve"), &admin, None)?;
    t.ok("POST", &format!("/api/v1/apps/aud/days/{D1}/groups/gender/restore"), &admin, Some(br#"{"version": 1}"#))?;
    let composite = json!({"values": {"women": {"tag": "gender", "in": ["female"]}}, "category": "x", "multi": false});
    t.ok("PUT", "/api/v1/apps/aud/composites/grade", &admin, Some(composite.to_string().as_bytes()))?;
    t.ok("DELETE", "/api/v1/apps/aud/composites/grade", &admin, None)?;

    let log = t.ok("GET", "/api/v1/apps/aud/audit", &admin, None)?;
    let entries: Vec<(String, String, String, String)> = log["entries"]
        .as_array()
        .ok_or("entries")?
        .iter()
        .filter(|e| e["action"] != "create_token")
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            (text("action"), text("target"), text("ds"), text("detail"))
        })
        .collect();
    let want = [
        ("change_group", "gender", "", "owner, category"),
        ("change_group", "gender", "", "quality"),
        ("reject_hold", "gender", D1, ""),
        ("approve_hold", "gender", D1, ""),
        ("restore_group", "gender", D1, "as in version 1"),
        ("define_composite", "grade", "", "values women"),
        ("delete_composite", "grade", "", ""),
    ];
    assert_eq!(entries.len(), want.len(), "{entries:?}");
    for ((action, target, ds, detail), (w_action, w_target, w_ds, w_detail)) in entries.iter().zip(want) {
        assert_eq!((action.as_str(), target.as_str(), ds.as_str()), (w_action, w_target, w_ds), "{entries:?}");
        assert!(detail.starts_with(w_detail), "{detail} should start with {w_detail}");
    }
    assert!(log["entries"].as_array().ok_or("entries")?.iter().all(|e| e["actor"]["name"].is_string()));
    Ok(())
}
