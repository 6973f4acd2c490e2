//! A segment rule in its JSON form.

use serde::{Deserialize, Serialize};

/// The rule language (DESIGN.md §4): `{all:[…]}`, `{any:[…]}`, `{not:…}`, `{tag, in:[values]}`,
/// `{tag, between:[lo,hi]}` or `{tag, ">="|">"|"<="|"<"|"="|"!=": n}` for numeric tags,
/// `{event, last_days: 1..90, count|days: {">=": n} or {between:[lo,hi]}}`, `{segment}`.
///
/// Kept as JSON here: `engine::Rule::from_json` parses it and names the JSON path of anything
/// wrong, the same in the browser and the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = Object))]
#[serde(transparent)]
pub struct Rule(pub serde_json::Value);
