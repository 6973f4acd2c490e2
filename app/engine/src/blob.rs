//! Blobs: one bitmap each (a tag value, a segment's members, a universe), immutable and
//! addressed by the BLAKE3 hash of their bytes.
//!
//! # Layout (format version 1, little-endian)
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `SVBL` |
//! | 4 | 2 | format version (1) |
//! | 6 | 1 | payload encoding: 0 = roaring portable format |
//! | 7 | 1 | flags, 0 (reserved) |
//! | 8 | 4 | payload length in bytes |
//! | 12 | 4 | CRC-32 (IEEE) of the payload |
//! | 16 | n | payload |
//!
//! The encoding byte is the door for denser codes for sparse values (DESIGN.md §6): a reader
//! that meets an encoding it does not know says so instead of guessing.

use crate::error::FormatError;
use crate::idset::IdSet;
use crate::portable;

/// Magic bytes at the start of every blob.
pub const MAGIC: [u8; 4] = *b"SVBL";
/// The blob format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Header size in bytes.
pub const HEADER_BYTES: usize = 16;
/// Payload encoding: the roaring portable format.
pub const ENCODING_ROARING: u8 = 0;

/// Encodes a set as a blob.
///
/// ```
/// use engine::{IdSet, blob};
/// let set = IdSet::from_sorted(&[7, 8, 9]);
/// let bytes = blob::encode(&set);
/// assert_eq!(&bytes[..4], b"SVBL");
/// assert_eq!(blob::decode(&bytes).unwrap(), set);
/// ```
pub fn encode(set: &IdSet) -> Vec<u8> {
    let payload = portable::encode(set);
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(ENCODING_ROARING);
    out.push(0);
    // Payloads are bounded by 65,536 containers of at most 8 KiB plus headers (< 4 GiB).
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Decodes a blob, checking magic, version, length, checksum and the bitmap itself.
///
/// ```
/// use engine::{FormatError, IdSet, blob};
/// let mut bytes = blob::encode(&IdSet::from_sorted(&[1, 2, 3]));
/// let last = bytes.len() - 1;
/// bytes[last] ^= 1;
/// assert!(matches!(blob::decode(&bytes), Err(FormatError::ChecksumMismatch { .. })));
/// ```
pub fn decode(bytes: &[u8]) -> Result<IdSet, FormatError> {
    if bytes.len() < HEADER_BYTES {
        if bytes.len() >= 4 && bytes[..4] != MAGIC {
            return Err(FormatError::BadMagic { expected: "Sieve blob" });
        }
        return Err(FormatError::Truncated { needed: HEADER_BYTES, got: bytes.len() });
    }
    if bytes[..4] != MAGIC {
        return Err(FormatError::BadMagic { expected: "Sieve blob" });
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != FORMAT_VERSION {
        return Err(FormatError::IncompatibleVersion {
            found: u32::from(version),
            supported: u32::from(FORMAT_VERSION),
        });
    }
    let encoding = bytes[6];
    if encoding != ENCODING_ROARING {
        return Err(FormatError::UnknownEncoding(encoding));
    }
    if bytes[7] != 0 {
        return Err(FormatError::Malformed(format!("unknown flags {:#04x}", bytes[7])));
    }
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let expected = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let payload = &bytes[HEADER_BYTES..];
    if payload.len() < len {
        return Err(FormatError::Truncated { needed: HEADER_BYTES + len, got: bytes.len() });
    }
    if payload.len() > len {
        return Err(FormatError::TrailingBytes { extra: payload.len() - len });
    }
    let got = crc32fast::hash(payload);
    if got != expected {
        return Err(FormatError::ChecksumMismatch { expected, got });
    }
    portable::decode(payload)
}

/// The content address of blob bytes: lowercase hex BLAKE3, 64 characters.
///
/// ```
/// let h = engine::blob::hash(b"abc");
/// assert_eq!(h.len(), 64);
/// assert!(engine::blob::is_hash(&h));
/// ```
pub fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Whether `s` looks like a content address (64 lowercase hex digits).
pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Decodes bytes fetched by their content address, checking the address too.
pub fn decode_addressed(bytes: &[u8], address: &str) -> Result<IdSet, FormatError> {
    let got = hash(bytes);
    if got != address {
        return Err(FormatError::HashMismatch { expected: address.to_owned(), got });
    }
    decode(bytes)
}
