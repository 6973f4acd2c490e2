//! The body of every error answer.

use serde::{Deserialize, Serialize};

/// `{"error": code, "message": text}`, plus where the problem is when the server knows:
/// `field` for a bad parameter, `path` for a bad rule, `line` (and `column`) for a bad upload.
///
/// ```
/// let e: wire::ErrorBody =
///     serde_json::from_str(r#"{"error":"invalid_rule","message":"unknown tag","path":"all[1].tag"}"#).unwrap();
/// assert_eq!(e.path.as_deref(), Some("all[1].tag"));
/// assert_eq!(e.field, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Error))]
pub struct ErrorBody {
    /// Stable code for programs, e.g. `not_found`, `invalid_field`, `invalid_rule`.
    pub error: String,
    /// What is wrong, for people; never internals.
    pub message: String,
    /// For `invalid_field`: the parameter at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `invalid_rule`: the JSON path inside the rule (`all[2].not`; `$` is the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For `invalid_upload`: the line at fault (the header is line 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The row at fault of an uploaded Parquet file (1-based), when it is about one row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// For `invalid_upload`: the 1-based column at fault, when one field is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// For `invalid_rule` of a rule that would make a segment depend on itself: the segments
    /// along the cycle, the first repeated at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<Vec<String>>,
}
