//! Damage to the metadata store, on the real binary (issue 12): bytes flipped inside
//! `meta.redb`, the file truncated to 0, a reverse-dictionary entry changed into another real
//! user, a day pointer's hex digit changed, a missing blob file; then `sieve check`, and
//! `sieve backup` while the server serves and receives uploads, `sieve restore`, and a server
//! on the restored directory answering exactly as the original did.
//!
//! Records are edited the way an attacker with the file would: by bytes in the file, or with
//! redb opened from the test (valid pages, wrong values: only our own checksums can tell).
//! The edits understand both record formats (bare values before issue 12, sealed values
//! after), so these tests also show the old binary failing them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sieve_tests::{Error, Http, Reply, Server, TestServer, sieve};

const ADMIN: &str = "integrity-admin";
const DAY: &str = "2026-11-20";
const USERS: u32 = 200;

fn code(r: &Reply) -> String {
    r.json().ok().and_then(|v| v["error"].as_str().map(str::to_owned)).unwrap_or_default()
}

/// App `a` with tag `g` (value `v{i % 4}` for user `u{i}`) and `h` on DAY, and a dynamic
/// segment `s` = `g in [v1]` (u1, u5, … u197: 50 users).
fn populated() -> Result<(TestServer, String), Error> {
    // The days are fixed dates after DAY (the backup test uploads up to 60 of them), so the
    // horizon (today + 1 by default) would refuse them once the calendar passes DAY.
    let t = TestServer::start(ADMIN, &["--max-future-days", "36500"])?;
    let token = t.app_with_token("a", "editor")?;
    put_tags(&t.http, &t.server.url(""), &token, DAY, "g", 0)?;
    put_tags(&t.http, &t.server.url(""), &token, DAY, "h", 1)?;
    let seg = json!({"id": "s", "name": "S", "kind": "dynamic", "rule": {"tag": "g", "in": ["v1"]}});
    t.ok("POST", "/api/v1/apps/a/segments", &token, Some(seg.to_string().as_bytes()))?;
    Ok((t, token))
}

/// Uploads group `group` on `ds`: user `u{i}` (of USERS) gets `v{(i + shift) % 4}`.
fn put_tags(http: &Http, base: &str, token: &str, ds: &str, group: &str, shift: u32) -> Result<(), Error> {
    put_tags_of(http, base, token, ds, group, shift, USERS)
}

/// [`put_tags`] for `users` users.
fn put_tags_of(
    http: &Http,
    base: &str,
    token: &str,
    ds: &str,
    group: &str,
    shift: u32,
    users: u32,
) -> Result<(), Error> {
    let mut csv = String::from("user_id,value\n");
    for i in 0..users {
        csv.push_str(&format!("u{i},v{}\n", (i + shift) % 4));
    }
    let auth = format!("Bearer {token}");
    let url = format!("{base}/api/v1/apps/a/days/{ds}/tags/{group}");
    let r = http.send("PUT", &url, &[("authorization", auth.as_str())], Some(csv.as_bytes()))?;
    if r.status != 200 {
        return Err(format!("PUT {url}: {} {}", r.status, r.body).into());
    }
    Ok(())
}

/// What readers see of app `a` on `ds`: the manifest, an estimate, the segment's export, a
/// user's tags. Equal maps = the same data served the same way.
fn answers(t: &Server, http: &Http, token: &str, ds: &str) -> Result<BTreeMap<String, String>, Error> {
    let auth = format!("Bearer {token}");
    let get = |path: String| -> Result<String, Error> {
        let r = http.send("GET", &t.url(&path), &[("authorization", auth.as_str())], None)?;
        if r.status != 200 {
            return Err(format!("GET {path}: {} {}", r.status, r.body).into());
        }
        Ok(r.body)
    };
    let mut out = BTreeMap::new();
    out.insert("manifest".into(), get(format!("/api/v1/apps/a/days/{ds}/manifest"))?);
    out.insert("export".into(), get(format!("/api/v1/apps/a/segments/s/members?ds={ds}"))?);
    out.insert("u17".into(), get(format!("/api/v1/apps/a/users/u17/tags?ds={ds}"))?);
    let rule = json!({"ds": ds, "rule": {"all": [{"tag": "g", "in": ["v1"]}, {"not": {"tag": "h", "in": ["v3"]}}]}});
    let r = http.send(
        "POST",
        &t.url("/api/v1/apps/a/estimate"),
        &[("authorization", auth.as_str())],
        Some(rule.to_string().as_bytes()),
    )?;
    if r.status != 200 {
        return Err(format!("estimate on {ds}: {} {}", r.status, r.body).into());
    }
    out.insert("estimate".into(), r.json()?["count"].to_string());
    Ok(out)
}

/// Starts a server on `data`; `Err` holds its stderr when it refused to start.
fn start_on(dist: &Path, data: &Path, extra: &[&str]) -> Result<Server, String> {
    let mut args = vec!["--admin-token", ADMIN];
    args.extend_from_slice(extra);
    Server::start(dist, data, &args).map_err(|e| e.to_string())
}

/// Asserts a refusal: a clear message naming the file and what to do, and no panic.
fn assert_refused(refusal: &str, names: &[&str]) {
    assert!(!refusal.contains("panicked"), "no panic:\n{refusal}");
    assert!(refusal.contains("meta.redb"), "names the file:\n{refusal}");
    assert!(refusal.contains("sieve restore") && refusal.contains("sieve check"), "says what to do:\n{refusal}");
    for n in names {
        assert!(refusal.contains(n), "mentions {n}:\n{refusal}");
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

fn meta_file(data: &Path) -> PathBuf {
    data.join("meta.redb")
}

/// Table names and the bytes of a record's value that hold data (after the 8-byte checksum
/// of the sealed format; all of it in the old one).
struct Format {
    dict_rev: &'static str,
    days: &'static str,
    sum: usize,
}

fn format_of(db: &redb::Database) -> Result<Format, Error> {
    use redb::{ReadableDatabase as _, TableHandle as _};
    let sealed = db.begin_read()?.list_tables()?.any(|t| t.name() == "dict_rev.2");
    Ok(if sealed {
        Format { dict_rev: "dict_rev.2", days: "days.2", sum: 8 }
    } else {
        Format { dict_rev: "dict_rev", days: "days", sum: 0 }
    })
}

/// Opens the stopped server's metadata with redb, as an attacker holding the file could.
fn open_redb(data: &Path) -> Result<redb::Database, Error> {
    Ok(redb::Database::open(meta_file(data))?)
}

/// Changes the reverse-dictionary entry of `from` (an external id) into `to`, another real
/// user of the same length, without touching any checksum of ours (redb's pages stay valid).
fn change_reverse_entry(data: &Path, from: &str, to: &str) -> Result<(), Error> {
    use redb::{ReadableTable as _, TableDefinition};
    let db = open_redb(data)?;
    let f = format_of(&db)?;
    let txn = db.begin_write()?;
    if f.sum > 0 {
        let mut t = txn.open_table(TableDefinition::<(&str, u32), &[u8]>::new(f.dict_rev))?;
        let mut found = None;
        for row in t.iter()? {
            let (k, v) = row?;
            if &v.value()[f.sum..] == from.as_bytes() {
                found = Some((k.value().1, v.value().to_vec()));
            }
        }
        let (id, mut value) = found.ok_or("the user is in the dictionary")?;
        value.truncate(f.sum);
        value.extend_from_slice(to.as_bytes());
        t.insert(("a", id), value.as_slice())?;
    } else {
        let mut t = txn.open_table(TableDefinition::<(&str, u32), &str>::new(f.dict_rev))?;
        let mut found = None;
        for row in t.iter()? {
            let (k, v) = row?;
            if v.value() == from {
                found = Some(k.value().1);
            }
        }
        t.insert(("a", found.ok_or("the user is in the dictionary")?), to)?;
    }
    txn.commit()?;
    Ok(())
}

/// Changes one hex digit of day `ds`'s manifest address (still a valid-looking address).
fn change_day_pointer_digit(data: &Path, ds: &str) -> Result<(), Error> {
    use redb::{ReadableTable as _, TableDefinition};
    let db = open_redb(data)?;
    let f = format_of(&db)?;
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(TableDefinition::<(&str, &str), &[u8]>::new(f.days))?;
        let mut value = t.get(("a", ds))?.ok_or("the day exists")?.value().to_vec();
        let text = String::from_utf8_lossy(&value[f.sum..]).into_owned();
        let at = f.sum + text.find("\"manifest\":\"").ok_or("a manifest field")? + "\"manifest\":\"".len();
        value[at] = if value[at] == b'0' { b'1' } else { b'0' };
        t.insert(("a", ds), value.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// Positions of `needle` in `hay`.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

#[test]
fn flipped_bytes_inside_meta_redb_refuse_start_without_a_panic() -> Result<(), Error> {
    let (mut t, token) = populated()?;
    let before = answers(&t.server, &t.http, &token, DAY)?;
    t.server.terminate(Duration::from_secs(10))?;
    let original = std::fs::read(meta_file(&t.data_dir()))?;
    // Where the records live (a user id, the day, a token's app, the segment's rule), the
    // file's header, and a spread of offsets through the whole file.
    let mut offsets: Vec<usize> = ["u17", DAY, "\"v1\"", "\"editor\""]
        .iter()
        .flat_map(|needle| {
            let at = find_all(&original, needle.as_bytes());
            [at.first().copied(), at.last().copied()]
        })
        .flatten()
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    offsets.push(0);
    offsets.extend((1..8).map(|k| original.len() * k / 8));
    let (mut refused, mut served) = (0, 0);
    for (trial, &at) in offsets.iter().enumerate() {
        let data = t.data_dir().with_file_name(format!("flip-{trial}"));
        copy_dir(&t.data_dir(), &data)?;
        let mut bytes = original.clone();
        let start = at.saturating_sub(32).min(bytes.len().saturating_sub(64));
        for b in &mut bytes[start..start + 64] {
            *b ^= 0xff;
        }
        std::fs::write(meta_file(&data), &bytes)?;
        match start_on(&t.dist_dir(), &data, &[]) {
            Err(refusal) => {
                assert_refused(&refusal, &[]);
                refused += 1;
            }
            // Bytes in space redb does not use: then every answer must be the same as before.
            Ok(server) => {
                let after = answers(&server, &t.http, &token, DAY)?;
                assert_eq!(after, before, "offset {at}: a server that starts serves the data as it was");
                served += 1;
            }
        }
    }
    eprintln!("64 flipped bytes: {refused} refused with a clear message, {served} in unused space served unchanged");
    assert!(refused >= 5, "flips where the records are are refused ({refused} of {})", offsets.len());
    Ok(())
}

#[test]
fn damage_to_the_last_commit_after_a_crash_rolls_back_but_is_reported() -> Result<(), Error> {
    let (mut t, token) = populated()?;
    let before = answers(&t.server, &t.http, &token, DAY)?;
    t.server.terminate(Duration::from_secs(10))?;
    // One last commit holding unique bytes (an app's name), then a crash: SIGKILL on drop.
    let server = start_on(&t.dist_dir(), &t.data_dir(), &[])?;
    let auth = format!("Bearer {ADMIN}");
    let app = json!({"id": "late", "name": "THE LAST COMMIT BEFORE THE CRASH"}).to_string();
    let r =
        t.http.send("POST", &server.url("/api/v1/apps"), &[("authorization", auth.as_str())], Some(app.as_bytes()))?;
    assert_eq!(r.status, 201, "{}", r.body);
    drop(server);
    let path = meta_file(&t.data_dir());
    let mut bytes = std::fs::read(&path)?;
    let at = find_all(&bytes, b"THE LAST COMMIT BEFORE THE CRASH");
    assert!(!at.is_empty());
    for i in at {
        bytes[i] ^= 0xff;
    }
    std::fs::write(&path, bytes)?;
    // redb falls back to the commit before (it cannot tell this from a commit the crash cut):
    // the server starts, serves that state, and says so.
    let server = start_on(&t.dist_dir(), &t.data_dir(), &[])?;
    assert_eq!(answers(&server, &t.http, &token, DAY)?, before);
    let r = t.http.send("GET", &server.url("/api/v1/apps"), &[("authorization", auth.as_str())], None)?;
    assert!(!r.body.contains("late"), "the damaged commit is gone: {}", r.body);
    let health = t.http.get(&server.url("/api/v1/health"))?.json()?;
    assert_eq!(
        (health["status"].as_str(), health["storage"]["rolled_back_at_start"].as_bool()),
        (Some("degraded"), Some(true)),
        "{health}"
    );
    assert!(server.stderr().contains("rolled back to the one before"), "logged:\n{}", server.stderr());
    Ok(())
}

#[test]
fn an_empty_or_missing_meta_redb_is_refused_while_blobs_exist() -> Result<(), Error> {
    let (mut t, _token) = populated()?;
    t.server.terminate(Duration::from_secs(10))?;
    let saved = std::fs::read(meta_file(&t.data_dir()))?;

    // `truncate -s 0 meta.redb`.
    std::fs::File::options().write(true).open(meta_file(&t.data_dir()))?.set_len(0)?;
    let refusal = start_on(&t.dist_dir(), &t.data_dir(), &[]).err().ok_or("started on an empty store")?;
    assert_refused(&refusal, &["is empty", "blob file(s)", "the metadata was lost"]);
    assert_eq!(std::fs::metadata(meta_file(&t.data_dir()))?.len(), 0, "nothing was written to it");

    // Deleted.
    std::fs::remove_file(meta_file(&t.data_dir()))?;
    let refusal = start_on(&t.dist_dir(), &t.data_dir(), &[]).err().ok_or("started without a store")?;
    assert_refused(&refusal, &["is missing"]);
    assert!(!meta_file(&t.data_dir()).exists(), "not created");

    // Replaced by a valid but empty store (a fresh server's).
    let fresh = TestServer::start(ADMIN, &[])?;
    let mut fresh = fresh;
    fresh.server.terminate(Duration::from_secs(10))?;
    std::fs::copy(meta_file(&fresh.data_dir()), meta_file(&t.data_dir()))?;
    let refusal = start_on(&t.dist_dir(), &t.data_dir(), &[]).err().ok_or("started on an empty database")?;
    assert_refused(&refusal, &["an empty database"]);

    // The real file back: it starts.
    std::fs::write(meta_file(&t.data_dir()), saved)?;
    t.restart()?;
    Ok(())
}

#[test]
fn a_reverse_entry_changed_into_another_real_user_is_never_exported() -> Result<(), Error> {
    let (mut t, token) = populated()?;
    let r = t.call("GET", "/api/v1/apps/a/segments/s/members", &token, None)?;
    assert!(r.body.lines().any(|l| l == "u17") && !r.body.lines().any(|l| l == "u18"), "{}", r.body);
    t.server.terminate(Duration::from_secs(10))?;
    // u17 (a member) now reads as u18, a real user who is not one.
    change_reverse_entry(&t.data_dir(), "u17", "u18")?;

    let refusal = start_on(&t.dist_dir(), &t.data_dir(), &[]).err().ok_or("started on a damaged dictionary")?;
    assert_refused(&refusal, &["damaged record", "dict_rev record `a/"]);

    // Told to serve anyway: the damaged entry is a 503 naming it, never another user.
    let server = start_on(&t.dist_dir(), &t.data_dir(), &["--serve-damaged"])?;
    let auth = format!("Bearer {token}");
    let h = [("authorization", auth.as_str())];
    let r = t.http.send("GET", &server.url("/api/v1/apps/a/segments/s/members"), &h, None)?;
    assert_eq!((r.status, code(&r).as_str()), (503, "data_corrupt"), "{}", r.body);
    assert!(r.body.contains("dict_rev record `a/"), "names the record: {}", r.body);
    assert!(!r.body.contains("u18"), "{}", r.body);
    let health = t.http.get(&server.url("/api/v1/health"))?.json()?;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["storage"]["damaged_records"], json!(["dict_rev"]), "{health}");
    assert_eq!(health["storage"]["damaged_record_count"], 1, "{health}");
    // Everything else is served: estimates, another user's tags.
    let rule = json!({"rule": {"tag": "g", "in": ["v1"]}}).to_string();
    let e = t.http.send("POST", &server.url("/api/v1/apps/a/estimate"), &h, Some(rule.as_bytes()))?;
    assert_eq!((e.status, e.json()?["count"].clone()), (200, json!(50)), "{}", e.body);
    let u = t.http.send("GET", &server.url("/api/v1/apps/a/users/u5/tags"), &h, None)?;
    assert_eq!(u.status, 200, "{}", u.body);
    Ok(())
}

#[test]
fn a_damaged_entry_deep_in_a_long_export_breaks_the_download_instead_of_shortening_it() -> Result<(), Error> {
    let mut t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("a", "editor")?;
    // 12,000 members: about 90 KB of CSV, more than the first 64 KiB chunk.
    put_tags_of(&t.http, &t.server.url(""), &token, DAY, "g", 0, 12_000)?;
    let all = json!({"id": "s", "name": "S", "kind": "dynamic", "rule": {"tag": "g", "in": ["v0", "v1", "v2", "v3"]}});
    t.ok("POST", "/api/v1/apps/a/segments", &token, Some(all.to_string().as_bytes()))?;
    let whole = t.call("GET", "/api/v1/apps/a/segments/s/members", &token, None)?;
    assert_eq!((whole.status, whole.body.lines().count()), (200, 12_001), "header and every member");
    t.server.terminate(Duration::from_secs(10))?;
    change_reverse_entry(&t.data_dir(), "u11000", "u11001")?;
    let server = start_on(&t.dist_dir(), &t.data_dir(), &["--serve-damaged"])?;
    let auth = format!("Bearer {token}");
    let got =
        t.http.send("GET", &server.url("/api/v1/apps/a/segments/s/members"), &[("authorization", auth.as_str())], None);
    // The answer had started (200) when the damaged entry came: the download must fail, not end short.
    match got {
        Err(_) => {}
        Ok(r) => panic!("a {} answer of {} lines instead of a broken download", r.status, r.body.lines().count()),
    }
    let health = t.http.get(&server.url("/api/v1/health"))?.json()?;
    assert_eq!(health["storage"]["damaged_records"], json!(["dict_rev"]), "{health}");
    Ok(())
}

#[test]
fn a_byte_of_a_reverse_entry_changed_in_the_file_is_refused() -> Result<(), Error> {
    let (mut t, _token) = populated()?;
    t.server.terminate(Duration::from_secs(10))?;
    let path = meta_file(&t.data_dir());
    let mut bytes = std::fs::read(&path)?;
    // Every copy of "u17" in the file (key of the forward entry, value of the reverse one).
    let at = find_all(&bytes, b"u17");
    assert!(!at.is_empty());
    for i in at {
        bytes[i + 2] = b'8';
    }
    std::fs::write(&path, bytes)?;
    let refusal = start_on(&t.dist_dir(), &t.data_dir(), &[]).err().ok_or("started on a damaged page")?;
    assert_refused(&refusal, &["damaged"]);
    Ok(())
}

#[test]
fn a_day_pointer_with_a_changed_hex_digit_is_a_503_not_a_404_or_500() -> Result<(), Error> {
    let (mut t, token) = populated()?;
    t.server.terminate(Duration::from_secs(10))?;
    change_day_pointer_digit(&t.data_dir(), DAY)?;

    let refusal = start_on(&t.dist_dir(), &t.data_dir(), &[]).err().ok_or("started on a damaged day pointer")?;
    assert_refused(&refusal, &[&format!("days record `a/{DAY}`")]);

    let server = start_on(&t.dist_dir(), &t.data_dir(), &["--serve-damaged"])?;
    let auth = format!("Bearer {token}");
    let h = [("authorization", auth.as_str())];
    let rule = json!({"ds": DAY, "rule": {"tag": "g", "in": ["v1"]}}).to_string();
    for (method, path, body) in [
        ("GET", "/api/v1/apps/a/days".to_owned(), None),
        ("GET", format!("/api/v1/apps/a/days/{DAY}/manifest"), None),
        ("POST", "/api/v1/apps/a/estimate".to_owned(), Some(rule.as_bytes())),
    ] {
        let r = t.http.send(method, &server.url(&path), &h, body)?;
        assert_eq!((r.status, code(&r).as_str()), (503, "data_corrupt"), "{method} {path}: {}", r.body);
        assert!(r.body.contains(&format!("days record `a/{DAY}`")), "{}", r.body);
    }
    let health = t.http.get(&server.url("/api/v1/health"))?.json()?;
    assert_eq!(
        (health["status"].as_str(), health["storage"]["damaged_records"].clone()),
        (Some("degraded"), json!(["days"]))
    );
    Ok(())
}

#[test]
fn a_missing_blob_is_a_503_naming_it_and_health_is_degraded() -> Result<(), Error> {
    let (mut t, token) = populated()?;
    let m = t.ok("GET", &format!("/api/v1/apps/a/days/{DAY}/manifest"), &token, None)?;
    let g = m["groups"].as_array().ok_or("groups")?.iter().find(|g| g["name"] == "g").ok_or("g")?;
    let v2 = g["values"].as_array().ok_or("values")?.iter().find(|v| v["value"] == "v2").ok_or("v2")?;
    let hash = v2["full"]["blob"].as_str().ok_or("blob")?.to_owned();
    // Restarted first, so nothing of it is cached.
    t.restart()?;
    std::fs::remove_file(t.data_dir().join("blobs").join(&hash[..2]).join(&hash[2..4]).join(&hash))?;
    let rule = json!({"rule": {"tag": "g", "in": ["v2"]}}).to_string();
    let r = t.call("POST", "/api/v1/apps/a/estimate", &token, Some(rule.as_bytes()))?;
    assert_eq!((r.status, code(&r).as_str()), (503, "data_corrupt"), "{}", r.body);
    assert!(r.body.contains(&hash), "names the blob: {}", r.body);
    let b = t.call("GET", &format!("/api/v1/apps/a/blobs/{hash}"), &token, None)?;
    assert_eq!((b.status, code(&b).as_str()), (503, "data_corrupt"), "{}", b.body);
    let health = t.http.get(&t.server.url("/api/v1/health"))?.json()?;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["storage"]["corrupt_blobs"], json!([hash]), "{health}");
    // Other values are served.
    let rule = json!({"rule": {"tag": "g", "in": ["v1"]}}).to_string();
    assert_eq!(t.ok("POST", "/api/v1/apps/a/estimate", &token, Some(rule.as_bytes()))?["count"], 50);
    // Writing it again (the same upload) heals it.
    put_tags(&t.http, &t.server.url(""), &token, DAY, "g", 0)?;
    let rule = json!({"rule": {"tag": "g", "in": ["v2"]}}).to_string();
    assert_eq!(t.ok("POST", "/api/v1/apps/a/estimate", &token, Some(rule.as_bytes()))?["count"], 50);
    assert_eq!(t.http.get(&t.server.url("/api/v1/health"))?.json()?["status"], "ok");
    Ok(())
}

fn run(args: &[&str]) -> Result<Output, Error> {
    Ok(sieve().args(args).output()?)
}

/// `sieve restore --from FROM --data-dir INTO [--force]`.
fn restore(from: &Path, into: &Path, force: bool) -> Result<Output, Error> {
    let mut args = vec!["restore", "--from", from.to_str().ok_or("path")?, "--data-dir", into.to_str().ok_or("path")?];
    if force {
        args.push("--force");
    }
    run(&args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn sieve_check_passes_a_healthy_dir_and_lists_every_problem_of_a_damaged_one() -> Result<(), Error> {
    let (mut t, token) = populated()?;
    // A static segment and an experiment: their member bitmaps are named by their records.
    let vip = json!({"id": "vip", "name": "VIP", "kind": "static"}).to_string();
    t.ok("POST", "/api/v1/apps/a/segments", &token, Some(vip.as_bytes()))?;
    t.ok("PUT", "/api/v1/apps/a/segments/vip/members", &token, Some(b"user_id\nu3\nu4\nu7\n"))?;
    let vip_blob = t.ok("GET", "/api/v1/apps/a/segments/vip", &token, None)?["members"]["blob"]
        .as_str()
        .ok_or("the static segment's members blob")?
        .to_owned();
    let e = json!({"id": "e", "segment": "s", "ds": DAY, "salt": "x",
        "groups": [{"name": "control", "percent": 50}, {"name": "treatment", "percent": 50}]});
    let e = t.ok("POST", "/api/v1/apps/a/experiments", &token, Some(e.to_string().as_bytes()))?;
    let group_blob = e["groups"][1]["blob"].as_str().ok_or("a group's blob")?.to_owned();
    let m = t.ok("GET", &format!("/api/v1/apps/a/days/{DAY}/manifest"), &token, None)?;
    let dir = t.data_dir();
    let d = dir.to_str().ok_or("utf-8 path")?;
    // Refused while the server runs on it (the store is in use).
    let o = run(&["check", "--data-dir", d])?;
    assert!(!o.status.success() && text(&o).contains("in use by a running server"), "{}", text(&o));
    t.server.terminate(Duration::from_secs(10))?;

    let o = run(&["check", "--data-dir", d])?;
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("healthy: 1 app(s), 1 day(s), 200 user(s)"), "{out}");

    // Damage: a blob flipped, another deleted, a reverse entry changed, a day pointer changed.
    let blob = |group: &str, value: &str| -> Result<String, Error> {
        let g = m["groups"].as_array().ok_or("groups")?.iter().find(|g| g["name"] == group).ok_or("group")?;
        let v = g["values"].as_array().ok_or("values")?.iter().find(|v| v["value"] == value).ok_or("value")?;
        Ok(v["full"]["blob"].as_str().ok_or("blob")?.to_owned())
    };
    let path = |h: &str| dir.join("blobs").join(&h[..2]).join(&h[2..4]).join(h);
    // (h's v1 holds the same users as g's v0, so the same blob: take g's v2.)
    let (flipped, deleted) = (blob("g", "v0")?, blob("g", "v2")?);
    let mut bytes = std::fs::read(path(&flipped))?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(path(&flipped), bytes)?;
    std::fs::remove_file(path(&deleted))?;
    change_reverse_entry(&dir, "u17", "u18")?;
    let o = run(&["check", "--data", d])?;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().any(|l| l.contains(&flipped) && l.contains("damaged (its bytes do not hash")), "{out}");
    assert!(lines.iter().any(|l| l.contains(&format!("blob {flipped} is damaged"))), "the reference too: {out}");
    assert!(lines.iter().any(|l| l.contains(&format!("blob {deleted} is missing"))), "{out}");
    assert!(lines.iter().any(|l| l.contains("dict_rev record `a/") && l.contains("failed its checksum")), "{out}");
    assert!(
        lines.last().is_some_and(|l| l.contains("DAMAGED, 4 problem(s)")),
        "one line per problem, then a summary: {out}"
    );

    change_day_pointer_digit(&dir, DAY)?;
    std::fs::remove_file(path(&vip_blob))?;
    std::fs::remove_file(path(&group_blob))?;
    let out = text(&run(&["check", "--data", d])?);
    assert!(out.contains(&format!("days record `a/{DAY}` failed its checksum")), "{out}");
    assert!(out.contains(&format!("segment `vip`: bitmap {vip_blob} is missing")), "{out}");
    assert!(out.contains(&format!("experiment `e`: bitmap {group_blob} is missing")), "{out}");

    // An empty store while blobs exist.
    std::fs::File::options().write(true).open(meta_file(&dir))?.set_len(0)?;
    let o = run(&["check", "--data", d])?;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("meta.redb: empty (0 bytes), but blobs/ holds") && text(&o).contains("the metadata was lost"),
        "{}",
        text(&o)
    );
    Ok(())
}

/// The `n`-th day after DAY.
fn day_after(n: i32) -> Result<String, Error> {
    Ok(DAY.parse::<engine::ds::Ds>().map_err(|e| format!("{e:?}"))?.add_days(n).to_string())
}

#[test]
fn backup_while_serving_and_uploading_then_restore_answers_the_same() -> Result<(), Error> {
    let (t, token) = populated()?;
    let base = t.server.url("");
    // An uploader publishes a new day after another while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let uploaded = Arc::new(AtomicU32::new(0));
    let uploader = {
        let (stop, uploaded, token, base) = (stop.clone(), uploaded.clone(), token.clone(), base.clone());
        std::thread::spawn(move || -> Result<(), String> {
            let http = Http::default();
            for n in 1..=60 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ds = day_after(n).map_err(|e| e.to_string())?;
                put_tags(&http, &base, &token, &ds, "g", n as u32).map_err(|e| e.to_string())?;
                uploaded.store(n as u32, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let started = Instant::now();
    while uploaded.load(Ordering::Relaxed) < 2 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = uploaded.load(Ordering::Relaxed);
    let dest = t.data_dir().with_file_name("backup");
    let o = run(&["backup", "--data-dir", t.data_dir().to_str().ok_or("path")?, "--to", dest.to_str().ok_or("path")?])?;
    assert!(o.status.success(), "backup: {}", text(&o));
    assert!(text(&o).contains("check: healthy"), "{}", text(&o));
    let during = uploaded.load(Ordering::Relaxed);
    // A few more after it, then stop.
    while uploaded.load(Ordering::Relaxed) < during + 2 && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    uploader.join().map_err(|_| "uploader panicked")??;
    assert!(uploaded.load(Ordering::Relaxed) > during, "uploads went on after the backup");

    // A backup is refused over a non-empty destination.
    let o = run(&["backup", "--data", t.data_dir().to_str().ok_or("path")?, "--to", dest.to_str().ok_or("path")?])?;
    assert!(!o.status.success() && text(&o).contains("is not empty"), "{}", text(&o));
    let o = run(&["check", "--data", dest.to_str().ok_or("path")?])?;
    assert!(o.status.success(), "the backup checks healthy: {}", text(&o));

    // Restore into a fresh directory and serve it.
    let restored = t.data_dir().with_file_name("restored");
    let o = restore(&dest, &restored, false)?;
    assert!(o.status.success(), "restore: {}", text(&o));
    let server = start_on(&t.dist_dir(), &restored, &[])?;
    let auth = format!("Bearer {token}");
    let h = [("authorization", auth.as_str())];
    let days_of = |s: &Server| -> Result<Vec<String>, Error> {
        let v = t.http.send("GET", &s.url("/api/v1/apps/a/days"), &h, None)?.json()?;
        Ok(v["days"].as_array().ok_or("days")?.iter().filter_map(|d| d["ds"].as_str().map(str::to_owned)).collect())
    };
    let (original, copy) = (days_of(&t.server)?, days_of(&server)?);
    // One committed state: a prefix of the original's days (each upload adds the next day),
    // with at least what was acknowledged before the backup began.
    assert!(original.starts_with(&copy), "restored {copy:?}, original {original:?}");
    assert!(copy.len() > before as usize, "{} days restored, {before} uploads acknowledged before", copy.len());
    assert!(copy.len() < original.len(), "later uploads are not in it");
    for ds in &copy {
        assert_eq!(answers(&server, &t.http, &token, ds)?, answers(&t.server, &t.http, &token, ds)?, "day {ds}");
    }
    eprintln!(
        "backup taken with {before}..{during} uploads acknowledged; {} days restored of {}",
        copy.len(),
        original.len()
    );

    // Restore refuses a non-empty directory, and one a server runs on even with --force.
    let o = restore(&dest, &restored, false)?;
    assert!(!o.status.success() && text(&o).contains("is not empty"), "{}", text(&o));
    let o = restore(&dest, &restored, true)?;
    assert!(!o.status.success() && text(&o).contains("a server is running"), "{}", text(&o));
    drop(server);
    // With --force and no server, the old directory is moved aside, not deleted.
    let o = restore(&dest, &restored, true)?;
    assert!(o.status.success() && text(&o).contains("moved to"), "{}", text(&o));
    // A damaged backup is not restored.
    change_reverse_entry(&dest, "u17", "u18")?;
    let elsewhere = t.data_dir().with_file_name("elsewhere");
    let o = restore(&dest, &elsewhere, false)?;
    assert!(!o.status.success() && text(&o).contains("nothing was changed"), "{}", text(&o));
    assert!(!elsewhere.exists());
    Ok(())
}
