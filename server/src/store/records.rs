//! Checksums of metadata records.
//!
//! Every value in the metadata store is kept as an 8-byte keyed BLAKE3 of *(table, key,
//! value)* followed by the value, and checked on every read. redb checksums its pages, but it
//! verifies them only in a full check (done at start-up, see `meta.rs`) and cannot tell a value
//! written through its API from the one we wrote. Binding the key into the sum is what catches
//! the dangerous damage: a reverse-dictionary entry changed into another *real* user id is still
//! a valid user id, a day pointer changed by one hex digit is still a valid address; only a sum
//! over the key and the value tells that this value does not belong under this key.
//!
//! Eight bytes (a 1 in 2⁶⁴ chance that random damage passes) cost 16 bytes per user across the
//! two dictionary directions. The key of the hash is a constant: this detects damage and bugs,
//! it is not a signature (whoever can write the file can also run this code).

use std::fmt;

/// Bytes of the checksum in front of every stored value.
pub const SUM_BYTES: usize = 8;

/// The BLAKE3 key; a new key means a new record format (see `meta.rs`, `FORMAT`).
const KEY: [u8; 32] = *b"sieve metadata record sum, v2 \0\0";

/// One part of a record's key.
#[derive(Debug, Clone, Copy)]
pub enum KeyPart<'a> {
    /// A text key (app id, external user id, day, segment id…).
    Text(&'a str),
    /// A dense user id.
    Id(u32),
}

/// Which record: named in errors, logs, `/health` (the table only) and `sieve check`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    /// The table (`dict`, `dict_rev`, `days`, …).
    pub table: &'static str,
    /// The key's parts joined by `/` (`demo/2026-11-20`, `demo/42`).
    pub key: String,
}

impl RecordId {
    /// The id of the record at `key` in `table`.
    pub fn new(table: &'static str, key: &[KeyPart<'_>]) -> RecordId {
        let key = key
            .iter()
            .map(|p| match p {
                KeyPart::Text(s) => (*s).to_owned(),
                KeyPart::Id(id) => id.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/");
        RecordId { table, key }
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} record `{}`", self.table, self.key)
    }
}

/// The checksum of `value` stored at `key` in `table`. Every part is length-prefixed, so no
/// two different (table, key, value) triples feed the hash the same bytes.
pub fn checksum(table: &str, key: &[KeyPart<'_>], value: &[u8]) -> [u8; SUM_BYTES] {
    let mut h = blake3::Hasher::new_keyed(&KEY);
    let mut part = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(table.as_bytes());
    for p in key {
        match p {
            KeyPart::Text(s) => part(s.as_bytes()),
            KeyPart::Id(id) => part(&id.to_be_bytes()),
        }
    }
    part(value);
    let mut out = [0u8; SUM_BYTES];
    out.copy_from_slice(&h.finalize().as_bytes()[..SUM_BYTES]);
    out
}

/// `value` as stored: its checksum, then the value.
///
/// ```
/// use server::store::records::{KeyPart, open, seal};
/// let stored = seal("dict_rev", &[KeyPart::Text("demo"), KeyPart::Id(42)], b"u42");
/// assert_eq!(open("dict_rev", &[KeyPart::Text("demo"), KeyPart::Id(42)], &stored), Some(&b"u42"[..]));
/// // The same bytes under another key are damage, not a record.
/// assert_eq!(open("dict_rev", &[KeyPart::Text("demo"), KeyPart::Id(43)], &stored), None);
/// ```
pub fn seal(table: &str, key: &[KeyPart<'_>], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SUM_BYTES + value.len());
    out.extend_from_slice(&checksum(table, key, value));
    out.extend_from_slice(value);
    out
}

/// The value of a stored record, or `None` when it is too short or fails its checksum.
pub fn open<'v>(table: &str, key: &[KeyPart<'_>], stored: &'v [u8]) -> Option<&'v [u8]> {
    let (sum, value) = stored.split_at_checked(SUM_BYTES)?;
    (sum == checksum(table, key, value)).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_single_byte_change_is_caught() {
        let key = [KeyPart::Text("demo"), KeyPart::Text("2026-11-20")];
        let stored = seal("days", &key, br#"{"manifest":"ab12","version":3}"#);
        assert!(open("days", &key, &stored).is_some());
        for i in 0..stored.len() {
            for bit in 0..8 {
                let mut damaged = stored.clone();
                damaged[i] ^= 1 << bit;
                assert_eq!(open("days", &key, &damaged), None, "byte {i} bit {bit}");
            }
        }
        assert_eq!(open("days", &key, &stored[..stored.len() - 1]), None, "truncated");
        assert_eq!(open("days", &key, &stored[..3]), None, "shorter than a checksum");
        assert_eq!(open("days", &key, &[]), None);
    }

    #[test]
    fn the_key_and_table_are_bound() {
        let stored = seal("dict_rev", &[KeyPart::Text("a"), KeyPart::Id(1)], b"u1");
        assert_eq!(open("dict_rev", &[KeyPart::Text("b"), KeyPart::Id(1)], &stored), None, "another app");
        assert_eq!(open("dict_rev", &[KeyPart::Text("a"), KeyPart::Id(2)], &stored), None, "another id");
        assert_eq!(open("dict", &[KeyPart::Text("a"), KeyPart::Id(1)], &stored), None, "another table");
        // Length prefixes: moving bytes between key parts changes the sum.
        let ab = seal("t", &[KeyPart::Text("ab"), KeyPart::Text("c")], b"v");
        assert_eq!(open("t", &[KeyPart::Text("a"), KeyPart::Text("bc")], &ab), None);
    }

    #[test]
    fn record_ids_read_well() {
        let id = RecordId::new("dict_rev", &[KeyPart::Text("demo"), KeyPart::Id(42)]);
        assert_eq!(id.to_string(), "dict_rev record `demo/42`");
    }
}
