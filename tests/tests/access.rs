//! Privacy and access on the real binary: every route answers every role as the route table
//! (and the OpenAPI document) says; an `aggregate` token builds audiences and reads analyses
//! with noisy, suppressed counts but gets no member id and no full-tier bitmap by any route;
//! the differencing attack learns nothing reliable about its targets (while the same attack
//! with exact counts learns everything); a revoked token is refused on the next request,
//! rotation keeps the old secret for its grace period only; exports, freezes and splits below
//! `min_audience` are refused for every role; and the audit log holds every sensitive action
//! of a session and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use server::routes::{Who, table};
use sieve_tests::{Error, Rng, TestServer};

const ADMIN: &str = "access-admin";
const DAY: &str = "2026-11-19";
const ROLES: [&str; 5] = ["admin", "editor", "viewer", "service", "aggregate"];

fn role_of(name: &str) -> wire::Role {
    wire::Role::ALL.into_iter().find(|r| r.as_str() == name).expect("a role")
}

/// An app `app` with `n` users `u{i}`: `gender` by i % 2, `plan` pro for i % 10 == 0, `code`
/// unique per user (`c{i}`), and `secret` yes for the users `secret` picks.
fn upload(t: &TestServer, token: &str, app: &str, n: usize, secret: impl Fn(usize) -> bool) -> Result<(), Error> {
    let mut tags: BTreeMap<&str, String> = BTreeMap::new();
    for i in 0..n {
        let gender = if i % 2 == 0 { "female" } else { "male" };
        let plan = if i % 10 == 0 { "pro" } else { "free" };
        tags.entry("gender").or_insert_with(|| "user_id,value\n".into()).push_str(&format!("u{i},{gender}\n"));
        tags.entry("plan").or_insert_with(|| "user_id,value\n".into()).push_str(&format!("u{i},{plan}\n"));
        tags.entry("code").or_insert_with(|| "user_id,value\n".into()).push_str(&format!("u{i},c{i}\n"));
        if secret(i) {
            tags.entry("secret").or_insert_with(|| "user_id,value\n".into()).push_str(&format!("u{i},yes\n"));
        }
    }
    for (group, csv) in tags {
        t.ok("PUT", &format!("/api/v1/apps/{app}/days/{DAY}/tags/{group}"), token, Some(csv.as_bytes()))?;
    }
    Ok(())
}

/// Waits until the app's segments are computed on every published day.
fn wait_computed(t: &TestServer, token: &str, app: &str) -> Result<(), Error> {
    t.wait_for_segments_job(token, app, "segments computed", |j| j["state"] == "idle" || j["state"] == "done")?;
    Ok(())
}

fn post(t: &TestServer, path: &str, token: &str, body: Value) -> Result<sieve_tests::Reply, Error> {
    t.call("POST", path, token, Some(body.to_string().as_bytes()))
}

fn estimate(t: &TestServer, app: &str, token: &str, rule: Value) -> Result<Value, Error> {
    let r = post(t, &format!("/api/v1/apps/{app}/estimate"), token, json!({"ds": DAY, "rule": rule}))?;
    if r.status != 200 {
        return Err(format!("estimate: {} {}", r.status, r.body).into());
    }
    r.json()
}

fn tag(group: &str, value: &str) -> Value {
    json!({"tag": group, "in": [value]})
}

/// A token of `role` made by the server's admin token.
fn tokens(t: &TestServer, app: &str) -> Result<BTreeMap<&'static str, String>, Error> {
    ROLES.iter().map(|r| Ok((*r, t.token(app, r)?))).collect()
}

#[test]
fn every_route_answers_every_role_as_the_route_table_and_the_document_say() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    t.app_with_token("walk", "editor")?;
    let tokens = tokens(&t, "walk")?;
    upload(&t, &tokens["editor"], "walk", 50, |i| i % 3 == 0)?;
    let doc: Value = t.ok("GET", "/api/v1/openapi.json", "", None)?;
    let mut checked = 0;
    for route in table() {
        // Ids that exist nowhere (or a day never published): an allowed caller gets a 4xx of
        // its own (400, 404), never 401 or 403, and nothing is changed.
        let path = route
            .path
            .replace("{app}", "walk")
            .replace("{ds}", "2026-01-01")
            .replace("{group}", "g")
            .replace("{event}", "ev")
            .replace("{id}", "nope")
            .replace("{hash}", &"0".repeat(64))
            .replace("{user_id}", "u1")
            .replace("{kind}", "segments")
            .replace("{sync}", "nope");
        let method = route.method.as_str();
        let documented = &doc["paths"][format!("/api{}", route.path)][method.to_lowercase()]["x-sieve-roles"];
        assert_eq!(documented, &json!(route.who.names()), "{method} {}: roles in the document", route.path);
        let mut callers: Vec<(&str, Option<wire::Role>, &str)> = vec![("server admin", None, ADMIN)];
        callers.extend(ROLES.iter().map(|r| (*r, Some(role_of(r)), tokens[r].as_str())));
        for (name, role, token) in callers {
            let r = t.call(method, &format!("/api{path}"), token, Some(b"{}"))?;
            let allowed = match (route.who, role) {
                (Who::Public, _) | (Who::ServerAdmin | Who::App(_), None) => true,
                (Who::ServerAdmin, Some(_)) => false,
                (Who::App(access), Some(role)) => access.allowed_for(role),
            };
            if allowed {
                assert!(r.status != 401 && r.status != 403, "{name} may {method} {path}: {} {}", r.status, r.body);
            } else {
                assert_eq!(r.status, 403, "{name} may not {method} {path}: {}", r.body);
                assert!(r.body.contains("forbidden"), "{}", r.body);
            }
            checked += 1;
        }
    }
    assert!(table().len() >= 36);
    assert_eq!(checked, 6 * table().len());
    // Independently of the table: what an aggregate token must never get.
    let agg = &tokens["aggregate"];
    for (method, path) in [
        ("GET", "/api/v1/apps/walk/segments/s/members"),
        ("GET", "/api/v1/apps/walk/experiments/e/groups/g/members"),
        ("GET", "/api/v1/apps/walk/users/u1/tags"),
        ("PUT", "/api/v1/apps/walk/segments/s/members"),
        ("POST", "/api/v1/apps/walk/segments/s/freeze"),
        ("GET", "/api/v1/apps/walk/tokens"),
        ("GET", "/api/v1/apps/walk/audit"),
        ("GET", "/api/v1/apps/walk/destinations"),
        ("GET", "/api/v1/apps/walk/segments/s/syncs"),
        ("GET", "/api/v1/apps/walk/segments/s/syncs/x/deliveries"),
        ("POST", "/api/v1/apps/walk/segments/s/syncs"),
    ] {
        assert_eq!(t.call(method, path, agg, Some(b"{}"))?.status, 403, "{method} {path}");
    }
    // No body is read before the role is checked: a viewer's upload of junk is a 403, not a 400.
    let r =
        t.call("PUT", &format!("/api/v1/apps/walk/days/{DAY}/tags/x"), &tokens["viewer"], Some(b"\xff\xfe junk"))?;
    assert_eq!(r.status, 403, "{}", r.body);
    Ok(())
}

#[test]
fn an_aggregate_token_sees_noisy_counts_and_never_a_member() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("agg", "editor")?;
    let admin = t.token("agg", "admin")?;
    let agg = t.token("agg", "aggregate")?;
    upload(&t, &editor, "agg", 3000, |i| i % 7 == 0)?;
    let seg = json!({"id": "pro", "name": "Pro", "kind": "dynamic", "rule": tag("plan", "pro")});
    assert_eq!(post(&t, "/api/v1/apps/agg/segments", &editor, seg)?.status, 201);
    let tiny = json!({"id": "tiny", "name": "Tiny", "kind": "dynamic", "rule": tag("code", "c7")});
    assert_eq!(post(&t, "/api/v1/apps/agg/segments", &editor, tiny)?.status, 201);
    wait_computed(&t, &editor, "agg")?;
    let split = json!({"id": "e1", "segment": "pro", "ds": DAY, "salt": "s",
        "groups": [{"name": "control", "percent": 50}, {"name": "treatment", "percent": 50}]});
    let r = post(&t, "/api/v1/apps/agg/experiments", &editor, split)?;
    assert_eq!(r.status, 201, "{}", r.body);
    // k = 40: a count of one user shows only if its noise reaches 38.5, which Laplace noise of
    // scale 2 does with probability 0.5·e^(−19.25) ≈ 2e-9; over the 3,000 one-user values
    // below, about 7e-6. (At k = 20 it was 5e-5 a value, 14% over 3,000: a run once showed one.)
    let r = t.call("PATCH", "/api/v1/apps/agg", &admin, Some(json!({"min_audience": 40}).to_string().as_bytes()))?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()?["settings"]["min_audience"], 40);

    // Large counts: close to the exact ones, the same every time, and the same for the same
    // users asked in other words.
    let women_pro = json!({"all": [tag("gender", "female"), tag("plan", "pro")]});
    let exact = estimate(&t, "agg", &editor, women_pro.clone())?;
    let noisy = estimate(&t, "agg", &agg, women_pro.clone())?;
    let (e, n) = (exact["count"].as_u64().ok_or("exact")?, noisy["count"].as_u64().ok_or("noisy")?);
    assert_eq!(e, 300, "every 10th user is pro, and even: a woman");
    assert!(n.abs_diff(e) <= 40, "noisy {n} against exact {e}");
    assert_eq!(noisy["noisy"], true);
    assert!(exact.get("noisy").is_none(), "other roles get exact counts: {exact}");
    assert_eq!(estimate(&t, "agg", &agg, women_pro)?, noisy, "asking again averages nothing out");
    let reordered = json!({"all": [tag("plan", "pro"), tag("gender", "female")]});
    assert_eq!(estimate(&t, "agg", &agg, reordered)?["count"], noisy["count"], "the same users, the same answer");
    // Small counts: withheld, with the flag; the funnel's steps too.
    let one = estimate(&t, "agg", &agg, json!({"all": [tag("plan", "pro"), tag("code", "c10")]}))?;
    assert_eq!((one["count"].clone(), one["suppressed"].clone()), (Value::Null, json!(true)), "{one}");
    assert_eq!(one["steps"][1]["suppressed"], true, "{one}");
    assert!(one["steps"][0]["count"].as_u64().is_some_and(|c| c.abs_diff(300) <= 40), "{one}");
    // The editor sees the exact small count.
    assert_eq!(estimate(&t, "agg", &editor, json!({"all": [tag("plan", "pro"), tag("code", "c10")]}))?["count"], 1);

    // The manifest: no full-tier size, noisy counts, small ones 0; every full-tier blob refused,
    // every sample-tier blob served.
    let full: Value = t.ok("GET", &format!("/api/v1/apps/agg/days/{DAY}/manifest"), &editor, None)?;
    let seen: Value = t.ok("GET", &format!("/api/v1/apps/agg/days/{DAY}/manifest"), &agg, None)?;
    let gender = |m: &Value, i: usize| {
        m["groups"].as_array().and_then(|g| g.iter().find(|g| g["name"] == "gender")).map(|g| g["values"][i].clone())
    };
    let (exact_v, seen_v) = (gender(&full, 0).ok_or("gender")?, gender(&seen, 0).ok_or("gender")?);
    assert_eq!(seen_v["full"]["bytes"], 0);
    assert!(exact_v["full"]["bytes"].as_u64() > Some(0));
    assert!(seen_v["count"].as_u64().ok_or("count")?.abs_diff(1500) <= 40, "{seen_v}");
    let code = seen["groups"].as_array().and_then(|g| g.iter().find(|g| g["name"] == "code")).ok_or("code")?;
    assert!(code["values"].as_array().ok_or("values")?.iter().all(|v| v["count"] == 0), "one user each: all withheld");
    let blobs = |m: &Value, tier: &str| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for g in m["groups"].as_array().into_iter().flatten() {
            for v in g["values"].as_array().into_iter().flatten() {
                out.insert(v[tier]["blob"].as_str().unwrap_or_default().to_owned());
            }
        }
        for s in m["segments"].as_array().into_iter().flatten() {
            out.insert(s[tier]["blob"].as_str().unwrap_or_default().to_owned());
        }
        out.insert(
            if tier == "full" { &m["universe"] } else { &m["sample"]["universe"] }["blob"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        out
    };
    let (fulls, samples) = (blobs(&full, "full"), blobs(&full, "sample"));
    assert!(!fulls.contains("") && !samples.contains(""), "every ref names its blob");
    assert!(fulls.len() > 3000 && samples.len() > 10);
    let mut refused = 0;
    for hash in fulls.difference(&samples).take(200) {
        assert_eq!(t.call("GET", &format!("/api/v1/apps/agg/blobs/{hash}"), &agg, None)?.status, 403, "{hash}");
        assert_eq!(t.call("GET", &format!("/api/v1/apps/agg/blobs/{hash}"), &editor, None)?.status, 200);
        refused += 1;
    }
    assert!(refused > 100);
    for hash in &samples {
        assert_eq!(t.call("GET", &format!("/api/v1/apps/agg/blobs/{hash}"), &agg, None)?.status, 200, "{hash}");
    }
    let days = t.ok("GET", "/api/v1/apps/agg/days", &agg, None)?;
    let manifest_blob = days["days"][0]["manifest"].as_str().ok_or("manifest")?;
    assert_eq!(t.call("GET", &format!("/api/v1/apps/agg/blobs/{manifest_blob}"), &agg, None)?.status, 403);

    // Histories and experiments: noisy, small ones withheld.
    let h = t.ok("GET", "/api/v1/apps/agg/segments/tiny/history", &agg, None)?;
    assert_eq!((h["days"][0]["size"].clone(), h["days"][0]["suppressed"].clone()), (Value::Null, json!(true)), "{h}");
    assert_eq!(t.ok("GET", "/api/v1/apps/agg/segments/tiny/history", &editor, None)?["days"][0]["size"], 1);
    let h = t.ok("GET", "/api/v1/apps/agg/segments/pro/history", &agg, None)?;
    assert!(h["days"][0]["size"].as_u64().is_some_and(|s| s.abs_diff(300) <= 40), "{h}");
    let e = t.ok("GET", "/api/v1/apps/agg/experiments/e1", &agg, None)?;
    assert!(e["audience"].as_u64().is_some_and(|a| a.abs_diff(300) <= 40), "{e}");
    assert_eq!(e["balance"]["mix"], json!([]), "the tag mix is exact counts in disguise");
    let exact_e = t.ok("GET", "/api/v1/apps/agg/experiments/e1", &editor, None)?;
    assert_eq!(exact_e["audience"], 300);

    // No member id by any route.
    for path in [
        "/api/v1/apps/agg/segments/pro/members".to_owned(),
        "/api/v1/apps/agg/experiments/e1/groups/control/members".to_owned(),
        "/api/v1/apps/agg/users/u1/tags".to_owned(),
    ] {
        let r = t.call("GET", &path, &agg, None)?;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(!r.body.contains("u1"), "{}", r.body);
    }
    Ok(())
}

#[test]
fn the_differencing_attack_learns_nothing_reliable_about_its_targets() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("diff", "editor")?;
    let agg = t.token("diff", "aggregate")?;
    let n = 2000;
    let mut rng = Rng(0x5eed);
    let secret: Vec<bool> = (0..n).map(|_| rng.below(2) == 1).collect();
    upload(&t, &editor, "diff", n, |i| secret[i])?;
    // The classic attack, on 200 targets: the count of A (users with the secret), and of A
    // without the target (singled out by a tag only they hold). The difference is 1 exactly
    // when the target has the secret.
    // Two ways to guess: the difference is at least one half; or, since half the targets have
    // the secret, the lower half of the counts without them (which cancels A's own noise).
    let attack = |token: &str| -> Result<(f64, f64), Error> {
        let a = estimate(&t, "diff", token, tag("secret", "yes"))?["count"].as_f64().ok_or("count of A")?;
        let targets = 200;
        let mut without = Vec::new();
        for target in 0..targets {
            let rule = json!({"all": [tag("secret", "yes"), {"not": tag("code", &format!("c{target}"))}]});
            without.push(estimate(&t, "diff", token, rule)?["count"].as_f64().ok_or("count without")?);
        }
        let mut sorted = without.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[targets / 2];
        let (mut by_difference, mut by_rank) = (0, 0);
        for (target, w) in without.iter().enumerate() {
            by_difference += usize::from((a - w >= 0.5) == secret[target]);
            by_rank += usize::from((*w < median) == secret[target]);
        }
        Ok((by_difference as f64 / targets as f64, by_rank as f64 / targets as f64))
    };
    // With exact counts (an editor) the attack is perfect: the test can fail.
    assert_eq!(attack(&editor)?.0, 1.0);
    // With the aggregate token's noise it is little better than a coin. Laplace noise of scale
    // 2 on each count: the best threshold is right 61% of the time; 200 targets put 75% more
    // than four standard deviations away.
    let (by_difference, by_rank) = attack(&agg)?;
    eprintln!("the attack on noisy counts: {by_difference:.3} by difference, {by_rank:.3} by rank");
    for accuracy in [by_difference, by_rank] {
        assert!(accuracy < 0.75, "the attack identified {:.0}% of its targets", accuracy * 100.0);
    }
    // And repeating a question gives the same answer: nothing to average.
    let rule = json!({"all": [tag("secret", "yes"), {"not": tag("code", "c0")}]});
    let first = estimate(&t, "diff", &agg, rule.clone())?;
    for _ in 0..5 {
        assert_eq!(estimate(&t, "diff", &agg, rule.clone())?["count"], first["count"]);
    }
    Ok(())
}

#[test]
fn the_daily_budget_stops_an_aggregate_token_asking_about_new_sets() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("budget", "editor")?;
    let admin = t.token("budget", "admin")?;
    let (agg, other) = (t.token("budget", "aggregate")?, t.token("budget", "aggregate")?);
    upload(&t, &editor, "budget", 200, |i| i % 2 == 0)?;
    let patch = json!({"epsilon": 1.0, "daily_budget": 4.0}).to_string();
    assert_eq!(t.call("PATCH", "/api/v1/apps/budget", &admin, Some(patch.as_bytes()))?.status, 200);
    // Each single-tag estimate is one new set (and the universe, once): 1 + 1, then 1 each.
    for i in 0..3 {
        estimate(&t, "budget", &agg, tag("code", &format!("c{i}")))?;
    }
    // Asked before: free.
    estimate(&t, "budget", &agg, tag("code", "c1"))?;
    let r = post(&t, "/api/v1/apps/budget/estimate", &agg, json!({"ds": DAY, "rule": tag("code", "c9")}))?;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("privacy budget"), "{}", r.body);
    // Per token: another aggregate token still has its own.
    estimate(&t, "budget", &other, tag("code", "c9"))?;
    // Out-of-range settings are refused, naming the field, and change nothing.
    let r = t.call("PATCH", "/api/v1/apps/budget", &admin, Some(br#"{"epsilon": 0}"#))?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("epsilon")));
    let r = t.call("PATCH", "/api/v1/apps/budget", &admin, Some(br#"{"daily_budget": 0.5}"#))?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("daily_budget")));
    let app = t.ok("GET", "/api/v1/apps/budget", &admin, None)?;
    assert_eq!(app["settings"], json!({"min_audience": 0, "epsilon": 1.0, "daily_budget": 4.0}));
    assert_eq!(app["role"], "admin");
    Ok(())
}

#[test]
fn tokens_are_listed_rotated_with_grace_revoked_at_once_and_expire() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("tok", "editor")?;
    let admin = t.token("tok", "admin")?;
    upload(&t, &editor, "tok", 20, |_| false)?;
    let body = json!({"role": "viewer", "name": "Dashboards"});
    let r = post(&t, "/api/v1/apps/tok/tokens", &admin, body)?;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json()?;
    let (id, secret) =
        (created["id"].as_str().ok_or("id")?.to_owned(), created["token"].as_str().ok_or("token")?.to_owned());
    assert_eq!(created["name"], "Dashboards");
    assert!(
        created["creator"]["id"].as_str().is_some_and(|c| c.starts_with("tk_")),
        "made by the admin token: {created}"
    );
    assert_eq!(t.call("GET", "/api/v1/apps/tok/days", &secret, None)?.status, 200);
    let list = t.ok("GET", "/api/v1/apps/tok/tokens", &admin, None)?;
    let listed = list["tokens"].as_array().ok_or("tokens")?;
    assert_eq!(listed.len(), 3, "the editor, the admin and the new viewer: {list}");
    let mine = listed.iter().find(|x| x["id"] == id.as_str()).ok_or("listed")?;
    assert!(mine.get("token").is_none() && !list.to_string().contains(&secret), "secrets are shown once");
    assert!(mine["last_used_ms"].as_u64().is_some(), "{mine}");

    // Rotation: both secrets work during the grace period; with none, the old one stops at once.
    let r = post(&t, &format!("/api/v1/apps/tok/tokens/{id}/rotate"), &admin, json!({"grace_secs": 600}))?;
    assert_eq!(r.status, 200, "{}", r.body);
    let rotated = r.json()?["token"].as_str().ok_or("token")?.to_owned();
    assert_ne!(rotated, secret);
    for s in [&secret, &rotated] {
        assert_eq!(t.call("GET", "/api/v1/apps/tok/days", s, None)?.status, 200);
    }
    let r = post(&t, &format!("/api/v1/apps/tok/tokens/{id}/rotate"), &admin, json!({"grace_secs": 0}))?;
    let newest = r.json()?["token"].as_str().ok_or("token")?.to_owned();
    for s in [&secret, &rotated] {
        assert_eq!(t.call("GET", "/api/v1/apps/tok/days", s, None)?.status, 401);
    }
    assert_eq!(t.call("GET", "/api/v1/apps/tok/days", &newest, None)?.status, 200);

    // Revocation: the next request is refused.
    let r = t.call("DELETE", &format!("/api/v1/apps/tok/tokens/{id}"), &admin, None)?;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(t.call("GET", "/api/v1/apps/tok/days", &newest, None)?.status, 401);
    assert_eq!(t.call("DELETE", &format!("/api/v1/apps/tok/tokens/{id}"), &admin, None)?.status, 404);
    // Gone from the list.
    let other_admin = t.token("tok", "admin")?;
    let list = t.ok("GET", "/api/v1/apps/tok/tokens", &other_admin, None)?;
    assert!(list["tokens"].as_array().ok_or("tokens")?.iter().all(|x| x["id"] != id.as_str()));

    // Expiry: works until then, refused after; expired tokens leave the list.
    let soon = sieve_tests_now_ms() + 1500;
    let r = post(&t, "/api/v1/apps/tok/tokens", &admin, json!({"role": "viewer", "expires_ms": soon}))?;
    let short = r.json()?["token"].as_str().ok_or("token")?.to_owned();
    assert_eq!(t.call("GET", "/api/v1/apps/tok/days", &short, None)?.status, 200);
    std::thread::sleep(Duration::from_millis(1700));
    assert_eq!(t.call("GET", "/api/v1/apps/tok/days", &short, None)?.status, 401);
    let r = post(&t, "/api/v1/apps/tok/tokens", &admin, json!({"role": "viewer", "expires_ms": 1}))?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("expires_ms")));
    // Only admins manage tokens.
    assert_eq!(post(&t, "/api/v1/apps/tok/tokens", &editor, json!({"role": "admin"}))?.status, 403);
    // Tokens survive a restart, revocations too.
    let mut t = t;
    t.restart()?;
    assert_eq!(t.call("GET", "/api/v1/apps/tok/days", &newest, None)?.status, 401);
    assert_eq!(t.call("GET", "/api/v1/apps/tok/days", &editor, None)?.status, 200);
    Ok(())
}

fn sieve_tests_now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[test]
fn small_audiences_never_leave_and_the_audit_log_holds_exactly_the_sensitive_actions() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("aud", "editor")?;
    let admin = t.token("aud", "admin")?;
    let viewer = t.token("aud", "viewer")?;
    let service = t.token("aud", "service")?;
    upload(&t, &editor, "aud", 400, |i| i % 2 == 0)?;
    let patch = json!({"min_audience": 30}).to_string();
    assert_eq!(t.call("PATCH", "/api/v1/apps/aud", &admin, Some(patch.as_bytes()))?.status, 200);
    for (id, rule) in [("pro", tag("plan", "pro")), ("one", tag("code", "c3"))] {
        let seg = json!({"id": id, "name": id, "kind": "dynamic", "rule": rule});
        assert_eq!(post(&t, "/api/v1/apps/aud/segments", &editor, seg)?.status, 201);
    }
    wait_computed(&t, &editor, "aud")?;
    // Not audited: reads, estimates, segment writes, uploads.
    estimate(&t, "aud", &viewer, tag("plan", "pro"))?;
    t.ok("GET", "/api/v1/apps/aud/segments", &viewer, None)?;

    // Below the minimum: refused for every role, naming k; nothing logged.
    for token in [&editor, &admin, &viewer, &service] {
        let r = t.call("GET", "/api/v1/apps/aud/segments/one/members", token, None)?;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("minimum audience of 30"), "{}", r.body);
    }
    let r = post(&t, "/api/v1/apps/aud/segments/one-frozen/freeze", &editor, json!({"name": "x", "segment": "one"}))?;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(t.call("GET", "/api/v1/apps/aud/segments/one-frozen", &editor, None)?.status, 404, "nothing created");
    let split = json!({"id": "e0", "segment": "one", "ds": DAY, "salt": "s", "groups": [{"name": "a", "percent": 50}, {"name": "b", "percent": 50}]});
    assert_eq!(post(&t, "/api/v1/apps/aud/experiments", &editor, split)?.status, 409);

    // The session's sensitive actions.
    let r = t.call("GET", "/api/v1/apps/aud/segments/pro/members", &viewer, None)?;
    assert_eq!((r.status, r.body.lines().count()), (200, 41), "header and 40 pro users");
    let r =
        post(&t, "/api/v1/apps/aud/segments/pro-now/freeze", &editor, json!({"name": "Pro now", "segment": "pro"}))?;
    assert_eq!(r.status, 201, "{}", r.body);
    let split = json!({"id": "e1", "segment": "pro", "ds": DAY, "salt": "s", "groups": [{"name": "a", "percent": 50}, {"name": "b", "percent": 50}]});
    assert_eq!(post(&t, "/api/v1/apps/aud/experiments", &editor, split)?.status, 201);
    assert_eq!(t.call("DELETE", "/api/v1/apps/aud/segments/pro-now", &editor, None)?.status, 200);
    let created = post(&t, "/api/v1/apps/aud/tokens", &admin, json!({"role": "viewer", "name": "temp"}))?.json()?;
    let id = created["id"].as_str().ok_or("id")?;
    assert_eq!(post(&t, &format!("/api/v1/apps/aud/tokens/{id}/rotate"), &admin, json!({}))?.status, 200);
    assert_eq!(t.call("DELETE", &format!("/api/v1/apps/aud/tokens/{id}"), &admin, None)?.status, 204);
    for _ in 0..3 {
        assert_eq!(t.call("GET", "/api/v1/apps/aud/users/u1/tags", &service, None)?.status, 200);
    }
    let r = t.call("DELETE", &format!("/api/v1/apps/aud/days/{DAY}"), &editor, None)?;
    assert_eq!(r.status, 200, "{}", r.body);

    let log = t.ok("GET", "/api/v1/apps/aud/audit", &admin, None)?;
    let entries = log["entries"].as_array().ok_or("entries")?;
    let got: Vec<(String, String, Option<u64>)> = entries
        .iter()
        .map(|e| {
            let target = e["target"].as_str().or(e["ds"].as_str()).unwrap_or("").to_owned();
            (e["action"].as_str().unwrap_or("").to_owned(), target, e["users"].as_u64())
        })
        .collect();
    let setup: Vec<String> = entries[..4].iter().map(|e| e["target"].as_str().unwrap_or("").to_owned()).collect();
    let want: Vec<(String, String, Option<u64>)> = [
        // The four tokens of the setup, by the server's admin token.
        ("create_token", setup[0].as_str(), None),
        ("create_token", setup[1].as_str(), None),
        ("create_token", setup[2].as_str(), None),
        ("create_token", setup[3].as_str(), None),
        ("change_settings", "", None),
        ("export_segment", "pro", Some(40)),
        ("freeze", "pro-now", Some(40)),
        ("split", "e1", Some(40)),
        ("delete_segment", "pro-now", None),
        ("create_token", id, None),
        ("rotate_token", id, None),
        ("revoke_token", id, None),
        ("delete_day", DAY, None),
    ]
    .into_iter()
    .map(|(a, t, u)| (a.to_owned(), t.to_owned(), u))
    .collect();
    assert_eq!(got, want, "{log}");
    assert!(entries[..4].iter().all(|e| e["actor"] == json!({"name": "admin token"})), "{log}");
    assert_eq!(entries[3]["detail"], "role service, name `service token`");
    assert_eq!(entries[4]["detail"], "min_audience 0 → 30");
    assert!(entries[5]["actor"]["id"].as_str().is_some_and(|i| i.starts_with("tk_")), "{}", entries[5]);
    assert_eq!(entries[5]["actor"]["name"], "viewer token");
    // Paging covers the same entries; the CSV too.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let q = if after.is_empty() { "limit=2".to_owned() } else { format!("limit=2&after={after}") };
        let page = t.ok("GET", &format!("/api/v1/apps/aud/audit?{q}"), &admin, None)?;
        paged.extend(page["entries"].as_array().ok_or("entries")?.iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(&paged, entries);
    let csv = t.call("GET", "/api/v1/apps/aud/audit?format=csv", &admin, None)?;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(csv.body.lines().count(), 1 + entries.len());
    assert!(
        csv.body.lines().nth(6).is_some_and(|l| l.contains(",export_segment,pro,") && l.contains(",40,")),
        "{}",
        csv.body
    );
    // Lookups: counted per day and token, not logged.
    let lookups = t.ok("GET", "/api/v1/apps/aud/audit/lookups", &admin, None)?;
    let days = lookups["days"].as_array().ok_or("days")?;
    assert_eq!(days.len(), 1, "{lookups}");
    assert_eq!((days[0]["lookups"].clone(), days[0]["actor"]["name"].clone()), (json!(3), json!("service token")));
    assert_eq!(t.call("GET", "/api/v1/apps/aud/audit", &editor, None)?.status, 403);
    Ok(())
}
