//! Counting kernels over one chunk's containers: popcount of a bitset, of the AND and of the
//! AND-NOT of two bitsets (one fused pass, nothing written), and the intersection size of any
//! two containers (bitset with bitset, array with bitset by bit tests, array with array by merge
//! or by galloping).
//!
//! The bitset kernels exist twice on x86-64: plain loops at the build's baseline (x86-64-v2:
//! SSE4.2 and POPCNT, see `.cargo/config.toml`), and an AVX2 Harley–Seal popcount. The AVX2
//! copy is chosen once at run time ([`level`]), so one binary runs on every x86-64 server and
//! still uses the wider kernels where the CPU has them. AVX-512 (`VPOPCNTDQ`) is not
//! compiled in: the machines we measure on have no AVX-512, so such a path could be neither
//! measured nor tested here. The wasm32 build always has SIMD128 (the repository's wasm
//! rustflags): its bitset kernels are the same Harley–Seal popcount on 128-bit vectors
//! (`kernels/simd128.rs`), its array and run kernels the plain loops; no dispatch, no `unsafe`.
//!
//! Every path gives the same answers: the unit tests compare each kernel with the plain loop on
//! random words, the evaluator's property tests run through whichever level the machine
//! picks, and `app/tests/engine_in_browser.rs` compares the SIMD128 kernels with plain loops in
//! Chromium.

use crate::idset::{Container, Words, range_count};

/// The kernel set chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Plain loops at the build's baseline (x86-64-v2 natively, SIMD128 in wasm).
    Portable,
    /// The same loops compiled with AVX2 and POPCNT (x86-64 only).
    Avx2,
    /// The Harley–Seal kernels in WebAssembly SIMD128 (wasm32 only, always).
    Simd128,
}

/// The kernels this CPU runs, detected once and kept. `SIEVE_KERNELS=portable` in the
/// environment keeps the portable loops (to compare the two on one machine).
#[cfg(target_arch = "x86_64")]
pub fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let forced_portable = std::env::var_os("SIEVE_KERNELS").is_some_and(|v| v == "portable");
        if !forced_portable
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            Level::Avx2
        } else {
            Level::Portable
        }
    })
}

/// The kernels the browser runs: SIMD128, which the wasm32 build always has.
#[cfg(target_arch = "wasm32")]
pub fn level() -> Level {
    Level::Simd128
}

/// The kernels this CPU runs: the portable loops outside x86-64 and wasm32.
#[cfg(not(any(target_arch = "x86_64", target_arch = "wasm32")))]
pub fn level() -> Level {
    Level::Portable
}

/// The Harley–Seal popcount both vector kernels run (Muła, Kurz and Lemire, "Faster population
/// counts using AVX2 instructions", 2018): carry-save adders fold sixteen vectors a step into
/// bit-position counters, and only one vector in sixteen goes through a per-lane popcount.
/// Written once for the AVX2 kernels below and the SIMD128 ones (`kernels/simd128.rs`), which
/// differ only in their vector type and operations: `$steps` steps of sixteen vectors,
/// `$vector(i)` the `i`-th vector, `$zero`, the carry-save adder `$csa`, lane addition `$add`
/// and per-lane popcounts `$lanes`. Evaluates to the per-lane counts.
macro_rules! harley_seal_lanes {
    ($steps:expr, $vector:expr, $zero:expr, $csa:expr, $add:expr, $lanes:expr) => {{
        let (mut total, mut ones, mut twos, mut fours, mut eights) = ($zero, $zero, $zero, $zero, $zero);
        for step in 0..$steps {
            let d = |k: usize| $vector(16 * step + k);
            let (twos_a, o) = $csa(ones, d(0), d(1));
            let (twos_b, o) = $csa(o, d(2), d(3));
            let (fours_a, t) = $csa(twos, twos_a, twos_b);
            let (twos_a, o) = $csa(o, d(4), d(5));
            let (twos_b, o) = $csa(o, d(6), d(7));
            let (fours_b, t) = $csa(t, twos_a, twos_b);
            let (eights_a, f) = $csa(fours, fours_a, fours_b);
            let (twos_a, o) = $csa(o, d(8), d(9));
            let (twos_b, o) = $csa(o, d(10), d(11));
            let (fours_a, t) = $csa(t, twos_a, twos_b);
            let (twos_a, o) = $csa(o, d(12), d(13));
            let (twos_b, o) = $csa(o, d(14), d(15));
            let (fours_b, t) = $csa(t, twos_a, twos_b);
            let (eights_b, f) = $csa(f, fours_a, fours_b);
            let (sixteens, e) = $csa(eights, eights_a, eights_b);
            total = $add(total, $lanes(sixteens));
            (ones, twos, fours, eights) = (o, t, f, e);
        }
        // 16 × total + 8 × eights + 4 × fours + 2 × twos + ones, by doubling (once a call).
        let twice = |x| $add(x, x);
        $add(
            $add(twice(twice(twice(twice(total)))), twice(twice(twice($lanes(eights))))),
            $add($add(twice(twice($lanes(fours))), twice($lanes(twos))), $lanes(ones)),
        )
    }};
}

#[cfg(target_arch = "wasm32")]
mod simd128;

/// Calls the kernel of the level [`level`] chose.
macro_rules! dispatch {
    ($f:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        if level() == Level::Avx2 {
            // SAFETY: `level` returns `Avx2` only when the running CPU reports AVX2 and POPCNT,
            // the features `avx2::$f` is compiled with.
            #[allow(unsafe_code)]
            return unsafe { avx2::$f($($arg),*) };
        }
        #[cfg(target_arch = "wasm32")]
        let kernel = simd128::$f;
        #[cfg(not(target_arch = "wasm32"))]
        let kernel = portable::$f;
        kernel($($arg),*)
    }};
}

/// Number of set bits in a bitset.
///
/// ```
/// let mut w = engine::idset::Words::ZERO;
/// w[3] = 0b1011;
/// assert_eq!(engine::kernels::popcount(&w), 3);
/// ```
#[inline]
pub fn popcount(w: &Words) -> usize {
    dispatch!(popcount(w))
}

/// `|a ∩ b|` of two bitsets, in one pass.
///
/// ```
/// let (mut a, mut b) = (engine::idset::Words::ZERO, engine::idset::Words::ZERO);
/// (a[0], b[0]) = (0b1110, 0b0111);
/// assert_eq!(engine::kernels::and_count(&a, &b), 2);
/// assert_eq!(engine::kernels::andnot_count(&a, &b), 1);
/// ```
#[inline]
pub fn and_count(a: &Words, b: &Words) -> usize {
    dispatch!(and_count(a, b))
}

/// `|a ∖ b|` of two bitsets, in one pass.
#[inline]
pub fn andnot_count(a: &Words, b: &Words) -> usize {
    dispatch!(andnot_count(a, b))
}

/// The loops themselves, inlined into each level's copy. The wasm32 build counts bitsets with
/// `simd128` instead and takes only the array and run kernels from here.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
mod portable {
    pub use crate::arrays::and_len as arrays_and_len;
    use crate::idset::Words;

    #[inline(always)]
    pub fn popcount(w: &Words) -> usize {
        w.iter().map(|x| x.count_ones() as usize).sum()
    }

    #[inline(always)]
    pub fn and_count(a: &Words, b: &Words) -> usize {
        a.iter().zip(b.iter()).map(|(x, y)| (x & y).count_ones() as usize).sum()
    }

    #[inline(always)]
    pub fn andnot_count(a: &Words, b: &Words) -> usize {
        a.iter().zip(b.iter()).map(|(x, y)| (x & !y).count_ones() as usize).sum()
    }
}

/// AVX2 kernels; callers check [`level`] first. The Harley–Seal popcount
/// (`harley_seal_lanes!`) on 256-bit vectors, with a nibble-lookup popcount per lane.
/// Compiling the plain loops with AVX2 instead (LLVM then runs the lookup on every vector)
/// measured slower.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi8, _mm256_add_epi64, _mm256_and_si256, _mm256_andnot_si256, _mm256_extract_epi64,
        _mm256_or_si256, _mm256_sad_epu8, _mm256_set_epi64x, _mm256_set1_epi8, _mm256_setr_epi8, _mm256_setzero_si256,
        _mm256_shuffle_epi8, _mm256_srli_epi16, _mm256_xor_si256,
    };

    use crate::idset::{BITSET_WORDS, Words};

    /// What a kernel counts, per 256-bit vector.
    const POP: u8 = 0;
    const AND: u8 = 1;
    const ANDNOT: u8 = 2;

    #[target_feature(enable = "avx2,popcnt")]
    pub fn popcount(w: &Words) -> usize {
        harley_seal::<POP>(w, w)
    }

    #[target_feature(enable = "avx2,popcnt")]
    pub fn and_count(a: &Words, b: &Words) -> usize {
        harley_seal::<AND>(a, b)
    }

    #[target_feature(enable = "avx2,popcnt")]
    pub fn andnot_count(a: &Words, b: &Words) -> usize {
        harley_seal::<ANDNOT>(a, b)
    }

    #[target_feature(enable = "avx2,popcnt")]
    pub fn arrays_and_len(a: &[u16], b: &[u16]) -> usize {
        crate::arrays::and_len(a, b)
    }

    /// Vector `i` (words `4i..4i+4`); LLVM turns the four adjacent reads into one load, and
    /// taking them as values keeps raw pointers (and `unsafe`) out of this module.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(w: &Words, i: usize) -> __m256i {
        let q = &w[4 * i..4 * i + 4];
        _mm256_set_epi64x(q[3] as i64, q[2] as i64, q[1] as i64, q[0] as i64)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn vector<const OP: u8>(a: &Words, b: &Words, i: usize) -> __m256i {
        match OP {
            AND => _mm256_and_si256(load(a, i), load(b, i)),
            ANDNOT => _mm256_andnot_si256(load(b, i), load(a, i)),
            _ => load(a, i),
        }
    }

    /// Carry-save adder: `(high, low)` bits of `a + b + c`, bit by bit.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn csa(a: __m256i, b: __m256i, c: __m256i) -> (__m256i, __m256i) {
        let u = _mm256_xor_si256(a, b);
        (_mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c)), _mm256_xor_si256(u, c))
    }

    /// Per 64-bit lane, the number of set bits (a nibble lookup, summed by `vpsadbw`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lane_counts(v: __m256i) -> __m256i {
        let table = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        );
        let nibble = _mm256_set1_epi8(0x0f);
        let lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, nibble));
        let hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble));
        _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256())
    }

    #[inline]
    #[target_feature(enable = "avx2,popcnt")]
    fn harley_seal<const OP: u8>(a: &Words, b: &Words) -> usize {
        let total = harley_seal_lanes!(
            BITSET_WORDS / 64,
            |i| vector::<OP>(a, b, i),
            _mm256_setzero_si256(),
            csa,
            _mm256_add_epi64,
            lane_counts
        );
        let lanes = [
            _mm256_extract_epi64::<0>(total),
            _mm256_extract_epi64::<1>(total),
            _mm256_extract_epi64::<2>(total),
            _mm256_extract_epi64::<3>(total),
        ];
        // Each lane holds at most 65,536: the sum fits and is never negative.
        lanes.iter().sum::<i64>() as usize
    }
}

/// `|a ∩ b|` of two containers of the same chunk, without building the intersection.
///
/// ```
/// use engine::IdSet;
/// let a = IdSet::from_sorted(&[1, 5, 9]);
/// let b = IdSet::from_sorted(&(0..5000).collect::<Vec<_>>()); // a bitset
/// let (ca, cb) = (&a.chunks()[0].container, &b.chunks()[0].container);
/// assert_eq!(engine::kernels::intersection_len(ca, cb), 3);
/// ```
pub fn intersection_len(a: &Container, b: &Container) -> usize {
    match (a, b) {
        (Container::Bits(x), Container::Bits(y)) => and_count(x, y),
        (Container::Array(v), Container::Bits(w)) | (Container::Bits(w), Container::Array(v)) => bits_hit(v, w),
        (Container::Array(x), Container::Array(y)) => arrays_and_len(x, y),
        (Container::Runs(r), Container::Bits(w)) | (Container::Bits(w), Container::Runs(r)) => runs_count(r, w),
        (Container::Runs(r), Container::Array(v)) | (Container::Array(v), Container::Runs(r)) => runs_hit(r, v),
        (Container::Runs(x), Container::Runs(y)) => runs_overlap(x, y),
    }
}

/// How many bits of `w` the runs cover: only the covered words are read. (An AVX2 copy of
/// this loop measured the same: a run's few words are too short for wide vectors to pay.)
#[inline]
pub fn runs_count(runs: &[(u16, u16)], w: &Words) -> usize {
    runs.iter().map(|&(a, b)| range_count(w, a, b)).sum()
}

/// How many of the sorted ids `v` fall inside the runs (a merge of the two).
fn runs_hit(runs: &[(u16, u16)], v: &[u16]) -> usize {
    let (mut n, mut rest) = (0, v);
    for &(a, b) in runs {
        let from = rest.partition_point(|&x| x < a);
        let to = from + rest[from..].partition_point(|&x| x <= b);
        n += to - from;
        rest = &rest[to..];
    }
    n
}

/// The ids two lists of runs share.
fn runs_overlap(x: &[(u16, u16)], y: &[(u16, u16)]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while let (Some(&(a0, a1)), Some(&(b0, b1))) = (x.get(i), y.get(j)) {
        let (lo, hi) = (a0.max(b0), a1.min(b1));
        if lo <= hi {
            n += usize::from(hi - lo) + 1;
        }
        if a1 <= b1 {
            i += 1;
        }
        if b1 <= a1 {
            j += 1;
        }
    }
    n
}

/// How many of the sorted ids `v` have their bit set in `w`.
#[inline]
pub fn bits_hit(v: &[u16], w: &Words) -> usize {
    v.iter().filter(|&&x| w[usize::from(x >> 6)] & (1u64 << (x & 63)) != 0).count()
}

/// `|a ∩ b|` of two sorted arrays ([`crate::arrays`]). The AVX2 copy compares an id with
/// sixteen in one 256-bit compare where the baseline needs two 128-bit ones.
#[inline]
pub fn arrays_and_len(a: &[u16], b: &[u16]) -> usize {
    dispatch!(arrays_and_len(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrays::{block_len, blocks_len, gallop_len};
    use crate::idset::BITSET_WORDS;
    use proptest::prelude::*;

    fn words() -> impl Strategy<Value = Box<Words>> {
        // Mostly-zero, mostly-one and random words, so the sums cross every byte boundary.
        let word = prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), (0u32..64).prop_map(|b| 1u64 << b)];
        prop::collection::vec(word, BITSET_WORDS).prop_map(|v| {
            let mut w = Words::boxed();
            w.copy_from_slice(&v);
            w
        })
    }

    fn sorted_lows() -> impl Strategy<Value = Vec<u16>> {
        prop_oneof![
            prop::collection::btree_set(any::<u16>(), 0..200),
            prop::collection::btree_set(0u16..400, 0..300),
            prop::collection::btree_set(any::<u16>(), 0..4096),
            // Clustered: runs of up to 2,000 ids, which make run containers.
            prop::collection::vec((any::<u16>(), 0u16..2_000), 0..40)
                .prop_map(|runs| runs.into_iter().flat_map(|(a, n)| a..=a.saturating_add(n)).collect()),
        ]
        .prop_map(|s: std::collections::BTreeSet<u16>| s.into_iter().collect())
    }

    /// The same ids as each kind of container (runs even where they are not the smallest).
    fn kinds(v: &[u16]) -> [Container; 3] {
        let mut w = Words::boxed();
        v.iter().for_each(|&x| w[usize::from(x >> 6)] |= 1 << (x & 63));
        let array = Container::Array(v.to_vec());
        let runs = Container::Runs(array.runs());
        [array, Container::Bits(w), runs]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The dispatched kernels (AVX2 on a CPU that has it) and, where the CPU allows, the
        /// AVX2 copies called directly, against the plain scalar definition.
        #[test]
        fn bitset_kernels_match_scalar(a in words(), b in words()) {
            let scalar_pop: usize = a.iter().map(|x| x.count_ones() as usize).sum();
            let scalar_and: usize = a.iter().zip(b.iter()).map(|(x, y)| (x & y).count_ones() as usize).sum();
            let scalar_andnot: usize = a.iter().zip(b.iter()).map(|(x, y)| (x & !y).count_ones() as usize).sum();
            prop_assert_eq!(popcount(&a), scalar_pop);
            prop_assert_eq!(and_count(&a, &b), scalar_and);
            prop_assert_eq!(andnot_count(&a, &b), scalar_andnot);
            prop_assert_eq!(portable::and_count(&a, &b), scalar_and);
            #[cfg(target_arch = "x86_64")]
            if level() == Level::Avx2 {
                // SAFETY: `level` saw AVX2 and POPCNT on this CPU.
                #[allow(unsafe_code)]
                let got = unsafe { (avx2::popcount(&a), avx2::and_count(&a, &b), avx2::andnot_count(&a, &b)) };
                prop_assert_eq!(got, (scalar_pop, scalar_and, scalar_andnot));
            }
        }

        /// Container pairs of every kind against a set intersection.
        #[test]
        fn intersection_len_matches_sets(a in sorted_lows(), b in sorted_lows()) {
            let expected = a.iter().filter(|x| b.binary_search(x).is_ok()).count();
            let bits = |v: &[u16]| {
                let mut w = Words::boxed();
                v.iter().for_each(|&x| w[usize::from(x >> 6)] |= 1 << (x & 63));
                Container::Bits(w)
            };
            let (arr_a, arr_b) = (Container::Array(a.clone()), Container::Array(b.clone()));
            prop_assert_eq!(intersection_len(&arr_a, &arr_b), expected);
            if a.len() <= b.len() {
                prop_assert_eq!(block_len(&a, &b), expected);
                prop_assert_eq!(blocks_len(&a, &b), expected);
            }
            if !a.is_empty() {
                prop_assert_eq!(gallop_len(&a, &b), expected);
            }
            prop_assert_eq!(portable::arrays_and_len(&a, &b), expected);
            #[cfg(target_arch = "x86_64")]
            if level() == Level::Avx2 {
                // SAFETY: `level` saw AVX2 and POPCNT on this CPU.
                #[allow(unsafe_code)]
                let got = unsafe { avx2::arrays_and_len(&a, &b) };
                prop_assert_eq!(got, expected);
            }
            prop_assert_eq!(intersection_len(&arr_a, &bits(&b)), expected);
            prop_assert_eq!(intersection_len(&bits(&a), &arr_b), expected);
            prop_assert_eq!(intersection_len(&bits(&a), &bits(&b)), expected);
            for x in &kinds(&a) {
                for y in &kinds(&b) {
                    prop_assert_eq!(intersection_len(x, y), expected, "{:?} and {:?}", x, y);
                }
            }
        }

        /// Every container operation on runs against the same operation on a bitset.
        #[test]
        fn runs_act_like_bits(a in sorted_lows(), b in sorted_lows(), probe in any::<u16>()) {
            if a.is_empty() {
                return Ok(());
            }
            let [_, bits_a, runs_a] = kinds(&a);
            let [_, bits_b, _] = kinds(&b);
            prop_assert_eq!(runs_a.len(), a.len());
            prop_assert_eq!(runs_a.contains(probe), a.binary_search(&probe).is_ok());
            prop_assert!(runs_a.iter().eq(a.iter().copied()));
            prop_assert_eq!(&runs_a, &bits_a);
            let (mut want, mut got, mut scratch) = (Words::boxed(), Words::boxed(), Words::boxed());
            bits_a.write_bits(&mut got);
            runs_a.write_bits(&mut want);
            prop_assert!(got == want);
            for op in 0..3 {
                bits_b.write_bits(&mut want);
                bits_b.write_bits(&mut got);
                match op {
                    0 => (bits_a.and_into(&mut want, &mut scratch), runs_a.and_into(&mut got, &mut scratch)),
                    1 => (bits_a.or_into(&mut want), runs_a.or_into(&mut got)),
                    _ => (bits_a.andnot_into(&mut want), runs_a.andnot_into(&mut got)),
                };
                prop_assert!(got == want, "operation {}", op);
            }
            let Container::Runs(r) = &runs_a else { unreachable!() };
            let Container::Bits(wb) = &bits_b else { unreachable!() };
            prop_assert_eq!(runs_count(r, wb), a.iter().filter(|x| b.binary_search(x).is_ok()).count());
        }
    }

    #[test]
    fn galloping_handles_ends() {
        let large: Vec<u16> = (0..5000).map(|x| x * 3).collect();
        assert_eq!(arrays_and_len(&[0, 2, 3, 14_997, 14_998, 65_535], &large), 3);
        assert_eq!(arrays_and_len(&[], &large), 0);
        assert_eq!(arrays_and_len(&[65_535], &large), 0);
    }
}
