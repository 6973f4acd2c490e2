//! The metadata store's tests (shared helpers for its child modules' tests).

use super::*;
use crate::store::faults::Faults;
use crate::store::meta::Meta;
use crate::store::meta::codec::{DayRecord, Publish};
use crate::store::records::RecordId;
use redb::ReadableDatabase;
use redb::TableDefinition;
use wire::IdKind;
use wire::Role;

pub(super) fn meta() -> (tempfile::TempDir, Meta) {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Meta::open(&dir.path().join("meta.redb")).expect("open");
    (dir, m)
}

#[test]
fn apps_and_tokens() {
    let (_d, m) = meta();
    assert!(m.create_app("demo", "Demo", IdKind::Strings).expect("create"));
    assert!(!m.create_app("demo", "Again", IdKind::Strings).expect("exists"));
    let secret = crate::tokens::create_simple(&m, "demo", Role::Editor, "test").expect("token");
    let info = m.lookup_token(&secret, 0).expect("lookup").expect("found");
    assert_eq!((info.app.as_str(), info.role, info.expires_ms), ("demo", Role::Editor, None));
    assert!(info.id.starts_with("tk_"), "{}", info.id);
    assert_eq!(m.lookup_token("sv_nope", 0).expect("lookup"), None);
}

#[test]
fn publish_is_atomic_and_checks_versions() {
    let (_d, m) = meta();
    let rec = |v| DayRecord { manifest: "a".repeat(64), version: v, published_ms: 1 };
    let ids = vec!["u1".to_owned(), "u2".to_owned()];
    m.publish(&Publish {
        app: "x",
        first_new_id: 0,
        new_ids: &ids,
        universe: None,
        days: vec![("2026-11-20".into(), 0, rec(1))],
        recompute: Vec::new(),
        records: Vec::new(),
    })
    .expect("first publish");
    assert_eq!(m.dict_lookup("x", "u2").expect("lookup"), Some(1));
    assert_eq!(m.dict_external("x", 0).expect("rev").as_deref(), Some("u1"));
    // A stale expected version changes nothing: neither the day nor the dictionary.
    let more = vec!["u3".to_owned()];
    let stale = Publish {
        app: "x",
        first_new_id: 2,
        new_ids: &more,
        universe: None,
        days: vec![("2026-11-20".into(), 0, rec(2))],
        recompute: Vec::new(),
        records: Vec::new(),
    };
    assert!(matches!(m.publish(&stale), Err(StoreError::Conflict { .. })));
    assert_eq!(m.dict_lookup("x", "u3").expect("lookup"), None);
    assert_eq!(m.day("x", "2026-11-20").expect("day").map(|d| d.version), Some(1));
    // Apps do not see each other's days or ids.
    assert!(m.days("y").expect("days").is_empty());
    assert_eq!(m.latest_day("y").expect("latest"), None);
    assert_eq!(m.latest_day("x").expect("latest").map(|d| d.0), Some("2026-11-20".to_owned()));
    assert_eq!(m.dict_lookup("y", "u1").expect("lookup"), None);
    assert_eq!(m.dict_load("x").expect("load"), ids);
}

#[test]
fn an_io_failure_reopens_the_store_and_loses_nothing_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let control = dir.path().join("faults");
    let m = Meta::open_with_faults(&dir.path().join("meta.redb"), Faults::with_control_file(&control)).expect("open");
    assert!(m.create_app("kept", "Kept", IdKind::Strings).expect("create"));
    std::fs::write(&control, "meta enospc\n").expect("fault on");
    let err = m.create_app("lost", "Lost", IdKind::Strings).expect_err("disk full");
    assert!(err.is_io(), "{err}");
    assert_eq!(err.io_error().map(std::io::Error::kind), Some(std::io::ErrorKind::StorageFull));
    // Reads go on (the failed handle was dropped, the file reopened), and show the last commit.
    assert!(m.app_exists("kept").expect("read while full"));
    assert!(!m.app_exists("lost").expect("read while full"));
    assert!(m.segment_cas("kept", "s", None, b"x").expect_err("still full").is_io());
    std::fs::remove_file(&control).expect("fault off");
    assert!(m.create_app("after", "After", IdKind::Strings).expect("writes work again"));
    let ids: Vec<String> = m.apps().expect("apps").into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["after", "kept"]);
    // And the file holds exactly that when opened afresh.
    drop(m);
    let again = Meta::open(&dir.path().join("meta.redb")).expect("reopen");
    assert_eq!(again.apps().expect("apps").len(), 2);
}

/// Writes raw bytes under a key, as damage or a foreign writer would (bypassing `seal`).
pub(super) fn poke<K: redb::Key + 'static>(
    m: &Meta,
    def: TableDefinition<K, &[u8]>,
    key: K::SelfType<'_>,
    value: &[u8],
) {
    let db = m.embedded().db().expect("db");
    let txn = db.begin_write().expect("write");
    txn.open_table(def).expect("table").insert(key, value).expect("insert");
    txn.commit().expect("commit");
}

pub(super) fn stored<K: redb::Key + 'static>(
    m: &Meta,
    def: TableDefinition<K, &[u8]>,
    key: K::SelfType<'_>,
) -> Vec<u8> {
    let db = m.embedded().db().expect("db");
    let txn = db.begin_read().expect("read");
    txn.open_table(def).expect("table").get(key).expect("get").expect("present").value().to_vec()
}

pub(super) fn published() -> (tempfile::TempDir, Meta) {
    let (d, m) = meta();
    m.create_app("x", "X", IdKind::Strings).expect("app");
    let rec = DayRecord { manifest: "a".repeat(64), version: 1, published_ms: 1 };
    let ids: Vec<String> = (0..5).map(|i| format!("u{i}")).collect();
    m.publish(&Publish {
        app: "x",
        first_new_id: 0,
        new_ids: &ids,
        universe: None,
        days: vec![("2026-11-20".into(), 0, rec)],
        recompute: Vec::new(),
        records: Vec::new(),
    })
    .expect("publish");
    (d, m)
}

#[test]
fn a_reverse_entry_changed_into_another_real_user_is_refused_not_served() {
    let (_d, m) = published();
    // The attack: id 2's entry now holds id 3's (valid, sealed) bytes, i.e. another real user.
    let u3 = stored(&m, DICT_REV, ("x", 3));
    poke(&m, DICT_REV, ("x", 2), &u3);
    let err = m.dict_external("x", 2).expect_err("damaged");
    assert!(matches!(&err, StoreError::Damaged(id) if id.table == "dict_rev" && id.key == "x/2"), "{err}");
    assert!(err.is_damage());
    let mut seen = Vec::new();
    let err = m.dict_externals("x", 0..5, |id, ext| seen.push((id, ext.to_owned()))).expect_err("export stops");
    assert!(err.is_damage());
    assert_eq!(seen, [(0, "u0".to_owned()), (1, "u1".to_owned())], "nothing after the damaged entry");
    assert!(m.dict_load("x").expect_err("load").is_damage());
    assert_eq!(m.damaged().len(), 1, "noted once for health: {:?}", m.damaged());
    assert_eq!(m.dict_external("x", 3).expect("others still served").as_deref(), Some("u3"));
    let report = m.verify_records(true).expect("verify");
    assert_eq!(report.damaged, [RecordId { table: "dict_rev", key: "x/2".into() }]);
}

#[test]
fn a_day_pointer_with_one_hex_digit_changed_is_refused() {
    let (_d, m) = published();
    let mut bytes = stored(&m, DAYS, ("x", "2026-11-20"));
    let at = bytes.iter().position(|&b| b == b'a').expect("a hex digit of the manifest");
    bytes[at] = b'b';
    poke(&m, DAYS, ("x", "2026-11-20"), &bytes);
    for err in [
        m.day("x", "2026-11-20").expect_err("day"),
        m.days("x").expect_err("days"),
        m.latest_day("x").expect_err("latest"),
    ] {
        assert!(matches!(&err, StoreError::Damaged(id) if id.table == "days"), "{err}");
    }
    // A publish over it fails too, rather than trusting its version.
    let rec = DayRecord { manifest: "c".repeat(64), version: 2, published_ms: 2 };
    let p = Publish {
        app: "x",
        first_new_id: 5,
        new_ids: &[],
        universe: None,
        days: vec![("2026-11-20".into(), 1, rec)],
        recompute: Vec::new(),
        records: Vec::new(),
    };
    assert!(m.publish(&p).expect_err("publish").is_damage());
    assert_eq!(m.verify_records(false).expect("verify").damaged.len(), 1);
}

#[test]
fn damage_to_the_last_commit_of_a_cleanly_closed_file_is_refused_not_rolled_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.redb");
    {
        let m = Meta::open(&path).expect("open");
        m.segment_cas("x", "s", None, b"first version of the record").expect("first");
        m.segment_cas("x", "s", Some(b"first version of the record"), b"SECOND VERSION OF THE RECORD")
            .expect("second, acknowledged");
    }
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes.windows(8).position(|w| w == b"SECOND V").expect("the last commit's page");
    bytes[at] ^= 0xff;
    std::fs::write(&path, bytes).expect("damage");
    // redb refuses to fall back itself: a clean close ends with a two-phase commit.
    let err = Meta::open(&path).expect_err("the acknowledged write must not vanish silently");
    assert!(matches!(&err, StoreError::Unreadable { detail, .. } if detail.contains("corrupted")), "{err:?}");
}

#[test]
fn a_file_that_is_not_a_store_is_unreadable_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.redb");
    std::fs::write(&path, vec![0x5a; 64 * 1024]).expect("garbage");
    let err = Meta::open(&path).expect_err("garbage");
    assert!(matches!(err, StoreError::Unreadable { .. }), "{err:?}");
}

#[test]
fn segment_cas() {
    let (_d, m) = meta();
    assert!(m.segment_cas("a", "s", None, b"v1").expect("create"));
    assert!(!m.segment_cas("a", "s", None, b"v1'").expect("lost race"));
    assert!(m.segment_cas("a", "s", Some(b"v1"), b"v2").expect("update"));
    assert_eq!(m.segment_get("a", "s").expect("get").as_deref(), Some(&b"v2"[..]));
    assert_eq!(m.segment_list("a").expect("list").len(), 1);
    assert!(m.segment_list("b").expect("list").is_empty());
}
