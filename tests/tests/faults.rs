//! Storage faults on the real binary: a full disk and damaged blob files.
//!
//! **Disk full.** The server runs with `SIEVE_FAULTS` naming a control file (see
//! `server/src/store/faults.rs`): writing `<point> enospc` into it makes that kind of storage
//! write fail with the operating system's own `ENOSPC`, exactly where a full disk would (half
//! a blob's temp file written, an upload half spooled, the metadata store's write or fsync);
//! removing it gives the space back. No privileges needed, so CI runs it. The same scenario on
//! a real, really full tmpfs is `disk_full_on_a_real_tmpfs` (ignored: it needs root to mount).
//!
//! **Corruption.** A blob file of a running server is bit-flipped or truncated on disk.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sieve_tests::{Error, Reply, TestServer, files_under};

const ADMIN: &str = "faults-admin";
const DAY: &str = "2026-11-20";
const NEXT_DAY: &str = "2026-11-21";

/// A `user_id,value` upload: `users` users, value `{prefix}{i % values}`.
fn tags(users: u32, values: u32, prefix: &str) -> String {
    let mut s = String::from("user_id,value\n");
    for i in 0..users {
        s.push_str(&format!("u{i},{prefix}{}\n", i % values));
    }
    s
}

fn code(r: &Reply) -> String {
    r.json().ok().and_then(|v| v["error"].as_str().map(str::to_owned)).unwrap_or_default()
}

/// Everything a reader can see of an app: days, the day's manifest, every blob it names
/// (bytes), a user's tags, an estimate, the segment list. Equal snapshots = the same version
/// served identically.
fn snapshot(t: &TestServer, token: &str) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut out = BTreeMap::new();
    let get = |path: String| -> Result<Reply, Error> {
        let r = t.call("GET", &path, token, None)?;
        if r.status != 200 {
            return Err(format!("GET {path}: {} {}", r.status, r.body).into());
        }
        Ok(r)
    };
    let days = get("/api/v1/apps/a/days".into())?;
    out.insert("days".into(), days.bytes.clone());
    let manifest = get(format!("/api/v1/apps/a/days/{DAY}/manifest"))?;
    let m = manifest.json()?;
    out.insert("manifest".into(), manifest.bytes.clone());
    for hash in sieve_tests::manifest_blobs(&m) {
        let b = get(format!("/api/v1/apps/a/blobs/{hash}"))?;
        assert_eq!(engine::blob::hash(&b.bytes), hash, "a blob answer matches its address");
        out.insert(format!("blob {hash}"), b.bytes);
    }
    out.insert("user u1".into(), get("/api/v1/apps/a/users/u1/tags".into())?.bytes);
    out.insert("segments".into(), get("/api/v1/apps/a/segments".into())?.bytes);
    // An estimate on the first value of group g, whatever the upload was.
    let value = m["groups"][0]["values"][0]["value"].as_str().ok_or("a value of g")?;
    let rule = json!({"ds": DAY, "rule": {"all": [{"tag": "g", "in": [value]}]}}).to_string();
    let e = t.call("POST", "/api/v1/apps/a/estimate", token, Some(rule.as_bytes()))?;
    if e.status != 200 {
        return Err(format!("estimate: {} {}", e.status, e.body).into());
    }
    out.insert("estimate".into(), e.bytes);
    Ok(out)
}

/// Turns "no space" on and off.
trait Space {
    /// From now on, writes at `point` (`blob`, `upload`, `meta`, `*`) fail with `error`
    /// (`enospc`, or `eio` for a failing disk).
    fn fill(&self, point: &str, error: &str) -> Result<(), Error>;
    /// Space is back.
    fn free(&self) -> Result<(), Error>;
    /// Whether every metadata write fails while full. A real disk may still take a small commit
    /// into blocks the file already has (the answer is then 2xx, and the write durable).
    fn strict(&self) -> bool;
}

/// The control file of `SIEVE_FAULTS`.
struct ControlFile(PathBuf);

impl Space for ControlFile {
    fn fill(&self, point: &str, error: &str) -> Result<(), Error> {
        Ok(std::fs::write(&self.0, format!("{point} {error}\n"))?)
    }
    fn free(&self) -> Result<(), Error> {
        Ok(std::fs::remove_file(&self.0)?)
    }
    fn strict(&self) -> bool {
        true
    }
}

/// What the acknowledged writes say the server holds.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    /// Value prefix of the current `g` upload on DAY (values are `{prefix}{i % 3}`).
    g: String,
    /// Prefix of group `h` on DAY, once an upload of it was acknowledged.
    h: Option<String>,
    /// Prefix of `g` on NEXT_DAY, once acknowledged.
    next: Option<String>,
    /// Segment id → name.
    segments: BTreeMap<String, String>,
}

/// What the server answers now, in the model's terms (user u7's values; segment names).
fn observe(t: &TestServer, token: &str) -> Result<Model, Error> {
    let prefix = |v: &Value, group: &str| -> Option<String> {
        // u7's value is `{prefix}1` (7 % 3): strip the digit.
        v["tags"][group][0].as_str().map(|s| s.trim_end_matches('1').to_owned())
    };
    let day = t.ok("GET", &format!("/api/v1/apps/a/users/u7/tags?ds={DAY}"), token, None)?;
    let days = t.ok("GET", "/api/v1/apps/a/days", token, None)?;
    let has_next = days["days"].as_array().ok_or("days")?.iter().any(|d| d["ds"] == NEXT_DAY);
    let next = if has_next {
        prefix(&t.ok("GET", &format!("/api/v1/apps/a/users/u7/tags?ds={NEXT_DAY}"), token, None)?, "g")
    } else {
        None
    };
    let list = t.ok("GET", "/api/v1/apps/a/segments", token, None)?;
    let segments = list["segments"]
        .as_array()
        .ok_or("segments")?
        .iter()
        .filter_map(|s| Some((s["id"].as_str()?.to_owned(), s["name"].as_str()?.to_owned())))
        .collect();
    Ok(Model { g: prefix(&day, "g").ok_or("no g for u7")?, h: prefix(&day, "h"), next, segments })
}

/// One write's description and answer.
type Write = (&'static str, Reply);

/// Uploads of every kind (each needs new files: it is spooled, and its blobs are new), with
/// content unique to `tag`; acknowledged ones are applied to `model`.
fn uploads(t: &TestServer, token: &str, tag: &str, model: &mut Model) -> Result<Vec<Write>, Error> {
    let upload = |ds: &str, group: &str, prefix: &str| -> Result<Reply, Error> {
        let path = format!("/api/v1/apps/a/days/{ds}/tags/{group}");
        t.call("PUT", &path, token, Some(tags(5_000, 3, prefix).as_bytes()))
    };
    let mut out = Vec::new();
    let g = format!("g{tag}x");
    let r = upload(DAY, "g", &g)?;
    if r.status == 200 {
        model.g = g;
    }
    out.push(("replace group g", r));
    let h = format!("h{tag}x");
    let r = upload(DAY, "h", &h)?;
    if r.status == 200 {
        model.h = Some(h);
    }
    out.push(("upload group h", r));
    let n = format!("n{tag}x");
    let r = upload(NEXT_DAY, "g", &n)?;
    if r.status == 200 {
        model.next = Some(n);
    }
    out.push(("publish the next day", r));
    Ok(out)
}

/// Segment definition writes (the metadata store only), unique to `tag`.
fn segment_writes(t: &TestServer, token: &str, tag: &str, model: &mut Model) -> Result<Vec<Write>, Error> {
    let mut out = Vec::new();
    let id = format!("new-{tag}");
    let body = json!({"id": id, "name": format!("new {tag}"), "kind": "static"}).to_string();
    let r = t.call("POST", "/api/v1/apps/a/segments", token, Some(body.as_bytes()))?;
    if r.status == 201 {
        model.segments.insert(id, format!("new {tag}"));
    }
    out.push(("create a segment", r));
    let body = json!({"name": format!("renamed {tag}"), "kind": "static"}).to_string();
    let r = t.call("PUT", "/api/v1/apps/a/segments/s1", token, Some(body.as_bytes()))?;
    if r.status == 200 {
        model.segments.insert("s1".to_owned(), format!("renamed {tag}"));
    }
    out.push(("update a segment", r));
    Ok(out)
}

/// The whole scenario against one server whose disk `space` can fill, for each `(point, error)`
/// in turn:
/// - a write that needs space that is not there answers 507 `insufficient_storage` (503
///   `storage_unavailable` for `eio`) with a JSON body, never 2xx, and nothing of it becomes
///   visible: every upload (it is spooled, and its blobs are new files) whatever the point, and
///   segment writes when the metadata store is full (`meta`, `*`; on a real disk a small commit
///   may still fit in blocks the store's file has: it then answers 2xx and is durable);
/// - meanwhile every read (days, manifest, each blob, a user, an estimate, the segments)
///   answers byte for byte as before the round (writes that still had space, segment
///   definitions while only blobs or uploads are full, answer 2xx and are visible);
/// - no temp file is left behind;
/// - once space is back every kind of write works, without a restart, and a restart (under
///   5 s) finds exactly the acknowledged writes.
fn full_disk_scenario(t: &mut TestServer, space: &dyn Space, rounds: &[(&str, &str)]) -> Result<(), Error> {
    let token = t.app_with_token("a", "editor")?;
    let data = t.data_dir();
    let r =
        t.call("PUT", &format!("/api/v1/apps/a/days/{DAY}/tags/g"), &token, Some(tags(5_000, 3, "g0x").as_bytes()))?;
    assert_eq!(r.status, 200, "{}", r.body);
    let s1 = json!({"id": "s1", "name": "first", "kind": "static"}).to_string();
    let r = t.call("POST", "/api/v1/apps/a/segments", &token, Some(s1.as_bytes()))?;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut model =
        Model { g: "g0x".into(), h: None, next: None, segments: BTreeMap::from([("s1".into(), "first".into())]) };
    assert_eq!(observe(t, &token)?, model);

    for (round, (point, error)) in rounds.iter().enumerate() {
        let tag = round.to_string();
        let refused = if *error == "eio" { (503, "storage_unavailable") } else { (507, "insufficient_storage") };
        let before = snapshot(t, &token)?;
        space.fill(point, error)?;
        for (what, r) in uploads(t, &token, &tag, &mut model)? {
            assert_eq!((r.status, code(&r).as_str()), refused, "{point} {error}: {what}: {}", r.body);
        }
        assert_eq!(snapshot(t, &token)?, before, "{point} {error}: the previous version is served unchanged");
        let metadata_full = matches!(*point, "meta" | "*");
        let mut all_refused = true;
        for (what, r) in segment_writes(t, &token, &tag, &mut model)? {
            let ok = (200..300).contains(&r.status);
            all_refused &= !ok;
            if !metadata_full {
                assert!(ok, "{point} {error}: {what} has space: {} {}", r.status, r.body);
            } else if ok {
                // Only a real disk: a small commit may fit in blocks the file already has.
                assert!(!space.strict(), "{point} {error}: {what} answered {}: {}", r.status, r.body);
            } else {
                assert_eq!((r.status, code(&r).as_str()), refused, "{point} {error}: {what}: {}", r.body);
            }
        }
        if all_refused {
            assert_eq!(snapshot(t, &token)?, before, "{point} {error}: still unchanged after the segment writes");
        }
        // Reads show exactly the acknowledged writes.
        assert_eq!(observe(t, &token)?, model, "{point} {error}: the server holds what was acknowledged");
        // Nothing half-written is left: no temp blob, no spooled upload.
        for dir in ["tmp", "uploads"] {
            let left = files_under(&data.join(dir));
            assert!(left.is_empty(), "{point} {error}: files left in {dir}/: {left:?}");
        }
        space.free()?;
    }

    // Space is back: every kind of write works, without a restart.
    let mut back = uploads(t, &token, "back", &mut model)?;
    back.extend(segment_writes(t, &token, "back", &mut model)?);
    for (what, r) in back {
        assert!((200..300).contains(&r.status), "after space is back: {what}: {} {}", r.status, r.body);
    }
    assert_eq!(observe(t, &token)?, model);
    let after = snapshot(t, &token)?;

    // A restart finds exactly the acknowledged writes.
    let took = t.restart()?;
    assert!(took < Duration::from_secs(5), "restart took {took:?}");
    assert_eq!(observe(t, &token)?, model, "after a restart");
    assert_eq!(snapshot(t, &token)?, after, "the same bytes after a restart");
    for dir in ["tmp", "uploads"] {
        assert!(files_under(&data.join(dir)).is_empty(), "files left in {dir}/");
    }
    Ok(())
}

#[test]
fn disk_full_refuses_writes_keeps_serving_and_recovers() -> Result<(), Error> {
    let control = tempfile::tempdir()?;
    let file = control.path().join("faults");
    let mut t = TestServer::start_with_env(ADMIN, &[], &[("SIEVE_FAULTS", file.as_os_str())])?;
    // Each place a full disk is met, one at a time, then all at once; then a failing disk.
    let rounds = [("upload", "enospc"), ("blob", "enospc"), ("meta", "enospc"), ("*", "enospc"), ("*", "eio")];
    full_disk_scenario(&mut t, &ControlFile(file), &rounds)?;
    Ok(())
}

#[test]
fn a_full_metadata_store_recovers_without_a_restart() -> Result<(), Error> {
    let control = tempfile::tempdir()?;
    let file = control.path().join("faults");
    let t = TestServer::start_with_env(ADMIN, &[], &[("SIEVE_FAULTS", file.as_os_str())])?;
    let warned = |log: &str| log.contains("SIEVE_FAULTS is set");
    assert!(warned(&t.server.stderr_when(Duration::from_secs(10), warned)), "the server warns that injection is on");
    let token = t.app_with_token("a", "editor")?;
    let create = |id: &str| -> Result<Reply, Error> {
        let body = json!({"id": id, "name": id, "kind": "static"}).to_string();
        t.call("POST", "/api/v1/apps/a/segments", &token, Some(body.as_bytes()))
    };
    assert_eq!(create("before")?.status, 201);
    // A failed commit latches the store's handle (redb's PreviousIo); the server drops it and
    // reopens the file, so reads go on while the disk is full, and writes resume after.
    std::fs::write(&file, "meta enospc\n")?;
    for id in ["full-1", "full-2"] {
        let r = create(id)?;
        assert_eq!((r.status, code(&r).as_str()), (507, "insufficient_storage"), "{}", r.body);
        let r = t.call("GET", "/api/v1/apps/a/segments/before", &token, None)?;
        assert_eq!(r.status, 200, "reads work while the metadata store is full: {}", r.body);
    }
    std::fs::remove_file(&file)?;
    assert_eq!(create("after")?.status, 201, "writes work again once space is back");
    let list = t.ok("GET", "/api/v1/apps/a/segments", &token, None)?;
    let ids: Vec<&str> = list["segments"].as_array().ok_or("list")?.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["after", "before"]);
    let log = t.server.stderr_when(Duration::from_secs(10), |log| log.contains("metadata store reopened"));
    assert!(log.contains("metadata store reopened"), "the reopen is logged:\n{log}");
    Ok(())
}

/// A real tmpfs of a few MiB, really filled by a file. Needs root (mount), so it is ignored by
/// default: `cargo test -p sieve-tests --test faults -- --ignored`.
struct Tmpfs {
    mount: PathBuf,
}

impl Tmpfs {
    fn filler(&self) -> PathBuf {
        self.mount.join("filler")
    }
}

impl Space for Tmpfs {
    fn fill(&self, _point: &str, _error: &str) -> Result<(), Error> {
        // Write until the file system refuses: then every kind of write meets ENOSPC.
        use std::io::Write as _;
        let mut f = std::fs::File::create(self.filler())?;
        let block = vec![0u8; 64 << 10];
        loop {
            if let Err(e) = f.write_all(&block) {
                assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "filling the tmpfs");
                break;
            }
        }
        let _ = f.sync_all();
        Ok(())
    }
    fn free(&self) -> Result<(), Error> {
        Ok(std::fs::remove_file(self.filler())?)
    }
    fn strict(&self) -> bool {
        false
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a failing test may still have the server running on it.
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

#[test]
#[ignore = "mounts a tmpfs: needs root; run with --ignored"]
fn disk_full_on_a_real_tmpfs() -> Result<(), Error> {
    let mut t = TestServer::start(ADMIN, &[])?;
    // Move the server onto a fresh 24 MiB tmpfs mounted over its (empty) data directory.
    let data = t.data_dir();
    t.server.terminate(Duration::from_secs(10))?;
    std::fs::remove_dir_all(&data)?;
    std::fs::create_dir_all(&data)?;
    let ok =
        std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"]).arg(&data).status()?;
    assert!(ok.success(), "mount -t tmpfs failed (not root?)");
    let tmpfs = Tmpfs { mount: data.clone() };
    // The filler lives in the data directory, on the same file system.
    t.restart()?;
    full_disk_scenario(&mut t, &tmpfs, &[("*", "enospc")])?;
    t.server.terminate(Duration::from_secs(10))?;
    drop(tmpfs);
    Ok(())
}

#[test]
fn corrupted_blobs_are_never_served_and_reported() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("a", "editor")?;
    let other = t.app_with_token("b", "editor")?;
    let put = |app: &str, token: &str, group: &str, body: &str| -> Result<(), Error> {
        let path = format!("/api/v1/apps/{app}/days/{DAY}/tags/{group}");
        let r = t.call("PUT", &path, token, Some(body.as_bytes()))?;
        if r.status != 200 {
            return Err(format!("{path}: {} {}", r.status, r.body).into());
        }
        Ok(())
    };
    put("a", &token, "g", &tags(5_000, 4, "v"))?;
    put("a", &token, "h", &tags(4_000, 2, "x"))?;
    let mut b_rows = String::from("user_id,value\n");
    for i in 0..3_000 {
        b_rows.push_str(&format!("b{i},k{}\n", i % 3));
    }
    put("b", &other, "k", &b_rows)?;
    let m = t.ok("GET", &format!("/api/v1/apps/a/days/{DAY}/manifest"), &token, None)?;
    let blob_of = |group: &str, value: &str| -> Result<String, Error> {
        let g = m["groups"].as_array().ok_or("groups")?.iter().find(|g| g["name"] == group).ok_or("group")?;
        let v = g["values"].as_array().ok_or("values")?.iter().find(|v| v["value"] == value).ok_or("value")?;
        Ok(v["full"]["blob"].as_str().ok_or("blob")?.to_owned())
    };
    let flipped = blob_of("g", "v1")?;
    let truncated = blob_of("h", "x0")?;
    let path_of = |hash: &str| t.data_dir().join("blobs").join(&hash[..2]).join(&hash[2..4]).join(hash);

    // Health is ok before any damage.
    let h = t.http.get(&t.server.url("/api/v1/health"))?.json()?;
    assert_eq!((h["status"].as_str(), h["storage"]["status"].as_str()), (Some("ok"), Some("ok")));
    assert_eq!(h["storage"]["corrupt_blob_count"], 0);

    // Damage two files on disk behind the running server's back: one bit, and a truncation.
    let mut bytes = std::fs::read(path_of(&flipped))?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(path_of(&flipped), &bytes)?;
    let bytes = std::fs::read(path_of(&truncated))?;
    std::fs::write(path_of(&truncated), &bytes[..bytes.len() - 3])?;

    for hash in [&flipped, &truncated] {
        // Never served: a JSON 503, every time (not only the first).
        for _ in 0..2 {
            let r = t.call("GET", &format!("/api/v1/apps/a/blobs/{hash}"), &token, None)?;
            assert_eq!((r.status, code(&r).as_str()), (503, "data_corrupt"), "{}", r.body);
            // It names the blob (its address, which the client asked for), and carries none of its data.
            assert!(r.body.len() < 300 && r.body.contains(hash.as_str()), "the answer names it, no data: {}", r.body);
        }
        // An estimate that needs the damaged bitmap fails the same way rather than miscounting.
    }
    let rule = |value: &str| json!({"rule": {"tag": "g", "in": [value]}}).to_string();
    let r = t.call("POST", "/api/v1/apps/a/estimate", &token, Some(rule("v1").as_bytes()))?;
    assert_eq!((r.status, code(&r).as_str()), (503, "data_corrupt"), "{}", r.body);

    // Logged, with the address.
    let named = |log: &str| [&flipped, &truncated].iter().all(|h| log.contains(h.as_str())) && log.contains("corrupt");
    let log = t.server.stderr_when(Duration::from_secs(10), named);
    for hash in [&flipped, &truncated] {
        assert!(log.contains(hash.as_str()) && log.contains("corrupt"), "the log names {hash}:\n{log}");
    }
    // Reported by health: degraded, both listed.
    let h = t.http.get(&t.server.url("/api/v1/health"))?;
    assert_eq!(h.status, 200);
    let h = h.json()?;
    assert_eq!((h["status"].as_str(), h["storage"]["status"].as_str()), (Some("degraded"), Some("degraded")));
    assert_eq!(h["storage"]["corrupt_blob_count"], 2);
    let listed: Vec<&str> =
        h["storage"]["corrupt_blobs"].as_array().ok_or("list")?.iter().filter_map(Value::as_str).collect();
    assert!(listed.contains(&flipped.as_str()) && listed.contains(&truncated.as_str()), "{h}");

    // Everything else keeps being served: the other blobs of the day, estimates on other values,
    // another app's estimates and membership.
    let mut served = 0;
    for hash in sieve_tests::manifest_blobs(&m).iter().filter(|h| **h != flipped && **h != truncated) {
        let r = t.call("GET", &format!("/api/v1/apps/a/blobs/{hash}"), &token, None)?;
        assert_eq!(r.status, 200, "{hash}: {}", r.body);
        assert_eq!(&engine::blob::hash(&r.bytes), hash);
        served += 1;
    }
    assert!(served >= 10, "the day has other blobs ({served})");
    let e = t.ok("POST", "/api/v1/apps/a/estimate", &token, Some(rule("v2").as_bytes()))?;
    assert_eq!(e["count"], 1_250);
    let e = t.ok(
        "POST",
        "/api/v1/apps/b/estimate",
        &other,
        Some(json!({"rule": {"tag": "k", "in": ["k1"]}}).to_string().as_bytes()),
    )?;
    assert_eq!(e["count"], 1_000);
    let u = t.ok("GET", "/api/v1/apps/b/users/b4/tags", &other, None)?;
    assert_eq!(u["tags"]["k"], json!(["k1"]));

    // Uploading the same data again writes good copies of its blobs: the damage heals.
    put("a", &token, "g", &tags(5_000, 4, "v"))?;
    let r = t.call("GET", &format!("/api/v1/apps/a/blobs/{flipped}"), &token, None)?;
    assert_eq!(r.status, 200, "healed: {}", r.body);
    assert_eq!(engine::blob::hash(&r.bytes), flipped);
    let h = t.http.get(&t.server.url("/api/v1/health"))?.json()?;
    assert_eq!(h["storage"]["corrupt_blob_count"], 1, "only the truncated blob is left: {h}");
    assert_eq!(h["storage"]["corrupt_blobs"], json!([truncated]));
    Ok(())
}

/// Sends an upload as ureq does (the whole body, then the answer), pausing after the first
/// 16 KiB so the server has refused by then; returns whether the rest could be sent and what
/// came back.
fn send_all_then_read(t: &TestServer, path: &str, token: &str, body: &[u8]) -> Result<(bool, String), Error> {
    use std::io::{Read as _, Write as _};
    let mut conn = std::net::TcpStream::connect(t.server.addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    let (first, rest) = body.split_at(16 << 10);
    conn.write_all(first)?;
    std::thread::sleep(Duration::from_millis(300));
    let sent = rest.chunks(64 << 10).all(|c| conn.write_all(c).is_ok());
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                // One answer is enough: the connection may stay open.
                let text = String::from_utf8_lossy(&answer);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok());
                    if length.is_some_and(|n| body.len() >= n) {
                        break;
                    }
                }
            }
        }
    }
    Ok((sent, String::from_utf8_lossy(&answer).into_owned()))
}

/// Regression (issue 11): `disk_full_refuses_writes_keeps_serving_and_recovers` once got "Peer
/// disconnected" instead of its 507. The server refused the upload while the client was still
/// sending, then closed the socket with the body unread: the kernel answers unread data with a
/// reset, and a client that reads only after sending (ureq) lost the answer. Here the client
/// is refused mid-body deterministically (a full disk at the spool, a bad first line, a
/// missing segment, a wrong token) and must get each answer.
#[test]
fn a_client_still_sending_gets_the_refusal() -> Result<(), Error> {
    let (t, faults) = TestServer::start_with_faults(ADMIN, &[])?;
    let token = t.app_with_token("a", "editor")?;
    let good = tags(60_000, 3, "v");
    let mut bad = format!("user_id,value\n{},v\n", "x".repeat(300));
    bad.push_str(&good["user_id,value\n".len()..]);
    let tag_path = format!("/api/v1/apps/a/days/{DAY}/tags/g");
    faults.inject("upload enospc\n")?;
    let cases = [
        (
            "a full disk at the spool",
            tag_path.as_str(),
            token.as_str(),
            good.as_str(),
            "HTTP/1.1 507",
            "insufficient_storage",
        ),
        ("a bad first line", tag_path.as_str(), token.as_str(), bad.as_str(), "HTTP/1.1 400", "invalid_upload"),
        (
            "a missing segment",
            "/api/v1/apps/a/segments/nope/members",
            token.as_str(),
            good.as_str(),
            "HTTP/1.1 404",
            "not_found",
        ),
        ("a wrong token", tag_path.as_str(), "wrong", good.as_str(), "HTTP/1.1 401", "unauthorized"),
    ];
    for (what, path, token, body, status, error) in cases {
        let (sent, answer) = send_all_then_read(&t, path, token, body.as_bytes())?;
        assert!(sent, "{what}: the whole body could be sent (nothing reset the connection)");
        assert!(answer.starts_with(status) && answer.contains(error), "{what}: got {answer:?}");
    }
    faults.clear()?;
    Ok(())
}
