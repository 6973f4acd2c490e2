//! `sieve synth`: writes a large synthetic app straight into a data directory, through the same
//! staging and publishing code as uploads (only the CSV parsing is skipped), for benchmarks
//! such as the membership load test (10M users × 2,000 tag values) that would take far longer
//! to push through CSV files.

use std::path::Path;
use std::time::Instant;

use engine::TagKind;

use crate::ds::Ds;
use crate::ingest::{AppDict, Staged, StagedData, Upload};
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
}

/// SplitMix-style mixing: a fixed, fast stream of pseudo-random numbers from (user, group).
fn mix(a: u64, b: u64) -> u64 {
    engine::sample::splitmix64(a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b)
}

/// Generates the app and returns a viewer token and a service token.
///
/// Each group gives every user one value with Zipf-like skew (value `k` about twice as common
/// as value `2k`), so bitmaps range from dense to sparse like real tags.
pub fn synth(
    data_dir: &Path,
    opts: &SynthOptions,
    mut progress: impl FnMut(u32),
) -> Result<(String, String), SynthError> {
    let state = AppState::open(Config::new(data_dir, "dist"))?;
    state.meta.create_app(&opts.app, &opts.app)?;
    let mut dict = AppDict::from_ids(state.meta.dict_load(&opts.app)?);
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
    for g in 0..opts.groups {
        let started = Instant::now();
        let new_ids: Vec<String> =
            if g == 0 { (dict.len()..opts.users).map(|i| format!("u{i}")).collect() } else { Vec::new() };
        let mut values: Vec<(String, Vec<u32>)> =
            (0..opts.values_per_group).map(|v| (format!("v{v}"), Vec::new())).collect();
        for id in 0..opts.users {
            let x = (mix(u64::from(id), u64::from(g)) >> 11) as f64 / (1u64 << 53) as f64;
            let k = cumulative.partition_point(|&c| c < x).min(values.len() - 1);
            values[k].1.push(id);
        }
        let staged = Staged {
            upload: Upload::Tag {
                group: format!("g{g:03}"),
                kind: TagKind::Categorical,
                category: "synthetic".into(),
                scale: 0,
            },
            rows: u64::from(opts.users),
            users: u64::from(opts.users),
            first_new_id: dict.len(),
            new_ids,
            data: StagedData::Values(values),
        };
        state.publisher.publish_upload(&opts.app, opts.ds, staged, &mut dict, &[])?;
        tracing::debug!(group = g, seconds = started.elapsed().as_secs_f64(), "synthetic group published");
        progress(g);
    }
    Ok((state.meta.create_token(&opts.app, Role::Viewer)?, state.meta.create_token(&opts.app, Role::Service)?))
}
