//! The report's data: a deterministic synthetic population, written once per size to a cache
//! folder (not the repository) in three forms every peer can read without help:
//!
//! - `tags/<group>=<value>.roaring`: the tag value's users in the roaring portable format
//!   (written by the engine; CRoaring, roaring-rs and ClickHouse read the same format);
//! - `tags/<group>=<value>.u32`: the same users as sorted little-endian `u32` ids (for chDB's
//!   `file(…, RowBinary)` and numpy, so Python never builds lists of ids);
//! - `groups/<group>.u8`: one byte per user, the index of the user's value in the group or
//!   255 for none (every group here is single-valued), for DuckDB's one-row-per-user table;
//! - `data.json` ([`Manifest`]): sizes, files, counts and the queries, written last, so a
//!   folder without it is an unfinished generation and is generated again.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use engine::IdSet;
use serde::{Deserialize, Serialize};

use crate::query::{self, Query};

/// Bump when the generator's output changes: older folders are then generated again.
pub const GENERATOR_VERSION: u32 = 1;
/// The code in `groups/<group>.u8` for a user without a value in the group.
pub const NO_VALUE: u8 = 255;

/// How a tag group's members are laid out over the id space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Each user draws independently (no locality: the worst case for run containers).
    Random,
    /// Runs of consecutive ids (users who signed up together, a campaign cohort): run lengths
    /// are geometric with the given mean, gaps sized to reach the share.
    Clustered { mean_run: u32 },
}

/// One tag group of the synthetic population.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub name: &'static str,
    pub layout: Layout,
    /// Values with their share of users; shares summing below 1 leave users without a value.
    pub values: Vec<(&'static str, f64)>,
}

/// The population: the engine bench's groups (dense demographic and behaviour tags), two of
/// them clustered, plus sparse tags from 1% down to 0.01%, random and clustered.
pub fn groups() -> Vec<GroupSpec> {
    use Layout::{Clustered, Random};
    let g = |name, layout, values| GroupSpec { name, layout, values };
    vec![
        g("gender", Random, vec![("female", 0.49), ("male", 0.49)]),
        g("age_band", Random, vec![("18-24", 0.2), ("25-30", 0.25), ("31-40", 0.3), ("41+", 0.2)]),
        g("province", Random, vec![("p0", 0.2), ("p1", 0.12), ("p2", 0.09), ("p3", 0.07), ("p4", 0.05), ("p5", 0.47)]),
        g("device", Random, vec![("Apple", 0.3), ("Huawei", 0.25), ("Xiaomi", 0.2), ("OPPO", 0.15), ("other", 0.1)]),
        g("channel", Random, vec![("organic", 0.4), ("ads", 0.3), ("referral", 0.2), ("store", 0.1)]),
        g("member_level", Random, vec![("none", 0.6), ("silver", 0.25), ("gold", 0.12), ("diamond", 0.03)]),
        g("active_30d", Clustered { mean_run: 1_000 }, vec![("true", 0.55)]),
        g("active_1d", Clustered { mean_run: 200 }, vec![("true", 0.15)]),
        g("paid_30d", Random, vec![("true", 0.18)]),
        g("interest_sports", Random, vec![("true", 0.2)]),
        g("interest_beauty", Random, vec![("true", 0.22)]),
        g("sparse_1pct", Random, vec![("true", 0.01)]),
        g("sparse_01pct", Random, vec![("true", 0.001)]),
        g("sparse_001pct", Random, vec![("true", 0.0001)]),
        g("cohort_1pct", Clustered { mean_run: 500 }, vec![("true", 0.01)]),
    ]
}

/// `data.json`: what was generated and what to ask.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub generator_version: u32,
    pub users: u32,
    pub seed: u64,
    pub groups: Vec<GroupInfo>,
    pub queries: Vec<Query>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupInfo {
    pub name: String,
    pub layout: Layout,
    /// `groups/<name>.u8`, relative to the data folder.
    pub codes_file: String,
    pub values: Vec<ValueInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValueInfo {
    pub value: String,
    /// `<group>=<value>`, the tag's name in every peer.
    pub key: String,
    /// The value's code in `groups/<group>.u8`.
    pub code: u8,
    pub share: f64,
    pub count: u64,
    /// Relative to the data folder.
    pub roaring_file: String,
    pub u32_file: String,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, String> {
        let path = dir.join("data.json");
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Every tag value, in generation order.
    pub fn values(&self) -> impl Iterator<Item = (&GroupInfo, &ValueInfo)> {
        self.groups.iter().flat_map(|g| g.values.iter().map(move |v| (g, v)))
    }

    pub fn count(&self, key: &str) -> Option<u64> {
        self.values().find(|(_, v)| v.key == key).map(|(_, v)| v.count)
    }
}

/// xoshiro256++ seeded by splitmix64: small, fast and fixed forever (a crate's generator may
/// change its stream between versions; this data must not).
#[derive(Debug, Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Geometric run length ≥ 1 with the given mean.
    fn run(&mut self, mean: f64) -> u64 {
        if mean <= 1.0 {
            return 1;
        }
        let u = 1.0 - self.unit(); // (0, 1]
        1 + (u.ln() / (1.0 - 1.0 / mean).ln()).floor() as u64
    }
}

/// FNV-1a of a name: each group's seed depends on the run's seed and its own name only, so
/// adding a group never changes the others.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Each user's value index in one group (`NO_VALUE` for none).
fn draw_codes(spec: &GroupSpec, users: u32, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ name_hash(spec.name));
    let mut codes = vec![NO_VALUE; users as usize];
    match spec.layout {
        Layout::Random => {
            for code in codes.iter_mut() {
                let mut x = rng.unit();
                for (i, (_, share)) in spec.values.iter().enumerate() {
                    if x < *share {
                        *code = i as u8;
                        break;
                    }
                    x -= share;
                }
            }
        }
        Layout::Clustered { mean_run } => {
            // Alternating runs of members and gaps; the mean gap makes the share come out.
            let [(_, share)] = spec.values[..] else { panic!("clustered groups have one value") };
            let mean_gap = f64::from(mean_run) * (1.0 - share) / share;
            let mut at = (rng.unit() * mean_gap) as u64;
            while at < u64::from(users) {
                let end = (at + rng.run(f64::from(mean_run))).min(u64::from(users));
                codes[at as usize..end as usize].fill(0);
                at = end + rng.run(mean_gap);
            }
        }
    }
    codes
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut f = BufWriter::new(fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?);
    f.write_all(bytes).and_then(|()| f.flush()).map_err(|e| format!("{}: {e}", path.display()))
}

/// The folder for a population size.
pub fn folder(root: &Path, users: u32) -> PathBuf {
    root.join(format!("users-{users}"))
}

/// Generates the population into `dir` unless a complete one of this generator version is
/// already there. Returns the manifest.
pub fn generate(dir: &Path, users: u32, seed: u64) -> Result<Manifest, String> {
    if let Ok(m) = Manifest::read(dir)
        && m.generator_version == GENERATOR_VERSION
        && m.users == users
        && m.seed == seed
    {
        eprintln!("data: {} already generated", dir.display());
        return Ok(m);
    }
    let _ = fs::remove_file(dir.join("data.json"));
    for sub in ["tags", "groups"] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut infos = Vec::new();
    for spec in groups() {
        let codes = draw_codes(&spec, users, seed);
        let codes_file = format!("groups/{}.u8", spec.name);
        write_file(&dir.join(&codes_file), &codes)?;
        let mut values = Vec::new();
        for (i, (value, share)) in spec.values.iter().enumerate() {
            let ids: Vec<u32> = (0..users).filter(|&id| codes[id as usize] == i as u8).collect();
            let key = format!("{}={value}", spec.name);
            let roaring_file = format!("tags/{key}.roaring");
            let u32_file = format!("tags/{key}.u32");
            let set = IdSet::from_sorted(&ids);
            write_file(&dir.join(&roaring_file), &engine::portable::encode(&set))?;
            let raw: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
            write_file(&dir.join(&u32_file), &raw)?;
            values.push(ValueInfo {
                value: (*value).to_owned(),
                key,
                code: i as u8,
                share: *share,
                count: ids.len() as u64,
                roaring_file,
                u32_file,
            });
        }
        infos.push(GroupInfo { name: spec.name.to_owned(), layout: spec.layout, codes_file, values });
        eprintln!("data: {} users, group {} written", users, spec.name);
    }
    let mut manifest =
        Manifest { generator_version: GENERATOR_VERSION, users, seed, groups: infos, queries: Vec::new() };
    manifest.queries = query::queries(&manifest);
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    write_file(&dir.join("data.json"), text.as_bytes())?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_come_out_near_their_targets() {
        let users = 1_000_000;
        for spec in groups() {
            let codes = draw_codes(&spec, users, 7);
            for (i, (value, share)) in spec.values.iter().enumerate() {
                let got = codes.iter().filter(|&&c| c == i as u8).count() as f64 / f64::from(users);
                // Clustered groups have few, long runs: their share varies more between draws.
                let tolerance = if matches!(spec.layout, Layout::Clustered { .. }) { 0.25 } else { 0.05 };
                assert!((got - share).abs() <= share * tolerance + 1e-4, "{}={value}: {got} vs {share}", spec.name);
            }
        }
    }

    #[test]
    fn the_stream_is_fixed() {
        // xoshiro256++ seeded by splitmix64(1), computed independently: the data of every
        // report depends on this stream never changing.
        let mut r = Rng::new(1);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(first, [14_971_601_782_005_023_387, 13_781_649_495_232_077_965, 1_847_458_086_238_483_744]);
    }
}
