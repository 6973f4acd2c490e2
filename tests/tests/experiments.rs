//! A/B splits on the real binary: groups equal the documented assignment (computed here with
//! `engine::split` as the oracle, which the browser runs too), grow without moving anyone, are
//! frozen, balanced, exported, listed by the membership API, and outcomes equal a naive count.

use std::collections::{BTreeMap, BTreeSet};

use engine::split::{Group, Split};
use serde_json::{Value, json};
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "exp-admin";

struct Env {
    t: TestServer,
    token: String,
}

impl Env {
    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<sieve_tests::Reply, Error> {
        self.t.call(method, path, &self.token, body)
    }
    fn ok(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Value, Error> {
        self.t.ok(method, path, &self.token, body)
    }
}

fn start() -> Result<Env, Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("x", "editor")?;
    Ok(Env { t, token })
}

#[test]
fn splits_are_the_documented_assignment_and_outcomes_add_up() -> Result<(), Error> {
    let env = start()?;
    let users: Vec<String> = (0..20_000).map(|i| format!("member-{i}")).collect();
    // Day 1: everyone has a gender; day 2: some are active.
    let mut gender = String::from("user_id,value\n");
    for (i, u) in users.iter().enumerate() {
        gender.push_str(&format!("{u},{}\n", if i % 4 == 0 { "male" } else { "female" }));
    }
    env.ok("PUT", "/api/v1/apps/x/days/2026-11-19/tags/gender", Some(gender.as_bytes()))?;
    let seg = json!({"id": "women", "name": "Women", "kind": "dynamic", "rule": {"tag": "gender", "in": ["female"]}});
    env.ok("POST", "/api/v1/apps/x/segments", Some(seg.to_string().as_bytes()))?;

    let body = json!({"id": "e1", "segment": "women", "ds": "2026-11-19", "salt": "spring",
        "groups": [{"name": "control", "percent": 20}, {"name": "treatment", "percent": 20}]});
    let r = env.call("POST", "/api/v1/apps/x/experiments", Some(body.to_string().as_bytes()))?;
    assert_eq!(r.status, 201, "{}", r.body);
    let e = r.json()?;
    // Oracle: the engine's documented assignment over the segment's members.
    let split = Split::new(
        "spring",
        vec![Group { name: "control".into(), percent: 20.0 }, Group { name: "treatment".into(), percent: 20.0 }],
    )?;
    let women: Vec<&String> = users.iter().enumerate().filter(|(i, _)| i % 4 != 0).map(|(_, u)| u).collect();
    let mut expected: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for u in &women {
        if let Some(g) = split.assign(u) {
            expected.entry(g).or_default().insert((*u).clone());
        }
    }
    assert_eq!(e["audience"].as_u64(), Some(women.len() as u64));
    for (g, name) in ["control", "treatment"].iter().enumerate() {
        assert_eq!(e["groups"][g]["count"].as_u64(), Some(expected[&g].len() as u64), "{name}");
        let csv = env.call("GET", &format!("/api/v1/apps/x/experiments/e1/groups/{name}/members"), None)?;
        let got: BTreeSet<String> = csv.body.lines().skip(1).map(str::to_owned).collect();
        assert_eq!(got, expected[&g], "{name} members");
    }
    // Balanced: no sample-ratio mismatch flagged, shares near the plan, a tag mix to compare.
    assert_eq!(e["balance"]["srm"], false, "{}", e["balance"]);
    assert!(e["balance"]["p_value"].as_f64().is_some_and(|p| p > 0.001));
    assert!(e["balance"]["mix"].as_array().is_some_and(|m| !m.is_empty()));

    // The membership API names the user's group; read now, the server keeps the app's groups
    // for a second, so the next experiment must still show at once (the create drops them).
    let member = expected[&1].iter().next().ok_or("a treatment member")?;
    let lookup = format!("/api/v1/apps/x/users/{member}/tags");
    assert_eq!(env.ok("GET", &lookup, None)?["experiments"], json!({"e1": "treatment"}));

    // Growing the percentages with the same salt moves nobody.
    let bigger = json!({"id": "e2", "segment": "women", "ds": "2026-11-19", "salt": "spring",
        "groups": [{"name": "control", "percent": 40}, {"name": "treatment", "percent": 40}]});
    env.ok("POST", "/api/v1/apps/x/experiments", Some(bigger.to_string().as_bytes()))?;
    assert_eq!(env.ok("GET", &lookup, None)?["experiments"], json!({"e1": "treatment", "e2": "treatment"}));
    for name in ["control", "treatment"] {
        let small: BTreeSet<String> = env
            .call("GET", &format!("/api/v1/apps/x/experiments/e1/groups/{name}/members"), None)?
            .body
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect();
        let big: BTreeSet<String> = env
            .call("GET", &format!("/api/v1/apps/x/experiments/e2/groups/{name}/members"), None)?
            .body
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect();
        assert!(small.is_subset(&big), "{name}: growing moved users");
        assert!(big.len() > small.len());
    }

    // Frozen: a new day with new members does not change the groups; outcomes are read on it.
    let mut active = String::from("user_id,value\n");
    for (i, u) in users.iter().enumerate() {
        if i % 3 == 0 {
            active.push_str(&format!("{u},true\n"));
        }
    }
    env.ok("PUT", "/api/v1/apps/x/days/2026-11-20/tags/active_1d?kind=boolean", Some(active.as_bytes()))?;
    let o = env.ok("GET", "/api/v1/apps/x/experiments/e1/outcome?metric=active_1d&ds=2026-11-20", None)?;
    assert_eq!(o["after_split"], true);
    let active_set: BTreeSet<&String> = users.iter().enumerate().filter(|(i, _)| i % 3 == 0).map(|(_, u)| u).collect();
    let mut rates = Vec::new();
    for (g, got) in o["groups"].as_array().ok_or("groups")?.iter().enumerate() {
        let with = expected[&g].iter().filter(|u| active_set.contains(u)).count() as u64;
        assert_eq!(got["with_metric"].as_u64(), Some(with));
        let r = with as f64 / expected[&g].len() as f64;
        assert!((got["rate"]["rate"].as_f64().ok_or("rate")? - r).abs() < 1e-12);
        assert!(got["rate"]["lo"].as_f64() < Some(r) && got["rate"]["hi"].as_f64() > Some(r));
        rates.push(r);
    }
    let diff = &o["groups"][1]["difference"];
    assert!((diff["rate"].as_f64().ok_or("diff")? - (rates[1] - rates[0])).abs() < 1e-12);
    assert!(o["groups"][0].get("difference").is_none());

    // Still, after the outcome reads.
    let t = env.ok("GET", &lookup, None)?;
    assert_eq!(t["experiments"]["e1"], "treatment");
    assert_eq!(t["experiments"]["e2"], "treatment");

    // Bad input: percentages over 100, a duplicate id, a segment with no members.
    let over = json!({"id": "e3", "segment": "women", "salt": "s", "groups": [{"name": "a", "percent": 70}, {"name": "b", "percent": 40}]});
    let r = env.call("POST", "/api/v1/apps/x/experiments", Some(over.to_string().as_bytes()))?;
    assert_eq!((r.status, r.json()?["field"].clone()), (400, json!("groups")));
    let r = env.call("POST", "/api/v1/apps/x/experiments", Some(body.to_string().as_bytes()))?;
    assert_eq!(r.status, 409);
    let none = json!({"id": "e4", "segment": "nobody", "salt": "s", "groups": [{"name": "a", "percent": 50}]});
    assert_eq!(env.call("POST", "/api/v1/apps/x/experiments", Some(none.to_string().as_bytes()))?.status, 409);
    assert_eq!(env.ok("GET", "/api/v1/apps/x/experiments", None)?["experiments"].as_array().map(Vec::len), Some(2));
    Ok(())
}
