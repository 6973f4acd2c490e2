//! Records as stored, for copies between stores (`sieve migrate`): a table exported in key order
//! from one snapshot, and records imported verbatim in one transaction (`ON CONFLICT DO
//! NOTHING`: a record already there is kept, so a copy can run again).

use tokio_postgres::Client;

use crate::store::meta::StoreError;
use crate::store::meta::codec::{RawKey, RawRecord, name};

/// The SQL table and its two key columns for a pair-keyed table.
fn pair_columns(table: &str) -> Option<(&'static str, &'static str)> {
    Some(match table {
        name::DAYS => ("days", "ds"),
        name::SEGMENTS => ("segments", "id"),
        name::EXPERIMENTS => ("experiments", "id"),
        name::IDEMPOTENCY => ("idempotency", "id"),
        name::JOBS => ("jobs", "kind"),
        name::ACCESS => ("access", "id"),
        _ => return None,
    })
}

pub(super) async fn export(
    c: &mut Client,
    table: &'static str,
    f: &mut dyn FnMut(RawRecord) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let t = super::snapshot(c).await?;
    let rows = match table {
        name::APPS => t.query("SELECT app, record FROM apps ORDER BY app", &[]).await?,
        name::TOKENS => t.query("SELECT token, record FROM tokens ORDER BY token", &[]).await?,
        name::DICT => t.query("SELECT app, external, record FROM dict ORDER BY app, external", &[]).await?,
        name::DICT_REV => t.query("SELECT app, id, record FROM dict_rev ORDER BY app, id", &[]).await?,
        other => {
            let (sql_table, column) = pair_columns(other).ok_or(StoreError::Unsupported("no such table"))?;
            let sql = format!("SELECT app, {column}, record FROM {sql_table} ORDER BY app, {column}");
            t.query(&sql, &[]).await?
        }
    };
    for r in &rows {
        let key = match table {
            name::APPS | name::TOKENS => RawKey::One(r.get::<_, String>(0)),
            name::DICT => RawKey::Pair(r.get(0), String::from_utf8_lossy(r.get::<_, &[u8]>(1)).into_owned()),
            name::DICT_REV => RawKey::Id(r.get(0), u32::try_from(r.get::<_, i64>(1)).unwrap_or(u32::MAX)),
            _ => RawKey::Pair(r.get(0), r.get(1)),
        };
        let last = r.len() - 1;
        f(RawRecord { table, key, value: r.get::<_, Vec<u8>>(last) })?;
    }
    t.commit().await?;
    Ok(())
}

pub(super) async fn import(c: &mut Client, records: &[RawRecord]) -> Result<u64, StoreError> {
    let t = c.transaction().await?;
    let mut new = 0;
    // One statement per table (arrays unnested), as a publish adds dictionary entries: a
    // million rows one statement each took minutes.
    for table in crate::store::meta::codec::TABLES {
        let rows: Vec<&RawRecord> = records.iter().filter(|r| r.table == table).collect();
        if rows.is_empty() {
            continue;
        }
        let values: Vec<&[u8]> = rows.iter().map(|r| r.value.as_slice()).collect();
        let mut apps = Vec::with_capacity(rows.len());
        let mut texts = Vec::with_capacity(rows.len());
        let mut bytes: Vec<&[u8]> = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        for r in &rows {
            match (&r.key, table) {
                (RawKey::One(k), name::APPS | name::TOKENS) => texts.push(k.as_str()),
                (RawKey::Pair(app, ext), name::DICT) => {
                    apps.push(app.as_str());
                    bytes.push(ext.as_bytes());
                }
                (RawKey::Id(app, id), name::DICT_REV) => {
                    apps.push(app.as_str());
                    ids.push(i64::from(*id));
                }
                (RawKey::Pair(app, id), _) if pair_columns(table).is_some() => {
                    apps.push(app.as_str());
                    texts.push(id.as_str());
                }
                _ => return Err(StoreError::Unsupported("a record whose key does not fit its table")),
            }
        }
        new += match table {
            name::APPS => {
                t.execute("INSERT INTO apps (app, record) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING", &[&texts, &values])
                    .await?
            }
            name::TOKENS => {
                t.execute("INSERT INTO tokens (token, record) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING", &[&texts, &values])
                    .await?
            }
            name::DICT => {
                t.execute(
                    "INSERT INTO dict (app, external, record) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) ON CONFLICT DO NOTHING",
                    &[&apps, &bytes, &values],
                )
                .await?
            }
            name::DICT_REV => {
                t.execute(
                    "INSERT INTO dict_rev (app, id, record) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) ON CONFLICT DO NOTHING",
                    &[&apps, &ids, &values],
                )
                .await?
            }
            other => {
                let (sql_table, column) = pair_columns(other).ok_or(StoreError::Unsupported("no such table"))?;
                let sql = format!(
                    "INSERT INTO {sql_table} (app, {column}, record) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) ON CONFLICT DO NOTHING"
                );
                t.execute(&sql, &[&apps, &texts, &values]).await?
            }
        };
    }
    t.commit().await?;
    Ok(new)
}
