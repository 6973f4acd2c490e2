//! Analysis routes (issue 16): `POST …/funnel`, `POST …/overlap`, `POST …/pivot`.
//!
//! Counts an `aggregate` token may be refused are `Option<u64>` with a `suppressed` flag, as in
//! [`crate::Estimate`]: `null` and `suppressed: true` when withheld; shares and TGI are then
//! computed from the noisy counts (and are `null` where a count they need is withheld).

use serde::{Deserialize, Serialize};

use crate::Rule;

/// One step of a funnel request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FunnelStepRequest {
    /// The event a user must do (count ≥ 1 on a day).
    pub event: String,
}

/// Body of `POST …/funnel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FunnelRequest {
    /// The steps in order (1 to 8).
    pub steps: Vec<FunnelStepRequest>,
    /// First day a user may enter step 1.
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub from: String,
    /// Last day of the funnel (every step is looked for up to this day).
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub to: String,
    /// Days a user has, after their step-1 day, to reach each later step (0: the same day).
    pub within_days: u32,
    /// Users must match this rule on their step-1 day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Rule>,
    /// A tag group to split the funnel by (its values on `to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// One step of a funnel's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelStep {
    /// The step's event.
    pub event: String,
    /// Users who reached the step; `null` when suppressed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub count: Option<u64>,
    /// The count is below the app's `min_audience` and withheld (`aggregate` tokens only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// `count / count of the previous step` (1 for step 1); `null` when undefined or withheld.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub from_previous: Option<f64>,
    /// `count / count of step 1`; `null` when undefined or withheld.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub from_first: Option<f64>,
    /// Median over the step's users of the days between the previous step and this one
    /// (`null` for step 1 and when nobody reached the step).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub median_days: Option<f64>,
}

/// The funnel of the users holding one value of the `by` group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelBy {
    /// The value.
    pub value: String,
    /// Its steps.
    pub steps: Vec<FunnelStep>,
}

/// The answer of `POST …/funnel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Funnel {
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// The steps.
    pub steps: Vec<FunnelStep>,
    /// Per value of `by`, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Vec<FunnelBy>>,
    /// Counts are noisy (`aggregate` tokens).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noisy: bool,
}

/// A set in an overlap: a segment's id, or a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum SetRef {
    /// A live segment on the day.
    Segment(String),
    /// A rule evaluated on the day.
    Rule(Rule),
}

/// Body of `POST …/overlap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OverlapRequest {
    /// The day; the latest published day when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub ds: Option<String>,
    /// 1 to 5 sets: segment ids or rules.
    pub segments: Vec<SetRef>,
}

/// Users in exactly the sets listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Region {
    /// The sets' names: a segment's id, `segments[i]` for a rule.
    #[serde(rename = "in")]
    pub within: Vec<String>,
    /// How many users are in these sets and in no other; `null` when suppressed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub count: Option<u64>,
    /// Withheld below the app's `min_audience` (`aggregate` tokens only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
}

/// The answer of `POST …/overlap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overlap {
    /// The day.
    pub ds: String,
    /// Every region (2^n − 1 of them), in the order of their bit masks (set i is bit i).
    pub regions: Vec<Region>,
    /// Counts are noisy (`aggregate` tokens).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noisy: bool,
}

/// Body of `POST …/pivot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PivotRequest {
    /// The day; the latest published day when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub ds: Option<String>,
    /// The tag group of the rows (at most 200 values).
    pub rows: String,
    /// The tag group of the columns (at most 200 values).
    pub columns: String,
    /// Count only users matching this rule (all users when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Rule>,
}

/// The answer of `POST …/pivot`. Cells are `[row][column]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pivot {
    /// The day.
    pub ds: String,
    /// Values of the row group.
    pub rows: Vec<String>,
    /// Values of the column group.
    pub columns: Vec<String>,
    /// Users of the audience holding both values; `null` when suppressed.
    pub counts: Vec<Vec<Option<u64>>>,
    /// Some count is withheld below `min_audience` (`null`; `aggregate` tokens only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// `count / its row's total`.
    pub row_shares: Vec<Vec<Option<f64>>>,
    /// `count / its column's total`.
    pub column_shares: Vec<Vec<Option<f64>>>,
    /// `100 × (count / audience size) / (cell among all users / all users)`.
    pub tgi: Vec<Vec<Option<f64>>>,
    /// Users of the audience (all users without one).
    pub audience: Option<u64>,
    /// All users of the day.
    pub universe: Option<u64>,
    /// Counts are noisy (`aggregate` tokens).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noisy: bool,
}
