//! Durable storage: immutable blobs ([`blobs`]) and metadata ([`meta`]), each behind a small
//! interface so object storage and Postgres can replace the embedded defaults (DESIGN.md §8).
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
pub mod faults;
pub mod meta;
pub mod records;

pub use blobs::{BlobError, BlobStore, FsBlobStore};
pub use meta::{DayRecord, Meta, Publish, Role, StoreError, TokenInfo};
pub use records::RecordId;
