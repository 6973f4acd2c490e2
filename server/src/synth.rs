//! `sieve synth`: writes a large synthetic app straight into a data directory, through the same
//! staging and publishing code as uploads (only the CSV parsing is skipped), for benchmarks
//! such as the membership load test (10M users × 2,000 tag values) that would take far longer
//! to push through CSV files. For an app of `u32` ids it can instead write the same groups as
//! the files a warehouse would upload, as bitmaps or as rows ([`write_files`]).

use std::path::Path;
use std::time::Instant;

use engine::{IdSet, TagKind};
use wire::IdKind;

use crate::ds::Ds;
use crate::ids::{AppDict, AppIds, NewUsers};
use crate::ingest::{Staged, StagedData, Upload};
use crate::state::{AppState, Config, OpenError};
use crate::store::Role;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// App id.
    pub app: String,
    /// Users.
    pub users: u32,
    /// Tag groups (each with `values_per_group` values).
    pub groups: u32,
    /// Values per group.
    pub values_per_group: u32,
    /// The day.
    pub ds: Ds,
    /// What the app's ids are.
    pub ids: IdKind,
}

/// Why synthesis failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Opening the data directory.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Publishing.
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    /// The metadata store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Reading the app's users.
    #[error("reading the app's users: {0}")]
    Ids(String),
}

/// SplitMix-style mixing: a fixed, fast stream of pseudo-random numbers from (user, group).
fn mix(a: u64, b: u64) -> u64 {
    engine::sample::splitmix64(a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b)
}

/// The values of group `g`: each user gets one value with Zipf-like skew (value `k` about twice
/// as common as value `2k`), so bitmaps range from dense to sparse like real tags. Users are
/// `0..users`, in order within each value.
fn group_values(opts: &SynthOptions, g: u32) -> Vec<(String, Vec<u32>)> {
    // Cumulative weights 1/(k+1) for the Zipf-like pick.
    let weights: Vec<f64> = (0..opts.values_per_group).map(|k| 1.0 / f64::from(k + 1)).collect();
    let total: f64 = weights.iter().sum();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect();
    let mut values: Vec<(String, Vec<u32>)> =
        (0..opts.values_per_group).map(|v| (format!("v{v}"), Vec::new())).collect();
    for id in 0..opts.users {
        let x = (mix(u64::from(id), u64::from(g)) >> 11) as f64 / (1u64 << 53) as f64;
        let k = cumulative.partition_point(|&c| c < x).min(values.len() - 1);
        values[k].1.push(id);
    }
    values
}

/// The name of group `g`.
fn group_name(g: u32) -> String {
    format!("g{g:03}")
}

/// Generates the app and returns a viewer token and a service token. A string app's users are
/// `u0…`; a `u32` app's are the numbers `0..users` themselves (no dictionary is written).
pub fn synth(
    data_dir: &Path,
    opts: &SynthOptions,
    mut progress: impl FnMut(u32),
) -> Result<(String, String), SynthError> {
    let state = AppState::open(Config::new(data_dir, "dist"))?;
    state.meta.create_app(&opts.app, &opts.app, opts.ids)?;
    let mut ids = match opts.ids {
        IdKind::Strings => AppIds::Strings(AppDict::from_ids(state.meta.dict_load(&opts.app)?)),
        IdKind::U32 => AppIds::load(&state.snapshots, &opts.app).map_err(|e| SynthError::Ids(e.to_string()))?,
    };
    for g in 0..opts.groups {
        let started = Instant::now();
        let values = group_values(opts, g);
        let known = ids.len() as u32;
        let (new_users, data) = match opts.ids {
            IdKind::Strings => {
                let new: Vec<String> = (known..opts.users).map(|i| format!("u{i}")).collect();
                (NewUsers::Strings { first: known, ids: new }, StagedData::Values(values))
            }
            IdKind::U32 => {
                let all = IdSet::full_range(opts.users);
                let new = match &ids {
                    AppIds::U32(universe) => all.and_not(universe),
                    AppIds::Strings(_) => all,
                };
                let sets = values.into_iter().map(|(v, users)| (v, IdSet::from_sorted(&users))).collect();
                (NewUsers::U32(new), StagedData::Sets(sets))
            }
        };
        let staged = Staged {
            upload: Upload::Tag {
                group: group_name(g),
                kind: TagKind::Categorical,
                category: "synthetic".into(),
                scale: 0,
            },
            rows: u64::from(opts.users),
            users: u64::from(opts.users),
            new_users,
            data,
        };
        let by = wire::Actor { id: None, name: "sieve synth".into() };
        let ctx = crate::publish::Context::upload(by, crate::publish::Gate::Skip);
        state.publisher.publish_upload(&opts.app, opts.ds, staged, &mut ids, &[], ctx)?;
        tracing::debug!(group = g, seconds = started.elapsed().as_secs_f64(), "synthetic group published");
        progress(g);
    }
    let token = |role| crate::tokens::create_simple(&state.meta, &opts.app, role, "sieve synth");
    Ok((token(Role::Viewer)?, token(Role::Service)?))
}

/// The form of [`write_files`]'s files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileForm {
    /// One row per value with its users' bitmap (`value,bitmap`, base64 ClickHouse states), for
    /// `?format=bitmaps` (apps of `u32` ids).
    Bitmaps,
    /// One row per user and value (`user_id,value`), the CSV of the same data.
    Rows,
}

/// A numeric group's number for a user (0..=99, about 70% of users have one), and a user's
/// visits on the day (1..=9, about half the users): the numeric and event columns of the files.
fn number_of(id: u32) -> Option<u32> {
    let x = mix(u64::from(id), 0x5C0E);
    (x % 10 < 7).then_some(((x >> 8) % 100) as u32)
}

fn visits_of(id: u32) -> Option<u32> {
    let x = mix(u64::from(id), 0x7151);
    x.is_multiple_of(2).then_some(1 + ((x >> 8) % 9) as u32)
}

/// Writes the data [`synth`] publishes for a `u32` app (users `0..users`) as files to upload,
/// as a warehouse would hand them over: `DIR/tags/g000.csv` … (categorical groups),
/// `DIR/tags/score.csv` (a numeric group: numbers 0 to 99) and `DIR/events/visit.csv` (daily
/// counts 1 to 9), each in `form`: bitmaps (`value,bitmap`, `number,bitmap`, `count,bitmap`, the
/// users as the base64 of a ClickHouse `groupBitmap` state) or rows (`user_id,value`,
/// `user_id,count`). Upload each to `PUT …/days/{ds}/tags/{name}` (`?kind=numeric` for `score`)
/// or `…/events/visit`, with `format=bitmaps` for bitmaps. Returns the bytes written.
///
/// # Errors
/// The directory or a file cannot be written.
pub fn write_files(
    dir: &Path,
    opts: &SynthOptions,
    form: FileForm,
    mut progress: impl FnMut(u32),
) -> std::io::Result<u64> {
    std::fs::create_dir_all(dir.join("tags"))?;
    std::fs::create_dir_all(dir.join("events"))?;
    let mut written = 0u64;
    for g in 0..opts.groups {
        written +=
            write_one(&dir.join("tags").join(format!("{}.csv", group_name(g))), "value", form, group_values(opts, g))?;
        progress(g);
    }
    let by = |f: fn(u32) -> Option<u32>| -> Vec<(String, Vec<u32>)> {
        let mut out: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
        for id in 0..opts.users {
            if let Some(v) = f(id) {
                out.entry(v).or_default().push(id);
            }
        }
        out.into_iter().map(|(v, ids)| (v.to_string(), ids)).collect()
    };
    written += write_one(&dir.join("tags/score.csv"), "number", form, by(number_of))?;
    written += write_one(&dir.join("events/visit.csv"), "count", form, by(visits_of))?;
    Ok(written)
}

/// One file: `values` (each with its users, increasing) as bitmap rows or as user rows.
fn write_one(path: &Path, key: &str, form: FileForm, values: Vec<(String, Vec<u32>)>) -> std::io::Result<u64> {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut written = 0u64;
    let mut put = |out: &mut std::io::BufWriter<std::fs::File>, text: &str| -> std::io::Result<()> {
        written += text.len() as u64;
        out.write_all(text.as_bytes())
    };
    match form {
        FileForm::Bitmaps => {
            put(&mut out, &format!("{key},bitmap\n"))?;
            for (value, users) in values {
                let state = engine::warehouse::encode_clickhouse_state(&IdSet::from_sorted(&users));
                put(&mut out, &format!("{value},{}\n", base64::engine::general_purpose::STANDARD.encode(state)))?;
            }
        }
        FileForm::Rows => {
            let column = if key == "count" { "count" } else { "value" };
            put(&mut out, &format!("user_id,{column}\n"))?;
            for (value, users) in values {
                let mut chunk = String::with_capacity(1 << 16);
                for id in users {
                    use std::fmt::Write as _;
                    let _ = writeln!(chunk, "{id},{value}");
                    if chunk.len() >= 1 << 16 {
                        put(&mut out, &chunk)?;
                        chunk.clear();
                    }
                }
                put(&mut out, &chunk)?;
            }
        }
    }
    out.flush()?;
    Ok(written)
}
