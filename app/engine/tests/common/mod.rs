//! Shared test data: random snapshots and a naive evaluator used as the oracle.
//!
//! The oracle keeps one `bool` per possible id and combines them element by element: nothing
//! like the engine's chunks, containers or reordering, so the two can only agree by being right.

use std::collections::BTreeMap;

use engine::bsi::{Bsi, Cmp, NumericColumn, parse_scaled_wide};
use engine::rule::{Measure, Test};
use engine::window::MAX_DAILY_COUNT;
use engine::{IdSet, MemorySource, Rule};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One flag per id in `0..len`.
pub type Flags = Vec<bool>;

/// A random snapshot, held both as engine bitmaps and as plain flags.
#[allow(dead_code)] // each test binary uses a different part
pub struct World {
    pub source: MemorySource,
    pub universe: Flags,
    pub values: BTreeMap<(String, String), Flags>,
    pub segments: BTreeMap<String, Flags>,
    /// Numeric groups: (scale, scaled value per id).
    pub numbers: BTreeMap<String, (u32, Vec<Option<i64>>)>,
    /// (event, day) → count per id; a pair missing here was not uploaded.
    pub events: BTreeMap<(String, String), Vec<u64>>,
}

/// Numeric groups: name, decimals kept, lowest and highest scaled value.
pub const NUMBERS: [(&str, u32, i64, i64); 2] = [("n0", 0, -5, 120), ("n1", 2, 0, 50_000)];
/// Event names.
pub const EVENTS: [&str; 2] = ["e0", "e1"];
/// The days with data, oldest first; the snapshot day is the last.
pub const DAYS: [&str; 8] =
    ["2026-11-13", "2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];

pub const GROUPS: usize = 4;
pub const VALUES: usize = 4;
pub const SEGMENTS: usize = 2;

/// Densities chosen so that every container kind and every evaluator path shows up:
/// empty, a few ids per chunk (candidate path), arrays, bitsets, nearly full.
const DENSITIES: [f64; 7] = [0.0, 0.0004, 0.004, 0.03, 0.3, 0.7, 0.97];

/// Ids of `0..len` kept with probability `density`, drawn by geometric skips (one random
/// number per kept id, not per id).
fn bernoulli(rng: &mut StdRng, len: usize, density: f64) -> Vec<usize> {
    let mut out = Vec::new();
    if density <= 0.0 {
        return out;
    }
    let log_q = (1.0 - density).ln();
    let mut i = 0usize;
    loop {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        let skip = if density >= 1.0 { 0 } else { (u.ln() / log_q).floor() as usize };
        i += skip;
        if i >= len {
            return out;
        }
        out.push(i);
        i += 1;
    }
}

/// The set of the flags, with its containers as runs where those are smaller (`runs`), so
/// that every evaluator path meets run containers as well as arrays and bitsets.
fn to_set(flags: &Flags, runs: bool) -> IdSet {
    let set = IdSet::from_sorted_iter(ids(flags));
    if runs { set.with_runs() } else { set }
}

/// Ids of `0..len` in runs of 1 to 3,000 with gaps of 1 to 6,000: a clustered value (users
/// active in a period, a cohort), which decodes to run containers.
fn clustered(rng: &mut StdRng, len: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = rng.random_range(0..6_000);
    while i < len {
        let run = rng.random_range(1..=3_000);
        out.extend(i..(i + run).min(len));
        i += run + rng.random_range(1..=6_000);
    }
    out
}

/// The ids whose flag is set.
pub fn ids(flags: &Flags) -> impl Iterator<Item = u32> + '_ {
    flags.iter().enumerate().filter(|(_, f)| **f).map(|(i, _)| i as u32)
}

/// Builds a world of up to ~4 chunks; some values live only in one chunk, so containers are
/// missing where others are present.
pub fn world(seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let len: usize = rng.random_range(0..240_000);
    let mut universe = vec![true; len];
    if rng.random_bool(0.5) {
        for hole in bernoulli(&mut rng, len, 0.1) {
            universe[hole] = false;
        }
    }
    let pick = |rng: &mut StdRng| -> Flags {
        let density = DENSITIES[rng.random_range(0..DENSITIES.len())];
        let only_chunk: Option<usize> = rng.random_bool(0.3).then(|| rng.random_range(0..4));
        let mut flags = vec![false; len];
        let kept = if rng.random_bool(0.25) { clustered(rng, len) } else { bernoulli(rng, len, density) };
        for i in kept {
            if universe[i] && only_chunk.is_none_or(|c| i >> 16 == c) {
                flags[i] = true;
            }
        }
        flags
    };
    let mut values = BTreeMap::new();
    for g in 0..GROUPS {
        for v in 0..VALUES {
            values.insert((format!("g{g}"), format!("v{v}")), pick(&mut rng));
        }
    }
    let mut segments = BTreeMap::new();
    for s in 0..SEGMENTS {
        segments.insert(format!("s{s}"), pick(&mut rng));
    }
    let mut numbers = BTreeMap::new();
    for (name, scale, lo, hi) in NUMBERS {
        let density = DENSITIES[rng.random_range(1..DENSITIES.len())];
        let mut column = vec![None; len];
        for i in bernoulli(&mut rng, len, density) {
            if universe[i] {
                column[i] = Some(rng.random_range(lo..=hi));
            }
        }
        numbers.insert(name.to_owned(), (scale, column));
    }
    let mut events = BTreeMap::new();
    for (e, name) in EVENTS.iter().enumerate() {
        for (d, day) in DAYS.iter().enumerate() {
            // The snapshot day always has `e0` (it fixes the catalog's day); other days may
            // be missing, to exercise the warning and zero counting.
            let uploaded = (e == 0 && d == DAYS.len() - 1) || rng.random_bool(0.75);
            if !uploaded {
                continue;
            }
            let density = DENSITIES[rng.random_range(0..DENSITIES.len())];
            let mut counts = vec![0u64; len];
            // Events may name users outside the day's universe (ids from the dictionary that
            // this snapshot does not have): the engine must keep answers inside it.
            for i in bernoulli(&mut rng, len, density) {
                // Mostly small counts; a few at the largest a day may carry, so window sums
                // reach far beyond 2^53 and the top of the accepted range.
                counts[i] = if rng.random_bool(0.8) {
                    rng.random_range(1..=3)
                } else if rng.random_bool(0.95) {
                    rng.random_range(4..=40)
                } else {
                    MAX_DAILY_COUNT - rng.random_range(0..=2)
                };
            }
            events.insert(((*name).to_owned(), (*day).to_owned()), counts);
        }
    }
    let mut source = MemorySource::new(to_set(&universe, rng.random_bool(0.5)));
    for ((g, v), flags) in &values {
        source.insert_tag_value(g, v, to_set(flags, rng.random_bool(0.5)));
    }
    for (s, flags) in &segments {
        source.insert_segment(s, to_set(flags, rng.random_bool(0.5)));
    }
    for (name, (scale, column)) in &numbers {
        let pairs = column.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as u32, v))).collect();
        source.insert_column(name, &NumericColumn::from_scaled(*scale, pairs));
    }
    for ((event, day), counts) in &events {
        let pairs = counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, c)| (i as u32, *c)).collect();
        source.insert_event_day(event, day, Bsi::from_pairs(pairs));
    }
    World { source, universe, values, segments, numbers, events }
}

/// A decimal constant as (value × 10^digits, digits), exactly.
fn exact(text: &str) -> (i128, u32) {
    let digits = text.split_once('.').map_or(0, |(_, f)| f.len()) as u32;
    (parse_scaled_wide(text, digits).expect("test constants are decimals"), digits)
}

/// Whether `value` (scaled by 10^scale) passes `test`, comparing exact rationals.
fn passes(value: i128, scale: u32, test: &Test) -> bool {
    let cmp = |c: &str, op: Cmp| {
        let (c, digits) = exact(c);
        let at = digits.max(scale);
        op.holds(value * 10i128.pow(at - scale), c * 10i128.pow(at - digits))
    };
    match test {
        Test::Compare(op, c) => cmp(c, *op),
        Test::Between(lo, hi) => cmp(lo, Cmp::Ge) && cmp(hi, Cmp::Le),
    }
}

impl World {
    /// The oracle: evaluates a rule flag by flag.
    pub fn naive(&self, rule: &Rule) -> Flags {
        let zip = |a: Flags, b: &Flags, f: fn(bool, bool) -> bool| a.iter().zip(b).map(|(x, y)| f(*x, *y)).collect();
        match rule {
            Rule::All(members) => {
                members.iter().fold(self.universe.clone(), |acc, m| zip(acc, &self.naive(m), |x, y| x && y))
            }
            Rule::Any(members) => {
                members.iter().fold(vec![false; self.universe.len()], |acc, m| zip(acc, &self.naive(m), |x, y| x || y))
            }
            Rule::Not(inner) => zip(self.universe.clone(), &self.naive(inner), |u, x| u && !x),
            Rule::Tag { tag, values } => values.iter().fold(vec![false; self.universe.len()], |acc, v| {
                zip(acc, &self.values[&(tag.clone(), v.clone())], |x, y| x || y)
            }),
            Rule::Segment(id) => self.segments[id].clone(),
            Rule::Number { tag, test } => {
                let (scale, column) = &self.numbers[tag];
                column.iter().map(|v| v.is_some_and(|v| passes(i128::from(v), *scale, test))).collect()
            }
            Rule::Event { event, last_days, measure, test } => {
                let window = &DAYS[DAYS.len() - *last_days as usize..];
                let daily: Vec<&Vec<u64>> =
                    window.iter().filter_map(|d| self.events.get(&(event.clone(), (*d).to_owned()))).collect();
                (0..self.universe.len())
                    .map(|i| {
                        // Summed in 128 bits: the oracle cannot overflow whatever the engine does.
                        let value: u128 = match measure {
                            Measure::Count => daily.iter().map(|c| u128::from(c[i])).sum(),
                            Measure::Days => daily.iter().filter(|c| c[i] > 0).count() as u128,
                        };
                        self.universe[i] && passes(i128::try_from(value).unwrap_or(i128::MAX), 0, test)
                    })
                    .collect()
            }
        }
    }
}
