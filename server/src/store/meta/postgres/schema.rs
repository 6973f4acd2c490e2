//! The PostgreSQL schema and its versioned migrations, applied at start-up.
//!
//! `sieve_schema` records each applied version. [`migrate`] runs in one transaction under an
//! advisory lock, so replicas starting together apply each migration once; a database whose
//! schema is newer than this build is refused rather than misread. A migration is never edited
//! once released: a change is a new entry in [`MIGRATIONS`].
//!
//! Keys are `text COLLATE "C"` (byte order, as redb sorts them) except external user ids, which
//! are `bytea` (uploaded ids may hold bytes PostgreSQL's text refuses, such as NUL).

use tokio_postgres::Client;

use super::lock;
use crate::store::meta::StoreError;

/// Each migration: its version (from 1, in order) and its SQL.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        r#"
    CREATE TABLE apps (app text COLLATE "C" PRIMARY KEY, record bytea NOT NULL);
    CREATE TABLE tokens (token text COLLATE "C" PRIMARY KEY, record bytea NOT NULL);
    CREATE TABLE dict (
        app text COLLATE "C" NOT NULL, external bytea NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (app, external));
    CREATE TABLE dict_rev (
        app text COLLATE "C" NOT NULL, id bigint NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (app, id));
    CREATE TABLE days (
        app text COLLATE "C" NOT NULL, ds text COLLATE "C" NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (app, ds));
    CREATE TABLE segments (
        app text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (app, id));
    CREATE TABLE experiments (
        app text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (app, id));
    CREATE TABLE idempotency (
        app text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (app, id));
    CREATE TABLE jobs (
        app text COLLATE "C" NOT NULL, kind text COLLATE "C" NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (app, kind));
    "#,
    ),
    (
        2,
        r#"
    CREATE TABLE access (
        app text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (app, id));
    "#,
    ),
];

/// The newest schema version this build knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies the migrations the database lacks, in one transaction.
///
/// # Errors
/// The database cannot be reached or refuses the SQL, or its schema is newer than this build.
pub async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let txn = client.transaction().await?;
    txn.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&lock::SCHEMA]).await?;
    txn.batch_execute(
        "CREATE TABLE IF NOT EXISTS sieve_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let row = txn.query_one("SELECT coalesce(max(version), 0) FROM sieve_schema", &[]).await?;
    let current: i32 = row.get(0);
    if current > latest() {
        return Err(StoreError::IncompatibleVersion { found: current as u64, supported: latest() as u64 });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        txn.batch_execute(sql).await?;
        txn.execute("INSERT INTO sieve_schema (version) VALUES ($1)", &[version]).await?;
        tracing::info!(version, "PostgreSQL schema migrated");
    }
    txn.commit().await?;
    Ok(())
}
