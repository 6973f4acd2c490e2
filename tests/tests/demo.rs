//! `sieve demo`: determinism and the invariants its files promise (see `server::demo`'s docs).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use sieve_tests::{Error, sieve};

/// Runs `sieve demo` into a new temp dir; returns the dir.
fn demo(users: u32, days: u32, seed: u64, extra: &[&str]) -> Result<tempfile::TempDir, Error> {
    let dir = tempfile::tempdir()?;
    let mut cmd: Command = sieve();
    cmd.arg("demo")
        .arg("--out")
        .arg(dir.path())
        .args(["--users", &users.to_string(), "--days", &days.to_string()])
        .args(["--seed", &seed.to_string(), "--end-ds", "2026-11-20"])
        .args(extra);
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("sieve demo failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !(stdout.contains("files") && stdout.contains("rows")) {
        return Err(format!("no summary printed: {stdout}").into());
    }
    Ok(dir)
}

/// Every file under `root`, by relative path, with its bytes.
fn tree(root: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>, Error> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(root)?.to_path_buf(), std::fs::read(&path)?);
            }
        }
    }
    Ok(out)
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() -> Result<(), Error> {
    let a = tree(demo(2_000, 8, 42, &[])?.path())?;
    let b = tree(demo(2_000, 8, 42, &[])?.path())?;
    let c = tree(demo(2_000, 8, 43, &[])?.path())?;
    assert!(a.len() > 100, "{} files", a.len());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(b[path] == *bytes, "{} differs between two runs with the same seed", path.display());
    }
    assert_eq!(a.keys().collect::<Vec<_>>(), c.keys().collect::<Vec<_>>(), "same file set");
    let differing = a.iter().filter(|(p, bytes)| c[*p] != **bytes).count();
    assert!(differing > a.len() / 2, "only {differing} files differ with another seed");
    Ok(())
}

#[test]
fn output_does_not_depend_on_threads() -> Result<(), Error> {
    // More users than one generator block (32,768), so several threads really share the work.
    let one = tree(demo(70_000, 2, 7, &["--threads", "1"])?.path())?;
    let three = tree(demo(70_000, 2, 7, &["--threads", "3"])?.path())?;
    assert_eq!(one.len(), three.len());
    for (path, bytes) in &one {
        assert!(three[path] == *bytes, "{} depends on the thread count", path.display());
    }
    Ok(())
}

/// One CSV file: header and rows as (user, value).
struct Csv {
    header: String,
    rows: Vec<(String, String)>,
}

fn read_csv(path: &Path) -> Result<Csv, Error> {
    let text = std::fs::read_to_string(path)?;
    assert!(text.ends_with('\n'), "{} ends without a newline", path.display());
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_owned();
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let (user, value) =
            line.split_once(',').ok_or_else(|| format!("{}:{}: no comma in {line:?}", path.display(), n + 2))?;
        assert!(!value.contains(','), "{}:{}: extra field", path.display(), n + 2);
        rows.push((user.to_owned(), value.to_owned()));
    }
    Ok(Csv { header, rows })
}

/// A tag or event file of one day, with its header checked.
fn day_file(root: &Path, ds: &str, dir: &str, name: &str) -> Result<Vec<(String, String)>, Error> {
    let csv = read_csv(&root.join(ds).join(dir).join(format!("{name}.csv")))?;
    let want = if dir == "events" { "user_id,count" } else { "user_id,value" };
    assert_eq!(csv.header, want, "{ds}/{dir}/{name}.csv header");
    Ok(csv.rows)
}

fn users(rows: &[(String, String)]) -> BTreeSet<String> {
    rows.iter().map(|(u, _)| u.clone()).collect()
}

/// Users of a boolean file; every value is `true` and no user repeats.
fn boolean(root: &Path, ds: &str, group: &str) -> Result<BTreeSet<String>, Error> {
    let rows = day_file(root, ds, "tags", group)?;
    assert!(rows.iter().all(|(_, v)| v == "true"), "{ds} {group}: values other than true");
    let set = users(&rows);
    assert_eq!(set.len(), rows.len(), "{ds} {group}: a user appears twice");
    Ok(set)
}

/// user → value of a single-valued file; no user repeats.
fn single(root: &Path, ds: &str, group: &str) -> Result<HashMap<String, String>, Error> {
    let rows = day_file(root, ds, "tags", group)?;
    let n = rows.len();
    let map: HashMap<_, _> = rows.into_iter().collect();
    assert_eq!(map.len(), n, "{ds} {group}: a user appears twice");
    Ok(map)
}

/// Users of an event file; every count is a positive integer.
fn event(root: &Path, ds: &str, name: &str) -> Result<BTreeSet<String>, Error> {
    let rows = day_file(root, ds, "events", name)?;
    for (u, c) in &rows {
        assert!(c.parse::<u32>().is_ok_and(|c| c > 0), "{ds} {name}: count {c:?} for {u}");
    }
    Ok(users(&rows))
}

fn is_money(v: &str) -> bool {
    let Some((whole, cents)) = v.split_once('.') else {
        return false;
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && (whole == "0" || !whole.starts_with('0'))
        && cents.len() == 2
        && cents.bytes().all(|b| b.is_ascii_digit())
}

fn days(root: &Path) -> Result<Vec<String>, Error> {
    let mut ds: Vec<String> = std::fs::read_dir(root)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ds.sort();
    Ok(ds)
}

#[test]
fn files_keep_their_promises() -> Result<(), Error> {
    let dir = demo(2_000, 8, 42, &[])?;
    let root = dir.path();

    // groups.json names every tag file, with a kind and category.
    let groups: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("groups.json"))?)?;
    let groups = groups.as_array().ok_or("groups.json is not a list")?;
    let mut kinds = HashMap::new();
    for g in groups {
        let name = g["group"].as_str().ok_or("group without a name")?;
        let kind = g["kind"].as_str().ok_or("group without a kind")?;
        assert!(["categorical", "boolean", "numeric"].contains(&kind), "{name}: kind {kind}");
        assert!(g["category"].as_str().is_some_and(|c| !c.is_empty()), "{name}: no category");
        assert!(g["multi"].is_boolean(), "{name}: no multi");
        kinds.insert(name.to_owned(), kind.to_owned());
    }
    assert_eq!(kinds["interests"], "categorical");
    assert_eq!(kinds["active_7d"], "boolean");
    assert_eq!(kinds["spend_30d"], "numeric");

    let ds = days(root)?;
    assert_eq!(ds, (13..=20).map(|d| format!("2026-11-{d}")).collect::<Vec<_>>());

    let weekly =
        ["gender", "age_band", "age", "province", "city", "device_brand", "os", "channel", "member_level", "interests"];
    let mut visits_by_day: Vec<BTreeSet<String>> = Vec::new();
    let mut city_province: HashMap<String, String> = HashMap::new();
    let mut registered_before: Option<BTreeSet<String>> = None;
    for (n, day) in ds.iter().enumerate() {
        // Which files exist: demographics on day 0 and day 7 only.
        let tag_files: BTreeSet<String> = std::fs::read_dir(root.join(day).join("tags"))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().trim_end_matches(".csv").to_owned())
            .collect();
        for name in &tag_files {
            assert!(kinds.contains_key(name), "{day}: {name}.csv is not in groups.json");
        }
        for g in weekly {
            assert_eq!(tag_files.contains(g), n % 7 == 0, "{day}: {g}.csv present? ");
        }

        let a: Vec<BTreeSet<String>> = ["active_1d", "active_7d", "active_30d", "active_180d"]
            .iter()
            .map(|g| boolean(root, day, g))
            .collect::<Result<_, _>>()?;
        let p: Vec<BTreeSet<String>> =
            ["paid_1d", "paid_7d", "paid_30d"].iter().map(|g| boolean(root, day, g)).collect::<Result<_, _>>()?;
        for w in a.windows(2) {
            assert!(w[0].is_subset(&w[1]), "{day}: active windows do not nest");
        }
        for w in p.windows(2) {
            assert!(w[0].is_subset(&w[1]), "{day}: paid windows do not nest");
        }
        for (pk, ak) in p.iter().zip(&a) {
            assert!(pk.is_subset(ak), "{day}: a payer was not active in the same window");
        }

        let visit = event(root, day, "visit")?;
        let purchase = event(root, day, "purchase")?;
        let cart = event(root, day, "add_to_cart")?;
        let share = event(root, day, "share")?;
        assert_eq!(a[0], visit, "{day}: active_1d is exactly the visitors");
        assert_eq!(p[0], purchase, "{day}: paid_1d is exactly the buyers");
        assert!(purchase.is_subset(&visit), "{day}: a purchase without a visit");
        assert!(cart.is_subset(&visit) && share.is_subset(&visit), "{day}: an action without a visit");
        assert!(!visit.is_empty() && !purchase.is_empty(), "{day}: no activity at all");

        // active_7d covers every visitor of the last 7 written days.
        visits_by_day.push(visit);
        for earlier in visits_by_day.iter().rev().take(7) {
            assert!(earlier.is_subset(&a[1]), "{day}: a visitor of the last 7 days is not active_7d");
        }
        for earlier in &visits_by_day {
            assert!(earlier.is_subset(&a[2]), "{day}: a visitor of the last 30 days is not active_30d");
        }

        // spend_30d: money format; written for exactly the active_30d users; > 0 exactly for payers.
        let spend = single(root, day, "spend_30d")?;
        for (u, v) in &spend {
            assert!(is_money(v), "{day}: spend_30d {v:?} for {u}");
        }
        assert_eq!(spend.keys().cloned().collect::<BTreeSet<_>>(), a[2], "{day}: spend_30d users");
        let positive: BTreeSet<String> = spend.iter().filter(|(_, v)| *v != "0.00").map(|(u, _)| u.clone()).collect();
        assert_eq!(positive, p[2], "{day}: spend_30d > 0 exactly for paid_30d");

        if n % 7 != 0 {
            continue;
        }
        // Demographics.
        let province = single(root, day, "province")?;
        let city = single(root, day, "city")?;
        assert_eq!(province.len(), city.len(), "{day}: everyone with a province has a city");
        for (u, c) in &city {
            let pr = province.get(u).ok_or_else(|| format!("{day}: {u} has a city but no province"))?;
            let known = city_province.entry(c.clone()).or_insert_with(|| pr.clone());
            assert_eq!(known, pr, "{day}: city {c} appears in two provinces");
        }
        let registered: BTreeSet<String> = province.keys().cloned().collect();
        for set in a.iter().chain(&p) {
            assert!(set.is_subset(&registered), "{day}: an active user is not registered");
        }
        if let Some(before) = &registered_before {
            assert!(before.is_subset(&registered), "{day}: users disappeared");
            assert!(registered.len() > before.len(), "{day}: the population did not grow");
        }
        registered_before = Some(registered.clone());

        let gender = single(root, day, "gender")?;
        assert!(gender.values().all(|g| g == "female" || g == "male"), "{day}: gender values");
        let age = single(root, day, "age")?;
        let band = single(root, day, "age_band")?;
        assert_eq!(age.len(), band.len(), "{day}: age and age_band cover the same users");
        for (u, v) in &age {
            let years: u32 = v.parse().map_err(|_| format!("{day}: age {v:?} for {u}"))?;
            assert!((13..=80).contains(&years), "{day}: age {years}");
            let want = match years {
                0..=17 => "under_18",
                18..=24 => "18-24",
                25..=29 => "25-29",
                30..=34 => "30-34",
                35..=39 => "35-39",
                40..=49 => "40-49",
                50..=59 => "50-59",
                _ => "60+",
            };
            assert_eq!(band.get(u).map(String::as_str), Some(want), "{day}: {u} aged {years}");
        }
        let brand = single(root, day, "device_brand")?;
        let os = single(root, day, "os")?;
        for (u, b) in &brand {
            let o = os.get(u).map(String::as_str);
            match b.as_str() {
                "Apple" => assert_eq!(o, Some("iOS"), "{day}: {u}"),
                "Huawei" => assert!(matches!(o, Some("HarmonyOS" | "Android")), "{day}: {u}"),
                _ => assert_eq!(o, Some("Android"), "{day}: {u} has {b}"),
            }
        }
        let level = single(root, day, "member_level")?;
        assert!(level.values().all(|l| ["regular", "silver", "gold", "platinum", "diamond"].contains(&l.as_str())));
        assert_eq!(single(root, day, "channel")?.len(), registered.len());
        let interests = day_file(root, day, "tags", "interests")?;
        let pairs: HashSet<&(String, String)> = interests.iter().collect();
        assert_eq!(pairs.len(), interests.len(), "{day}: a repeated (user, interest) row");
        assert!(users(&interests).len() < interests.len(), "{day}: interests are multi-valued");
    }

    // Cities are real and in their provinces (a few well-known ones, where drawn).
    for (c, p) in [
        ("Shenzhen", "Guangdong"),
        ("Guangzhou", "Guangdong"),
        ("Hangzhou", "Zhejiang"),
        ("Chengdu", "Sichuan"),
        ("Shanghai", "Shanghai"),
        ("Beijing", "Beijing"),
    ] {
        if let Some(found) = city_province.get(c) {
            assert_eq!(found, p, "{c}");
        }
    }
    assert!(city_province.len() > 50, "only {} cities drawn", city_province.len());
    assert_eq!(city_province.get("Shenzhen").map(String::as_str), Some("Guangdong"));
    Ok(())
}
