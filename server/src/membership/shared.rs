//! The membership index's postings as bytes, for sharing through the blob store: a header
//! (`SIX1`, users, labels, postings), each user's count (`u16`, at most 65,535 labels), then
//! every posting (`u16` label id), little-endian, compressed with zstd. Decoding checks every
//! length and label id against the manifest's own counts, so bytes that do not fit are
//! refused (and the index built again) rather than trusted.

use std::io::Read as _;

const MAGIC: &[u8; 4] = b"SIX1";
const HEADER: usize = 4 + 8 + 4 + 8;

/// The postings of `offsets`/`postings` (a CSR over `labels` labels), compressed.
pub(super) fn encode(offsets: &[u64], postings: &[u16], labels: usize) -> Vec<u8> {
    let users = offsets.len().saturating_sub(1);
    let mut raw = Vec::with_capacity(HEADER + users * 2 + postings.len() * 2);
    raw.extend_from_slice(MAGIC);
    raw.extend_from_slice(&(users as u64).to_le_bytes());
    raw.extend_from_slice(&(labels as u32).to_le_bytes());
    raw.extend_from_slice(&(postings.len() as u64).to_le_bytes());
    for w in offsets.windows(2) {
        raw.extend_from_slice(&u16::try_from(w[1] - w[0]).unwrap_or(u16::MAX).to_le_bytes());
    }
    for p in postings {
        raw.extend_from_slice(&p.to_le_bytes());
    }
    // Level 1: the postings compress about as well at any level, and this runs on a request.
    zstd::bulk::compress(&raw, 1).unwrap_or_default()
}

/// The CSR of bytes from [`encode`], if they hold `users` users over `labels` labels.
pub(super) fn decode(bytes: &[u8], users: u64, labels: usize) -> Option<(Vec<u64>, Vec<u16>)> {
    let mut reader = zstd::stream::read::Decoder::new(bytes).ok()?;
    let mut header = [0u8; HEADER];
    reader.read_exact(&mut header).ok()?;
    let field = |at: usize, len: usize| header.get(at..at + len);
    if field(0, 4)? != MAGIC
        || u64::from_le_bytes(field(4, 8)?.try_into().ok()?) != users
        || u32::from_le_bytes(field(12, 4)?.try_into().ok()?) as usize != labels
    {
        return None;
    }
    let total = u64::from_le_bytes(field(16, 8)?.try_into().ok()?);
    // No user has more labels than there are: a larger total is damage, not an allocation to make.
    if total > users.checked_mul(labels as u64)? {
        return None;
    }
    let mut counts = vec![0u8; usize::try_from(users).ok()?.checked_mul(2)?];
    reader.read_exact(&mut counts).ok()?;
    let mut offsets = Vec::with_capacity(counts.len() / 2 + 1);
    let mut at = 0u64;
    offsets.push(0);
    for c in counts.chunks_exact(2) {
        at += u64::from(u16::from_le_bytes([c[0], c[1]]));
        offsets.push(at);
    }
    if at != total {
        return None;
    }
    let mut raw = vec![0u8; usize::try_from(total).ok()?.checked_mul(2)?];
    reader.read_exact(&mut raw).ok()?;
    let postings: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    if postings.iter().any(|&p| usize::from(p) >= labels) || reader.read(&mut [0u8; 1]).ok()? != 0 {
        return None;
    }
    Some((offsets, postings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_does_not_fit() {
        let offsets = vec![0, 2, 2, 5];
        let postings = vec![0, 3, 1, 2, 3];
        let bytes = encode(&offsets, &postings, 4);
        assert_eq!(decode(&bytes, 3, 4), Some((offsets.clone(), postings.clone())));
        assert_eq!(decode(&bytes, 4, 4), None, "another version's users");
        assert_eq!(decode(&bytes, 3, 5), None, "another version's labels");
        assert_eq!(decode(&encode(&offsets, &postings, 3), 3, 3), None, "a label id beyond the labels");
        assert_eq!(decode(b"not zstd at all", 3, 4), None);
        let truncated = &bytes[..bytes.len() - 3];
        assert_eq!(decode(truncated, 3, 4), None);
    }
}
