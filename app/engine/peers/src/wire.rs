//! Wire bytes per tag: what Sieve sends (the blob: 16-byte header + the shorter of the
//! engine's roaring portable and Elias–Fano encodings, as `engine::blob::encode` picks), CRoaring's portable format after `run_optimize` (the reference encoder), zstd of
//! the portable bytes (levels 3 and 19; 19 only up to 4 MiB), and the information floor.
//!
//! The floor is log2 C(n, k) bits: the fewest bits that can name one k-subset of n users when
//! every subset is equally likely (a uniformly random tag). Clustered tags are not uniform:
//! their runs carry less information, so an encoder may beat this floor on them.

use croaring::{Bitmap, Portable};
use serde::Serialize;

/// Portable sizes above this are not compressed at level 19.
pub const ZSTD19_MAX_BYTES: usize = 4 << 20;

/// One tag's sizes in bytes.
#[derive(Debug, Clone, Serialize)]
pub struct WireRow {
    pub key: String,
    pub layout: String,
    pub count: u64,
    pub blob_bytes: usize,
    pub croaring_portable_bytes: usize,
    pub zstd3_bytes: usize,
    /// `None` above [`ZSTD19_MAX_BYTES`] (level 19 runs at a few MB/s; 100M users would wait minutes).
    pub zstd19_bytes: Option<usize>,
    pub floor_bytes: f64,
}

/// ln(n!) — exact sum for small n, Stirling's series beyond (error < 1e-12 relative there).
fn ln_factorial(n: u64) -> f64 {
    if n < 32 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x * x)
}

/// log2 C(n, k), in bits.
pub fn floor_bits(n: u64, k: u64) -> f64 {
    if k == 0 || k >= n {
        return 0.0;
    }
    (ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)) / std::f64::consts::LN_2
}

/// Measures one tag. `portable` is the engine's portable encoding (the data file).
pub fn measure(key: &str, layout: &str, users: u32, bitmap: &Bitmap, portable: &[u8]) -> Result<WireRow, String> {
    let mut optimized = bitmap.clone();
    optimized.run_optimize();
    let croaring = optimized.get_serialized_size_in_bytes::<Portable>();
    let zstd = |level| zstd::bulk::compress(portable, level).map(|z| z.len()).map_err(|e| format!("zstd: {e}"));
    let count = bitmap.cardinality();
    let ours = engine::portable::decode(portable).map_err(|e| format!("{key}: {e}"))?;
    Ok(WireRow {
        key: key.to_owned(),
        layout: layout.to_owned(),
        count,
        blob_bytes: engine::blob::encode(&ours).len(),
        croaring_portable_bytes: croaring,
        zstd3_bytes: zstd(3)?,
        zstd19_bytes: if portable.len() <= ZSTD19_MAX_BYTES { Some(zstd(19)?) } else { None },
        floor_bytes: floor_bits(u64::from(users), count) / 8.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_matches_exact_binomials() {
        // C(10, 3) = 120, C(64, 32) = 1832624140942590534, C(100, 1) = 100.
        assert!((floor_bits(10, 3) - 120f64.log2()).abs() < 1e-9);
        assert!((floor_bits(64, 32) - 1_832_624_140_942_590_534f64.log2()).abs() < 1e-9);
        assert!((floor_bits(100, 1) - 100f64.log2()).abs() < 1e-9);
        // About n·H(p) bits for large n: 1% of 10M users is close to 0.0808 bits per user.
        let bits_per_user = floor_bits(10_000_000, 100_000) / 1e7;
        assert!((bits_per_user - 0.0808).abs() < 0.001, "{bits_per_user}");
    }
}
