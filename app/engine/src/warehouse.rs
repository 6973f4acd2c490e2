//! Bitmaps as data warehouses write them: ClickHouse `groupBitmap` states and bare roaring
//! portable bitmaps, told apart per value, read into [`IdSet`]; and ClickHouse states written.
//!
//! # The formats
//! - **ClickHouse `AggregateFunction(groupBitmap, UInt32)`**, what `groupBitmapState` returns
//!   (`CAST(state AS String)` gives its bytes). A kind byte, then:
//!   - `0`, a *small set* (at most [`SMALL_SET_MAX`] ids): a varint count (ClickHouse's
//!     `writeVarUInt`, LEB128), then that many little-endian `u32` ids in the set's own order
//!     (not sorted; no id twice);
//!   - `1`, a *large* state: a varint byte length, then exactly that many bytes of the roaring
//!     portable format.
//! - **The roaring portable format** ([`crate::portable`]): cookie 12346 or 12347 in the first
//!   bytes (`3a 30` / `3b 30`), what CRoaring, Java's RoaringBitmap (Spark), Go and roaring-rs
//!   write.
//!
//! # Detection
//! The first byte decides which 32-bit reading applies: `00` a ClickHouse small set, `01` a
//! ClickHouse large state, `3a 30` / `3b 30` a portable bitmap; anything else is not a bitmap.
//! The formats cannot be confused: no portable bitmap starts with `00` or `01`.
//!
//! When that reading fails, the bytes are tried as the 64-bit layouts before the failure is
//! reported, because a 64-bit bitmap can start with `00` or `01` too (a 64-bit portable bitmap
//! starts with its `u64` bucket count):
//! - ClickHouse `UInt64` small set: kind `0`, varint count, 8-byte ids;
//! - ClickHouse `UInt64` large state: kind `1`, varint length, a 64-bit portable bitmap;
//! - the 64-bit portable layout (CRoaring `Roaring64Map`, roaring-rs `RoaringTreemap`): a `u64`
//!   little-endian bucket count, then per bucket a `u32` high key (strictly increasing) and a
//!   32-bit portable bitmap.
//!
//! A well-formed 64-bit bitmap is refused with [`BitmapError::SixtyFourBit`] (user ids are
//! 32-bit: keeping the low halves would silently merge users), even when all its ids would fit.
//! Otherwise the 32-bit reading's own error is the answer: the one the first byte pointed at.
//!
//! Like [`crate::portable`], the reader is strict: every length is checked against the bytes
//! there are before anything is allocated, varints must be minimal and fit 64 bits, nothing may
//! follow the bitmap, and any violation is a [`BitmapError`], never a panic.

use crate::error::{Bitmap64, BitmapError, VarintProblem};
use crate::idset::IdSet;
use crate::portable;

/// The most ids a ClickHouse small set holds; the 33rd turns it into a roaring bitmap.
pub const SMALL_SET_MAX: usize = 32;

const KIND_SMALL: u8 = 0;
const KIND_LARGE: u8 = 1;
/// First bytes of the portable format's cookies 12346 and 12347, little-endian.
const PORTABLE_COOKIE_STARTS: [[u8; 2]; 2] = [[0x3a, 0x30], [0x3b, 0x30]];

/// Which serialisation [`decode_bitmap`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitmapEncoding {
    /// A ClickHouse `groupBitmap` state holding a small set (kind 0).
    ClickHouseSmall,
    /// A ClickHouse `groupBitmap` state holding a roaring bitmap (kind 1).
    ClickHouseLarge,
    /// A bare roaring portable bitmap.
    Portable,
}

impl std::fmt::Display for BitmapEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BitmapEncoding::ClickHouseSmall => "ClickHouse groupBitmap state (small set)",
            BitmapEncoding::ClickHouseLarge => "ClickHouse groupBitmap state (roaring)",
            BitmapEncoding::Portable => "roaring portable bitmap",
        })
    }
}

/// Decodes a bitmap of 32-bit user ids from a ClickHouse `groupBitmap` state or a roaring
/// portable bitmap, saying which it was. See the module docs for the detection order.
///
/// ```
/// use engine::warehouse::{BitmapEncoding, decode_bitmap};
/// // What ClickHouse writes for groupBitmapState(toUInt32(x)) over 5, 3, 1: a small set.
/// let state = [0, 3, 5, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0];
/// let (set, encoding) = decode_bitmap(&state).unwrap();
/// assert_eq!(set.iter().collect::<Vec<_>>(), vec![1, 3, 5]);
/// assert_eq!(encoding, BitmapEncoding::ClickHouseSmall);
///
/// let err = decode_bitmap(br#"{"ids":[1]}"#).unwrap_err();
/// assert!(err.to_string().starts_with("not a bitmap: starts with bytes 7b 22 69 64"));
/// ```
pub fn decode_bitmap(bytes: &[u8]) -> Result<(IdSet, BitmapEncoding), BitmapError> {
    let Some(&first) = bytes.first() else {
        return Err(BitmapError::Empty);
    };
    let rest = &bytes[1..];
    let as_32_bit = match first {
        KIND_SMALL => decode_small_set(rest).map(|set| (set, BitmapEncoding::ClickHouseSmall)),
        KIND_LARGE => decode_large_state(rest).map(|set| (set, BitmapEncoding::ClickHouseLarge)),
        _ if PORTABLE_COOKIE_STARTS.iter().any(|c| bytes.starts_with(c)) => {
            portable::decode(bytes).map(|set| (set, BitmapEncoding::Portable)).map_err(BitmapError::Portable)
        }
        _ => Err(BitmapError::NotABitmap {
            start: bytes[..bytes.len().min(BitmapError::SHOWN_BYTES)].to_vec(),
            len: bytes.len(),
        }),
    };
    as_32_bit.map_err(|err| match layout_64_bit(bytes) {
        Some(kind) => BitmapError::SixtyFourBit(kind),
        None => err,
    })
}

/// Encodes a set as ClickHouse itself stores `groupBitmap` over `UInt32`: up to
/// [`SMALL_SET_MAX`] ids as a small set (here in ascending order), more as a roaring bitmap.
/// ClickHouse reads it back with `CAST(unhex(…) AS AggregateFunction(groupBitmap, UInt32))`.
///
/// ```
/// use engine::{IdSet, warehouse};
/// let small = warehouse::encode_clickhouse_state(&IdSet::from_sorted(&[1, 3]));
/// assert_eq!(small, [0, 2, 1, 0, 0, 0, 3, 0, 0, 0]);
///
/// let large = IdSet::full_range(100);
/// let bytes = warehouse::encode_clickhouse_state(&large);
/// assert_eq!(bytes[0], 1, "more than 32 ids: a roaring bitmap");
/// assert_eq!(warehouse::decode_bitmap(&bytes).unwrap().0, large);
/// ```
pub fn encode_clickhouse_state(set: &IdSet) -> Vec<u8> {
    if set.len() <= SMALL_SET_MAX as u64 {
        let mut out = Vec::with_capacity(2 + set.len() as usize * 4);
        out.push(KIND_SMALL);
        write_varint(&mut out, set.len());
        set.iter().for_each(|id| out.extend_from_slice(&id.to_le_bytes()));
        out
    } else {
        let bitmap = portable::encode(set);
        let mut out = Vec::with_capacity(1 + 10 + bitmap.len());
        out.push(KIND_LARGE);
        write_varint(&mut out, bitmap.len() as u64);
        out.extend_from_slice(&bitmap);
        out
    }
}

/// A ClickHouse small set of `u32` ids, after the kind byte.
fn decode_small_set(bytes: &[u8]) -> Result<IdSet, BitmapError> {
    let (declared, used) = read_varint(bytes, "small set's id count")?;
    if declared > SMALL_SET_MAX as u64 {
        return Err(BitmapError::SmallSetTooLarge { declared, max: SMALL_SET_MAX });
    }
    let declared = declared as usize; // at most 32
    let raw = &bytes[used..];
    if raw.len() != declared * 4 {
        return Err(BitmapError::SmallSetLength { declared, needed: declared * 4, got: raw.len() });
    }
    let mut ids: Vec<u32> = raw.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(BitmapError::SmallSetDuplicate(pair[0]));
    }
    Ok(IdSet::from_sorted(&ids))
}

/// A ClickHouse large state (varint length + portable bytes), after the kind byte.
fn decode_large_state(bytes: &[u8]) -> Result<IdSet, BitmapError> {
    let (declared, used) = read_varint(bytes, "groupBitmap state's byte length")?;
    let body = &bytes[used..];
    if declared != body.len() as u64 {
        return Err(BitmapError::LargeStateLength { declared, got: body.len() });
    }
    portable::decode(body).map_err(BitmapError::LargeStateBitmap)
}

/// Which 64-bit layout the bytes are, if they are exactly one of them.
fn layout_64_bit(bytes: &[u8]) -> Option<Bitmap64> {
    let (&first, rest) = bytes.split_first()?;
    if first == KIND_SMALL
        && let Ok((count, used)) = read_varint(rest, "")
        && count <= SMALL_SET_MAX as u64
        && (rest.len() - used) as u64 == count * 8
    {
        return Some(Bitmap64::ClickHouseSmall);
    }
    if first == KIND_LARGE
        && let Ok((len, used)) = read_varint(rest, "")
        && (rest.len() - used) as u64 == len
        && is_portable_64(&rest[used..])
    {
        return Some(Bitmap64::ClickHouseLarge);
    }
    is_portable_64(bytes).then_some(Bitmap64::Portable)
}

/// Whether the bytes are exactly one 64-bit portable bitmap: a `u64` bucket count, then per
/// bucket a strictly increasing `u32` high key and a valid 32-bit portable bitmap.
fn is_portable_64(bytes: &[u8]) -> bool {
    let Some((count, mut rest)) = bytes.split_first_chunk::<8>() else {
        return false;
    };
    let count = u64::from_le_bytes(*count);
    let mut previous: Option<u32> = None;
    // Each bucket takes at least 12 bytes, so the loop ends with the bytes whatever the count.
    for _ in 0..count {
        let Some((key, after_key)) = rest.split_first_chunk::<4>() else {
            return false;
        };
        let key = u32::from_le_bytes(*key);
        if previous.is_some_and(|p| p >= key) {
            return false;
        }
        previous = Some(key);
        let Ok((_, used)) = portable::decode_prefix(after_key) else {
            return false;
        };
        rest = &after_key[used..];
    }
    rest.is_empty()
}

/// Reads an unsigned LEB128 varint (ClickHouse `readVarUInt`): at most 10 bytes, the value
/// within 64 bits, no needless trailing zero groups. Returns the value and the bytes it took.
fn read_varint(bytes: &[u8], field: &'static str) -> Result<(u64, usize), BitmapError> {
    let problem = |problem| BitmapError::Varint { field, problem };
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return Err(problem(VarintProblem::Overflow));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(problem(VarintProblem::Overlong));
            }
            return Ok((value, i + 1));
        }
    }
    Err(problem(VarintProblem::Truncated))
}

/// Writes an unsigned LEB128 varint (ClickHouse `writeVarUInt`).
fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value > 0x7f {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FormatError;

    fn unhex(hex: &str) -> Vec<u8> {
        assert!(hex.len().is_multiple_of(2));
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
    }

    fn ids(set: &IdSet) -> Vec<u32> {
        set.iter().collect()
    }

    fn message(bytes: &[u8]) -> String {
        decode_bitmap(bytes).expect_err("refused").to_string()
    }

    // The vectors below are chDB's (ClickHouse 26.9) output for
    // `hex(CAST(groupBitmapState(...) AS String))`, checked by hand field by field.

    #[test]
    fn clickhouse_small_set_in_insertion_order() {
        // 00 kind small | 04 count | 5, 3, 1, 4294967295 as they were inserted
        let (set, encoding) = decode_bitmap(&unhex("0004050000000300000001000000FFFFFFFF")).expect("decodes");
        assert_eq!(ids(&set), vec![1, 3, 5, u32::MAX]);
        assert_eq!(encoding, BitmapEncoding::ClickHouseSmall);
    }

    #[test]
    fn clickhouse_empty_state() {
        let (set, encoding) = decode_bitmap(&[0, 0]).expect("decodes");
        assert!(set.is_empty());
        assert_eq!(encoding, BitmapEncoding::ClickHouseSmall);
        assert_eq!(encode_clickhouse_state(&IdSet::new()), [0, 0]);
    }

    #[test]
    fn clickhouse_large_state_with_a_run_container() {
        // 01 kind large | 0f = 15 bytes follow | 3b30 0000: cookie 12347, 1 container |
        // 01: it is a run container | key 0, 33 ids | 1 run: start 0, length 33
        let (set, encoding) = decode_bitmap(&unhex("010F3B3000000100002000010000002000")).expect("decodes");
        assert_eq!(ids(&set), (0..33).collect::<Vec<_>>());
        assert_eq!(encoding, BitmapEncoding::ClickHouseLarge);
    }

    #[test]
    fn clickhouse_large_state_with_a_two_byte_length() {
        // 40 ids 0, 100000, 200000, …: 98 03 = 0x18 + 3 * 128 = 408 bytes of portable bitmap.
        let mut state = vec![1, 0x98, 0x03];
        let set = IdSet::from_sorted_iter((0..40).map(|i| i * 100_000));
        let bitmap = portable::encode(&set);
        assert_eq!(bitmap.len(), 408);
        state.extend_from_slice(&bitmap);
        assert_eq!(decode_bitmap(&state).expect("decodes"), (set.clone(), BitmapEncoding::ClickHouseLarge));
        assert_eq!(encode_clickhouse_state(&set), state);
    }

    #[test]
    fn encodes_small_sets_ascending() {
        let set = IdSet::from_sorted(&[1, 3, 5, u32::MAX]);
        assert_eq!(encode_clickhouse_state(&set), unhex("0004010000000300000005000000FFFFFFFF"));
        let boundary = IdSet::full_range(32);
        assert_eq!(encode_clickhouse_state(&boundary)[..2], [0, 32]);
        assert_eq!(encode_clickhouse_state(&IdSet::full_range(33))[0], 1);
    }

    #[test]
    fn bare_portable_bitmaps() {
        let set = IdSet::from_sorted(&[7, 70_000]);
        let (back, encoding) = decode_bitmap(&portable::encode(&set)).expect("decodes");
        assert_eq!((back, encoding), (set, BitmapEncoding::Portable));
        // 3a30 0000 | 0 containers: the empty bitmap
        assert_eq!(
            decode_bitmap(&unhex("3A30000000000000")).expect("decodes"),
            (IdSet::new(), BitmapEncoding::Portable)
        );
    }

    #[test]
    fn clickhouse_uint64_states_are_refused_as_64_bit() {
        let small = unhex("00040500000000000000030000000000000001000000000000000000000001000000");
        assert_eq!(decode_bitmap(&small).expect_err("refused"), BitmapError::SixtyFourBit(Bitmap64::ClickHouseSmall));
        assert_eq!(
            message(&small),
            "a 64-bit bitmap (ClickHouse UInt64 state, small set): only 32-bit user ids are supported"
        );
        // 01 kind large | 1b = 27 bytes | 1 bucket | high key 0 | 15 bytes of 32-bit portable
        let large = unhex("011B0100000000000000000000003B3000000100002000010000002000");
        assert_eq!(decode_bitmap(&large).expect_err("refused"), BitmapError::SixtyFourBit(Bitmap64::ClickHouseLarge));
        assert_eq!(message(&large), "a 64-bit bitmap (ClickHouse UInt64 state): only 32-bit user ids are supported");
    }

    #[test]
    fn treemaps_are_refused_as_64_bit_whatever_their_first_byte() {
        for (buckets, first) in [(0u64, 0u8), (1, 1), (2, 2)] {
            let treemap: roaring::RoaringTreemap = (0..buckets).map(|b| (b << 32) | 7).collect();
            let mut bytes = Vec::new();
            treemap.serialize_into(&mut bytes).expect("in-memory write");
            assert_eq!(bytes[0], first);
            assert_eq!(
                decode_bitmap(&bytes).expect_err("refused"),
                BitmapError::SixtyFourBit(Bitmap64::Portable),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn small_set_errors() {
        let mut forty = vec![0, 40];
        (0u32..40).for_each(|id| forty.extend_from_slice(&id.to_le_bytes()));
        assert_eq!(message(&forty), "a ClickHouse small set declares 40 ids, more than the 32 it can hold");
        assert_eq!(
            message(&unhex("000201000000")),
            "a ClickHouse small set of 2 ids needs 8 bytes of 4-byte ids, got 4"
        );
        assert_eq!(
            message(&unhex("00010100000000")),
            "a ClickHouse small set of 1 id needs 4 bytes of 4-byte ids, got 5"
        );
        assert_eq!(message(&unhex("0003090000000100000009000000")), "a ClickHouse small set lists id 9 twice");
    }

    #[test]
    fn varint_errors() {
        let varint = |bytes: &[u8]| {
            read_varint(bytes, "x").map_err(|e| match e {
                BitmapError::Varint { problem, .. } => problem,
                other => panic!("{other}"),
            })
        };
        assert_eq!(varint(&[0]), Ok((0, 1)));
        assert_eq!(varint(&[0x98, 0x03, 0xff]), Ok((408, 2)));
        assert_eq!(varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Ok((u64::MAX, 10)));
        assert_eq!(varint(&[0x80, 0x00]), Err(VarintProblem::Overlong));
        assert_eq!(varint(&[0x80]), Err(VarintProblem::Truncated));
        assert_eq!(varint(&[]), Err(VarintProblem::Truncated));
        assert_eq!(varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]), Err(VarintProblem::Overflow));
        assert_eq!(varint(&[0x80; 11]), Err(VarintProblem::Overflow));
        for value in [0, 1, 127, 128, 408, 1 << 35, u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(varint(&out), Ok((value, out.len())));
        }
        assert_eq!(
            message(&[0, 0x80, 0]),
            "a ClickHouse small set's id count is not a valid varint: overlong encoding (more bytes than its value needs)"
        );
        assert_eq!(
            message(&[1]),
            "a ClickHouse groupBitmap state's byte length is not a valid varint: the bytes end inside it"
        );
    }

    #[test]
    fn large_state_errors() {
        // A length beyond the bytes is refused before anything is read or allocated.
        let huge = [1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x3a, 0x30];
        assert_eq!(
            message(&huge),
            "a ClickHouse groupBitmap state declares 4294967295 bytes of roaring bitmap, but 2 follow"
        );
        let mut trailing = encode_clickhouse_state(&IdSet::full_range(40));
        trailing.push(0);
        assert!(message(&trailing).contains("but 16 follow"), "{}", message(&trailing));
        // Length right, bitmap wrong: the portable reader's reason.
        assert_eq!(
            decode_bitmap(&[1, 4, 0x3a, 0x30, 0, 0]).expect_err("refused"),
            BitmapError::LargeStateBitmap(FormatError::Truncated { needed: 8, got: 4 })
        );
    }

    #[test]
    fn other_bytes_are_not_a_bitmap() {
        assert_eq!(message(&[]), "empty: no bitmap bytes");
        assert_eq!(
            message(br#"{"ids":[1,2]}"#),
            "not a bitmap: starts with bytes 7b 22 69 64 73 22 3a 5b …; expected a ClickHouse groupBitmap state \
             (first byte 00 or 01) or a roaring portable bitmap (first bytes 3a 30 or 3b 30)"
        );
        assert!(message(&[0x3a]).starts_with("not a bitmap: starts with bytes 3a; "));
        assert!(message(&[0x3a, 0x30, 0, 0]).starts_with("not a valid roaring portable bitmap: truncated"));
    }
}
