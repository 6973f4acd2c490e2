//! The roaring portable serialisation format (the one CRoaring, Java, Go and roaring-rs share,
//! and ClickHouse's `groupBitmap` state wraps: see [`crate::warehouse`]), read into and written
//! from [`IdSet`].
//!
//! The reader is strict because its bytes may come from anywhere: every length is checked
//! before it is used, keys and array values must strictly increase, cardinalities must match
//! the containers, declared offsets must match where containers really start, and nothing may
//! follow the last container. Any violation is a [`FormatError`], never a panic.
//! Format reference: <https://github.com/RoaringBitmap/RoaringFormatSpec>.

use crate::error::FormatError;
use crate::idset::{ARRAY_MAX, BITSET_WORDS, Chunk, Container, IdSet, Words, plain_bytes, popcount};

const COOKIE_NO_RUNS: u32 = 12346;
const COOKIE_RUNS: u16 = 12347;
/// With run containers, the offset header is present only from this many containers on.
const NO_OFFSET_THRESHOLD: usize = 4;
const BITSET_BYTES: usize = BITSET_WORDS * 8;

/// A cursor over untrusted bytes that never reads past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(FormatError::Truncated { needed: self.pos.saturating_add(n), got: self.bytes.len() }),
        }
    }
    fn u16(&mut self) -> Result<u16, FormatError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn malformed(reason: impl Into<String>) -> FormatError {
    FormatError::Malformed(reason.into())
}

/// Decodes portable-format bytes into a set, checking everything.
///
/// ```
/// let mut bytes = Vec::new();
/// roaring::RoaringBitmap::from_iter([1u32, 2, 70_000]).serialize_into(&mut bytes).unwrap();
/// let set = engine::portable::decode(&bytes).unwrap();
/// assert_eq!(set.iter().collect::<Vec<_>>(), vec![1, 2, 70_000]);
/// assert!(engine::portable::decode(&bytes[..bytes.len() - 1]).is_err());
/// ```
pub fn decode(bytes: &[u8]) -> Result<IdSet, FormatError> {
    let (set, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(FormatError::TrailingBytes { extra: bytes.len() - used });
    }
    Ok(set)
}

/// Decodes the one portable bitmap that `bytes` starts with, checking everything but what
/// follows it, and says how many bytes it took: for formats that put several bitmaps one after
/// another (the 64-bit layout is a count, then a high key and a bitmap per bucket).
pub(crate) fn decode_prefix(bytes: &[u8]) -> Result<(IdSet, usize), FormatError> {
    let mut r = Reader { bytes, pos: 0 };
    let cookie = r.u32()?;
    let (count, run_flags) = if cookie == COOKIE_NO_RUNS {
        let count = r.u32()? as usize;
        (count, None)
    } else if cookie as u16 == COOKIE_RUNS {
        let count = (cookie >> 16) as usize + 1;
        let flags = r.take(count.div_ceil(8))?;
        (count, Some(flags))
    } else {
        return Err(malformed(format!("unknown cookie {cookie:#x}")));
    };
    if count > 1 << 16 {
        return Err(malformed(format!("{count} containers; at most 65536 fit in 32-bit ids")));
    }
    let is_run = |i: usize| run_flags.is_some_and(|f| f[i / 8] & (1 << (i % 8)) != 0);

    let header = r.take(count * 4)?;
    let descriptions: Vec<(u16, usize)> = header
        .chunks_exact(4)
        .map(|d| (u16::from_le_bytes([d[0], d[1]]), usize::from(u16::from_le_bytes([d[2], d[3]])) + 1))
        .collect();
    if descriptions.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(malformed("container keys are not strictly increasing"));
    }
    let has_offsets = run_flags.is_none() || count >= NO_OFFSET_THRESHOLD;
    let offsets: Option<Vec<u32>> = if has_offsets {
        let raw = r.take(count * 4)?;
        Some(raw.chunks_exact(4).map(|o| u32::from_le_bytes([o[0], o[1], o[2], o[3]])).collect())
    } else {
        None
    };

    let mut chunks = Vec::with_capacity(count);
    for (i, &(key, card)) in descriptions.iter().enumerate() {
        if let Some(offsets) = &offsets
            && offsets[i] as usize != r.pos
        {
            return Err(malformed(format!("container {i} declared at byte {} but starts at {}", offsets[i], r.pos)));
        }
        let container = if is_run(i) {
            read_runs(&mut r, card, i)?
        } else if card > ARRAY_MAX {
            let raw = r.take(BITSET_BYTES)?;
            let mut words: Box<Words> = Words::boxed();
            for (w, b) in words.iter_mut().zip(raw.chunks_exact(8)) {
                *w = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            }
            let real = popcount(&words);
            if real != card {
                return Err(malformed(format!("bitset container {i} holds {real} ids, header says {card}")));
            }
            Container::Bits(words)
        } else {
            let raw = r.take(card * 2)?;
            let values: Vec<u16> = raw.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
            if values.windows(2).any(|w| w[0] >= w[1]) {
                return Err(malformed(format!("array container {i} is not strictly increasing")));
            }
            Container::Array(values)
        };
        chunks.push(Chunk { key, container });
    }
    Ok((IdSet::from_chunks(chunks), r.pos))
}

/// Reads a run container: kept as runs when [`Container::with_runs`] would choose them,
/// otherwise turned into the array or bitset they hold.
fn read_runs(r: &mut Reader<'_>, card: usize, index: usize) -> Result<Container, FormatError> {
    let n_runs = usize::from(r.u16()?);
    let raw = r.take(n_runs * 4)?;
    let mut runs: Vec<(u16, u16)> = Vec::with_capacity(n_runs);
    let mut total = 0usize;
    let mut next_free: u32 = 0;
    for run in raw.chunks_exact(4) {
        let start = u32::from(u16::from_le_bytes([run[0], run[1]]));
        let end = start + u32::from(u16::from_le_bytes([run[2], run[3]])); // inclusive
        if start < next_free || end > u32::from(u16::MAX) {
            return Err(malformed(format!("run container {index} has overlapping or out-of-range runs")));
        }
        total += (end - start + 1) as usize;
        // Touching runs are allowed by the format; the container keeps them merged.
        match runs.last_mut() {
            Some((_, last)) if start == next_free => *last = end as u16,
            _ => runs.push((start as u16, end as u16)),
        }
        next_free = end + 1;
    }
    if total != card {
        return Err(malformed(format!("run container {index} holds {total} ids, header says {card}")));
    }
    if runs.is_empty() {
        return Err(malformed(format!("run container {index} is empty")));
    }
    let runs_pay = crate::idset::runs_pay(total, runs.len());
    let runs = Container::Runs(runs);
    if runs_pay {
        return Ok(runs);
    }
    let mut words: Box<Words> = Words::boxed();
    runs.write_bits(&mut words);
    Container::from_words(&words).ok_or_else(|| malformed(format!("run container {index} is empty")))
}

/// Encodes a set in the portable format, choosing for each container the smallest of array,
/// bitset and runs (runs matter for the universe, which is one long range).
///
/// ```
/// let set = engine::IdSet::full_range(200_000);
/// let bytes = engine::portable::encode(&set);
/// assert!(bytes.len() < 100, "a range encodes as runs");
/// assert_eq!(engine::portable::decode(&bytes).unwrap(), set);
/// ```
pub fn encode(set: &IdSet) -> Vec<u8> {
    let chunks = set.chunks();
    let plans: Vec<Option<Vec<(u16, u16)>>> = chunks
        .iter()
        .map(|c| {
            let plain = plain_bytes(c.container.len());
            // Counting runs walks the container; only do it where runs can win.
            let r: Vec<(u16, u16)> = c.container.runs().into_iter().map(|(a, b)| (a, b - a)).collect();
            (2 + r.len() * 4 < plain).then_some(r)
        })
        .collect();
    let any_runs = plans.iter().any(Option::is_some);
    let count = chunks.len();
    let mut out = Vec::new();
    if any_runs {
        // count >= 1 here, and count <= 65536, so count - 1 fits the cookie's high half.
        let cookie = u32::from(COOKIE_RUNS) | (((count - 1) as u32) << 16);
        out.extend_from_slice(&cookie.to_le_bytes());
        let mut flags = vec![0u8; count.div_ceil(8)];
        for (i, p) in plans.iter().enumerate() {
            if p.is_some() {
                flags[i / 8] |= 1 << (i % 8);
            }
        }
        out.extend_from_slice(&flags);
    } else {
        out.extend_from_slice(&COOKIE_NO_RUNS.to_le_bytes());
        out.extend_from_slice(&(count as u32).to_le_bytes());
    }
    for c in chunks {
        out.extend_from_slice(&c.key.to_le_bytes());
        out.extend_from_slice(&((c.container.len() - 1) as u16).to_le_bytes());
    }
    if !any_runs || count >= NO_OFFSET_THRESHOLD {
        let mut pos = out.len() + count * 4;
        for (c, p) in chunks.iter().zip(&plans) {
            out.extend_from_slice(&(pos as u32).to_le_bytes());
            pos += match (p, &c.container) {
                (Some(r), _) => 2 + r.len() * 4,
                (None, Container::Array(v)) => v.len() * 2,
                (None, Container::Bits(_)) => BITSET_BYTES,
                (None, c @ Container::Runs(_)) => plain_bytes(c.len()),
            };
        }
    }
    for (c, p) in chunks.iter().zip(&plans) {
        match (p, &c.container) {
            (Some(r), _) => {
                out.extend_from_slice(&(r.len() as u16).to_le_bytes());
                for (start, len_minus_one) in r {
                    out.extend_from_slice(&start.to_le_bytes());
                    out.extend_from_slice(&len_minus_one.to_le_bytes());
                }
            }
            (None, Container::Array(v)) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            (None, Container::Bits(w)) => w.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            // Runs kept in memory can lose on the wire by the run count's two bytes (a one-id
            // chunk of `IdSet::full_range`, say): they go out as the array or bitset they hold.
            (None, c @ Container::Runs(_)) if c.len() <= ARRAY_MAX => {
                c.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()))
            }
            (None, c @ Container::Runs(_)) => {
                let mut words = Words::boxed();
                c.write_bits(&mut words);
                words.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            }
        }
    }
    out
}
