//! Both kinds of app on the real binary: an app of string ids (a dictionary) and an app of the
//! warehouse's `u32` ids (no dictionary) fed the same files must answer every main flow the
//! same way: exact estimates (against a naive count from the rows), dynamic segment histories,
//! static member lists, member exports, membership lookups and A/B groups. The ids are numbers
//! scattered over the whole 32-bit range, arriving in a different order each day (later days
//! bring lower ids), which is what a dictionary never sees and the sample tier must survive.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sieve_tests::{Error, Rng, TestServer};

const ADMIN: &str = "ids-admin";
const DAYS: [&str; 3] = ["2026-11-18", "2026-11-19", "2026-11-20"];
const APPS: [(&str, &str); 2] = [("s", "strings"), ("n", "u32")];

/// Users of each day (later days add users with lower and higher ids), with their plan,
/// age and daily visits.
struct Data {
    /// Per day, the users uploaded, in upload order.
    days: Vec<Vec<u32>>,
    plan: BTreeMap<u32, &'static str>,
    age: BTreeMap<u32, u32>,
    /// (day index, user) → visits that day (absent: none).
    visits: BTreeMap<(usize, u32), u64>,
}

fn data() -> Data {
    let mut rng = Rng(42);
    let mut all: Vec<u32> = vec![0, 1, u32::MAX, u32::MAX - 1, 1 << 31];
    while all.len() < 3_000 {
        let id = (rng.next_u64() >> 32) as u32;
        if !all.contains(&id) {
            all.push(id);
        }
    }
    // Day 1 has the upper half of the ids; each later day adds lower ones, shuffled.
    let mut sorted = all.clone();
    sorted.sort_unstable();
    let mut days = Vec::new();
    for (d, cut) in [1_500usize, 700, 0].into_iter().enumerate() {
        let mut users: Vec<u32> = sorted[cut..].to_vec();
        for i in (1..users.len()).rev() {
            users.swap(i, rng.below(i + 1));
        }
        days.push(users);
        let _ = d;
    }
    let plans = ["free", "pro", "team"];
    let plan = all.iter().map(|&u| (u, plans[rng.below(3)])).collect();
    let age = all.iter().map(|&u| (u, 18 + rng.below(50) as u32)).collect();
    let mut visits = BTreeMap::new();
    for (d, users) in days.iter().enumerate() {
        for &u in users {
            if rng.below(3) > 0 {
                visits.insert((d, u), 1 + rng.below(4) as u64);
            }
        }
    }
    Data { days, plan, age, visits }
}

fn upload(t: &TestServer, app: &str, token: &str, d: &Data) -> Result<(), Error> {
    for (i, ds) in DAYS.iter().enumerate() {
        let users = &d.days[i];
        let mut plan = String::from("user_id,value\n");
        let mut age = String::from("user_id,value\n");
        let mut visits = String::from("user_id,count\n");
        for &u in users {
            plan.push_str(&format!("{u},{}\n", d.plan[&u]));
            age.push_str(&format!("{u},{}\n", d.age[&u]));
            if let Some(n) = d.visits.get(&(i, u)) {
                visits.push_str(&format!("{u},{n}\n"));
            }
        }
        t.ok("PUT", &format!("/api/v1/apps/{app}/days/{ds}/tags/plan"), token, Some(plan.as_bytes()))?;
        t.ok("PUT", &format!("/api/v1/apps/{app}/days/{ds}/tags/age?kind=numeric"), token, Some(age.as_bytes()))?;
        t.ok("PUT", &format!("/api/v1/apps/{app}/days/{ds}/events/visit"), token, Some(visits.as_bytes()))?;
    }
    Ok(())
}

/// A member export as the list of ids it holds, in its order.
fn export(t: &TestServer, token: &str, path: &str) -> Result<Vec<String>, Error> {
    let r = t.call("GET", path, token, None)?;
    if r.status != 200 {
        return Err(format!("GET {path}: {} {}", r.status, r.body).into());
    }
    Ok(r.body.lines().skip(1).map(str::to_owned).collect())
}

#[test]
fn string_and_u32_apps_answer_every_main_flow_alike() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let d = data();
    let mut tokens = BTreeMap::new();
    for (app, ids) in APPS {
        let body = json!({"id": app, "name": app, "ids": ids}).to_string();
        let created = t.ok("POST", "/api/v1/apps", ADMIN, Some(body.as_bytes()))?;
        assert_eq!(created["ids"], ids);
        let token = t.token(app, "editor")?;
        assert_eq!(t.ok("GET", &format!("/api/v1/apps/{app}"), &token, None)?["ids"], ids, "GET shows the kind");
        upload(&t, app, &token, &d)?;
        tokens.insert(app, token);
    }
    let last = DAYS.len() - 1;
    let today: BTreeSet<u32> = d.days[last].iter().copied().collect();
    let visits_in =
        |u: u32, days: usize| -> u64 { (last + 1 - days..=last).filter_map(|i| d.visits.get(&(i, u))).sum() };

    // Exact estimates equal a naive count over the rows, on both apps.
    let naive = |pick: &dyn Fn(u32) -> bool| today.iter().filter(|&&u| pick(u)).count() as u64;
    let cases: Vec<(Value, u64)> = vec![
        (json!({"all": []}), today.len() as u64),
        (json!({"tag": "plan", "in": ["pro"]}), naive(&|u| d.plan[&u] == "pro")),
        (json!({"tag": "age", "between": [30, 40]}), naive(&|u| (30..=40).contains(&d.age[&u]))),
        (
            json!({"all": [{"tag": "plan", "in": ["team", "pro"]}, {"event": "visit", "last_days": 3, "count": {">=": 4}}]}),
            naive(&|u| d.plan[&u] != "free" && visits_in(u, 3) >= 4),
        ),
        (json!({"not": {"event": "visit", "last_days": 2, "days": {">=": 1}}}), naive(&|u| visits_in(u, 2) == 0)),
    ];
    for (app, _) in APPS {
        for (rule, want) in &cases {
            let body = json!({"rule": rule, "tier": "exact"}).to_string();
            let e = t.ok("POST", &format!("/api/v1/apps/{app}/estimate"), &tokens[app], Some(body.as_bytes()))?;
            assert_eq!(e["count"].as_u64(), Some(*want), "{app}: {rule}");
            let body = json!({"rule": rule, "tier": "sample"}).to_string();
            let s = t.ok("POST", &format!("/api/v1/apps/{app}/estimate"), &tokens[app], Some(body.as_bytes()))?;
            let (lo, hi) = (s["ci95"][0].as_u64().unwrap_or(u64::MAX), s["ci95"][1].as_u64().unwrap_or(0));
            assert!(lo <= *want && *want <= hi, "{app}: {rule}: sample interval {} misses {want}", s["ci95"]);
        }
    }
    // The u32 app's sample is chosen by block (stable in any arrival order): about 1 in 64.
    let m = t.ok("GET", &format!("/api/v1/apps/n/days/{}/manifest", DAYS[last]), &tokens["n"], None)?;
    assert_eq!(m["sample"]["scheme"], "block");
    let sampled = m["sample"]["universe"]["count"].as_u64().ok_or("sample count")?;
    assert!((20..=80).contains(&sampled), "{sampled} of 3,000 sampled at 1/64");

    // A dynamic segment (with an event window) and a static list, on both apps.
    let rule = json!({"all": [{"tag": "plan", "in": ["pro"]}, {"event": "visit", "last_days": 2, "count": {">=": 2}}]});
    let listed: Vec<u32> = d.days[0].iter().copied().step_by(7).collect();
    let mut list = String::from("user_id\n");
    for u in &listed {
        list.push_str(&format!("{u}\n"));
    }
    list.push_str("007\n12345678901\nnot-a-user\n");
    let mut answers: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut exports: BTreeMap<&str, Vec<Vec<String>>> = BTreeMap::new();
    for (app, _) in APPS {
        let token = &tokens[app];
        let seg = json!({"id": "keen", "name": "Keen pros", "rule": rule}).to_string();
        t.ok("POST", &format!("/api/v1/apps/{app}/segments"), token, Some(seg.as_bytes()))?;
        let seg = json!({"id": "listed", "name": "Listed", "kind": "static"}).to_string();
        t.ok("POST", &format!("/api/v1/apps/{app}/segments"), token, Some(seg.as_bytes()))?;
        let report =
            t.ok("PUT", &format!("/api/v1/apps/{app}/segments/listed/members"), token, Some(list.as_bytes()))?;
        assert_eq!((report["accepted"].as_u64(), report["unknown"].as_u64()), (Some(listed.len() as u64), Some(3)));
        t.wait_for_segments_job(token, app, "backfill", |j| j["state"] == "done")?;
        let history = t.ok("GET", &format!("/api/v1/apps/{app}/segments/keen/history"), token, None)?;
        let counts: Vec<Value> =
            history["days"].as_array().ok_or("days")?.iter().map(|day| day["size"].clone()).collect();
        let want: Vec<Value> = (0..DAYS.len())
            .map(|i| {
                let visits = |u: u32| -> u64 { (i.saturating_sub(1)..=i).filter_map(|k| d.visits.get(&(k, u))).sum() };
                json!(d.days[i].iter().filter(|&&u| d.plan[&u] == "pro" && visits(u) >= 2).count())
            })
            .collect();
        assert_eq!(counts, want, "{app}: history of keen");
        let e = json!({"id": "e1", "segment": "keen", "salt": "s1",
            "groups": [{"name": "control", "percent": 50}, {"name": "treatment", "percent": 50}]});
        t.ok("POST", &format!("/api/v1/apps/{app}/experiments"), token, Some(e.to_string().as_bytes()))?;
        let mut lists = Vec::new();
        for path in [
            "segments/keen/members",
            "segments/listed/members",
            "experiments/e1/groups/control/members",
            "experiments/e1/groups/treatment/members",
        ] {
            lists.push(export(&t, token, &format!("/api/v1/apps/{app}/{path}"))?);
        }
        exports.insert(app, lists);
        for &u in d.days[last].iter().step_by(97).chain(&[u32::MAX, 0]) {
            let mut v = t.ok("GET", &format!("/api/v1/apps/{app}/users/{u}/tags"), token, None)?;
            v.as_object_mut().ok_or("object")?.remove("version");
            answers.entry(app).or_default().push(v);
        }
        let r = t.call("GET", &format!("/api/v1/apps/{app}/users/4294967290/tags"), token, None)?;
        assert_eq!(r.status, 404, "{app}: a number no file named is unknown: {}", r.body);
    }
    assert_eq!(answers["s"], answers["n"], "membership answers");
    // Exports hold the same users; a u32 app lists them in numeric order.
    for (s, n) in exports["s"].iter().zip(&exports["n"]) {
        let (a, b): (BTreeSet<&String>, BTreeSet<&String>) = (s.iter().collect(), n.iter().collect());
        assert_eq!(a, b);
        let numbers: Vec<u32> = n.iter().map(|x| x.parse()).collect::<Result<_, _>>()?;
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "numeric order");
    }
    let listed_today: BTreeSet<String> = listed.iter().filter(|u| today.contains(u)).map(u32::to_string).collect();
    assert_eq!(exports["n"][1].iter().cloned().collect::<BTreeSet<_>>(), listed_today, "static members");
    assert!(!exports["n"][2].is_empty() && !exports["n"][3].is_empty(), "both groups have members");

    // A u32 app refuses an id that is not a canonical u32, naming the line and column.
    let bad = "user_id,value\n5,free\n0012,pro\n";
    let r =
        t.call("PUT", &format!("/api/v1/apps/n/days/{}/tags/plan", DAYS[last]), &tokens["n"], Some(bad.as_bytes()))?;
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.json()?;
    assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(3), Some(1)), "{e}");
    assert!(e["message"].as_str().unwrap_or_default().contains("u32"), "{e}");
    Ok(())
}

/// Ids arriving in any order never move a sampled user's sample id: a day's sample bitmaps
/// stay the same blobs when a later publish brings users with lower ids.
#[test]
fn u32_sample_bitmaps_do_not_move_when_lower_ids_arrive() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let body = json!({"id": "n", "name": "n", "ids": "u32"}).to_string();
    t.ok("POST", "/api/v1/apps", ADMIN, Some(body.as_bytes()))?;
    let token = t.token("n", "editor")?;
    let mut high = String::from("user_id,value\n");
    for u in (1_000_000u32..1_064_000).step_by(3) {
        high.push_str(&format!("{u},{}\n", if u % 2 == 0 { "a" } else { "b" }));
    }
    t.ok("PUT", "/api/v1/apps/n/days/2026-11-20/tags/g", &token, Some(high.as_bytes()))?;
    let before = t.ok("GET", "/api/v1/apps/n/days/2026-11-20/manifest", &token, None)?;
    // Lower ids arrive in another group: `g`'s sample bitmaps are carried as they were.
    let mut low = String::from("user_id,value\n");
    for u in (0u32..64_000).step_by(5) {
        low.push_str(&format!("{u},x\n"));
    }
    t.ok("PUT", "/api/v1/apps/n/days/2026-11-20/tags/h", &token, Some(low.as_bytes()))?;
    let after = t.ok("GET", "/api/v1/apps/n/days/2026-11-20/manifest", &token, None)?;
    assert_eq!(before["groups"][0], after["groups"][0], "g is carried unchanged");
    let sample = |m: &Value| m["sample"]["universe"]["count"].as_u64().unwrap_or(0);
    assert!(sample(&after) > sample(&before), "the new users joined the sample");
    // And the carried bitmaps still agree with the new sample: estimates stay consistent.
    let rule = json!({"tag": "g", "in": ["a"]});
    let body = json!({"rule": rule, "tier": "sample"}).to_string();
    let s = t.ok("POST", "/api/v1/apps/n/estimate", &token, Some(body.as_bytes()))?;
    let exact = (1_000_000u32..1_064_000).step_by(3).filter(|u| u % 2 == 0).count() as u64;
    let (lo, hi) = (s["ci95"][0].as_u64().unwrap_or(u64::MAX), s["ci95"][1].as_u64().unwrap_or(0));
    assert!(lo <= exact && exact <= hi, "sample interval {} misses {exact}", s["ci95"]);
    // No user holds both `g` (ids from 1,000,000) and `h` (below 64,000): in the sample too,
    // which holds only if `g`'s carried sample ids still mean the same users.
    let rule = json!({"all": [{"tag": "g", "in": ["a", "b"]}, {"tag": "h", "in": ["x"]}]});
    let body = json!({"rule": rule, "tier": "sample"}).to_string();
    let s = t.ok("POST", "/api/v1/apps/n/estimate", &token, Some(body.as_bytes()))?;
    assert_eq!(s["count"], 0, "{s}");
    Ok(())
}
