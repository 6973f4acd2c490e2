//! Durable storage: immutable blobs ([`blobs`]) and metadata ([`meta`]), each behind a small
//! interface with an embedded default (files and redb in the data directory) and a shared one
//! for replicas (S3-compatible object storage, [`object`]; PostgreSQL, [`meta::postgres`]),
//! as DESIGN.md §8 planned. [`client_runtime`] runs the shared stores' network clients.
//!
//! Write order makes crashes harmless: blobs are written and fsynced first, then one metadata
//! transaction makes them reachable. A crash in between leaves unreferenced blobs, never a
//! pointer to a missing one.
//!
//! Damage is never served: blobs are re-hashed on every read, metadata records carry checksums
//! ([`records`]) checked on every read, and [`check`] verifies a data directory at start-up
//! (the metadata) and offline (`sieve check`: everything).

pub mod blobs;
pub mod check;
pub mod client_runtime;
pub mod faults;
pub mod meta;
pub mod object;
pub mod records;

pub use blobs::{BlobError, BlobStore, FsBlobStore};
pub use meta::{DayRecord, Meta, Publish, Role, StoreError, TokenInfo};
pub use records::RecordId;
