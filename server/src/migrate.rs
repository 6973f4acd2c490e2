//! `sieve migrate`: an embedded install (a data directory) copied into PostgreSQL and object
//! storage, so replicas can serve it, then checked record by record and blob by blob.
//!
//! Order makes every stage safe to stop and run again: blobs first (a record copied later never
//! names a blob the target lacks), then records table by table, verbatim (their seals travel
//! with them), each batch one transaction that keeps records already there. Then the check:
//! every source record is in the target with the same bytes, every source blob reads back from
//! the target and hashes to its address, and the target's own check finds nothing wrong. A
//! target that holds a *different* record under a source key is a conflict: reported, never
//! overwritten. The data directory is locked meanwhile (no server may run on it) and is not
//! changed.

use std::collections::HashMap;
use std::path::Path;

use crate::store::meta::codec::{RawKey, RawRecord, TABLES};
use crate::store::meta::postgres::Postgres;
use crate::store::meta::{Meta, StoreError};
use crate::store::{BlobError, BlobStore, FsBlobStore};

/// Records per import transaction.
const BATCH: usize = 5_000;
/// Blobs per parallel put.
const BLOB_BATCH: usize = 32;

/// Why a migration stopped. What was copied before stays (a new run continues from it).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The data directory is in use or cannot be locked.
    #[error(transparent)]
    Locked(#[from] crate::backup::BackupError),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The target blob store cannot be opened.
    #[error(transparent)]
    Open(#[from] crate::state::OpenError),
    /// The source is damaged: copying it would spread the damage.
    #[error("the data directory's metadata has problems ({0}); run `sieve check` and restore a backup first")]
    DamagedSource(String),
    /// The copy does not match the source.
    #[error("the copy does not match: {0}")]
    Mismatch(String),
}

/// What a migration did.
#[derive(Debug, Default)]
pub struct Report {
    /// Blobs written to the target / found there already.
    pub blobs_copied: u64,
    /// Blobs the target had.
    pub blobs_present: u64,
    /// Per table: (records in the source, records new in the target).
    pub tables: Vec<(&'static str, u64, u64)>,
}

/// Copies `data_dir` into the stores at `meta_url` and `blob_url` and checks the copy (see the
/// module docs).
///
/// # Errors
/// See [`MigrateError`].
pub fn migrate(data_dir: &Path, meta_url: &str, blob_url: &str, cache_bytes: u64) -> Result<Report, MigrateError> {
    let _lock = crate::backup::lock_data_dir(data_dir)?;
    let source = Meta::open(&data_dir.join(crate::store::check::META_FILE))?;
    let checked = source.verify_records(true)?;
    if let Some(first) = checked.problems.first() {
        return Err(MigrateError::DamagedSource(format!("{} problem(s), the first: {first}", checked.problems.len())));
    }
    let source_blobs = FsBlobStore::open(data_dir)?;
    let target = Meta::new(Box::new(Postgres::connect(meta_url)?));
    let mut config = crate::state::Config::new(data_dir, data_dir);
    config.blob_url = Some(blob_url.to_owned());
    config.blob_cache_bytes = cache_bytes;
    let target_blobs = crate::state::open_blobs(&config)?;
    let mut report = Report::default();
    copy_blobs(&source_blobs, target_blobs.as_ref(), &mut report)?;
    for table in TABLES {
        let (total, new) = copy_table(&source, &target, table)?;
        report.tables.push((table, total, new));
        tracing::info!(table, records = total, new, "copied");
    }
    check_records(&source, &target)?;
    check_blobs(&source_blobs, target_blobs.as_ref())?;
    let target_check = target.verify_records(true)?;
    if let Some(first) = target_check.problems.first() {
        return Err(MigrateError::Mismatch(format!("the target's own check: {first}")));
    }
    Ok(report)
}

fn copy_blobs(source: &FsBlobStore, target: &dyn BlobStore, report: &mut Report) -> Result<(), MigrateError> {
    let addresses = source.addresses()?;
    let missing: Vec<&String> = addresses.iter().filter(|a| !target.contains(a)).collect();
    report.blobs_present = (addresses.len() - missing.len()) as u64;
    for batch in missing.chunks(BLOB_BATCH) {
        // Read back through the source's check: a damaged file is never copied.
        let bytes: Vec<Vec<u8>> = batch.iter().map(|a| source.get_referenced(a)).collect::<Result<_, _>>()?;
        target.put_many(&bytes.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        report.blobs_copied += batch.len() as u64;
    }
    tracing::info!(copied = report.blobs_copied, present = report.blobs_present, "blobs");
    Ok(())
}

/// Copies one table in batches; returns (records in the source, records new in the target).
fn copy_table(source: &Meta, target: &Meta, table: &'static str) -> Result<(u64, u64), MigrateError> {
    let (mut total, mut new) = (0u64, 0u64);
    let mut batch = Vec::with_capacity(BATCH);
    source.backend().export_records(table, &mut |r| {
        total += 1;
        batch.push(r);
        if batch.len() == BATCH {
            new += target.backend().import_records(&batch)?;
            batch.clear();
        }
        Ok(())
    })?;
    new += target.backend().import_records(&batch)?;
    Ok((total, new))
}

/// Every source record is in the target with the same sealed bytes.
fn check_records(source: &Meta, target: &Meta) -> Result<(), MigrateError> {
    for table in TABLES {
        let mut there: HashMap<RawKey, blake3::Hash> = HashMap::new();
        target.backend().export_records(table, &mut |r: RawRecord| {
            there.insert(r.key, blake3::hash(&r.value));
            Ok(())
        })?;
        let mut problem = None;
        source.backend().export_records(table, &mut |r: RawRecord| {
            if problem.is_none() {
                match there.get(&r.key) {
                    None => problem = Some(format!("{table} record {:?} is missing from the target", r.key)),
                    Some(h) if *h != blake3::hash(&r.value) => {
                        problem = Some(format!(
                            "{table} record {:?} differs in the target (it held other data under that key before)",
                            r.key
                        ));
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        })?;
        if let Some(p) = problem {
            return Err(MigrateError::Mismatch(p));
        }
    }
    Ok(())
}

/// Every source blob reads back from the target and hashes to its address.
fn check_blobs(source: &FsBlobStore, target: &dyn BlobStore) -> Result<(), MigrateError> {
    for address in source.addresses()? {
        target.check_stored(&address)?;
    }
    Ok(())
}
