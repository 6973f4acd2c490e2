//! Checking every record ([`Embedded::verify_records`]: start-up and `sieve check`) and consistent
//! copies of the store ([`Embedded::snapshot_to`] while serving, [`copy_snapshot`] with no server).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle, WriteTransaction,
};

use super::{
    ACCESS, APPS, DAYS, DICT, DICT_REV, DayRecord, EXPERIMENTS, Embedded, IDEMPOTENCY, JOBS, META, SEGMENTS,
    StoreError, TOKENS, builder, catching, catching_quietly, dense_id, external_id, name, open_checked,
};
use crate::store::faults::Faults;
use crate::store::records::{self, KeyPart, RecordId};

/// What [`Embedded::verify_records`] found.
#[derive(Debug, Default)]
pub struct RecordReport {
    /// Records checked, in every table.
    pub records: u64,
    /// Apps (damaged records included).
    pub apps: u64,
    /// Each app's dictionary size (reverse entries, which are dense from 0).
    pub dict_sizes: BTreeMap<String, u32>,
    /// Damaged records (each also a line of `problems`).
    pub damaged: Vec<RecordId>,
    /// What is wrong, one line each.
    pub problems: Vec<String>,
}

impl RecordReport {
    fn damaged(&mut self, id: RecordId) {
        self.problems.push(format!("meta.redb: {id} failed its checksum"));
        self.damaged.push(id);
    }
}

impl Embedded {
    /// Checks every record's checksum, that each app's dictionary ids are dense and that both
    /// directions have as many entries; with `both_ways`, also that every reverse entry maps
    /// back (one lookup per user: `sieve check` does it, start-up does not).
    ///
    /// # Errors
    /// The store cannot be read (the problems it finds are in the report, not errors).
    pub fn verify_records(&self, both_ways: bool) -> Result<RecordReport, StoreError> {
        self.read(|txn| {
            let mut report = RecordReport::default();
            for (def, table) in [(APPS, name::APPS), (TOKENS, name::TOKENS)] {
                for row in txn.open_table(def)?.iter()? {
                    let (k, v) = row?;
                    report.records += 1;
                    report.apps += u64::from(table == name::APPS);
                    if records::open(table, &[KeyPart::Text(k.value())], v.value()).is_none() {
                        report.damaged(RecordId::new(table, &[KeyPart::Text(k.value())]));
                    }
                }
            }
            for (def, table) in [
                (DAYS, name::DAYS),
                (SEGMENTS, name::SEGMENTS),
                (EXPERIMENTS, name::EXPERIMENTS),
                (IDEMPOTENCY, name::IDEMPOTENCY),
                (JOBS, name::JOBS),
                (ACCESS, name::ACCESS),
            ] {
                for row in txn.open_table(def)?.iter()? {
                    let (k, v) = row?;
                    let (app, id) = k.value();
                    report.records += 1;
                    let key = [KeyPart::Text(app), KeyPart::Text(id)];
                    match records::open(table, &key, v.value()) {
                        None => report.damaged(RecordId::new(table, &key)),
                        Some(value) if table == name::DAYS => match serde_json::from_slice::<DayRecord>(value) {
                            Ok(day) if engine::blob::is_hash(&day.manifest) => {}
                            _ => report
                                .problems
                                .push(format!("meta.redb: days record `{app}/{id}` is not a day pointer")),
                        },
                        Some(_) => {}
                    }
                }
            }
            let mut forward: BTreeMap<String, u64> = BTreeMap::new();
            for row in txn.open_table(DICT)?.iter()? {
                let (k, v) = row?;
                let (app, ext) = k.value();
                report.records += 1;
                *forward.entry(app.to_owned()).or_default() += 1;
                let key = [KeyPart::Text(app), KeyPart::Text(ext)];
                if records::open(name::DICT, &key, v.value()).is_none_or(|v| v.len() != 4) {
                    report.damaged(RecordId::new(name::DICT, &key));
                }
            }
            let dict = txn.open_table(DICT)?;
            let mut reverse: BTreeMap<String, u64> = BTreeMap::new();
            for row in txn.open_table(DICT_REV)?.iter()? {
                let (k, v) = row?;
                let (app, id) = k.value();
                report.records += 1;
                *reverse.entry(app.to_owned()).or_default() += 1;
                let next = report.dict_sizes.entry(app.to_owned()).or_default();
                if id != *next {
                    report.problems.push(format!(
                        "meta.redb: dictionary of app `{app}` skips dense ids {next}..{id} (ids must be dense)"
                    ));
                }
                *next = id.saturating_add(1);
                let key = [KeyPart::Text(app), KeyPart::Id(id)];
                let Ok(ext) = external_id(name::DICT_REV, &key, v.value()) else {
                    report.damaged(RecordId::new(name::DICT_REV, &key));
                    continue;
                };
                if both_ways {
                    let back = dict
                        .get((app, ext))?
                        .and_then(|v| dense_id(name::DICT, &[KeyPart::Text(app), KeyPart::Text(ext)], v.value()).ok());
                    if back != Some(id) {
                        report.problems.push(format!(
                            "meta.redb: dictionary of app `{app}`: dense id {id} is `{ext}`, but `{ext}` maps to {}",
                            back.map_or("nothing".to_owned(), |b| b.to_string())
                        ));
                    }
                }
            }
            let apps: BTreeSet<&String> = forward.keys().chain(reverse.keys()).collect();
            let mut counts = Vec::new();
            for app in apps {
                let (f, r) = (forward.get(app).copied().unwrap_or(0), reverse.get(app).copied().unwrap_or(0));
                if f != r {
                    counts.push(format!("meta.redb: dictionary of app `{app}` has {f} ids one way and {r} the other"));
                }
            }
            report.problems.extend(counts);
            Ok(report)
        })
    }
}

/// Every table a copy takes, by name; [`copy_snapshot`] refuses a file holding any other, so a
/// table added later cannot be left out of backups silently.
pub(super) const COPIED: [&str; 11] = [
    "meta",
    "apps.2",
    "tokens.2",
    "dict.2",
    "dict_rev.2",
    "days.2",
    "segments.2",
    "experiments.2",
    "idempotency.2",
    "jobs.2",
    "access.2",
];

fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let from = src.open_table(def)?;
    let mut to = dst.open_table(def)?;
    let mut n = 0;
    for row in from.iter()? {
        let (k, v) = row?;
        to.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

impl Embedded {
    /// Writes a consistent copy of the store into a new file `dest` from one read transaction
    /// (exactly one committed state, whatever is committed meanwhile); returns the records
    /// copied. This is how `sieve backup` copies a store the server has open.
    ///
    /// # Errors
    /// `dest` exists or cannot be written, the store cannot be read, or it holds a table this
    /// build does not know.
    pub fn snapshot_to(&self, dest: &Path) -> Result<u64, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read()?;
        catching(|| copy_tables(&txn, dest)).unwrap_or_else(|panic| Err(StoreError::Panicked(panic)))
    }
}

/// [`Embedded::snapshot_to`] for a file no server has open (`sieve backup` when none runs). A file
/// that needs recovery (a crash) is opened, checked and recovered as at start-up.
///
/// # Errors
/// As [`Embedded::snapshot_to`]; a damaged `src` is [`StoreError::Unreadable`].
pub fn copy_snapshot(src: &Path, dest: &Path) -> Result<u64, StoreError> {
    let unreadable = |detail: String| StoreError::Unreadable { path: src.to_owned(), detail };
    let opened = catching_quietly(|| builder(None).open_read_only(src)).map_err(unreadable)?;
    let writer;
    let txn = match opened {
        Ok(db) => db.begin_read()?,
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Db(redb::Error::Io(e)));
        }
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(redb::Error::DatabaseAlreadyOpen.into()),
        Err(_) => {
            writer = open_checked(src, &Faults::off())?.0;
            writer.begin_read()?
        }
    };
    catching_quietly(|| copy_tables(&txn, dest)).map_err(unreadable)?
}

/// Copies every table seen by `txn` into a new database file `dest`.
fn copy_tables(txn: &ReadTransaction, dest: &Path) -> Result<u64, StoreError> {
    if dest.exists() {
        return Err(StoreError::Db(redb::Error::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists", dest.display()),
        ))));
    }
    let unknown: Vec<String> =
        txn.list_tables()?.map(|t| t.name().to_owned()).filter(|n| !COPIED.contains(&n.as_str())).collect();
    if !unknown.is_empty() {
        return Err(StoreError::UnknownTables(unknown));
    }
    let copy = Database::create(dest)?;
    let out = copy.begin_write()?;
    let mut n = copy_table(txn, &out, META)?;
    n += copy_table(txn, &out, APPS)?;
    n += copy_table(txn, &out, TOKENS)?;
    n += copy_table(txn, &out, DICT)?;
    n += copy_table(txn, &out, DICT_REV)?;
    n += copy_table(txn, &out, DAYS)?;
    n += copy_table(txn, &out, SEGMENTS)?;
    n += copy_table(txn, &out, EXPERIMENTS)?;
    n += copy_table(txn, &out, IDEMPOTENCY)?;
    n += copy_table(txn, &out, JOBS)?;
    n += copy_table(txn, &out, ACCESS)?;
    out.commit()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::super::*;
    use super::*;
    use crate::store::meta::{Meta, Role};

    #[test]
    fn a_healthy_store_verifies_clean_and_gaps_or_one_sided_entries_are_found() {
        let (_d, m) = published();
        let report = m.verify_records(true).expect("verify");
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.dict_sizes.get("x"), Some(&5));
        assert_eq!(report.apps, 1);
        assert_eq!(report.records, 1 + 1 + 5 + 5, "app, day, both directions");
        // A forward entry to a wrong (but sealed) id, and a missing reverse entry.
        let key = [KeyPart::Text("x"), KeyPart::Text("u1")];
        poke(&m, DICT, ("x", "u1"), &seal(name::DICT, &key, &4u32.to_le_bytes()));
        let db = m.embedded().db().expect("db");
        let txn = db.begin_write().expect("write");
        txn.open_table(DICT_REV).expect("rev").remove(("x", 2)).expect("remove");
        txn.commit().expect("commit");
        let problems = m.verify_records(true).expect("verify").problems;
        assert!(problems.iter().any(|p| p.contains("skips dense ids 2..3")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("5 ids one way and 4 the other")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("dense id 1 is `u1`, but `u1` maps to 4")), "{problems:?}");
    }

    #[test]
    fn a_snapshot_copy_holds_every_table_and_one_committed_state() {
        let (d, m) = published();
        m.segment_cas("x", "s", None, b"seg").expect("segment");
        m.idempotency_put("x", "k", b"rec").expect("key");
        m.experiment_create("x", "e", b"exp").expect("experiment");
        let token = crate::tokens::create_simple(&m, "x", Role::Viewer, "test").expect("token");
        // Every table the store has is one a copy takes: a new table must be added to COPIED.
        let db = m.embedded().db().expect("db");
        let names: Vec<String> =
            db.begin_read().expect("read").list_tables().expect("tables").map(|t| t.name().to_owned()).collect();
        drop(db);
        for n in &names {
            assert!(COPIED.contains(&n.as_str()), "table {n} is not copied by backups");
        }
        // Copied by the open store (as while serving), and from the closed file (no server).
        let copy = d.path().join("copy.redb");
        let n = m.snapshot_to(&copy).expect("copy");
        assert_eq!(
            n,
            1 + 1 + 1 + 5 + 5 + 1 + 1 + 1 + 1 + 1 + 1,
            "format, app, token, dict ×2, day, segment, experiment, key, the segment's backfill job, the token's record"
        );
        assert!(m.snapshot_to(&copy).is_err(), "never overwrites");
        let src = d.path().join("meta.redb");
        assert!(copy_snapshot(&src, &d.path().join("other.redb")).is_err(), "the file is in use");
        let c = Meta::open(&copy).expect("the copy opens");
        assert_eq!(c.dict_load("x").expect("dict"), m.dict_load("x").expect("dict"));
        drop(m);
        let again = d.path().join("again.redb");
        assert_eq!(copy_snapshot(&src, &again).expect("closed file"), n);
        drop(c);
        let c = Meta::open(&again).expect("the copy opens");
        assert_eq!(c.dict_load("x").expect("dict").len(), 5);
        assert_eq!(c.days("x").expect("days").len(), 1);
        assert_eq!(c.lookup_token(&token, 0).expect("token").map(|t| t.app).as_deref(), Some("x"));
        assert_eq!(c.experiment_get("x", "e").expect("exp").as_deref(), Some(&b"exp"[..]));
        let job = c.job_get("x", crate::jobs::JobKind::Segments).expect("job").expect("queued with the segment");
        assert_eq!(job.pending.keys().collect::<Vec<_>>(), ["2026-11-20"]);
        assert!(c.verify_records(true).expect("verify").problems.is_empty());
    }
}
