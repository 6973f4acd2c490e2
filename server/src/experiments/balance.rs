//! Reading a frozen experiment: its balance check on its own day and a metric's outcome per
//! group on any day. The arithmetic is the engine's ([`engine::balance`], [`engine::stats`]),
//! the code the browser's preview runs too.

use engine::balance::{balance as check, mix_groups, size_check, tag_mix};
use engine::stats::{difference, rate};
use wire::{Balance, Experiment, GroupOutcome, Outcome};

use super::{ExperimentError, record};
use crate::snapshots::Snapshots;

/// Sizes against the plan, and the tag mix of the groups on the experiment's day (empty when
/// that day is no longer published).
///
/// # Errors
/// A bitmap that cannot be read.
pub fn balance(snaps: &Snapshots, app: &str, experiment: &Experiment) -> Result<Balance, ExperimentError> {
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
pub fn outcome(
    snaps: &Snapshots,
    app: &str,
    experiment: &Experiment,
    metric: &str,
    ds: Option<&str>,
) -> Result<Outcome, ExperimentError> {
    let (ds, day) = snaps.day(app, ds)?.ok_or(ExperimentError::NoDay)?;
    let manifest = snaps.manifest(&day.manifest)?;
    let value = manifest.group(metric).and_then(|g| g.values.iter().find(|v| v.value == "true")).ok_or_else(|| {
        ExperimentError::Invalid { field: "metric", message: format!("`{metric}` has no `true` value on {ds}") }
    })?;
    let tagged = snaps.set(&value.full.blob)?;
    let mut groups: Vec<GroupOutcome> = Vec::new();
    for (name, members) in record::group_sets(snaps, experiment)? {
        let with_metric = members.intersection_len(&tagged);
        let r = rate(with_metric, members.len());
        let difference = groups.first().map(|first| difference(r, first.rate));
        groups.push(GroupOutcome { name, members: members.len(), with_metric, rate: r, difference });
    }
    Ok(Outcome {
        experiment: experiment.id.clone(),
        metric: metric.to_owned(),
        after_split: ds > experiment.ds,
        ds,
        groups,
    })
}
