//! A small, careful timer for racing several implementations of one query.
//!
//! Not criterion: the report needs every peer timed on the same data in one process, with one
//! sampling method shared with the Python peers (`peers.py` does the same thing), a bounded
//! wall-clock budget per query (100M users must stay well under half an hour), and the
//! answers checked on every call. What it does:
//! 1. each peer runs once (its answer must equal the expected count), then warms up for at
//!    least 30 ms or 3 calls;
//! 2. a batch size is chosen per peer so that one sample lasts at least 0.5 ms (so the clock's
//!    resolution and the loop cost vanish for microsecond operations);
//! 3. samples are taken **round-robin** across peers (one batch of peer A, one of peer B, …)
//!    until the budget is spent and at least `min_rounds` rounds are done: a burst of load on
//!    this shared machine then hits every peer alike, which keeps the ratios honest;
//! 4. before each timed batch the peer runs once untimed, so it is measured with its own data
//!    in the caches (as criterion and the other benches measure), not with the caches the
//!    previous peer left: interleaving without it made the engine's 10-condition count at 10M
//!    users 3× slower (its operands are read in place and stay cached between calls) while the
//!    bitmap peers barely changed (they write fresh intermediate bitmaps on every call);
//! 5. each sample is a batch's time ÷ its size; the report gives the median and the minimum.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A peer's figures for one query.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub median_ms: f64,
    pub min_ms: f64,
    pub samples: usize,
    pub batch: usize,
}

/// How long to race one query.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub per_query: Duration,
    pub min_rounds: usize,
    pub max_rounds: usize,
}

const SAMPLE_AT_LEAST: Duration = Duration::from_micros(500);

/// A named implementation of the query, returning its count.
pub type Peer<'a> = (&'a str, Box<dyn FnMut() -> u64 + 'a>);

/// Races `peers` on one query whose answer is `expected`. Errors name the peer that answered
/// differently (the oracle: every peer must give the same count, always).
pub fn race(peers: &mut [Peer<'_>], expected: u64, budget: Budget) -> Result<Vec<(String, Timing)>, String> {
    let check = |name: &str, got: u64, times: usize| {
        if got == expected.wrapping_mul(times as u64) {
            Ok(())
        } else {
            Err(format!("{name} answered {} instead of {expected}", got / times.max(1) as u64))
        }
    };
    let mut batches = Vec::with_capacity(peers.len());
    for (name, op) in peers.iter_mut() {
        let t0 = Instant::now();
        check(name, op(), 1)?;
        let mut calls = 1usize;
        while calls < 3 || t0.elapsed() < Duration::from_millis(30) {
            check(name, op(), 1)?;
            calls += 1;
        }
        let per_call = t0.elapsed() / calls as u32;
        let batch = (SAMPLE_AT_LEAST.as_nanos() / per_call.as_nanos().max(1)).clamp(1, 1 << 20) as usize;
        batches.push(batch);
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); peers.len()];
    let started = Instant::now();
    let mut rounds = 0;
    while rounds < budget.max_rounds && (rounds < budget.min_rounds || started.elapsed() < budget.per_query) {
        for (i, (name, op)) in peers.iter_mut().enumerate() {
            let batch = batches[i];
            check(name, black_box(op()), 1)?;
            let mut sum = 0u64;
            let t0 = Instant::now();
            for _ in 0..batch {
                sum = sum.wrapping_add(black_box(op()));
            }
            let took = t0.elapsed();
            check(name, sum, batch)?;
            samples[i].push(took.as_secs_f64() * 1e3 / batch as f64);
        }
        rounds += 1;
    }
    Ok(peers
        .iter()
        .zip(samples)
        .zip(batches)
        .map(|(((name, _), mut s), batch)| {
            s.sort_by(f64::total_cmp);
            let timing = Timing { median_ms: median(&s), min_ms: s[0], samples: s.len(), batch };
            (name.to_string(), timing)
        })
        .collect())
}

/// Median of sorted, non-empty samples.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_answer_aborts_the_race() {
        let budget = Budget { per_query: Duration::from_millis(5), min_rounds: 3, max_rounds: 10 };
        let mut peers: Vec<Peer> = vec![("right", Box::new(|| 7)), ("wrong", Box::new(|| 8))];
        let err = race(&mut peers, 7, budget).expect_err("a wrong count must abort");
        assert!(err.contains("wrong answered 8"), "{err}");
        let mut peers: Vec<Peer> = vec![("a", Box::new(|| 7)), ("b", Box::new(|| 7))];
        let t = race(&mut peers, 7, budget).expect("both right");
        assert!(t.iter().all(|(_, t)| t.samples >= 3 && t.min_ms <= t.median_ms));
    }
}
