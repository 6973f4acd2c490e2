//! The one id rule: what an app, segment, tag group, event, experiment or experiment group may
//! be called. The server checks every id it accepts with [`check_id`], the browser checks the
//! ids it proposes with the same function, and [`crate::split::Split::new`] checks group names.
//!
//! Ids are path segments of the API (`/apps/{app}/segments/{id}`), so they are limited to
//! characters that need no escaping, and `.` and `..` are refused: URL parsers (browsers,
//! `curl`, every HTTP library that follows RFC 3986) remove those segments before sending, so a
//! resource named `..` could be created with a JSON body but never reached again.

/// Longest id, in bytes.
pub const MAX_ID_BYTES: usize = 64;

/// Why an id is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty, too long, or a character outside `A-Z a-z 0-9 . _ -`.
    #[error("an id is 1 to {MAX_ID_BYTES} characters of A-Z a-z 0-9 . _ -")]
    Characters,
    /// `.` or `..`, which URL parsers drop from paths.
    #[error("`.` and `..` cannot be ids: HTTP clients remove them from paths")]
    DotSegment,
}

/// Checks an id: `[A-Za-z0-9._-]{1,64}`, and not `.` or `..`.
///
/// ```
/// use engine::id::{check_id, IdError};
/// assert!(check_id("vip-2026.v1_a").is_ok());
/// assert!(check_id("...").is_ok());
/// assert_eq!(check_id(".."), Err(IdError::DotSegment));
/// assert_eq!(check_id("a/b"), Err(IdError::Characters));
/// ```
pub fn check_id(id: &str) -> Result<(), IdError> {
    let chars_ok = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !chars_ok {
        return Err(IdError::Characters);
    }
    if id == "." || id == ".." {
        return Err(IdError::DotSegment);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for good in ["a", "A-9", "x.y", ".hidden", "a..b", "...", "_", "-"] {
            assert_eq!(check_id(good), Ok(()), "{good}");
        }
        assert_eq!(check_id(&"a".repeat(MAX_ID_BYTES)), Ok(()));
        for bad in ["", "a b", "ä", "a%2Fb", "a/b", "a?b", "%2E%2E"] {
            assert_eq!(check_id(bad), Err(IdError::Characters), "{bad}");
        }
        assert_eq!(check_id(&"a".repeat(MAX_ID_BYTES + 1)), Err(IdError::Characters));
        assert_eq!(check_id("."), Err(IdError::DotSegment));
        assert_eq!(check_id(".."), Err(IdError::DotSegment));
    }
}
