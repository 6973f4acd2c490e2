//! What both backends store, byte for byte: the record types, their JSON encoding, and the seal
//! (an 8-byte checksum of table, key and value; see [`crate::store::records`]) every value
//! carries. Both backends keep the same sealed bytes under the same keys, so `sieve migrate`
//! copies records verbatim and a record damaged in either store is refused the same way.

use serde::{Deserialize, Serialize};
use wire::{IdKind, Role};

use super::StoreError;
use crate::jobs::Job;
use crate::store::records::{self, KeyPart, RecordId};

/// Table names as they appear in checksums, errors and `/health`.
pub mod name {
    pub const APPS: &str = "apps";
    pub const TOKENS: &str = "tokens";
    pub const DICT: &str = "dict";
    pub const DICT_REV: &str = "dict_rev";
    pub const DAYS: &str = "days";
    pub const SEGMENTS: &str = "segments";
    pub const EXPERIMENTS: &str = "experiments";
    pub const IDEMPOTENCY: &str = "idempotency";
    pub const JOBS: &str = "jobs";
    pub const ACCESS: &str = "access";
}

/// An app token's scope, stored under the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The app the token belongs to.
    pub app: String,
    /// What it may do.
    pub role: Role,
    /// The token's id (its record in the `access` table); empty for tokens made before ids.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// When this secret stops working, ms since the epoch (expiry, or the end of a rotation's
    /// grace period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

/// An app (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// Display name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// What its user ids are (fixed at creation; apps from before the choice hold strings).
    #[serde(default)]
    pub ids: IdKind,
    /// For `u32` apps: the blob of every user published so far (the role the dictionary has
    /// for string ids), moved by each publish in its transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub universe: Option<String>,
}

/// The published version of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRecord {
    /// Address of the manifest blob.
    pub manifest: String,
    /// Publish counter of the day, from 1.
    pub version: u64,
    /// When it was published, ms since the epoch.
    pub published_ms: u64,
}

/// One publish: new dictionary entries and new day pointers, committed together.
#[derive(Debug, Clone, Default)]
pub struct Publish<'a> {
    /// The app.
    pub app: &'a str,
    /// Dense id of the first new external id (the dictionary's length before). A store refuses
    /// the publish ([`StoreError::Conflict`]) when its dictionary has another length by then.
    pub first_new_id: u32,
    /// New external ids, in dense-id order.
    pub new_ids: &'a [String],
    /// For a `u32` app: the blob of its users after this publish (see [`AppRecord`]).
    pub universe: Option<&'a str>,
    /// (ds, expected current version (0 = none), new record).
    pub days: Vec<(String, u64, DayRecord)>,
    /// Days whose segments must be recomputed because of this publish (queued on the app's
    /// segments job in the same transaction).
    pub recompute: Vec<String>,
    /// Records of the `access` table stored (or replaced) with the publish: the day's version
    /// log and a held upload's decision (issue 15), so neither can be lost or written for a
    /// publish that did not happen.
    pub records: Vec<(String, Vec<u8>)>,
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Record { what: what.to_owned(), source })
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `value` sealed for `table` at `key` (see [`records`]).
pub(super) fn seal(table: &'static str, key: &[KeyPart<'_>], value: &[u8]) -> Vec<u8> {
    records::seal(table, key, value)
}

/// The value of a sealed record, or [`StoreError::Damaged`] naming it.
pub(super) fn unseal<'v>(table: &'static str, key: &[KeyPart<'_>], stored: &'v [u8]) -> Result<&'v [u8], StoreError> {
    records::open(table, key, stored).ok_or_else(|| StoreError::Damaged(RecordId::new(table, key)))
}

/// An app record, checked and decoded.
pub(super) fn app_record(id: &str, stored: &[u8]) -> Result<AppRecord, StoreError> {
    decode(id, unseal(name::APPS, &[KeyPart::Text(id)], stored)?)
}

/// A token record, checked and decoded.
pub(super) fn token_record(key: &str, stored: &[u8]) -> Result<TokenInfo, StoreError> {
    decode("token", unseal(name::TOKENS, &[KeyPart::Text(key)], stored)?)
}

/// A day pointer, checked and decoded.
pub(super) fn day_record(app: &str, ds: &str, stored: &[u8]) -> Result<DayRecord, StoreError> {
    decode("day", unseal(name::DAYS, &[KeyPart::Text(app), KeyPart::Text(ds)], stored)?)
}

/// A job record, checked and decoded.
pub(super) fn job_record(app: &str, kind: &str, stored: &[u8]) -> Result<Job, StoreError> {
    decode("job", unseal(name::JOBS, &[KeyPart::Text(app), KeyPart::Text(kind)], stored)?)
}

/// A job sealed under its own key.
pub(super) fn sealed_job(job: &Job) -> Vec<u8> {
    seal(name::JOBS, &[KeyPart::Text(&job.app), KeyPart::Text(job.kind.as_str())], &encode(job))
}

/// A dense id stored in the dictionary.
pub(super) fn dense_id(table: &'static str, key: &[KeyPart<'_>], stored: &[u8]) -> Result<u32, StoreError> {
    let value = unseal(table, key, stored)?;
    let bytes: [u8; 4] = value.try_into().map_err(|_| StoreError::Damaged(RecordId::new(table, key)))?;
    Ok(u32::from_le_bytes(bytes))
}

/// An external id stored in the reverse dictionary.
pub(super) fn external_id<'v>(
    table: &'static str,
    key: &[KeyPart<'_>],
    stored: &'v [u8],
) -> Result<&'v str, StoreError> {
    let value = unseal(table, key, stored)?;
    std::str::from_utf8(value).map_err(|_| StoreError::Damaged(RecordId::new(table, key)))
}

/// The sealed forward and reverse dictionary entries of `external` at dense id `id`.
pub(super) fn dict_entries(app: &str, id: u32, external: &str) -> (Vec<u8>, Vec<u8>) {
    (
        seal(name::DICT, &[KeyPart::Text(app), KeyPart::Text(external)], &id.to_le_bytes()),
        seal(name::DICT_REV, &[KeyPart::Text(app), KeyPart::Id(id)], external.as_bytes()),
    )
}

/// Tokens are kept as their BLAKE3 hash, so a copy of the database does not leak them.
pub fn token_key(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// A record's key with owned parts, for copies between stores.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RawKey {
    /// Tables keyed by one text (`apps`, `tokens`).
    One(String),
    /// Tables keyed by (app, text).
    Pair(String, String),
    /// The reverse dictionary: (app, dense id).
    Id(String, u32),
}

/// One stored record as it is (its value still sealed), for copies between stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Which table ([`name`]).
    pub table: &'static str,
    /// Its key.
    pub key: RawKey,
    /// The sealed value.
    pub value: Vec<u8>,
}

/// The tables in the order copies write them (dictionary before days, apps first).
pub const TABLES: [&str; 10] = [
    name::APPS,
    name::TOKENS,
    name::DICT,
    name::DICT_REV,
    name::DAYS,
    name::SEGMENTS,
    name::EXPERIMENTS,
    name::IDEMPOTENCY,
    name::JOBS,
    name::ACCESS,
];
