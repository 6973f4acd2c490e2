//! Experiment groups and `once` syncs (issue 17), against the receiver of `reach.rs`: a frozen
//! group arrives exactly (the oracle is the engine's documented assignment over a recount of
//! the uploaded rows, as in `experiments.rs`) under its own key `<experiment>/<group>`; a `once`
//! sync sends the latest day in full and then nothing, while a `keep` sync of the same segment
//! goes on to the next day; a re-send sends the new day once more; the app-level sync routes
//! reach every sync, and a segment's routes only its own.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use engine::split::{Group, Split};
use serde_json::json;
use sieve_tests::{Error, TestServer};

use super::receiver::{Mode, Receiver, SECRET};
use super::{days, ids, members_of, plans, post, upload, wait};

const ADMIN: &str = "reach-once-admin";

/// The ids a receiver got for the audience `key`, per request: (kind, ds, added).
fn got_for(rx: &Receiver, key: &str) -> Vec<(String, String, BTreeSet<String>)> {
    rx.accepted()
        .iter()
        .filter(|g| g.json["segment"] == key)
        .map(|g| {
            let kind = g.json["kind"].as_str().unwrap_or_default().to_owned();
            let ds = g.json["ds"].as_str().unwrap_or_default().to_owned();
            (kind, ds, ids(&g.json["added"]).into_iter().collect())
        })
        .collect()
}

#[test]
fn experiment_groups_and_once_syncs_send_exactly_what_they_promise() -> Result<(), Error> {
    let flags = ["--allow-private-destinations", "--delivery-backoff-ms", "50"];
    let t = TestServer::start(ADMIN, &flags)?;
    let token = t.app_with_token("o", "editor")?;
    let (ds, plans) = (days(2), plans(2));
    upload(&t, &token, "o", &ds[0], &plans[0])?;
    let seg = json!({"id": "pro", "name": "Pro", "kind": "dynamic", "rule": {"tag": "plan", "in": ["pro"]}});
    post(&t, "/api/v1/apps/o/segments", &token, &seg)?;
    let split = json!({"id": "x", "segment": "pro", "ds": ds[0], "salt": "reach",
        "groups": [{"name": "control", "percent": 50}, {"name": "treatment", "percent": 50}]});
    post(&t, "/api/v1/apps/o/experiments", &token, &split)?;
    // Oracle: the documented assignment over the recount of day 1's members.
    let assign = Split::new(
        "reach",
        vec![Group { name: "control".into(), percent: 50.0 }, Group { name: "treatment".into(), percent: 50.0 }],
    )?;
    let mut groups: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for u in members_of(&plans[0]) {
        if let Some(k) = assign.assign(&u) {
            groups.entry(k).or_default().insert(u);
        }
    }
    let treatment = groups.remove(&1).unwrap_or_default();
    assert!(treatment.len() > 100, "a real group: {}", treatment.len());

    let rx = Receiver::start(Mode::Fine)?;
    let hook = json!({"id": "h", "kind": "webhook", "url": rx.url(), "secret": SECRET, "batch_size": 100});
    post(&t, "/api/v1/apps/o/destinations", &token, &hook)?;

    // Bad starts name what is wrong and store nothing.
    let start = "/api/v1/apps/o/experiments/x/groups/treatment/syncs";
    let r =
        t.call("POST", "/api/v1/apps/o/experiments/x/groups/nope/syncs", &token, Some(br#"{"destination":"h"}"#))?;
    assert_eq!(r.status, 404, "{}", r.body);
    let r =
        t.call("POST", "/api/v1/apps/o/experiments/y/groups/treatment/syncs", &token, Some(br#"{"destination":"h"}"#))?;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = t.call("POST", start, &token, Some(br#"{"destination":"h","mode":"sometimes"}"#))?;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()?["field"], "mode", "the field is named: {}", r.body);
    assert_eq!(t.ok("GET", "/api/v1/apps/o/syncs", &token, None)?["syncs"], json!([]));

    // The group, once; the segment, once and kept in sync.
    let g = post(&t, start, &token, &json!({"destination": "h", "id": "gx", "mode": "once"}))?;
    assert_eq!(
        (g["segment"].as_str(), g["experiment"].as_str(), g["group"].as_str()),
        (Some("x/treatment"), Some("x"), Some("treatment"))
    );
    let seg_syncs = "/api/v1/apps/o/segments/pro/syncs";
    post(&t, seg_syncs, &token, &json!({"destination": "h", "id": "once", "mode": "once"}))?;
    post(&t, seg_syncs, &token, &json!({"destination": "h", "id": "keep"}))?;
    let state = |id: &str| -> Result<(String, String), Error> {
        let s = t.ok("GET", &format!("/api/v1/apps/o/syncs/{id}"), &token, None)?;
        Ok((
            s["state"].as_str().unwrap_or_default().to_owned(),
            s["delivered_ds"].as_str().unwrap_or_default().to_owned(),
        ))
    };
    wait("the first deliveries", Duration::from_secs(60), || {
        Ok(state("gx")?.0 == "done" && state("once")?.0 == "done" && state("keep")?.1 == ds[0])
    })?;

    // The group arrived exactly, in full, under its own key and with its names.
    let group_got = got_for(&rx, "x/treatment");
    let union: BTreeSet<String> = group_got.iter().flat_map(|(_, _, a)| a.iter().cloned()).collect();
    assert_eq!(union, treatment, "the group's members, exactly");
    assert!(group_got.iter().all(|(kind, d, _)| kind == "full" && d == &ds[0]), "{group_got:?}");
    assert!(
        rx.accepted()
            .iter()
            .filter(|g| g.json["segment"] == "x/treatment")
            .all(|g| g.json["experiment"] == "x" && g.json["group"] == "treatment")
    );
    // Its recipients are a segment too.
    let reached =
        t.call("GET", &format!("/api/v1/apps/o/segments/reached.gx.{}/members?ds={}", ds[0], ds[0]), &token, None)?;
    assert_eq!(reached.status, 200, "{}", reached.body);
    assert_eq!(reached.body.lines().skip(1).map(str::to_owned).collect::<BTreeSet<_>>(), treatment);

    // A new day: `keep` sends its delta; `once` and the group send nothing.
    let sent_before = rx.accepted().len();
    upload(&t, &token, "o", &ds[1], &plans[1])?;
    wait("the keep sync's delta", Duration::from_secs(60), || Ok(state("keep")?.1 == ds[1]))?;
    assert_eq!(state("once")?, ("done".to_owned(), ds[0].clone()));
    assert_eq!(state("gx")?, ("done".to_owned(), ds[0].clone()));
    let after: Vec<_> = rx.accepted()[sent_before..].iter().map(|g| g.json["delivery_id"].to_string()).collect();
    assert!(after.iter().all(|d| d.starts_with("\"keep.")), "only the keep sync sent: {after:?}");
    // Pause and resume leave a done sync done.
    post(&t, "/api/v1/apps/o/syncs/once/pause", &token, &json!({}))?;
    post(&t, "/api/v1/apps/o/syncs/once/resume", &token, &json!({}))?;
    assert_eq!(state("once")?.0, "done");

    // Re-sent, `once` sends the new day in full, once more.
    post(&t, "/api/v1/apps/o/syncs/once/resend", &token, &json!({}))?;
    wait("the re-send", Duration::from_secs(60), || Ok(state("once")? == ("done".to_owned(), ds[1].clone())))?;
    let once_got: Vec<_> = rx
        .accepted()
        .iter()
        .filter(|g| g.json["delivery_id"].as_str().is_some_and(|d| d.starts_with("once.2.")))
        .map(|g| ids(&g.json["added"]))
        .collect();
    assert_eq!(once_got.concat().into_iter().collect::<BTreeSet<_>>(), members_of(&plans[1]));

    // The app's routes reach every sync; a segment's only its own.
    let all = t.ok("GET", "/api/v1/apps/o/syncs", &token, None)?;
    let mut listed: Vec<&str> =
        all["syncs"].as_array().into_iter().flatten().filter_map(|s| s["id"].as_str()).collect();
    listed.sort_unstable();
    assert_eq!(listed, ["gx", "keep", "once"]);
    let of_group = t.ok("GET", start, &token, None)?;
    assert_eq!(of_group["syncs"].as_array().map(Vec::len), Some(1));
    assert_eq!(t.call("GET", "/api/v1/apps/o/segments/pro/syncs/gx", &token, None)?.status, 404);
    let log = t.ok("GET", "/api/v1/apps/o/syncs/gx/deliveries", &token, None)?;
    let logged: u64 = log["deliveries"].as_array().into_iter().flatten().filter_map(|b| b["ids"].as_u64()).sum();
    assert_eq!(logged, treatment.len() as u64, "the log adds up to the group");
    assert_eq!(t.call("DELETE", "/api/v1/apps/o/syncs/gx", &token, None)?.status, 204);
    assert_eq!(t.call("GET", "/api/v1/apps/o/syncs/gx", &token, None)?.status, 404);
    Ok(())
}
