//! Record formats: format 1 kept bare values under the bare table names; format 2 (this build)
//! seals every value with its checksum (see `records`) in the `.2` tables. [`migrate`] brings a
//! format-1 file to format 2 in one transaction at its first open.

use redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::{
    ACCESS, APPS, DAYS, DICT, DICT_REV, EXPERIMENTS, FORMAT, IDEMPOTENCY, JOBS, META, SEGMENTS, StoreError, TOKENS,
    name, seal,
};
use crate::store::records::KeyPart;

/// Format 1: the same tables with bare values (read only by `migrate`).
pub(super) mod v1 {
    use redb::TableDefinition;
    pub const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
    pub const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
    pub const DICT: TableDefinition<(&str, &str), u32> = TableDefinition::new("dict");
    pub const DICT_REV: TableDefinition<(&str, u32), &str> = TableDefinition::new("dict_rev");
    pub const DAYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("days");
    pub const SEGMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("segments");
    pub const EXPERIMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("experiments");
    pub const IDEMPOTENCY: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("idempotency");
}

/// Creates every table (so read transactions never meet a missing one) and brings format 1
/// to format 2: every bare value is sealed, in the same transaction, and the old tables go.
/// A file of a newer format is refused rather than misread.
pub(super) fn migrate(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    let found = meta.get("format")?.map(|v| v.value());
    match found {
        Some(FORMAT) => {}
        Some(found) if found > FORMAT => return Err(StoreError::IncompatibleVersion { found, supported: FORMAT }),
        _ => {
            let v1_names = [
                v1::APPS.name(),
                v1::TOKENS.name(),
                v1::DICT.name(),
                v1::DICT_REV.name(),
                v1::DAYS.name(),
                v1::SEGMENTS.name(),
                v1::EXPERIMENTS.name(),
                v1::IDEMPOTENCY.name(),
            ];
            let old: Vec<redb::UntypedTableHandle> =
                txn.list_tables()?.filter(|t| v1_names.contains(&t.name())).collect();
            let had = |t: &str| old.iter().any(|h| h.name() == t);
            if had(v1::APPS.name()) {
                copy_sealed(txn, v1::APPS, APPS, |k, v| seal(name::APPS, &[KeyPart::Text(k)], v))?;
            }
            if had(v1::TOKENS.name()) {
                copy_sealed(txn, v1::TOKENS, TOKENS, |k, v| seal(name::TOKENS, &[KeyPart::Text(k)], v))?;
            }
            if had(v1::DICT.name()) {
                copy_sealed(txn, v1::DICT, DICT, |(app, ext), id| {
                    seal(name::DICT, &[KeyPart::Text(app), KeyPart::Text(ext)], &id.to_le_bytes())
                })?;
            }
            if had(v1::DICT_REV.name()) {
                copy_sealed(txn, v1::DICT_REV, DICT_REV, |(app, id), ext| {
                    seal(name::DICT_REV, &[KeyPart::Text(app), KeyPart::Id(id)], ext.as_bytes())
                })?;
            }
            for (old_def, new_def, table) in [
                (v1::DAYS, DAYS, name::DAYS),
                (v1::SEGMENTS, SEGMENTS, name::SEGMENTS),
                (v1::EXPERIMENTS, EXPERIMENTS, name::EXPERIMENTS),
                (v1::IDEMPOTENCY, IDEMPOTENCY, name::IDEMPOTENCY),
            ] {
                if had(old_def.name()) {
                    copy_sealed(txn, old_def, new_def, |(app, id), v| {
                        seal(table, &[KeyPart::Text(app), KeyPart::Text(id)], v)
                    })?;
                }
            }
            if !old.is_empty() {
                tracing::info!("metadata store migrated to record format {FORMAT} (checksummed records)");
            }
            for table in old {
                txn.delete_table(table)?;
            }
            meta.insert("format", FORMAT)?;
        }
    }
    txn.open_table(APPS)?;
    txn.open_table(TOKENS)?;
    txn.open_table(DICT)?;
    txn.open_table(DICT_REV)?;
    txn.open_table(DAYS)?;
    txn.open_table(SEGMENTS)?;
    txn.open_table(IDEMPOTENCY)?;
    txn.open_table(EXPERIMENTS)?;
    txn.open_table(JOBS)?;
    txn.open_table(ACCESS)?;
    Ok(())
}

/// Copies a format-1 table into its sealed format-2 table.
fn copy_sealed<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &WriteTransaction,
    src: TableDefinition<K, V>,
    dst: TableDefinition<K, &[u8]>,
    sealed: impl for<'k, 'v> Fn(K::SelfType<'k>, V::SelfType<'v>) -> Vec<u8>,
) -> Result<(), StoreError> {
    let src = txn.open_table(src)?;
    let mut dst = txn.open_table(dst)?;
    for row in src.iter()? {
        let (k, v) = row?;
        dst.insert(k.value(), sealed(k.value(), v.value()).as_slice())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::super::*;
    use super::*;
    use crate::store::meta::Meta;

    #[test]
    fn format_1_files_are_migrated_with_their_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("meta.redb");
        {
            let db = Database::create(&path).expect("v1 file");
            let txn = db.begin_write().expect("write");
            txn.open_table(v1::APPS)
                .expect("apps")
                .insert("x", br#"{"name":"X","created_ms":1}"#.as_slice())
                .expect("app");
            let day = br#"{"manifest":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","version":1,"published_ms":1}"#;
            txn.open_table(v1::DAYS).expect("days").insert(("x", "2026-11-20"), day.as_slice()).expect("day");
            let mut dict = txn.open_table(v1::DICT).expect("dict");
            let mut rev = txn.open_table(v1::DICT_REV).expect("rev");
            for (i, u) in ["a", "b"].into_iter().enumerate() {
                dict.insert(("x", u), i as u32).expect("dict");
                rev.insert(("x", i as u32), u).expect("rev");
            }
            txn.open_table(v1::SEGMENTS).expect("segments").insert(("x", "s"), b"{}".as_slice()).expect("seg");
            drop((dict, rev));
            txn.commit().expect("commit");
        }
        let m = Meta::open(&path).expect("migrates");
        assert!(m.app_exists("x").expect("app"));
        assert_eq!(m.dict_load("x").expect("dict"), ["a", "b"]);
        assert_eq!(m.dict_lookup("x", "b").expect("lookup"), Some(1));
        assert_eq!(m.day("x", "2026-11-20").expect("day").map(|d| d.version), Some(1));
        assert_eq!(m.segment_get("x", "s").expect("segment").as_deref(), Some(&b"{}"[..]));
        assert!(m.verify_records(true).expect("verify").problems.is_empty());
        let db = m.embedded().db().expect("db");
        let names: Vec<String> =
            db.begin_read().expect("read").list_tables().expect("tables").map(|t| t.name().to_owned()).collect();
        assert!(!names.iter().any(|n| n == "dict" || n == "days"), "old tables are gone: {names:?}");
        drop((db, m));
        assert_eq!(Meta::open(&path).expect("reopen").dict_load("x").expect("dict"), ["a", "b"], "migrated once");
    }

    #[test]
    fn a_newer_format_is_refused() {
        let (d, m) = meta();
        let db = m.embedded().db().expect("db");
        let txn = db.begin_write().expect("write");
        txn.open_table(META).expect("meta").insert("format", FORMAT + 1).expect("format");
        txn.commit().expect("commit");
        drop((db, m));
        let err = Meta::open(&d.path().join("meta.redb")).expect_err("newer");
        assert!(matches!(err, StoreError::IncompatibleVersion { found, supported: FORMAT } if found == FORMAT + 1));
    }
}
