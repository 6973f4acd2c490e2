//! The queries behind [`super::Postgres`]: one function per [`Backend`](super::Backend) call,
//! each one transaction when it writes. Values are sealed exactly as in the embedded store and
//! checked on every read.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};

use super::lock;
use crate::clock::now_ms;
use crate::jobs::{Job, JobKind, Transitions};
use crate::store::meta::StoreError;
use crate::store::meta::codec::{
    AppRecord, DayRecord, Publish, TokenInfo, app_record, day_record, dense_id, dict_entries, encode, external_id,
    job_record, name, seal, sealed_job, token_record, unseal,
};
use crate::store::records::{KeyPart, RecordId};

/// Rows per statement when a publish adds dictionary entries.
const DICT_BATCH: usize = 20_000;

/// Whether an error is a unique-key violation: a concurrent writer created the same row first.
fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub(super) async fn create_app(c: &mut Client, id: &str, record: &AppRecord) -> Result<bool, StoreError> {
    let sealed = seal(name::APPS, &[KeyPart::Text(id)], &encode(record));
    let n = c.execute("INSERT INTO apps (app, record) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&id, &sealed]).await?;
    Ok(n == 1)
}

pub(super) async fn app(c: &mut Client, id: &str) -> Result<Option<AppRecord>, StoreError> {
    let row = c.query_opt("SELECT record FROM apps WHERE app = $1", &[&id]).await?;
    row.map(|r| app_record(id, r.get(0))).transpose()
}

pub(super) async fn apps(c: &mut Client) -> Result<Vec<(String, AppRecord)>, StoreError> {
    let rows = c.query("SELECT app, record FROM apps ORDER BY app", &[]).await?;
    rows.iter()
        .map(|r| {
            let id: &str = r.get(0);
            Ok((id.to_owned(), app_record(id, r.get(1))?))
        })
        .collect()
}

pub(super) async fn token(c: &mut Client, key: &str) -> Result<Option<TokenInfo>, StoreError> {
    let row = c.query_opt("SELECT record FROM tokens WHERE token = $1", &[&key]).await?;
    row.map(|r| token_record(key, r.get(0))).transpose()
}

pub(super) async fn dict_lookup(c: &mut Client, app: &str, external: &str) -> Result<Option<u32>, StoreError> {
    let row =
        c.query_opt("SELECT record FROM dict WHERE app = $1 AND external = $2", &[&app, &external.as_bytes()]).await?;
    row.map(|r| dense_id(name::DICT, &[KeyPart::Text(app), KeyPart::Text(external)], r.get(0))).transpose()
}

pub(super) async fn dict_external(c: &mut Client, app: &str, id: u32) -> Result<Option<String>, StoreError> {
    let row = c.query_opt("SELECT record FROM dict_rev WHERE app = $1 AND id = $2", &[&app, &i64::from(id)]).await?;
    row.map(|r| external_id(name::DICT_REV, &[KeyPart::Text(app), KeyPart::Id(id)], r.get(0)).map(str::to_owned))
        .transpose()
}

pub(super) async fn dict_load_from(c: &mut Client, app: &str, from: u32) -> Result<Vec<String>, StoreError> {
    let rows = c
        .query("SELECT id, record FROM dict_rev WHERE app = $1 AND id >= $2 ORDER BY id", &[&app, &i64::from(from)])
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let expected = from + out.len() as u32;
        let id: i64 = r.get(0);
        let key = [KeyPart::Text(app), KeyPart::Id(expected)];
        if id != i64::from(expected) {
            // Ids are dense: a gap means a lost entry, and every later id would shift.
            return Err(StoreError::Damaged(RecordId::new(name::DICT_REV, &key)));
        }
        out.push(external_id(name::DICT_REV, &key, r.get(1))?.to_owned());
    }
    Ok(out)
}

/// Streams external ids in batches of ids (one query per batch, in id order).
pub(super) async fn dict_externals(
    c: &mut Client,
    app: &str,
    ids: &mut dyn Iterator<Item = u32>,
    f: &mut dyn FnMut(u32, &str),
) -> Result<(), StoreError> {
    let stmt = c.prepare("SELECT id, record FROM dict_rev WHERE app = $1 AND id = ANY($2) ORDER BY id").await?;
    loop {
        let batch: Vec<i64> = (&mut *ids).take(DICT_BATCH).map(i64::from).collect();
        if batch.is_empty() {
            return Ok(());
        }
        for r in c.query(&stmt, &[&app, &batch]).await? {
            let id = u32::try_from(r.get::<_, i64>(0)).unwrap_or(u32::MAX);
            f(id, external_id(name::DICT_REV, &[KeyPart::Text(app), KeyPart::Id(id)], r.get(1))?);
        }
    }
}

pub(super) async fn day(c: &mut Client, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
    let row = c.query_opt("SELECT record FROM days WHERE app = $1 AND ds = $2", &[&app, &ds]).await?;
    row.map(|r| day_record(app, ds, r.get(0))).transpose()
}

pub(super) async fn latest_day(c: &mut Client, app: &str) -> Result<Option<(String, DayRecord)>, StoreError> {
    let row = c.query_opt("SELECT ds, record FROM days WHERE app = $1 ORDER BY ds DESC LIMIT 1", &[&app]).await?;
    row.map(|r| {
        let ds: &str = r.get(0);
        Ok((ds.to_owned(), day_record(app, ds, r.get(1))?))
    })
    .transpose()
}

pub(super) async fn days(c: &mut Client, app: &str) -> Result<Vec<(String, DayRecord)>, StoreError> {
    let rows = c.query("SELECT ds, record FROM days WHERE app = $1 ORDER BY ds", &[&app]).await?;
    rows.iter()
        .map(|r| {
            let ds: &str = r.get(0);
            Ok((ds.to_owned(), day_record(app, ds, r.get(1))?))
        })
        .collect()
}

/// The days of an app, oldest first (inside a transaction).
async fn day_names(t: &Transaction<'_>, app: &str) -> Result<Vec<String>, StoreError> {
    let rows = t.query("SELECT ds FROM days WHERE app = $1 ORDER BY ds", &[&app]).await?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

pub(super) async fn publish(c: &mut Client, p: &Publish<'_>) -> Result<(), StoreError> {
    let t = c.transaction().await?;
    // The dictionary must still end where the publisher's copy of it did. Publishes of one app
    // hold its advisory lock, so this is a guard against a caller that did not, not a race.
    if !p.new_ids.is_empty() {
        let row = t.query_one("SELECT coalesce(max(id) + 1, 0) FROM dict_rev WHERE app = $1", &[&p.app]).await?;
        if row.get::<_, i64>(0) != i64::from(p.first_new_id) {
            return Err(StoreError::Conflict { what: "the dictionary".to_owned() });
        }
    }
    for (ds, expected, record) in &p.days {
        let row = t.query_opt("SELECT record FROM days WHERE app = $1 AND ds = $2 FOR UPDATE", &[&p.app, ds]).await?;
        let current = match row {
            Some(r) => day_record(p.app, ds, r.get(0))?.version,
            None => 0,
        };
        if current != *expected {
            return Err(StoreError::Conflict { what: format!("day {ds}") });
        }
        let sealed = seal(name::DAYS, &[KeyPart::Text(p.app), KeyPart::Text(ds)], &encode(record));
        let written = t
            .execute(
                "INSERT INTO days (app, ds, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (app, ds) DO UPDATE SET record = EXCLUDED.record",
                &[&p.app, ds, &sealed],
            )
            .await;
        written.map_err(|e| conflict_if_raced(e, format!("day {ds}")))?;
    }
    for (n, chunk) in p.new_ids.chunks(DICT_BATCH).enumerate() {
        let first = p.first_new_id + (n * DICT_BATCH) as u32;
        let mut externals: Vec<&[u8]> = Vec::with_capacity(chunk.len());
        let mut ids: Vec<i64> = Vec::with_capacity(chunk.len());
        let (mut forward, mut reverse) = (Vec::with_capacity(chunk.len()), Vec::with_capacity(chunk.len()));
        for (i, ext) in chunk.iter().enumerate() {
            let id = first + i as u32;
            let (f, r) = dict_entries(p.app, id, ext);
            externals.push(ext.as_bytes());
            ids.push(i64::from(id));
            forward.push(f);
            reverse.push(r);
        }
        t.execute(
            "INSERT INTO dict (app, external, record) SELECT $1, * FROM unnest($2::bytea[], $3::bytea[])",
            &[&p.app, &externals, &forward],
        )
        .await
        .map_err(|e| conflict_if_raced(e, "the dictionary".to_owned()))?;
        t.execute(
            "INSERT INTO dict_rev (app, id, record) SELECT $1, * FROM unnest($2::bigint[], $3::bytea[])",
            &[&p.app, &ids, &reverse],
        )
        .await
        .map_err(|e| conflict_if_raced(e, "the dictionary".to_owned()))?;
    }
    if let Some(universe) = p.universe {
        let row = t.query_opt("SELECT record FROM apps WHERE app = $1 FOR UPDATE", &[&p.app]).await?;
        let Some(row) = row else { return Err(StoreError::NoApp(p.app.to_owned())) };
        let mut record = app_record(p.app, row.get(0))?;
        record.universe = Some(universe.to_owned());
        let sealed = seal(name::APPS, &[KeyPart::Text(p.app)], &encode(&record));
        t.execute("UPDATE apps SET record = $2 WHERE app = $1", &[&p.app, &sealed]).await?;
    }
    enqueue(&t, p.app, JobKind::Segments, &p.recompute).await?;
    for (id, value) in &p.records {
        let sealed = seal(name::ACCESS, &[KeyPart::Text(p.app), KeyPart::Text(id)], value);
        t.execute(
            "INSERT INTO access (app, id, record) VALUES ($1, $2, $3) \
             ON CONFLICT (app, id) DO UPDATE SET record = EXCLUDED.record",
            &[&p.app, id, &sealed],
        )
        .await?;
    }
    t.commit().await?;
    Ok(())
}

/// A unique violation means another writer got there first: a conflict, not a failure.
fn conflict_if_raced(e: tokio_postgres::Error, what: String) -> StoreError {
    if is_unique_violation(&e) { StoreError::Conflict { what } } else { e.into() }
}

pub(super) async fn delete_day(c: &mut Client, app: &str, ds: &str) -> Result<Option<DayRecord>, StoreError> {
    let t = c.transaction().await?;
    let row = t.query_opt("DELETE FROM days WHERE app = $1 AND ds = $2 RETURNING record", &[&app, &ds]).await?;
    let Some(row) = row else { return Ok(None) };
    let removed = day_record(app, ds, row.get(0))?;
    // Event windows of later days may have read the deleted day: their segments are recomputed
    // by the app's durable job, queued with the delete.
    let later: Vec<String> = day_names(&t, app).await?.into_iter().filter(|d| d.as_str() > ds).collect();
    enqueue(&t, app, JobKind::Segments, &later).await?;
    t.commit().await?;
    Ok(Some(removed))
}

/// The tables of records the domain encodes (sealed here, not read).
#[derive(Debug, Clone, Copy)]
pub(super) enum Keyed {
    Segments,
    Experiments,
    Idempotency,
}

impl Keyed {
    fn name(self) -> &'static str {
        match self {
            Keyed::Segments => name::SEGMENTS,
            Keyed::Experiments => name::EXPERIMENTS,
            Keyed::Idempotency => name::IDEMPOTENCY,
        }
    }

    /// The SQL table (the same names; written out so no query is built from a variable).
    fn table(self) -> &'static str {
        match self {
            Keyed::Segments => "segments",
            Keyed::Experiments => "experiments",
            Keyed::Idempotency => "idempotency",
        }
    }
}

pub(super) async fn keyed_get(c: &mut Client, k: Keyed, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let sql = format!("SELECT record FROM {} WHERE app = $1 AND id = $2", k.table());
    let row = c.query_opt(&sql, &[&app, &id]).await?;
    row.map(|r| unseal(k.name(), &[KeyPart::Text(app), KeyPart::Text(id)], r.get(0)).map(<[u8]>::to_vec)).transpose()
}

pub(super) async fn keyed_list(c: &mut Client, k: Keyed, app: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let sql = format!("SELECT id, record FROM {} WHERE app = $1 ORDER BY id", k.table());
    let rows = c.query(&sql, &[&app]).await?;
    rows.iter()
        .map(|r| {
            let id: &str = r.get(0);
            Ok((id.to_owned(), unseal(k.name(), &[KeyPart::Text(app), KeyPart::Text(id)], r.get(1))?.to_vec()))
        })
        .collect()
}

pub(super) async fn keyed_create(
    c: &mut Client,
    k: Keyed,
    app: &str,
    id: &str,
    record: &[u8],
) -> Result<bool, StoreError> {
    let sealed = seal(k.name(), &[KeyPart::Text(app), KeyPart::Text(id)], record);
    let sql = format!("INSERT INTO {} (app, id, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", k.table());
    Ok(c.execute(&sql, &[&app, &id, &sealed]).await? == 1)
}

pub(super) async fn keyed_put(c: &mut Client, k: Keyed, app: &str, id: &str, record: &[u8]) -> Result<(), StoreError> {
    let sealed = seal(k.name(), &[KeyPart::Text(app), KeyPart::Text(id)], record);
    let sql = format!(
        "INSERT INTO {} (app, id, record) VALUES ($1, $2, $3) ON CONFLICT (app, id) DO UPDATE SET record = EXCLUDED.record",
        k.table()
    );
    c.execute(&sql, &[&app, &id, &sealed]).await?;
    Ok(())
}

pub(super) async fn segment_cas(
    c: &mut Client,
    app: &str,
    id: &str,
    expected: Option<&[u8]>,
    new: &[u8],
) -> Result<bool, StoreError> {
    let key = [KeyPart::Text(app), KeyPart::Text(id)];
    let t = c.transaction().await?;
    let row = t.query_opt("SELECT record FROM segments WHERE app = $1 AND id = $2 FOR UPDATE", &[&app, &id]).await?;
    let current = match &row {
        Some(r) => Some(unseal(name::SEGMENTS, &key, r.get(0))?.to_vec()),
        None => None,
    };
    if current.as_deref() != expected {
        return Ok(false);
    }
    let sealed = seal(name::SEGMENTS, &key, new);
    if current.is_some() {
        t.execute("UPDATE segments SET record = $3 WHERE app = $1 AND id = $2", &[&app, &id, &sealed]).await?;
    } else {
        // Absent rows cannot be locked: a concurrent create shows as a key already taken.
        let n = t
            .execute(
                "INSERT INTO segments (app, id, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&app, &id, &sealed],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
    }
    // Every published day's members follow the change: queued in this transaction, so a crash
    // after the answer can never lose the backfill.
    let days = day_names(&t, app).await?;
    enqueue(&t, app, JobKind::Segments, &days).await?;
    t.commit().await?;
    Ok(true)
}

pub(super) async fn job_get(c: &mut Client, app: &str, kind: JobKind) -> Result<Option<Job>, StoreError> {
    let row = c.query_opt("SELECT record FROM jobs WHERE app = $1 AND kind = $2", &[&app, &kind.as_str()]).await?;
    row.map(|r| job_record(app, kind.as_str(), r.get(0))).transpose()
}

pub(super) async fn job_list(c: &mut Client) -> Result<Vec<Job>, StoreError> {
    let rows = c.query("SELECT app, kind, record FROM jobs ORDER BY app, kind", &[]).await?;
    rows.iter().map(|r| job_record(r.get(0), r.get(1), r.get(2))).collect()
}

/// A job's record read for a change: its (app, kind) locked for the rest of the transaction,
/// whether the row exists yet or not.
async fn job_for_update(t: &Transaction<'_>, app: &str, kind: JobKind) -> Result<Option<Job>, StoreError> {
    t.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&lock::JOB, &super::lock_key(&[app, kind.as_str()])]).await?;
    let row = t.query_opt("SELECT record FROM jobs WHERE app = $1 AND kind = $2", &[&app, &kind.as_str()]).await?;
    row.map(|r| job_record(app, kind.as_str(), r.get(0))).transpose()
}

async fn put_job(t: &Transaction<'_>, job: &Job) -> Result<(), StoreError> {
    t.execute(
        "INSERT INTO jobs (app, kind, record) VALUES ($1, $2, $3) \
         ON CONFLICT (app, kind) DO UPDATE SET record = EXCLUDED.record",
        &[&job.app, &job.kind.as_str(), &sealed_job(job)],
    )
    .await?;
    Ok(())
}

pub(super) async fn job_update(
    c: &mut Client,
    app: &str,
    kind: JobKind,
    f: Box<dyn FnOnce(Option<Job>) -> Option<Job> + '_>,
) -> Result<Option<Job>, StoreError> {
    let t = c.transaction().await?;
    let current = job_for_update(&t, app, kind).await?;
    let Some(job) = f(current) else { return Ok(None) };
    put_job(&t, &job).await?;
    t.commit().await?;
    Ok(Some(job))
}

/// Queues `days` on an app's job inside a transaction (nothing when `days` is empty).
async fn enqueue(t: &Transaction<'_>, app: &str, kind: JobKind, days: &[String]) -> Result<(), StoreError> {
    if days.is_empty() {
        return Ok(());
    }
    let current = job_for_update(t, app, kind).await?;
    put_job(t, &Job::enqueue(current, app, kind, days, now_ms())).await
}
