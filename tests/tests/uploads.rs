//! Attacks on the upload and export paths, on the real binary (issues 11 and 12):
//! - a huge single line: refused at the bound, memory flat (`SIEVE_BIG_LINE_MB` sets its size;
//!   64 MB here, 1 GB in the measurement recorded in README.md);
//! - invalid UTF-8 in any upload is a 400 naming the line;
//! - ids round-trip: export → static member upload → export, byte for byte;
//! - 50 stalled uploads do not delay `/health` or `/estimate`; they are dropped with 408, and
//!   per-token and upload slots refuse the rest with 429 and 503;
//! - refused member uploads write nothing, and orphan blobs are collected;
//! - an export failing after its headers breaks the download instead of ending it short.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sieve_tests::{Error, Reply, TestServer, files_under};

const ADMIN: &str = "uploads-admin";
const DAY: &str = "2026-11-20";

fn code(r: &Reply) -> String {
    r.json().ok().and_then(|v| v["error"].as_str().map(str::to_owned)).unwrap_or_default()
}

/// A raw HTTP exchange: the status and the body of the answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
    /// Body bytes the client managed to send before the answer (or the close).
    sent: u64,
    took: Duration,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `head` then the body pieces `pieces` yields, each after `pause`, while another thread
/// reads the answer (as curl does: an early answer is seen even while the body is still going).
/// Stops sending when the server closes or answers.
fn stream_request(
    addr: SocketAddr,
    head: &str,
    mut pieces: impl FnMut() -> Option<Vec<u8>>,
    pause: Duration,
) -> Result<Answer, Error> {
    let started = Instant::now();
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = conn.try_clone()?;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let read = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        let mut first = None;
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    first.get_or_insert_with(Instant::now);
                    let _ = done_tx.send(());
                }
            }
        }
        (out, first)
    });
    let mut sent = 0u64;
    let write = (|| -> std::io::Result<()> {
        conn.write_all(head.as_bytes())?;
        while let Some(piece) = pieces() {
            if done_rx.try_recv().is_ok() {
                break; // answered: stop sending, as curl does
            }
            conn.write_all(&piece)?;
            sent += piece.len() as u64;
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
        }
        Ok(())
    })();
    let _ = write; // a reset while sending is expected once the server has refused
    let (bytes, first) = read.join().map_err(|_| "reader thread panicked")?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    let took = first.map_or(started.elapsed(), |t| t.duration_since(started));
    Ok(Answer { status, body, sent, took })
}

fn head(method: &str, path: &str, token: &str, length: Option<u64>) -> String {
    head_with_auth(method, path, &format!("Bearer {token}"), length)
}

fn head_with_auth(method: &str, path: &str, authorization: &str, length: Option<u64>) -> String {
    let length = length.map(|n| format!("content-length: {n}\r\n")).unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nauthorization: {authorization}\r\n{length}connection: close\r\n\r\n"
    )
}

#[test]
fn a_huge_line_is_refused_at_the_bound_with_flat_memory() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("a", "editor")?;
    let mb: u64 = std::env::var("SIEVE_BIG_LINE_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let size = mb << 20;
    let before = t.server.peak_rss_bytes()?;
    let path = format!("/api/v1/apps/a/days/{DAY}/tags/g");
    let header = b"user_id,value\n".to_vec();
    let total = header.len() as u64 + size;
    // The body is made on the fly: `user_id,value`, then one line of `size` bytes of `a`.
    let chunk = vec![b'a'; 256 << 10];
    let mut left = size;
    let mut first = Some(header);
    let pieces = || {
        if let Some(h) = first.take() {
            return Some(h);
        }
        if left == 0 {
            return None;
        }
        let n = left.min(chunk.len() as u64);
        left -= n;
        Some(chunk[..n as usize].to_vec())
    };
    let answer = stream_request(t.server.addr, &head("PUT", &path, &token, Some(total)), pieces, Duration::ZERO)?;
    let after = t.server.peak_rss_bytes()?;
    eprintln!(
        "{mb} MB line: answered {} after {:?} and {} MB sent; peak RSS {} MB before, {} MB after",
        answer.status,
        answer.took,
        answer.sent >> 20,
        before >> 20,
        after >> 20
    );
    let v = answer.json();
    assert_eq!((answer.status, v["error"].as_str()), (400, Some("invalid_upload")), "{}", answer.body);
    assert_eq!((v["line"].as_u64(), v["column"].as_u64()), (Some(2), Some(1)), "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("longer than 256 bytes")), "{v}");
    assert!(answer.sent < total, "refused before the whole body was sent ({} of {total} bytes)", answer.sent);
    assert!(after < 300 << 20, "under 300 MB resident: {} MB", after >> 20);
    assert!(after - before < 32 << 20, "memory flat: grew {} MB for a {mb} MB line", (after - before) >> 20);
    // Nothing was published or left on disk.
    let days = t.ok("GET", "/api/v1/apps/a/days", &token, None)?;
    assert_eq!(days["days"], json!([]));
    assert!(files_under(&t.data_dir().join("uploads")).is_empty(), "no spooled file left");
    Ok(())
}

#[test]
fn invalid_utf8_anywhere_is_a_400_naming_the_line() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("a", "editor")?;
    let ok = t.call("PUT", &format!("/api/v1/apps/a/days/{DAY}/tags/g"), &token, Some(b"user_id,value\nu1,x\n"))?;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let seg = json!({"id": "s", "name": "s", "kind": "static"}).to_string();
    assert_eq!(t.call("POST", "/api/v1/apps/a/segments", &token, Some(seg.as_bytes()))?.status, 201);
    let cases: [(&str, &[u8], u64, u64); 5] = [
        ("/api/v1/apps/a/segments/s/members", b"user_id\nu1\n\xff\xfe\n", 3, 1),
        ("/api/v1/apps/a/segments/s/members", b"user\xc3_id\nu1\n", 1, 1),
        ("/api/v1/apps/a/days/2026-11-20/tags/g", b"user_id,value\nu1,x\nu2,\xe2\x82\n", 3, 2),
        ("/api/v1/apps/a/days/2026-11-20/tags/g", b"user_id,val\xffue\nu1,x\n", 1, 2),
        ("/api/v1/apps/a/days/2026-11-20/events/e", b"user_id,count\n\xc0\xafu,1\n", 2, 1),
    ];
    for (path, body, line, column) in cases {
        let r = t.call("PUT", path, &token, Some(body))?;
        assert_eq!((r.status, code(&r).as_str()), (400, "invalid_upload"), "{path}: {}", r.body);
        let v = r.json()?;
        assert_eq!((v["line"].as_u64(), v["column"].as_u64()), (Some(line), Some(column)), "{path}: {v}");
    }
    // Nothing changed: the one good upload is all there is.
    let u = t.ok("GET", "/api/v1/apps/a/users/u1/tags", &token, None)?;
    assert_eq!(u["tags"]["g"], json!(["x"]));
    Ok(())
}

/// RFC 4180 as the test writes it (the oracle for the server's export).
fn quoted(id: &str) -> String {
    if id.contains([',', '"', '\n', '\r']) { format!("\"{}\"", id.replace('"', "\"\"")) } else { id.to_owned() }
}

#[test]
fn ids_round_trip_export_static_upload_export() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("a", "editor")?;
    let ids = [
        "plain",
        "a,b",
        "say \"hi\"",
        "two\nlines",
        "cr\rinside",
        "ünïcödé 漢字 😀",
        "semi;colon",
        "tab\tinside",
        "\u{feff}bom-first",
        "'single'",
        "trailing\\",
        &"x".repeat(256),
    ];
    let mut upload = String::from("user_id,value\n");
    for id in ids {
        upload.push_str(&format!("{},in\n", quoted(id)));
    }
    t.ok("PUT", &format!("/api/v1/apps/a/days/{DAY}/tags/g"), &token, Some(upload.as_bytes()))?;
    let dynamic = json!({"id": "dyn", "name": "dyn", "kind": "dynamic", "rule": {"tag": "g", "in": ["in"]}});
    t.ok("POST", "/api/v1/apps/a/segments", &token, Some(dynamic.to_string().as_bytes()))?;
    let first = t.call("GET", "/api/v1/apps/a/segments/dyn/members", &token, None)?;
    assert_eq!(first.status, 200, "{}", first.body);
    let mut expected = String::from("user_id\n");
    for id in ids {
        expected.push_str(&quoted(id));
        expected.push('\n');
    }
    assert_eq!(first.body, expected, "the export lists every id, quoted by RFC 4180, in upload order");

    let copy = json!({"id": "copy", "name": "copy", "kind": "static"});
    t.ok("POST", "/api/v1/apps/a/segments", &token, Some(copy.to_string().as_bytes()))?;
    let report = t.ok("PUT", "/api/v1/apps/a/segments/copy/members", &token, Some(&first.bytes))?;
    assert_eq!(
        (&report["rows"], &report["accepted"], &report["malformed"], &report["unknown"]),
        (&json!(ids.len()), &json!(ids.len()), &json!(0), &json!(0)),
        "{report}"
    );
    let second = t.call("GET", "/api/v1/apps/a/segments/copy/members", &token, None)?;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.bytes, first.bytes, "byte for byte");
    Ok(())
}

/// Stalled uploads: `--max-inflight 40` as in the report, then 50 uploads sending one byte a
/// second (5 from each of 10 tokens) and 6 more from two other tokens. Reads must not wait on
/// them; the limits answer at once and the stalled ones are dropped.
#[test]
fn stalled_uploads_do_not_delay_reads_and_are_dropped() -> Result<(), Error> {
    let flags = [
        "--max-inflight",
        "40",
        "--max-uploads",
        "45",
        "--max-uploads-per-token",
        "4",
        "--upload-idle-timeout-secs",
        "2",
        "--upload-min-rate-bytes",
        "1000",
    ];
    let t = TestServer::start(ADMIN, &flags)?;
    let editor = t.app_with_token("a", "editor")?;
    let mut rows = String::from("user_id,value\n");
    for i in 0..2_000 {
        rows.push_str(&format!("u{i},v{}\n", i % 4));
    }
    t.ok("PUT", &format!("/api/v1/apps/a/days/{DAY}/tags/g"), &editor, Some(rows.as_bytes()))?;
    let tokens: Vec<String> = (0..12).map(|_| t.token("a", "editor")).collect::<Result<_, _>>()?;
    let estimate = json!({"rule": {"tag": "g", "in": ["v1"]}}).to_string();
    let reads = |n: usize| -> Result<Vec<(u16, Duration)>, Error> {
        let mut out = Vec::new();
        for _ in 0..n {
            let started = Instant::now();
            let h = t.http.get(&t.server.url("/api/v1/health"))?;
            out.push((h.status, started.elapsed()));
            let started = Instant::now();
            let e = t.call("POST", "/api/v1/apps/a/estimate", &editor, Some(estimate.as_bytes()))?;
            assert!(e.status != 200 || e.json()?["count"] == 500, "{}", e.body);
            out.push((e.status, started.elapsed()));
        }
        Ok(out)
    };
    let median = |xs: &[(u16, Duration)]| {
        let mut d: Vec<Duration> = xs.iter().map(|x| x.1).collect();
        d.sort();
        d[d.len() / 2]
    };
    let baseline = reads(10)?;

    let addr = t.server.addr;
    let path = format!("/api/v1/apps/a/days/{DAY}/tags/h");
    let started = Instant::now();
    let stall = |authorization: String| {
        let head = head_with_auth("PUT", &path, &authorization, Some(1_000));
        std::thread::spawn(move || {
            let mut n = 0;
            // One byte a second, for longer than any timeout here.
            let one_byte = || {
                n += 1;
                (n <= 30).then(|| b"u".to_vec())
            };
            stream_request(addr, &head, one_byte, Duration::from_secs(1))
        })
    };
    // Half of them write the scheme and spaces differently: still the same token's uploads.
    let authorization = |i: usize, token: &str| {
        if i.is_multiple_of(2) { format!("Bearer {token}") } else { format!("bearer   {token} ") }
    };
    let mut uploads: Vec<_> = (0..50).map(|i| stall(authorization(i / 10, &tokens[i % 10]))).collect();
    std::thread::sleep(Duration::from_millis(300));
    // 40 are running (4 per token): 5 upload slots are left for the next 6.
    uploads.extend((0..6).map(|i| stall(authorization(i, &tokens[10 + i % 2]))));
    std::thread::sleep(Duration::from_millis(200));
    let during = reads(8)?;
    let answers: Vec<Answer> =
        uploads.into_iter().map(|h| h.join().map_err(|_| "upload thread panicked")?).collect::<Result<_, _>>()?;
    let all_done = started.elapsed();

    for (status, took) in &during {
        assert_eq!(*status, 200, "reads are answered while uploads stall (took {took:?})");
    }
    let (base, under) = (median(&baseline), median(&during));
    let worst = during.iter().map(|x| x.1).max().unwrap_or_default();
    eprintln!("reads: median {base:?} before, {under:?} during 45 stalled uploads (worst {worst:?})");
    assert!(under <= base + Duration::from_millis(100), "median read {under:?} during vs {base:?} before");

    let count = |status: u16, code: &str| {
        answers.iter().filter(|a| a.status == status && a.json()["error"].as_str() == Some(code)).count()
    };
    let (slow, per_token, shed) =
        (count(408, "upload_too_slow"), count(429, "too_many_uploads"), count(503, "overloaded"));
    eprintln!("56 stalled uploads: {slow} × 408, {per_token} × 429, {shed} × 503 within {all_done:?}");
    assert_eq!((per_token, shed, slow), (10, 1, 45), "{answers:?}");
    for a in answers.iter().filter(|a| a.status == 408) {
        assert!(a.took < Duration::from_secs(6), "dropped after about the idle timeout: {:?}", a.took);
    }
    assert!(all_done < Duration::from_secs(10), "{all_done:?}");
    // Upload slots are free again, and nothing of the stalled uploads was published.
    let r = t.call("PUT", &path, &editor, Some(b"user_id,value\nu1,x\n"))?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(files_under(&t.data_dir().join("uploads")).is_empty());
    Ok(())
}

/// Regression: members sent to a missing (404) or a dynamic (409) segment wrote a blob, then
/// refused.
#[test]
fn refused_member_uploads_write_no_blob() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("a", "editor")?;
    t.ok(
        "PUT",
        &format!("/api/v1/apps/a/days/{DAY}/tags/g"),
        &token,
        Some(b"user_id,value\nu1,x\nu2,y\nu3,x\nu4,y\nu5,z\n"),
    )?;
    let dynamic = json!({"id": "dyn", "name": "dyn", "kind": "dynamic", "rule": {"tag": "g", "in": ["x"]}});
    t.ok("POST", "/api/v1/apps/a/segments", &token, Some(dynamic.to_string().as_bytes()))?;
    let blobs = files_under(&t.data_dir().join("blobs"));
    for (segment, status, error) in [("nope", 404, "not_found"), ("dyn", 409, "conflict")] {
        let path = format!("/api/v1/apps/a/segments/{segment}/members");
        // {u2, u5} is a bitmap no upload made: storing it would be a new file.
        let r = t.call("PUT", &path, &token, Some(b"user_id\nu2\nu5\n"))?;
        assert_eq!((r.status, code(&r).as_str()), (status, error), "{}", r.body);
        assert_eq!(files_under(&t.data_dir().join("blobs")), blobs, "{segment}: no blob written");
    }
    Ok(())
}

#[test]
fn refused_member_uploads_write_nothing_and_orphans_are_collected() -> Result<(), Error> {
    let gc = ["--blob-gc-interval-secs", "1", "--blob-gc-grace-secs", "2"];
    let (mut t, faults) = TestServer::start_with_faults(ADMIN, &gc)?;
    let token = t.app_with_token("a", "editor")?;
    let blobs_dir = t.data_dir().join("blobs");
    let mut rows = String::from("user_id,value\n");
    for i in 0..3_000 {
        rows.push_str(&format!("u{i},v{}\n", i % 3));
    }
    t.ok("PUT", &format!("/api/v1/apps/a/days/{DAY}/tags/g"), &token, Some(rows.as_bytes()))?;
    for seg in [
        json!({"id": "st", "name": "st", "kind": "static"}),
        json!({"id": "dyn", "name": "dyn", "kind": "dynamic", "rule": {"tag": "g", "in": ["v1"]}}),
    ] {
        t.ok("POST", "/api/v1/apps/a/segments", &token, Some(seg.to_string().as_bytes()))?;
    }
    t.ok("PUT", "/api/v1/apps/a/segments/st/members", &token, Some(b"user_id\nu1\nu2\nu3\nu4\n"))?;
    let split = json!({"id": "ab", "segment": "dyn", "salt": "s", "groups": [
        {"name": "control", "percent": 50.0}, {"name": "treatment", "percent": 50.0}]});
    t.ok("POST", "/api/v1/apps/a/experiments", &token, Some(split.to_string().as_bytes()))?;

    // Let a collection settle (superseded versions of the day go too), then take the files.
    let settled = |want: Option<&BTreeSet<PathBuf>>| -> BTreeSet<PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = files_under(&blobs_dir);
        loop {
            std::thread::sleep(Duration::from_millis(1_500));
            let now = files_under(&blobs_dir);
            let done = match want {
                Some(w) => &now == w,
                None => now == last,
            };
            if done || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    };
    std::thread::sleep(Duration::from_secs(4));
    let referenced = settled(None);

    // Regression: members sent to a missing or a dynamic segment wrote a blob, then refused.
    let big: String = std::iter::once("user_id\n".to_owned()).chain((0..3_000).map(|i| format!("u{i}\n"))).collect();
    let r = t.call("PUT", "/api/v1/apps/a/segments/nope/members", &token, Some(big.as_bytes()))?;
    assert_eq!((r.status, code(&r).as_str()), (404, "not_found"), "{}", r.body);
    let r = t.call("PUT", "/api/v1/apps/a/segments/dyn/members", &token, Some(big.as_bytes()))?;
    assert_eq!((r.status, code(&r).as_str()), (409, "conflict"), "{}", r.body);
    assert_eq!(files_under(&blobs_dir), referenced, "a refused member upload writes no blob");

    // A publish whose metadata commit fails leaves its blobs behind: orphans.
    faults.inject("meta enospc\n")?;
    let mut other = String::from("user_id,value\n");
    for i in 0..3_000 {
        other.push_str(&format!("u{i},w{}\n", i % 5));
    }
    let r = t.call("PUT", &format!("/api/v1/apps/a/days/{DAY}/tags/h"), &token, Some(other.as_bytes()))?;
    assert_eq!(r.status, 507, "{}", r.body);
    faults.clear()?;
    let orphans: Vec<_> = files_under(&blobs_dir).difference(&referenced).cloned().collect();
    assert!(!orphans.is_empty(), "the failed publish wrote blobs first");

    // Collected while serving, after the grace period; nothing referenced goes.
    let after = settled(Some(&referenced));
    assert_eq!(after, referenced, "orphans collected, referenced blobs kept");
    let log = t.server.stderr();
    assert!(!log.contains("blob collection did not run"), "{log}");

    // Everything referenced still reads: the day's blobs, the static and dynamic exports, the
    // experiment's groups, an estimate; also after a restart (whose start-up pass runs too).
    for round in 0..2 {
        let m = t.ok("GET", &format!("/api/v1/apps/a/days/{DAY}/manifest"), &token, None)?;
        let days = t.ok("GET", "/api/v1/apps/a/days", &token, None)?;
        let manifest = days["days"][0]["manifest"].as_str().ok_or("manifest address")?.to_owned();
        let mut hashes = vec![manifest];
        for v in m["groups"].as_array().into_iter().flatten().flat_map(|g| g["values"].as_array().into_iter().flatten())
        {
            hashes.extend(
                [&v["full"]["blob"], &v["sample"]["blob"]].iter().filter_map(|b| b.as_str().map(str::to_owned)),
            );
        }
        for hash in &hashes {
            let r = t.call("GET", &format!("/api/v1/apps/a/blobs/{hash}"), &token, None)?;
            assert_eq!(r.status, 200, "round {round}: blob {hash}: {}", r.body);
        }
        let st = t.call("GET", "/api/v1/apps/a/segments/st/members", &token, None)?;
        assert_eq!(st.body, "user_id\nu1\nu2\nu3\nu4\n", "round {round}");
        let dynamic = t.call("GET", "/api/v1/apps/a/segments/dyn/members", &token, None)?;
        assert_eq!(dynamic.body.lines().count(), 1_001, "round {round}");
        let mut grouped = 0;
        for group in ["control", "treatment"] {
            let g = t.call("GET", &format!("/api/v1/apps/a/experiments/ab/groups/{group}/members"), &token, None)?;
            assert_eq!(g.status, 200, "round {round}: {}", g.body);
            grouped += g.body.lines().count() - 1;
        }
        assert_eq!(grouped, 1_000, "round {round}: the frozen groups are intact");
        let e = t.ok("POST", "/api/v1/apps/a/estimate", &token, Some(br#"{"rule":{"tag":"g","in":["v2"]}}"#))?;
        assert_eq!(e["count"], 1_000);
        if round == 0 {
            t.restart()?;
            assert_eq!(files_under(&blobs_dir), referenced, "the start-up pass keeps every referenced blob");
        }
    }
    Ok(())
}

#[test]
fn an_export_failing_mid_stream_breaks_the_download() -> Result<(), Error> {
    let (t, faults) = TestServer::start_with_faults(ADMIN, &[])?;
    let token = t.app_with_token("a", "editor")?;
    // Enough members for several 64 KiB batches.
    let mut rows = String::from("user_id,value\n");
    for i in 0..40_000 {
        rows.push_str(&format!("user-{i:08},v{}\n", i % 2));
    }
    t.ok("PUT", &format!("/api/v1/apps/a/days/{DAY}/tags/g"), &token, Some(rows.as_bytes()))?;
    let seg = json!({"id": "half", "name": "half", "kind": "dynamic", "rule": {"tag": "g", "in": ["v0"]}});
    t.ok("POST", "/api/v1/apps/a/segments", &token, Some(seg.to_string().as_bytes()))?;
    let split = json!({"id": "ab", "segment": "half", "salt": "s", "groups": [{"name": "all", "percent": 100.0}]});
    t.ok("POST", "/api/v1/apps/a/experiments", &token, Some(split.to_string().as_bytes()))?;
    let exports = ["/api/v1/apps/a/segments/half/members", "/api/v1/apps/a/experiments/ab/groups/all/members"];

    // Healthy: complete, and the chunked body ends properly.
    for path in exports {
        let r = t.call("GET", path, &token, None)?;
        assert_eq!((r.status, r.body.lines().count()), (200, 20_001), "{path}");
        let raw = sieve_tests::raw_exchange(
            t.server.addr,
            head("GET", path, &token, None).as_bytes(),
            Duration::from_secs(10),
        )?;
        assert!(raw.starts_with("HTTP/1.1 200") && raw.ends_with("\r\n0\r\n\r\n"), "{path}: a terminated body");
    }
    // A read failing after the first batch: every client must see an error, not a short 200.
    faults.inject("export eio\n")?;
    for path in exports {
        let r = t.call("GET", path, &token, None);
        assert!(r.is_err(), "{path}: the HTTP client reports a broken download, not {:?}", r.map(|r| r.status));
        let raw = sieve_tests::raw_exchange(
            t.server.addr,
            head("GET", path, &token, None).as_bytes(),
            Duration::from_secs(10),
        )?;
        assert!(raw.starts_with("HTTP/1.1 200"), "{path}: the failure came after the headers");
        assert!(raw.len() > 64 << 10, "{path}: and after a first batch ({} bytes)", raw.len());
        assert!(!raw.ends_with("\r\n0\r\n\r\n"), "{path}: the chunked body is not terminated");
    }
    let logged = |log: &str| log.contains("member export failed mid-stream");
    assert!(logged(&t.server.stderr_when(Duration::from_secs(10), logged)), "logged");
    faults.clear()?;
    let r = t.call("GET", exports[0], &token, None)?;
    assert_eq!(r.body.lines().count(), 20_001, "exports work again");
    Ok(())
}
