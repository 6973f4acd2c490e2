//! The `segments`, `experiments` and `idempotency` tables: records the domain encodes (the
//! store seals and checks their bytes but does not read them), keyed by (app, id).

use redb::{ReadTransaction, ReadableTable, TableDefinition};

use super::{DAYS, EXPERIMENTS, Embedded, IDEMPOTENCY, SEGMENTS, StoreError, app_rows, jobs, name, seal, unseal};
use crate::jobs::JobKind;
use crate::store::records::KeyPart;

impl Embedded {
    /// A segment's stored record.
    pub fn segment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| opaque_get(txn, SEGMENTS, name::SEGMENTS, app, id))
    }

    /// Every stored segment record of an app (tombstones included), by id.
    pub fn segment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.read(|txn| opaque_list(txn, SEGMENTS, name::SEGMENTS, app))
    }

    /// Stores `new` if the stored record still equals `expected` (`None`: absent). Returns
    /// whether it did; durable when it returns `true`.
    pub fn segment_cas(&self, app: &str, id: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, StoreError> {
        let key = [KeyPart::Text(app), KeyPart::Text(id)];
        self.write(|txn| {
            let mut t = txn.open_table(SEGMENTS)?;
            let current = match t.get((app, id))? {
                Some(v) => Some(unseal(name::SEGMENTS, &key, v.value())?.to_vec()),
                None => None,
            };
            if current.as_deref() == expected {
                t.insert((app, id), seal(name::SEGMENTS, &key, new).as_slice())?;
                // Every published day's members follow the change: queued in this transaction,
                // so a crash after the answer can never lose the backfill.
                let days: Vec<String> = jobs::days_of(&txn.open_table(DAYS)?, app)?;
                jobs::enqueue(txn, app, JobKind::Segments, &days)?;
                Ok((true, true))
            } else {
                Ok((false, false))
            }
        })
    }

    /// Stores an experiment if its id is free; `false` (nothing changed) if it exists.
    pub fn experiment_create(&self, app: &str, id: &str, record: &[u8]) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(EXPERIMENTS)?;
            if t.get((app, id))?.is_some() {
                return Ok((false, false));
            }
            let key = [KeyPart::Text(app), KeyPart::Text(id)];
            t.insert((app, id), seal(name::EXPERIMENTS, &key, record).as_slice())?;
            Ok((true, true))
        })
    }

    /// An experiment's record.
    pub fn experiment_get(&self, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| opaque_get(txn, EXPERIMENTS, name::EXPERIMENTS, app, id))
    }

    /// Every experiment record of an app, by id.
    pub fn experiment_list(&self, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.read(|txn| opaque_list(txn, EXPERIMENTS, name::EXPERIMENTS, app))
    }

    /// A stored idempotency record.
    pub fn idempotency_get(&self, app: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| opaque_get(txn, IDEMPOTENCY, name::IDEMPOTENCY, app, key))
    }

    /// Stores an idempotency record.
    pub fn idempotency_put(&self, app: &str, key: &str, record: &[u8]) -> Result<(), StoreError> {
        let sealed = seal(name::IDEMPOTENCY, &[KeyPart::Text(app), KeyPart::Text(key)], record);
        self.write(|txn| {
            txn.open_table(IDEMPOTENCY)?.insert((app, key), sealed.as_slice())?;
            Ok(((), true))
        })
    }
}

/// One opaque (app, id) record, checked.
fn opaque_get(
    txn: &ReadTransaction,
    def: TableDefinition<(&str, &str), &[u8]>,
    table: &'static str,
    app: &str,
    id: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    match txn.open_table(def)?.get((app, id))? {
        Some(v) => Ok(Some(unseal(table, &[KeyPart::Text(app), KeyPart::Text(id)], v.value())?.to_vec())),
        None => Ok(None),
    }
}

/// Every opaque record of an app, by id, checked.
fn opaque_list(
    txn: &ReadTransaction,
    def: TableDefinition<(&str, &str), &[u8]>,
    table: &'static str,
    app: &str,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    app_rows(txn, def, app, |id, v| Ok(unseal(table, &[KeyPart::Text(app), KeyPart::Text(id)], v)?.to_vec()))
}
