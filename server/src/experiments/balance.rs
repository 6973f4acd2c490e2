//! Reading a frozen experiment: its balance check on its own day and a metric's outcome per
//! group on any day. The arithmetic is the engine's ([`engine::balance`], [`engine::stats`]),
//! the code the browser's preview runs too.

use engine::balance::{balance as check, mix_groups, size_check, tag_mix};
use engine::stats::{difference, rate};
use wire::{Balance, Experiment, GroupOutcome, Outcome};

use super::{ExperimentError, record};
use crate::privacy::Noise;
use crate::snapshots::Snapshots;

/// Sizes against the plan, and the tag mix of the groups on the experiment's day (empty when
/// that day is no longer published).
///
/// # Errors
/// A bitmap that cannot be read.
/// With `noise` (an `aggregate` caller), the sizes are the noisy ones and there is no tag mix:
/// its shares are exact counts of small sets in disguise.
pub fn balance(
    snaps: &Snapshots,
    app: &str,
    experiment: &Experiment,
    noise: Option<&Noise>,
) -> Result<Balance, ExperimentError> {
    if let Some(noise) = noise {
        let mut noisy = experiment.clone();
        crate::privacy::views::experiment(&mut noisy, noise);
        let counts: Vec<u64> = noisy.groups.iter().map(|g| g.count).collect();
        let percents: Vec<f64> = noisy.groups.iter().map(|g| g.percent).collect();
        return Ok(check(size_check(&counts, &percents), Vec::new()));
    }
    let counts: Vec<u64> = experiment.groups.iter().map(|g| g.count).collect();
    let percents: Vec<f64> = experiment.groups.iter().map(|g| g.percent).collect();
    let sets: Vec<_> = record::group_sets(snaps, experiment)?.into_iter().map(|(_, set)| set).collect();
    let mut mix = Vec::new();
    if let Some((_, day)) = snaps.day(app, Some(&experiment.ds))? {
        let manifest = snaps.manifest(&day.manifest)?;
        let mut values = Vec::new();
        for g in mix_groups(&manifest) {
            for v in &g.values {
                values.push((g.name.as_str(), v.value.as_str(), snaps.set(&v.full.blob)?));
            }
        }
        mix = tag_mix(&sets, values.iter().map(|(tag, value, set)| (*tag, *value, &**set)));
    }
    Ok(check(size_check(&counts, &percents), mix))
}

/// The rate of `metric` (a tag group's `true` value) in each group on `ds` (the latest
/// published day when absent), with each group's difference from the first.
///
/// # Errors
/// [`ExperimentError::NoDay`], [`ExperimentError::Invalid`] (field `metric`) when the tag has
/// no `true` value that day, or a bitmap that cannot be read.
///
/// With `noise` (an `aggregate` caller), both counts of each group are noisy (withheld ones are
/// 0) and the rates are read from them.
pub fn outcome(
    snaps: &Snapshots,
    app: &str,
    experiment: &Experiment,
    metric: &str,
    ds: Option<&str>,
    noise: Option<&Noise>,
) -> Result<Outcome, ExperimentError> {
    let (ds, day) = snaps.day(app, ds)?.ok_or(ExperimentError::NoDay)?;
    let manifest = snaps.manifest(&day.manifest)?;
    let value = manifest.group(metric).and_then(|g| g.values.iter().find(|v| v.value == "true")).ok_or_else(|| {
        ExperimentError::Invalid { field: "metric", message: format!("`{metric}` has no `true` value on {ds}") }
    })?;
    let tagged = snaps.set(&value.full.blob)?;
    let mut groups: Vec<GroupOutcome> = Vec::new();
    for ((name, members), group) in record::group_sets(snaps, experiment)?.into_iter().zip(&experiment.groups) {
        let (mut n, mut with_metric) = (members.len(), members.intersection_len(&tagged));
        if let Some(noise) = noise {
            n = noise.protect_or_zero(n, &noise.seed_of_set("users", &[&group.blob]));
            with_metric =
                noise.protect_or_zero(with_metric, &noise.seed_of_set("users", &[&group.blob, &value.full.blob]));
            with_metric = with_metric.min(n);
        }
        let r = rate(with_metric, n);
        let difference = groups.first().map(|first| difference(r, first.rate));
        groups.push(GroupOutcome { name, members: n, with_metric, rate: r, difference });
    }
    Ok(Outcome {
        experiment: experiment.id.clone(),
        metric: metric.to_owned(),
        after_split: ds > experiment.ds,
        ds,
        groups,
    })
}
