//! Blobs: one bitmap each (a tag value, a segment's members, a universe), immutable and
//! addressed by the BLAKE3 hash of their bytes.
//!
//! # Layout (format version 1, little-endian)
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `SVBL` |
//! | 4 | 2 | format version (1) |
//! | 6 | 1 | payload encoding: 0 = roaring portable format, 1 = Elias–Fano ([`crate::elias_fano`]) |
//! | 7 | 1 | flags, 0 (reserved) |
//! | 8 | 4 | payload length in bytes |
//! | 12 | 4 | CRC-32 (IEEE) of the payload |
//! | 16 | n | payload |
//!
//! The encoding byte is the door for denser codes for sparse values (DESIGN.md §6): a reader
//! that meets an encoding it does not know says so instead of guessing. [`encode`] writes
//! whichever of the two is shorter for the value (ties stay roaring): Elias–Fano for sparse,
//! scattered ids (about half a bit per id above the information floor, where roaring arrays
//! spend 16 bits per id), roaring for dense and clustered ones (bitsets, runs) and the empty
//! set. Both decode to the same [`IdSet`]. Encoding 1 was added within format version 1:
//! every blob written before it is encoding 0 and decodes as it always did.

use crate::elias_fano;
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
/// Payload encoding: Elias–Fano ([`crate::elias_fano`]).
pub const ENCODING_ELIAS_FANO: u8 = 1;

/// Encodes a set as a blob, in whichever payload encoding is shorter for it.
///
/// ```
/// use engine::{IdSet, blob};
/// let set = IdSet::from_sorted(&[7, 8, 9]);
/// let bytes = blob::encode(&set);
/// assert_eq!(&bytes[..4], b"SVBL");
/// assert_eq!(blob::decode(&bytes).unwrap(), set);
/// // Scattered ids are written as Elias–Fano, a range as roaring runs.
/// let sparse = IdSet::from_sorted_iter((0..500u32).map(|i| i * 20_011));
/// assert_eq!(blob::encode(&sparse)[6], blob::ENCODING_ELIAS_FANO);
/// assert_eq!(blob::encode(&IdSet::full_range(100_000))[6], blob::ENCODING_ROARING);
/// ```
pub fn encode(set: &IdSet) -> Vec<u8> {
    let roaring = portable::encode(set);
    if elias_fano::encoded_len(set).is_some_and(|n| n < roaring.len())
        && let Some(payload) = elias_fano::encode(set)
    {
        return wrap(ENCODING_ELIAS_FANO, &payload);
    }
    wrap(ENCODING_ROARING, &roaring)
}

/// The header for `payload` (under 4 GiB) with payload encoding `encoding`, then the payload.
/// [`encode`] picks the encoding; tests and benches call this to have a particular one, or a
/// damaged payload under a correct checksum so the damage reaches the payload's reader.
pub fn wrap(encoding: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(encoding);
    out.push(0);
    // Roaring payloads are bounded by 65,536 containers of at most 8 KiB plus headers
    // (< 4 GiB), and an Elias–Fano payload is only written when it is shorter.
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Decodes a blob of either encoding, checking magic, version, length, checksum and the
/// bitmap itself.
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
    if encoding != ENCODING_ROARING && encoding != ENCODING_ELIAS_FANO {
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
    if encoding == ENCODING_ELIAS_FANO { elias_fano::decode(payload) } else { portable::decode(payload) }
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
