//! The real `sieve serve` on a real socket: tokens and roles, app isolation, path ids, segment
//! CRUD with ETags, sync versions and tombstones, idempotency keys, body limits, load
//! shedding, slow clients, the OpenAPI document against the live routes, and real answers and
//! errors read with the wire types the app uses.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sieve_tests::{Error, Http, Reply, Server, raw_exchange};

const ADMIN: &str = "admin-secret-for-tests";

/// A server with the admin token set, and a client.
struct Api {
    server: Server,
    http: Http,
    _dir: tempfile::TempDir,
}

impl Api {
    fn start(extra: &[&str]) -> Result<Self, Error> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("index.html"), "<!doctype html><title>t</title>")?;
        let mut args = vec!["--admin-token", ADMIN];
        args.extend_from_slice(extra);
        let server = Server::start(dir.path(), &dir.path().join("data"), &args)?;
        Ok(Self { server, http: Http::default(), _dir: dir })
    }

    /// A request with an optional bearer token, extra headers and a JSON body.
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, Error> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(a) = &auth {
            all.push(("authorization", a));
        }
        let bytes = body.map(|b| b.to_string().into_bytes());
        if bytes.is_some() {
            all.push(("content-type", "application/json"));
        }
        self.http.send(method, &self.server.url(path), &all, bytes.as_deref())
    }

    fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, Error> {
        self.call(method, path, Some(ADMIN), &[], body)
    }

    /// Creates an app and returns tokens for it: (viewer, editor, service).
    fn app(&self, id: &str) -> Result<(String, String, String), Error> {
        let r = self.admin("POST", "/api/v1/apps", Some(&json!({"id": id, "name": format!("App {id}")})))?;
        assert_eq!(r.status, 201, "{}", r.body);
        let mut tokens = Vec::new();
        for role in ["viewer", "editor", "service"] {
            let r = self.admin("POST", &format!("/api/v1/apps/{id}/tokens"), Some(&json!({ "role": role })))?;
            assert_eq!(r.status, 201, "{}", r.body);
            let v = r.json()?;
            assert_eq!((v["app"].as_str(), v["role"].as_str()), (Some(id), Some(role)));
            tokens.push(v["token"].as_str().ok_or("no token")?.to_owned());
        }
        let service = tokens.pop().ok_or("no service token")?;
        let editor = tokens.pop().ok_or("no editor token")?;
        let viewer = tokens.pop().ok_or("no viewer token")?;
        Ok((viewer, editor, service))
    }
}

/// The `error` code of a JSON error reply, checking its shape on the way.
fn code(r: &Reply) -> String {
    assert_eq!(r.header("content-type"), Some("application/json"), "{} {}", r.status, r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body));
    assert!(v["message"].is_string(), "errors carry a message: {v}");
    v["error"].as_str().unwrap_or_default().to_owned()
}

fn dynamic(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "kind": "dynamic", "rule": {"tag": "gender", "in": ["female"]}})
}

#[test]
fn tokens_roles_and_app_isolation() -> Result<(), Error> {
    let api = Api::start(&[])?;
    // No token, a wrong token, a wrong scheme: 401 with a JSON body.
    for auth in [None, Some("Bearer nope"), Some("Basic YWRtaW46YWRtaW4=")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
        let r = api.http.send("GET", &api.server.url("/api/v1/apps/a/segments"), &headers, None)?;
        assert_eq!((r.status, code(&r).as_str()), (401, "unauthorized"), "{auth:?}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        let r = api.http.send("POST", &api.server.url("/api/v1/apps"), &headers, Some(b"{}"))?;
        assert_eq!(r.status, 401, "{auth:?}");
    }
    assert_eq!(api.call("GET", "/api/v1/health", None, &[], None)?.status, 200, "health is public");

    let (viewer, editor, service) = api.app("a")?;
    let (_, editor_b, _) = api.app("b")?;
    // Apps: 409 when taken, 400 for a bad id (naming the field), 403 for app tokens.
    let r = api.admin("POST", "/api/v1/apps", Some(&json!({"id": "a", "name": "again"})))?;
    assert_eq!((r.status, code(&r).as_str()), (409, "conflict"));
    let r = api.admin("POST", "/api/v1/apps", Some(&json!({"id": "has space", "name": "x"})))?;
    assert_eq!((r.status, code(&r).as_str()), (400, "invalid_field"));
    assert_eq!(r.json()?["field"], "id");
    let r = api.admin("POST", "/api/v1/apps", Some(&json!({"id": "c"})))?;
    assert_eq!((r.status, code(&r).as_str()), (400, "bad_request"), "missing name: {}", r.body);
    let r = api.call("POST", "/api/v1/apps", Some(&editor), &[], Some(&json!({"id": "c", "name": "c"})))?;
    assert_eq!((r.status, code(&r).as_str()), (403, "forbidden"));
    // Tokens: only known roles, only existing apps, only admins.
    let r = api.admin("POST", "/api/v1/apps/a/tokens", Some(&json!({"role": "owner"})))?;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = api.admin("POST", "/api/v1/apps/nope/tokens", Some(&json!({"role": "viewer"})))?;
    assert_eq!((r.status, code(&r).as_str()), (404, "not_found"));
    let r = api.call("POST", "/api/v1/apps/a/tokens", Some(&editor), &[], Some(&json!({"role": "editor"})))?;
    assert_eq!(r.status, 403);

    // Roles: viewers read, editors and service tokens write segments.
    let r = api.call("POST", "/api/v1/apps/a/segments", Some(&viewer), &[], Some(&dynamic("v", "V")))?;
    assert_eq!((r.status, code(&r).as_str()), (403, "forbidden"));
    let r = api.call("POST", "/api/v1/apps/a/segments", Some(&service), &[], Some(&dynamic("s", "S")))?;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api.call("POST", "/api/v1/apps/a/segments", Some(&editor), &[], Some(&dynamic("e", "E")))?;
    assert_eq!(r.status, 201, "{}", r.body);
    for token in [&viewer, &editor, &service] {
        let r = api.call("GET", "/api/v1/apps/a/segments", Some(token), &[], None)?;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()?["segments"].as_array().map(Vec::len), Some(2));
    }
    let r = api.call("GET", "/api/v1/apps/a/days", Some(&service), &[], None)?;
    assert_eq!(r.status, 403, "service tokens do not read snapshots: {}", r.body);

    // Another app's token: every route of app `a` answers 404, exactly like a missing app.
    let other = api.call("GET", "/api/v1/apps/a/segments/s", Some(&editor_b), &[], None)?;
    let missing = api.call("GET", "/api/v1/apps/zzz/segments/s", Some(&editor_b), &[], None)?;
    assert_eq!((other.status, missing.status), (404, 404));
    assert_eq!(other.body.replace("`a`", "`zzz`"), missing.body, "no hint that `a` exists");
    let blob = format!("/api/v1/apps/a/blobs/{}", "0".repeat(64));
    let probes: [(&str, &str, Option<Value>); 12] = [
        ("GET", "/api/v1/apps/a/segments", None),
        ("POST", "/api/v1/apps/a/segments", Some(dynamic("x", "X"))),
        ("GET", "/api/v1/apps/a/segments/s", None),
        ("PUT", "/api/v1/apps/a/segments/s", Some(dynamic("s", "X"))),
        ("DELETE", "/api/v1/apps/a/segments/s", None),
        ("GET", "/api/v1/apps/a/days", None),
        ("GET", "/api/v1/apps/a/days/2026-11-20/manifest", None),
        ("GET", &blob, None),
        ("POST", "/api/v1/apps/a/estimate", Some(json!({"rule": {"tag": "gender", "in": ["female"]}}))),
        ("PUT", "/api/v1/apps/a/days/2026-11-20/tags/gender", None),
        ("PUT", "/api/v1/apps/a/days/2026-11-20/events/visit", None),
        ("GET", "/api/v1/apps/a/users/u1/tags", None),
    ];
    for (method, path, body) in &probes {
        let r = api.call(method, path, Some(&editor_b), &[], body.as_ref())?;
        assert_eq!((r.status, code(&r).as_str()), (404, "not_found"), "{method} {path}: {}", r.body);
    }
    // And nothing changed in `a`.
    let r = api.call("GET", "/api/v1/apps/a/segments/s", Some(&editor), &[], None)?;
    assert_eq!(r.status, 200);
    Ok(())
}

#[test]
fn path_ids_are_validated() -> Result<(), Error> {
    let api = Api::start(&[])?;
    let (_, editor, _) = api.app("a")?;
    let long = "x".repeat(65);
    let cases = [
        (format!("/api/v1/apps/{long}/segments"), "app"),
        ("/api/v1/apps/a%20b/segments".to_owned(), "app"),
        ("/api/v1/apps/a/segments/bad%2Fid".to_owned(), "segment"),
        (format!("/api/v1/apps/a/segments/{long}"), "segment"),
        ("/api/v1/apps/a/segments/%C3%A4".to_owned(), "segment"),
        ("/api/v1/apps/a/days/2026-11-20/tags/bad%20group".to_owned(), "group"),
        (format!("/api/v1/apps/a/users/{}/tags", "%C3%A9".repeat(129)), "user_id"),
    ];
    for (path, field) in &cases {
        let method = if path.contains("/tags/") { "PUT" } else { "GET" };
        let r = api.call(method, path, Some(&editor), &[], None)?;
        assert_eq!((r.status, code(&r).as_str()), (400, "invalid_field"), "{path}: {}", r.body);
        assert_eq!(r.json()?["field"], *field, "{path}");
    }
    // A user id may be any UTF-8 (percent-encoded) up to 256 bytes: not a 400.
    let ok = format!("/api/v1/apps/a/users/{}/tags", "%E7%94%A8%E6%88%B7%2F42%20x");
    let r = api.call("GET", &ok, Some(&editor), &[], None)?;
    assert_ne!(r.status, 400, "{}", r.body);
    // A body id is checked too.
    let r = api.call("POST", "/api/v1/apps/a/segments", Some(&editor), &[], Some(&dynamic("no/slash", "x")))?;
    assert_eq!(r.json()?["field"], "segment", "{}", r.body);
    Ok(())
}

#[test]
fn segment_crud_with_etags() -> Result<(), Error> {
    let api = Api::start(&[])?;
    let (_, editor, _) = api.app("a")?;
    let ed = Some(editor.as_str());
    let base = "/api/v1/apps/a/segments";
    // Create.
    let r = api.call("POST", base, ed, &[], Some(&dynamic("women", "Women")))?;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json()?;
    assert_eq!((created["applied"].as_bool(), created["result"].as_str()), (Some(true), Some("created")));
    assert_eq!(created["segment"]["rule"], json!({"tag": "gender", "in": ["female"]}));
    let etag1 = r.header("etag").ok_or("no etag")?.to_owned();
    // Read.
    let r = api.call("GET", &format!("{base}/women"), ed, &[], None)?;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some(etag1.as_str()));
    assert_eq!(r.json()?, created["segment"]);
    // Update with the current ETag; the old one is then stale (412), for PUT and DELETE.
    let upd = json!({"name": "Women (all)", "description": "d", "kind": "dynamic",
                     "rule": {"any": [{"tag": "gender", "in": ["female"]}, {"segment": "vip"}]}});
    let r = api.call("PUT", &format!("{base}/women"), ed, &[("if-match", &etag1)], Some(&upd))?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()?["segment"]["name"], "Women (all)");
    let etag2 = r.header("etag").ok_or("no etag")?.to_owned();
    assert_ne!(etag1, etag2);
    let r = api.call("PUT", &format!("{base}/women"), ed, &[("if-match", &etag1)], Some(&upd))?;
    assert_eq!((r.status, code(&r).as_str()), (412, "precondition_failed"));
    let r = api.call("DELETE", &format!("{base}/women"), ed, &[("if-match", &etag1)], None)?;
    assert_eq!(r.status, 412);
    let r = api.call("PUT", &format!("{base}/women"), ed, &[("if-match", "*")], Some(&upd))?;
    assert_eq!(r.status, 200, "If-Match: * matches an existing segment");
    let r = api.call("PUT", &format!("{base}/ghost"), ed, &[("if-match", "*")], Some(&upd))?;
    assert_eq!(r.status, 412, "…and not a missing one");
    // Creating it again without a version: 409. Updating a missing one without a version: 404.
    let r = api.call("POST", base, ed, &[], Some(&dynamic("women", "Again")))?;
    assert_eq!((r.status, code(&r).as_str()), (409, "conflict"));
    let r = api.call("PUT", &format!("{base}/ghost"), ed, &[], Some(&upd))?;
    assert_eq!((r.status, code(&r).as_str()), (404, "not_found"));
    // Bad input.
    let bad_rule = json!({"id": "x", "name": "x", "kind": "dynamic",
        "rule": {"all": [{"tag": "a", "in": ["b"]}, {"tag": "c", "in": ["d"]}, {"not": 7}]}});
    let r = api.call("POST", base, ed, &[], Some(&bad_rule))?;
    assert_eq!((r.status, code(&r).as_str()), (400, "invalid_rule"));
    assert_eq!(r.json()?["path"], "all[2].not");
    let r = api.call(
        "POST",
        base,
        ed,
        &[],
        Some(&json!({"id": "x", "name": "x", "kind": "static", "rule": {"segment": "y"}})),
    )?;
    // The kind contradicts the body (which has a rule): the kind is what is named.
    assert_eq!((r.status, r.json()?["field"].as_str()), (400, Some("kind")));
    let r = api.call("POST", base, ed, &[], Some(&json!({"id": "x", "name": "x", "kind": "weird"})))?;
    assert_eq!((r.status, code(&r).as_str()), (400, "bad_request"));
    let bearer = format!("Bearer {editor}");
    let r = api.http.send("POST", &api.server.url(base), &[("authorization", &bearer)], Some(b"{not json"))?;
    assert_eq!((r.status, code(&r).as_str()), (400, "bad_request"));
    let r = api.call("PUT", &format!("{base}/women"), ed, &[], Some(&dynamic("other", "x")))?;
    assert_eq!((r.status, r.json()?["field"].as_str()), (400, Some("id")));
    // A static segment.
    let r = api.call("POST", base, ed, &[], Some(&json!({"id": "list", "name": "Uploaded", "kind": "static"})))?;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()?["segment"]["members"], Value::Null);
    // Delete: then 404, not listed; deleting again is 404.
    let r = api.call("DELETE", &format!("{base}/women"), ed, &[], None)?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.json()?["result"].as_str(), r.json()?["segment"].is_null()), (Some("deleted"), true));
    let r = api.call("GET", &format!("{base}/women"), ed, &[], None)?;
    assert_eq!(r.status, 404);
    let r = api.call("GET", base, ed, &[], None)?;
    let ids: Vec<String> = r.json()?["segments"]
        .as_array()
        .ok_or("list")?
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, ["list"]);
    let r = api.call("DELETE", &format!("{base}/women"), ed, &[], None)?;
    assert_eq!(r.status, 404);
    // After a delete, an unversioned create makes it anew.
    let r = api.call("POST", base, ed, &[], Some(&dynamic("women", "Women 2")))?;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_ne!(r.header("etag"), Some(etag1.as_str()));
    Ok(())
}

#[test]
fn sync_versions_and_tombstones() -> Result<(), Error> {
    let api = Api::start(&[])?;
    let (_, _, svc) = api.app("a")?;
    let svc = Some(svc.as_str());
    let base = "/api/v1/apps/a/segments";
    let with_version = |name: &str, v: u64| {
        let mut b = dynamic("s1", name);
        b["version"] = json!(v);
        b
    };
    // A delete overtakes the create it follows: the tombstone is recorded anyway…
    let r = api.call("DELETE", &format!("{base}/s1?version=5"), svc, &[], None)?;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json()?;
    assert_eq!(
        (v["applied"].as_bool(), v["result"].as_str(), v["version"].as_u64()),
        (Some(true), Some("deleted"), Some(5))
    );
    // …so the late create (v3) does not resurrect the segment: 200, applied false.
    let r = api.call("POST", base, svc, &[], Some(&with_version("late", 3)))?;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json()?;
    assert_eq!(
        (v["applied"].as_bool(), v["result"].as_str(), v["version"].as_u64()),
        (Some(false), Some("stale"), Some(5))
    );
    assert_eq!(api.call("GET", &format!("{base}/s1"), svc, &[], None)?.status, 404);
    // The same version again is a duplicate: stale too.
    let r = api.call("DELETE", &format!("{base}/s1?version=5"), svc, &[], None)?;
    assert_eq!(r.json()?["applied"], false);
    // A newer create does create.
    let r = api.call("POST", base, svc, &[], Some(&with_version("v6", 6)))?;
    assert_eq!(r.status, 201, "{}", r.body);
    // Updates: lower or equal is stale (and answers the current segment), higher applies.
    let mut upd = with_version("v6 again", 6);
    let r = api.call("PUT", &format!("{base}/s1"), svc, &[], Some(&upd))?;
    assert_eq!((r.status, r.json()?["applied"].as_bool()), (200, Some(false)));
    assert_eq!(r.json()?["segment"]["name"], "v6", "a stale answer shows what is stored");
    upd["version"] = json!(7);
    upd["name"] = json!("v7");
    let r = api.call("PUT", &format!("{base}/s1"), svc, &[], Some(&upd))?;
    assert_eq!((r.status, r.json()?["result"].as_str()), (200, Some("updated")));
    assert_eq!(r.json()?["segment"]["version"], 7);
    // A versioned update of a segment not seen yet creates it (its create is late).
    let mut early = dynamic("s2", "update first");
    early["version"] = json!(2);
    let r = api.call("PUT", &format!("{base}/s2"), svc, &[], Some(&early))?;
    assert_eq!((r.status, r.json()?["result"].as_str()), (201, Some("created")));
    let mut late_create = dynamic("s2", "create late");
    late_create["version"] = json!(1);
    let r = api.call("POST", base, svc, &[], Some(&late_create))?;
    assert_eq!(r.json()?["applied"], false);
    let r = api.call("GET", &format!("{base}/s2"), svc, &[], None)?;
    assert_eq!(r.json()?["name"], "update first");
    // A bad ?version= is a 400.
    let r = api.call("DELETE", &format!("{base}/s2?version=-1"), svc, &[], None)?;
    assert_eq!(r.status, 400);
    Ok(())
}

#[test]
fn shuffled_duplicated_sync_messages_end_in_the_highest_version() -> Result<(), Error> {
    let api = Api::start(&[])?;
    let (_, _, svc) = api.app("a")?;
    let svc = Some(svc.as_str());
    for seed in [0x9E37_79B9_7F4A_7C15_u64, 42, 7] {
        let mut rng = sieve_tests::Rng(seed);
        // Per segment: versions 1..=6, each a create, update or delete.
        let mut messages = Vec::new();
        let mut expected = Vec::new();
        for seg in 0..2 {
            let id = format!("p{seed:x}-{seg}");
            let mut last = None;
            for version in 1..=6u64 {
                let op = rng.below(3);
                messages.push((id.clone(), version, op));
                last = Some(op);
            }
            expected.push((id, last));
        }
        // Duplicate a few, then shuffle (Fisher–Yates).
        for _ in 0..4 {
            let dup = messages[rng.below(messages.len())].clone();
            messages.push(dup);
        }
        for i in (1..messages.len()).rev() {
            let j = rng.below(i + 1);
            messages.swap(i, j);
        }
        for (id, version, op) in &messages {
            let mut body = dynamic(id, &format!("v{version}"));
            body["version"] = json!(version);
            let r = match op {
                0 => api.call("POST", "/api/v1/apps/a/segments", svc, &[], Some(&body))?,
                1 => api.call("PUT", &format!("/api/v1/apps/a/segments/{id}"), svc, &[], Some(&body))?,
                _ => api.call("DELETE", &format!("/api/v1/apps/a/segments/{id}?version={version}"), svc, &[], None)?,
            };
            assert!(matches!(r.status, 200 | 201), "seed {seed}: {id} v{version} op {op}: {} {}", r.status, r.body);
        }
        for (id, last) in &expected {
            let r = api.call("GET", &format!("/api/v1/apps/a/segments/{id}"), svc, &[], None)?;
            if *last == Some(2) {
                assert_eq!(r.status, 404, "seed {seed}: {id} ends deleted");
            } else {
                assert_eq!(r.status, 200, "seed {seed}: {id}: {}", r.body);
                let v = r.json()?;
                assert_eq!((v["name"].as_str(), v["version"].as_u64()), (Some("v6"), Some(6)), "seed {seed}");
            }
        }
    }
    Ok(())
}

#[test]
fn idempotency_keys_replay_and_refuse_misuse() -> Result<(), Error> {
    let api = Api::start(&[])?;
    let (_, ed, _) = api.app("a")?;
    let ed = Some(ed.as_str());
    let base = "/api/v1/apps/a/segments";
    let key = [("idempotency-key", "create-women-1")];
    let first = api.call("POST", base, ed, &key, Some(&dynamic("women", "Women")))?;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    // The retry gets the first answer, byte for byte, and nothing runs twice.
    let retry = api.call("POST", base, ed, &key, Some(&dynamic("women", "Women")))?;
    assert_eq!((retry.status, retry.body.as_str()), (201, first.body.as_str()));
    assert_eq!(retry.header("etag"), first.header("etag"));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let r = api.call("GET", &format!("{base}/women"), ed, &[], None)?;
    assert_eq!(r.json()?["revision"], 1);
    // The same key with a different body: 422.
    let r = api.call("POST", base, ed, &key, Some(&dynamic("women", "Other name")))?;
    assert_eq!((r.status, code(&r).as_str()), (422, "idempotency_key_reuse"));
    // …or on another path or method.
    let r = api.call("PUT", &format!("{base}/women"), ed, &key, Some(&dynamic("women", "Women")))?;
    assert_eq!(r.status, 422);
    // A malformed key is a 400 naming the header.
    let r = api.call("POST", base, ed, &[("idempotency-key", "has space")], Some(&dynamic("w2", "x")))?;
    assert_eq!((r.status, r.json()?["field"].as_str()), (400, Some("Idempotency-Key")));
    // A retried delete gets its first answer, not a 404.
    let del = [("idempotency-key", "delete-women")];
    let r = api.call("DELETE", &format!("{base}/women"), ed, &del, None)?;
    assert_eq!(r.status, 200);
    let r2 = api.call("DELETE", &format!("{base}/women"), ed, &del, None)?;
    assert_eq!((r2.status, r2.body.as_str()), (200, r.body.as_str()));
    // A failed request is not recorded: after fixing the cause, the same key runs.
    let k = [("idempotency-key", "fix-and-retry")];
    let r = api.call("PUT", &format!("{base}/x"), ed, &k, Some(&dynamic("x", "X")))?;
    assert_eq!(r.status, 404);
    let r = api.call("POST", base, ed, &[], Some(&dynamic("x", "X")))?;
    assert_eq!(r.status, 201);
    let r = api.call("PUT", &format!("{base}/x"), ed, &k, Some(&dynamic("x", "X")))?;
    assert_eq!(r.status, 200, "{}", r.body);
    Ok(())
}

#[test]
fn oversized_bodies_get_413() -> Result<(), Error> {
    let api = Api::start(&["--json-limit-bytes", "1024"])?;
    let (_, ed, _) = api.app("a")?;
    let big = json!({"id": "big", "name": "x", "kind": "static", "description": "d".repeat(3000)});
    // Declared length over the limit: refused before the body is read.
    let r = api.call("POST", "/api/v1/apps/a/segments", Some(&ed), &[], Some(&big))?;
    assert_eq!((r.status, code(&r).as_str()), (413, "payload_too_large"), "{}", r.body);
    // A chunked body that grows past the limit: refused when it crosses it.
    let chunk = "x".repeat(600);
    let mut req = format!(
        "POST /api/v1/apps/a/segments HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {ed}\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    for _ in 0..3 {
        req.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    req.push_str("0\r\n\r\n");
    let reply = raw_exchange(api.server.addr, req.as_bytes(), Duration::from_secs(5))?;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("\"payload_too_large\""), "{reply}");
    // Under the limit is fine.
    let r = api.call("POST", "/api/v1/apps/a/segments", Some(&ed), &[], Some(&dynamic("ok", "fits")))?;
    assert_eq!(r.status, 201);
    Ok(())
}

#[test]
fn overload_is_shed_fast_with_503() -> Result<(), Error> {
    let api = Api::start(&["--max-inflight", "1"])?;
    // Hold the only slot: a request whose body never finishes arriving.
    let mut slow = TcpStream::connect(api.server.addr)?;
    let body = json!({"id": "slow", "name": "Slow"}).to_string();
    let head = format!(
        "POST /api/v1/apps HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes())?;
    slow.write_all(&body.as_bytes()[..5])?;
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile: a fast 503, not a wait.
    let started = Instant::now();
    let r = api.call("GET", "/api/v1/health", None, &[], None)?;
    let took = started.elapsed();
    assert_eq!((r.status, code(&r).as_str()), (503, "overloaded"), "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(took < Duration::from_secs(1), "shed in {took:?}");
    // The slow request completes normally once its body arrives, and the slot is free again.
    slow.write_all(&body.as_bytes()[5..])?;
    let mut reply = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(10)))?;
    slow.read_to_string(&mut reply)?;
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    assert_eq!(api.call("GET", "/api/v1/health", None, &[], None)?.status, 200);
    Ok(())
}

#[test]
fn slow_request_heads_are_cut_off() -> Result<(), Error> {
    let api = Api::start(&["--header-read-timeout-secs", "1"])?;
    let started = Instant::now();
    let reply =
        raw_exchange(api.server.addr, b"GET /api/v1/health HTTP/1.1\r\nhost: t\r\nx-slow: ", Duration::from_secs(10))?;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    assert!(!reply.contains("200 OK"), "{reply}");
    assert_eq!(api.call("GET", "/api/v1/health", None, &[], None)?.status, 200);
    Ok(())
}

#[test]
fn openapi_document_matches_the_live_routes() -> Result<(), Error> {
    let api = Api::start(&[])?;
    let r = api.call("GET", "/api/v1/openapi.json", None, &[], None)?;
    assert_eq!(r.status, 200, "public");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json()?;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().ok_or("paths")?;
    let mut checked = 0;
    for (template, item) in paths {
        let path = template
            .replace("{app}", "a")
            .replace("{ds}", "2026-11-20")
            .replace("{group}", "g")
            .replace("{event}", "e")
            .replace("{id}", "s")
            .replace("{hash}", &"0".repeat(64))
            .replace("{user_id}", "u")
            .replace("{kind}", "segments")
            .replace("{sync}", "x");
        assert!(!path.contains('{'), "unknown parameter in {template}");
        for (method, op) in item.as_object().ok_or("item")? {
            let method = method.to_uppercase();
            // Without a token: routed operations answer 200 (public) or 401, never the
            // fallbacks' 404 `no such resource` or 405.
            let r = api.call(&method, &path, None, &[], None)?;
            let public = op["security"].as_array().is_some_and(Vec::is_empty);
            if public {
                assert_eq!(r.status, 200, "{method} {template}");
            } else {
                assert_eq!(r.status, 401, "{method} {template}: {}", r.body);
            }
            checked += 1;
        }
    }
    assert!(checked >= 18, "{checked} operations");
    // And the fallbacks do look different.
    let r = api.call("GET", "/api/v1/apps/a/nothing-here", None, &[], None)?;
    assert_eq!((r.status, code(&r).as_str()), (404, "not_found"));
    let r = api.call("PATCH", "/api/v1/apps/a/segments", None, &[], None)?;
    assert_eq!(r.status, 405);
    Ok(())
}

/// Reads a JSON answer as the wire type the app reads it as, and checks nothing is lost on the
/// way: the value encodes back to exactly the JSON the server sent.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(r: &Reply) -> Result<T, Error> {
    let sent = r.json()?;
    let value: T = serde_json::from_value(sent.clone())?;
    assert_eq!(serde_json::to_value(&value)?, sent, "{} keeps every field", std::any::type_name::<T>());
    Ok(value)
}

#[test]
fn answers_and_errors_are_the_wire_types() -> Result<(), Error> {
    let api = Api::start(&[])?;
    let health: wire::Health = typed(&api.call("GET", "/api/v1/health", None, &[], None)?)?;
    assert_eq!(health.status, wire::HealthStatus::Ok);
    let app: wire::App = typed(&api.admin("POST", "/api/v1/apps", Some(&json!({"id": "w", "name": " W "})))?)?;
    let want = wire::App { id: "w".into(), name: "W".into(), ids: wire::IdKind::Strings, settings: None, role: None };
    assert_eq!(app, want);
    let created: wire::TokenCreated =
        typed(&api.admin("POST", "/api/v1/apps/w/tokens", Some(&json!({"role": "editor"})))?)?;
    assert_eq!((created.app.as_str(), created.info.role), ("w", wire::Role::Editor));
    assert!(created.info.id.starts_with("tk_"), "the answer carries the token's id");
    let editor = Some(created.token.as_str());
    let read: wire::App = typed(&api.call("GET", "/api/v1/apps/w", editor, &[], None)?)?;
    let settings = wire::AppSettings { min_audience: 0, epsilon: 0.5, daily_budget: 500.0 };
    assert_eq!(
        read,
        wire::App { settings: Some(settings), role: Some(wire::Role::Editor), ..app },
        "any token of the app reads it"
    );

    // A segment written with the app's input type, then read back, listed and written stale.
    let input = wire::SegmentInput {
        id: Some("s1".into()),
        name: "Static one".into(),
        description: None,
        kind: Some(wire::SegmentKind::Static),
        rule: None,
        version: Some(3),
    };
    let r = api.call("POST", "/api/v1/apps/w/segments", editor, &[], Some(&serde_json::to_value(&input)?))?;
    assert_eq!(r.status, 201, "{}", r.body);
    let written: wire::WriteResult = typed(&r)?;
    assert_eq!((written.applied, written.result, written.version), (true, wire::WriteOutcome::Created, Some(3)));
    let segment = written.segment.ok_or("the created segment")?;
    assert_eq!(
        (segment.kind, segment.rule.as_ref(), segment.description.as_str()),
        (wire::SegmentKind::Static, None, "")
    );
    let read: wire::Segment = typed(&api.call("GET", "/api/v1/apps/w/segments/s1", editor, &[], None)?)?;
    assert_eq!(read, segment);
    let listed: wire::SegmentList = typed(&api.call("GET", "/api/v1/apps/w/segments", editor, &[], None)?)?;
    assert_eq!(listed.segments, vec![segment]);
    let stale = wire::SegmentInput { version: Some(2), ..input };
    let r = api.call("PUT", "/api/v1/apps/w/segments/s1", editor, &[], Some(&serde_json::to_value(&stale)?))?;
    let written: wire::WriteResult = typed(&r)?;
    assert_eq!((written.applied, written.result, written.version), (false, wire::WriteOutcome::Stale, Some(3)));
    let history: wire::History = typed(&api.call("GET", "/api/v1/apps/w/segments/s1/history", editor, &[], None)?)?;
    assert_eq!((history.segment.as_str(), history.days.len()), ("s1", 0));

    // Errors say where the problem is, and the app's error type keeps it.
    let bad_rule =
        json!({"id": "d", "name": "D", "kind": "dynamic", "rule": {"all": [{"tag": "a", "in": ["b"]}, {"nope": 1}]}});
    let r = api.call("POST", "/api/v1/apps/w/segments", editor, &[], Some(&bad_rule))?;
    assert_eq!(r.status, 400);
    let e: wire::ErrorBody = typed(&r)?;
    assert_eq!(e.error, "invalid_rule");
    assert!(e.path.as_deref().is_some_and(|p| p.starts_with("all[1]")), "{e:?}");
    let r = api.call(
        "POST",
        "/api/v1/apps/w/segments",
        editor,
        &[],
        Some(&json!({"id": "e", "name": " ", "kind": "static"})),
    )?;
    let e: wire::ErrorBody = typed(&r)?;
    assert_eq!((r.status, e.error.as_str(), e.field.as_deref()), (400, "invalid_field", Some("name")));
    let r = api.http.send(
        "PUT",
        &api.server.url("/api/v1/apps/w/days/2026-01-02/tags/g"),
        &[("authorization", &format!("Bearer {}", created.token)), ("content-type", "text/csv")],
        Some(b"user_id,value\nu1,a\nu2\n"),
    )?;
    let e: wire::ErrorBody = typed(&r)?;
    assert_eq!((r.status, e.error.as_str()), (400, "invalid_upload"), "{}", r.body);
    assert_eq!(e.line, Some(3), "the header is line 1: {e:?}");
    let r = api.call("GET", "/api/v1/apps/w/nothing", editor, &[], None)?;
    let e: wire::ErrorBody = typed(&r)?;
    assert_eq!((r.status, e.error.as_str(), e.field, e.path, e.line), (404, "not_found", None, None, None));
    Ok(())
}
