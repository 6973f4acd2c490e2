//! Elias–Fano coding of a set of ids: blob payload encoding 1, which [`crate::blob`] picks for
//! sparse values, where the roaring portable format spends 16 bits on every id of an array
//! container however far apart the ids are.
//!
//! Each id is split into its low `L` bits, written as they are, and its high bits, written in
//! unary as the gap from the previous id's high bits (that many zeros, then a one). With `L`
//! near log2(max / k), that costs about `2 + log2(max / k)` bits per id, within about half a bit
//! per id of the information floor log2 C(n, k) for a random set: 1.05–1.07× the floor at 1%
//! and 0.1% density, where roaring arrays cost 1.5–2×. The encoder tries every `L` and keeps
//! the shortest, so it never needs a cost model.
//!
//! # Layout (little-endian)
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | `k`, the number of ids (at least 1: the empty set stays roaring) |
//! | 4 | 4 | `max`, the largest id |
//! | 8 | 1 | `L`, the low-bit width, at most 31 |
//! | 9 | ⌈k·L / 8⌉ | low bits: id *i*'s low `L` bits at bit *i*·`L`, least significant bit first |
//! | … | ⌈(k + (max >> L)) / 8⌉ | high bits: per id, `(id_i >> L) − (id_{i−1} >> L)` zeros, then a one |
//!
//! Bits are numbered from the least significant bit of the first byte of each part; the unused
//! bits of each part's last byte are zero, so every set has exactly one encoding for a given
//! `L`. The reader is strict like [`crate::portable`]: the declared sizes must be the payload's
//! length before anything is allocated (so `k` is at most 8 bits per payload byte), ids must
//! strictly increase and end at `max`, and any violation is a [`FormatError`], never a panic.
//!
//! ```
//! use engine::{IdSet, elias_fano};
//! let set = IdSet::from_sorted(&[3, 1_000, 70_000, 4_000_000]);
//! let bytes = elias_fano::encode(&set).expect("not empty");
//! assert_eq!(bytes.len(), elias_fano::encoded_len(&set).unwrap());
//! assert!(bytes.len() < engine::portable::encode(&set).len());
//! assert_eq!(elias_fano::decode(&bytes).unwrap(), set);
//! assert!(elias_fano::decode(&bytes[..bytes.len() - 1]).is_err());
//! ```

use crate::error::FormatError;
use crate::idset::{ARRAY_MAX, Chunk, Container, IdSet, Words};

/// Bytes before the bit parts: `k`, `max`, `L`.
pub const HEADER_BYTES: usize = 9;
/// The widest low part: ids are 32-bit, and at 32 the high part would say nothing.
pub const MAX_LOW_BITS: u32 = 31;

fn malformed(reason: impl Into<String>) -> FormatError {
    FormatError::Malformed(format!("Elias–Fano payload: {}", reason.into()))
}

/// Bytes of the low part and of the high part for `k` ids up to `max` with `low_bits`.
fn part_bytes(k: u64, max: u32, low_bits: u32) -> (u64, u64) {
    ((k * u64::from(low_bits)).div_ceil(8), (k + u64::from(max >> low_bits)).div_ceil(8))
}

/// The low-bit width giving the fewest bytes (the smallest such width on a tie).
fn best_low_bits(k: u64, max: u32) -> u32 {
    (0..=MAX_LOW_BITS)
        .min_by_key(|&l| {
            let (low, high) = part_bytes(k, max, l);
            low + high
        })
        .unwrap_or(0)
}

/// The payload size [`encode`] would write, without writing it; `None` where it writes nothing.
///
/// ```
/// // 1,000 ids spread over 10M: about 15 bits each, where roaring spends 16 plus 8 bytes for
/// // each container.
/// let set = engine::IdSet::from_sorted_iter((0..1_000u32).map(|i| i * 10_007));
/// let n = engine::elias_fano::encoded_len(&set).unwrap();
/// assert!(n < 1_000 * 16 / 8, "{n}");
/// assert!(n < engine::portable::encode(&set).len() * 2 / 3);
/// ```
pub fn encoded_len(set: &IdSet) -> Option<usize> {
    let max = set.max()?;
    if set.len() > u64::from(u32::MAX) {
        return None;
    }
    let (low, high) = part_bytes(set.len(), max, best_low_bits(set.len(), max));
    // A set of 32-bit ids has at most 2^32 of them, so this is at most about 1.5 GiB.
    Some(HEADER_BYTES + (low + high) as usize)
}

/// Little-endian bytes of `words`, cut to `len` bytes.
fn words_to_bytes(words: &[u64], len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    words.iter().for_each(|w| out.extend_from_slice(&w.to_le_bytes()));
    out.truncate(start + len);
}

/// Encodes a set; `None` for the empty set and for the set of all 2^32 ids, whose count does
/// not fit the header (roaring writes both in a few bytes).
pub fn encode(set: &IdSet) -> Option<Vec<u8>> {
    let max = set.max()?;
    let k = set.len();
    if k > u64::from(u32::MAX) {
        return None;
    }
    let low_bits = best_low_bits(k, max);
    let (low_len, high_len) = part_bytes(k, max, low_bits);
    let mut low = vec![0u64; low_len.div_ceil(8) as usize];
    let mut high = vec![0u64; high_len.div_ceil(8) as usize];
    let mask = (1u64 << low_bits) - 1;
    for (i, id) in set.iter().enumerate() {
        let i = i as u64;
        let id = u64::from(id);
        let at = i * u64::from(low_bits);
        let (word, shift) = ((at / 64) as usize, at % 64);
        if low_bits > 0 {
            low[word] |= (id & mask) << shift;
            if shift + u64::from(low_bits) > 64 {
                low[word + 1] |= (id & mask) >> (64 - shift);
            }
        }
        // The i-th one follows (id >> L) zeros in all: it sits at bit (id >> L) + i.
        let at = (id >> low_bits) + i;
        high[(at / 64) as usize] |= 1 << (at % 64);
    }
    let mut out = Vec::with_capacity(HEADER_BYTES + (low_len + high_len) as usize);
    out.extend_from_slice(&(k as u32).to_le_bytes());
    out.extend_from_slice(&max.to_le_bytes());
    out.push(low_bits as u8);
    words_to_bytes(&low, low_len as usize, &mut out);
    words_to_bytes(&high, high_len as usize, &mut out);
    Some(out)
}

/// Checks that the bits of `part` past `bits` are zero.
fn check_padding(part: &[u8], bits: u64, name: &str) -> Result<(), FormatError> {
    let used = bits % 8;
    match part.last() {
        Some(&last) if used != 0 && last >> used != 0 => {
            Err(malformed(format!("padding bits of the {name} part are set")))
        }
        _ => Ok(()),
    }
}

/// Builds the chunks of an [`IdSet`] from ids arriving in increasing order.
struct ChunkBuilder {
    chunks: Vec<Chunk>,
    key: u16,
    lows: Vec<u16>,
    /// Room to reserve for a chunk's ids: the mean per chunk, so a random set's chunks rarely
    /// grow their vectors. At most 2 bytes per declared id in all, whatever the chunks hold.
    per_chunk: usize,
}

impl ChunkBuilder {
    fn push(&mut self, id: u32) {
        let key = (id >> 16) as u16;
        if key != self.key && !self.lows.is_empty() {
            self.flush();
        }
        self.key = key;
        self.lows.push(id as u16);
    }

    /// Closes the current chunk as the container the rest of the engine expects for its size
    /// (arrays up to [`ARRAY_MAX`], bitsets above), so the set equals its roaring decoding.
    fn flush(&mut self) {
        let container = if self.lows.len() <= ARRAY_MAX {
            Container::Array(std::mem::replace(&mut self.lows, Vec::with_capacity(self.per_chunk)))
        } else {
            let mut words = Words::boxed();
            for &x in &self.lows {
                words[usize::from(x >> 6)] |= 1u64 << (x & 63);
            }
            self.lows.clear();
            Container::Bits(words)
        };
        self.chunks.push(Chunk { key: self.key, container });
    }
}

/// Decodes an Elias–Fano payload, checking everything (see the module docs).
pub fn decode(payload: &[u8]) -> Result<IdSet, FormatError> {
    let Some((header, body)) = payload.split_first_chunk::<HEADER_BYTES>() else {
        return Err(FormatError::Truncated { needed: HEADER_BYTES, got: payload.len() });
    };
    let k = u64::from(u32::from_le_bytes([header[0], header[1], header[2], header[3]]));
    let max = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let low_bits = u32::from(header[8]);
    if k == 0 {
        return Err(malformed("no ids (the empty set is written as roaring)"));
    }
    if low_bits > MAX_LOW_BITS {
        return Err(malformed(format!("low-bit width {low_bits}, at most {MAX_LOW_BITS}")));
    }
    if k > u64::from(max) + 1 {
        return Err(malformed(format!("{k} distinct ids cannot all be at most {max}")));
    }
    // Sizes are checked against the payload before anything is allocated: the high part holds
    // a bit per id, so k is bounded by the bytes received.
    let (low_len, high_len) = part_bytes(k, max, low_bits);
    let needed = HEADER_BYTES as u64 + low_len + high_len;
    if (payload.len() as u64) < needed {
        // On 32-bit targets a hostile header may declare more than usize holds.
        let needed = usize::try_from(needed).unwrap_or(usize::MAX);
        return Err(FormatError::Truncated { needed, got: payload.len() });
    }
    if payload.len() as u64 > needed {
        return Err(FormatError::TrailingBytes { extra: payload.len() - needed as usize });
    }
    let (low, high) = body.split_at(low_len as usize);
    let high_bits_total = k + u64::from(max >> low_bits);
    check_padding(low, k * u64::from(low_bits), "low")?;
    check_padding(high, high_bits_total, "high")?;

    // The low part as words, with zero words after so a read may always touch two (the low
    // part is empty when L = 0).
    let mut low_words: Vec<u64> = low.chunks(8).map(le_word).collect();
    low_words.extend([0, 0]);
    let mask = (1u64 << low_bits) - 1;
    let max_high = u64::from(max >> low_bits);

    let chunks = u64::from(max >> 16) + 1;
    let per_chunk = k.div_ceil(chunks).min(ARRAY_MAX as u64 + 1) as usize;
    let mut out = ChunkBuilder { chunks: Vec::new(), key: 0, lows: Vec::with_capacity(per_chunk), per_chunk };
    let mut i = 0u64;
    let mut next_min = 0u64;
    for (w, bytes) in high.chunks(8).enumerate() {
        let mut word = le_word(bytes);
        while word != 0 {
            if i == k {
                return Err(malformed(format!("more than the {k} ids declared")));
            }
            let at = w as u64 * 64 + u64::from(word.trailing_zeros());
            word &= word - 1;
            let high_value = at - i;
            if high_value > max_high {
                return Err(malformed(format!("id {i} is above the largest id {max}")));
            }
            let bit = i * u64::from(low_bits);
            let (lw, shift) = ((bit / 64) as usize, bit % 64);
            // Two shifts so that shift = 0 never shifts by 64.
            let low_value = ((low_words[lw] >> shift) | ((low_words[lw + 1] << 1) << (63 - shift))) & mask;
            let id = high_value << low_bits | low_value;
            if id < next_min || id > u64::from(max) {
                return Err(malformed(format!("id {i} ({id}) is out of order or above the largest id {max}")));
            }
            next_min = id + 1;
            out.push(id as u32);
            i += 1;
        }
    }
    if i != k {
        return Err(malformed(format!("{i} ids, the header declares {k}")));
    }
    if next_min != u64::from(max) + 1 {
        return Err(malformed(format!("the last id is {}, the header says {max}", next_min - 1)));
    }
    out.flush();
    Ok(IdSet::from_chunks(out.chunks))
}

/// Up to 8 bytes as a little-endian word (missing high bytes are zero).
#[inline]
fn le_word(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_is_the_shortest() {
        // 1% of 10M: n/k = 100, so L = 6 (log2 100 = 6.6), about 8.6 bits per id.
        assert_eq!(best_low_bits(100_000, 9_999_999), 6);
        assert_eq!(best_low_bits(10_000, 9_999_999), 9);
        // The largest id alone: 29 low bits and a one after 7 zeros, 5 bytes after the header.
        let one = IdSet::from_sorted(&[u32::MAX]);
        let bytes = encode(&one).expect("not empty");
        assert_eq!((bytes.len(), bytes[8]), (HEADER_BYTES + 5, 29));
        assert_eq!(decode(&bytes).expect("round trip"), one);
    }

    #[test]
    fn dense_chunks_decode_into_bitsets_like_roaring() {
        let set = IdSet::from_sorted_iter((60_000..200_000u32).chain([u32::MAX - 1, u32::MAX]));
        let back = decode(&encode(&set).expect("not empty")).expect("round trip");
        assert_eq!(back, set);
        assert!(matches!(back.chunks()[1].container, Container::Bits(_)));
        assert_eq!(back, crate::portable::decode(&crate::portable::encode(&set)).expect("roaring"));
    }
}
