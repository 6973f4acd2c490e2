//! Shared test data: random snapshots and a naive evaluator used as the oracle.
//!
//! The oracle keeps one `bool` per possible id and combines them element by element: nothing
//! like the engine's chunks, containers or reordering, so the two can only agree by being right.

use std::collections::BTreeMap;

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
}

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

fn to_set(flags: &Flags) -> IdSet {
    IdSet::from_sorted_iter(ids(flags))
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
        for i in bernoulli(rng, len, density) {
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
    let mut source = MemorySource::new(to_set(&universe));
    for ((g, v), flags) in &values {
        source.insert_tag_value(g, v, to_set(flags));
    }
    for (s, flags) in &segments {
        source.insert_segment(s, to_set(flags));
    }
    World { source, universe, values, segments }
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
        }
    }
}
