//! Parsing of path and query values that are not ids (those are checked by
//! [`crate::auth::validate_id`]).

use crate::ds::Ds;
use crate::error::ApiError;

/// Parses a data date, naming the `ds` field in the error.
pub fn parse_ds(ds: &str) -> Result<Ds, ApiError> {
    parse_date("ds", ds)
}

/// Parses a date given in `field`.
pub fn parse_date(field: &'static str, value: &str) -> Result<Ds, ApiError> {
    value.parse::<Ds>().map_err(|_| ApiError::invalid_field(field, format!("`{value}` is not a date YYYY-MM-DD")))
}
