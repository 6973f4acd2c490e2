//! `sieve migrate` on the real binary: an embedded install (apps of both kinds of ids, several
//! days, a segment and its history) is copied into PostgreSQL and Garage; a replica on the copy
//! answers every read exactly as the embedded server did, with the same tokens; a second run
//! copies nothing and still checks; a server running on the directory makes it refuse.

use serde_json::{Value, json};
use sieve_tests::services;
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "migrate-admin";

/// Every read the pages make, as JSON, in one list (compared whole).
fn reads(t: &TestServer, token: &str, u32_token: &str) -> Result<Vec<Value>, Error> {
    let mut out = vec![
        t.ok("GET", "/api/v1/apps/m/days", token, None)?,
        t.ok("GET", "/api/v1/apps/m/days/2026-11-12/manifest", token, None)?,
        t.ok("GET", "/api/v1/apps/m/segments", token, None)?,
        t.ok("GET", "/api/v1/apps/m/segments/gold/history", token, None)?,
        t.ok("GET", "/api/v1/apps/m/users/user-7/tags", token, None)?,
        t.ok("GET", "/api/v1/apps/n/users/4000000007/tags", u32_token, None)?,
        t.ok("GET", "/api/v1/apps/n/days", u32_token, None)?,
    ];
    for ds in ["2026-11-10", "2026-11-12"] {
        let rule = json!({"ds": ds, "rule": {"all": [{"tag": "tier", "in": ["gold"]}, {"not": {"tag": "plan", "in": ["free"]}}]}});
        out.push(t.ok("POST", "/api/v1/apps/m/estimate", token, Some(rule.to_string().as_bytes()))?);
    }
    let u32_rule = json!({"rule": {"tag": "tier", "in": ["gold"]}});
    out.push(t.ok("POST", "/api/v1/apps/n/estimate", u32_token, Some(u32_rule.to_string().as_bytes()))?);
    // Published times differ by nothing a copy could change; job timestamps are the jobs' own.
    Ok(out)
}

#[test]
fn an_embedded_install_moves_to_postgresql_and_object_storage_and_answers_the_same() -> Result<(), Error> {
    let mut t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("m", "editor")?;
    let body = json!({"id": "n", "name": "N", "ids": "u32"}).to_string();
    t.ok("POST", "/api/v1/apps", ADMIN, Some(body.as_bytes()))?;
    let u32_token = t.token("n", "editor")?;
    for (d, ds) in ["2026-11-10", "2026-11-11", "2026-11-12"].iter().enumerate() {
        let mut tier = String::from("user_id,value\n");
        let mut plan = String::from("user_id,value\n");
        let mut numbers = String::from("user_id,value\n");
        for u in 0..(400 + 50 * d) {
            tier.push_str(&format!("user-{u},{}\n", ["gold", "silver", "bronze"][(u * 7 + d) % 3]));
            plan.push_str(&format!("user-{u},{}\n", ["free", "pro"][(u / 3 + d) % 2]));
            numbers.push_str(&format!("{},{}\n", 4_000_000_000u64 + u as u64, ["gold", "silver"][(u + d) % 2]));
        }
        t.ok("PUT", &format!("/api/v1/apps/m/days/{ds}/tags/tier"), &token, Some(tier.as_bytes()))?;
        t.ok("PUT", &format!("/api/v1/apps/m/days/{ds}/tags/plan"), &token, Some(plan.as_bytes()))?;
        t.ok("PUT", &format!("/api/v1/apps/n/days/{ds}/tags/tier"), &u32_token, Some(numbers.as_bytes()))?;
    }
    let seg = json!({"id": "gold", "name": "Gold", "kind": "dynamic", "rule": {"tag": "tier", "in": ["gold"]}});
    t.ok("POST", "/api/v1/apps/m/segments", &token, Some(seg.to_string().as_bytes()))?;
    t.wait_for_segments_job(&token, "m", "backfill", |j| j["state"] == "done")?;
    let before = reads(&t, &token, &u32_token)?;

    let store = services::shared()?.store("migrate")?;
    let data_dir = t.data_dir();
    let migrate = || {
        sieve_tests::sieve()
            .args(["migrate", "--data-dir"])
            .arg(&data_dir)
            .envs(store.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
    };
    // A server running on the directory: refused, nothing copied.
    let refused = migrate()?;
    assert!(!refused.status.success(), "refused while serving");
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("a server is running on"), "{why}");
    t.server.terminate(std::time::Duration::from_secs(10))?;

    let first = migrate()?;
    let said = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(first.status.success(), "{said}{}", String::from_utf8_lossy(&first.stderr));
    assert!(said.contains("checked every record and blob"), "{said}");
    assert!(!said.contains("blobs: 0 copied"), "{said}");
    // Again: nothing new, everything checked.
    let again = migrate()?;
    let said_again = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(again.status.success(), "{said_again}{}", String::from_utf8_lossy(&again.stderr));
    assert!(said_again.contains("blobs: 0 copied"), "{said_again}");
    assert!(said_again.lines().filter(|l| l.contains(" records, ")).all(|l| l.ends_with(" 0 new")), "{said_again}");

    let replica = TestServer::start_with_env(ADMIN, &[], &store.vars())?;
    let after = reads(&replica, &token, &u32_token)?;
    assert_eq!(before.len(), after.len());
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_eq!(b, a, "read {i} differs after the move");
    }
    // And the replica takes writes: a new day on the copy.
    let more = "user_id,value\nuser-1,gold\nuser-99999,gold\n";
    replica.ok("PUT", "/api/v1/apps/m/days/2026-11-13/tags/tier", &token, Some(more.as_bytes()))?;
    let tags = replica.ok("GET", "/api/v1/apps/m/users/user-99999/tags", &token, None)?;
    assert_eq!(tags["tags"]["tier"], json!(["gold"]), "{tags}");
    Ok(())
}
