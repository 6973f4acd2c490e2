//! Sync chaos on the real binary (DESIGN.md §7): an upstream system pushes versioned segment
//! create / update / delete messages as retried tasks. Here every message is delivered one to
//! three times, all deliveries shuffled and sent by four concurrent senders, each with an
//! `Idempotency-Key`; some deliveries misuse a key (another message's body under it). A model
//! built from the answers says what must hold:
//! - every answer is 2xx, 422 `idempotency_key_reuse` (a key already recorded for another
//!   request) or 409 `idempotency_in_progress` (the same key running right now; the sender
//!   retries it later, as a real client would): never a 5xx;
//! - a replayed answer (`Idempotent-Replayed: true`) is byte for byte the key's first answer;
//! - each segment ends in the state of the highest version among the messages that ran
//!   (deletes as tombstones: 404, and a late lower-version create stays stale);
//! - the latest day's members follow the final definitions (`/users/{id}/tags`).
//!
//! The same runs against two replicas sharing PostgreSQL and Garage, senders split between them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sieve_tests::{Error, Reply, TestServer};

const ADMIN: &str = "chaos-admin";
const SEGMENTS: usize = 6;
const VERSIONS: u64 = 8;
const USERS: u32 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Delete,
}

/// One upstream message: a versioned operation on a segment.
#[derive(Debug, Clone)]
struct Message {
    id: String,
    version: u64,
    op: Op,
}

impl Message {
    /// Its segment's value of `g` (the rule of the dynamic segment it defines).
    fn value(&self) -> String {
        format!("v{}", self.version % 3)
    }

    fn name(&self) -> String {
        format!("{} v{}", self.id, self.version)
    }

    /// (method, path, body) of the HTTP request.
    fn request(&self) -> (&'static str, String, Option<String>) {
        let body = json!({
            "id": self.id,
            "name": self.name(),
            "kind": "dynamic",
            "rule": {"tag": "g", "in": [self.value()]},
            "version": self.version,
        });
        match self.op {
            Op::Create => ("POST", "/api/v1/apps/a/segments".to_owned(), Some(body.to_string())),
            Op::Update => ("PUT", format!("/api/v1/apps/a/segments/{}", self.id), Some(body.to_string())),
            Op::Delete => ("DELETE", format!("/api/v1/apps/a/segments/{}?version={}", self.id, self.version), None),
        }
    }
}

/// One delivery: message `msg` sent under the key of message `key_of` (a misuse when they differ).
#[derive(Debug, Clone, Copy)]
struct Delivery {
    msg: usize,
    key_of: usize,
}

#[derive(Debug, Default)]
struct Log {
    /// Per key: the first fresh (not replayed) 2xx answer, and which message it ran.
    first: HashMap<usize, (usize, Reply)>,
    /// Every (delivery, final answer).
    answers: Vec<(Delivery, Reply)>,
}

fn send(t: &TestServer, token: &str, messages: &[Message], d: Delivery, seed: u64) -> Result<Reply, Error> {
    let (method, path, body) = messages[d.msg].request();
    let key = format!("chaos-{seed:x}-{}", d.key_of);
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("idempotency-key", key.as_str())];
    // 409 in progress: the same key is running on another sender; retry shortly, like a client.
    for attempt in 0..200 {
        let r = t.http.send(method, &t.server.url(&path), &headers, body.as_deref().map(str::as_bytes))?;
        let in_progress = r.status == 409 && r.json().ok().is_some_and(|v| v["error"] == "idempotency_in_progress");
        if !in_progress {
            return Ok(r);
        }
        std::thread::sleep(Duration::from_millis(2 + attempt));
    }
    Err(format!("key {key} stayed in progress").into())
}

/// Sends every delivery of one seed's messages from four senders, sender `i` to replica
/// `i % replicas.len()`, then checks the model on every replica.
fn run(replicas: &[&TestServer], token: &str, seed: u64) -> Result<(), Error> {
    let t = replicas[0];
    let mut rng = sieve_tests::Rng(seed);
    // Per segment: versions 1..=VERSIONS, each a random operation.
    let mut messages = Vec::new();
    for s in 0..SEGMENTS {
        for version in 1..=VERSIONS {
            let op = [Op::Create, Op::Update, Op::Delete][rng.below(3)];
            messages.push(Message { id: format!("c{seed:x}-{s}"), version, op });
        }
    }
    // Each message delivered 1-3 times under its own key; one in eight also under a key of
    // another message (a misuse); then everything shuffled.
    let mut deliveries = Vec::new();
    for i in 0..messages.len() {
        for _ in 0..=rng.below(3) {
            deliveries.push(Delivery { msg: i, key_of: i });
        }
        if rng.below(8) == 0 {
            let other = rng.below(messages.len());
            if other != i {
                deliveries.push(Delivery { msg: i, key_of: other });
            }
        }
    }
    for i in (1..deliveries.len()).rev() {
        deliveries.swap(i, rng.below(i + 1));
    }
    let queue = Arc::new(Mutex::new(deliveries.into_iter().rev().collect::<Vec<_>>()));
    let log = Arc::new(Mutex::new(Log::default()));
    std::thread::scope(|scope| -> Result<(), Error> {
        let senders: Vec<_> = (0..4)
            .map(|i| {
                let (queue, log, messages) = (queue.clone(), log.clone(), &messages);
                let t = replicas[i % replicas.len()];
                scope.spawn(move || -> Result<(), Error> {
                    loop {
                        let Some(d) = queue.lock().map_err(|_| "poisoned")?.pop() else { return Ok(()) };
                        let r = send(t, token, messages, d, seed)?;
                        let mut log = log.lock().map_err(|_| "poisoned")?;
                        let fresh = (200..300).contains(&r.status) && r.header("idempotent-replayed").is_none();
                        if fresh && log.first.insert(d.key_of, (d.msg, r.clone_reply())).is_some() {
                            return Err(format!("seed {seed:x}: the key of message {} ran twice", d.key_of).into());
                        }
                        log.answers.push((d, r));
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().map_err(|_| "sender panicked")??;
        }
        Ok(())
    })?;

    let log = log.lock().map_err(|_| "poisoned")?;
    let (mut misuses_refused, mut replays) = (0, 0);
    for (d, r) in &log.answers {
        let what = format!("seed {seed:x}: message {} under key {}: {} {}", d.msg, d.key_of, r.status, r.body);
        match r.status {
            200 | 201 => {
                if r.header("idempotent-replayed") == Some("true") {
                    let (ran, first) = log.first.get(&d.key_of).ok_or_else(|| format!("{what}: replay of nothing"))?;
                    assert_eq!(*ran, d.msg, "{what}: a replay answers the request that ran under the key");
                    assert_eq!((r.status, &r.body), (first.status, &first.body), "{what}: replayed byte for byte");
                    replays += 1;
                }
            }
            422 => {
                assert_eq!(r.json()?["error"], "idempotency_key_reuse", "{what}");
                let (ran, _) = log.first.get(&d.key_of).ok_or_else(|| format!("{what}: 422 for an unused key"))?;
                assert_ne!(*ran, d.msg, "{what}: 422 only when the key ran another request");
                misuses_refused += 1;
            }
            _ => return Err(format!("{what}: unexpected answer").into()),
        }
    }
    let misuses = log.answers.iter().filter(|(d, _)| d.msg != d.key_of).count();
    assert!(misuses_refused > 0 || misuses == 0, "seed {seed:x}: some misuse must meet its key's record");
    assert!(replays > 0, "seed {seed:x}: duplicated deliveries must be replayed");
    eprintln!(
        "seed {seed:x}: {} messages, {} deliveries ({misuses} under another message's key): {replays} replayed, \
         {misuses_refused} refused 422, {} keys ran a request",
        messages.len(),
        log.answers.len(),
        log.first.len()
    );

    // The model: per segment, the highest-version message among those that ran.
    let mut last: BTreeMap<&str, &Message> = BTreeMap::new();
    for (ran, _) in log.first.values() {
        let m = &messages[*ran];
        if last.get(m.id.as_str()).is_none_or(|l| l.version < m.version) {
            last.insert(&m.id, m);
        }
    }
    let list = t.ok("GET", "/api/v1/apps/a/segments", token, None)?;
    let listed: BTreeMap<String, Value> = list["segments"]
        .as_array()
        .ok_or("list")?
        .iter()
        .filter_map(|s| Some((s["id"].as_str()?.to_owned(), s.clone())))
        .collect();
    for (id, m) in &last {
        let r = t.call("GET", &format!("/api/v1/apps/a/segments/{id}"), token, None)?;
        if m.op == Op::Delete {
            assert_eq!(r.status, 404, "seed {seed:x}: {id} ends deleted at v{}: {}", m.version, r.body);
            assert!(!listed.contains_key(*id), "seed {seed:x}: {id} is listed though deleted");
            // The tombstone holds the version: a late create below it stays stale.
            if m.version > 1 {
                let late = Message { id: (*id).to_owned(), version: m.version - 1, op: Op::Create };
                let (method, path, body) = late.request();
                let r = t.call(method, &path, token, body.as_deref().map(str::as_bytes))?;
                assert_eq!((r.status, r.json()?["applied"].as_bool()), (200, Some(false)), "seed {seed:x}: {}", r.body);
            }
        } else {
            assert_eq!(r.status, 200, "seed {seed:x}: {id} ends live at v{}: {}", m.version, r.body);
            let v = r.json()?;
            assert_eq!(
                (v["name"].as_str(), v["version"].as_u64(), v["rule"]["in"][0].as_str()),
                (Some(m.name().as_str()), Some(m.version), Some(m.value().as_str())),
                "seed {seed:x}: {id} holds its highest version"
            );
            assert_eq!(listed.get(*id).map(|s| &s["name"]), Some(&v["name"]), "seed {seed:x}: {id} in the list");
        }
    }
    // Members on the latest day follow the final definitions, on every replica.
    for (user, t) in [0, 1, 2, 7, USERS - 1].into_iter().zip(replicas.iter().cycle()) {
        let tags = t.ok("GET", &format!("/api/v1/apps/a/users/u{user}/tags"), token, None)?;
        let value = format!("v{}", user % 3);
        let mut expected: Vec<&str> =
            last.iter().filter(|(_, m)| m.op != Op::Delete && m.value() == value).map(|(id, _)| *id).collect();
        expected.sort_unstable();
        let mut got: Vec<&str> = tags["segments"]
            .as_array()
            .ok_or("segments")?
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| s.starts_with(&format!("c{seed:x}-")))
            .collect();
        got.sort_unstable();
        assert_eq!(got, expected, "seed {seed:x}: segments of u{user}");
    }
    Ok(())
}

/// A `Reply` copy (the helper type is not `Clone`).
trait CloneReply {
    fn clone_reply(&self) -> Reply;
}

impl CloneReply for Reply {
    fn clone_reply(&self) -> Reply {
        Reply { status: self.status, headers: self.headers.clone(), body: self.body.clone(), bytes: self.bytes.clone() }
    }
}

#[test]
fn shuffled_retried_and_misused_sync_messages_end_in_the_highest_version() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let editor = t.app_with_token("a", "editor")?;
    let service = t.token("a", "service")?;
    // A day to compute members on: u{i} has g = v{i % 3}.
    let mut rows = String::from("user_id,value\n");
    for i in 0..USERS {
        rows.push_str(&format!("u{i},v{}\n", i % 3));
    }
    t.ok("PUT", "/api/v1/apps/a/days/2026-11-20/tags/g", &editor, Some(rows.as_bytes()))?;
    for seed in [0x9E37_79B9_7F4A_7C15_u64, 0xC0FFEE, 42] {
        run(&[&t], &service, seed)?;
    }
    Ok(())
}

/// The same chaos sent to two replicas on PostgreSQL and Garage: two senders on each. A key
/// must still run once (the shared store holds it while it runs, and its record after), and
/// both replicas must end in the highest versions.
#[test]
fn the_same_messages_sent_to_two_replicas_converge_to_the_highest_version() -> Result<(), Error> {
    let store = sieve_tests::services::shared()?.store("chaos")?;
    let a = TestServer::start_with_env(ADMIN, &[], &store.vars())?;
    let b = TestServer::start_with_env(ADMIN, &[], &store.vars())?;
    let editor = a.app_with_token("a", "editor")?;
    let service = b.token("a", "service")?;
    let mut rows = String::from("user_id,value\n");
    for i in 0..USERS {
        rows.push_str(&format!("u{i},v{}\n", i % 3));
    }
    a.ok("PUT", "/api/v1/apps/a/days/2026-11-20/tags/g", &editor, Some(rows.as_bytes()))?;
    for seed in [0x5EED_0001_u64, 0xD1CE] {
        run(&[&a, &b], &service, seed)?;
    }
    Ok(())
}
