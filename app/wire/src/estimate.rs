//! `POST /api/v1/apps/{app}/estimate`: a rule's size on a day, with the funnel.

use serde::{Deserialize, Serialize};

use crate::Rule;

/// Which tier of a snapshot to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Every user.
    #[default]
    Exact,
    /// The 1/rate sample (scaled up, with a 95% interval).
    Sample,
}

impl Tier {
    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Exact => "exact",
            Tier::Sample => "sample",
        }
    }
}

/// Body of `POST …/estimate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// The day; the latest published day when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub ds: Option<String>,
    /// The rule.
    pub rule: Rule,
    /// `exact` (default) or `sample`.
    #[serde(default)]
    pub tier: Tier,
}

/// One funnel step: users left after the conditions up to and including `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Step {
    /// JSON path of the condition (`all[2]`), or `$` when the rule is not an `all`.
    #[cfg_attr(feature = "openapi", schema(example = "all[2]"))]
    pub path: String,
    /// Users matching every condition up to this one; `null` when suppressed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub count: Option<u64>,
    /// The count is below the app's `min_audience` and withheld (`aggregate` tokens only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
}

/// Something the answer should be read with: the rule is valid, but not all data is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    /// JSON path of the condition.
    #[cfg_attr(feature = "openapi", schema(example = "all[1]"))]
    pub path: String,
    /// What it means, in a sentence.
    pub message: String,
    /// Days of the condition's window with no upload of its event (counted as zero).
    pub missing_days: Vec<String>,
}

/// The answer of `POST …/estimate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Estimate {
    /// The day evaluated.
    pub ds: String,
    /// Its version.
    pub version: u64,
    /// The tier used.
    pub tier: Tier,
    /// Users matching (scaled up and rounded on the sample tier); `null` when suppressed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub count: Option<u64>,
    /// The count is below the app's `min_audience` and withheld (`aggregate` tokens only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// The counts carry deterministic noise (`aggregate` tokens only; see the app's `epsilon`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noisy: bool,
    /// Users in the snapshot.
    pub universe: u64,
    /// 95% interval of the count (sample tier only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[u64; 2]>,
    /// Users left after each top-level condition of an `all` (path `all[i]`), or one step `$`
    /// for any other rule; scaled up on the sample tier.
    pub steps: Vec<Step>,
    /// Event conditions whose window has days without an upload of the event (counted as zero).
    pub warnings: Vec<Warning>,
}
