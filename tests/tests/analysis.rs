//! Analyses on the real binary (issue 16): funnels, overlaps and pivots over several days of
//! generated tags and events equal naive recomputations from the uploaded rows; the engine's
//! functions run on the downloaded bitmaps (the app's path) give the server's answer; bad
//! inputs are 400s naming the field; an aggregate token gets noisy, suppressible counts.

use engine::IdSet;
use engine::analysis::funnel;
use serde_json::{Value, json};
use sieve_tests::{Error, TestServer};

const ADMIN: &str = "analysis-admin";
const DAYS: [&str; 6] = ["2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];
const EVENTS: [&str; 3] = ["visit", "cart", "buy"];
const REGIONS: [&str; 4] = ["north", "south", "east", "west"];
const PLANS: [&str; 3] = ["free", "pro", "team"];
const USERS: usize = 1_500;

/// Generated rows: `events[e][d][u]` (count on a day), `region[u]`, `plan[d][u]` (changes by day).
struct Data {
    events: Vec<Vec<Vec<u64>>>,
    region: Vec<usize>,
    plan: Vec<Vec<usize>>,
}

fn data() -> Data {
    let mut x: u64 = 16;
    let mut next = move |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let odds = [35, 20, 10];
    let events = (0..EVENTS.len())
        .map(|e| {
            (0..DAYS.len())
                .map(|d| {
                    (0..USERS)
                        .map(|_| {
                            // No cart upload on the third day: a missing day counts as nobody.
                            if e == 1 && d == 2 || next(100) >= odds[e] { 0 } else { 1 + next(3) }
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let region = (0..USERS).map(|_| next(4) as usize).collect();
    let plan = (0..DAYS.len()).map(|_| (0..USERS).map(|_| next(3) as usize).collect()).collect();
    Data { events, region, plan }
}

fn user(u: usize) -> String {
    format!("u{u:05}")
}

fn upload(t: &TestServer, token: &str, d: &Data) -> Result<(), Error> {
    for (di, ds) in DAYS.iter().enumerate() {
        let mut region = String::from("user_id,value\n");
        let mut plan = String::from("user_id,value\n");
        for u in 0..USERS {
            region.push_str(&format!("{},{}\n", user(u), REGIONS[d.region[u]]));
            plan.push_str(&format!("{},{}\n", user(u), PLANS[d.plan[di][u]]));
        }
        t.ok("PUT", &format!("/api/v1/apps/an/days/{ds}/tags/region"), token, Some(region.as_bytes()))?;
        t.ok("PUT", &format!("/api/v1/apps/an/days/{ds}/tags/plan"), token, Some(plan.as_bytes()))?;
        for (e, event) in EVENTS.iter().enumerate() {
            if e == 1 && di == 2 {
                continue;
            }
            let mut csv = String::from("user_id,count\n");
            for (u, c) in d.events[e][di].iter().enumerate().filter(|(_, c)| **c > 0) {
                csv.push_str(&format!("{},{c}\n", user(u)));
            }
            t.ok("PUT", &format!("/api/v1/apps/an/days/{ds}/events/{event}"), token, Some(csv.as_bytes()))?;
        }
    }
    Ok(())
}

/// The funnel of one user, read straight from the definition: the day of each step reached.
fn naive_user(
    d: &Data,
    steps: &[usize],
    days: std::ops::Range<usize>,
    within: usize,
    audience: &dyn Fn(usize, usize) -> bool,
    u: usize,
) -> Vec<usize> {
    let Some(first) = days.clone().find(|&day| d.events[steps[0]][day][u] > 0 && audience(day, u)) else {
        return Vec::new();
    };
    let mut out = vec![first];
    for k in 1..steps.len() {
        let start = out[k - 1] + usize::from(steps[k] == steps[k - 1]);
        let last = (first + within).min(days.end - 1);
        match (start..=last).find(|&day| d.events[steps[k]][day][u] > 0) {
            Some(day) => out.push(day),
            None => break,
        }
    }
    out
}

fn median(mut gaps: Vec<usize>) -> Option<f64> {
    gaps.sort_unstable();
    let n = gaps.len();
    (n > 0).then(|| (gaps[(n - 1) / 2] + gaps[n / 2]) as f64 / 2.0)
}

/// Naive steps among the users `keep` lets through: (count, median days) per step.
fn naive_funnel(
    d: &Data,
    steps: &[usize],
    days: std::ops::Range<usize>,
    within: usize,
    audience: &dyn Fn(usize, usize) -> bool,
    keep: &dyn Fn(usize) -> bool,
) -> Vec<(u64, Option<f64>)> {
    let per_user: Vec<Vec<usize>> =
        (0..USERS).filter(|&u| keep(u)).map(|u| naive_user(d, steps, days.clone(), within, audience, u)).collect();
    (0..steps.len())
        .map(|k| {
            let reached: Vec<&Vec<usize>> = per_user.iter().filter(|p| p.len() > k).collect();
            let gaps = if k == 0 { Vec::new() } else { reached.iter().map(|p| p[k] - p[k - 1]).collect() };
            (reached.len() as u64, median(gaps))
        })
        .collect()
}

/// Equal up to the last digit JSON keeps of a float.
fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-12,
        (a, b) => a == b,
    }
}

fn check_steps(got: &Value, want: &[(u64, Option<f64>)], what: &str) {
    let steps = got.as_array().unwrap_or_else(|| panic!("{what}: no steps in {got}"));
    assert_eq!(steps.len(), want.len(), "{what}");
    for (k, (s, (count, med))) in steps.iter().zip(want).enumerate() {
        assert_eq!(s["count"].as_u64(), Some(*count), "{what} step {k}: {s}");
        assert_eq!(s["median_days"].as_f64(), *med, "{what} step {k} median: {s}");
        let prev = if k == 0 { *count } else { want[k - 1].0 };
        let conv = (prev > 0).then(|| *count as f64 / prev as f64);
        assert!(close(s["from_previous"].as_f64(), conv), "{what} step {k} from_previous: {s}");
        let first = (want[0].0 > 0).then(|| *count as f64 / want[0].0 as f64);
        assert!(close(s["from_first"].as_f64(), first), "{what} step {k} from_first: {s}");
    }
}

fn post(t: &TestServer, token: &str, route: &str, body: &Value) -> Result<sieve_tests::Reply, Error> {
    t.call("POST", &format!("/api/v1/apps/an/{route}"), token, Some(body.to_string().as_bytes()))
}

fn ok(t: &TestServer, token: &str, route: &str, body: &Value) -> Result<Value, Error> {
    let r = post(t, token, route, body)?;
    if r.status != 200 {
        return Err(format!("{route} {body}: {} {}", r.status, r.body).into());
    }
    r.json()
}

/// The field a 400 names.
fn bad(t: &TestServer, token: &str, route: &str, body: Value) -> Result<String, Error> {
    let r = post(t, token, route, &body)?;
    assert_eq!(r.status, 400, "{route} {body}: {}", r.body);
    let v = r.json()?;
    Ok(v["field"].as_str().or(v["path"].as_str()).unwrap_or_default().to_owned())
}

/// The app's path: the engine's funnel on bitmaps downloaded from the blob route.
fn funnel_in_app(t: &TestServer, token: &str, events: &[&str], days: &[&str], within: u32) -> Result<Value, Error> {
    let empty = IdSet::new();
    let mut columns: Vec<Vec<IdSet>> = Vec::new();
    for event in events {
        let mut sets = Vec::new();
        for ds in days {
            let m = t.ok("GET", &format!("/api/v1/apps/an/days/{ds}/manifest"), token, None)?;
            let entry = m["events"].as_array().ok_or("events")?.iter().find(|e| e["name"] == *event).cloned();
            sets.push(match entry {
                Some(e) => {
                    let hash = e["bsi"]["exists"]["full"]["blob"].as_str().ok_or("exists blob")?.to_owned();
                    let r = t.call("GET", &format!("/api/v1/apps/an/blobs/{hash}"), token, None)?;
                    engine::blob::decode_addressed(&r.bytes, &hash)?
                }
                None => empty.clone(),
            });
        }
        columns.push(sets);
    }
    let steps: Vec<funnel::StepDays<'_>> = events
        .iter()
        .zip(&columns)
        .map(|(e, days)| funnel::StepDays { event: e, days: days.iter().collect() })
        .collect();
    let reached = funnel::reach(&steps, None, within);
    let names: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
    let answer = funnel::exact_steps(&names, &funnel::summarise(&reached, within, None));
    // Through JSON text, as the server's answer came (the same float parsing on both sides).
    Ok(serde_json::from_str(&serde_json::to_string(&answer)?)?)
}

#[test]
fn funnels_overlaps_and_pivots_equal_naive_recomputations() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("an", "editor")?;
    let d = data();
    upload(&t, &token, &d)?;

    // Funnels: visit → cart → buy over the whole range, 2 days to convert.
    let everyone = |_: usize, _: usize| true;
    let all = |_: usize| true;
    let body = json!({"steps": [{"event": "visit"}, {"event": "cart"}, {"event": "buy"}],
        "from": DAYS[0], "to": DAYS[5], "within_days": 2});
    let v = ok(&t, &token, "funnel", &body)?;
    let want = naive_funnel(&d, &[0, 1, 2], 0..6, 2, &everyone, &all);
    assert!(want[2].0 > 20 && want[1].0 < want[0].0, "the data makes a real funnel: {want:?}");
    check_steps(&v["steps"], &want, "visit→cart→buy");
    let app_side = funnel_in_app(&t, &token, &["visit", "cart", "buy"], &DAYS, 2)?;
    assert_eq!(v["steps"], app_side, "the engine on downloaded bitmaps gives the server's answer");

    // The same event twice (strictly later days), a sub-range, the same day only, an audience
    // that changes by day (plan = pro on the step-1 day), and a split by region.
    for (steps, from, to, within) in [(vec![0, 0, 2], 1, 5, 3), (vec![2, 1], 0, 3, 0), (vec![1, 0, 1, 2], 2, 5, 5)] {
        let names: Vec<Value> = steps.iter().map(|&e| json!({"event": EVENTS[e]})).collect();
        let body = json!({"steps": names, "from": DAYS[from], "to": DAYS[to], "within_days": within,
            "audience": {"tag": "plan", "in": ["pro"]}, "by": "region"});
        let v = ok(&t, &token, "funnel", &body)?;
        let pro = |day: usize, u: usize| d.plan[day][u] == 1;
        let what = format!("{steps:?} {from}..={to} within {within}");
        check_steps(&v["steps"], &naive_funnel(&d, &steps, from..to + 1, within as usize, &pro, &all), &what);
        let by = v["by"].as_array().ok_or("by")?;
        assert_eq!(by.len(), REGIONS.len());
        for row in by {
            let r = REGIONS.iter().position(|x| row["value"] == *x).ok_or("a region")?;
            let keep = |u: usize| d.region[u] == r;
            check_steps(
                &row["steps"],
                &naive_funnel(&d, &steps, from..to + 1, within as usize, &pro, &keep),
                &format!("{what} {r}"),
            );
        }
    }

    // Overlap: a saved segment, two rules; every region against a per-user mask.
    let seg = json!({"id": "pro", "name": "Pro", "kind": "dynamic", "rule": {"tag": "plan", "in": ["pro"]}});
    t.ok("POST", "/api/v1/apps/an/segments", &token, Some(seg.to_string().as_bytes()))?;
    t.wait_for_segments_job(&token, "an", "segments computed", |j| j["state"] == "idle" || j["state"] == "done")?;
    let body = json!({"ds": DAYS[5], "segments": ["pro", {"tag": "region", "in": ["north", "east"]},
        {"event": "buy", "last_days": 3, "count": {">=": 2}}]});
    let v = ok(&t, &token, "overlap", &body)?;
    let buys3 = |u: usize| (3..6).map(|day| d.events[2][day][u]).sum::<u64>() >= 2;
    let mut want = [0u64; 8];
    for u in 0..USERS {
        let mask = usize::from(d.plan[5][u] == 1)
            | usize::from(d.region[u] == 0 || d.region[u] == 2) << 1
            | usize::from(buys3(u)) << 2;
        want[mask] += 1;
    }
    let regions = v["regions"].as_array().ok_or("regions")?;
    assert_eq!(regions.len(), 7);
    for (i, r) in regions.iter().enumerate() {
        let mask = i + 1;
        let names: Vec<Value> = [("pro", 1), ("segments[1]", 2), ("segments[2]", 4)]
            .iter()
            .filter(|(_, bit)| mask & bit != 0)
            .map(|(n, _)| json!(n))
            .collect();
        assert_eq!(r["in"], Value::Array(names), "{r}");
        assert_eq!(r["count"].as_u64(), Some(want[mask]), "region {mask}: {r}");
    }

    // Pivot: region × plan on the last day, within those who visited in its last 2 days.
    let body = json!({"ds": DAYS[5], "rows": "region", "columns": "plan",
        "audience": {"event": "visit", "last_days": 2, "count": {">=": 1}}});
    let v = ok(&t, &token, "pivot", &body)?;
    let visited = |u: usize| d.events[0][4][u] + d.events[0][5][u] > 0;
    let rows: Vec<&str> = v["rows"].as_array().ok_or("rows")?.iter().filter_map(Value::as_str).collect();
    let columns: Vec<&str> = v["columns"].as_array().ok_or("columns")?.iter().filter_map(Value::as_str).collect();
    let audience = (0..USERS).filter(|&u| visited(u)).count() as f64;
    assert_eq!(v["audience"].as_f64(), Some(audience));
    assert_eq!(v["universe"].as_u64(), Some(USERS as u64));
    for (i, row) in rows.iter().enumerate() {
        let r = REGIONS.iter().position(|x| x == row).ok_or("row")?;
        let cells: Vec<u64> = columns
            .iter()
            .map(|c| {
                let p = PLANS.iter().position(|x| x == c).unwrap_or(9);
                (0..USERS).filter(|&u| visited(u) && d.region[u] == r && d.plan[5][u] == p).count() as u64
            })
            .collect();
        let row_total: u64 = cells.iter().sum();
        for (j, c) in cells.iter().enumerate() {
            let p = PLANS.iter().position(|x| *x == columns[j]).unwrap_or(9);
            assert_eq!(v["counts"][i][j].as_u64(), Some(*c), "cell {row} {}", columns[j]);
            let share = v["row_shares"][i][j].as_f64().ok_or("share")?;
            assert!((share - *c as f64 / row_total as f64).abs() < 1e-12);
            let all = (0..USERS).filter(|&u| d.region[u] == r && d.plan[5][u] == p).count() as f64;
            let tgi = 100.0 * (*c as f64 / audience) / (all / USERS as f64);
            assert!((v["tgi"][i][j].as_f64().ok_or("tgi")? - tgi).abs() < 1e-9, "tgi {row} {}", columns[j]);
        }
    }

    // Bad inputs: 400 naming the field.
    let step = |e: &str| json!({"event": e});
    let f = |steps: Value, from: &str, to: &str, within: u32| json!({"steps": steps, "from": from, "to": to, "within_days": within});
    assert_eq!(bad(&t, &token, "funnel", f(json!([]), DAYS[0], DAYS[5], 1))?, "steps");
    assert_eq!(bad(&t, &token, "funnel", f(Value::Array(vec![step("visit"); 9]), DAYS[0], DAYS[5], 1))?, "steps");
    assert_eq!(bad(&t, &token, "funnel", f(json!([step("nope")]), DAYS[0], DAYS[5], 1))?, "steps");
    assert_eq!(bad(&t, &token, "funnel", f(json!([step("visit")]), DAYS[5], DAYS[0], 1))?, "to");
    assert_eq!(bad(&t, &token, "funnel", f(json!([step("visit")]), "2025-01-01", DAYS[5], 1))?, "from");
    assert_eq!(bad(&t, &token, "funnel", f(json!([step("visit")]), DAYS[0], DAYS[5], 10_000))?, "within_days");
    let mut with_by = f(json!([step("visit")]), DAYS[0], DAYS[5], 1);
    with_by["by"] = json!("nope");
    assert_eq!(bad(&t, &token, "funnel", with_by)?, "by");
    let mut with_audience = f(json!([step("visit")]), DAYS[0], DAYS[5], 1);
    with_audience["audience"] = json!({"tag": "region", "in": ["mars"]});
    assert!(bad(&t, &token, "funnel", with_audience)?.starts_with("audience"));
    assert_eq!(bad(&t, &token, "overlap", json!({"segments": []}))?, "segments");
    assert_eq!(
        bad(&t, &token, "overlap", json!({"segments": ["pro", "pro", "pro", "pro", "pro", "pro"]}))?,
        "segments"
    );
    assert_eq!(bad(&t, &token, "overlap", json!({"segments": ["nope"]}))?, "segments");
    assert!(bad(&t, &token, "overlap", json!({"segments": ["pro", {"tag": "region"}]}))?.starts_with("segments[1]"));
    assert_eq!(bad(&t, &token, "pivot", json!({"rows": "nope", "columns": "plan"}))?, "rows");
    assert_eq!(bad(&t, &token, "pivot", json!({"rows": "plan", "columns": "nope"}))?, "columns");
    assert_eq!(bad(&t, &token, "pivot", json!({"ds": "x", "rows": "plan", "columns": "region"}))?, "ds");

    // An aggregate token: noisy counts, the same answer when asked again, withheld below k.
    let agg = t.token("an", "aggregate")?;
    let exact = ok(&t, &token, "pivot", &json!({"rows": "region", "columns": "plan"}))?;
    let noisy = ok(&t, &agg, "pivot", &json!({"rows": "region", "columns": "plan"}))?;
    assert_eq!(noisy["noisy"], true);
    assert_eq!(
        noisy,
        ok(&t, &agg, "pivot", &json!({"rows": "region", "columns": "plan"}))?,
        "asking again averages nothing out"
    );
    let cells = |v: &Value| -> Vec<i64> {
        v["counts"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r.as_array().into_iter().flatten())
            .map(|c| c.as_i64().unwrap_or(-1))
            .collect()
    };
    let (e, n) = (cells(&exact), cells(&noisy));
    assert_ne!(e, n, "some cell is noisy");
    assert!(e.iter().zip(&n).all(|(a, b)| (a - b).abs() < 40), "{e:?} {n:?}");
    let funnel_body =
        json!({"steps": [{"event": "visit"}, {"event": "buy"}], "from": DAYS[0], "to": DAYS[5], "within_days": 1});
    let nf = ok(&t, &agg, "funnel", &funnel_body)?;
    let ef = ok(&t, &token, "funnel", &funnel_body)?;
    assert_eq!(nf["noisy"], true);
    for k in 0..2 {
        let (a, b) = (ef["steps"][k]["count"].as_i64().unwrap_or(0), nf["steps"][k]["count"].as_i64().unwrap_or(-100));
        assert!((a - b).abs() < 40, "step {k}: {a} against {b}");
    }
    let admin = t.token("an", "admin")?;
    let patch = json!({"min_audience": 1_000_000}).to_string();
    assert_eq!(t.call("PATCH", "/api/v1/apps/an", &admin, Some(patch.as_bytes()))?.status, 200);
    let v = ok(&t, &agg, "overlap", &json!({"segments": ["pro", {"tag": "region", "in": ["north"]}]}))?;
    for r in v["regions"].as_array().ok_or("regions")? {
        assert_eq!((r["count"].clone(), r["suppressed"].clone()), (Value::Null, json!(true)), "{r}");
    }
    let v = ok(&t, &agg, "funnel", &funnel_body)?;
    assert_eq!((v["steps"][0]["count"].clone(), v["steps"][0]["suppressed"].clone()), (Value::Null, json!(true)));
    assert_eq!(v["steps"][1]["median_days"], Value::Null, "a withheld step has no median");
    // Other roles still get exact counts.
    assert_eq!(ok(&t, &token, "funnel", &funnel_body)?, ef);
    Ok(())
}

/// The member export of a segment on a day, as sorted ids.
fn export(t: &TestServer, token: &str, id: &str, ds: &str) -> Result<Vec<String>, Error> {
    let r = t.call("GET", &format!("/api/v1/apps/an/segments/{id}/members?ds={ds}"), token, None)?;
    if r.status != 200 {
        return Err(format!("export {id}: {} {}", r.status, r.body).into());
    }
    let mut ids: Vec<String> = r.body.lines().skip(1).map(str::to_owned).collect();
    ids.sort();
    Ok(ids)
}

#[test]
fn freezing_a_funnel_step_keeps_exactly_its_users() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("an", "editor")?;
    let d = data();
    upload(&t, &token, &d)?;
    let (steps, from, to, within) = ([0, 1, 2], 1, 5, 2);
    let funnel = json!({"steps": [{"event": "visit"}, {"event": "cart"}, {"event": "buy"}], "from": DAYS[from],
        "to": DAYS[to], "within_days": within, "audience": {"tag": "plan", "in": ["pro"]}});
    let pro = |day: usize, u: usize| d.plan[day][u] == 1;
    let per_user: Vec<Vec<usize>> = (0..USERS).map(|u| naive_user(&d, &steps, from..to + 1, within, &pro, u)).collect();
    // Reached step 1 (cart), and "added to cart but did not buy".
    for (id, step, dropped) in [("carted", 1, false), ("cart-no-buy", 1, true), ("visited", 0, false)] {
        let body = json!({"name": id, "funnel": funnel, "step": step, "dropped": dropped});
        let r = post(&t, &token, &format!("segments/{id}/freeze"), &body)?;
        assert_eq!(r.status, 201, "{id}: {}", r.body);
        let v = r.json()?;
        let want: Vec<String> = (0..USERS)
            .filter(|&u| if dropped { per_user[u].len() == step + 1 } else { per_user[u].len() > step })
            .map(user)
            .collect();
        assert!(want.len() > 20, "{id}: a real audience ({})", want.len());
        assert_eq!((v["ds"].as_str(), v["members"].as_u64()), (Some(DAYS[to]), Some(want.len() as u64)), "{id}: {v}");
        assert_eq!(export(&t, &token, id, DAYS[to])?, want, "{id}");
    }
    // The step's count on the funnel route is the frozen size.
    let v = ok(&t, &token, "funnel", &funnel)?;
    assert_eq!(v["steps"][1]["count"].as_u64(), Some(export(&t, &token, "carted", DAYS[to])?.len() as u64));
    // Errors name the field; an aggregate token may not write.
    let freeze = |body: Value| bad(&t, &token, "segments/x/freeze", body);
    assert_eq!(freeze(json!({"name": "x", "funnel": funnel, "step": 3}))?, "step");
    assert_eq!(freeze(json!({"name": "x", "funnel": funnel, "step": 2, "dropped": true}))?, "dropped");
    assert_eq!(freeze(json!({"name": "x", "funnel": funnel}))?, "step");
    assert_eq!(freeze(json!({"name": "x", "step": 1}))?, "step");
    assert_eq!(
        freeze(json!({"name": "x", "funnel": funnel, "step": 0, "rule": {"tag": "plan", "in": ["pro"]}}))?,
        "rule"
    );
    let mut bad_steps = funnel.clone();
    bad_steps["steps"] = json!([]);
    assert_eq!(freeze(json!({"name": "x", "funnel": bad_steps, "step": 0}))?, "steps");
    let agg = t.token("an", "aggregate")?;
    let body = json!({"name": "x", "funnel": funnel, "step": 0});
    assert_eq!(post(&t, &agg, "segments/x/freeze", &body)?.status, 403);
    // Below min_audience: refused, as any freeze.
    let admin = t.token("an", "admin")?;
    let patch = json!({"min_audience": 1_000_000}).to_string();
    assert_eq!(t.call("PATCH", "/api/v1/apps/an", &admin, Some(patch.as_bytes()))?.status, 200);
    let r = post(&t, &token, "segments/small/freeze", &json!({"name": "small", "funnel": funnel, "step": 2}))?;
    assert!(r.status >= 400 && r.status < 500, "{}: {}", r.status, r.body);
    Ok(())
}
