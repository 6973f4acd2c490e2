//! A/B splits: creating one, its balance check and its outcome.

use serde::{Deserialize, Serialize};

/// One group of a split: a name and its share of the audience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SplitGroup {
    /// Group name (`control`, `treatment`).
    pub name: String,
    /// Share of the audience, in percent (0 < percent; the groups' total ≤ 100).
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 100))]
    pub percent: f64,
}

/// Body of `POST …/experiments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    /// Experiment id.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._-]{1,64}$"))]
    pub id: String,
    /// The segment whose members are split.
    pub segment: String,
    /// The day of the members; the latest published day when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub ds: Option<String>,
    /// The salt of the hashes (the same salt and user always give the same group); 1 to 128 bytes.
    pub salt: String,
    /// Groups with their percentages of the segment.
    pub groups: Vec<SplitGroup>,
}

/// A frozen group of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentGroup {
    /// Name.
    pub name: String,
    /// Planned percentage of the segment.
    pub percent: f64,
    /// Members.
    pub count: u64,
    /// Address of the members bitmap.
    pub blob: String,
}

/// An experiment as stored: frozen at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Experiment {
    /// Id.
    pub id: String,
    /// The segment split.
    pub segment: String,
    /// The day of the members.
    pub ds: String,
    /// The salt of the hashes.
    pub salt: String,
    /// Members of the segment that day.
    pub audience: u64,
    /// The groups, frozen.
    pub groups: Vec<ExperimentGroup>,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
}

/// `GET …/experiments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentList {
    /// The app's experiments, by id.
    pub experiments: Vec<Experiment>,
}

/// One row of a balance check's tag mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MixRow {
    /// Tag group.
    pub tag: String,
    /// Value.
    pub value: String,
    /// Share of each experiment group holding it, in group order.
    pub shares: Vec<f64>,
    /// Largest minus smallest share.
    pub spread: f64,
}

/// The balance check of an experiment on its day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balance {
    /// Pearson chi-square statistic of the sizes against the plan.
    pub chi_square: f64,
    /// Its p-value.
    pub p_value: f64,
    /// True when the p-value is below 0.001: the groups are not the sizes planned (a
    /// sample-ratio mismatch).
    pub srm: bool,
    /// Planned share of each group among the assigned users.
    pub planned: Vec<f64>,
    /// Observed share of each group among the assigned users.
    pub observed: Vec<f64>,
    /// Tag mix per group (tag groups of at most 50 values), largest spreads first, at most 20 rows.
    pub mix: Vec<MixRow>,
}

/// An experiment with its balance check: the answer of `GET …/experiments/{id}` and of its
/// creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentView {
    /// The experiment.
    #[serde(flatten)]
    pub experiment: Experiment,
    /// The balance check, on the experiment's day.
    pub balance: Balance,
}

/// A rate with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rate {
    /// Successes / trials (a difference of rates, for a difference).
    pub rate: f64,
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

/// One group's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupOutcome {
    /// Group.
    pub name: String,
    /// Members.
    pub members: u64,
    /// Members with the metric that day.
    pub with_metric: u64,
    /// Their rate, with a 95% Wilson interval.
    pub rate: Rate,
    /// Difference from the first group, with Newcombe's 95% interval (absent for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<Rate>,
}

/// `GET …/experiments/{id}/outcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    /// Experiment id.
    pub experiment: String,
    /// Metric tag group (its `true` value).
    pub metric: String,
    /// The day read.
    pub ds: String,
    /// Whether the day is after the split's day (the split's own day is a baseline).
    pub after_split: bool,
    /// Per group, in the experiment's order.
    pub groups: Vec<GroupOutcome>,
}
