//! The `access` table and token changes (see [`crate::store::meta::Backend::access_get`] and
//! its neighbours), each one statement or one transaction.

use tokio_postgres::Client;

use super::{lock, lock_key};
use crate::store::meta::StoreError;
use crate::store::meta::backend::Change;
use crate::store::meta::codec::{TokenInfo, encode, name, seal, unseal};
use crate::store::records::KeyPart;

fn opened(app: &str, id: &str, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    Ok(unseal(name::ACCESS, &[KeyPart::Text(app), KeyPart::Text(id)], stored)?.to_vec())
}

fn sealed(app: &str, id: &str, value: &[u8]) -> Vec<u8> {
    seal(name::ACCESS, &[KeyPart::Text(app), KeyPart::Text(id)], value)
}

pub(super) async fn get(c: &mut Client, app: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let row = c.query_opt("SELECT record FROM access WHERE app = $1 AND id = $2", &[&app, &id]).await?;
    row.map(|r| opened(app, id, r.get(0))).transpose()
}

pub(super) async fn list(
    c: &mut Client,
    app: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    // `starts_with` would not use the index; a range from the prefix does, and the filter
    // below ends it where the prefix stops matching.
    let after = after.filter(|a| *a >= prefix).unwrap_or("");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c
        .query(
            "SELECT id, record FROM access WHERE app = $1 AND id >= $2 AND id > $3 \
             AND starts_with(id, $2) ORDER BY id LIMIT $4",
            &[&app, &prefix, &after, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let id: &str = r.get(0);
            Ok((id.to_owned(), opened(app, id, r.get(1))?))
        })
        .collect()
}

pub(super) async fn update(c: &mut Client, app: &str, id: &str, f: Change<'_>) -> Result<Option<Vec<u8>>, StoreError> {
    let t = c.transaction().await?;
    // A row lock cannot cover a row that does not exist yet; the advisory lock covers both.
    t.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&lock::ACCESS, &lock_key(&[app, id])]).await?;
    let current = match t.query_opt("SELECT record FROM access WHERE app = $1 AND id = $2", &[&app, &id]).await? {
        Some(r) => Some(opened(app, id, r.get(0))?),
        None => None,
    };
    let Some(new) = f(current) else { return Ok(None) };
    t.execute(
        "INSERT INTO access (app, id, record) VALUES ($1, $2, $3) \
         ON CONFLICT (app, id) DO UPDATE SET record = EXCLUDED.record",
        &[&app, &id, &sealed(app, id, &new)],
    )
    .await?;
    t.commit().await?;
    Ok(Some(new))
}

pub(super) async fn token_change(
    c: &mut Client,
    app: &str,
    id: &str,
    record: Option<&[u8]>,
    put: &[(String, TokenInfo)],
    delete: &[String],
) -> Result<(), StoreError> {
    let t = c.transaction().await?;
    for key in delete {
        t.execute("DELETE FROM tokens WHERE token = $1", &[key]).await?;
    }
    for (key, info) in put {
        let value = seal(name::TOKENS, &[KeyPart::Text(key)], &encode(info));
        t.execute(
            "INSERT INTO tokens (token, record) VALUES ($1, $2) \
             ON CONFLICT (token) DO UPDATE SET record = EXCLUDED.record",
            &[key, &value],
        )
        .await?;
    }
    match record {
        Some(r) => {
            t.execute(
                "INSERT INTO access (app, id, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (app, id) DO UPDATE SET record = EXCLUDED.record",
                &[&app, &id, &sealed(app, id, r)],
            )
            .await?;
        }
        None => {
            t.execute("DELETE FROM access WHERE app = $1 AND id = $2", &[&app, &id]).await?;
        }
    }
    t.commit().await?;
    Ok(())
}
