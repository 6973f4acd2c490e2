//! The metadata store's promises (`server::store::meta::Backend`) on both backends: the
//! embedded redb store and PostgreSQL (a real server, `.dev/services.sh`). The same script of
//! calls runs on each and must give the same answers, so each backend is the other's oracle;
//! races between threads (as between replicas) must have exactly one winner and lose nothing;
//! a row damaged behind the server's back is refused, never served; a schema newer than the
//! build is refused at connect.

use std::collections::BTreeSet;
use std::sync::Arc;

use server::jobs::{JobKind, Transitions};
use server::store::meta::postgres::Postgres;
use server::store::meta::{DayRecord, Meta, Publish, StoreError};
use sieve_tests::Error;
use sieve_tests::services::{self, psql};
use wire::IdKind;

/// Stores by backend name.
type Stores = Vec<(&'static str, Arc<Meta>)>;

/// A redb store and a PostgreSQL store, both empty; the temp dir keeps the redb file.
fn both(test: &str) -> Result<(tempfile::TempDir, Stores, String), Error> {
    let dir = tempfile::tempdir()?;
    let redb = Meta::open(&dir.path().join("meta.redb"))?;
    let store = services::shared()?.store(test)?;
    let pg = Meta::new(Box::new(Postgres::connect(&store.meta_url)?));
    Ok((dir, vec![("redb", Arc::new(redb)), ("postgres", Arc::new(pg))], store.meta_url))
}

fn day(manifest: char, version: u64) -> DayRecord {
    DayRecord { manifest: manifest.to_string().repeat(64), version, published_ms: 1 }
}

/// Every answer of one script of calls, as text, in order.
fn script(m: &Meta) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut say = |s: String| out.push(s);
    say(format!("{}", m.create_app("b", "B", IdKind::Strings)?));
    say(format!("{}", m.create_app("a", "A", IdKind::U32)?));
    say(format!("{}", m.create_app("a", "again", IdKind::Strings)?));
    let apps: Vec<(String, IdKind)> = m.apps()?.into_iter().map(|(id, r)| (id, r.ids)).collect();
    say(format!("{apps:?}"));
    let secret = server::tokens::create_simple(m, "a", wire::Role::Viewer, "test")?;
    say(format!("{:?} {:?}", m.lookup_token(&secret, 0)?.map(|t| t.role), m.lookup_token("sv_nope", 0)?));
    // A token's life: rotated with a grace period, then revoked; its secrets and its record
    // change together.
    let unavailable = |e: server::tokens::TokenError| StoreError::Unavailable(e.to_string());
    let last_use = server::tokens::LastUse::default();
    let id = server::tokens::list(m, "a", &last_use, 0)?[0].id.clone();
    let (rotated, _) = server::tokens::rotate(m, "a", &id, 1_000, 5_000).map_err(unavailable)?;
    say(format!(
        "{:?} {:?} {:?}",
        m.lookup_token(&secret, 5_500)?.map(|t| t.expires_ms),
        m.lookup_token(&secret, 6_000)?,
        m.lookup_token(&rotated, 9_999)?.map(|t| t.role)
    ));
    server::tokens::revoke(m, "a", &id).map_err(unavailable)?;
    say(format!("{:?} {:?}", m.lookup_token(&rotated, 0)?, server::tokens::list(m, "a", &last_use, 0)?.len()));
    // The access table: read-change-write, and lists by prefix from just after a key.
    for k in ["x/1", "x/2", "x/3", "y/1", "w/1"] {
        m.access_update("a", k, |c| Some(format!("{k}:{}", c.is_some()).into_bytes()))?;
    }
    m.access_update("a", "x/2", |c| {
        c.map(|mut v| {
            v.push(b'!');
            v
        })
    })?;
    m.access_update("a", "x/3", |_| None)?;
    let list = |prefix, after, limit| -> Result<Vec<(String, String)>, StoreError> {
        Ok(m.access_list("a", prefix, after, limit)?
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect())
    };
    say(format!("{:?} {:?} {:?}", list("x/", Some("x/1"), 10)?, list("x/", None, 2)?, list("", Some("x/"), 1)?));
    say(format!("{:?} {:?}", m.access_get("a", "y/1")?, m.access_get("b", "y/1")?));
    let ids: Vec<String> = (0..5).map(|i| format!("u{i}")).collect();
    let first = Publish {
        app: "b",
        first_new_id: 0,
        new_ids: &ids,
        universe: None,
        days: vec![("2026-11-21".into(), 0, day('a', 1)), ("2026-11-20".into(), 0, day('b', 1))],
        recompute: vec![],
        records: vec![],
    };
    say(format!("{:?}", m.publish(&first)));
    // A stale version and a dictionary that moved are both refused, changing nothing.
    say(format!("{:?}", m.publish(&Publish { new_ids: &[], ..first.clone() }).map_err(|e| e.to_string())));
    let more = vec!["u9".to_owned()];
    let moved = Publish {
        app: "b",
        first_new_id: 3,
        new_ids: &more,
        universe: None,
        days: vec![],
        recompute: vec![],
        records: vec![],
    };
    say(format!("{:?}", m.publish(&moved).map_err(|e| e.to_string())));
    let next = Publish {
        app: "b",
        first_new_id: 5,
        new_ids: &more,
        universe: None,
        days: vec![("2026-11-21".into(), 1, day('c', 2))],
        recompute: vec!["2026-11-21".into()],
        records: vec![],
    };
    say(format!("{:?}", m.publish(&next)));
    say(format!("{:?}", m.days("b")?));
    say(format!("{:?} {:?}", m.latest_day("b")?, m.latest_day("a")?));
    say(format!("{:?} {:?} {:?}", m.dict_lookup("b", "u9")?, m.dict_lookup("a", "u9")?, m.dict_external("b", 2)?));
    say(format!("{:?} {:?}", m.dict_load("b")?, m.dict_load_from("b", 4)?));
    let mut streamed = Vec::new();
    m.dict_externals("b", [1, 3, 5, 77].into_iter(), |id, ext| streamed.push(format!("{id}={ext}")))?;
    say(format!("{streamed:?}"));
    // Segments: compare-and-set, queuing every day's recompute with the change.
    say(format!("{}", m.segment_cas("b", "s", None, b"v1")?));
    say(format!("{}", m.segment_cas("b", "s", None, b"v1'")?));
    say(format!("{}", m.segment_cas("b", "s", Some(b"v0"), b"v2")?));
    say(format!("{}", m.segment_cas("b", "s", Some(b"v1"), b"v2")?));
    say(format!("{:?} {:?}", m.segment_get("b", "s")?, m.segment_list("b")?));
    let job = m.job_get("b", JobKind::Segments)?.ok_or(StoreError::NoApp("job".into()))?;
    say(format!("{:?} {}", job.pending.keys().collect::<Vec<_>>(), job.total));
    say(format!("{} {}", m.experiment_create("b", "e", b"x")?, m.experiment_create("b", "e", b"y")?));
    say(format!("{:?} {:?}", m.experiment_get("b", "e")?, m.experiment_list("b")?));
    m.idempotency_put("b", "k", b"r1")?;
    m.idempotency_put("b", "k", b"r2")?;
    say(format!("{:?} {:?}", m.idempotency_get("b", "k")?, m.idempotency_get("a", "k")?));
    // Deleting a day queues the later ones.
    say(format!("{:?}", m.delete_day("b", "2026-11-20")?));
    say(format!("{:?}", m.delete_day("b", "2026-11-20")?));
    let jobs: Vec<(String, usize)> = m.job_list()?.into_iter().map(|j| (j.app, j.pending.len())).collect();
    say(format!("{jobs:?}"));
    let report = m.verify_records(true)?;
    say(format!("{} {:?} {:?}", report.apps, report.dict_sizes, report.problems));
    Ok(out)
}

#[test]
fn both_backends_give_the_same_answers_to_the_same_calls() -> Result<(), Error> {
    let (_dir, stores, _) = both("same_answers")?;
    let redb = script(&stores[0].1)?;
    let pg = script(&stores[1].1)?;
    assert!(redb.len() > 25);
    for (i, (r, p)) in redb.iter().zip(&pg).enumerate() {
        assert_eq!(r, p, "answer {i} differs: redb `{r}`, PostgreSQL `{p}`");
    }
    assert_eq!(redb.len(), pg.len());
    Ok(())
}

#[test]
fn racing_writers_have_one_winner_and_lose_nothing() -> Result<(), Error> {
    let (_dir, stores, _) = both("races")?;
    for (name, m) in &stores {
        // Eight creators of one segment: exactly one wins.
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let m = m.clone();
                    s.spawn(move || m.segment_cas("r", "seg", None, &[i]).unwrap_or(false))
                })
                .collect();
            handles.into_iter().map(|h| usize::from(h.join().unwrap_or(false))).sum()
        });
        assert_eq!(wins, 1, "{name}: one creator wins");
        // Eight writers each queue their own days on one job at once: every day is queued.
        std::thread::scope(|s| {
            for t in 0..8 {
                let m = m.clone();
                s.spawn(move || {
                    for d in 0..5 {
                        let ds = format!("2026-10-{:02}", 1 + t * 3 + d % 3);
                        let tag = format!("{t}-{d}");
                        m.job_update("r", JobKind::Segments, |j| {
                            let mut job = server::jobs::Job::enqueue(j, "r", JobKind::Segments, &[ds], 1);
                            job.problems.push(wire::Problem {
                                ds: tag,
                                segment: String::new(),
                                message: String::new(),
                            });
                            Some(job)
                        })
                        .expect("update");
                    }
                });
            }
        });
        let job = m.job_get("r", JobKind::Segments)?.ok_or("job")?;
        let tags: BTreeSet<&str> = job.problems.iter().map(|p| p.ds.as_str()).collect();
        assert_eq!(tags.len(), 40, "{name}: all 40 read-change-writes kept ({} kept)", tags.len());
        assert_eq!(job.pending.len(), 24, "{name}: every queued day");
    }
    Ok(())
}

#[test]
fn a_row_damaged_behind_the_servers_back_is_refused_not_served() -> Result<(), Error> {
    let store = services::shared()?.store("damage")?;
    let m = Meta::new(Box::new(Postgres::connect(&store.meta_url)?));
    m.create_app("x", "X", IdKind::Strings)?;
    let ids: Vec<String> = (0..5).map(|i| format!("u{i}")).collect();
    m.publish(&Publish {
        app: "x",
        first_new_id: 0,
        new_ids: &ids,
        universe: None,
        days: vec![("2026-11-20".into(), 0, day('a', 1))],
        recompute: vec![],
        records: vec![],
    })?;
    // Id 2's reverse entry now holds id 3's (valid, sealed) bytes: another real user.
    psql(
        &store.meta_url,
        "UPDATE dict_rev SET record = (SELECT record FROM dict_rev WHERE app = 'x' AND id = 3) WHERE app = 'x' AND id = 2",
    )?;
    let err = m.dict_external("x", 2).expect_err("damaged");
    assert!(err.is_damage(), "{err}");
    assert_eq!(m.dict_external("x", 3)?.as_deref(), Some("u3"), "the rest is still served");
    assert!(m.dict_load("x").expect_err("a load meets it").is_damage());
    assert_eq!(m.damaged().len(), 1, "listed for /health");
    // One hex digit of the day pointer changed.
    psql(&store.meta_url, "UPDATE days SET record = overlay(record placing 'b'::bytea from 30 for 1) WHERE app = 'x'")?;
    assert!(m.day("x", "2026-11-20").expect_err("day").is_damage());
    let report = m.verify_records(true)?;
    let damaged: BTreeSet<String> = report.damaged.iter().map(|d| format!("{}:{}", d.table, d.key)).collect();
    assert_eq!(damaged, BTreeSet::from(["dict_rev:x/2".to_owned(), "days:x/2026-11-20".to_owned()]), "{report:?}");
    Ok(())
}

#[test]
fn a_schema_newer_than_the_build_is_refused_and_replicas_migrate_once() -> Result<(), Error> {
    let store = services::shared()?.store("schema")?;
    // Four replicas starting at once on an empty database: one applies the schema, all start.
    std::thread::scope(|s| -> Result<(), Error> {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| Postgres::connect(&store.meta_url).map(|_| ()))).collect();
        for h in handles {
            h.join().map_err(|_| "connect panicked")??;
        }
        Ok(())
    })?;
    let versions = psql(&store.meta_url, "SELECT string_agg(version::text, ',' ORDER BY version) FROM sieve_schema")?;
    let expected: Vec<String> =
        server::store::meta::postgres::schema::MIGRATIONS.iter().map(|m| m.0.to_string()).collect();
    assert_eq!(versions, expected.join(","), "each migration applied once");
    psql(&store.meta_url, "INSERT INTO sieve_schema (version) VALUES (9999)")?;
    let err = Postgres::connect(&store.meta_url).expect_err("newer schema");
    assert!(matches!(err, StoreError::IncompatibleVersion { found: 9999, .. }), "{err}");
    Ok(())
}
